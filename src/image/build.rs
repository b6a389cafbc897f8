//! `jube build`: checking that a folder is an image, and packing it into the local repository as
//! a deterministic zip (the same folder always gives the same bytes).

use std::path::{Path, PathBuf};

use crate::container::ports::{self, PortError};
use crate::image::pack::{self, Content, Entry};
use crate::image::{ImageNameError, ImageRef, VersionRequest, link};
use crate::maven::coordinates::Coordinates;
use crate::maven::install::{self, InstallError, Installed};
use crate::maven::local::LocalRepo;

/// One of these must be at an image's root: jube starts the app through it.
const START_SCRIPTS: [&str; 2] = ["start.sh", "run.sh"];
/// The scripts whose `.bat` twins let the image run on Windows.
const SCRIPTS: [&str; 7] = ["start", "stop", "kill", "restart", "status", "run", "env"];
const PORTS_FILE: &str = "ports.properties";

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{dir} does not exist; give the folder that holds the image's start.sh or run.sh")]
    Missing { dir: PathBuf },
    #[error("{dir} is not a folder; give the folder that holds the image's start.sh or run.sh")]
    NotAFolder { dir: PathBuf },
    #[error(
        "{dir} is not an image: it has neither start.sh nor run.sh at its root (it holds: {found}); jube \
         starts an app through start.sh (which starts it in the background and writes process.pid) or \
         run.sh (which runs it in the foreground)"
    )]
    NoStartScript { dir: PathBuf, found: String },
    #[error("{0}; fix ports.properties (lines of NAME=PORT, for example HTTP=8080)")]
    Ports(#[source] PortError),
    #[error(
        "{path} is a symlink to `{target}`, which {reason}; an image may only link to files inside itself, \
         so replace it with a relative link or a copy"
    )]
    UnsafeLink {
        path: PathBuf,
        target: String,
        reason: String,
    },
    #[error(
        "{path} is {kind}, which an image zip cannot hold (reading it could block forever); move it out of \
         the folder"
    )]
    SpecialFile { path: PathBuf, kind: &'static str },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Install(#[from] InstallError),
}

/// What `-t` names must be a version the image can be installed under.
#[derive(Debug, thiserror::Error)]
pub enum TagError {
    #[error(transparent)]
    Name(#[from] ImageNameError),
    #[error(
        "`{tag}` names no version; give one, as in `{tag}:1.0` (or `:1.0-SNAPSHOT` for a build that may be \
         replaced)"
    )]
    NoVersion { tag: String },
    #[error("`{tag}` is a `.{extension}` artifact; jube images are zips: leave out the type, or give `zip`")]
    NotZip { tag: String, extension: String },
}

/// The coordinates an image reference names, which must carry a concrete version (a release or
/// `-SNAPSHOT`, never `latest`).
pub fn tag_coordinates(image: &ImageRef) -> Result<Coordinates, TagError> {
    let version = match &image.version {
        VersionRequest::Exact(v) | VersionRequest::Snapshot(v) => v,
        VersionRequest::NewestRelease | VersionRequest::Latest => {
            return Err(TagError::NoVersion {
                tag: image.original.clone(),
            });
        }
    };
    if image.extension != crate::image::IMAGE_EXTENSION {
        return Err(TagError::NotZip {
            tag: image.original.clone(),
            extension: image.extension.to_string(),
        });
    }
    Ok(image.at(version))
}

/// Checks that `dir` is an image. Errors say exactly what is wrong; what is only unusual (no
/// stop.sh, no status.sh, no `.bat` twins) comes back as warnings.
pub fn check_folder(dir: &Path) -> Result<Vec<String>, BuildError> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(BuildError::NotAFolder { dir: dir.to_owned() }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(BuildError::Missing { dir: dir.to_owned() });
        }
        Err(source) => {
            return Err(BuildError::Read {
                path: dir.to_owned(),
                source,
            });
        }
    }
    let has = |name: &str| dir.join(name).is_file();
    if !START_SCRIPTS.iter().any(|s| has(s)) {
        return Err(BuildError::NoStartScript {
            dir: dir.to_owned(),
            found: describe(dir)?,
        });
    }
    ports::read_ports(&dir.join(PORTS_FILE)).map_err(BuildError::Ports)?;
    let mut warnings = Vec::new();
    if !has("stop.sh") {
        warnings.push(
            "no stop.sh: `jube stop` will end the app with signals (TERM, then KILL after the grace time)"
                .to_owned(),
        );
    }
    if !has("status.sh") {
        warnings.push("no status.sh: jube will judge whether the app runs by its process alone".to_owned());
    }
    let missing_twins: Vec<String> = SCRIPTS
        .iter()
        .filter(|s| has(&format!("{s}.sh")) && !has(&format!("{s}.bat")))
        .map(|s| format!("{s}.bat"))
        .collect();
    if !missing_twins.is_empty() {
        warnings.push(format!(
            "no {}: the image will not run on Windows",
            missing_twins.join(", ")
        ));
    }
    Ok(warnings)
}

/// The names at a folder's root, for messages.
fn describe(dir: &Path) -> Result<String, BuildError> {
    crate::fsutil::describe_folder(dir).map_err(|source| BuildError::Read {
        path: dir.to_owned(),
        source,
    })
}

/// Pid files record a run, not an image: a container made from an image holding one would look
/// as if its app were already running. These are the places jube reads them from.
pub fn is_pid_file(path: &str) -> bool {
    match path {
        "process.pid" | "var/process.pid" => true,
        _ => path
            .strip_prefix("var/run/")
            .is_some_and(|name| !name.contains('/') && name.ends_with(".pid")),
    }
}

/// The entries of an image folder, sorted, without pid files (their names come back second, for a
/// warning). Symlinks must stay inside the folder, or the image could not be installed; pipes,
/// sockets and devices cannot be packed. Both are errors, or left out with `leave_out_unpackable`
/// (what a running app made in its folder: a socket, a link to /tmp).
pub fn folder_entries(
    dir: &Path,
    leave_out_unpackable: bool,
) -> Result<(Vec<Entry>, Vec<String>), BuildError> {
    let entries = pack::collect(dir).map_err(|source| BuildError::Read {
        path: dir.to_owned(),
        source,
    })?;
    let mut kept = Vec::with_capacity(entries.len());
    let mut left_out = Vec::new();
    for entry in entries {
        let packable = match &entry.content {
            Content::Symlink(target) => {
                let depth = entry.path.matches('/').count();
                link::target_inside(target, depth)
                    .map(drop)
                    .map_err(|reason| BuildError::UnsafeLink {
                        path: dir.join(&entry.path),
                        target: target.clone(),
                        reason,
                    })
            }
            Content::File(path) => check_regular(path),
            Content::Dir | Content::Bytes(_) => Ok(()),
        };
        match packable {
            Err(BuildError::UnsafeLink { .. } | BuildError::SpecialFile { .. }) if leave_out_unpackable => {
                left_out.push(entry.path);
                continue;
            }
            other => other?,
        }
        if is_pid_file(&entry.path) {
            left_out.push(entry.path);
        } else {
            kept.push(entry);
        }
    }
    Ok((kept, left_out))
}

/// Pipes, sockets and devices are no files to pack: opening a pipe waits for a writer forever.
fn check_regular(path: &Path) -> Result<(), BuildError> {
    let kind = std::fs::symlink_metadata(path)
        .map_err(|source| BuildError::Read {
            path: path.to_owned(),
            source,
        })?
        .file_type();
    if kind.is_file() {
        return Ok(());
    }
    Err(BuildError::SpecialFile {
        path: path.to_owned(),
        kind: special_kind(&kind),
    })
}

#[cfg(unix)]
fn special_kind(kind: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_fifo() {
        "a named pipe"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_block_device() || kind.is_char_device() {
        "a device"
    } else {
        "not a regular file"
    }
}

#[cfg(not(unix))]
fn special_kind(_kind: &std::fs::FileType) -> &'static str {
    "not a regular file"
}

/// Packs `entries` as the image `c` and installs it in the local repository.
pub fn install_entries(
    local: &LocalRepo,
    c: &Coordinates,
    entries: &[Entry],
) -> Result<Installed, BuildError> {
    Ok(install::install(local, c, |tmp| {
        pack::write(entries, tmp).map(drop)
    })?)
}

/// `jube build`: what was installed, and the warnings about the folder.
#[derive(Debug)]
pub struct Built {
    pub installed: Installed,
    pub warnings: Vec<String>,
}

/// Checks `dir`, packs it and installs it as `c`.
pub fn build(dir: &Path, c: &Coordinates, local: &LocalRepo) -> Result<Built, BuildError> {
    let mut warnings = check_folder(dir)?;
    let (entries, left_out) = folder_entries(dir, false)?;
    if !left_out.is_empty() {
        warnings.push(format!(
            "left out {}: pid files belong to a run of the app, not to its image",
            left_out.join(", ")
        ));
    }
    let installed = install_entries(local, c, &entries)?;
    Ok(Built { installed, warnings })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_files_are_recognised_where_jube_reads_them() {
        for yes in ["process.pid", "var/process.pid", "var/run/app.pid"] {
            assert!(is_pid_file(yes), "{yes}");
        }
        for no in [
            "lib/process.pid",
            "var/run/sub/app.pid",
            "var/run/app.pidx",
            "process.pid.txt",
        ] {
            assert!(!is_pid_file(no), "{no}");
        }
    }

    #[test]
    fn tags_need_a_zip_version() {
        let parse = |t: &str| crate::image::parse(t, crate::image::DEFAULT_GROUP_PREFIX).unwrap();
        assert_eq!(
            tag_coordinates(&parse("team/app:1.0")).unwrap().path(),
            "io/fabric8/jube/images/team/app/1.0/app-1.0-image.zip"
        );
        assert!(tag_coordinates(&parse("team/app:1.0-SNAPSHOT")).is_ok());
        for bad in ["team/app", "team/app:latest", "team/app:LATEST", "mvn:g/a/1/jar"] {
            assert!(tag_coordinates(&parse(bad)).is_err(), "{bad}");
        }
    }
}
