//! Content-addressed blobs: image and builder content is stored by the SHA-256 digest of its
//! bytes, so identical content is stored once however many images or builders hold it.
//!
//! [`BlobStore`] is the port (an S3-compatible backend can follow); [`FsBlobStore`] keeps blobs
//! as files under a directory. This crate also owns the layer manifest format: a layer is a
//! sorted list of (path, digest, size) entries, itself stored as a blob, and an image is an
//! ordered list of layer digests, lowest first.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("no blob {0}")]
    Missing(String),
    #[error("blob {0} is corrupt: its content does not match its digest")]
    Corrupt(String),
    #[error("blob store i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("malformed layer manifest {0}")]
    Manifest(String),
}

pub type BlobResult<T> = Result<T, BlobError>;

/// The hex SHA-256 of some bytes.
pub fn digest_of(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in d {
        use std::fmt::Write as _;
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn valid_digest(d: &str) -> bool {
    d.len() == 64
        && d.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

pub trait BlobStore: Send + Sync + 'static {
    /// Stores bytes and returns their digest; storing the same bytes again stores nothing new.
    fn put(&self, bytes: &[u8]) -> BlobResult<String>;
    /// The bytes of a blob, checked against its digest.
    fn get(&self, digest: &str) -> BlobResult<Vec<u8>>;
    fn has(&self, digest: &str) -> BlobResult<bool>;
    /// Whether the store answers and takes writes now (`GET /ready`).
    fn check(&self) -> BlobResult<()>;
}

/// Blobs as files: `ROOT/sha256/ab/abcdef…`.
pub struct FsBlobStore {
    root: PathBuf,
}

impl FsBlobStore {
    pub fn open(root: &Path) -> BlobResult<FsBlobStore> {
        std::fs::create_dir_all(root.join("sha256"))?;
        Ok(FsBlobStore {
            root: root.to_path_buf(),
        })
    }

    fn path(&self, digest: &str) -> PathBuf {
        self.root.join("sha256").join(&digest[..2]).join(digest)
    }

    /// How many blobs are stored and their total size (for operators and tests).
    pub fn usage(&self) -> BlobResult<(u64, u64)> {
        let (mut n, mut bytes) = (0, 0);
        for dir in std::fs::read_dir(self.root.join("sha256"))? {
            let dir = dir?;
            if !dir.file_type()?.is_dir() {
                continue;
            }
            for f in std::fs::read_dir(dir.path())? {
                let f = f?;
                if f.file_type()?.is_file() && valid_digest(&f.file_name().to_string_lossy()) {
                    n += 1;
                    bytes += f.metadata()?.len();
                }
            }
        }
        Ok((n, bytes))
    }
}

impl BlobStore for FsBlobStore {
    fn check(&self) -> BlobResult<()> {
        // A probe of its own per call: concurrent checks never remove each other's file.
        static PROBES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = PROBES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let probe = self.root.join(format!(".ready-{}-{n}", std::process::id()));
        std::fs::write(&probe, b"")?;
        std::fs::remove_file(&probe)?;
        Ok(())
    }

    fn put(&self, bytes: &[u8]) -> BlobResult<String> {
        let digest = digest_of(bytes);
        let path = self.path(&digest);
        if path.exists() {
            return Ok(digest);
        }
        let dir = path
            .parent()
            .ok_or_else(|| BlobError::Missing(digest.clone()))?;
        std::fs::create_dir_all(dir)?;
        // Write aside under a name no other writer uses, sync, rename, then sync the folder:
        // a crash never leaves a partial blob under its name, and a committed row never points
        // at a blob that a power loss took back.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = dir.join(format!(".{digest}.{}.{n}.tmp", std::process::id()));
        {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
        }
        if let Err(e) = std::fs::rename(&tmp, &path) {
            let _ = std::fs::remove_file(&tmp);
            // Another writer stored the same bytes first: that is the same blob.
            if !path.exists() {
                return Err(e.into());
            }
        }
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(digest)
    }

    fn get(&self, digest: &str) -> BlobResult<Vec<u8>> {
        if !valid_digest(digest) {
            return Err(BlobError::Missing(digest.to_owned()));
        }
        let bytes = match std::fs::read(self.path(digest)) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(BlobError::Missing(digest.to_owned()))
            }
            Err(e) => return Err(e.into()),
        };
        if digest_of(&bytes) != digest {
            return Err(BlobError::Corrupt(digest.to_owned()));
        }
        Ok(bytes)
    }

    fn has(&self, digest: &str) -> BlobResult<bool> {
        Ok(valid_digest(digest) && self.path(digest).exists())
    }
}

/// One file of a layer: its digest and size, or `None` for a deletion (a whiteout) that hides
/// the path in the layers below.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub digest: Option<String>,
    pub size: u64,
}

/// A layer: paths to entries. Serialised as sorted lines `path\tdigest-or-\t size`.
pub type Layer = BTreeMap<String, Entry>;

pub fn encode_layer(layer: &Layer) -> Vec<u8> {
    let mut out = String::from("photon-layer v1\n");
    for (path, e) in layer {
        out.push_str(path);
        out.push('\t');
        out.push_str(e.digest.as_deref().unwrap_or("-"));
        out.push('\t');
        out.push_str(&e.size.to_string());
        out.push('\n');
    }
    out.into_bytes()
}

pub fn decode_layer(digest: &str, bytes: &[u8]) -> BlobResult<Layer> {
    let bad = || BlobError::Manifest(digest.to_owned());
    let text = std::str::from_utf8(bytes).map_err(|_| bad())?;
    let mut lines = text.lines();
    if lines.next() != Some("photon-layer v1") {
        return Err(bad());
    }
    let mut layer = Layer::new();
    for line in lines {
        let mut parts = line.rsplitn(3, '\t');
        let (size, d, path) = (parts.next(), parts.next(), parts.next());
        let (Some(size), Some(d), Some(path)) = (size, d, path) else {
            return Err(bad());
        };
        let digest = if d == "-" { None } else { Some(d.to_owned()) };
        layer.insert(
            path.to_owned(),
            Entry {
                digest,
                size: size.parse().map_err(|_| bad())?,
            },
        );
    }
    Ok(layer)
}

/// Stores a layer's manifest; returns its digest.
pub fn put_layer(store: &dyn BlobStore, layer: &Layer) -> BlobResult<String> {
    store.put(&encode_layer(layer))
}

pub fn get_layer(store: &dyn BlobStore, digest: &str) -> BlobResult<Layer> {
    decode_layer(digest, &store.get(digest)?)
}

/// The files visible through a stack of layers (lowest first): an upper entry hides a lower
/// one, and a whiteout removes the path.
pub fn flatten(layers: &[Layer]) -> Layer {
    let mut out = Layer::new();
    for layer in layers {
        for (path, e) in layer {
            if e.digest.is_some() {
                out.insert(path.clone(), e.clone());
            } else {
                out.remove(path);
            }
        }
    }
    out
}

/// The blob store of each region. Regions may share one store (the embedded default) or each
/// have their own; code that moves content between regions never assumes which.
#[derive(Clone)]
pub struct RegionalBlobs {
    shared: Arc<dyn BlobStore>,
    by_region: Arc<HashMap<String, Arc<dyn BlobStore>>>,
}

impl RegionalBlobs {
    /// One store for every region.
    pub fn shared(store: Arc<dyn BlobStore>) -> RegionalBlobs {
        RegionalBlobs {
            shared: store,
            by_region: Arc::default(),
        }
    }

    /// A store per region; regions not listed use `fallback`.
    pub fn per_region(
        fallback: Arc<dyn BlobStore>,
        stores: HashMap<String, Arc<dyn BlobStore>>,
    ) -> RegionalBlobs {
        RegionalBlobs {
            shared: fallback,
            by_region: Arc::new(stores),
        }
    }

    /// Every distinct store, for checks that cover them all.
    pub fn stores(&self) -> Vec<&dyn BlobStore> {
        let mut all: Vec<&dyn BlobStore> = vec![self.shared.as_ref()];
        all.extend(self.by_region.values().map(|s| s.as_ref()));
        all
    }

    pub fn region(&self, region: &str) -> &dyn BlobStore {
        self.by_region
            .get(region)
            .map_or(self.shared.as_ref(), |s| s.as_ref())
    }
}

/// What a replication moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Replicated {
    /// Blobs written to the destination.
    pub copied: u64,
    pub bytes: u64,
    /// Blobs the destination already held (same digest), so not copied again.
    pub present: u64,
}

/// Copies the content of `layers` (manifest digests) from `src` to `dst`, skipping every blob
/// `dst` already holds. File blobs go before their manifest, so a manifest present in a store
/// means its files are too, which is what lets a present manifest be skipped whole.
pub fn replicate_layers(
    src: &dyn BlobStore,
    dst: &dyn BlobStore,
    layers: &[String],
) -> BlobResult<Replicated> {
    let mut out = Replicated::default();
    let copy = |digest: &str, out: &mut Replicated| -> BlobResult<()> {
        if dst.has(digest)? {
            out.present += 1;
            return Ok(());
        }
        let bytes = src.get(digest)?;
        if dst.put(&bytes)? != digest {
            return Err(BlobError::Corrupt(digest.to_owned()));
        }
        out.copied += 1;
        out.bytes += bytes.len() as u64;
        Ok(())
    };
    for layer in layers {
        if dst.has(layer)? {
            out.present += 1;
            continue;
        }
        let manifest = get_layer(src, layer)?;
        let files: std::collections::BTreeSet<&str> = manifest
            .values()
            .filter_map(|e| e.digest.as_deref())
            .collect();
        for d in files {
            copy(d, &mut out)?;
        }
        copy(layer, &mut out)?;
    }
    Ok(out)
}

/// Reads back every blob of `layers` from `store`, checking each against its digest: the proof
/// that a copy arrived whole. Returns how many blobs were checked.
pub fn verify_layers(store: &dyn BlobStore, layers: &[String]) -> BlobResult<u64> {
    let mut seen = std::collections::BTreeSet::new();
    for layer in layers {
        if !seen.insert(layer.clone()) {
            continue;
        }
        for e in get_layer(store, layer)?.into_values() {
            if let Some(d) = e.digest {
                if seen.insert(d.clone()) {
                    store.get(&d)?;
                }
            }
        }
    }
    Ok(seen.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_content_is_stored_once_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let s = FsBlobStore::open(dir.path()).unwrap();
        let a = s.put(b"hello").unwrap();
        let b = s.put(b"hello").unwrap();
        assert_eq!(a, b);
        assert_eq!(s.usage().unwrap(), (1, 5));
        assert_eq!(s.get(&a).unwrap(), b"hello");
        assert!(matches!(s.get(&"0".repeat(64)), Err(BlobError::Missing(_))));
        assert!(matches!(
            s.get("../../etc/passwd"),
            Err(BlobError::Missing(_))
        ));
        // Corruption on disk is detected, not served.
        std::fs::write(s.path(&a), b"tampered").unwrap();
        assert!(matches!(s.get(&a), Err(BlobError::Corrupt(_))));
    }

    #[test]
    fn replication_copies_only_what_the_destination_lacks_and_verifies() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (src, dst) = (
            FsBlobStore::open(a.path()).unwrap(),
            FsBlobStore::open(b.path()).unwrap(),
        );
        let file = |s: &FsBlobStore, bytes: &[u8]| Entry {
            digest: Some(s.put(bytes).unwrap()),
            size: bytes.len() as u64,
        };
        let mut l1 = Layer::new();
        l1.insert("/a".into(), file(&src, b"one"));
        l1.insert("/b".into(), file(&src, b"two"));
        let mut l2 = Layer::new();
        l2.insert("/c".into(), file(&src, b"two"));
        l2.insert(
            "/gone".into(),
            Entry {
                digest: None,
                size: 0,
            },
        );
        let layers = vec![put_layer(&src, &l1).unwrap(), put_layer(&src, &l2).unwrap()];
        // The destination already holds one file.
        dst.put(b"one").unwrap();
        let r = replicate_layers(&src, &dst, &layers).unwrap();
        assert_eq!((r.copied, r.present), (3, 2), "{r:?}");
        assert_eq!(verify_layers(&dst, &layers).unwrap(), 4);
        // Everything is there now: a second copy moves nothing.
        let again = replicate_layers(&src, &dst, &layers).unwrap();
        assert_eq!((again.copied, again.present), (0, 2));
        // A damaged blob at the destination fails verification.
        let two = digest_of(b"two");
        std::fs::write(dst.path(&two), b"twx").unwrap();
        assert!(matches!(
            verify_layers(&dst, &layers),
            Err(BlobError::Corrupt(_))
        ));
        // A blob missing at the source fails the copy, naming it.
        let c = tempfile::tempdir().unwrap();
        let empty = FsBlobStore::open(c.path()).unwrap();
        std::fs::remove_file(src.path(&digest_of(b"one"))).unwrap();
        assert!(matches!(
            replicate_layers(&src, &empty, &layers),
            Err(BlobError::Missing(_))
        ));
    }

    #[test]
    fn layers_round_trip_and_stack() {
        let dir = tempfile::tempdir().unwrap();
        let s = FsBlobStore::open(dir.path()).unwrap();
        let f = |d: &str| Entry {
            digest: Some(d.into()),
            size: 1,
        };
        let mut base = Layer::new();
        base.insert("C:\\Windows\\a.exe".into(), f("1"));
        base.insert("C:\\Windows\\b\tweird.exe".into(), f("2"));
        let mut top = Layer::new();
        top.insert(
            "C:\\Windows\\a.exe".into(),
            Entry {
                digest: None,
                size: 0,
            },
        );
        top.insert("C:\\App\\c.exe".into(), f("3"));
        let d = put_layer(&s, &base).unwrap();
        assert_eq!(get_layer(&s, &d).unwrap(), base);
        let all = flatten(&[base, top]);
        assert_eq!(
            all.keys().collect::<Vec<_>>(),
            ["C:\\App\\c.exe", "C:\\Windows\\b\tweird.exe"]
        );
    }
}
