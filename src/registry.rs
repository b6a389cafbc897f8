//! The image registry as jube sees it: the configuration from the environment and settings.xml,
//! and the operations on images (pull, list, remove) that the commands call.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::env_vars::{self, EnvVars};
use crate::image::{self, DEFAULT_GROUP_PREFIX, ImageRef, VersionRequest};
use crate::maven::local::{CachedArtifact, LocalRepo};
use crate::maven::repository::{self, RemoteRepository};
use crate::maven::resolver::{ResolveError, ResolveOptions, Resolved, Resolver};
use crate::maven::settings::{self, Settings};
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
}

/// Configuration for reaching images, read once per command.
pub struct Registry {
    pub prefix: String,
    pub settings: Option<Settings>,
    pub local: LocalRepo,
    pub remotes: Vec<RemoteRepository>,
    pub offline: bool,
}

/// One cached image, as `jube images` lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImageSummary {
    pub image: String,
    pub version: String,
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

    /// Resolves and, when needed, downloads an image.
    pub fn pull(
        &self,
        image: &ImageRef,
        options: ResolveOptions,
        reporter: &dyn Reporter,
    ) -> Result<Resolved, RegistryError> {
        Ok(self.resolver(options, reporter).resolve(image)?)
    }

    /// Every image zip in the local repository under the group prefix.
    pub fn list(&self) -> Vec<ImageSummary> {
        self.local
            .cached_images(&self.prefix)
            .into_iter()
            .map(|a| self.summary(a))
            .collect()
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
            .map(|b| {
                let c = b.coordinates(&self.prefix);
                ImageSummary {
                    image: image::image_name(&c.group_id, &c.artifact_id, &self.prefix),
                    version: c.version.clone(),
                    coordinates: c.to_string(),
                    size: b.zip.len() as u64,
                    pulled: None,
                    pulled_at: None,
                    path: PathBuf::new(),
                    builtin: true,
                }
            })
            .collect()
    }

    /// The cached files an image reference names: one version, or every version without a tag.
    pub fn cached(&self, image: &ImageRef) -> Vec<ImageSummary> {
        let all = self.local.cached_versions(&image.group_id, &image.artifact_id);
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
    pub fn remove(&self, summary: &ImageSummary) -> Result<(), RegistryError> {
        let path = &summary.path;
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
