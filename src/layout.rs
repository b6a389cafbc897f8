//! Where jube keeps its own files. Every path under `JUBE_HOME` comes from here.

use std::path::{Path, PathBuf};

use crate::env_vars::{self, EnvVars};

/// The version of jube's on-disk formats (state.json, the lease table); bumped on any change
/// that an older jube would misread.
pub const FORMAT_VERSION: u32 = 1;

/// Why `JUBE_HOME` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    #[error("cannot create jube's home folder {path}: {source}; set {var} to a folder you can write")]
    Create {
        path: PathBuf,
        source: std::io::Error,
        var: &'static str,
    },
    #[error("cannot make jube's home folder {path} private (mode 0700): {source}")]
    Narrow { path: PathBuf, source: std::io::Error },
    #[error(
        "jube's home folder {path} belongs to another user (uid {owner}, you are uid {me}); jube keeps \
         containers' environments there and will not share them: set {var} to a folder of your own, \
         or have its owner remove it"
    )]
    NotOwned {
        path: PathBuf,
        owner: u32,
        me: u32,
        var: &'static str,
    },
    #[error("jube's home folder {path} is not a folder; set {var} to a folder, or remove that file")]
    NotAFolder { path: PathBuf, var: &'static str },
}

#[cfg(unix)]
fn secure_dir(dir: &Path) -> Result<(), HomeError> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};

    const PRIVATE: u32 = 0o700;
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| HomeError::Create {
            path: dir.to_owned(),
            source,
            var: EnvVars::JUBE_HOME,
        })?;
    }
    // Created private from the start, so no other user can open it in between.
    match std::fs::DirBuilder::new().mode(PRIVATE).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(source) => {
            return Err(HomeError::Create {
                path: dir.to_owned(),
                source,
                var: EnvVars::JUBE_HOME,
            });
        }
    }
    let meta = std::fs::metadata(dir).map_err(|source| HomeError::Create {
        path: dir.to_owned(),
        source,
        var: EnvVars::JUBE_HOME,
    })?;
    if !meta.is_dir() {
        return Err(HomeError::NotAFolder {
            path: dir.to_owned(),
            var: EnvVars::JUBE_HOME,
        });
    }
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        return Err(HomeError::NotOwned {
            path: dir.to_owned(),
            owner: meta.uid(),
            me,
            var: EnvVars::JUBE_HOME,
        });
    }
    if meta.permissions().mode() & 0o7777 != PRIVATE {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(PRIVATE)).map_err(|source| {
            HomeError::Narrow {
                path: dir.to_owned(),
                source,
            }
        })?;
    }
    Ok(())
}

/// Windows folders are private to their user by their default ACL; nothing to narrow.
#[cfg(not(unix))]
fn secure_dir(dir: &Path) -> Result<(), HomeError> {
    std::fs::create_dir_all(dir).map_err(|source| HomeError::Create {
        path: dir.to_owned(),
        source,
        var: EnvVars::JUBE_HOME,
    })
}

/// What a container folder holds besides the app folder (and the stage's name file): a container
/// called so gets its short id as app folder instead.
const CONTAINER_ENTRIES: [&str; 4] = ["state.json", "logs", "container.lock", "name"];
/// Longer names make paths too long for some tools; such containers use their short id.
const MAX_APP_FOLDER: usize = 100;
/// The app folder of containers created before it was named after them.
pub const LEGACY_APP_FOLDER: &str = "root";

/// The name of a container's app folder (its `APP_BASE`): the container's name, or its short id
/// when the name cannot be a folder beside the container's own files. Jube images name their
/// Jolokia agent after `basename $APP_BASE`, so every container gets an agent id of its own.
/// It is decided once, at create, and kept in `state.json` (`app_base`), so renaming a container
/// never moves its files.
pub fn app_folder_name(name: &str, id: &str) -> String {
    let usable = !name.is_empty()
        && name.len() <= MAX_APP_FOLDER
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0', ':'])
        && !CONTAINER_ENTRIES.contains(&name);
    if usable {
        name.to_owned()
    } else {
        id.chars().take(12).collect()
    }
}

/// Paths of jube's own data under one home folder.
#[derive(Debug, Clone)]
pub struct Layout {
    home: PathBuf,
}

impl Layout {
    pub fn new(home: impl Into<PathBuf>) -> Self {
        Self { home: home.into() }
    }

    /// `JUBE_HOME`, else the platform's local data folder plus `jube`.
    pub fn from_env() -> Self {
        let home = env_vars::var(EnvVars::JUBE_HOME)
            .map(PathBuf::from)
            .or_else(|| dirs::data_local_dir().map(|d| d.join("jube")))
            .unwrap_or_else(|| PathBuf::from(".jube"));
        Self::new(home)
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    /// Creates `JUBE_HOME` when missing and makes it private to its owner (mode 0700): it holds
    /// containers' environments and records, which may carry values a user or a manifest passed
    /// as secrets. A folder with a wider mode is narrowed; one owned by another user is refused,
    /// since narrowing it would lock that user out, and using it would share secrets with them.
    pub fn secure_home(&self) -> Result<(), HomeError> {
        secure_dir(&self.home)
    }

    pub fn containers_dir(&self) -> PathBuf {
        self.home.join("containers")
    }

    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.containers_dir().join(id)
    }

    pub fn container_state(&self, id: &str) -> PathBuf {
        self.container_dir(id).join("state.json")
    }

    pub fn container_logs(&self, id: &str) -> PathBuf {
        self.container_dir(id).join("logs")
    }

    pub fn container_lock(&self, id: &str) -> PathBuf {
        self.container_dir(id).join("container.lock")
    }

    /// Where containers are created before they are complete; a crash leaves them here, never
    /// half-made under `containers/`.
    pub fn staging_dir(&self) -> PathBuf {
        self.home.join("tmp")
    }

    pub fn leases(&self) -> PathBuf {
        self.home.join("ports.json")
    }

    pub fn leases_lock(&self) -> PathBuf {
        self.home.join("ports.lock")
    }

    /// Held while container names are chosen, so two creates never take the same name.
    pub fn names_lock(&self) -> PathBuf {
        self.home.join("names.lock")
    }

    /// Images pulled by explicit `mvn:` coordinates, which `jube images` cannot find by walking
    /// the image group prefix.
    pub fn pulled_images(&self) -> PathBuf {
        self.home.join("images.json")
    }

    pub fn pulled_images_lock(&self) -> PathBuf {
        self.home.join("images.lock")
    }

    pub fn daemon_addr(&self) -> PathBuf {
        self.home.join("daemon.addr")
    }

    /// The bearer token the running daemon requires (mode 0600), when it requires one.
    pub fn daemon_token(&self) -> PathBuf {
        self.home.join("daemon.token")
    }

    /// The certificate of a running daemon that serves HTTPS (it does when it requires a token).
    pub fn daemon_cert(&self) -> PathBuf {
        self.home.join("daemon.crt")
    }

    pub fn daemon_lock(&self) -> PathBuf {
        self.home.join("daemon.lock")
    }

    pub fn daemon_log(&self) -> PathBuf {
        self.home.join("daemon.log")
    }

    pub fn store(&self) -> PathBuf {
        self.home.join("store.db")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_app_folder_is_the_name_unless_it_would_clash_or_escape() {
        let id = "0123456789abcdef0123";
        assert_eq!(app_folder_name("web", id), "web");
        assert_eq!(
            app_folder_name("k8s_web_web-abcde_dev", id),
            "k8s_web_web-abcde_dev"
        );
        for bad in [
            "logs",
            "state.json",
            "container.lock",
            "name",
            "",
            "..",
            "a/b",
            &"x".repeat(101),
        ] {
            assert_eq!(app_folder_name(bad, id), "0123456789ab", "{bad}");
        }
    }
}
