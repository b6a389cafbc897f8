//! OCI bundles and images: an image zip exported as a runtime bundle or as an OCI/docker image
//! archive, container images imported as image zips, and apps run isolated by a container runtime.

pub mod archive;
pub mod bundle;
pub mod image;
pub mod import;
pub mod isolate;
mod runtime_spec;
pub mod tarball;

use std::io;
use std::path::{Path, PathBuf};

use crate::container::install::{self, InstallError, UnpackLimits};
use crate::container::ports::PortError;
use crate::reporter::Reporter;

/// Where the app's folder sits inside a bundle's root and an image's file system.
pub const APP_DIR: &str = "/app";

#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error(transparent)]
    Install(#[from] InstallError),
    #[error(transparent)]
    Ports(#[from] PortError),
    #[error("{path}: {source}{hint}", hint = crate::fsutil::disk_full_hint(.source))]
    Io { path: PathBuf, source: io::Error },
    #[error("{0}")]
    Usage(String),
    #[error("{origin}: {detail}")]
    Invalid { origin: String, detail: String },
    #[error("{archive}: entry `{entry}` {reason}; refusing to import this image")]
    Unsafe {
        archive: String,
        entry: String,
        reason: String,
    },
    #[error(transparent)]
    Spec(#[from] oci_spec::OciSpecError),
    #[error(transparent)]
    Build(#[from] crate::image::build::BuildError),
    #[error("{0}")]
    Runtime(String),
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> OciError + '_ {
    move |source| OciError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Unpacks image zip `zip` with the safe unzip into `dest` (which must not exist), with the app's
/// scripts at `dest` itself even when the zip keeps them in one top-level folder.
pub fn unpack_app(
    zip: &Path,
    dest: &Path,
    limits: &UnpackLimits,
    reporter: &dyn Reporter,
) -> Result<(), OciError> {
    let unpacked = install::unpack(zip, dest, limits, reporter)?;
    install::check_unpacked(zip, &unpacked.app_base)?;
    if unpacked.app_base != dest {
        let moving = dest.with_extension("hoisting");
        std::fs::rename(&unpacked.app_base, &moving).map_err(io_err(&moving))?;
        std::fs::remove_dir(dest).map_err(io_err(dest))?;
        std::fs::rename(&moving, dest).map_err(io_err(dest))?;
    }
    Ok(())
}

/// A folder made beside `target` and renamed onto it only when complete, so a failure leaves
/// nothing half-written.
pub(crate) struct Staged {
    pub dir: tempfile::TempDir,
    target: PathBuf,
}

impl Staged {
    /// Refuses a `target` that exists and is not an empty folder.
    pub fn new(target: &Path) -> Result<Self, OciError> {
        match std::fs::read_dir(target) {
            Ok(mut entries) => {
                if entries.next().is_some() {
                    return Err(OciError::Usage(format!(
                        "{} exists and is not empty; give a new folder, or remove it first",
                        target.display()
                    )));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) if e.kind() == io::ErrorKind::NotADirectory => {
                return Err(OciError::Usage(format!(
                    "{} exists and is not a folder; give a new folder",
                    target.display()
                )));
            }
            Err(e) => return Err(io_err(target)(e)),
        }
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(io_err(&parent))?;
        let dir = tempfile::Builder::new()
            .prefix(".jube-export-")
            .tempdir_in(&parent)
            .map_err(io_err(&parent))?;
        Ok(Self {
            dir,
            target: target.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Renames the finished folder onto the target.
    pub fn finish(self) -> Result<PathBuf, OciError> {
        if self.target.is_dir() {
            std::fs::remove_dir(&self.target).map_err(io_err(&self.target))?;
        }
        let kept = self.dir.keep();
        std::fs::rename(&kept, &self.target).map_err(|source| {
            let _ = std::fs::remove_dir_all(&kept);
            OciError::Io {
                path: self.target.clone(),
                source,
            }
        })?;
        Ok(self.target)
    }
}
