//! The image registry: the public catalogue in every region, listing what a caller can see
//! (public, private, shared with it), and deleting what it owns.

use chrono::NaiveDate;
use photon_store::{
    ImageAttrs, ImageQuery, ImageRecord, ImageRow, ImageScope, ImageUsage, Key, LockKey,
    IMAGE_ATTRS_VERSION, PUBLIC_OWNER,
};
use photon_types::{
    Caller, DeleteImageRequest, DeleteImageResult, DescribeImagesRequest, DescribeImagesResult,
    Image, ImagePermissions, ImageSharedWithOthers, ImageState, ImageStateChangeReason,
    ImageStateChangeReasonCode, ImageType, LatestAppstreamAgentVersion, PlatformType, Timestamp,
    VisibilityType,
};

use crate::arn::Arn;
use crate::catalog::BASE_IMAGES;
use crate::{token, CoreError, Service};

pub const MAX_PAGE: u32 = 25;
/// How many images one request may name: each is a lookup, so the cost of a request stays
/// bounded (docs/compatibility.md).
pub const MAX_LOOKUPS: usize = 100;

pub(crate) fn date_millis(date: &str) -> i64 {
    NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(0, |d| d.and_utc().timestamp_millis())
}

/// The public catalogue as records of one region; `layers[i]` is the content of
/// `BASE_IMAGES[i]`.
pub fn public_images(region: &str, layers: &[Vec<String>]) -> Vec<ImageRecord> {
    BASE_IMAGES
        .iter()
        .zip(layers)
        .map(|(b, layers)| {
            let released = date_millis(b.released);
            ImageRecord {
                region: region.to_owned(),
                owner: PUBLIC_OWNER.to_owned(),
                name: b.name.to_owned(),
                arn: Arn::image(region, PUBLIC_OWNER, b.name),
                state: ImageState::Available,
                platform: b.platform.to_owned(),
                created_at: released,
                attrs: ImageAttrs {
                    v: IMAGE_ATTRS_VERSION,
                    display_name: Some(b.display_name.to_owned()),
                    description: Some(b.description.to_owned()),
                    image_builder_supported: true,
                    public_base_image_released_date: Some(released),
                    appstream_agent_version: Some(b.agent_version.to_owned()),
                    supported_instance_families: b
                        .instance_families
                        .iter()
                        .map(|f| (*f).to_owned())
                        .collect(),
                    image_type: Some(ImageType::Native.as_str().to_owned()),
                    layers: layers.clone(),
                    os_settings: crate::content::base_os_settings(b),
                    ..ImageAttrs::default()
                },
            }
        })
        .collect()
}

pub(crate) async fn seed_public_images(svc: &Service) -> Result<(), CoreError> {
    let mut all = Vec::new();
    for region in svc.regions.iter() {
        // Each region's store gets the content itself: regions need not share a store.
        let layers = BASE_IMAGES
            .iter()
            .map(|b| svc.base_layers(region, b))
            .collect::<Result<Vec<_>, _>>()?;
        all.extend(public_images(region, &layers));
    }
    let added = svc.store.seed_images(&all).await?;
    if added > 0 {
        tracing::info!(
            added,
            regions = svc.regions.len(),
            "seeded the public image catalogue"
        );
    }
    Ok(())
}

/// The API view of an image as `caller` sees it. Takes the row by value: a page of images moves
/// its strings into the answer instead of copying them.
pub fn to_api(row: ImageRow, caller: &str) -> Image {
    let ImageRow {
        image: r,
        shared_with_caller,
        shared_with_others,
        ..
    } = row;
    let a = r.attrs;
    let visibility = if r.owner == PUBLIC_OWNER {
        VisibilityType::Public
    } else if r.owner == caller {
        VisibilityType::Private
    } else {
        VisibilityType::Shared
    };
    let shared_to_caller = visibility == VisibilityType::Shared;
    Image {
        name: r.name,
        arn: Some(r.arn),
        base_image_arn: a.base_image_arn,
        display_name: a.display_name,
        state: Some(r.state),
        visibility: Some(visibility),
        image_builder_supported: Some(a.image_builder_supported),
        // The model says ImageBuilderName is null for shared images.
        image_builder_name: if shared_to_caller {
            None
        } else {
            a.image_builder_name
        },
        platform: PlatformType::from_wire(&r.platform),
        description: a.description,
        state_change_reason: a
            .state_change_reason
            .map(|(code, msg)| ImageStateChangeReason {
                code: ImageStateChangeReasonCode::from_wire(&code),
                message: Some(msg),
            }),
        applications: (!a.applications.is_empty()).then(|| {
            a.applications
                .into_iter()
                .map(|app| photon_types::Application {
                    name: Some(app.name),
                    display_name: app.display_name,
                    launch_path: Some(app.launch_path),
                    launch_parameters: app.launch_parameters,
                    // Never a null value in the map: a real-service null once broke a client
                    // (SPEC §1.10).
                    metadata: app.working_directory.clone().map(|wd| {
                        std::collections::BTreeMap::from([("WORKING_DIRECTORY".to_owned(), wd)])
                    }),
                    working_directory: app.working_directory,
                    enabled: Some(true),
                    platforms: PlatformType::from_wire(&r.platform).map(|p| vec![p]),
                    ..Default::default()
                })
                .collect()
        }),
        created_time: Some(Timestamp(r.created_at)),
        public_base_image_released_date: a.public_base_image_released_date.map(Timestamp),
        appstream_agent_version: a.appstream_agent_version,
        image_permissions: shared_with_caller.filter(|_| shared_to_caller).map(
            |(fleet, builder)| ImagePermissions {
                allow_fleet: Some(fleet),
                allow_image_builder: Some(builder),
            },
        ),
        image_errors: (!a.errors.is_empty()).then(|| {
            a.errors
                .into_iter()
                .map(|(code, message, at)| photon_types::ResourceError {
                    error_code: photon_types::FleetErrorCode::from_wire(&code),
                    error_message: Some(message),
                    error_timestamp: Some(Timestamp(at)),
                })
                .collect()
        }),
        latest_appstream_agent_version: Some(if a.latest_appstream_agent_version {
            LatestAppstreamAgentVersion::True
        } else {
            LatestAppstreamAgentVersion::False
        }),
        supported_instance_families: Some(a.supported_instance_families),
        dynamic_app_providers_enabled: Some(if a.dynamic_app_providers_enabled {
            photon_types::DynamicAppProvidersEnabled::Enabled
        } else {
            photon_types::DynamicAppProvidersEnabled::Disabled
        }),
        image_shared_with_others: (visibility == VisibilityType::Private).then_some(
            if shared_with_others {
                ImageSharedWithOthers::True
            } else {
                ImageSharedWithOthers::False
            },
        ),
        managed_software_included: None,
        image_type: a.image_type.as_deref().and_then(ImageType::from_wire),
        image_software_metadata: None,
    }
}

/// What an image is to be used for: each needs its own sharing permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageUse {
    Builder,
    Fleet,
}

/// Whether `account` may use an image owned by `owner` for `purpose`, given the image's share
/// with that account (allowFleet, allowImageBuilder), if any: public and own images always,
/// another account's only with the permission the use needs. The one place this rule lives:
/// request checks and the fleet write's in-transaction recheck both call it.
pub(crate) fn may_use(
    owner: &str,
    account: &str,
    shared: Option<(bool, bool)>,
    purpose: ImageUse,
) -> bool {
    if owner == PUBLIC_OWNER || owner == account {
        return true;
    }
    let (fleet, builder) = shared.unwrap_or((false, false));
    match purpose {
        ImageUse::Builder => builder,
        ImageUse::Fleet => fleet,
    }
}

/// Makes `image` `FAILED` for good: the state-change reason and, in its notifications
/// (`ImageErrors`), an `INTERNAL_SERVICE_ERROR` entry with the message and the time, so every
/// failure (snapshot, copy, managed update) reads the same.
pub(crate) fn mark_failed(
    image: &mut ImageRecord,
    code: ImageStateChangeReasonCode,
    message: String,
    now: i64,
) {
    image.attrs.errors.push((
        photon_types::FleetErrorCode::InternalServiceError
            .as_str()
            .to_owned(),
        message.clone(),
        now,
    ));
    image.attrs.state_change_reason = Some((code.as_str().to_owned(), message));
    image.state = ImageState::Failed;
}

impl Service {
    /// Makes an image in state `from` `FAILED` (`mark_failed`), in one write, as `job` gives
    /// up its transition. Returns whether the image was still in `from` and `job`'s.
    pub(crate) async fn fail_image(
        &self,
        key: Key<'_>,
        job: &photon_store::JobRecord,
        from: ImageState,
        code: ImageStateChangeReasonCode,
        message: String,
    ) -> Result<bool, CoreError> {
        let now = self.now();
        let failed = crate::transition::change(
            self.store.as_ref(),
            key,
            &[from],
            ImageState::Failed,
            crate::transition::By::Job(job),
            |image: &mut ImageRecord| mark_failed(image, code, message, now),
        )
        .await?;
        Ok(matches!(failed, photon_store::Transition::Done(_)))
    }
}

impl Service {
    /// The image an image builder or a fleet may run on `instance_type`, or why not: named by
    /// exactly one of name and ARN, visible to the caller, shared with the permission the use
    /// needs, AVAILABLE, and of an instance family the image supports.
    pub(crate) async fn usable_image(
        &self,
        cx: &Caller,
        (name, arn): (Option<&str>, Option<&str>),
        instance_type: &str,
        purpose: ImageUse,
    ) -> Result<ImageRow, CoreError> {
        let row = match (name, arn) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(CoreError::InvalidCombination(
                    "give exactly one of ImageName and ImageArn".into(),
                ))
            }
            (Some(n), None) => self.image_by_name(cx, n, ImageScope::Visible).await?,
            (None, Some(a)) => self.store.image_for(&cx.region, &cx.account_id, a).await?,
        };
        let what = name.or(arn).unwrap_or_default();
        let Some(row) = row else {
            return Err(CoreError::NotFound(format!(
                "image '{what}' does not exist in {} or is not visible to your account; list \
                 the images you can use with DescribeImages",
                cx.region
            )));
        };
        let owner = &row.image.owner;
        if !may_use(owner, &cx.account_id, row.shared_with_caller, purpose) {
            let what_use = match purpose {
                ImageUse::Builder => "image builder",
                ImageUse::Fleet => "fleet",
            };
            return Err(CoreError::NotPermitted(format!(
                "image '{what}' is shared with your account without {what_use} permission; \
                 ask its owner (account {owner}) to allow {what_use}s"
            )));
        }
        if row.image.state != ImageState::Available {
            return Err(CoreError::NotAvailable(format!(
                "image '{what}' is {}; only an AVAILABLE image can be used",
                row.image.state
            )));
        }
        if *owner == PUBLIC_OWNER && is_deprecated_image(&row.image) {
            // AWS's own wording for a deprecated base image.
            return Err(CoreError::NotAvailable(format!(
                "The image {} is DEPRECATED. The image must be in an AVAILABLE state for this \
                 action to succeed.",
                row.image.name
            )));
        }
        if purpose == ImageUse::Builder && !row.image.attrs.image_builder_supported {
            return Err(CoreError::Incompatible(format!(
                "image '{what}' does not support image builders; pick another image"
            )));
        }
        let Some(family) = crate::catalog::instance_family_of(instance_type) else {
            return Err(CoreError::Invalid(format!(
                "InstanceType '{instance_type}' is not an AppStream instance type; use one such \
                 as stream.standard.medium"
            )));
        };
        let families = &row.image.attrs.supported_instance_families;
        if !families.iter().any(|f| f == family.family) {
            return Err(CoreError::Incompatible(format!(
                "image '{}' supports the instance families {} but {instance_type} is {}; pick \
                 an instance type of a supported family",
                row.image.name,
                families.join(", "),
                family.family
            )));
        }
        Ok(row)
    }
}

/// Whether a public image is a deprecated base image (by its release date, platform and
/// families).
pub(crate) fn is_deprecated_image(image: &photon_store::ImageRecord) -> bool {
    let released = image
        .attrs
        .public_base_image_released_date
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|d| d.format("%Y-%m-%d").to_string());
    released.is_some_and(|r| {
        crate::catalog::is_deprecated(
            &image.platform,
            &r,
            &image.attrs.supported_instance_families,
        )
    })
}

/// What an image name reaches when it is not one of the caller's own images.
pub(crate) enum NotOwned {
    /// An AWS base image.
    Public,
    /// An image another account (named) shares with the caller.
    SharedBy(String),
    Missing,
}

impl NotOwned {
    /// The refusal for a name that reaches nothing.
    pub(crate) fn missing(name: &str, region: &str) -> CoreError {
        CoreError::NotFound(format!(
            "your account has no image '{name}' in {region}; list yours with DescribeImages Type \
             PRIVATE"
        ))
    }
}

impl Service {
    /// The caller's own image by name, or what the name reaches instead; each operation words
    /// its own refusal.
    pub(crate) async fn own_image(
        &self,
        cx: &Caller,
        name: &str,
    ) -> Result<Result<ImageRow, NotOwned>, CoreError> {
        match self
            .store
            .image(Key::new(&cx.region, &cx.account_id, name))
            .await?
        {
            Some(row) => Ok(Ok(row)),
            None => Ok(Err(self.not_owned(cx, name).await?)),
        }
    }

    async fn not_owned(&self, cx: &Caller, name: &str) -> Result<NotOwned, CoreError> {
        if self
            .store
            .image(Key::new(&cx.region, PUBLIC_OWNER, name))
            .await?
            .is_some()
        {
            return Ok(NotOwned::Public);
        }
        Ok(
            match self
                .store
                .shared_image_by_name(&cx.region, &cx.account_id, name)
                .await?
            {
                Some(row) => NotOwned::SharedBy(row.image.owner),
                None => NotOwned::Missing,
            },
        )
    }
}

fn scope_of(t: Option<VisibilityType>) -> ImageScope {
    match t {
        None => ImageScope::Visible,
        Some(VisibilityType::Public) => ImageScope::Public,
        Some(VisibilityType::Private) => ImageScope::Owned,
        Some(VisibilityType::Shared) => ImageScope::SharedWithMe,
    }
}

fn matches_scope(row: &ImageRow, caller: &str, scope: ImageScope) -> bool {
    match scope {
        ImageScope::Visible => true,
        ImageScope::Public => row.image.owner == PUBLIC_OWNER,
        ImageScope::Owned => row.image.owner == caller,
        ImageScope::SharedWithMe => row.image.owner != PUBLIC_OWNER && row.image.owner != caller,
    }
}

fn not_found(name: &str, region: &str) -> CoreError {
    CoreError::NotFound(format!(
        "image '{name}' does not exist in {region} or is not visible to your account; \
         list the images you can use with DescribeImages"
    ))
}

impl Service {
    /// Finds an image by name the way `Names` does: the caller's own, else a public one; with a
    /// `Type`, only under the owner that type names.
    async fn image_by_name(
        &self,
        cx: &Caller,
        name: &str,
        scope: ImageScope,
    ) -> Result<Option<ImageRow>, CoreError> {
        if matches!(scope, ImageScope::Owned | ImageScope::Visible) {
            if let Some(row) = self
                .store
                .image(Key::new(&cx.region, &cx.account_id, name))
                .await?
            {
                return Ok(Some(row));
            }
        }
        if matches!(scope, ImageScope::Public | ImageScope::Visible) {
            return Ok(self
                .store
                .image(Key::new(&cx.region, PUBLIC_OWNER, name))
                .await?);
        }
        Ok(None)
    }

    pub async fn describe_images(
        &self,
        cx: &Caller,
        input: DescribeImagesRequest,
    ) -> Result<DescribeImagesResult, CoreError> {
        let names = input.names.unwrap_or_default();
        let arns = input.arns.unwrap_or_default();
        if !names.is_empty() && !arns.is_empty() {
            return Err(CoreError::InvalidCombination(
                "Names and Arns cannot be used together; pass one of them".into(),
            ));
        }
        if names.len() > MAX_LOOKUPS || arns.len() > MAX_LOOKUPS {
            return Err(CoreError::Invalid(format!(
                "name at most {MAX_LOOKUPS} images per request in Names or Arns; \
                 list more with Type and NextToken"
            )));
        }
        let scope = scope_of(input.r#type);
        let limit = match input.max_results {
            Some(n) if n > 0 => n as u32,
            _ => MAX_PAGE,
        };
        let type_str = input.r#type.map_or("", VisibilityType::as_str);
        let mut fp_parts: Vec<&str> = vec![&cx.account_id, &cx.region, type_str, "names"];
        fp_parts.extend(names.iter().map(String::as_str));
        fp_parts.push("arns");
        fp_parts.extend(arns.iter().map(String::as_str));
        // Only a listing that continues or goes on needs it: a point lookup skips the hash.
        let fingerprint = std::cell::LazyCell::new(|| token::fingerprint(&fp_parts));
        let after = match &input.next_token {
            Some(t) => Some(token::open(&self.token_key, t, &fingerprint, self.now())?),
            None => None,
        };

        let mut rows: Vec<ImageRow> = if names.is_empty() && arns.is_empty() {
            // One row more than the page tells whether another page exists.
            let q = ImageQuery {
                region: cx.region.clone(),
                account_id: cx.account_id.clone(),
                scope,
                after,
                limit: limit + 1,
            };
            self.store.list_images(&q).await?
        } else {
            let mut found = Vec::new();
            for name in &names {
                match self.image_by_name(cx, name, scope).await? {
                    Some(row) if matches_scope(&row, &cx.account_id, scope) => found.push(row),
                    _ => return Err(not_found(name, &cx.region)),
                }
            }
            for arn in &arns {
                let row = match Arn::parse(arn) {
                    Some(a) if a.resource_type == "image" && a.region == cx.region => {
                        self.store
                            .image_for(&cx.region, &cx.account_id, arn)
                            .await?
                    }
                    _ => None,
                };
                match row {
                    Some(row) if matches_scope(&row, &cx.account_id, scope) => found.push(row),
                    _ => return Err(not_found(arn, &cx.region)),
                }
            }
            found.sort_by(|a, b| a.sort_key.cmp(&b.sort_key));
            found.dedup_by(|a, b| a.sort_key == b.sort_key);
            found
                .into_iter()
                .filter(|r| after.as_deref().is_none_or(|k| r.sort_key.as_str() > k))
                .take(limit as usize + 1)
                .collect()
        };
        let next_token = if rows.len() > limit as usize {
            rows.truncate(limit as usize);
            rows.last()
                .map(|r| token::issue(&self.token_key, &fingerprint, &r.sort_key, self.now()))
        } else {
            None
        };
        Ok(DescribeImagesResult {
            images: Some(
                rows.into_iter()
                    .map(|r| to_api(r, &cx.account_id))
                    .collect(),
            ),
            next_token,
        })
    }

    /// Why an image cannot be deleted now, if it cannot: every use the store counts (shares
    /// today; fleets join them with the fleets feature), worded as what to do about it.
    pub fn usage_reason(name: &str, usage: &ImageUsage) -> Option<String> {
        if usage.fleets > 0 {
            let more = if usage.fleets > usage.fleet_names.len() as i64 {
                ", …"
            } else {
                ""
            };
            return Some(format!(
                "image '{name}' is used by {} fleet(s) ({}{more}); update them to another image \
                 with UpdateFleet (or delete them) before deleting it",
                usage.fleets,
                usage.fleet_names.join(", ")
            ));
        }
        usage.in_use().then(|| {
            format!(
                "image '{name}' is shared with {} account(s); remove every permission with \
                 DeleteImagePermissions before deleting it",
                usage.shared_with
            )
        })
    }

    pub async fn delete_image(
        &self,
        cx: &Caller,
        input: DeleteImageRequest,
    ) -> Result<DeleteImageResult, CoreError> {
        let name = &input.name;
        let key = Key::new(&cx.region, &cx.account_id, name);
        // Check and delete happen in one transaction under the image's lock, which sharers and
        // fleet writers take too, so nothing can start using the image in between.
        let mut tx = self.store.write().await?;
        tx.lock(LockKey::Image(Arn::image(&cx.region, &cx.account_id, name)))
            .await?;
        let Some(row) = tx.image_row(key).await? else {
            drop(tx);
            return Err(match self.not_owned(cx, name).await? {
                NotOwned::Public => CoreError::NotPermitted(format!(
                    "image '{name}' is a public AWS base image; you can delete only images your account owns"
                )),
                NotOwned::SharedBy(_) => CoreError::NotPermitted(format!(
                    "image '{name}' is shared with your account by its owner; only the owner can delete it"
                )),
                NotOwned::Missing => not_found(name, &cx.region),
            });
        };
        let state = row.image.state;
        if !matches!(state, ImageState::Available | ImageState::Failed) {
            return Err(CoreError::ConcurrentModification(format!(
                "image '{name}' is {state}; wait until it is AVAILABLE or FAILED, then delete it"
            )));
        }
        let usage = tx.image_usage(key).await?;
        if usage.in_use() {
            return Err(CoreError::InUse(
                Self::usage_reason(name, &usage)
                    .unwrap_or_else(|| format!("image '{name}' is in use")),
            ));
        }
        tx.delete_image(key).await?;
        tx.commit().await?;
        let mut image = to_api(row, &cx.account_id);
        image.state = Some(ImageState::Deleting);
        Ok(DeleteImageResult { image: Some(image) })
    }
}
