//! Reading container images: an OCI archive (a tar of an OCI image layout), a docker archive
//! (`docker save`), or an OCI image layout folder. Blobs are checked against their digests, names
//! inside archives must stay inside them, and sizes are bounded, before anything is used.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest, MediaType};
use serde::Deserialize;

use super::tarball::{self, Hashing};
use super::{OciError, io_err};
use crate::container::install::UnpackLimits;

/// The largest JSON document read (index, manifest, config).
const MAX_JSON: u64 = 16 << 20;
/// Nested indexes followed at most.
const MAX_INDEX_DEPTH: usize = 3;
/// The annotation that names an image in a layout (its tag).
const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Where a container image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    OciArchive(PathBuf),
    DockerArchive(PathBuf),
    /// A layout folder and, optionally, the reference (tag) of one image in it.
    OciDir(PathBuf, Option<String>),
}

impl Source {
    /// `oci-archive:FILE`, `docker-archive:FILE` or `oci:DIR`, as skopeo spells them.
    pub fn parse(text: &str) -> Result<Self, OciError> {
        let (kind, path) = text.split_once(':').unwrap_or(("", text));
        let path = PathBuf::from(path);
        match kind {
            _ if path.as_os_str().is_empty() => Err(usage(text)),
            "oci-archive" => Ok(Self::OciArchive(path)),
            "docker-archive" => Ok(Self::DockerArchive(path)),
            "oci" => Ok(match text["oci:".len()..].rsplit_once(':') {
                Some((dir, reference)) if !dir.is_empty() && !reference.contains('/') => {
                    Self::OciDir(PathBuf::from(dir), Some(reference.to_owned()))
                }
                _ => Self::OciDir(path, None),
            }),
            _ => Err(usage(text)),
        }
    }

    /// A base archive given by file: docker archives hold `manifest.json`, OCI ones `index.json`.
    pub fn archive_file(path: &Path) -> Result<Self, OciError> {
        let file = File::open(path).map_err(io_err(path))?;
        let mut tar = tar::Archive::new(file);
        for entry in tar.entries().map_err(io_err(path))? {
            let entry = entry.map_err(io_err(path))?;
            let name = entry.path().map_err(io_err(path))?.to_string_lossy().into_owned();
            match name.trim_start_matches("./") {
                "manifest.json" => return Ok(Self::DockerArchive(path.to_owned())),
                "index.json" | "oci-layout" => return Ok(Self::OciArchive(path.to_owned())),
                _ => {}
            }
        }
        Err(OciError::Invalid {
            origin: path.display().to_string(),
            detail: "is neither an OCI archive (index.json) nor a docker archive (manifest.json)".into(),
        })
    }

    pub fn describe(&self) -> String {
        match self {
            Self::OciArchive(p) => format!("oci-archive:{}", p.display()),
            Self::DockerArchive(p) => format!("docker-archive:{}", p.display()),
            Self::OciDir(p, None) => format!("oci:{}", p.display()),
            Self::OciDir(p, Some(r)) => format!("oci:{}:{r}", p.display()),
        }
    }
}

fn usage(text: &str) -> OciError {
    OciError::Usage(format!(
        "`{text}` names no image: give oci-archive:FILE, docker-archive:FILE or oci:DIR"
    ))
}

/// One layer of an image, as a file on disk.
#[derive(Debug, Clone)]
pub struct Layer {
    pub path: PathBuf,
    /// `sha256:...` of the file as it is (compressed or not).
    pub digest: String,
    pub size: u64,
    pub gzip: bool,
}

/// A container image read from a source: its config and layers, bottom first.
#[derive(Debug)]
pub struct SourceImage {
    pub origin: String,
    pub config: ImageConfiguration,
    pub layers: Vec<Layer>,
    /// Holds the files taken out of an archive.
    _unpacked: Option<tempfile::TempDir>,
}

/// Reads `source`, using a temp folder in `temp_in` for what an archive holds.
pub fn read(source: &Source, temp_in: &Path, limits: &UnpackLimits) -> Result<SourceImage, OciError> {
    let origin = source.describe();
    match source {
        Source::OciDir(dir, reference) => {
            if !dir.join("index.json").is_file() {
                return Err(OciError::Invalid {
                    origin,
                    detail: "has no index.json; give the folder of an OCI image layout".into(),
                });
            }
            let files = Files::Dir(dir.clone());
            let (config, layers) = read_oci(&files, &origin, reference.as_deref())?;
            Ok(SourceImage {
                origin,
                config,
                layers,
                _unpacked: None,
            })
        }
        Source::OciArchive(path) | Source::DockerArchive(path) => {
            let temp = tempfile::Builder::new()
                .prefix(".jube-image-")
                .tempdir_in(temp_in)
                .map_err(io_err(temp_in))?;
            let files = Files::Map(take_files(path, temp.path(), limits, &origin)?);
            let (config, layers) = if matches!(source, Source::OciArchive(_)) {
                read_oci(&files, &origin, None)?
            } else {
                read_docker(&files, &origin)?
            };
            Ok(SourceImage {
                origin,
                config,
                layers,
                _unpacked: Some(temp),
            })
        }
    }
}

/// The files of an image: in an OCI layout folder, or taken out of an archive.
enum Files {
    Dir(PathBuf),
    Map(BTreeMap<String, PathBuf>),
}

impl Files {
    fn get(&self, name: &str, origin: &str) -> Result<PathBuf, OciError> {
        let missing = || OciError::Invalid {
            origin: origin.to_owned(),
            detail: format!("`{name}` is missing"),
        };
        let rel = clean_name(name).map_err(|reason| OciError::Unsafe {
            archive: origin.to_owned(),
            entry: name.to_owned(),
            reason,
        })?;
        match self {
            Self::Map(map) => map.get(&rel).cloned().ok_or_else(missing),
            Self::Dir(dir) => {
                let path = dir.join(&rel);
                // A link in the layout could point anywhere on the host.
                let meta = std::fs::symlink_metadata(&path).map_err(|_| missing())?;
                if !meta.is_file() {
                    return Err(OciError::Unsafe {
                        archive: origin.to_owned(),
                        entry: name.to_owned(),
                        reason: "is not a regular file".into(),
                    });
                }
                Ok(path)
            }
        }
    }
}

/// A name inside an archive as a clean relative path, or why it would leave the archive.
fn clean_name(name: &str) -> Result<String, String> {
    if name.contains('\0') || name.contains('\\') {
        return Err("contains a NUL byte or a backslash".into());
    }
    let mut parts = Vec::new();
    for c in Path::new(name).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => return Err("climbs out with `..`".into()),
            Component::RootDir | Component::Prefix(_) => return Err("is an absolute path".into()),
        }
    }
    Ok(parts.join("/"))
}

/// Takes every regular file out of archive `path` into `dest` (as numbered files), bounded by
/// `limits`. Links between files of the archive (docker saves repeated layers so) are followed
/// when they stay inside it.
fn take_files(
    path: &Path,
    dest: &Path,
    limits: &UnpackLimits,
    origin: &str,
) -> Result<BTreeMap<String, PathBuf>, OciError> {
    let file = File::open(path).map_err(io_err(path))?;
    let mut tar = tar::Archive::new(io::BufReader::new(file));
    let mut files = BTreeMap::new();
    let mut links = Vec::new();
    let mut total: u64 = 0;
    let unsafe_entry = |entry: &str, reason: String| OciError::Unsafe {
        archive: origin.to_owned(),
        entry: entry.to_owned(),
        reason,
    };
    let corrupt = |e: io::Error| OciError::Invalid {
        origin: origin.to_owned(),
        detail: format!("is damaged or not a tar: {e}"),
    };
    for (count, entry) in tar.entries().map_err(corrupt)?.enumerate() {
        if count >= limits.max_entries {
            return Err(OciError::Invalid {
                origin: origin.to_owned(),
                detail: format!(
                    "holds more than {} entries; refusing to read it",
                    limits.max_entries
                ),
            });
        }
        let mut entry = entry.map_err(corrupt)?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let name = clean_name(&raw).map_err(|reason| unsafe_entry(&raw, reason))?;
        match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                total = total.saturating_add(entry.size());
                if total > limits.max_total_bytes {
                    return Err(too_large(origin, limits));
                }
                let out = dest.join(format!("f{count}"));
                let mut f = File::create(&out).map_err(io_err(&out))?;
                let size = entry.size();
                io::copy(&mut (&mut entry).take(size), &mut f).map_err(corrupt)?;
                files.insert(name, out);
            }
            tar::EntryType::Symlink | tar::EntryType::Link => {
                let target = entry
                    .link_name()
                    .map_err(corrupt)?
                    .map(|t| t.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let resolved = if entry.header().entry_type() == tar::EntryType::Link {
                    clean_name(&target)
                } else {
                    let parent = Path::new(&name)
                        .parent()
                        .map(|p| p.to_string_lossy().into_owned());
                    crate::image::link::target_inside(&target, name.matches('/').count())
                        .map(|t| resolve_relative(parent.as_deref().unwrap_or(""), &t.to_string_lossy()))
                };
                let resolved = resolved
                    .map_err(|reason| unsafe_entry(&raw, format!("links to `{target}`, which {reason}")))?;
                links.push((name, resolved));
            }
            _ => {}
        }
    }
    for (name, target) in links {
        if let Some(file) = files.get(&target).cloned() {
            files.insert(name, file);
        }
    }
    Ok(files)
}

/// `parent/target` with leading `..` of `target` taken off `parent`.
fn resolve_relative(parent: &str, target: &str) -> String {
    let mut parts: Vec<&str> = parent.split('/').filter(|p| !p.is_empty()).collect();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

fn too_large(origin: &str, limits: &UnpackLimits) -> OciError {
    OciError::Invalid {
        origin: origin.to_owned(),
        detail: format!(
            "holds more than {} bytes; refusing to read it (raise JUBE_UNPACK_MAX_BYTES for an image you trust)",
            limits.max_total_bytes
        ),
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path, what: &str, origin: &str) -> Result<T, OciError> {
    let f = File::open(path).map_err(io_err(path))?;
    let mut bytes = Vec::new();
    f.take(MAX_JSON + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err(path))?;
    if bytes.len() as u64 > MAX_JSON {
        return Err(OciError::Invalid {
            origin: origin.to_owned(),
            detail: format!("its {what} is larger than {MAX_JSON} bytes"),
        });
    }
    serde_json::from_slice(&bytes).map_err(|e| OciError::Invalid {
        origin: origin.to_owned(),
        detail: format!("its {what} is not valid: {e}"),
    })
}

/// The blob a descriptor names, checked against its digest and size.
fn blob(files: &Files, d: &Descriptor, origin: &str) -> Result<(PathBuf, String), OciError> {
    let digest = d.digest().to_string();
    let Some(hex) = digest.strip_prefix("sha256:").filter(|h| is_sha256_hex(h)) else {
        return Err(OciError::Invalid {
            origin: origin.to_owned(),
            detail: format!("blob `{digest}` is not a sha256 digest, the only kind jube reads"),
        });
    };
    let path = files.get(&format!("blobs/sha256/{hex}"), origin)?;
    check_blob(&path, &digest, Some(d.size()), origin)?;
    Ok((path, digest))
}

fn is_sha256_hex(hex: &str) -> bool {
    hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

fn check_blob(path: &Path, digest: &str, size: Option<u64>, origin: &str) -> Result<(), OciError> {
    let found = tarball::hash_file(path).map_err(io_err(path))?;
    if found.digest != digest || size.is_some_and(|s| s != found.size) {
        return Err(OciError::Invalid {
            origin: origin.to_owned(),
            detail: format!(
                "blob {digest} does not match its content ({}, {} bytes); the image is damaged",
                found.digest, found.size
            ),
        });
    }
    Ok(())
}

fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// The manifest to use among an index's: this host's platform, else the only or first one.
fn pick_manifest(
    files: &Files,
    index: &ImageIndex,
    origin: &str,
    depth: usize,
) -> Result<ImageManifest, OciError> {
    let manifests = index.manifests();
    let chosen = manifests
        .iter()
        .find(|d| {
            d.platform()
                .as_ref()
                .is_some_and(|p| p.architecture().to_string() == host_arch() && p.os().to_string() == "linux")
        })
        .or_else(|| manifests.first())
        .ok_or_else(|| OciError::Invalid {
            origin: origin.to_owned(),
            detail: "its index lists no image".into(),
        })?;
    let (path, _) = blob(files, chosen, origin)?;
    if *chosen.media_type() == MediaType::ImageIndex
        || chosen.media_type().to_string() == "application/vnd.docker.distribution.manifest.list.v2+json"
    {
        if depth >= MAX_INDEX_DEPTH {
            return Err(OciError::Invalid {
                origin: origin.to_owned(),
                detail: "its indexes nest too deep".into(),
            });
        }
        let nested: ImageIndex = read_json(&path, "nested index", origin)?;
        return pick_manifest(files, &nested, origin, depth + 1);
    }
    read_json(&path, "manifest", origin)
}

fn read_oci(
    files: &Files,
    origin: &str,
    reference: Option<&str>,
) -> Result<(ImageConfiguration, Vec<Layer>), OciError> {
    let mut index: ImageIndex = read_json(&files.get("index.json", origin)?, "index.json", origin)?;
    if let Some(reference) = reference {
        let named = |d: &Descriptor| {
            d.annotations()
                .as_ref()
                .and_then(|a| a.get(REF_NAME))
                .is_some_and(|r| r == reference)
        };
        let chosen: Vec<Descriptor> = index.manifests().iter().filter(|d| named(d)).cloned().collect();
        if chosen.is_empty() {
            return Err(OciError::Invalid {
                origin: origin.to_owned(),
                detail: format!("its index.json names no image `{reference}`"),
            });
        }
        index.set_manifests(chosen);
    }
    let manifest = pick_manifest(files, &index, origin, 0)?;
    let (config_path, _) = blob(files, manifest.config(), origin)?;
    let config: ImageConfiguration = read_json(&config_path, "config", origin)?;
    let mut layers = Vec::new();
    for d in manifest.layers() {
        let (path, digest) = blob(files, d, origin)?;
        layers.push(layer(path, digest, d.size())?);
    }
    check_layer_count(&config, &layers, origin)?;
    Ok((config, layers))
}

fn layer(path: PathBuf, digest: String, size: u64) -> Result<Layer, OciError> {
    let gzip = tarball::is_gzip(&path).map_err(io_err(&path))?;
    Ok(Layer {
        path,
        digest,
        size,
        gzip,
    })
}

fn check_layer_count(config: &ImageConfiguration, layers: &[Layer], origin: &str) -> Result<(), OciError> {
    let diff_ids = config.rootfs().diff_ids().len();
    if diff_ids != layers.len() {
        return Err(OciError::Invalid {
            origin: origin.to_owned(),
            detail: format!(
                "its config lists {diff_ids} layers but its manifest {}; the image is damaged",
                layers.len()
            ),
        });
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifest {
    config: String,
    #[serde(default)]
    layers: Vec<String>,
}

fn read_docker(files: &Files, origin: &str) -> Result<(ImageConfiguration, Vec<Layer>), OciError> {
    let manifests: Vec<DockerManifest> =
        read_json(&files.get("manifest.json", origin)?, "manifest.json", origin)?;
    let manifest = manifests.into_iter().next().ok_or_else(|| OciError::Invalid {
        origin: origin.to_owned(),
        detail: "its manifest.json lists no image".into(),
    })?;
    let config: ImageConfiguration = read_json(&files.get(&manifest.config, origin)?, "config", origin)?;
    let mut layers = Vec::new();
    for name in &manifest.layers {
        let path = files.get(name, origin)?;
        let blob = tarball::hash_file(&path).map_err(io_err(&path))?;
        layers.push(layer(path, blob.digest, blob.size)?);
    }
    check_layer_count(&config, &layers, origin)?;
    Ok((config, layers))
}

/// Opens a layer as an uncompressed tar stream, ended cleanly for reading its entries.
pub fn open_layer(layer: &Layer) -> Result<Box<dyn Read>, OciError> {
    Ok(Box::new(Padded::new(decompressed(layer)?)))
}

/// A layer's bytes, uncompressed, exactly as its diff id hashes them.
fn decompressed(layer: &Layer) -> Result<Box<dyn Read>, OciError> {
    let f = File::open(&layer.path).map_err(io_err(&layer.path))?;
    let reader = io::BufReader::new(f);
    Ok(if layer.gzip {
        // Multi-member: parallel gzip writers (umoci's) emit one member per chunk.
        Box::new(flate2::read::MultiGzDecoder::new(reader))
    } else {
        Box::new(reader)
    })
}

/// Ends a tar stream cleanly: umoci 0.4 writes layers whose last file is not padded to a whole
/// block and that lack the end-of-archive blocks. The layer's digest was checked already, so
/// this is how the image was made, not damage: zeros fill the last block and end the archive.
struct Padded<R> {
    inner: R,
    read: u64,
    padding: Option<u64>,
}

impl<R: Read> Padded<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            read: 0,
            padding: None,
        }
    }
}

impl<R: Read> Read for Padded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.padding.is_none() {
            let n = self.inner.read(buf)?;
            if n > 0 || buf.is_empty() {
                self.read += n as u64;
                return Ok(n);
            }
            self.padding = Some((512 - self.read % 512) % 512 + 1024);
        }
        let left = self.padding.unwrap_or(0);
        let n = (buf.len() as u64).min(left) as usize;
        buf[..n].fill(0);
        self.padding = Some(left - n as u64);
        Ok(n)
    }
}

/// Writes a layer uncompressed to `dest` and returns its blob (the diff id).
pub fn uncompressed(layer: &Layer, dest: &Path) -> Result<tarball::Blob, OciError> {
    let mut reader = decompressed(layer)?;
    let out = File::create(dest).map_err(io_err(dest))?;
    let mut hashing = Hashing::new(io::BufWriter::new(out));
    io::copy(&mut reader, &mut hashing).map_err(io_err(&layer.path))?;
    let (mut w, blob) = hashing.finish();
    io::Write::flush(&mut w).map_err(io_err(dest))?;
    Ok(blob)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_spelled_as_skopeo_spells_them() {
        assert_eq!(
            Source::parse("oci-archive:a.tar").unwrap(),
            Source::OciArchive("a.tar".into())
        );
        assert_eq!(
            Source::parse("docker-archive:/x/b.tar").unwrap(),
            Source::DockerArchive("/x/b.tar".into())
        );
        assert_eq!(
            Source::parse("oci:dir").unwrap(),
            Source::OciDir("dir".into(), None)
        );
        assert_eq!(
            Source::parse("oci:/x/dir:web").unwrap(),
            Source::OciDir("/x/dir".into(), Some("web".into()))
        );
        for bad in ["a.tar", "oci:", "docker:x", ""] {
            assert!(Source::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_that_leave_the_archive_are_refused() {
        assert_eq!(clean_name("./blobs/sha256/ab").unwrap(), "blobs/sha256/ab");
        assert!(clean_name("../x").is_err());
        assert!(clean_name("/etc/passwd").is_err());
        assert_eq!(resolve_relative("a/b", "../c"), "a/c");
    }
}
