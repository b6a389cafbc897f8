//! Maven coordinates and where an artifact lives in a repository.

use std::fmt;

use crate::pathpart::{GroupId, PathPart, UnsafePathPart};

/// `groupId:artifactId:version:extension[:classifier]`. Every value is checked as a file or folder
/// name when the coordinates are made, so every path built from them stays in its repository.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Coordinates {
    pub group_id: GroupId,
    pub artifact_id: PathPart,
    pub version: PathPart,
    pub classifier: Option<PathPart>,
    pub extension: PathPart,
}

/// A coordinate value that cannot be part of a path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the {field} {part}")]
pub struct UnsafeCoordinate {
    /// `groupId`, `artifactId`, `version`, `classifier` or `extension`.
    pub field: &'static str,
    pub part: UnsafePathPart,
}

impl UnsafeCoordinate {
    pub fn version(part: UnsafePathPart) -> Self {
        Self {
            field: "version",
            part,
        }
    }
}

fn checked(field: &'static str, value: &str) -> Result<PathPart, UnsafeCoordinate> {
    PathPart::new(value).map_err(|part| UnsafeCoordinate { field, part })
}

impl Coordinates {
    /// Checks every value; an empty classifier means none.
    pub fn new(
        group: &str,
        artifact: &str,
        version: &str,
        classifier: Option<&str>,
        extension: &str,
    ) -> Result<Self, UnsafeCoordinate> {
        Ok(Self {
            group_id: GroupId::new(group).map_err(|part| UnsafeCoordinate {
                field: "groupId",
                part,
            })?,
            artifact_id: checked("artifactId", artifact)?,
            version: checked("version", version)?,
            classifier: classifier
                .filter(|c| !c.is_empty())
                .map(|c| checked("classifier", c))
                .transpose()?,
            extension: checked("extension", extension)?,
        })
    }

    /// Coordinates from values already checked.
    pub fn from_parts(
        group_id: GroupId,
        artifact_id: PathPart,
        version: PathPart,
        classifier: Option<PathPart>,
        extension: PathPart,
    ) -> Self {
        Self {
            group_id,
            artifact_id,
            version,
            classifier,
            extension,
        }
    }

    /// The same artifact at another version, checked.
    pub fn with_version(&self, version: &str) -> Result<Self, UnsafeCoordinate> {
        Ok(self.at(checked("version", version)?))
    }

    /// The same artifact at another (checked) version.
    pub fn at(&self, version: PathPart) -> Self {
        Self {
            version,
            ..self.clone()
        }
    }

    /// `io/fabric8/jube/images/fabric8/java`: the folder holding every version.
    pub fn artifact_dir(&self) -> String {
        format!("{}/{}", self.group_id.path(), self.artifact_id)
    }

    /// `io/fabric8/jube/images/fabric8/java/2.0.3`: the folder of this version (a snapshot's base
    /// version folder, `1.0-SNAPSHOT`, for timestamped snapshot files too).
    pub fn version_dir(&self) -> String {
        format!("{}/{}", self.artifact_dir(), self.base_version())
    }

    /// What follows the version in this artifact's file names: `-image.zip`, or `.pom`.
    pub fn file_suffix(&self) -> String {
        match &self.classifier {
            Some(c) => format!("-{c}.{}", self.extension),
            None => format!(".{}", self.extension),
        }
    }

    /// The file name of this artifact (at its own, possibly timestamped, version). Only checked
    /// values go in; the whole name may be longer than one part, so it is not a `PathPart`.
    pub fn file_name(&self) -> String {
        format!("{}-{}{}", self.artifact_id, self.version, self.file_suffix())
    }

    /// Repository-relative path of the artifact file: `version_dir/file_name`.
    pub fn path(&self) -> String {
        format!("{}/{}", self.version_dir(), self.file_name())
    }

    /// The pom beside the artifact.
    pub fn pom(&self) -> Self {
        Self {
            classifier: None,
            extension: PathPart::new("pom").expect("`pom` is a valid name"),
            ..self.clone()
        }
    }

    pub fn is_snapshot(&self) -> bool {
        is_snapshot_version(&self.version)
    }

    /// `1.0-SNAPSHOT` for both `1.0-SNAPSHOT` and the timestamped `1.0-20240101.120000-3`.
    pub fn base_version(&self) -> PathPart {
        // The base of a checked timestamped version is a checked prefix plus `-SNAPSHOT`, which
        // is always a valid name; the fallback to the version itself is only for the compiler.
        PathPart::new(&base_version(&self.version)).unwrap_or_else(|_| self.version.clone())
    }
}

impl fmt::Display for Coordinates {
    /// Maven's command-line order, so that printed coordinates can be pasted into
    /// `mvn dependency:get -Dartifact=`: `group:artifact:version:extension[:classifier]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}:{}",
            self.group_id, self.artifact_id, self.version, self.extension
        )?;
        if let Some(c) = &self.classifier {
            write!(f, ":{c}")?;
        }
        Ok(())
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
        )
        .unwrap();
        assert_eq!(
            c.path(),
            "io/fabric8/jube/images/fabric8/java/2.0.3/java-2.0.3-image.zip"
        );
        assert_eq!(
            c.to_string(),
            "io.fabric8.jube.images.fabric8:java:2.0.3:zip:image",
            "Maven's command-line order, extension before classifier"
        );
        assert_eq!(
            c.pom().path(),
            "io/fabric8/jube/images/fabric8/java/2.0.3/java-2.0.3.pom"
        );
    }

    #[test]
    fn timestamped_snapshots_keep_their_base_folder() {
        let c = Coordinates::new("g", "a", "1.0-20240101.120000-3", Some("image"), "zip").unwrap();
        assert!(c.is_snapshot());
        assert_eq!(c.base_version(), "1.0-SNAPSHOT");
        assert_eq!(c.path(), "g/a/1.0-SNAPSHOT/a-1.0-20240101.120000-3-image.zip");
        assert!(!is_snapshot_version("1.0"));
        assert!(is_snapshot_version("1.0-SNAPSHOT"));
        assert_eq!(base_version("2.0-1"), "2.0-1");
    }

    #[test]
    fn every_value_is_checked() {
        assert_eq!(
            Coordinates::new("g", "a", "../../x", None, "zip")
                .unwrap_err()
                .field,
            "version"
        );
        assert_eq!(
            Coordinates::new("g..h", "a", "1", None, "zip").unwrap_err().field,
            "groupId"
        );
        assert_eq!(
            Coordinates::new("g", "C:", "1", None, "zip").unwrap_err().field,
            "artifactId"
        );
        assert_eq!(
            Coordinates::new("g", "a", "1", Some("x/y"), "zip")
                .unwrap_err()
                .field,
            "classifier"
        );
        assert_eq!(
            Coordinates::new("g", "a", "1", None, "..").unwrap_err().field,
            "extension"
        );
        let c = Coordinates::new("g", "a", "1", Some(""), "zip").unwrap();
        assert_eq!(c.classifier, None, "an empty classifier is none");
        let e = c.with_version(r"1.0\..\x").unwrap_err().to_string();
        assert!(e.starts_with(r"the version `1.0\\..\\x` cannot be"), "{e}");
        assert_eq!(c.with_version("2").unwrap().version, "2");
    }
}
