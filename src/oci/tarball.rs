//! Deterministic tars: entries in the order given (callers sort them), a fixed mtime, owner
//! root:root without names, and modes normalised as image zips normalise them. The same input
//! always gives the same bytes, and so the same digests.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use flate2::{Compression, GzBuilder};
use sha2::{Digest, Sha256};
use tar::{EntryType, Header};

use crate::image::pack::{Content, Entry};

/// The mtime of every entry, and the `created` time of exported images: the Unix epoch, as
/// reproducible builds set `SOURCE_DATE_EPOCH=0`.
pub const FIXED_MTIME: u64 = 0;
pub const FIXED_CREATED: &str = "1970-01-01T00:00:00Z";

fn header(kind: EntryType, mode: u32, size: u64) -> Header {
    let mut header = Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(size);
    header.set_mtime(FIXED_MTIME);
    header.set_uid(0);
    header.set_gid(0);
    header
}

/// Appends one image-zip entry under `prefix` (`app/`).
pub fn append_entry<W: Write>(tar: &mut tar::Builder<W>, prefix: &str, entry: &Entry) -> io::Result<()> {
    let path = format!("{prefix}{}", entry.path);
    match &entry.content {
        Content::Dir => {
            let mut h = header(EntryType::Directory, 0o755, 0);
            tar.append_data(&mut h, &path, io::empty())
        }
        Content::Symlink(target) => {
            let mut h = header(EntryType::Symlink, 0o777, 0);
            tar.append_link(&mut h, &path, target)
        }
        Content::File(file) => {
            let f = File::open(file).map_err(|e| crate::fsutil::with_path(e, file))?;
            let size = f.metadata()?.len();
            let mut h = header(EntryType::Regular, entry.mode, size);
            tar.append_data(&mut h, &path, f.take(size))
        }
        Content::Bytes(bytes) => {
            let mut h = header(EntryType::Regular, entry.mode, bytes.len() as u64);
            tar.append_data(&mut h, &path, bytes.as_slice())
        }
    }
}

/// Appends a folder entry (`blobs/`).
pub fn append_dir<W: Write>(tar: &mut tar::Builder<W>, path: &str) -> io::Result<()> {
    let mut h = header(EntryType::Directory, 0o755, 0);
    tar.append_data(&mut h, path, io::empty())
}

/// Appends a regular file with the given bytes.
pub fn append_bytes<W: Write>(tar: &mut tar::Builder<W>, path: &str, bytes: &[u8]) -> io::Result<()> {
    let mut h = header(EntryType::Regular, 0o644, bytes.len() as u64);
    tar.append_data(&mut h, path, bytes)
}

/// Appends a regular file copied from `source`.
pub fn append_file<W: Write>(tar: &mut tar::Builder<W>, path: &str, source: &Path) -> io::Result<()> {
    let f = File::open(source).map_err(|e| crate::fsutil::with_path(e, source))?;
    let size = f.metadata()?.len();
    let mut h = header(EntryType::Regular, 0o644, size);
    tar.append_data(&mut h, path, f.take(size))
}

/// A blob written to a file: its `sha256:` digest and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub digest: String,
    pub size: u64,
}

/// A writer that hashes and counts what passes through it.
pub struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> Hashing<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    pub fn finish(self) -> (W, Blob) {
        let blob = Blob {
            digest: format!("sha256:{}", hex::encode(self.hasher.finalize())),
            size: self.size,
        };
        (self.inner, blob)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The digest and size of a file.
pub fn hash_file(path: &Path) -> io::Result<Blob> {
    let mut f = File::open(path).map_err(|e| crate::fsutil::with_path(e, path))?;
    let mut hashing = Hashing::new(io::sink());
    io::copy(&mut f, &mut hashing)?;
    Ok(hashing.finish().1)
}

/// Gzips `source` into `dest` with no name and no timestamp in the header, so the bytes depend on
/// the content alone. Returns the compressed blob.
pub fn gzip_file(source: &Path, dest: &Path) -> io::Result<Blob> {
    let out = File::create(dest).map_err(|e| crate::fsutil::with_path(e, dest))?;
    let hashing = Hashing::new(io::BufWriter::new(out));
    let mut gz = GzBuilder::new().mtime(0).write(hashing, Compression::default());
    let mut f = File::open(source).map_err(|e| crate::fsutil::with_path(e, source))?;
    io::copy(&mut f, &mut gz)?;
    let (mut writer, blob) = gz.finish()?.finish();
    writer.flush()?;
    Ok(blob)
}

/// Whether a file starts with gzip's magic bytes.
pub fn is_gzip(path: &Path) -> io::Result<bool> {
    let mut magic = [0u8; 2];
    let mut f = File::open(path).map_err(|e| crate::fsutil::with_path(e, path))?;
    let n = f.read(&mut magic)?;
    Ok(n == 2 && magic == [0x1f, 0x8b])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_entries_give_the_same_bytes_and_gzip_digest() {
        let dir = tempfile::tempdir().unwrap();
        let make = |name: &str| {
            let path = dir.path().join(name);
            let mut tar = tar::Builder::new(File::create(&path).unwrap());
            append_dir(&mut tar, "app/").unwrap();
            append_bytes(&mut tar, "app/run.sh", b"#!/bin/sh\n").unwrap();
            tar.into_inner().unwrap();
            let gz = gzip_file(&path, &dir.path().join(format!("{name}.gz"))).unwrap();
            (std::fs::read(&path).unwrap(), gz)
        };
        let (first, first_gz) = make("a.tar");
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let (second, second_gz) = make("b.tar");
        assert_eq!(first, second);
        assert_eq!(first_gz, second_gz);
        assert!(first_gz.digest.starts_with("sha256:"));
    }
}
