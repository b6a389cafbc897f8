//! Packing a folder into an image zip, deterministically: sorted entries, a fixed timestamp and
//! normalised modes, so the same folder always gives the same bytes. The build script uses this
//! file too (to embed the stock images), so it depends on nothing but `std` and `zip`.

use std::io::{self, Seek, Write};
use std::path::{Path, PathBuf};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

/// What one zip entry holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    Dir,
    /// A file read from disk when packed.
    File(PathBuf),
    /// A file whose bytes are given (rewritten env.sh, for instance).
    Bytes(Vec<u8>),
    Symlink(String),
}

/// One entry: its path inside the zip (`/`-separated, no leading `/`), content and unix mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    pub content: Content,
    pub mode: u32,
}

/// Scripts are executable whatever the file system said (a checkout on Windows has no modes).
pub fn is_script(name: &str) -> bool {
    [".sh", ".bat", ".cmd"].iter().any(|ext| name.ends_with(ext))
}

/// Every entry under `dir`, sorted by path. Modes are normalised: 0755 for folders, scripts and
/// files with any execute bit, 0644 for the rest, so builds do not depend on the umask.
pub fn collect(dir: &Path) -> io::Result<Vec<Entry>> {
    let mut entries = Vec::new();
    walk(dir, "", &mut entries)?;
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(entries)
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<Entry>) -> io::Result<()> {
    let listing =
        std::fs::read_dir(dir).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
    for item in listing {
        let item = item?;
        let name = item.file_name().into_string().map_err(|n| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: file name is not UTF-8", Path::new(&n).display()),
            )
        })?;
        let rel = format!("{prefix}{name}");
        let path = item.path();
        let kind = item.file_type()?;
        if kind.is_symlink() {
            let target = std::fs::read_link(&path)?;
            out.push(Entry {
                path: rel,
                content: Content::Symlink(target.to_string_lossy().replace('\\', "/")),
                mode: 0o777,
            });
        } else if kind.is_dir() {
            out.push(Entry {
                path: format!("{rel}/"),
                content: Content::Dir,
                mode: 0o755,
            });
            walk(&path, &format!("{rel}/"), out)?;
        } else {
            let mode = if is_script(&name) || has_exec_bit(&path) {
                0o755
            } else {
                0o644
            };
            out.push(Entry {
                path: rel,
                content: Content::File(path),
                mode,
            });
        }
    }
    Ok(())
}

#[cfg(unix)]
fn has_exec_bit(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn has_exec_bit(_path: &Path) -> bool {
    false
}

/// Writes `entries` as a zip in the order given (sort them first for determinism).
pub fn write<W: Write + Seek>(entries: &[Entry], out: W) -> io::Result<W> {
    let mut zip = ZipWriter::new(out);
    let base = SimpleFileOptions::default()
        .last_modified_time(DateTime::default())
        .compression_method(CompressionMethod::Deflated);
    for entry in entries {
        let options = base.unix_permissions(entry.mode);
        match &entry.content {
            Content::Dir => zip.add_directory(entry.path.trim_end_matches('/'), options)?,
            Content::Symlink(target) => zip.add_symlink(&entry.path, target, options)?,
            Content::File(path) => {
                let mut f = std::fs::File::open(path)
                    .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
                let large = f.metadata()?.len() >= u32::MAX as u64;
                zip.start_file(&entry.path, options.large_file(large))?;
                io::copy(&mut f, &mut zip)?;
            }
            Content::Bytes(bytes) => {
                zip.start_file(&entry.path, options)?;
                zip.write_all(bytes)?;
            }
        }
    }
    Ok(zip.finish()?)
}

/// Packs a whole folder into zip bytes.
pub fn pack_dir(dir: &Path) -> io::Result<Vec<u8>> {
    let entries = collect(dir)?;
    Ok(write(&entries, io::Cursor::new(Vec::new()))?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_twice_gives_identical_bytes_with_modes_kept() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("start.sh"), "echo hi\n").unwrap();
        std::fs::create_dir(dir.path().join("lib")).unwrap();
        std::fs::write(dir.path().join("lib/app.jar"), vec![7u8; 5000]).unwrap();
        let first = pack_dir(dir.path()).unwrap();
        let older = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        let f = std::fs::File::options()
            .write(true)
            .open(dir.path().join("start.sh"))
            .unwrap();
        f.set_modified(older).unwrap(); // another mtime changes nothing
        let second = pack_dir(dir.path()).unwrap();
        assert_eq!(first, second);
        let mut archive = zip::ZipArchive::new(io::Cursor::new(first)).unwrap();
        let names: Vec<String> = (0..archive.len())
            .map(|i| archive.by_index(i).unwrap().name().unwrap().into_owned())
            .collect();
        assert_eq!(names, ["lib/", "lib/app.jar", "start.sh"]);
        assert_eq!(
            archive
                .by_name("start.sh")
                .unwrap()
                .unix_mode()
                .map(|m| m & 0o777),
            Some(0o755)
        );
        assert_eq!(
            archive
                .by_name("lib/app.jar")
                .unwrap()
                .unix_mode()
                .map(|m| m & 0o777),
            Some(0o644)
        );
    }
}
