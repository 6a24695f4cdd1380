//! The release feed: the history of AWS base image releases per platform and of AppStream agent
//! versions, seeded from the reference pages at first start, and the operator's publishing of
//! new ones (a new base image release is a new public image in every region, with real content
//! layers for its patch level).

use std::collections::BTreeMap;

use photon_blob::{put_layer, Entry, Layer};
use photon_store::{
    AgentRelease, BaseRelease, ImageAttrs, ImageRecord, StoreError, IMAGE_ATTRS_VERSION,
    PUBLIC_OWNER,
};
use photon_types::{ImageState, ImageType};

use crate::arn::Arn;
use crate::catalog::BASE_IMAGES;
use crate::content::{normalize, release_layers};
use crate::{CoreError, Service};

/// The AppStream agent versions in the reference pages: the Windows and Linux release-notes
/// tables of `agent-software-versions.md`, and the versions the catalogue's base images ship.
/// (version `MM-DD-YYYY`, released `YYYY-MM-DD`, notes)
pub const AGENT_HISTORY: &[(&str, &str, &str)] = &[
    (
        "05-18-2017",
        "2017-05-18",
        "Shipped with the public base images of that date (base-image-version-history.md)",
    ),
    (
        "06-20-2017",
        "2017-06-20",
        "Shipped with the public base images of that date (base-image-version-history.md)",
    ),
    (
        "09-05-2017",
        "2017-09-05",
        "Shipped with the public base images of that date (base-image-version-history.md)",
    ),
    (
        "12-07-2017",
        "2017-12-07",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "01-24-2018",
        "2018-01-24",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "03-19-2018",
        "2018-03-19",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "05-21-2018",
        "2018-05-21",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "05-31-2018",
        "2018-05-31",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "06-06-2018",
        "2018-06-06",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "06-19-2018",
        "2018-06-19",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "07-26-2018",
        "2018-07-26",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "08-29-2018",
        "2018-08-29",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "10-01-2018",
        "2018-10-01",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "10-24-2018",
        "2018-10-24",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "10-30-2018",
        "2018-10-30",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "11-14-2018",
        "2018-11-14",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "12-04-2018",
        "2018-12-04",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "12-17-2018",
        "2018-12-17",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "12-19-2018",
        "2018-12-19",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "01-08-2019",
        "2019-01-08",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "01-22-2019",
        "2019-01-22",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "03-07-2019",
        "2019-03-07",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "04-02-2019",
        "2019-04-02",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "05-07-2019",
        "2019-05-07",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "06-19-2019",
        "2019-06-19",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "07-26-2019",
        "2019-07-26",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "08-08-2019",
        "2019-08-08",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "09-03-2019",
        "2019-09-03",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "09-23-2019",
        "2019-09-23",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "10-08-2019",
        "2019-10-08",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "11-13-2019",
        "2019-11-13",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "01-13-2020",
        "2020-01-13",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "02-19-2020",
        "2020-02-19",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "04-20-2020",
        "2020-04-20",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "05-27-2020",
        "2020-05-27",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "07-30-2020",
        "2020-07-30",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "09-01-2020",
        "2020-09-01",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "10-08-2020",
        "2020-10-08",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "12-17-2020",
        "2020-12-17",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "01-04-2021",
        "2021-01-04",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "03-04-2021",
        "2021-03-04",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "05-17-2021",
        "2021-05-17",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "06-25-2021",
        "2021-06-25",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "07-01-2021",
        "2021-07-01",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "08-02-2021",
        "2021-08-02",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "10-19-2021",
        "2021-10-19",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "11-15-2021",
        "2021-11-15",
        "Linux agent release (agent-software-versions.md)",
    ),
    (
        "11-19-2021",
        "2021-11-19",
        "Linux agent release (agent-software-versions.md)",
    ),
    (
        "12-20-2021",
        "2021-12-20",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "02-21-2022",
        "2022-02-21",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "03-14-2022",
        "2022-03-14",
        "Windows agent release (agent-software-versions.md)",
    ),
    (
        "06-20-2022",
        "2022-06-20",
        "Shipped with the public base images of that date (base-image-version-history.md)",
    ),
    (
        "09-21-2022",
        "2022-09-21",
        "Shipped with the public base images of that date (base-image-version-history.md)",
    ),
    (
        "03-15-2023",
        "2023-03-15",
        "Shipped with the public base images of that date (base-image-version-history.md)",
    ),
    (
        "03-21-2023",
        "2023-03-21",
        "Shipped with the public base images of that date (base-image-version-history.md)",
    ),
    (
        "12-07-2023",
        "2023-12-07",
        "Shipped with the public base images of that date (base-image-version-history.md)",
    ),
    (
        "05-21-2024",
        "2024-05-21",
        "Shipped with the public base images of that date (base-image-version-history.md)",
    ),
    (
        "07-30-2024",
        "2024-07-30",
        "Shipped with the public base images of that date (base-image-version-history.md)",
    ),
    (
        "10-22-2024",
        "2024-10-22",
        "Shipped with the public base images of that date (base-image-version-history.md)",
    ),
    (
        "12-19-2024",
        "2024-12-19",
        "Shipped with the public base images of that date (base-image-version-history.md)",
    ),
    (
        "02-11-2025",
        "2025-02-11",
        "Shipped with the public base images of that date (base-image-version-history.md)",
    ),
    (
        "05-29-2025",
        "2025-05-29",
        "Shipped with the public base images of that date (base-image-version-history.md)",
    ),
    (
        "10-02-2025",
        "2025-10-02",
        "Shipped with the public base images of that date (base-image-version-history.md)",
    ),
    (
        "11-10-2025",
        "2025-11-10",
        "Shipped with the public base images of that date (base-image-version-history.md)",
    ),
    (
        "12-06-2025",
        "2025-12-06",
        "Shipped with the public base images of that date (base-image-version-history.md)",
    ),
    (
        "02-09-2026",
        "2026-02-09",
        "Shipped with the public base images of that date (base-image-version-history.md)",
    ),
    (
        "02-18-2026",
        "2026-02-18",
        "Shipped with the public base images of that date (base-image-version-history.md)",
    ),
    (
        "06-29-2026",
        "2026-06-29",
        "Shipped with the public base images of that date (base-image-version-history.md)",
    ),
    (
        "08-31-2026",
        "2026-08-31",
        "Shipped with the public base images of that date (base-image-version-history.md)",
    ),
    (
        "09-10-2026",
        "2026-09-10",
        "Shipped with the public base images of that date (base-image-version-history.md)",
    ),
    (
        "10-01-2026",
        "2026-10-01",
        "Shipped with the public base images of that date (base-image-version-history.md)",
    ),
    (
        "10-22-2026",
        "2026-10-22",
        "Shipped with the public base images of that date (base-image-version-history.md)",
    ),
];

/// The name of a platform's base images, before the release date: a published release of the
/// platform is named `PREFIX-MM-DD-YYYY`, like the real ones.
pub fn name_prefix(platform: &str) -> Option<&'static str> {
    Some(match platform {
        "WINDOWS" => "AppStream-WinServer2012R2",
        "WINDOWS_SERVER_2016" => "AppStream-WinServer2016",
        "WINDOWS_SERVER_2019" => "AppStream-WinServer2019",
        "WINDOWS_SERVER_2022" => "AppStream-WinServer2022",
        "WINDOWS_SERVER_2025" => "AppStream-WinServer2025",
        "AMAZON_LINUX2" => "AppStream-AmazonLinux2",
        "RHEL8" => "AppStream-RHEL8",
        "ROCKY_LINUX8" => "AppStream-RockyLinux8",
        "UBUNTU_PRO_2404" => "AppStream-UbuntuPro2404",
        _ => return None,
    })
}

/// `YYYY-MM-DD` → `MM-DD-YYYY` (how AWS writes dates in image names and agent versions).
fn us_date(iso: &str) -> String {
    match (iso.get(0..4), iso.get(5..7), iso.get(8..10)) {
        (Some(y), Some(m), Some(d)) => format!("{m}-{d}-{y}"),
        _ => iso.to_owned(),
    }
}

fn check_date(what: &str, date: &str) -> Result<(), CoreError> {
    if chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_err() {
        return Err(CoreError::Invalid(format!(
            "{what} '{date}' is not a date; write it as YYYY-MM-DD"
        )));
    }
    Ok(())
}

/// The releases of the reference pages: every catalogue image is a release of its platform, and
/// the agent history.
pub fn history(now: i64) -> (Vec<BaseRelease>, Vec<AgentRelease>) {
    let base = BASE_IMAGES
        .iter()
        .map(|b| BaseRelease {
            platform: b.platform.to_owned(),
            image_name: b.name.to_owned(),
            released: b.released.to_owned(),
            agent_version: b.agent_version.to_owned(),
            os_patch_level: b.released.get(0..7).unwrap_or(b.released).to_owned(),
            driver_versions: BTreeMap::new(),
            content_layer: None,
            created_at: now,
        })
        .collect();
    let agents = AGENT_HISTORY
        .iter()
        .map(|(version, released, notes)| AgentRelease {
            version: (*version).to_owned(),
            released: (*released).to_owned(),
            notes: (*notes).to_owned(),
            created_at: now,
        })
        .collect();
    (base, agents)
}

/// What `publish_base_image` is asked to publish.
#[derive(Debug, Clone, Default)]
pub struct Publish {
    pub platform: String,
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Default: the newest agent in the feed.
    pub agent_version: Option<String>,
    /// Extra files of the release's OS patch, by absolute path on the image.
    pub content: Vec<(String, Vec<u8>)>,
}

impl Service {
    pub(crate) async fn seed_releases(&self) -> Result<(), CoreError> {
        let (base, agents) = history(self.now());
        let added = self.store.seed_releases(&base, &agents).await?;
        if added > 0 {
            tracing::info!(added, "seeded the release feed");
        }
        Ok(())
    }

    /// The feed: base image releases and agent versions, oldest first.
    pub async fn releases(&self) -> Result<(Vec<BaseRelease>, Vec<AgentRelease>), CoreError> {
        Ok((
            self.store.base_releases().await?,
            self.store.agent_releases().await?,
        ))
    }

    pub async fn publish_agent(
        &self,
        version: &str,
        date: &str,
        notes: &str,
    ) -> Result<AgentRelease, CoreError> {
        check_date("--date", date)?;
        if chrono::NaiveDate::parse_from_str(version, "%m-%d-%Y").is_err() {
            return Err(CoreError::Invalid(format!(
                "agent version '{version}' is not named like AWS's (MM-DD-YYYY, e.g. 10-02-2025)"
            )));
        }
        let agent = AgentRelease {
            version: version.to_owned(),
            released: date.to_owned(),
            notes: notes.to_owned(),
            created_at: self.now(),
        };
        match self.store.publish_agent(&agent).await {
            Ok(()) => Ok(agent),
            Err(StoreError::Conflict) => Err(CoreError::AlreadyExists(format!(
                "agent version {version} is already in the feed; see `photon releases list`"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Publishes a base image release: a public image named `PREFIX-MM-DD-YYYY` appears in every
    /// region at once, with the platform's OS layer, the release's own layer (agent version and
    /// patch level) and, when given, a layer of the patch's files.
    pub async fn publish_base_image(&self, p: Publish) -> Result<BaseRelease, CoreError> {
        check_date("--date", &p.date)?;
        let Some(prefix) = name_prefix(&p.platform) else {
            return Err(CoreError::Invalid(format!(
                "'{}' is not a platform with base images; use one of WINDOWS_SERVER_2016, \
                 WINDOWS_SERVER_2019, WINDOWS_SERVER_2022, WINDOWS_SERVER_2025, WINDOWS, \
                 AMAZON_LINUX2, RHEL8, ROCKY_LINUX8, UBUNTU_PRO_2404",
                p.platform
            )));
        };
        let (releases, agents) = self.releases().await?;
        let agent_version = match &p.agent_version {
            Some(v) if agents.iter().any(|a| a.version == *v) => v.clone(),
            Some(v) => {
                return Err(CoreError::NotFound(format!(
                    "agent version {v} is not in the feed; publish it first with `photon \
                     releases publish-agent`"
                )))
            }
            None => agents
                .last()
                .map(|a| a.version.clone())
                .ok_or_else(|| CoreError::NotFound("the feed has no agent version".into()))?,
        };
        // The newest earlier release of the same image family is the template: instance
        // families and description carry over.
        let template = releases
            .iter()
            .filter(|r| r.platform == p.platform && r.image_name.starts_with(prefix))
            .filter_map(|r| BASE_IMAGES.iter().find(|b| b.name == r.image_name))
            .next_back()
            .ok_or_else(|| {
                CoreError::NotFound(format!("no earlier {} release to start from", p.platform))
            })?;
        let name = format!("{prefix}-{}", us_date(&p.date));
        let released = crate::image::date_millis(&p.date);
        let mut images = Vec::with_capacity(self.regions.len());
        let mut content_layer = None;
        for region in self.regions.iter() {
            let blobs = self.blobs.region(region);
            let mut layers = release_layers(blobs, &p.platform, &agent_version, &p.date)?;
            if !p.content.is_empty() {
                let mut layer = Layer::new();
                for (path, bytes) in &p.content {
                    let path = normalize(&p.platform, path, false)?;
                    let digest = blobs.put(bytes).map_err(crate::content::blob_err)?;
                    layer.insert(
                        path,
                        Entry {
                            digest: Some(digest),
                            size: bytes.len() as u64,
                        },
                    );
                }
                let digest = put_layer(blobs, &layer).map_err(crate::content::blob_err)?;
                content_layer = Some(digest.clone());
                layers.push(digest);
            }
            images.push(ImageRecord {
                region: region.clone(),
                owner: PUBLIC_OWNER.to_owned(),
                name: name.clone(),
                arn: Arn::image(region, PUBLIC_OWNER, &name),
                state: ImageState::Available,
                platform: p.platform.clone(),
                created_at: released,
                attrs: ImageAttrs {
                    v: IMAGE_ATTRS_VERSION,
                    display_name: Some(name.clone()),
                    description: Some(template.description.to_owned()),
                    image_builder_supported: true,
                    public_base_image_released_date: Some(released),
                    appstream_agent_version: Some(agent_version.clone()),
                    supported_instance_families: template
                        .instance_families
                        .iter()
                        .map(|f| (*f).to_owned())
                        .collect(),
                    image_type: Some(ImageType::Native.as_str().to_owned()),
                    layers,
                    os_settings: crate::content::base_os_settings(template),
                    ..ImageAttrs::default()
                },
            });
        }
        let release = BaseRelease {
            platform: p.platform.clone(),
            image_name: name.clone(),
            released: p.date.clone(),
            agent_version,
            os_patch_level: p.date.get(0..7).unwrap_or(&p.date).to_owned(),
            driver_versions: BTreeMap::new(),
            content_layer,
            created_at: self.now(),
        };
        match self.store.publish_base_release(&release, &images).await {
            Ok(()) => Ok(release),
            Err(StoreError::Conflict) => Err(CoreError::AlreadyExists(format!(
                "{name} is already published; pick another --date"
            ))),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_history_is_ordered_and_complete() {
        assert!(AGENT_HISTORY.windows(2).all(|w| w[0].1 <= w[1].1));
        for b in BASE_IMAGES {
            assert!(
                AGENT_HISTORY.iter().any(|a| a.0 == b.agent_version),
                "{} ships agent {} which the history lacks",
                b.name,
                b.agent_version
            );
            assert!(name_prefix(b.platform).is_some(), "{}", b.platform);
        }
        assert_eq!(us_date("2026-12-01"), "12-01-2026");
    }
}
