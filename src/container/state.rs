//! `state.json`: jube's record of one container, and the status machine every command checks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::container::ports::Lease;
use crate::container::process::{Liveness, ProcessId};
use crate::fsutil;
use crate::layout::FORMAT_VERSION;
use crate::maven::coordinates::Coordinates;

/// Where a container is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Installed, never started (or reset by a failed start that started nothing).
    Created,
    Running,
    /// Its process ended; `exit_code` when known.
    Exited,
    /// A script failed or timed out; `error` says why.
    Failed,
}

impl Status {
    pub fn can_start(self) -> bool {
        self != Status::Running
    }

    pub fn can_stop(self) -> bool {
        self == Status::Running
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Exited => "exited",
            Status::Failed => "failed",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the app is launched: through `start.sh` (which writes `process.pid`), or, for images with
/// only `run.sh`, by jube detaching `run.sh` itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Launch {
    StartScript,
    RunScript,
    /// A pod's `command`: jube detaches that argv itself, in APP_BASE, after `env.sh`.
    Command,
}

/// jube's record of a container, written temp-then-rename.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    /// The container folder's name: checked when read back, as is `app_base`.
    #[serde(deserialize_with = "checked_name")]
    pub id: String,
    pub name: String,
    /// The image as the user named it.
    pub image: String,
    pub coordinates: Coordinates,
    /// The zip it was installed from (what `rmi` checks).
    pub image_path: PathBuf,
    /// APP_BASE relative to the container folder (`root`, or `root/<folder>` for images whose files
    /// sit in one top-level folder).
    #[serde(deserialize_with = "relative_folder")]
    pub app_base: PathBuf,
    pub launch: Launch,
    /// The argv of [`Launch::Command`], or with [`Launch::RunScript`] the arguments `run.sh` gets;
    /// each element is one argument.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub argv: Vec<String>,
    pub created: jiff::Timestamp,
    pub status: Status,
    #[serde(default)]
    pub process: Option<ProcessId>,
    /// The session jube created for the app, so a stop reaches children even after the main
    /// process died; `None` when the app left it or runs attached.
    #[serde(default)]
    pub session: Option<u32>,
    /// The app runs in the foreground of a `jube run`, in that command's process group and
    /// session (which it shares with the user's terminal): it is stopped process by process,
    /// through the processes that carry its marker, never by group or session.
    #[serde(default)]
    pub attached: bool,
    /// The OS clock (process start-time units) just before the app was launched.
    #[serde(default)]
    pub launched_ticks: Option<u64>,
    #[serde(default)]
    pub started_at: Option<jiff::Timestamp>,
    #[serde(default)]
    pub finished_at: Option<jiff::Timestamp>,
    #[serde(default)]
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub ports: Vec<Lease>,
    /// The variables jube gives the app (APP_BASE, ports, `-e`), in order.
    #[serde(default)]
    pub env: Vec<(String, String)>,
    /// Names in `env` whose values came from a Secret: `inspect` hides them.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub secret_env: std::collections::BTreeSet<String>,
    /// Free-form labels; the daemon marks the containers it owns.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub restart_count: u32,
    /// How the run before the current one ended (what Kubernetes shows as `lastState`).
    #[serde(default)]
    pub last_run: Option<LastRun>,
    /// The app runs under a container runtime, in namespaces of its own.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub isolated: bool,
}

/// A finished run of a container's app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastRun {
    pub exit_code: Option<i32>,
    pub started_at: Option<jiff::Timestamp>,
    pub finished_at: Option<jiff::Timestamp>,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error(
        "{path} is not a valid container record ({source}); remove the container folder {folder} if it is left over"
    )]
    Corrupt {
        path: PathBuf,
        folder: PathBuf,
        source: serde_json::Error,
    },
    #[error(
        "{path} was written by a newer jube (format {found}, this jube reads {FORMAT_VERSION}); upgrade jube"
    )]
    TooNew { path: PathBuf, found: u32 },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

impl State {
    /// A new run of the app has begun: `process`, in `session` when jube made one, `attached` when
    /// a `jube run` waits for it; nothing of the previous run's end is left.
    pub fn mark_running(
        &mut self,
        process: ProcessId,
        session: Option<u32>,
        attached: bool,
        since: Option<u64>,
    ) {
        self.status = Status::Running;
        self.process = Some(process);
        self.session = session;
        self.attached = attached;
        self.launched_ticks = since;
        self.started_at = Some(jiff::Timestamp::now());
        self.finished_at = None;
        self.exit_code = None;
        self.error = None;
    }

    pub fn load(path: &Path) -> Result<Self, StateError> {
        let bytes = read_small(path).map_err(|source| StateError::Read {
            path: path.to_owned(),
            source,
        })?;
        let parsed = match serde_json::from_slice::<State>(&bytes) {
            Err(e) if e.is_eof() => std::fs::read(path)
                .map_err(|source| StateError::Read {
                    path: path.to_owned(),
                    source,
                })
                .map(|whole| serde_json::from_slice(&whole))?,
            other => other,
        };
        let state = parsed.map_err(|source| StateError::Corrupt {
            path: path.to_owned(),
            folder: path.parent().map(Path::to_owned).unwrap_or_default(),
            source,
        })?;
        if state.version > FORMAT_VERSION {
            return Err(StateError::TooNew {
                path: path.to_owned(),
                found: state.version,
            });
        }
        Ok(state)
    }

    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        let mut bytes = serde_json::to_vec_pretty(self).map_err(|e| StateError::Write {
            path: path.to_owned(),
            source: std::io::Error::other(e),
        })?;
        bytes.push(b'\n');
        // Private: the record holds the container's environment, values a user or manifest gave.
        fsutil::write_atomic_mode(path, &bytes, Some(fsutil::PRIVATE_FILE_MODE)).map_err(|source| {
            StateError::Write {
                path: path.to_owned(),
                source,
            }
        })
    }

    /// The status as the OS sees it now: a running container whose process is gone (or a zombie)
    /// has exited. Returns whether anything changed, so callers save only then.
    pub fn refresh(&mut self) -> bool {
        if self.status != Status::Running {
            return false;
        }
        let alive = self.process.is_some_and(|p| p.liveness() == Liveness::Running);
        if alive {
            return false;
        }
        self.status = Status::Exited;
        self.finished_at = Some(jiff::Timestamp::now());
        true
    }

    pub fn short_id(&self) -> &str {
        &self.id[..self.id.len().min(12)]
    }

    /// `HTTP:48000, JOLOKIA:48001`
    pub fn ports_summary(&self) -> String {
        self.ports
            .iter()
            .map(|l| format!("{}:{}", l.name, l.host_port))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Whether the daemon owns this container (a pod's), so plain `jube rm` must not touch it.
    pub fn owner_pod(&self) -> Option<&str> {
        self.labels.get(POD_LABEL).map(String::as_str)
    }
}

/// Reads a file that is usually a few KiB with as few system calls as possible (`jube ps` reads
/// one per container): no size lookup first, and no extra read to see the end, since a short read
/// of a regular file is its end. [`State::load`] reads again in full should the JSON end early.
fn read_small(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut bytes = vec![0; 8192];
    let mut len = 0;
    loop {
        if len == bytes.len() {
            bytes.resize(len * 2, 0);
        }
        match file.read(&mut bytes[len..]) {
            Ok(0) => break,
            Ok(n) => {
                len += n;
                if len < bytes.len() {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    bytes.truncate(len);
    Ok(bytes)
}

/// A record edited by hand (or by another program) must not point jube outside the container's
/// folder: the id is one folder name.
fn checked_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    crate::pathpart::PathPart::new(&s)
        .map(|p| p.to_string())
        .map_err(serde::de::Error::custom)
}

/// `app_base`: a relative path of checked folder names (`root`, `root/app-1.0`).
fn relative_folder<'de, D: serde::Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
    let s = String::deserialize(d)?;
    for part in s.split(['/', '\\']) {
        crate::pathpart::PathPart::new(part)
            .map_err(|e| serde::de::Error::custom(format!("app_base {e}")))?;
    }
    Ok(PathBuf::from(s))
}

/// The label the daemon puts on a pod's containers: `namespace/name`.
pub const POD_LABEL: &str = "jube.io/pod";

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> State {
        State {
            version: FORMAT_VERSION,
            id: "a".repeat(64),
            name: "brave_turing".into(),
            image: "fabric8/java".into(),
            coordinates: Coordinates::new("g", "a", "1", Some("image"), "zip").unwrap(),
            image_path: "/repo/a-1-image.zip".into(),
            app_base: "root".into(),
            launch: Launch::StartScript,
            argv: Vec::new(),
            created: jiff::Timestamp::now(),
            status: Status::Running,
            process: Some(ProcessId {
                pid: u32::MAX - 1,
                start_time: 1,
            }),
            session: None,
            attached: false,
            launched_ticks: None,
            started_at: None,
            finished_at: None,
            exit_code: None,
            error: None,
            ports: vec![Lease {
                name: "HTTP".into(),
                container_port: 8080,
                host_port: 48000,
            }],
            env: vec![],
            secret_env: Default::default(),
            labels: BTreeMap::new(),
            restart_count: 0,
            last_run: None,
            isolated: false,
        }
    }

    #[test]
    fn round_trips_and_refreshes_a_dead_process_to_exited() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let mut s = sample();
        s.save(&path).unwrap();
        let mut loaded = State::load(&path).unwrap();
        assert_eq!(loaded.ports_summary(), "HTTP:48000");
        assert!(loaded.refresh(), "a pid that does not exist is not running");
        assert_eq!(loaded.status, Status::Exited);
        assert!(!loaded.refresh(), "refreshing again changes nothing");
        s.status = Status::Created;
        assert!(!s.refresh());
    }

    #[test]
    fn read_small_reads_files_larger_than_its_first_buffer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        let data: Vec<u8> = (0..20_000u32).map(|i| i as u8).collect();
        std::fs::write(&path, &data).unwrap();
        assert_eq!(read_small(&path).unwrap(), data);
        std::fs::write(&path, b"").unwrap();
        assert!(read_small(&path).unwrap().is_empty());
        assert!(read_small(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn own_process_stays_running() {
        let mut s = sample();
        s.process = ProcessId::capture(std::process::id());
        assert!(!s.refresh());
        assert_eq!(s.status, Status::Running);
    }

    #[test]
    fn corrupt_and_newer_records_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, b"{ not json").unwrap();
        let e = State::load(&path).unwrap_err().to_string();
        assert!(
            e.contains("state.json") && e.contains("not a valid container record"),
            "{e}"
        );
        let mut s = sample();
        s.version = FORMAT_VERSION + 1;
        s.save(&path).unwrap();
        assert!(State::load(&path).unwrap_err().to_string().contains("newer jube"));
    }

    #[test]
    fn coordinates_read_back_are_checked_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let mut s = sample();
        s.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        // Records keep the field layout they always had, so older ones still read.
        assert!(
            text.contains(r#""version": "1""#) && text.contains(r#""group_id": "g""#),
            "{text}"
        );
        for (field, bad) in [
            ("version", "../../x"),
            ("group_id", "g..h"),
            ("extension", "C:"),
            ("app_base", "root/../../.."),
            ("app_base", "/etc"),
            ("id", ".."),
        ] {
            s.coordinates = Coordinates::new("g", "a", "1", Some("image"), "zip").unwrap();
            s.save(&path).unwrap();
            let good = std::fs::read_to_string(&path).unwrap();
            let from = match field {
                "version" => r#""version": "1""#.to_owned(),
                "group_id" => r#""group_id": "g""#.to_owned(),
                "app_base" => r#""app_base": "root""#.to_owned(),
                "id" => format!(r#""id": "{}""#, "a".repeat(64)),
                _ => r#""extension": "zip""#.to_owned(),
            };
            let tampered = good.replacen(&from, &format!(r#""{field}": "{bad}""#), 1);
            assert_ne!(tampered, good);
            std::fs::write(&path, tampered).unwrap();
            let e = State::load(&path).unwrap_err().to_string();
            assert!(
                e.contains("not a valid container record") && e.contains("cannot be a file or folder name"),
                "{field}: {e}"
            );
        }
    }

    #[test]
    fn transitions_are_guarded() {
        assert!(Status::Created.can_start() && Status::Exited.can_start() && Status::Failed.can_start());
        assert!(!Status::Running.can_start());
        assert!(Status::Running.can_stop() && !Status::Exited.can_stop());
    }
}
