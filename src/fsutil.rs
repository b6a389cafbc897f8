//! File helpers shared by every module: atomic writes and named, time-limited file locks.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::env_vars::{self, EnvVars};

/// Writes `contents` to a temp file beside `path`, then renames it into place, so a reader sees
/// either the old file or the new one, never a torn one.
pub fn write_atomic(path: &Path, mut contents: &[u8]) -> io::Result<()> {
    write_atomic_impl(path, &mut contents, None)
}

/// Like [`write_atomic`], with the contents copied from `reader` as they are read (a large file
/// is never held in memory).
pub fn write_atomic_from(path: &Path, reader: &mut impl io::Read) -> io::Result<()> {
    write_atomic_impl(path, reader, None)
}

/// Like [`write_atomic`], with the unix mode given (0600 for a file holding a user's values, 0700
/// for a script of theirs). The temp file is created with that mode, before any byte is written,
/// so there is no moment when a wider mode exposes the contents.
pub fn write_atomic_mode(path: &Path, mut contents: &[u8], mode: Option<u32>) -> io::Result<()> {
    write_atomic_impl(path, &mut contents, mode)
}

/// A file private to its owner: jube's records and the env files, which hold values users and
/// manifests supply (passwords and tokens among them).
pub const PRIVATE_FILE_MODE: u32 = 0o600;

fn write_atomic_impl(path: &Path, reader: &mut impl io::Read, mode: Option<u32>) -> io::Result<()> {
    let dir = parent_dir(path);
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut builder = temp_builder(".tmp-");
    #[cfg(unix)]
    if let Some(mode) = mode {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(mode));
    }
    // Windows has no modes: its files are private through the folder's ACL.
    #[cfg(not(unix))]
    let _ = mode;
    let mut tmp = builder.tempfile_in(dir).map_err(|e| with_path(e, dir))?;
    // The umask may have taken bits away at creation; it never adds any, so setting the exact
    // mode now (still before any byte is written) widens nothing beyond what was asked.
    #[cfg(unix)]
    if let Some(mode) = mode {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(|e| with_path(e, path))?;
    }
    io::copy(reader, &mut tmp).map_err(|e| with_path(e, path))?;
    tmp.as_file().sync_data().map_err(|e| with_path(e, path))?;
    tmp.persist(path).map_err(|e| with_path(e.error, path))?;
    Ok(())
}

/// Opens `path` for appending, creating it private to its owner (0600 on unix) and narrowing an
/// existing one: for logs and databases that may hold what users and manifests supply.
pub fn open_private_append(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, PRIVATE_FILE_MODE);
    let file = options.open(path).map_err(|e| with_path(e, path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(PRIVATE_FILE_MODE))
            .map_err(|e| with_path(e, path))?;
    }
    Ok(file)
}

#[cfg(unix)]
pub fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| with_path(e, path))
}

#[cfg(not(unix))]
pub fn set_mode(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(unix)]
pub fn mode_of(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
pub fn mode_of(_path: &Path) -> Option<u32> {
    None
}

/// A temp-file builder whose files get the usual 0644 instead of tempfile's private 0600, so a
/// file renamed into the Maven repository or a container is readable like any other.
pub fn temp_builder(prefix: &str) -> tempfile::Builder<'_, '_> {
    let mut b = tempfile::Builder::new();
    b.prefix(prefix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(0o644));
    }
    b
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// What to add to the message of an I/O error that ran out of space: a full disk is the user's to
/// fix, and "os error 28" alone does not say so plainly. Empty for any other error.
pub fn disk_full_hint(err: &io::Error) -> &'static str {
    match err.kind() {
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => {
            " (the disk is full: free some space on the file system that holds this path, or point \
             jube at another one, then try again; nothing half-written was kept)"
        }
        _ => "",
    }
}

/// Adds the path to an I/O error's message, so "No such file" always says which file.
pub fn with_path(err: io::Error, path: &Path) -> io::Error {
    io::Error::new(err.kind(), format!("{}: {err}", path.display()))
}

/// An exclusive lock on a file, released when dropped.
#[must_use = "the lock is released as soon as the guard is dropped"]
#[derive(Debug)]
pub struct LockedFile {
    file: File,
    path: PathBuf,
}

/// Why a lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("could not open lock file {path}: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error(
        "timed out after {secs}s waiting for the lock on {resource} ({path}); another jube process may be \
         running. Raise {var} to wait longer"
    )]
    Timeout {
        resource: String,
        path: PathBuf,
        secs: u64,
        var: &'static str,
    },
}

impl LockedFile {
    /// Takes an exclusive lock on `path` (created if missing, with its folder). Tries at once, then
    /// waits, giving up after `JUBE_LOCK_TIMEOUT` seconds with an error that names `resource`.
    pub fn acquire(path: &Path, resource: &str) -> Result<Self, LockError> {
        create_parent(path);
        Self::acquire_in_place(path, resource)
    }

    /// Like [`LockedFile::acquire`], but never creates the lock file's folder: locking something
    /// that is being removed must not bring its folder back.
    pub fn acquire_in_place(path: &Path, resource: &str) -> Result<Self, LockError> {
        let file = open_lock_file(path)?;
        if file.try_lock().is_ok() {
            return Ok(Self {
                file,
                path: path.to_owned(),
            });
        }
        let secs = lock_timeout_secs();
        let deadline = Instant::now() + Duration::from_secs(secs);
        let started = Instant::now();
        let mut pause = Duration::from_micros(500);
        loop {
            if file.try_lock().is_ok() {
                return Ok(Self {
                    file,
                    path: path.to_owned(),
                });
            }
            if Instant::now() >= deadline {
                return Err(LockError::Timeout {
                    resource: resource.to_owned(),
                    path: path.to_owned(),
                    secs,
                    var: EnvVars::JUBE_LOCK_TIMEOUT,
                });
            }
            std::thread::sleep(pause);
            // A lock is usually held for a few milliseconds by each of many waiters (creates,
            // leases): polling slowly would leave it free while they sleep. One held for long
            // (a download) is polled less often.
            let most = if started.elapsed() < Duration::from_secs(1) {
                5
            } else {
                50
            };
            pause = (pause * 2).min(Duration::from_millis(most));
        }
    }

    /// Takes the lock if it is free right now; `None` when another process holds it.
    pub fn try_acquire(path: &Path) -> Result<Option<Self>, LockError> {
        create_parent(path);
        Self::try_acquire_in_place(path)
    }

    /// Like [`LockedFile::try_acquire`], without creating the lock file's folder.
    pub fn try_acquire_in_place(path: &Path) -> Result<Option<Self>, LockError> {
        let file = open_lock_file(path)?;
        Ok(match file.try_lock() {
            Ok(()) => Some(Self {
                file,
                path: path.to_owned(),
            }),
            Err(_) => None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file(&self) -> &File {
        &self.file
    }

    /// Whether the locked file is still the one at [`LockedFile::path`]: a lock taken on a file
    /// that was unlinked (or replaced) in the meantime guards nothing.
    pub fn is_at_its_path(&self) -> bool {
        let (Ok(held), Ok(named)) = (self.file.metadata(), std::fs::metadata(&self.path)) else {
            return false;
        };
        same_file(&held, &named)
    }
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

/// Windows does not let a file that is open be unlinked, so the name still means the same file.
#[cfg(not(unix))]
fn same_file(_a: &std::fs::Metadata, _b: &std::fs::Metadata) -> bool {
    true
}

impl Drop for LockedFile {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

fn create_parent(path: &Path) {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
}

fn open_lock_file(path: &Path) -> Result<File, LockError> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|source| LockError::Open {
            path: path.to_owned(),
            source,
        })
}

fn lock_timeout_secs() -> u64 {
    env_vars::var(EnvVars::JUBE_LOCK_TIMEOUT)
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

/// How many names [`describe_folder`] lists before it only counts.
const LISTED_NAMES: usize = 20;

/// The names in a folder, sorted, for an error that says what was found instead of what was
/// expected: `nothing`, or `a, b, c and 12 more`.
pub fn describe_folder(dir: &Path) -> io::Result<String> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        names.push(entry?.file_name().to_string_lossy().into_owned());
    }
    if names.is_empty() {
        return Ok("nothing".to_owned());
    }
    names.sort();
    let more = names.len().saturating_sub(LISTED_NAMES);
    names.truncate(LISTED_NAMES);
    let mut listed = names.join(", ");
    if more > 0 {
        listed.push_str(&format!(" and {more} more"));
    }
    Ok(listed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_replaces_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        write_atomic(&p, b"first version, rather long").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temp file is left beside the target");
    }

    #[cfg(unix)]
    #[test]
    fn write_atomic_mode_gives_the_mode_to_the_file_from_its_creation() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("env.sh");
        write_atomic(&p, b"wide").unwrap();
        assert_eq!(mode_of(&p), Some(0o644));
        // A reader that records the temp file's mode when the first byte is asked for.
        struct Watch<'a> {
            dir: &'a Path,
            modes: Vec<u32>,
            done: bool,
        }
        impl io::Read for Watch<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.done {
                    return Ok(0);
                }
                for e in std::fs::read_dir(self.dir)?.flatten() {
                    if e.file_name().to_string_lossy().starts_with(".tmp-") {
                        self.modes.extend(mode_of(&e.path()));
                    }
                }
                buf[0] = b'x';
                self.done = true;
                Ok(1)
            }
        }
        let mut watch = Watch {
            dir: dir.path(),
            modes: Vec::new(),
            done: false,
        };
        write_atomic_impl(&p, &mut watch, Some(PRIVATE_FILE_MODE)).unwrap();
        assert_eq!(
            watch.modes,
            [0o600],
            "the temp file is private before its first byte"
        );
        assert_eq!(mode_of(&p), Some(0o600));
        assert_eq!(std::fs::read(&p).unwrap(), b"x");
    }

    #[test]
    fn second_lock_is_refused_while_first_is_held() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.lock");
        let first = LockedFile::acquire(&p, "test").unwrap();
        assert!(LockedFile::try_acquire(&p).unwrap().is_none());
        drop(first);
        assert!(LockedFile::try_acquire(&p).unwrap().is_some());
    }

    #[test]
    fn a_lock_on_an_unlinked_file_knows_it_guards_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.lock");
        let lock = LockedFile::acquire(&p, "test").unwrap();
        assert!(lock.is_at_its_path());
        std::fs::remove_file(&p).unwrap();
        assert!(!lock.is_at_its_path());
        std::fs::write(&p, "").unwrap();
        assert!(
            !lock.is_at_its_path(),
            "a new file under the same name is another file"
        );
    }

    #[test]
    fn in_place_locks_never_create_a_missing_folder() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("removed-container");
        let p = gone.join("container.lock");
        assert!(matches!(
            LockedFile::acquire_in_place(&p, "test"),
            Err(LockError::Open { .. })
        ));
        assert!(LockedFile::try_acquire_in_place(&p).is_err());
        assert!(!gone.exists());
        assert!(LockedFile::try_acquire(&p).unwrap().is_some());
        assert!(gone.is_dir());
    }
}

#[cfg(test)]
mod disk_full_tests {
    use super::*;

    #[test]
    fn a_full_disk_is_named_and_other_errors_get_no_hint() {
        let full = io::Error::from(io::ErrorKind::StorageFull);
        assert!(disk_full_hint(&with_path(full, Path::new("/x"))).contains("the disk is full"));
        assert_eq!(disk_full_hint(&io::Error::from(io::ErrorKind::NotFound)), "");
    }
}
