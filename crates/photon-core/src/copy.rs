//! Copying an image the caller owns to another region (or the same one): the copy appears at
//! once as `COPYING`, and the engine replicates its content to the destination region's blob
//! store, verifies it there, and makes it `AVAILABLE` (or `FAILED` with `IMAGE_COPY_FAILURE`).

use std::sync::Arc;

use photon_blob::BlobError;
use photon_store::{ImageRecord, JobRecord, Key, LockKey, StoreError, PUBLIC_OWNER};
use photon_types::{
    Caller, CopyImageRequest, CopyImageResponse, ImageState, ImageStateChangeReasonCode,
};
use photon_workflow::{or_retry, BoxFuture, JobKind, Step, Typed};

use crate::arn::Arn;
use crate::image::NotOwned;
use crate::pace::Stage;
use crate::{CoreError, Service};

pub const JOB_KIND: &str = "image-copy";

/// What the copy job needs beyond the destination image it completes: where the source is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CopySource {
    pub source_region: String,
    pub source_name: String,
}

impl photon_workflow::Payload for CopySource {
    fn legacy(text: &str) -> Option<Self> {
        // Before documents: `SOURCE_REGION/SOURCE_NAME` (neither can hold a `/`).
        let (region, name) = text.split_once('/')?;
        (!text.starts_with('{')).then(|| CopySource {
            source_region: region.to_owned(),
            source_name: name.to_owned(),
        })
    }
}

/// A public base image's ARN names its region; the copy's lineage points at the same base image
/// in the destination region, where it can be used.
fn base_in(region: &str, base: Option<String>) -> Option<String> {
    let base = base?;
    match Arn::parse(&base) {
        Some(a) if a.account.is_empty() && a.resource_type == "image" => {
            Some(Arn::image(region, PUBLIC_OWNER, &a.name))
        }
        _ => Some(base),
    }
}

impl Service {
    pub async fn copy_image(
        &self,
        cx: &Caller,
        input: CopyImageRequest,
    ) -> Result<CopyImageResponse, CoreError> {
        let dest = input.destination_region.as_str();
        if !self.regions.iter().any(|r| r == dest) {
            return Err(CoreError::NotFound(format!(
                "region '{dest}' is not served here; copy to one of {}",
                self.regions.join(", ")
            )));
        }
        let name = &input.source_image_name;
        let source = match self.own_image(cx, name).await? {
            Ok(row) => row,
            Err(NotOwned::Public) => {
                return Err(CoreError::Incompatible(format!(
                    "image '{name}' is a public AWS base image and cannot be copied; it is \
                     already in every region, so use it there directly"
                )))
            }
            Err(NotOwned::SharedBy(owner)) => {
                return Err(CoreError::Incompatible(format!(
                    "image '{name}' is shared with your account by account {owner} and only its \
                     owner can copy it; ask them to copy it, or build your own image from it"
                )))
            }
            Err(NotOwned::Missing) => return Err(NotOwned::missing(name, &cx.region)),
        };
        if source.image.state != ImageState::Available {
            return Err(CoreError::NotAvailable(format!(
                "image '{name}' is {}; only an AVAILABLE image can be copied, so wait until it \
                 is AVAILABLE",
                source.image.state
            )));
        }
        let dest_name = &input.destination_image_name;
        let src = source.image;
        let mut attrs = src.attrs;
        attrs.state_change_reason = None;
        // The model: ImageBuilderName is null for copied images.
        attrs.image_builder_name = None;
        attrs.base_image_arn = base_in(dest, attrs.base_image_arn);
        if let Some(d) = input.destination_image_description {
            attrs.description = Some(d);
        }
        let mut copy = ImageRecord {
            region: dest.to_owned(),
            owner: cx.account_id.clone(),
            name: dest_name.clone(),
            arn: Arn::image(dest, &cx.account_id, dest_name),
            state: ImageState::Copying,
            platform: src.platform,
            created_at: self.now(),
            attrs,
        };
        let payload = CopySource {
            source_region: cx.region.clone(),
            source_name: name.clone(),
        };
        let delay = i64::try_from(self.pace.delay(Stage::ImageCopy).as_millis()).unwrap_or(0);
        let job = CopyJobs::job(
            &cx.account_id,
            dest,
            &copy.arn,
            &payload,
            self.now().saturating_add(delay),
            5,
        );
        crate::transition::hand_to(&mut copy, &job);
        let max_images = self.quota(&cx.account_id, dest, "images").await?;
        let max_copies = self
            .quota(
                &cx.account_id,
                dest,
                "concurrent-copies-per-destination-region",
            )
            .await?;
        let set = |name: &str| {
            format!(
                "`photon quotas set --account-id {} --region {dest} {name}=N`",
                cx.account_id
            )
        };
        let mut tx = self.store.write().await?;
        // The lock every image creator of this account and region takes: the counts hold.
        tx.lock(LockKey::account_images(&cx.account_id, dest))
            .await?;
        let images = tx.count_images(dest, &cx.account_id).await?;
        if images >= max_images {
            return Err(CoreError::LimitExceeded(format!(
                "account {} already has {max_images} images in {dest}, the quota; delete an \
                 image there first, or have the operator raise it with {}",
                cx.account_id,
                set("images")
            )));
        }
        // A copy under way is an image of this account in the new copy's state.
        let copying = tx
            .count_images_in_state(dest, &cx.account_id, ImageState::Copying)
            .await?;
        if copying >= max_copies {
            return Err(CoreError::LimitExceeded(format!(
                "{max_copies} image copies into {dest} are already under way, the quota; wait \
                 until one is AVAILABLE, or have the operator raise it with {}",
                set("concurrent-copies-per-destination-region")
            )));
        }
        match tx.insert_image(&copy).await {
            Err(StoreError::Conflict) => {
                return Err(CoreError::AlreadyExists(format!(
                    "an image named '{dest_name}' already exists in {dest}; pick another \
                     DestinationImageName"
                )))
            }
            other => other?,
        }
        tx.enqueue(&job).await?;
        tx.commit().await?;
        Ok(CopyImageResponse {
            destination_image_name: Some(dest_name.clone()),
        })
    }
}

/// Completes copies: replicates the image's layers into the destination region's blob store
/// (blobs already there are not copied again), verifies every digest there, then makes the
/// image `AVAILABLE`. Guarded by the `COPYING` state, so a repeated attempt after a restart
/// finds the work done or does it again, never twice over.
pub struct CopyJobs {
    svc: Service,
}

impl CopyJobs {
    pub fn new(svc: Service) -> Arc<Typed<CopyJobs>> {
        Arc::new(Typed(CopyJobs { svc }))
    }

    fn image_name(job: &JobRecord) -> Option<String> {
        Arn::parse(&job.resource).map(|a| a.name)
    }

    async fn step(&self, job: &JobRecord, payload: &CopySource) -> Result<Step, CoreError> {
        let Some(name) = Self::image_name(job) else {
            return Ok(Step::Fatal(format!(
                "job resource '{}' is not an image ARN",
                job.resource
            )));
        };
        let key = Key::new(job.region.as_str(), job.account_id.as_str(), name.as_str());
        let Some(row) = self.svc.store.image(key).await? else {
            return Ok(Step::Done);
        };
        if row.image.state != ImageState::Copying || !crate::transition::owns(&row.image, job) {
            return Ok(Step::Done);
        }
        let layers = row.image.attrs.layers;
        let blobs = self.svc.blobs.clone();
        let (from, to) = (payload.source_region.clone(), job.region.clone());
        let moved = tokio::task::spawn_blocking(move || {
            let (src, dst) = (blobs.region(&from), blobs.region(&to));
            let r = photon_blob::replicate_layers(src, dst, &layers)?;
            let checked = photon_blob::verify_layers(dst, &layers)?;
            Ok::<_, BlobError>((r, checked))
        })
        .await
        .map_err(|e| CoreError::Internal(format!("copy task: {e}")))?;
        let (r, checked) = match moved {
            Ok(done) => done,
            // Content that is missing or damaged does not heal by waiting.
            Err(e @ (BlobError::Missing(_) | BlobError::Corrupt(_) | BlobError::Manifest(_))) => {
                return Ok(Step::Fatal(format!(
                    "the content of image '{}' in {} could not be copied: {e}",
                    payload.source_name, payload.source_region
                )))
            }
            Err(e) => return Ok(Step::Retryable(e.to_string())),
        };
        tracing::info!(
            image = %job.resource,
            from = %payload.source_region,
            copied = r.copied,
            bytes = r.bytes,
            already_present = r.present,
            verified = checked,
            "image content replicated"
        );
        crate::transition::change(
            self.svc.store.as_ref(),
            key,
            &[ImageState::Copying],
            ImageState::Available,
            crate::transition::By::Job(job),
            |i: &mut ImageRecord| i.attrs.state_change_reason = None,
        )
        .await?;
        Ok(Step::Done)
    }
}

impl JobKind for CopyJobs {
    const KIND: &'static str = JOB_KIND;
    type Payload = CopySource;

    fn run<'a>(&'a self, job: &'a JobRecord, source: &'a CopySource) -> BoxFuture<'a, Step> {
        Box::pin(async move { or_retry(self.step(job, source).await) })
    }

    fn give_up<'a>(
        &'a self,
        job: &'a JobRecord,
        _: &'a CopySource,
        error: &'a str,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let Some(name) = Self::image_name(job) else {
                return;
            };
            if let Err(e) = self
                .svc
                .fail_image(
                    Key::new(&job.region, &job.account_id, &name),
                    job,
                    ImageState::Copying,
                    ImageStateChangeReasonCode::ImageCopyFailure,
                    format!("{error}; delete this image and copy again"),
                )
                .await
            {
                tracing::error!(job = %job.id, error = %e, "could not mark a failed copy FAILED");
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lineage_follows_the_copy_to_its_region() {
        let base = Arn::image(
            "us-east-1",
            PUBLIC_OWNER,
            "AppStream-WinServer2022-11-10-2025",
        );
        assert_eq!(
            base_in("eu-west-1", Some(base)).as_deref(),
            Some("arn:aws:appstream:eu-west-1::image/AppStream-WinServer2022-11-10-2025")
        );
        let own = Arn::image("us-east-1", "111111111111", "golden");
        assert_eq!(base_in("eu-west-1", Some(own.clone())), Some(own));
        assert_eq!(base_in("eu-west-1", None), None);
    }
}
