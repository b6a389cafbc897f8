//! Host ports: what an image asks for in ports.properties, and the table of host ports leased to
//! containers, which every jube process shares through a file lock.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::env_vars::{self, EnvVars};
use crate::fsutil::{self, LockError, LockedFile};
use crate::layout::{FORMAT_VERSION, Layout};

/// Why ports could not be read or leased.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("could not read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path}{}: {detail}", at_line(*line))]
    Syntax {
        path: PathBuf,
        line: Option<usize>,
        detail: String,
    },
    #[error("{path}: port `{key}` is `{value}`, which is not a port number (1 to 65535)")]
    BadPort {
        path: PathBuf,
        key: String,
        value: String,
    },
    #[error(
        "{path}: port name `{}` holds a control character (a line break, NUL or tab); `jube port` \
         prints one port per line, so names must be printable",
        key.escape_debug()
    )]
    BadName { path: PathBuf, key: String },
    #[error("{var}=`{value}` is not a port number (1 to 65535)")]
    BadRangeValue { var: &'static str, value: String },
    #[error("the host port range is empty: {start_var}={start} is above {end_var}={end}")]
    EmptyRange {
        start: u16,
        end: u16,
        start_var: &'static str,
        end_var: &'static str,
    },
    #[error("the port request names `{name}` twice")]
    DuplicateName { name: String },
    #[error("host port {port} for `{name}` is taken: {holder}; choose another host port")]
    Taken { port: u16, name: String, holder: String },
    #[error(
        "no free host port left between {start} and {end} (for `{name}`); widen the range with \
         {start_var} and {end_var}, or remove containers you no longer need"
    )]
    Exhausted {
        name: String,
        start: u16,
        end: u16,
        start_var: &'static str,
        end_var: &'static str,
    },
    #[error(
        "the port lease table {path} is unreadable ({detail}); remove it and jube starts a new one \
         (it then forgets which ports running containers hold)"
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error("could not write the port lease table {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Lock(#[from] LockError),
}

fn at_line(line: Option<usize>) -> String {
    line.map(|l| format!(", line {l}")).unwrap_or_default()
}

/// The ports an image declares in ports.properties, `name=container port`, in file order (a
/// repeated name keeps its first place and its last value). A missing file declares none.
pub fn read_ports(path: &Path) -> Result<Vec<(String, u16)>, PortError> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(PortError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let mut bytes = Vec::new();
    io::Read::read_to_end(&mut io::BufReader::new(file), &mut bytes).map_err(|source| PortError::Read {
        path: path.to_owned(),
        source,
    })?;
    let lines = crate::properties::parse(&bytes);
    let mut ports: Vec<(String, u16)> = Vec::new();
    for line in lines {
        let line = line.map_err(|e| PortError::Syntax {
            path: path.to_owned(),
            line: e.line_number(),
            detail: e.to_string(),
        })?;
        let java_properties::LineContent::KVPair(key, value) = line.consume_content() else {
            continue;
        };
        // Other characters are carried: the variable name maps them to `_`, and `jube port`
        // prints the name as it is.
        if key.is_empty() || key.chars().any(char::is_control) {
            return Err(PortError::BadName {
                path: path.to_owned(),
                key,
            });
        }
        let port = parse_port(&value).ok_or_else(|| PortError::BadPort {
            path: path.to_owned(),
            key: key.clone(),
            value: value.clone(),
        })?;
        match ports.iter_mut().find(|(name, _)| *name == key) {
            Some(existing) => existing.1 = port,
            None => ports.push((key, port)),
        }
    }
    Ok(ports)
}

fn parse_port(value: &str) -> Option<u16> {
    value.trim().parse().ok().filter(|p| *p != 0)
}

/// The host ports jube chooses from when a port has no fixed host port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
}

impl PortRange {
    pub const DEFAULT_START: u16 = 48000;
    pub const DEFAULT_END: u16 = 65535;

    /// `JUBE_PORT_START`..=`JUBE_PORT_END`, by default 48000..=65535.
    pub fn from_env() -> Result<Self, PortError> {
        Self::from_values(
            env_vars::var(EnvVars::JUBE_PORT_START).as_deref(),
            env_vars::var(EnvVars::JUBE_PORT_END).as_deref(),
        )
    }

    /// The range from the two variables' values, as [`PortRange::from_env`] reads them.
    pub fn from_values(start: Option<&str>, end: Option<&str>) -> Result<Self, PortError> {
        let read = |value: Option<&str>, var: &'static str, default: u16| match value {
            None => Ok(default),
            Some(value) => parse_port(value).ok_or_else(|| PortError::BadRangeValue {
                var,
                value: value.to_owned(),
            }),
        };
        let start = read(start, EnvVars::JUBE_PORT_START, Self::DEFAULT_START)?;
        let end = read(end, EnvVars::JUBE_PORT_END, Self::DEFAULT_END)?;
        if start > end {
            return Err(PortError::EmptyRange {
                start,
                end,
                start_var: EnvVars::JUBE_PORT_START,
                end_var: EnvVars::JUBE_PORT_END,
            });
        }
        Ok(Self { start, end })
    }
}

/// A port a container wants: a fixed host port, or any free one from the range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortRequest {
    pub name: String,
    pub container_port: u16,
    pub host_port: Option<u16>,
}

/// A host port held by a container.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Lease {
    pub name: String,
    pub container_port: u16,
    pub host_port: u16,
}

/// The lease table as stored in `ports.json`.
#[derive(Serialize, Deserialize)]
struct Table {
    version: u32,
    #[serde(default)]
    leases: BTreeMap<String, Vec<Lease>>,
}

#[derive(Deserialize)]
struct VersionOnly {
    version: u32,
}

const LOCK_RESOURCE: &str = "the port lease table";

/// Leases a host port for each request to `owner`, all or none: on any error the table is left as
/// it was. Leases of owners that are no longer live are dropped first; `owner`'s own earlier
/// leases are given back unchanged for the same names.
pub fn lease(
    layout: &Layout,
    owner: &str,
    requests: &[PortRequest],
    range: PortRange,
    is_live: &dyn Fn(&str) -> bool,
) -> Result<Vec<Lease>, PortError> {
    check_unique_names(requests)?;
    let _lock = LockedFile::acquire(&layout.leases_lock(), LOCK_RESOURCE)?;
    let path = layout.leases();
    let mut table = read_table(&path)?;
    table.retain(|other, _| other == owner || is_live(other));
    let previous = table.remove(owner).unwrap_or_default();
    let leases = choose(&table, &previous, requests, range)?;
    if !leases.is_empty() {
        table.insert(owner.to_owned(), leases.clone());
    }
    write_table(&path, &table)?;
    Ok(leases)
}

/// Gives back every host port `owner` holds.
pub fn release(layout: &Layout, owner: &str) -> Result<(), PortError> {
    let _lock = LockedFile::acquire(&layout.leases_lock(), LOCK_RESOURCE)?;
    let path = layout.leases();
    let mut table = read_table(&path)?;
    if table.remove(owner).is_some() {
        write_table(&path, &table)?;
    }
    Ok(())
}

/// The host ports `owner` holds. Reads without the lock: the table is only ever replaced whole.
pub fn leases_of(layout: &Layout, owner: &str) -> Result<Vec<Lease>, PortError> {
    Ok(read_table(&layout.leases())?.remove(owner).unwrap_or_default())
}

/// Every owner's leases.
pub fn all_leases(layout: &Layout) -> Result<BTreeMap<String, Vec<Lease>>, PortError> {
    read_table(&layout.leases())
}

fn check_unique_names(requests: &[PortRequest]) -> Result<(), PortError> {
    let mut seen = HashSet::new();
    for request in requests {
        if !seen.insert(request.name.as_str()) {
            return Err(PortError::DuplicateName {
                name: request.name.clone(),
            });
        }
    }
    Ok(())
}

/// Picks the host ports for `requests`, given the other owners' leases in `table`.
fn choose(
    table: &BTreeMap<String, Vec<Lease>>,
    previous: &[Lease],
    requests: &[PortRequest],
    range: PortRange,
) -> Result<Vec<Lease>, PortError> {
    let holders: HashMap<u16, &str> = table
        .iter()
        .flat_map(|(owner, leases)| leases.iter().map(move |l| (l.host_port, owner.as_str())))
        .collect();
    // Earlier leases first, so that a new request never takes a port an old one keeps.
    let kept: Vec<Option<u16>> = requests
        .iter()
        .map(|request| {
            previous
                .iter()
                .find(|l| l.name == request.name && request.host_port.is_none_or(|p| p == l.host_port))
                .map(|l| l.host_port)
        })
        .collect();
    let mut taken: HashMap<u16, &str> = requests
        .iter()
        .zip(&kept)
        .filter_map(|(request, port)| port.map(|p| (p, request.name.as_str())))
        .collect();
    let mut leases = Vec::with_capacity(requests.len());
    for (request, kept) in requests.iter().zip(kept) {
        let host_port = match (kept, request.host_port) {
            (Some(port), _) => port,
            (None, Some(port)) => check_fixed(port, request, &holders, &taken)?,
            (None, None) => lowest_free(range, request, &holders, &taken)?,
        };
        taken.insert(host_port, &request.name);
        leases.push(Lease {
            name: request.name.clone(),
            container_port: request.container_port,
            host_port,
        });
    }
    Ok(leases)
}

fn check_fixed(
    port: u16,
    request: &PortRequest,
    holders: &HashMap<u16, &str>,
    taken: &HashMap<u16, &str>,
) -> Result<u16, PortError> {
    let holder = if let Some(owner) = holders.get(&port) {
        // Container IDs are shown as 12 characters everywhere else (`jube ps`).
        format!(
            "it is leased to container {}",
            owner.chars().take(12).collect::<String>()
        )
    } else if let Some(other) = taken.get(&port) {
        format!("this container's port `{other}` has it")
    } else if !is_free(port) {
        "another program listens on it".to_owned()
    } else {
        return Ok(port);
    };
    Err(PortError::Taken {
        port,
        name: request.name.clone(),
        holder,
    })
}

fn lowest_free(
    range: PortRange,
    request: &PortRequest,
    holders: &HashMap<u16, &str>,
    taken: &HashMap<u16, &str>,
) -> Result<u16, PortError> {
    (range.start..=range.end)
        .find(|port| !holders.contains_key(port) && !taken.contains_key(port) && is_free(*port))
        .ok_or_else(|| PortError::Exhausted {
            name: request.name.clone(),
            start: range.start,
            end: range.end,
            start_var: EnvVars::JUBE_PORT_START,
            end_var: EnvVars::JUBE_PORT_END,
        })
}

/// Whether a program could listen on `port`. The wildcard address is what containers bind; on
/// BSDs and macOS a bind there succeeds beside a loopback-only listener, so loopback is probed too.
fn is_free(port: u16) -> bool {
    [Ipv4Addr::UNSPECIFIED, Ipv4Addr::LOCALHOST]
        .into_iter()
        .all(|ip| TcpListener::bind((ip, port)).is_ok())
}

fn read_table(path: &Path) -> Result<BTreeMap<String, Vec<Lease>>, PortError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(source) => {
            return Err(PortError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let corrupt = |detail: String| PortError::Corrupt {
        path: path.to_owned(),
        detail,
    };
    let version: VersionOnly = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
    if version.version != FORMAT_VERSION {
        return Err(corrupt(format!(
            "it is in format {}, this jube reads format {FORMAT_VERSION}",
            version.version
        )));
    }
    let table: Table = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
    Ok(table.leases)
}

fn write_table(path: &Path, leases: &BTreeMap<String, Vec<Lease>>) -> Result<(), PortError> {
    let table = Table {
        version: FORMAT_VERSION,
        leases: leases.clone(),
    };
    let write_error = |source| PortError::Write {
        path: path.to_owned(),
        source,
    };
    let json = serde_json::to_vec_pretty(&table).map_err(|e| write_error(io::Error::other(e)))?;
    fsutil::write_atomic(path, &json).map_err(write_error)
}

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::*;

    #[test]
    fn crlf_ports_properties_read_as_lf() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ports.properties");
        std::fs::write(&path, "# Windows editor\r\nHTTP=8080\r\nJOLOKIA = 8778\r\n").unwrap();
        assert_eq!(
            read_ports(&path).unwrap(),
            [("HTTP".to_owned(), 8080), ("JOLOKIA".to_owned(), 8778)]
        );
    }

    /// A range of `width` ports from a random base in 20000..30000, so tests running at the same
    /// time rarely meet.
    fn random_range(width: u16) -> PortRange {
        let random = std::collections::hash_map::RandomState::new().hash_one(std::thread::current().id());
        let start = 20000 + (random % u64::from(10000 - width)) as u16;
        PortRange {
            start,
            end: start + width - 1,
        }
    }

    fn request(name: &str, container_port: u16, host_port: Option<u16>) -> PortRequest {
        PortRequest {
            name: name.to_owned(),
            container_port,
            host_port,
        }
    }

    fn auto(names: &[&str]) -> Vec<PortRequest> {
        names.iter().map(|n| request(n, 8080, None)).collect()
    }

    fn live(_: &str) -> bool {
        true
    }

    fn home() -> (tempfile::TempDir, Layout) {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path().join("jube"));
        (dir, layout)
    }

    fn host_ports(leases: &[Lease]) -> Vec<u16> {
        leases.iter().map(|l| l.host_port).collect()
    }

    fn write_props(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ports.properties");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn ports_properties_are_read_in_file_order() {
        let (_dir, path) = write_props(
            "# ports\n! also a comment\nhttp=8080\njolokia-agent : 8778\nadmin 9990\n  spaced\\ name = 1 \nweird\\u0041=2\nhttp=8081\n",
        );
        assert_eq!(
            read_ports(&path).unwrap(),
            vec![
                ("http".to_owned(), 8081),
                ("jolokia-agent".to_owned(), 8778),
                ("admin".to_owned(), 9990),
                ("spaced name".to_owned(), 1),
                ("weirdA".to_owned(), 2),
            ]
        );
    }

    #[test]
    fn missing_ports_properties_declares_nothing() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_ports(&dir.path().join("ports.properties")).unwrap(), vec![]);
    }

    #[test]
    fn bad_ports_name_file_key_and_value() {
        for value in ["abc", "0", "65536", "-1", "", "80 80"] {
            let (_dir, path) = write_props(&format!("http=8080\nadmin={value}\n"));
            let err = read_ports(&path).unwrap_err();
            let message = err.to_string();
            assert!(matches!(err, PortError::BadPort { .. }), "{value}: {message}");
            assert!(message.contains("ports.properties"), "{message}");
            assert!(
                message.contains("`admin`") && message.contains(&format!("`{value}`")),
                "{message}"
            );
        }
        let (_dir, path) = write_props("http=\\uZZZZ\n");
        let err = read_ports(&path).unwrap_err();
        assert!(matches!(err, PortError::Syntax { .. }), "{err}");
    }

    #[test]
    fn range_from_values() {
        assert_eq!(
            PortRange::from_values(None, None).unwrap(),
            PortRange {
                start: 48000,
                end: 65535
            }
        );
        assert_eq!(
            PortRange::from_values(Some("1000"), Some(" 1000 ")).unwrap(),
            PortRange {
                start: 1000,
                end: 1000
            }
        );
        let err = PortRange::from_values(Some("x"), None).unwrap_err();
        assert!(err.to_string().contains("JUBE_PORT_START"), "{err}");
        let err = PortRange::from_values(None, Some("70000")).unwrap_err();
        assert!(err.to_string().contains("JUBE_PORT_END"), "{err}");
        let err = PortRange::from_values(Some("2000"), Some("1999")).unwrap_err();
        assert!(
            matches!(
                err,
                PortError::EmptyRange {
                    start: 2000,
                    end: 1999,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn lowest_free_ports_are_chosen() {
        let (_dir, layout) = home();
        let range = random_range(64);
        let leases = lease(&layout, "c1", &auto(&["http", "admin"]), range, &live).unwrap();
        assert_eq!(host_ports(&leases), vec![range.start, range.start + 1]);
        assert_eq!(leases[0].name, "http");
        let more = lease(&layout, "c2", &auto(&["http"]), range, &live).unwrap();
        assert_eq!(host_ports(&more), vec![range.start + 2]);
        assert_eq!(leases_of(&layout, "c1").unwrap(), leases);
        assert_eq!(all_leases(&layout).unwrap().len(), 2);
    }

    #[test]
    fn a_port_someone_listens_on_is_skipped() {
        let (_dir, layout) = home();
        let range = random_range(64);
        let _listener = TcpListener::bind((Ipv4Addr::LOCALHOST, range.start)).unwrap();
        let leases = lease(&layout, "c1", &auto(&["http"]), range, &live).unwrap();
        assert_eq!(host_ports(&leases), vec![range.start + 1]);
    }

    #[test]
    fn a_fixed_port_that_is_leased_or_listened_on_is_refused() {
        let (_dir, layout) = home();
        let range = random_range(64);
        lease(&layout, "c1", &auto(&["http"]), range, &live).unwrap();
        let err = lease(
            &layout,
            "c2",
            &[request("web", 80, Some(range.start))],
            range,
            &live,
        )
        .unwrap_err();
        assert!(
            matches!(err, PortError::Taken { port, .. } if port == range.start),
            "{err}"
        );
        assert!(err.to_string().contains("container c1"), "{err}");

        let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, range.end)).unwrap();
        let err = lease(
            &layout,
            "c2",
            &[request("web", 80, Some(range.end))],
            range,
            &live,
        )
        .unwrap_err();
        assert!(err.to_string().contains("another program listens"), "{err}");
        drop(listener);
        let leases = lease(
            &layout,
            "c2",
            &[request("web", 80, Some(range.end))],
            range,
            &live,
        )
        .unwrap();
        assert_eq!(host_ports(&leases), vec![range.end]);
    }

    #[test]
    fn duplicate_fixed_ports_or_names_in_one_request_are_refused() {
        let (_dir, layout) = home();
        let range = random_range(64);
        let fixed = Some(range.start + 5);
        let err = lease(
            &layout,
            "c1",
            &[request("a", 1, fixed), request("b", 2, fixed)],
            range,
            &live,
        )
        .unwrap_err();
        assert!(err.to_string().contains("port `a`"), "{err}");
        let err = lease(&layout, "c1", &auto(&["a", "a"]), range, &live).unwrap_err();
        assert!(matches!(err, PortError::DuplicateName { .. }), "{err}");
        assert!(!layout.leases().exists(), "nothing written");
    }

    #[test]
    fn leases_of_dead_owners_are_reclaimed() {
        let (_dir, layout) = home();
        let range = random_range(64);
        lease(&layout, "gone", &auto(&["http"]), range, &live).unwrap();
        let still_live = |owner: &str| owner != "gone";
        let leases = lease(&layout, "new", &auto(&["http"]), range, &still_live).unwrap();
        assert_eq!(host_ports(&leases), vec![range.start]);
        let all = all_leases(&layout).unwrap();
        assert_eq!(all.keys().collect::<Vec<_>>(), vec!["new"]);
    }

    #[test]
    fn re_lease_gives_back_the_same_ports() {
        let (_dir, layout) = home();
        let range = random_range(64);
        let first = lease(&layout, "c1", &auto(&["http", "admin"]), range, &live).unwrap();
        lease(&layout, "c2", &auto(&["http"]), range, &live).unwrap();
        // c1 re-leases while its app still listens on its port: no probe may refuse it.
        let _listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, first[0].host_port)).unwrap();
        let again = lease(&layout, "c1", &auto(&["admin", "http"]), range, &live).unwrap();
        assert_eq!(host_ports(&again), vec![first[1].host_port, first[0].host_port]);
        // A new name gets a new port; a name no longer asked for is given back.
        let changed = lease(&layout, "c1", &auto(&["http", "debug"]), range, &live).unwrap();
        assert_eq!(changed[0], first[0]);
        assert_eq!(
            changed[1].host_port, first[1].host_port,
            "admin's old port was given back"
        );
        assert_eq!(leases_of(&layout, "c1").unwrap(), changed);
    }

    #[test]
    fn exhausted_range_names_the_range_and_variables_and_writes_nothing() {
        let (_dir, layout) = home();
        let range = random_range(2);
        let first = lease(&layout, "c1", &auto(&["a"]), range, &live).unwrap();
        let before = std::fs::read(layout.leases()).unwrap();
        let err = lease(&layout, "c2", &auto(&["a", "b"]), range, &live).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, PortError::Exhausted { .. }), "{message}");
        assert!(
            message.contains(&format!("between {} and {}", range.start, range.end)),
            "{message}"
        );
        assert!(
            message.contains("JUBE_PORT_START") && message.contains("JUBE_PORT_END"),
            "{message}"
        );
        assert_eq!(std::fs::read(layout.leases()).unwrap(), before, "all or nothing");
        assert_eq!(leases_of(&layout, "c2").unwrap(), vec![]);
        assert_eq!(leases_of(&layout, "c1").unwrap(), first);
    }

    #[test]
    fn release_gives_the_ports_back() {
        let (_dir, layout) = home();
        let range = random_range(64);
        lease(&layout, "c1", &auto(&["http"]), range, &live).unwrap();
        release(&layout, "c1").unwrap();
        release(&layout, "never-leased").unwrap();
        assert_eq!(leases_of(&layout, "c1").unwrap(), vec![]);
        let leases = lease(&layout, "c2", &auto(&["http"]), range, &live).unwrap();
        assert_eq!(host_ports(&leases), vec![range.start]);
    }

    #[test]
    fn a_corrupt_or_foreign_table_is_an_error_that_says_remove_it() {
        let (_dir, layout) = home();
        let range = random_range(64);
        std::fs::create_dir_all(layout.home()).unwrap();
        for text in [
            "{not json",
            "",
            "{\"version\": 99, \"leases\": {}}",
            "{\"version\": 1, \"leases\": 3}",
        ] {
            std::fs::write(layout.leases(), text).unwrap();
            let err = lease(&layout, "c1", &auto(&["http"]), range, &live).unwrap_err();
            let message = err.to_string();
            assert!(matches!(err, PortError::Corrupt { .. }), "{text}: {message}");
            assert!(
                message.contains("ports.json") && message.contains("remove it"),
                "{message}"
            );
            assert_eq!(
                std::fs::read_to_string(layout.leases()).unwrap(),
                text,
                "left as it was"
            );
            assert!(all_leases(&layout).is_err());
        }
    }

    #[test]
    fn table_is_versioned_json() {
        let (_dir, layout) = home();
        let range = random_range(64);
        lease(&layout, "c1", &[request("http", 8080, None)], range, &live).unwrap();
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(layout.leases()).unwrap()).unwrap();
        assert_eq!(json["version"], FORMAT_VERSION);
        assert_eq!(json["leases"]["c1"][0]["container_port"], 8080);
        assert_eq!(json["leases"]["c1"][0]["host_port"], range.start);
    }

    #[test]
    fn parallel_leases_never_share_a_port() {
        let (_dir, layout) = home();
        let range = random_range(400);
        let results: Vec<Vec<Lease>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..50)
                .map(|i| {
                    let layout = &layout;
                    scope.spawn(move || {
                        lease(layout, &format!("c{i}"), &auto(&["a", "b", "c"]), range, &live).unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let ports: HashSet<u16> = results.iter().flat_map(|l| host_ports(l)).collect();
        assert_eq!(ports.len(), 150);
        assert!(ports.iter().all(|p| (range.start..=range.end).contains(p)));
        let table = all_leases(&layout).unwrap();
        assert_eq!(table.len(), 50);
        let stored: HashSet<u16> = table.values().flat_map(|l| host_ports(l)).collect();
        assert_eq!(stored, ports);
    }

    #[test]
    fn regression_fuzz_a_lone_0xff_byte_crashed_the_properties_reader() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ports.properties");
        std::fs::write(&path, [0xff]).unwrap();
        // Read as the ISO-8859-1 it is: the key `ÿ` with no value, which is no port.
        let err = read_ports(&path).unwrap_err().to_string();
        assert!(
            err.contains("port `ÿ` is ``, which is not a port number"),
            "{err}"
        );
    }
}
