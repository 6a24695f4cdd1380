//! Sharing images between accounts of one region: the owner grants, changes and removes each
//! account's fleet and image-builder permissions, and what a recipient loses when a fleet
//! permission goes (its fleets on the image drop to zero capacity, sessions already running go
//! on).

use photon_store::{ImageRow, Key, LockKey};
use photon_types::{
    Caller, DeleteImagePermissionsRequest, DescribeImagePermissionsRequest,
    DescribeImagePermissionsResult, FleetErrorCode, ImagePermissions, ImageState,
    SharedImagePermissions, UpdateImagePermissionsRequest,
};

use crate::arn::Arn;
use crate::image::NotOwned;
use crate::{CoreError, Service};

/// The most accounts one `DescribeImagePermissions` page lists (the model's `MaxResults` cap).
pub const MAX_PAGE: u32 = 500;

/// The fleet error a recipient's fleet shows after losing fleet permission: why its desired
/// capacity went to 0, and what brings it back.
pub fn revoked_error(image: &str, owner: &str) -> (String, String) {
    (
        FleetErrorCode::ImageNotFound.as_str().to_owned(),
        format!(
            "image '{image}' of account {owner} is no longer shared with this account for \
             fleets, so the fleet's desired capacity was set to 0; sessions already running go \
             on until they end. Update the fleet with an image it may use (UpdateFleet with \
             ImageName or ImageArn) to provision instances again"
        ),
    )
}

fn check_account(account: &str) -> Result<(), CoreError> {
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CoreError::Invalid(format!(
            "SharedAccountId '{account}' is not an AWS account id; give the 12-digit id of \
             the account to share with"
        )));
    }
    Ok(())
}

impl Service {
    /// Checks the account a permission names. Naming oneself is a mistake only for an image one
    /// owns; for any other name the answer is the one every image the caller does not own gets.
    async fn check_share_target(
        &self,
        cx: &Caller,
        name: &str,
        account: &str,
    ) -> Result<(), CoreError> {
        check_account(account)?;
        if account == cx.account_id {
            self.own_image_to_share(cx, name).await?;
            return Err(CoreError::Invalid(format!(
                "account {account} owns the image; share it with another account"
            )));
        }
        Ok(())
    }

    /// The caller's own image, or why the name does not reach one: sharing works only on images
    /// the caller owns. Every refusal is `ResourceNotFoundException`, the one error all three
    /// sharing operations list for a missing image.
    async fn own_image_to_share(&self, cx: &Caller, name: &str) -> Result<ImageRow, CoreError> {
        match self.own_image(cx, name).await? {
            Ok(row) => Ok(row),
            Err(NotOwned::Public) => Err(CoreError::NotFound(format!(
                "image '{name}' is a public AWS base image; you can share only images your \
                 account owns"
            ))),
            Err(NotOwned::SharedBy(owner)) => Err(CoreError::NotFound(format!(
                "image '{name}' is shared with your account by account {owner}; only its owner \
                 can see or change who it is shared with"
            ))),
            Err(NotOwned::Missing) => Err(CoreError::NotFound(format!(
                "your account has no image '{name}' in {}; list yours with DescribeImages Type \
                 PRIVATE (sharing is per region)",
                cx.region
            ))),
        }
    }

    async fn change_share(
        &self,
        cx: &Caller,
        name: &str,
        account: &str,
        permissions: Option<(bool, bool)>,
    ) -> Result<(), CoreError> {
        let max = self
            .quota(&cx.account_id, &cx.region, "accounts-per-shared-image")
            .await?;
        let key = Key::new(cx.region.as_str(), cx.account_id.as_str(), name);
        let image_arn = Arn::image(key.region, key.owner, key.name);
        let mut tx = self.store.write().await?;
        tx.lock(LockKey::Image(image_arn.clone())).await?;
        let Some(image) = tx.image(key).await? else {
            drop(tx);
            return self.own_image_to_share(cx, name).await.map(|_| ());
        };
        // Only a grant needs the image AVAILABLE; taking sharing away is always allowed.
        if permissions.is_some() && image.state != ImageState::Available {
            return Err(CoreError::NotAvailable(format!(
                "image '{name}' is {}; only an AVAILABLE image can be shared, so wait until it \
                 is AVAILABLE",
                image.state
            )));
        }
        let existing = tx.image_share(key, account).await?;
        if permissions.is_none() && existing.is_none() {
            return Err(CoreError::NotFound(format!(
                "image '{name}' is not shared with account {account}; see who it is shared with \
                 in DescribeImagePermissions"
            )));
        }
        // The quota counts accounts, not changes: a new account needs room.
        if permissions.is_some() && existing.is_none() && tx.count_image_shares(key).await? >= max {
            return Err(CoreError::LimitExceeded(format!(
                "image '{name}' is already shared with {max} accounts, the quota; stop sharing \
                 with one (DeleteImagePermissions), or have the operator raise it with \
                 `photon quotas set --account-id {} --region {} accounts-per-shared-image=N`",
                cx.account_id, cx.region
            )));
        }
        tx.put_image_share(key, account, permissions, self.now())
            .await?;
        // Without fleet permission the recipient's fleets on the image may not provision: their
        // desired capacity becomes 0, with the reason in their errors, in this same transaction
        // (fleet locks after the image's, in name order, as every path takes them).
        let mut fleets_zeroed = Vec::new();
        if !permissions.is_some_and(|(fleet, _)| fleet) {
            let revoked = revoked_error(name, &cx.account_id);
            for fleet in tx.fleets_on_image(&cx.region, account, &image_arn).await? {
                let fkey = Key::new(cx.region.as_str(), account, fleet.as_str());
                tx.lock(LockKey::Fleet(crate::fleet::fleet_arn(
                    fkey.region,
                    fkey.owner,
                    fkey.name,
                )))
                .await?;
                let Some(mut f) = tx.fleet(fkey).await? else {
                    continue;
                };
                if f.image_arn != image_arn {
                    continue;
                }
                f.attrs.desired_instances = 0;
                f.attrs.errors.retain(|(code, _)| *code != revoked.0);
                f.attrs.errors.push(revoked.clone());
                tx.put_fleet(&f).await?;
                fleets_zeroed.push(fleet);
            }
        }
        tx.commit().await?;
        if !fleets_zeroed.is_empty() {
            tracing::info!(
                image = name,
                owner = %cx.account_id,
                recipient = account,
                fleets = ?fleets_zeroed,
                "fleet permission removed: the recipient's fleets on the image now have desired capacity 0"
            );
        }
        Ok(())
    }

    pub async fn update_image_permissions(
        &self,
        cx: &Caller,
        input: UpdateImagePermissionsRequest,
    ) -> Result<(), CoreError> {
        self.check_share_target(cx, &input.name, &input.shared_account_id)
            .await?;
        let p = &input.image_permissions;
        // An omitted permission is not granted, as the console's unticked box; clearing both is
        // the console's way to stop sharing (docs/compatibility.md).
        let (fleet, builder) = (
            p.allow_fleet.unwrap_or(false),
            p.allow_image_builder.unwrap_or(false),
        );
        let permissions = (fleet || builder).then_some((fleet, builder));
        match self
            .change_share(cx, &input.name, &input.shared_account_id, permissions)
            .await
        {
            // Clearing the permissions of an account the image was not shared with leaves it
            // as it was: not shared.
            Err(CoreError::NotFound(_)) if permissions.is_none() => {
                self.own_image_to_share(cx, &input.name).await.map(|_| ())
            }
            other => other,
        }
    }

    pub async fn delete_image_permissions(
        &self,
        cx: &Caller,
        input: DeleteImagePermissionsRequest,
    ) -> Result<(), CoreError> {
        self.check_share_target(cx, &input.name, &input.shared_account_id)
            .await?;
        self.change_share(cx, &input.name, &input.shared_account_id, None)
            .await
    }

    pub async fn describe_image_permissions(
        &self,
        cx: &Caller,
        input: DescribeImagePermissionsRequest,
    ) -> Result<DescribeImagePermissionsResult, CoreError> {
        let image = self.own_image_to_share(cx, &input.name).await?;
        let accounts = input.shared_aws_account_ids.unwrap_or_default();
        let page = match input.max_results {
            Some(n) if n > 0 => (n as u32).min(MAX_PAGE),
            _ => MAX_PAGE,
        };
        let mut kind = format!("image-permissions:{}", input.name);
        for a in &accounts {
            kind.push(':');
            kind.push_str(a);
        }
        let key = Key::new(
            image.image.region.as_str(),
            image.image.owner.as_str(),
            image.image.name.as_str(),
        );
        let (shares, next_token) = self
            .owned_page(
                cx,
                &kind,
                input.next_token.as_deref(),
                page,
                |after, limit| async move {
                    let rows = self
                        .store
                        .image_shares(key, &accounts, after.as_deref(), limit)
                        .await?;
                    Ok(rows
                        .into_iter()
                        .map(|s| (s.shared_account.clone(), s))
                        .collect())
                },
            )
            .await?;
        Ok(DescribeImagePermissionsResult {
            name: Some(input.name),
            shared_image_permissions_list: Some(
                shares
                    .into_iter()
                    .map(|s| SharedImagePermissions {
                        shared_account_id: s.shared_account,
                        image_permissions: ImagePermissions {
                            allow_fleet: Some(s.allow_fleet),
                            allow_image_builder: Some(s.allow_image_builder),
                        },
                    })
                    .collect(),
            ),
            next_token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_are_twelve_digits() {
        assert!(check_account("222222222222").is_ok());
        for bad in ["12345", "1234567890123", "12345678901a", ""] {
            assert!(
                matches!(check_account(bad), Err(CoreError::Invalid(_))),
                "{bad}"
            );
        }
    }
}
