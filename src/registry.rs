//! The image registry as jube sees it: the configuration from the environment and settings.xml,
//! and the operations on images (pull, list, remove) that the commands call.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::env_vars::{self, EnvVars};
use crate::fsutil::{self, LockError, LockedFile};
use crate::image::{self, DEFAULT_GROUP_PREFIX, IMAGE_CLASSIFIER, IMAGE_EXTENSION, ImageRef, VersionRequest};
use crate::layout::Layout;
use crate::maven::local::{CachedArtifact, LocalRepo};
use crate::maven::repository::{self, RemoteRepository};
use crate::maven::resolver::{ResolveError, ResolveOptions, Resolved, Resolver};
use crate::maven::settings::{self, Settings};
use crate::pathpart::{GroupId, PathPart};
use crate::reporter::Reporter;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    Name(#[from] image::ImageNameError),
    #[error(transparent)]
    Settings(#[from] settings::SettingsError),
    #[error(transparent)]
    Repositories(#[from] repository::RepositoryError),
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error("image {0} is not in the local repository; `jube images` lists what is")]
    NotCached(String),
    #[error("cannot remove {path}: {source}")]
    Remove { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("cannot record the pulled image in {path}: {source}")]
    Record { path: PathBuf, source: std::io::Error },
}

/// Configuration for reaching images, read once per command.
pub struct Registry {
    pub prefix: String,
    pub settings: Option<Settings>,
    pub local: LocalRepo,
    pub remotes: Vec<RemoteRepository>,
    pub offline: bool,
    /// jube's own folder, where the images pulled by `mvn:` coordinates are remembered.
    pub layout: Layout,
}

/// One cached image, as `jube images` lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImageSummary {
    pub image: String,
    pub version: PathPart,
    pub coordinates: String,
    pub size: u64,
    #[serde(skip)]
    pub pulled: Option<SystemTime>,
    pub pulled_at: Option<String>,
    /// The file in the local repository; empty for a built-in image not yet installed.
    pub path: PathBuf,
    /// One of the stock images built into jube (listed by `jube images --all`).
    pub builtin: bool,
}

impl Registry {
    /// Reads `JUBE_MAVEN_SETTINGS` (or `~/.m2/settings.xml`), `JUBE_LOCAL_REPO`,
    /// `JUBE_REMOTE_MAVEN_REPOS` and `JUBE_IMAGE_GROUP_PREFIX`.
    pub fn from_env() -> Result<Self, RegistryError> {
        let settings_path = env_vars::var(EnvVars::JUBE_MAVEN_SETTINGS)
            .map(PathBuf::from)
            .or_else(|| dirs::home_dir().map(|h| h.join(".m2").join("settings.xml")));
        let settings = match settings_path {
            Some(p) => settings::load(&p)?,
            None => None,
        };
        let plan = repository::plan(settings.as_ref(), &|name| env_vars::var(name))?;
        let local = LocalRepo::locate(settings.as_ref());
        let prefix = env_vars::var(EnvVars::JUBE_IMAGE_GROUP_PREFIX)
            .unwrap_or_else(|| DEFAULT_GROUP_PREFIX.to_owned());
        Ok(Self {
            prefix,
            settings,
            local,
            remotes: plan.remotes,
            offline: plan.offline,
            layout: Layout::from_env(),
        })
    }

    pub fn parse(&self, name: &str) -> Result<ImageRef, RegistryError> {
        Ok(image::parse(name, &self.prefix)?)
    }

    pub fn resolver<'r>(&self, mut options: ResolveOptions, reporter: &'r dyn Reporter) -> Resolver<'r> {
        options.offline |= self.offline;
        options.builtin_prefix = Some(self.prefix.clone());
        Resolver::new(self.local.clone(), self.remotes.clone(), options, reporter)
    }

    /// Resolves and, when needed, downloads an image. An image outside the image group convention
    /// is remembered, so that `jube images` lists it.
    pub fn pull(
        &self,
        image: &ImageRef,
        options: ResolveOptions,
        reporter: &dyn Reporter,
    ) -> Result<Resolved, RegistryError> {
        let resolved = self.resolver(options, reporter).resolve(image)?;
        if let Err(e) = self.remember(image) {
            reporter.warn(&format!("{e}; `jube images` will not list {image}"));
        }
        Ok(resolved)
    }

    /// Every cached image: the image zips under the group prefix, and the artifacts pulled by
    /// explicit coordinates that are still in the local repository.
    pub fn list(&self) -> Vec<ImageSummary> {
        let mut found: BTreeMap<PathBuf, CachedArtifact> = BTreeMap::new();
        for a in self.local.cached_images(&self.prefix) {
            found.insert(a.path.clone(), a);
        }
        for key in read_record(&self.layout.pulled_images()).artifacts {
            for a in self.cached_files(&key) {
                found.insert(a.path.clone(), a);
            }
        }
        let mut all: Vec<CachedArtifact> = found.into_values().collect();
        all.sort_by(|a, b| a.coordinates.cmp(&b.coordinates));
        all.into_iter().map(|a| self.summary(a)).collect()
    }

    /// Whether `jube images` finds this image by walking the group prefix:
    /// `<prefix>.<namespace>:<name>`, classifier `image`, type `zip`.
    fn is_conventional(&self, key: &ArtifactKey) -> bool {
        let namespace = key
            .group_id
            .strip_prefix(self.prefix.as_str())
            .and_then(|rest| rest.strip_prefix('.'));
        namespace.is_some_and(|ns| !ns.is_empty() && !ns.contains('.'))
            && key.classifier.as_deref() == Some(IMAGE_CLASSIFIER)
            && key.extension == IMAGE_EXTENSION
    }

    /// Adds an image pulled by explicit coordinates to `JUBE_HOME/images.json` (once).
    pub fn remember(&self, image: &ImageRef) -> Result<(), RegistryError> {
        let key = ArtifactKey::of(image);
        if self.is_conventional(&key) {
            return Ok(());
        }
        self.change_record(|record| {
            if record.artifacts.contains(&key) {
                return false;
            }
            record.artifacts.push(key);
            true
        })
    }

    /// Drops an artifact from the record once none of its files are left.
    fn forget_if_gone(&self, image: &ImageRef) -> Result<(), RegistryError> {
        let key = ArtifactKey::of(image);
        if self.is_conventional(&key) || !self.cached_files(&key).is_empty() {
            return Ok(());
        }
        self.change_record(|record| {
            let before = record.artifacts.len();
            record.artifacts.retain(|k| *k != key);
            record.artifacts.len() != before
        })
    }

    /// Read, change, write back under a lock, so that two pulls at once both stay recorded.
    fn change_record(&self, change: impl FnOnce(&mut PulledRecord) -> bool) -> Result<(), RegistryError> {
        let path = self.layout.pulled_images();
        let record_error = |source| RegistryError::Record {
            path: path.clone(),
            source,
        };
        fs_err::create_dir_all(self.layout.home()).map_err(record_error)?;
        let _lock = LockedFile::acquire(&self.layout.pulled_images_lock(), "the list of pulled images")?;
        let mut record = read_record(&path);
        if change(&mut record) {
            record.version = RECORD_VERSION;
            let text =
                serde_json::to_vec_pretty(&record).map_err(|e| record_error(std::io::Error::other(e)))?;
            fsutil::write_atomic(&path, &text).map_err(record_error)?;
        }
        Ok(())
    }

    fn cached_files(&self, key: &ArtifactKey) -> Vec<CachedArtifact> {
        self.local.cached_versions(
            &key.group_id,
            &key.artifact_id,
            key.classifier.as_deref(),
            &key.extension,
        )
    }

    fn summary(&self, a: CachedArtifact) -> ImageSummary {
        let c = &a.coordinates;
        ImageSummary {
            image: image::image_name(&c.group_id, &c.artifact_id, &self.prefix),
            version: c.version.clone(),
            coordinates: c.to_string(),
            size: a.size,
            pulled_at: a.modified.map(|t| {
                jiff::Timestamp::try_from(t)
                    .map(|t| t.to_string())
                    .unwrap_or_default()
            }),
            pulled: a.modified,
            path: a.path,
            builtin: false,
        }
    }

    /// The stock images built into jube.
    pub fn builtin(&self) -> Vec<ImageSummary> {
        crate::maven::builtin::all()
            // A prefix that makes no valid groupId has no built-in images under it.
            .filter_map(|b| Some((b, b.coordinates(&self.prefix).ok()?)))
            .map(|(b, c)| ImageSummary {
                image: image::image_name(&c.group_id, &c.artifact_id, &self.prefix),
                version: c.version.clone(),
                coordinates: c.to_string(),
                size: b.zip.len() as u64,
                pulled: None,
                pulled_at: None,
                path: PathBuf::new(),
                builtin: true,
            })
            .collect()
    }

    /// The cached files an image reference names: one version, or every version without a tag.
    pub fn cached(&self, image: &ImageRef) -> Vec<ImageSummary> {
        let all = self.cached_files(&ArtifactKey::of(image));
        all.into_iter()
            .filter(|a| match &image.version {
                VersionRequest::Exact(v) | VersionRequest::Snapshot(v) => {
                    a.coordinates.base_version() == *v || a.coordinates.version == *v
                }
                _ => true,
            })
            .map(|a| self.summary(a))
            .collect()
    }

    /// Removes an image version's files from the local repository: the zip, its checksums, its
    /// `_remote.repositories` line, and the version folder when nothing else is left in it.
    pub fn remove(&self, image: &ImageRef, summary: &ImageSummary) -> Result<(), RegistryError> {
        let c = image.at(&summary.version);
        // Not while a pull of the same version is writing beside it.
        let _lock = self.local.lock(&c)?;
        self.remove_files(&summary.path)?;
        drop(_lock);
        self.forget_if_gone(image)
    }

    fn remove_files(&self, path: &Path) -> Result<(), RegistryError> {
        let rm = |p: &Path| match std::fs::remove_file(p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(RegistryError::Remove {
                path: p.to_owned(),
                source: e,
            }),
            _ => Ok(()),
        };
        rm(path)?;
        for ext in ["sha1", "md5", "sha256", "sha512"] {
            let mut side = path.as_os_str().to_owned();
            side.push(format!(".{ext}"));
            rm(Path::new(&side))?;
        }
        let Some(dir) = path.parent() else { return Ok(()) };
        // What remains is only bookkeeping (pom, metadata, origins): the image is gone, so is its folder.
        let leftovers_are_bookkeeping = std::fs::read_dir(dir).map(|entries| {
            entries.filter_map(Result::ok).all(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n == "_remote.repositories"
                    || n.starts_with("maven-metadata")
                    || n.contains(".pom")
                    || n.ends_with(".lastUpdated")
            })
        });
        if leftovers_are_bookkeeping.unwrap_or(false) {
            std::fs::remove_dir_all(dir).map_err(|e| RegistryError::Remove {
                path: dir.to_owned(),
                source: e,
            })?;
        }
        Ok(())
    }
}

/// The format version of `images.json`.
const RECORD_VERSION: u32 = 1;

/// `JUBE_HOME/images.json`: the artifacts pulled by explicit coordinates. The local repository has
/// no index, and walking all of it (it is Maven's too) would be slow and list non-images.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct PulledRecord {
    version: u32,
    artifacts: Vec<ArtifactKey>,
}

/// An artifact without its version.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct ArtifactKey {
    group_id: GroupId,
    artifact_id: PathPart,
    classifier: Option<PathPart>,
    extension: PathPart,
}

impl ArtifactKey {
    fn of(image: &ImageRef) -> Self {
        Self {
            group_id: image.group_id.clone(),
            artifact_id: image.artifact_id.clone(),
            classifier: image.classifier.clone(),
            extension: image.extension.clone(),
        }
    }
}

/// The record, or an empty one when it is missing or unreadable (it only adds to the listing).
fn read_record(path: &Path) -> PulledRecord {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(dir: &Path) -> Registry {
        Registry {
            prefix: DEFAULT_GROUP_PREFIX.to_owned(),
            settings: None,
            local: LocalRepo::new(dir.join("m2")),
            remotes: Vec::new(),
            offline: true,
            layout: Layout::new(dir.join("home")),
        }
    }

    #[test]
    fn only_images_outside_the_convention_are_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let r = registry(dir.path());
        for name in ["fabric8/java:1.0", "mvn:io.fabric8.jube.images.fabric8/java/1.0"] {
            r.remember(&r.parse(name).unwrap()).unwrap();
        }
        assert!(!r.layout.pulled_images().exists(), "the group walk finds these");
        let lib = r.parse("mvn:com.example/lib/1.0").unwrap();
        let deep = r.parse("mvn:io.fabric8.jube.images.a.b/app/1.0").unwrap();
        let tar = r
            .parse("mvn:io.fabric8.jube.images.fabric8/java/1.0/tar.gz")
            .unwrap();
        for image in [&lib, &deep, &tar, &lib] {
            r.remember(image).unwrap();
        }
        let record = read_record(&r.layout.pulled_images());
        assert_eq!(record.version, RECORD_VERSION);
        assert_eq!(record.artifacts.len(), 3, "each once: {record:?}");
        // Nothing of `lib` is cached, so it is forgotten.
        r.forget_if_gone(&lib).unwrap();
        assert_eq!(read_record(&r.layout.pulled_images()).artifacts.len(), 2);
    }

    #[test]
    fn an_unreadable_record_lists_nothing_extra() {
        let dir = tempfile::tempdir().unwrap();
        let r = registry(dir.path());
        std::fs::create_dir_all(r.layout.home()).unwrap();
        std::fs::write(r.layout.pulled_images(), "not json").unwrap();
        assert!(r.list().is_empty());
        r.remember(&r.parse("mvn:com.example/lib/1.0").unwrap()).unwrap();
        assert_eq!(
            read_record(&r.layout.pulled_images()).artifacts.len(),
            1,
            "rewritten whole"
        );
    }
}
