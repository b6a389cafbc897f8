//! Installing an artifact into the Maven local repository as `mvn install` does: the file and a pom,
//! each with `.sha1`/`.md5` sidecars, `maven-metadata-local.xml` with the versions merged (and, for a
//! snapshot, its version-level twin marked `localCopy`), and `_remote.repositories` marking both
//! files as installed locally (`file>=`), so that Maven uses them without asking any repository.

use std::io::{self, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::fsutil::{self, LockError, LockedFile};
use crate::maven::checksum::{self, Algorithm};
use crate::maven::coordinates::Coordinates;
use crate::maven::local::{LOCAL_INSTALL, LocalRepo};
use crate::maven::metadata::{self, Metadata, MetadataError, Snapshot};

/// Prefix of the temp file an artifact is written to before it is renamed into place.
const TEMP_PREFIX: &str = ".jube-install-";

/// What was installed.
#[derive(Debug, Clone)]
pub struct Installed {
    pub coordinates: Coordinates,
    /// The artifact file in the local repository.
    pub path: PathBuf,
    pub pom: PathBuf,
    pub sha1: String,
    pub size: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    /// Producing the artifact's bytes failed (reading the folder being packed, for instance).
    #[error("cannot write the artifact {path}: {source}")]
    Content { path: PathBuf, source: io::Error },
    #[error(
        "{path} is unreadable ({source}); jube will not overwrite the versions it lists: fix or delete it, \
         then try again"
    )]
    Metadata {
        path: PathBuf,
        #[source]
        source: MetadataError,
    },
    #[error(
        "{version} is a timestamped snapshot build; install it as its base version {base} (Maven installs \
         snapshots under their -SNAPSHOT version)"
    )]
    TimestampedSnapshot { version: String, base: String },
    #[error(transparent)]
    Lock(#[from] LockError),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> InstallError + '_ {
    move |source| InstallError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Installs the artifact `c`, whose bytes `write` produces into a temp file beside its final place.
/// Nothing is renamed into place unless `write` succeeds, so a failure leaves the repository as it
/// was (and an empty version folder this call created is removed again).
pub fn install(
    local: &LocalRepo,
    c: &Coordinates,
    write: impl FnOnce(&mut tempfile::NamedTempFile) -> io::Result<()>,
) -> Result<Installed, InstallError> {
    if c.is_snapshot() && c.version != c.base_version() {
        return Err(InstallError::TimestampedSnapshot {
            version: c.version.to_string(),
            base: c.base_version().to_string(),
        });
    }
    let dir = local.version_dir(c);
    let created_dir = !dir.exists();
    fs_err::create_dir_all(&dir).map_err(io_err(&dir))?;
    let result = install_locked(local, c, write);
    if result.is_err() && created_dir {
        // Only removes it when empty: a concurrent install's files are never touched.
        let _ = std::fs::remove_dir(&dir);
    }
    result
}

fn install_locked(
    local: &LocalRepo,
    c: &Coordinates,
    write: impl FnOnce(&mut tempfile::NamedTempFile) -> io::Result<()>,
) -> Result<Installed, InstallError> {
    let _lock = local.lock(c)?;
    // maven-metadata-local.xml lists every version: installs of two versions must not both rewrite
    // it from what they read before the other wrote.
    let _artifact_lock = LockedFile::acquire(
        &local.lock_file(&format!("{}~{}", c.group_id, c.artifact_id)),
        &format!("{}:{}", c.group_id, c.artifact_id),
    )?;
    // Read first: unreadable metadata stops the install before anything is written.
    let artifact_meta = local.metadata_file(c, None, false);
    let snapshot_meta = local.metadata_file(c, None, true);
    let mut artifact = read_metadata(&artifact_meta)?
        .unwrap_or_else(|| metadata::artifact_metadata(&c.group_id, &c.artifact_id));
    let snapshot = match c.is_snapshot() {
        true => Some(
            read_metadata(&snapshot_meta)?
                .unwrap_or_else(|| metadata::artifact_metadata(&c.group_id, &c.artifact_id)),
        ),
        false => None,
    };
    let path = local.file(c);
    let dir = local.version_dir(c);
    let mut tmp = fsutil::temp_builder(TEMP_PREFIX)
        .tempfile_in(&dir)
        .map_err(io_err(&dir))?;
    write(&mut tmp).map_err(|source| InstallError::Content {
        path: path.clone(),
        source,
    })?;
    let (digests, size) = digests_of(tmp.as_file_mut()).map_err(io_err(&path))?;
    tmp.as_file().sync_data().map_err(io_err(&path))?;

    let pom = local.file(&c.pom());
    write_with_sidecars(&pom, pom_xml(c).as_bytes())?;
    tmp.persist(&path).map_err(|e| io_err(&path)(e.error))?;
    for (algorithm, digest) in &digests {
        let sidecar = sidecar_path(&path, *algorithm);
        fsutil::write_atomic(&sidecar, digest.as_bytes()).map_err(io_err(&sidecar))?;
    }
    let origins = dir.join("_remote.repositories");
    for file in [c.file_name(), c.pom().file_name()] {
        local
            .record_origin(c, &file, LOCAL_INSTALL)
            .map_err(io_err(&origins))?;
    }
    let (last_updated, _) = metadata::timestamp_now();
    artifact.add_release(&c.base_version(), &last_updated);
    fsutil::write_atomic(&artifact_meta, artifact.to_xml().as_bytes()).map_err(io_err(&artifact_meta))?;
    if let Some(mut m) = snapshot {
        mark_local_snapshot(&mut m, c, &last_updated);
        fsutil::write_atomic(&snapshot_meta, m.to_xml().as_bytes()).map_err(io_err(&snapshot_meta))?;
    }
    let sha1 = checksum::digest_in(&digests, Algorithm::Sha1)
        .unwrap_or_default()
        .to_owned();
    Ok(Installed {
        coordinates: c.clone(),
        path,
        pom,
        sha1,
        size,
    })
}

/// The hex digests of [`Algorithm::WRITTEN`] over the whole file, and its size; reads from the
/// start.
fn digests_of(file: &mut std::fs::File) -> io::Result<(Vec<(Algorithm, String)>, u64)> {
    file.seek(SeekFrom::Start(0))?;
    checksum::written_digests(file)
}

fn sidecar_path(path: &Path, algorithm: Algorithm) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(algorithm.extension());
    PathBuf::from(name)
}

/// Writes a small file atomically, then its `.sha1` and `.md5`.
pub fn write_with_sidecars(path: &Path, bytes: &[u8]) -> Result<(), InstallError> {
    fsutil::write_atomic(path, bytes).map_err(io_err(path))?;
    for algorithm in Algorithm::WRITTEN {
        let sidecar = sidecar_path(path, algorithm);
        fsutil::write_atomic(&sidecar, algorithm.digest_hex(bytes).as_bytes()).map_err(io_err(&sidecar))?;
    }
    Ok(())
}

/// A minimal pom for an image zip: `packaging` zip, no dependencies. Maven reads it as the
/// artifact's descriptor; without one it warns that the pom is missing.
pub fn pom_xml(c: &Coordinates) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 http://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <groupId>{}</groupId>
  <artifactId>{}</artifactId>
  <version>{}</version>
  <packaging>{}</packaging>
  <description>A jube image zip</description>
</project>
"#,
        xml_escape(&c.group_id),
        xml_escape(&c.artifact_id),
        xml_escape(&c.base_version()),
        xml_escape(&c.extension),
    )
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// Reads a metadata file; a missing file is `None`, an unreadable one an error (never silently
/// replaced, which would forget the versions it lists).
fn read_metadata(path: &Path) -> Result<Option<Metadata>, InstallError> {
    match std::fs::read(path) {
        Ok(bytes) => metadata::parse(&bytes)
            .map(Some)
            .map_err(|source| InstallError::Metadata {
                path: path.to_owned(),
                source,
            }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// Makes a snapshot's version-level metadata describe a local install: `localCopy`, and one
/// `snapshotVersion` per file whose value is the plain `-SNAPSHOT` version.
fn mark_local_snapshot(m: &mut Metadata, c: &Coordinates, last_updated: &str) {
    m.version = Some(c.base_version().to_string());
    let v = &mut m.versioning;
    v.snapshot = Some(Snapshot {
        timestamp: None,
        build_number: None,
        local_copy: true,
    });
    v.last_updated = Some(last_updated.to_owned());
    v.record_snapshot_files(c, &c.base_version(), last_updated);
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn coords(version: &str) -> Coordinates {
        Coordinates::new(
            "io.fabric8.jube.images.team",
            "app",
            version,
            Some("image"),
            "zip",
        )
        .unwrap()
    }

    fn install_bytes(local: &LocalRepo, c: &Coordinates, bytes: &[u8]) -> Result<Installed, InstallError> {
        install(local, c, |f| f.write_all(bytes))
    }

    #[test]
    fn a_release_is_installed_as_maven_installs_it() {
        let dir = tempfile::tempdir().unwrap();
        let local = LocalRepo::new(dir.path());
        let installed = install_bytes(&local, &coords("1.0"), b"zip bytes").unwrap();
        install_bytes(&local, &coords("1.1"), b"other").unwrap();
        let vdir = dir.path().join("io/fabric8/jube/images/team/app/1.0");
        assert_eq!(installed.path, vdir.join("app-1.0-image.zip"));
        assert_eq!(std::fs::read(&installed.path).unwrap(), b"zip bytes");
        assert_eq!(
            std::fs::read_to_string(vdir.join("app-1.0-image.zip.sha1")).unwrap(),
            Algorithm::Sha1.digest_hex(b"zip bytes")
        );
        assert_eq!(
            std::fs::read_to_string(vdir.join("app-1.0-image.zip.md5")).unwrap(),
            Algorithm::Md5.digest_hex(b"zip bytes")
        );
        let pom = std::fs::read_to_string(vdir.join("app-1.0.pom")).unwrap();
        assert!(pom.contains("<packaging>zip</packaging>") && pom.contains("<version>1.0</version>"));
        assert!(vdir.join("app-1.0.pom.sha1").is_file());
        let origins = std::fs::read_to_string(vdir.join("_remote.repositories")).unwrap();
        assert!(origins.contains("app-1.0-image.zip>=\n") && origins.contains("app-1.0.pom>="));
        let m = metadata::parse(
            &std::fs::read(
                dir.path()
                    .join("io/fabric8/jube/images/team/app/maven-metadata-local.xml"),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(m.versioning.versions, ["1.0", "1.1"]);
        assert_eq!(m.versioning.release.as_deref(), Some("1.1"));
        let leftovers: Vec<_> = std::fs::read_dir(&vdir)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn a_snapshot_gets_local_copy_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let local = LocalRepo::new(dir.path());
        let c = coords("2.0-SNAPSHOT");
        install_bytes(&local, &c, b"snap").unwrap();
        install_bytes(&local, &c, b"snap again").unwrap();
        let m = metadata::parse(&std::fs::read(local.metadata_file(&c, None, true)).unwrap()).unwrap();
        assert_eq!(m.version.as_deref(), Some("2.0-SNAPSHOT"));
        assert!(m.versioning.snapshot.as_ref().unwrap().local_copy);
        assert_eq!(m.versioning.snapshot_versions.len(), 2);
        assert_eq!(
            m.snapshot_file_version("2.0-SNAPSHOT", Some("image"), "zip"),
            "2.0-SNAPSHOT"
        );
        assert!(install_bytes(&local, &coords("2.0-20240101.120000-1"), b"x").is_err());
    }

    #[test]
    fn a_failed_write_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let local = LocalRepo::new(dir.path());
        let c = coords("1.0");
        let err = install(&local, &c, |_| Err(io::Error::other("source vanished"))).unwrap_err();
        assert!(err.to_string().contains("source vanished"), "{err}");
        assert!(!local.version_dir(&c).exists());
    }

    #[test]
    fn unreadable_local_metadata_is_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let local = LocalRepo::new(dir.path());
        let c = coords("1.0");
        let path = local.metadata_file(&c, None, false);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "<html>").unwrap();
        let err = install_bytes(&local, &c, b"x").unwrap_err();
        assert!(err.to_string().contains("maven-metadata-local.xml"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "<html>");
    }
}
