//! Service names for the processes jube starts: a block of the hosts file that this daemon owns.
//!
//! Why the hosts file: every resolver reads it (glibc, musl, macOS, Windows, Java, Go), with no
//! server to run and no per-domain resolver setting to install, so one writable file is the
//! least privilege that works on all three systems. Its limit is that names are global: a short
//! name `<svc>` cannot mean "the one in my namespace" per process. So each Service gets its dotted
//! names (`<svc>.<ns>`, `<svc>.<ns>.svc`, `<svc>.<ns>.svc.cluster.local`), and its short name
//! when no other Service of this daemon has that name, or when it is the one in `default`.
//! (glibc's HOSTALIASES would only rewrite names that go to DNS, never those in the hosts file.)
//!
//! Each daemon's block is marked with its JUBE_HOME, so daemons side by side (and parallel
//! tests) keep out of each other's blocks; edits happen under a lock file beside the hosts file
//! and replace it whole.

use std::collections::BTreeMap;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::env_vars::{self, EnvVars};
use crate::fsutil::{self, LockedFile};
use crate::kube::daemon::DaemonLog;
use crate::kube::proxy::ServiceKey;
use crate::layout::Layout;

/// The cluster domain Kubernetes names Services under.
pub const CLUSTER_DOMAIN: &str = "cluster.local";

/// One hosts line: an address and the names that resolve to it.
pub type Entry = (IpAddr, Vec<String>);

/// The system's hosts file, or `JUBE_HOSTS_FILE`.
pub fn hosts_path() -> PathBuf {
    if let Some(path) = env_vars::var(EnvVars::JUBE_HOSTS_FILE) {
        return PathBuf::from(path);
    }
    if cfg!(windows) {
        let root = std::env::var_os("SystemRoot").unwrap_or_else(|| "C:\\Windows".into());
        PathBuf::from(root).join("System32\\drivers\\etc\\hosts")
    } else {
        PathBuf::from("/etc/hosts")
    }
}

/// The names of each Service, by its address. Short names shared by Services of several
/// namespaces go to the one in `default`, or to none.
pub fn entries(services: &[(ServiceKey, IpAddr)]) -> Vec<Entry> {
    let mut namespaces: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (key, _) in services {
        namespaces.entry(&key.name).or_default().push(&key.namespace);
    }
    let mut sorted: Vec<&(ServiceKey, IpAddr)> = services.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    sorted
        .into_iter()
        .map(|(key, ip)| {
            let (svc, ns) = (&key.name, &key.namespace);
            let mut names = vec![
                format!("{svc}.{ns}.svc.{CLUSTER_DOMAIN}"),
                format!("{svc}.{ns}.svc"),
                format!("{svc}.{ns}"),
            ];
            let sharing = &namespaces[svc.as_str()];
            if sharing.len() == 1 || ns == "default" {
                names.push(svc.clone());
            }
            (*ip, names)
        })
        .collect()
}

/// `text` with the block marked `marker` holding `entries` (or no block when there are none),
/// and without the blocks of other daemons `is_gone` says no longer exist; the rest of the file
/// is kept as it is, line endings too (Windows' hosts file has CRLF).
pub fn with_block(text: &str, marker: &str, entries: &[Entry], is_gone: impl Fn(&str) -> bool) -> String {
    let eol = if text.contains("\r\n") || (text.is_empty() && cfg!(windows)) {
        "\r\n"
    } else {
        "\n"
    };
    let (begin, end) = (format!("# BEGIN jube {marker}"), format!("# END jube {marker}"));
    let mut out = String::with_capacity(text.len());
    // The end line of the block being dropped.
    let mut dropping: Option<String> = None;
    for line in text.lines() {
        if let Some(until) = &dropping {
            if line == until {
                dropping = None;
            }
        } else if line == begin {
            dropping = Some(end.clone());
        } else if let Some(other) = line.strip_prefix("# BEGIN jube ").filter(|m| is_gone(m)) {
            dropping = Some(format!("# END jube {other}"));
        } else {
            out.push_str(line);
            out.push_str(eol);
        }
    }
    if !entries.is_empty() {
        out.push_str(&begin);
        out.push_str(eol);
        for (ip, names) in entries {
            out.push_str(&format!("{ip}\t{}{eol}", names.join(" ")));
        }
        out.push_str(&end);
        out.push_str(eol);
    }
    out
}

/// A daemon's block of a hosts file.
pub struct HostsBlock {
    path: PathBuf,
    marker: String,
}

impl HostsBlock {
    pub fn new(path: PathBuf, marker: &str) -> Self {
        // A marker is one line of the file.
        let marker = marker.replace(['\n', '\r'], " ");
        Self { path, marker }
    }

    /// This daemon's block in the system's hosts file (or `JUBE_HOSTS_FILE`).
    pub fn for_daemon(layout: &Layout) -> Self {
        // Absolute, so that another daemon can tell whether this home still exists.
        let home = std::path::absolute(layout.home()).unwrap_or_else(|_| layout.home().to_owned());
        Self::new(hosts_path(), &home.display().to_string())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes the block hold `entries` (none removes it), under the lock, replacing the file whole.
    pub fn write(&self, entries: &[Entry]) -> io::Result<()> {
        let _lock =
            LockedFile::acquire_in_place(&self.lock_path(), "the hosts file").map_err(io::Error::other)?;
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e),
        };
        // A daemon whose home is gone left its block behind (killed, its home removed).
        let updated = with_block(&text, &self.marker, entries, |home| !Path::new(home).exists());
        if updated == text {
            return Ok(());
        }
        let mode = fsutil::mode_of(&self.path).or(Some(0o644));
        match fsutil::write_atomic_mode(&self.path, updated.as_bytes(), mode) {
            Ok(()) => Ok(()),
            // A hosts file bind-mounted into a container cannot be replaced, only rewritten.
            Err(e)
                if e.kind() == io::ErrorKind::ResourceBusy || e.kind() == io::ErrorKind::CrossesDevices =>
            {
                std::fs::write(&self.path, updated)
            }
            Err(e) => Err(e),
        }
    }

    fn lock_path(&self) -> PathBuf {
        let name = self
            .path
            .file_name()
            .map_or_else(|| "hosts".into(), |n| n.to_string_lossy());
        self.path.with_file_name(format!(".{name}.jube.lock"))
    }
}

/// Keeps a daemon's block in step with its Services: writes only when the names change, and
/// warns once (then names what is added) when the file cannot be written.
pub struct ServiceNames {
    block: HostsBlock,
    log: DaemonLog,
    state: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    written: Option<Vec<Entry>>,
    failing: bool,
    /// Whether the warning was given (it waits for the first names that will not resolve).
    warned: bool,
    /// The names already said not to resolve.
    reported: Vec<String>,
}

impl ServiceNames {
    pub fn new(block: HostsBlock, log: DaemonLog) -> Self {
        Self {
            block,
            log,
            state: Mutex::new(Kept::default()),
        }
    }

    /// Brings the block to `entries`.
    pub fn sync(&self, entries: Vec<Entry>) {
        let mut kept = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if kept.written.as_ref() == Some(&entries) {
            return;
        }
        match self.block.write(&entries) {
            Ok(()) => {
                if kept.failing {
                    self.log.line(&format!(
                        "Service names are in {} again",
                        self.block.path().display()
                    ));
                }
                kept.failing = false;
            }
            Err(e) => {
                let new: Vec<String> = (entries.iter().flat_map(|(_, n)| n))
                    .filter(|n| !kept.reported.contains(n))
                    .cloned()
                    .collect();
                if !new.is_empty() && !kept.warned {
                    self.log.warn(&format!(
                        "cannot write Service names into {} ({e}): pods start, but these names will not \
                         resolve: {}. To enable them, run the daemon as root (sudo jube daemon; \
                         Administrator on Windows) or give its user write access to that file and its folder",
                        self.block.path().display(),
                        new.join(", "),
                    ));
                    kept.warned = true;
                } else if !new.is_empty() {
                    self.log.line(&format!(
                        "these Service names will not resolve either: {}",
                        new.join(", ")
                    ));
                }
                kept.reported.extend(new);
                kept.failing = true;
            }
        }
        // Recorded even when the write failed, so that a failing file is tried again only when
        // the names change.
        kept.written = Some(entries);
    }

    /// Takes the block out of the hosts file (the daemon is stopping).
    pub fn clear(&self) {
        let mut kept = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = self.block.write(&[])
            && !kept.failing
        {
            self.log.line(&format!(
                "cannot remove this daemon's Service names from {}: {e}",
                self.block.path().display()
            ));
        }
        kept.written = Some(Vec::new());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn dotted_names_always_short_names_when_unambiguous_or_default() {
        let e = entries(&[
            (ServiceKey::new("shop", "cart"), ip("127.77.0.3")),
            (ServiceKey::new("shop", "redis"), ip("127.77.0.2")),
            (ServiceKey::new("default", "redis"), ip("127.77.0.1")),
            (ServiceKey::new("a", "db"), ip("127.77.0.4")),
            (ServiceKey::new("b", "db"), ip("127.77.0.5")),
        ]);
        let names = |addr: &str| e.iter().find(|(i, _)| *i == ip(addr)).unwrap().1.join(" ");
        assert_eq!(
            names("127.77.0.3"),
            "cart.shop.svc.cluster.local cart.shop.svc cart.shop cart"
        );
        assert_eq!(
            names("127.77.0.1"),
            "redis.default.svc.cluster.local redis.default.svc redis.default redis"
        );
        assert_eq!(
            names("127.77.0.2"),
            "redis.shop.svc.cluster.local redis.shop.svc redis.shop"
        );
        assert!(!names("127.77.0.4").ends_with(" db") && !names("127.77.0.5").ends_with(" db"));
    }

    #[test]
    fn a_block_is_replaced_and_removed_leaving_the_rest_and_other_blocks() {
        let other = "# BEGIN jube /home/b\n127.77.0.9\tx\n# END jube /home/b\n";
        let text = format!("127.0.0.1 localhost\n{other}::1 localhost\n");
        let one = [(ip("127.77.0.1"), vec!["web.default".to_owned(), "web".to_owned()])];
        let kept = |_: &str| false;
        let with = with_block(&text, "/home/a", &one, kept);
        assert_eq!(
            with,
            format!(
                "127.0.0.1 localhost\n{other}::1 localhost\n# BEGIN jube /home/a\n127.77.0.1\tweb.default web\n# END jube /home/a\n"
            )
        );
        let two = [(ip("127.77.0.2"), vec!["db".to_owned()])];
        let replaced = with_block(&with, "/home/a", &two, kept);
        assert!(replaced.contains("127.77.0.2\tdb\n") && !replaced.contains("web"));
        assert_eq!(with_block(&replaced, "/home/a", &[], kept), text);
        // The block of a daemon whose home is gone goes at the next write.
        let swept = with_block(&replaced, "/home/a", &[], |home| home == "/home/b");
        assert_eq!(swept, "127.0.0.1 localhost\n::1 localhost\n");
    }

    #[test]
    fn a_crlf_file_keeps_its_line_endings() {
        let text = "127.0.0.1 localhost\r\n::1 localhost\r\n";
        let one = [(ip("127.77.0.1"), vec!["web".to_owned()])];
        let with = with_block(text, "C:\\jube", &one, |_| false);
        assert_eq!(
            with,
            "127.0.0.1 localhost\r\n::1 localhost\r\n# BEGIN jube C:\\jube\r\n127.77.0.1\tweb\r\n# END jube C:\\jube\r\n"
        );
        assert_eq!(with_block(&with, "C:\\jube", &[], |_| false), text);
    }

    #[test]
    fn the_block_is_written_under_a_lock_and_a_missing_file_is_made() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hosts");
        std::fs::write(&path, "127.0.0.1 localhost\n").unwrap();
        let block = HostsBlock::new(path.clone(), "/home/a\nsneaky");
        block
            .write(&[(ip("127.77.0.1"), vec!["web".to_owned()])])
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("127.0.0.1 localhost\n# BEGIN jube /home/a sneaky\n"),
            "{text}"
        );
        block.write(&[]).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "127.0.0.1 localhost\n");
        let fresh = HostsBlock::new(dir.path().join("none"), "m");
        fresh
            .write(&[(ip("127.77.0.1"), vec!["web".to_owned()])])
            .unwrap();
        assert!(
            std::fs::read_to_string(dir.path().join("none"))
                .unwrap()
                .contains("web")
        );
    }
}
