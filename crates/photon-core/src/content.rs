//! Image and builder content: the synthetic file trees of the public base images (generated
//! deterministically, so every start and every node produces the same digests), platform path
//! rules, and a builder's file system, which is its own layer over its image's layers.

use std::collections::BTreeSet;
use std::sync::Arc;

use photon_blob::{flatten, get_layer, put_layer, BlobError, BlobStore, Entry, Layer};
use photon_store::{BuilderFile, BuilderRecord, Key, LockKey, OsSettings, WriteTx};
use photon_types::{Caller, ImageBuilderState};

use crate::catalog::BaseImage;
use crate::{CoreError, Service};

pub(crate) fn blob_err(e: BlobError) -> CoreError {
    CoreError::Internal(e.to_string())
}

pub fn is_windows(platform: &str) -> bool {
    platform.starts_with("WINDOWS")
}

/// The Windows settings a public base image ships with, by the seed's rules: Windows Update is
/// off on every base image; Windows Server 2012 R2 images have no antivirus; Windows Server
/// 2016/2019 images published before 2019-09-10 (the 2019-06-24 release) have Windows Defender
/// enabled, those published on or after it have it disabled, as have the later platforms.
pub fn base_os_settings(b: &BaseImage) -> Option<OsSettings> {
    if !is_windows(b.platform) {
        return None;
    }
    let defender = match b.platform {
        // Platform WINDOWS is the Windows Server 2012 R2 generation in the catalogue.
        "WINDOWS" => None,
        "WINDOWS_SERVER_2016" | "WINDOWS_SERVER_2019" => Some(b.released < "2019-09-10"),
        _ => Some(false),
    };
    Some(OsSettings {
        windows_update: false,
        defender,
    })
}

/// OS settings as Photon's API shows them: the Windows Update service, and Windows Defender as
/// the registry value the seed names and the state of its service.
pub fn settings_view(s: &OsSettings) -> Vec<(&'static str, String)> {
    let mut v = vec![(
        "WindowsUpdate",
        if s.windows_update {
            "enabled"
        } else {
            "disabled"
        }
        .to_owned(),
    )];
    match s.defender {
        None => v.push(("WindowsDefender", "not installed".to_owned())),
        Some(on) => {
            v.push((
                "WindowsDefender",
                if on { "enabled" } else { "disabled" }.to_owned(),
            ));
            v.push((
                "HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows Defender\\DisableAntiSpyware",
                if on { "0" } else { "1" }.to_owned(),
            ));
            v.push((
                "WindowsDefenderAntivirusService",
                if on { "running" } else { "stopped" }.to_owned(),
            ));
        }
    }
    v
}

/// Bytes for a synthetic file: deterministic, distinct per path and version, of a plausible size.
fn synthetic(path: &str, flavour: &str, size: usize) -> Vec<u8> {
    let line = format!("photon synthetic content\tpath={path}\t{flavour}\n");
    line.as_bytes()
        .iter()
        .copied()
        .cycle()
        .take(size.max(line.len()))
        .collect()
}

fn file(
    layer: &mut Layer,
    blobs: &dyn BlobStore,
    path: &str,
    bytes: Vec<u8>,
) -> Result<(), CoreError> {
    let size = bytes.len() as u64;
    let digest = blobs.put(&bytes).map_err(blob_err)?;
    layer.insert(
        path.to_owned(),
        Entry {
            digest: Some(digest),
            size,
        },
    );
    Ok(())
}

/// The content of a base image release of `platform`: the platform's OS layer (shared by every
/// release) and the release's own layer recording its agent version and patch level.
/// Where an image records the AppStream agent it runs.
const AGENT_FILE_WINDOWS: &str = "C:\\Program Files\\Amazon\\Photon\\AppStream2\\agent-version.txt";
const AGENT_FILE_LINUX: &str = "/opt/appstream/agent-version";

/// A layer that installs agent `version` (a managed update's agent step).
pub fn agent_layer(
    blobs: &dyn BlobStore,
    platform: &str,
    version: &str,
) -> Result<String, CoreError> {
    let path = if is_windows(platform) {
        AGENT_FILE_WINDOWS
    } else {
        AGENT_FILE_LINUX
    };
    let mut layer = Layer::new();
    file(&mut layer, blobs, path, format!("{version}\n").into_bytes())?;
    put_layer(blobs, &layer).map_err(blob_err)
}

impl Service {
    /// `layers` with the file that names the AppStream agent set to `agent` on top, so that what
    /// a builder or image reports as its agent and what its file system says agree. The layer
    /// is content-addressed: a repeated call gives the same digest and does not stack it twice.
    pub(crate) async fn with_agent(
        &self,
        region: &str,
        platform: &str,
        mut layers: Vec<String>,
        agent: &str,
    ) -> Result<Vec<String>, CoreError> {
        let blobs = self.blobs.clone();
        let (region, platform, agent) = (region.to_owned(), platform.to_owned(), agent.to_owned());
        let layer = tokio::task::spawn_blocking(move || {
            agent_layer(blobs.region(&region), &platform, &agent)
        })
        .await
        .map_err(|e| CoreError::Internal(format!("agent layer task: {e}")))??;
        if layers.last() != Some(&layer) {
            layers.push(layer);
        }
        Ok(layers)
    }
}

pub fn release_layers(
    blobs: &dyn BlobStore,
    platform: &str,
    agent_version: &str,
    released: &str,
) -> Result<Vec<String>, CoreError> {
    Ok(vec![
        os_layer(blobs, platform)?,
        release_layer(blobs, platform, agent_version, released)?,
    ])
}

/// The OS files every release of `platform` shares, and where a release records its agent and
/// its patch level.
fn platform_files(
    platform: &str,
) -> (&'static [(&'static str, usize)], &'static str, &'static str) {
    if is_windows(platform) {
        (
            &[
                ("C:\\Windows\\System32\\cmd.exe", 64),
                ("C:\\Windows\\System32\\notepad.exe", 48),
                ("C:\\Windows\\System32\\drivers\\etc\\hosts", 1),
                ("C:\\Windows\\explorer.exe", 96),
                ("C:\\Program Files\\Internet Explorer\\iexplore.exe", 32),
                ("C:\\Program Files\\Windows Defender\\MsMpEng.exe", 40),
            ],
            AGENT_FILE_WINDOWS,
            "C:\\Windows\\Photon\\patch-level.txt",
        )
    } else {
        (
            &[
                ("/usr/bin/bash", 64),
                ("/usr/bin/ls", 32),
                ("/usr/lib/os-release", 1),
                ("/etc/hosts", 1),
                ("/opt/appstream/bin/image-assistant", 48),
            ],
            AGENT_FILE_LINUX,
            "/etc/photon-patch-level",
        )
    }
}

/// The layer of the OS files every release of `platform` shares.
pub fn os_layer(blobs: &dyn BlobStore, platform: &str) -> Result<String, CoreError> {
    let mut os = Layer::new();
    for (path, kb) in platform_files(platform).0 {
        file(&mut os, blobs, path, synthetic(path, platform, kb * 1024))?;
    }
    put_layer(blobs, &os).map_err(blob_err)
}

/// The small layer of one release: its agent version and patch level.
pub fn release_layer(
    blobs: &dyn BlobStore,
    platform: &str,
    agent_version: &str,
    released: &str,
) -> Result<String, CoreError> {
    let (_, agent, patch) = platform_files(platform);
    let mut release = Layer::new();
    file(
        &mut release,
        blobs,
        agent,
        format!("{agent_version}\n").into_bytes(),
    )?;
    file(
        &mut release,
        blobs,
        patch,
        format!("{released}\n").into_bytes(),
    )?;
    put_layer(blobs, &release).map_err(blob_err)
}

/// Checks and normalises a path by the platform's rules: `C:\Dir\file.exe` on Windows (either
/// slash accepted, drive letter upper-cased), `/dir/file` on Linux; no `..`, no control
/// characters. `dir` allows a bare root (`C:\`, `/`) for listings.
pub fn normalize(platform: &str, raw: &str, dir: bool) -> Result<String, CoreError> {
    let bad =
        |why: &str| CoreError::Invalid(format!("path '{raw}' is not valid on {platform}: {why}"));
    if raw.chars().any(char::is_control) {
        return Err(bad("it contains control characters"));
    }
    let (root, rest, sep) = if is_windows(platform) {
        let bytes = raw.as_bytes();
        if bytes.len() < 2 || !bytes[0].is_ascii_alphabetic() || bytes[1] != b':' {
            return Err(bad(
                "use an absolute Windows path such as C:\\Program Files\\App\\app.exe",
            ));
        }
        let drive = raw[..1].to_ascii_uppercase();
        (format!("{drive}:\\"), raw[2..].replace('/', "\\"), '\\')
    } else {
        if !raw.starts_with('/') {
            return Err(bad("use an absolute path such as /opt/app/bin/app"));
        }
        ("/".to_owned(), raw.to_owned(), '/')
    };
    let mut parts = Vec::new();
    for p in rest.split(sep).filter(|p| !p.is_empty() && *p != ".") {
        if p == ".." {
            return Err(bad("'..' is not allowed"));
        }
        parts.push(p);
    }
    if parts.is_empty() && !dir {
        return Err(bad("name a file, not the root"));
    }
    Ok(format!("{root}{}", parts.join(&sep.to_string())))
}

/// How paths compare on a platform: Windows file systems ignore case (and keep it).
fn same_path(platform: &str, a: &str, b: &str) -> bool {
    if is_windows(platform) {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

fn under(platform: &str, path: &str, prefix: &str) -> bool {
    path.len() >= prefix.len()
        && path.is_char_boundary(prefix.len())
        && same_path(platform, &path[..prefix.len()], prefix)
}

/// The path as the view already spells it (Windows keeps the case a file was created with).
fn spelled(view: &Layer, platform: &str, path: &str) -> String {
    if view.contains_key(path) || !is_windows(platform) {
        return path.to_owned();
    }
    view.keys()
        .find(|k| same_path(platform, k, path))
        .cloned()
        .unwrap_or_else(|| path.to_owned())
}

/// One entry of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    pub name: String,
    pub path: String,
    pub is_dir: bool,
    pub size: u64,
    pub digest: Option<String>,
}

impl Service {
    fn layer(&self, region: &str, digest: &str) -> Result<Arc<Layer>, CoreError> {
        if let Some(l) = self.layers.lock().ok().and_then(|c| c.get(digest).cloned()) {
            return Ok(l);
        }
        let l = Arc::new(get_layer(self.blobs.region(region), digest).map_err(blob_err)?);
        if let Ok(mut c) = self.layers.lock() {
            c.insert(digest.to_owned(), l.clone());
        }
        Ok(l)
    }

    /// The bytes of a file of a view.
    pub(crate) fn file_bytes(
        &self,
        region: &str,
        view: &Layer,
        path: &str,
    ) -> Result<Vec<u8>, CoreError> {
        let Some(digest) = view.get(path).and_then(|e| e.digest.clone()) else {
            return Err(CoreError::NotFound(format!("no file '{path}'")));
        };
        self.blobs.region(region).get(&digest).map_err(blob_err)
    }

    /// The public catalogue's content layers, stored in a region's blob store (idempotent).
    /// The OS layer, the same for every release of a platform, is made once per blob store
    /// and platform for the life of the service: every start seeds every region's catalogue,
    /// and hashing the same synthetic OS files again for each image is what made that slow.
    pub(crate) fn base_layers(
        &self,
        region: &str,
        b: &BaseImage,
    ) -> Result<Vec<String>, CoreError> {
        let blobs = self.blobs.region(region);
        // The store's address names it: the service holds every store for its whole life.
        let store_id = std::ptr::from_ref(blobs).cast::<()>() as usize;
        let memo = (store_id, b.platform);
        let known = self
            .os_layers
            .lock()
            .ok()
            .and_then(|m| m.get(&memo).cloned());
        let os = match known {
            Some(d) => d,
            None => {
                let d = os_layer(blobs, b.platform)?;
                if let Ok(mut m) = self.os_layers.lock() {
                    m.insert(memo, d.clone());
                }
                d
            }
        };
        Ok(vec![
            os,
            release_layer(blobs, b.platform, b.agent_version, b.released)?,
        ])
    }

    pub(crate) async fn running_builder(
        &self,
        cx: &Caller,
        name: &str,
    ) -> Result<BuilderRecord, CoreError> {
        let Some(b) = self
            .store
            .image_builder(Key::new(&cx.region, &cx.account_id, name))
            .await?
        else {
            return Err(CoreError::NotFound(format!(
                "image builder '{name}' does not exist in {}; list yours with DescribeImageBuilders",
                cx.region
            )));
        };
        if b.state != ImageBuilderState::Running {
            return Err(CoreError::NotPermitted(format!(
                "image builder '{name}' is {}; start it and wait for RUNNING to work with its files",
                b.state
            )));
        }
        Ok(b)
    }

    /// Everything visible in a builder's file system.
    pub(crate) async fn builder_view(&self, b: &BuilderRecord) -> Result<Layer, CoreError> {
        let mut layers: Vec<Layer> = Vec::new();
        for d in &b.attrs.base_layers {
            layers.push((*self.layer(&b.region, d)?).clone());
        }
        let own: Layer = self
            .store
            .builder_files(b.key())
            .await?
            .into_iter()
            .map(|f: BuilderFile| {
                let size = u64::try_from(f.size).unwrap_or(0);
                (
                    f.path,
                    Entry {
                        digest: f.digest,
                        size,
                    },
                )
            })
            .collect();
        layers.push(own);
        Ok(flatten(&layers))
    }

    async fn write_entry(
        &self,
        b: &BuilderRecord,
        path: String,
        entry: Entry,
    ) -> Result<(), CoreError> {
        let file = BuilderFile {
            path,
            digest: entry.digest,
            size: i64::try_from(entry.size).unwrap_or(i64::MAX),
        };
        let key = b.key();
        let (mut tx, _) = self.lock_running(key).await?.map_err(|found| {
            CoreError::NotPermitted(format!(
                "image builder '{}' is {}; its files change only while it is RUNNING",
                b.name,
                found.state()
            ))
        })?;
        tx.put_builder_file(key, &file, self.now()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A write transaction holding the lock of builder `key`, with the builder as it is under
    /// that lock, if it is still RUNNING (what a change to its files or settings needs); else
    /// what was found instead.
    pub(crate) async fn lock_running(
        &self,
        key: Key<'_>,
    ) -> Result<Result<(Box<dyn WriteTx>, BuilderRecord), NotRunning>, CoreError> {
        let mut tx = self.store.write().await?;
        tx.lock(LockKey::ImageBuilder(crate::builder::builder_arn(
            key.region, key.owner, key.name,
        )))
        .await?;
        Ok(match tx.image_builder(key).await? {
            None => Err(NotRunning::Gone),
            Some(b) if b.state != ImageBuilderState::Running => Err(NotRunning::In(b.state)),
            Some(b) => Ok((tx, b)),
        })
    }

    /// Writes a file into a running builder; returns its normalised path and digest.
    pub async fn put_builder_file(
        &self,
        cx: &Caller,
        name: &str,
        path: &str,
        bytes: &[u8],
    ) -> Result<(String, String), CoreError> {
        let b = self.running_builder(cx, name).await?;
        let path = normalize(&b.platform, path, false)?;
        let path = spelled(&self.builder_view(&b).await?, &b.platform, &path);
        let digest = self.blobs.region(&b.region).put(bytes).map_err(blob_err)?;
        let entry = Entry {
            digest: Some(digest.clone()),
            size: bytes.len() as u64,
        };
        self.write_entry(&b, path.clone(), entry).await?;
        Ok((path, digest))
    }

    pub async fn read_builder_file(
        &self,
        cx: &Caller,
        name: &str,
        path: &str,
    ) -> Result<Vec<u8>, CoreError> {
        let b = self.running_builder(cx, name).await?;
        let path = normalize(&b.platform, path, false)?;
        let view = self.builder_view(&b).await?;
        let path = spelled(&view, &b.platform, &path);
        let Some(digest) = view.get(&path).and_then(|e| e.digest.clone()) else {
            return Err(CoreError::NotFound(format!(
                "no file '{path}' on image builder '{name}'"
            )));
        };
        self.blobs.region(&b.region).get(&digest).map_err(blob_err)
    }

    /// Deletes a file, or every file below a directory.
    pub async fn remove_builder_path(
        &self,
        cx: &Caller,
        name: &str,
        path: &str,
    ) -> Result<u64, CoreError> {
        let b = self.running_builder(cx, name).await?;
        let path = normalize(&b.platform, path, false)?;
        let sep = if is_windows(&b.platform) { '\\' } else { '/' };
        let prefix = format!("{path}{sep}");
        let view = self.builder_view(&b).await?;
        let doomed: Vec<String> = view
            .keys()
            .filter(|p| same_path(&b.platform, p, &path) || under(&b.platform, p, &prefix))
            .cloned()
            .collect();
        if doomed.is_empty() {
            return Err(CoreError::NotFound(format!(
                "no file '{path}' on image builder '{name}'"
            )));
        }
        for p in &doomed {
            self.write_entry(
                &b,
                p.clone(),
                Entry {
                    digest: None,
                    size: 0,
                },
            )
            .await?;
        }
        Ok(doomed.len() as u64)
    }

    /// Every file and every folder of a running builder's file system, each list in
    /// case-insensitive order and cut at its bound (so a huge tree still renders): what the
    /// Image Assistant page offers to pick from. One view of the layers, however deep the tree.
    pub async fn builder_tree(
        &self,
        cx: &Caller,
        name: &str,
        max_dirs: usize,
        max_files: usize,
    ) -> Result<(Vec<String>, Vec<String>), CoreError> {
        let b = self.running_builder(cx, name).await?;
        let sep = if is_windows(&b.platform) { '\\' } else { '/' };
        let root = if is_windows(&b.platform) { 3 } else { 1 };
        let view = self.builder_view(&b).await?;
        let mut dirs = BTreeSet::new();
        let mut files = Vec::with_capacity(view.len());
        for p in view.keys() {
            for (i, _) in p.match_indices(sep).filter(|(i, _)| *i >= root) {
                dirs.insert(p[..i].to_owned());
            }
            files.push(p.clone());
        }
        let mut dirs: Vec<String> = dirs.into_iter().collect();
        files.sort_by_key(|p| p.to_ascii_lowercase());
        dirs.sort_by_key(|p| p.to_ascii_lowercase());
        files.truncate(max_files);
        dirs.truncate(max_dirs);
        Ok((files, dirs))
    }

    /// The immediate children of a directory (or the file itself, if `path` names a file).
    pub async fn list_builder_path(
        &self,
        cx: &Caller,
        name: &str,
        path: &str,
    ) -> Result<Vec<DirEntry>, CoreError> {
        let b = self.running_builder(cx, name).await?;
        let path = normalize(&b.platform, path, true)?;
        let sep = if is_windows(&b.platform) { '\\' } else { '/' };
        let view = self.builder_view(&b).await?;
        let path = spelled(&view, &b.platform, &path);
        if let Some(e) = view.get(&path) {
            let name = path.rsplit(sep).next().unwrap_or(&path).to_owned();
            return Ok(vec![DirEntry {
                name,
                path: path.clone(),
                is_dir: false,
                size: e.size,
                digest: e.digest.clone(),
            }]);
        }
        let prefix = if path.ends_with(sep) {
            path.clone()
        } else {
            format!("{path}{sep}")
        };
        let mut out = Vec::new();
        let mut dirs = BTreeSet::new();
        for (p, e) in &view {
            if !under(&b.platform, p, &prefix) {
                continue;
            }
            let rest = &p[prefix.len()..];
            match rest.split_once(sep) {
                Some((dir, _)) => {
                    dirs.insert(dir.to_owned());
                }
                None => out.push(DirEntry {
                    name: rest.to_owned(),
                    path: p.clone(),
                    is_dir: false,
                    size: e.size,
                    digest: e.digest.clone(),
                }),
            }
        }
        if out.is_empty() && dirs.is_empty() {
            return Err(CoreError::NotFound(format!(
                "no file or directory '{path}' on image builder '{name}'"
            )));
        }
        out.extend(dirs.into_iter().map(|d| DirEntry {
            path: format!("{prefix}{d}"),
            name: d,
            is_dir: true,
            size: 0,
            digest: None,
        }));
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}

impl Service {
    /// A builder's OS settings, changed first where asked (only while it runs). Windows only.
    pub async fn builder_os_settings(
        &self,
        cx: &Caller,
        name: &str,
        windows_update: Option<bool>,
        defender: Option<bool>,
    ) -> Result<OsSettings, CoreError> {
        let Some(b) = self
            .store
            .image_builder(Key::new(&cx.region, &cx.account_id, name))
            .await?
        else {
            return Err(CoreError::NotFound(format!(
                "image builder '{name}' does not exist in {}; list yours with DescribeImageBuilders",
                cx.region
            )));
        };
        let Some(current) = b.attrs.os_settings else {
            return Err(CoreError::NotPermitted(format!(
                "image builder '{name}' runs {}; Windows Update and Windows Defender settings exist \
                 only on Windows builders",
                b.platform
            )));
        };
        if windows_update.is_none() && defender.is_none() {
            return Ok(current);
        }
        if defender.is_some() && current.defender.is_none() {
            return Err(CoreError::NotPermitted(format!(
                "image builder '{name}' has no antivirus: Windows Server 2012 R2 base images ship \
                 without Windows Defender"
            )));
        }
        let (mut tx, mut b) = self.lock_running(b.key()).await?.map_err(|found| {
            CoreError::NotPermitted(format!(
                "image builder '{name}' is {}; connect to a RUNNING builder to change its settings",
                found.state()
            ))
        })?;
        // Applied to the settings as they are under the lock: two changes of different
        // settings never undo each other.
        let mut settings = b.attrs.os_settings.unwrap_or(current);
        if let Some(w) = windows_update {
            settings.windows_update = w;
        }
        if let Some(d) = defender {
            settings.defender = Some(d);
        }
        b.attrs.os_settings = Some(settings);
        tx.put_image_builder(&b).await?;
        tx.commit().await?;
        Ok(settings)
    }
}

/// Why a change that needs a RUNNING builder found none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotRunning {
    Gone,
    In(ImageBuilderState),
}

impl NotRunning {
    /// The builder's state as the refusals name it, or `gone`.
    pub(crate) fn state(self) -> std::borrow::Cow<'static, str> {
        match self {
            NotRunning::In(s) => s.as_str().into(),
            NotRunning::Gone => "gone".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_images_follow_the_seeds_defender_rules() {
        let settings = |name: &str| {
            crate::catalog::find_base_image(name)
                .and_then(base_os_settings)
                .map(|s| (s.windows_update, s.defender))
        };
        assert_eq!(
            settings("AppStream-WinServer2019-06-24-2019"),
            Some((false, Some(true)))
        );
        assert_eq!(
            settings("AppStream-WinServer2012R2-12-12-2019"),
            Some((false, None))
        );
        assert_eq!(
            settings("AppStream-WinServer2022-11-10-2025"),
            Some((false, Some(false)))
        );
        assert!(crate::catalog::find_base_image("AppStream-AmazonLinux2-02-11-2025").is_some());
        assert_eq!(settings("AppStream-AmazonLinux2-02-11-2025"), None);
    }

    #[test]
    fn paths_follow_the_platform() {
        let w = "WINDOWS_SERVER_2022";
        assert_eq!(
            normalize(w, "c:/Program Files//App/app.exe", false).unwrap(),
            "C:\\Program Files\\App\\app.exe"
        );
        assert_eq!(normalize(w, "C:\\", true).unwrap(), "C:\\");
        assert!(normalize(w, "C:\\", false).is_err());
        assert!(normalize(w, "\\relative", false).is_err());
        assert!(normalize(w, "C:\\a\\..\\b", false).is_err());
        let l = "AMAZON_LINUX2";
        assert_eq!(
            normalize(l, "/opt//app/./bin", false).unwrap(),
            "/opt/app/bin"
        );
        assert_eq!(normalize(l, "/", true).unwrap(), "/");
        assert!(normalize(l, "opt/app", false).is_err());
        assert!(normalize(l, "/a\nb", false).is_err());
    }
}
