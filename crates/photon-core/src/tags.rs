//! Tags on any taggable resource, addressed by ARN. A resource's tags belong to its owner: a
//! public image or an image shared with the caller is not the caller's to tag.

use std::collections::BTreeMap;

use photon_store::{Key, ResourceKey, StoreError};
use photon_types::{Caller, ListTagsForResourceRequest, TagResourceRequest, UntagResourceRequest};

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

fn gone(arn: &str) -> CoreError {
    CoreError::NotFound(format!(
        "resource '{arn}' was not found: it was just deleted"
    ))
}

impl Service {
    /// Resolves an ARN to a resource the caller owns, or explains why not.
    pub(crate) async fn owned_resource(
        &self,
        cx: &Caller,
        arn: &str,
    ) -> Result<ResourceKey, CoreError> {
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
        let key = match a.resource_type.as_str() {
            "image" => ResourceKey::Image {
                region: cx.region.clone(),
                owner: cx.account_id.clone(),
                name: a.name.clone(),
            },
            "image-builder" => crate::builder::tag_key(cx, &a.name),
            "fleet" => ResourceKey::Fleet {
                region: cx.region.clone(),
                owner: cx.account_id.clone(),
                name: a.name.clone(),
            },
            "stack" => ResourceKey::Stack {
                region: cx.region.clone(),
                owner: cx.account_id.clone(),
                name: a.name.clone(),
            },
            // App blocks and applications arrive with a later feature; none exist yet.
            _ => return Err(not_found("no such resource exists in your account")),
        };
        let exists = match &key {
            ResourceKey::Image {
                region,
                owner,
                name,
            } => self
                .store
                .image(Key::new(region, owner, name))
                .await?
                .is_some(),
            ResourceKey::ImageBuilder {
                region,
                owner,
                name,
            } => self
                .store
                .image_builder(Key::new(region, owner, name))
                .await?
                .is_some(),
            ResourceKey::Fleet {
                region,
                owner,
                name,
            } => self
                .store
                .fleet(Key::new(region, owner, name))
                .await?
                .is_some(),
            ResourceKey::Stack {
                region,
                owner,
                name,
            } => self
                .store
                .stack(Key::new(region, owner, name))
                .await?
                .is_some(),
        };
        if !exists {
            return Err(not_found("no such resource exists in your account"));
        }
        Ok(key)
    }

    pub async fn list_tags_for_resource(
        &self,
        cx: &Caller,
        input: ListTagsForResourceRequest,
    ) -> Result<BTreeMap<String, String>, CoreError> {
        let arn = &input.resource_arn;
        self.owned_resource(cx, arn).await?;
        Ok(self.store.tags(arn).await?)
    }

    pub async fn tag_resource(
        &self,
        cx: &Caller,
        input: TagResourceRequest,
    ) -> Result<(), CoreError> {
        let (arn, tags) = (&input.resource_arn, &input.tags);
        let key = self.owned_resource(cx, arn).await?;
        match self.store.put_tags(&key, arn, tags, MAX_TAGS).await {
            Ok(()) => Ok(()),
            // Deleted between the lookup and the write.
            Err(StoreError::NotFound) => Err(gone(arn)),
            Err(StoreError::LimitReached(max)) => Err(CoreError::LimitExceeded(format!(
                "a resource can carry at most {max} tags; remove some with UntagResource before adding more"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn untag_resource(
        &self,
        cx: &Caller,
        input: UntagResourceRequest,
    ) -> Result<(), CoreError> {
        let (arn, keys) = (&input.resource_arn, &input.tag_keys);
        let key = self.owned_resource(cx, arn).await?;
        match self.store.remove_tags(&key, arn, keys).await {
            Ok(()) => Ok(()),
            Err(StoreError::NotFound) => Err(gone(arn)),
            Err(e) => Err(e.into()),
        }
    }
}
