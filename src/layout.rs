//! Where jube keeps its own files. Every path under `JUBE_HOME` comes from here.

use std::path::{Path, PathBuf};

use crate::env_vars::{self, EnvVars};

/// The version of jube's on-disk formats (state.json, the lease table); bumped on any change
/// that an older jube would misread.
pub const FORMAT_VERSION: u32 = 1;

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

    pub fn containers_dir(&self) -> PathBuf {
        self.home.join("containers")
    }

    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.containers_dir().join(id)
    }

    pub fn container_state(&self, id: &str) -> PathBuf {
        self.container_dir(id).join("state.json")
    }

    pub fn container_root(&self, id: &str) -> PathBuf {
        self.container_dir(id).join("root")
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
