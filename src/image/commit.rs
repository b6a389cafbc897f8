//! `jube commit`: a container's current folder packed as a new image, like `docker commit`.
//!
//! Kept: every file of the app's folder as it is now, changes included. Left out: what belongs to
//! one run rather than to the image. That is pid files; pipes, sockets and links out of the folder
//! that the app made; jube's lines in env.sh and env.bat (the image's own lines stay); and what the
//! run wrote into the app's `logs/` folder (the folder itself stays, empty, for scripts that log
//! there without creating it). jube's captured console log lives outside the app's folder and is
//! never part of an image.

use std::path::{Path, PathBuf};

use crate::container::envfile;
use crate::container::lifecycle::{ContainerError, Containers};
use crate::image::build::{self, BuildError};
use crate::image::pack::{Content, Entry};
use crate::maven::coordinates::Coordinates;
use crate::maven::install::Installed;
use crate::maven::local::LocalRepo;

/// What env.sh holds once jube's lines are out, when jube made it for an image that had none.
const JUBE_MADE_ENV_SH: &str = "#!/bin/sh\n";
/// The app's own log folder, whose contents a commit leaves out.
const LOGS_DIR: &str = "logs/";

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error(transparent)]
    Container(#[from] ContainerError),
    #[error("cannot commit container {name}: {source}")]
    Build {
        name: String,
        #[source]
        source: BuildError,
    },
    #[error(
        "cannot commit container {name}: {path} is not UTF-8 text, so jube cannot take its lines out of it"
    )]
    NotText { name: String, path: PathBuf },
}

/// What a commit installed.
#[derive(Debug)]
pub struct Committed {
    pub container: String,
    pub installed: Installed,
    /// Paths (relative to the app's folder) that were left out.
    pub left_out: Vec<String>,
}

/// Packs container `query`'s app folder as image `c` in the local repository.
pub fn commit(
    containers: &Containers,
    query: &str,
    c: &Coordinates,
    local: &LocalRepo,
) -> Result<Committed, CommitError> {
    let state = containers.find(query)?;
    let name = state.name.clone();
    let build_err = |source| CommitError::Build {
        name: name.clone(),
        source,
    };
    let app_base = containers.app_base(&state);
    build::check_folder(&app_base).map_err(build_err)?;
    let (entries, mut left_out) = build::folder_entries(&app_base, true).map_err(build_err)?;
    let entries = without_run_files(&app_base, entries, &mut left_out, &name)?;
    let installed = build::install_entries(local, c, &entries).map_err(build_err)?;
    Ok(Committed {
        container: name,
        installed,
        left_out,
    })
}

/// Drops the logs of the run and takes jube's lines out of the env files.
fn without_run_files(
    app_base: &Path,
    entries: Vec<Entry>,
    left_out: &mut Vec<String>,
    name: &str,
) -> Result<Vec<Entry>, CommitError> {
    let mut kept = Vec::with_capacity(entries.len());
    for mut entry in entries {
        if entry.path.starts_with(LOGS_DIR) && entry.path != LOGS_DIR {
            left_out.push(entry.path);
            continue;
        }
        let strip: Option<fn(&str) -> String> = match entry.path.as_str() {
            "env.sh" => Some(envfile::strip_sh),
            "env.bat" => Some(envfile::strip_bat),
            _ => None,
        };
        if let (Some(strip), Content::File(path)) = (strip, &entry.content) {
            let text = read_text(path).ok_or_else(|| CommitError::NotText {
                name: name.to_owned(),
                path: app_base.join(&entry.path),
            })?;
            let own = strip(&text);
            if own == JUBE_MADE_ENV_SH {
                continue;
            }
            entry.content = Content::Bytes(own.into_bytes());
        }
        kept.push(entry);
    }
    Ok(kept)
}

fn read_text(path: &Path) -> Option<String> {
    String::from_utf8(std::fs::read(path).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dir: &Path, rel: &str) -> Entry {
        Entry {
            path: rel.to_owned(),
            content: Content::File(dir.join(rel)),
            mode: 0o644,
        }
    }

    #[test]
    fn logs_and_jube_lines_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let original = "#!/bin/sh\nexport A=1\n";
        let with_jube = envfile::insert_sh(original, &[("HTTP_PORT".into(), "48000".into())]).unwrap();
        std::fs::write(dir.path().join("env.sh"), &with_jube).unwrap();
        let entries = vec![
            file(dir.path(), "env.sh"),
            Entry {
                path: "logs/".into(),
                content: Content::Dir,
                mode: 0o755,
            },
            file(dir.path(), "logs/app.log"),
            file(dir.path(), "start.sh"),
        ];
        let mut left_out = Vec::new();
        let kept = without_run_files(dir.path(), entries, &mut left_out, "c").unwrap();
        let paths: Vec<&str> = kept.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["env.sh", "logs/", "start.sh"]);
        assert_eq!(left_out, ["logs/app.log"]);
        assert_eq!(kept[0].content, Content::Bytes(original.as_bytes().to_vec()));
    }
}
