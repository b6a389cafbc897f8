//! The Maven local repository, as jube reads and writes it: the same layout and bookkeeping files
//! Maven uses (`_remote.repositories`, `maven-metadata-<id>.xml`), so Maven and jube share it.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::env_vars::{self, EnvVars};
use crate::fsutil::{self, LockError, LockedFile};
use crate::image::{IMAGE_CLASSIFIER, IMAGE_EXTENSION};
use crate::maven::coordinates::Coordinates;
use crate::maven::settings::Settings;

/// The repository id Maven records for files installed locally (`file>=`).
pub const LOCAL_INSTALL: &str = "";

/// A Maven local repository folder.
#[derive(Debug, Clone)]
pub struct LocalRepo {
    root: PathBuf,
}

impl LocalRepo {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// `JUBE_LOCAL_REPO`, else settings.xml `localRepository`, else `~/.m2/repository`. Made
    /// absolute, because containers record the path of the zip they were made from.
    pub fn locate(settings: Option<&Settings>) -> Self {
        let dir = env_vars::var(EnvVars::JUBE_LOCAL_REPO)
            .map(PathBuf::from)
            .or_else(|| settings.and_then(|s| s.local_repository.clone()))
            .unwrap_or_else(|| {
                let home = dirs::home_dir().unwrap_or_else(|| PathBuf::from("."));
                home.join(".m2").join("repository")
            });
        Self::new(std::path::absolute(&dir).unwrap_or(dir))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn version_dir(&self, c: &Coordinates) -> PathBuf {
        self.root.join(c.version_dir())
    }

    pub fn artifact_dir(&self, c: &Coordinates) -> PathBuf {
        self.root.join(c.artifact_dir())
    }

    /// Where the artifact file of `c` (at its own, possibly timestamped, version) lives.
    pub fn file(&self, c: &Coordinates) -> PathBuf {
        self.root.join(c.path())
    }

    /// `maven-metadata-<id>.xml` (a remote's cached copy) or `maven-metadata-local.xml` (id `None`),
    /// at artifact level, or at version level for a snapshot (`version_level`).
    pub fn metadata_file(&self, c: &Coordinates, repo_id: Option<&str>, version_level: bool) -> PathBuf {
        let dir = if version_level {
            self.version_dir(c)
        } else {
            self.artifact_dir(c)
        };
        dir.join(format!("maven-metadata-{}.xml", repo_id.unwrap_or("local")))
    }

    /// Serialises downloads of one artifact version across processes. Kept out of the version
    /// folder so `rmi` can remove that folder whole.
    pub fn lock(&self, c: &Coordinates) -> Result<LockedFile, LockError> {
        LockedFile::acquire(&self.lock_path(c), &c.to_string())
    }

    /// The same lock, only if it is free right now.
    pub fn try_lock(&self, c: &Coordinates) -> Result<Option<LockedFile>, LockError> {
        LockedFile::try_acquire(&self.lock_path(c))
    }

    fn lock_path(&self, c: &Coordinates) -> PathBuf {
        self.lock_file(&format!("{}~{}~{}", c.group_id, c.artifact_id, c.base_version()))
    }

    /// `.locks/<key>.lock`. Keys are made of checked names, but several of them together may pass
    /// the file-name limit: a long key is replaced by its hash.
    pub fn lock_file(&self, key: &str) -> PathBuf {
        let name = if key.len() <= crate::pathpart::MAX_LEN {
            key.to_owned()
        } else {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(key.as_bytes()))
        };
        self.root.join(".locks").join(format!("{name}.lock"))
    }

    /// Records which repository a file came from, as Maven's `_remote.repositories` does:
    /// `file>repoId=`, or `file>=` for a local install.
    pub fn record_origin(&self, c: &Coordinates, file_name: &str, repo_id: &str) -> std::io::Result<()> {
        let path = self.version_dir(c).join("_remote.repositories");
        let old = fs_err::read_to_string(&path).unwrap_or_default();
        let key = format!("{file_name}>");
        let mut lines: Vec<String> = old
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty() && !l.starts_with(&key))
            .map(str::to_owned)
            .collect();
        lines.push(format!("{file_name}>{repo_id}="));
        let stamp = jiff::Timestamp::now().strftime("%a %b %d %H:%M:%S UTC %Y");
        let mut text = String::from(
            "#NOTE: This is a Maven Resolver internal implementation file, its format can be changed without prior notice.\n",
        );
        text.push_str(&format!("#{stamp}\n"));
        for l in lines {
            text.push_str(&l);
            text.push('\n');
        }
        fsutil::write_atomic(&path, text.as_bytes())
    }

    /// The repository id `_remote.repositories` records for a file, `Some("")` for a local install.
    pub fn origin(&self, c: &Coordinates, file_name: &str) -> Option<String> {
        let text = fs_err::read_to_string(self.version_dir(c).join("_remote.repositories")).ok()?;
        let key = format!("{file_name}>");
        text.lines()
            .find_map(|l| l.strip_prefix(&key))
            .map(|rest| rest.trim_end_matches('=').to_owned())
    }

    /// Every cached image zip under the image group prefix.
    pub fn cached_images(&self, group_prefix: &str) -> Vec<CachedArtifact> {
        let base = self.root.join(group_prefix.replace('.', "/"));
        let mut found = Vec::new();
        // prefix/<namespace>/<artifact>/<version>/<artifact>-<version>-image.zip
        for ns in read_dirs(&base) {
            for artifact in read_dirs(&ns) {
                for version in read_dirs(&artifact) {
                    let (Some(ns_name), Some(a_name), Some(v_name)) =
                        (file_name(&ns), file_name(&artifact), file_name(&version))
                    else {
                        continue;
                    };
                    let group = format!("{group_prefix}.{ns_name}");
                    let kind = FileKind {
                        group: &group,
                        artifact: &a_name,
                        classifier: Some(IMAGE_CLASSIFIER),
                        extension: IMAGE_EXTENSION,
                    };
                    kind.collect(&version, &v_name, &mut found);
                }
            }
        }
        found.sort_by(|a, b| a.coordinates.cmp(&b.coordinates));
        found
    }

    /// The cached files of one artifact, every version, with this classifier and extension (for
    /// explicit `mvn:` coordinates).
    pub fn cached_versions(
        &self,
        group: &str,
        artifact: &str,
        classifier: Option<&str>,
        extension: &str,
    ) -> Vec<CachedArtifact> {
        let dir = self.root.join(group.replace('.', "/")).join(artifact);
        let kind = FileKind {
            group,
            artifact,
            classifier,
            extension,
        };
        let mut found = Vec::new();
        for version in read_dirs(&dir) {
            if let Some(v) = file_name(&version) {
                kind.collect(&version, &v, &mut found);
            }
        }
        found.sort_by(|a, b| a.coordinates.cmp(&b.coordinates));
        found
    }
}

/// An artifact file present in the local repository.
#[derive(Debug, Clone)]
pub struct CachedArtifact {
    pub coordinates: Coordinates,
    pub path: PathBuf,
    pub size: u64,
    pub modified: Option<SystemTime>,
}

fn read_dirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    dirs.sort();
    dirs
}

fn file_name(p: &Path) -> Option<String> {
    p.file_name().and_then(|n| n.to_str()).map(str::to_owned)
}

/// Which files of an artifact to collect: `<artifact>-<version...>[-<classifier>].<extension>`.
struct FileKind<'a> {
    group: &'a str,
    artifact: &'a str,
    classifier: Option<&'a str>,
    extension: &'a str,
}

impl FileKind<'_> {
    /// Adds this kind's files of one version folder: the plain version, and for snapshots each
    /// timestamped build.
    fn collect(&self, version_dir: &Path, version: &str, out: &mut Vec<CachedArtifact>) {
        let Ok(entries) = std::fs::read_dir(version_dir) else {
            return;
        };
        let prefix = format!("{}-", self.artifact);
        let suffix = match self.classifier {
            Some(c) => format!("-{c}.{}", self.extension),
            None => format!(".{}", self.extension),
        };
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(file_version) = name.strip_prefix(&prefix).and_then(|r| r.strip_suffix(&suffix)) else {
                continue;
            };
            // A file whose name holds no valid version is not listed (Maven did not write it).
            let Ok(c) = Coordinates::new(
                self.group,
                self.artifact,
                file_version,
                self.classifier,
                self.extension,
            ) else {
                continue;
            };
            // `app-1.0-sources.zip` is no file of version `1.0` without a classifier.
            if c.base_version() != version || !entry.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            out.push(CachedArtifact {
                coordinates: c,
                path: entry.path(),
                size: meta.len(),
                modified: meta.modified().ok(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_is_recorded_as_maven_does() {
        let dir = tempfile::tempdir().unwrap();
        let repo = LocalRepo::new(dir.path());
        let c = Coordinates::new(
            "io.fabric8.jube.images.fabric8",
            "java",
            "2.0.3",
            Some("image"),
            "zip",
        )
        .unwrap();
        std::fs::create_dir_all(repo.version_dir(&c)).unwrap();
        repo.record_origin(&c, "java-2.0.3.pom", "central").unwrap();
        repo.record_origin(&c, &c.file_name(), "bars").unwrap();
        repo.record_origin(&c, &c.file_name(), "bars").unwrap();
        let text = std::fs::read_to_string(repo.version_dir(&c).join("_remote.repositories")).unwrap();
        assert!(text.starts_with("#NOTE"));
        assert_eq!(text.matches("java-2.0.3-image.zip>bars=").count(), 1);
        assert!(text.contains("java-2.0.3.pom>central="));
        assert_eq!(repo.origin(&c, &c.file_name()).as_deref(), Some("bars"));
        repo.record_origin(&c, &c.file_name(), LOCAL_INSTALL).unwrap();
        assert_eq!(repo.origin(&c, &c.file_name()).as_deref(), Some(""));
    }

    #[test]
    fn cached_images_lists_releases_and_snapshot_builds() {
        let dir = tempfile::tempdir().unwrap();
        let repo = LocalRepo::new(dir.path());
        let base = dir.path().join("io/fabric8/jube/images/fabric8/java");
        for (v, f) in [
            ("2.0.3", "java-2.0.3-image.zip"),
            ("2.1-SNAPSHOT", "java-2.1-20240101.120000-3-image.zip"),
            ("2.0.3", "java-2.0.3.pom"),
        ] {
            std::fs::create_dir_all(base.join(v)).unwrap();
            std::fs::write(base.join(v).join(f), b"zip").unwrap();
        }
        let images = repo.cached_images("io.fabric8.jube.images");
        let versions: Vec<_> = images.iter().map(|i| i.coordinates.version.as_str()).collect();
        assert_eq!(versions, ["2.0.3", "2.1-20240101.120000-3"]);
        assert_eq!(images[0].size, 3);
    }

    #[test]
    fn cached_versions_match_classifier_and_extension_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let repo = LocalRepo::new(dir.path());
        let base = dir.path().join("com/example/dist");
        for (v, f) in [
            ("1.0", "dist-1.0.tar.gz"),
            ("1.0", "dist-1.0-sources.tar.gz"),
            ("1.0", "dist-1.0-image.zip"),
            ("1.1-SNAPSHOT", "dist-1.1-SNAPSHOT.tar.gz"),
            ("2.0", "dist-1.0.tar.gz"),
        ] {
            std::fs::create_dir_all(base.join(v)).unwrap();
            std::fs::write(base.join(v).join(f), b"x").unwrap();
        }
        let plain = repo.cached_versions("com.example", "dist", None, "tar.gz");
        let versions: Vec<_> = plain.iter().map(|a| a.coordinates.version.as_str()).collect();
        assert_eq!(
            versions,
            ["1.0", "1.1-SNAPSHOT"],
            "no classified file, no file of another folder"
        );
        let images = repo.cached_versions("com.example", "dist", Some("image"), "zip");
        assert_eq!(images.len(), 1);
        assert_eq!(
            images[0].coordinates.to_string(),
            "com.example:dist:1.0:zip:image"
        );
    }
}
