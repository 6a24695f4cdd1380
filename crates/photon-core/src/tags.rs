//! Tags on any taggable resource, addressed by ARN. A resource's tags belong to its owner: a
//! public image or an image shared with the caller is not the caller's to tag.

use std::collections::BTreeMap;

use photon_store::StoreError;
use photon_types::Caller;

use crate::arn::Arn;
use crate::{CoreError, Service};

/// Tags per resource (tagging-basic.md); `aws:` system tags do not count.
pub const MAX_TAGS: i64 = 50;

/// The resource types AppStream tags (tagging-basic.md).
const TAGGABLE: &[&str] = &[
    "image",
    "image-builder",
    "fleet",
    "stack",
    "app-block",
    "application",
];

impl Service {
    /// Resolves an ARN to a resource the caller owns, or explains why not.
    pub(crate) async fn owned_resource(&self, cx: &Caller, arn: &str) -> Result<(), CoreError> {
        let not_found =
            |why: &str| CoreError::NotFound(format!("resource '{arn}' was not found: {why}"));
        let Some(a) = Arn::parse(arn) else {
            return Err(not_found(
                "it is not an AppStream ARN (arn:aws:appstream:REGION:ACCOUNT:TYPE/NAME)",
            ));
        };
        if !TAGGABLE.contains(&a.resource_type.as_str()) {
            return Err(not_found(&format!(
                "'{}' resources cannot be tagged; taggable types are {}",
                a.resource_type,
                TAGGABLE.join(", ")
            )));
        }
        if a.region != cx.region {
            return Err(not_found(&format!(
                "it is in region '{}' but the request was signed for '{}'; send it to that region",
                a.region, cx.region
            )));
        }
        if a.account != cx.account_id {
            return Err(not_found(
                "it does not belong to your account, and only the owner can tag a resource",
            ));
        }
        let exists = match a.resource_type.as_str() {
            "image" => self
                .store
                .image(&cx.region, &cx.account_id, &a.name)
                .await?
                .is_some(),
            // Builders, fleets and stacks arrive with later features; none exist yet.
            _ => false,
        };
        if !exists {
            return Err(not_found("no such resource exists in your account"));
        }
        Ok(())
    }

    pub async fn list_tags(
        &self,
        cx: &Caller,
        arn: &str,
    ) -> Result<BTreeMap<String, String>, CoreError> {
        self.owned_resource(cx, arn).await?;
        Ok(self.store.tags(arn).await?)
    }

    pub async fn tag_resource(
        &self,
        cx: &Caller,
        arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), CoreError> {
        self.owned_resource(cx, arn).await?;
        match self.store.put_tags(arn, tags, MAX_TAGS).await {
            Ok(()) => Ok(()),
            Err(StoreError::LimitReached(max)) => Err(CoreError::LimitExceeded(format!(
                "a resource can carry at most {max} tags; remove some with UntagResource before adding more"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn untag_resource(
        &self,
        cx: &Caller,
        arn: &str,
        keys: &[String],
    ) -> Result<(), CoreError> {
        self.owned_resource(cx, arn).await?;
        Ok(self.store.remove_tags(arn, keys).await?)
    }
}
