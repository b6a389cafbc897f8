//! Maven coordinates and where an artifact lives in a repository.

use std::fmt;

/// `groupId:artifactId:version:classifier:extension`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Coordinates {
    pub group_id: String,
    pub artifact_id: String,
    pub version: String,
    pub classifier: Option<String>,
    pub extension: String,
}

impl Coordinates {
    pub fn new(
        group: &str,
        artifact: &str,
        version: &str,
        classifier: Option<&str>,
        extension: &str,
    ) -> Self {
        Self {
            group_id: group.to_owned(),
            artifact_id: artifact.to_owned(),
            version: version.to_owned(),
            classifier: classifier.filter(|c| !c.is_empty()).map(str::to_owned),
            extension: extension.to_owned(),
        }
    }

    /// The same artifact at another version.
    pub fn with_version(&self, version: &str) -> Self {
        Self {
            version: version.to_owned(),
            ..self.clone()
        }
    }

    /// `io/fabric8/jube/images/fabric8/java`: the folder holding every version.
    pub fn artifact_dir(&self) -> String {
        format!("{}/{}", self.group_id.replace('.', "/"), self.artifact_id)
    }

    /// `io/fabric8/jube/images/fabric8/java/2.0.3`: the folder of this version (a snapshot's base
    /// version folder, `1.0-SNAPSHOT`, for timestamped snapshot files too).
    pub fn version_dir(&self) -> String {
        format!("{}/{}", self.artifact_dir(), self.base_version())
    }

    /// The file name of this artifact, with `file_version` in place of the version (a snapshot's
    /// timestamped version, `1.0-20240101.120000-3`, when resolved).
    pub fn file_name_for(&self, file_version: &str) -> String {
        match &self.classifier {
            Some(c) => format!("{}-{}-{}.{}", self.artifact_id, file_version, c, self.extension),
            None => format!("{}-{}.{}", self.artifact_id, file_version, self.extension),
        }
    }

    pub fn file_name(&self) -> String {
        self.file_name_for(&self.version)
    }

    /// Repository-relative path of the artifact file: `version_dir/file_name`.
    pub fn path(&self) -> String {
        format!("{}/{}", self.version_dir(), self.file_name())
    }

    /// The pom beside the artifact.
    pub fn pom(&self) -> Self {
        Self {
            classifier: None,
            extension: "pom".into(),
            ..self.clone()
        }
    }

    pub fn is_snapshot(&self) -> bool {
        is_snapshot_version(&self.version)
    }

    /// `1.0-SNAPSHOT` for both `1.0-SNAPSHOT` and the timestamped `1.0-20240101.120000-3`.
    pub fn base_version(&self) -> String {
        base_version(&self.version)
    }
}

impl fmt::Display for Coordinates {
    /// Jube's order, as image coordinates are written: `group:artifact:version[:classifier]:extension`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.group_id, self.artifact_id, self.version)?;
        if let Some(c) = &self.classifier {
            write!(f, ":{c}")?;
        }
        write!(f, ":{}", self.extension)
    }
}

pub fn is_snapshot_version(version: &str) -> bool {
    version.ends_with("-SNAPSHOT") || version == "SNAPSHOT" || timestamp_suffix(version).is_some()
}

/// The base version of a (possibly timestamped) snapshot; other versions are returned as they are.
pub fn base_version(version: &str) -> String {
    match timestamp_suffix(version) {
        Some(start) => format!("{}-SNAPSHOT", &version[..start]),
        None => version.to_owned(),
    }
}

/// Where `-yyyyMMdd.HHmmss-N` starts in a timestamped snapshot version.
fn timestamp_suffix(version: &str) -> Option<usize> {
    // yyyyMMdd.HHmmss-N: 8 digits, '.', 6 digits, '-', 1+ digits.
    // Byte search: this runs for each of the thousands of versions a metadata file may list.
    let dash = version.bytes().rposition(|b| b == b'-')?;
    let (head, build) = (&version[..dash], &version[dash + 1..]);
    if build.is_empty() || !build.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (base, stamp) = head.rsplit_once('-')?;
    let bytes = stamp.as_bytes();
    let ok = bytes.len() == 15
        && bytes[8] == b'.'
        && bytes[..8].iter().all(u8::is_ascii_digit)
        && bytes[9..].iter().all(u8::is_ascii_digit);
    (ok && !base.is_empty()).then_some(base.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_zip_path_follows_maven_layout() {
        let c = Coordinates::new(
            "io.fabric8.jube.images.fabric8",
            "java",
            "2.0.3",
            Some("image"),
            "zip",
        );
        assert_eq!(
            c.path(),
            "io/fabric8/jube/images/fabric8/java/2.0.3/java-2.0.3-image.zip"
        );
        assert_eq!(
            c.to_string(),
            "io.fabric8.jube.images.fabric8:java:2.0.3:image:zip",
            "Jube's order, as the README writes coordinates"
        );
        assert_eq!(
            c.pom().path(),
            "io/fabric8/jube/images/fabric8/java/2.0.3/java-2.0.3.pom"
        );
    }

    #[test]
    fn timestamped_snapshots_keep_their_base_folder() {
        let c = Coordinates::new("g", "a", "1.0-20240101.120000-3", Some("image"), "zip");
        assert!(c.is_snapshot());
        assert_eq!(c.base_version(), "1.0-SNAPSHOT");
        assert_eq!(c.path(), "g/a/1.0-SNAPSHOT/a-1.0-20240101.120000-3-image.zip");
        assert!(!is_snapshot_version("1.0"));
        assert!(is_snapshot_version("1.0-SNAPSHOT"));
        assert_eq!(base_version("2.0-1"), "2.0-1");
    }
}
