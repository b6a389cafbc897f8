//! The stock images built into the binary, served as the last repository (`builtin`), so that
//! `jube start fabric8/java` works on a machine with no network and an empty local repository.

use crate::maven::coordinates::{Coordinates, UnsafeCoordinate};
use crate::maven::metadata::{self, Metadata};

include!(concat!(env!("OUT_DIR"), "/builtin_images.rs"));

/// The repository id the built-in images are reported under.
pub const BUILTIN_ID: &str = "builtin";

/// One built-in image.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinImage {
    pub namespace: &'static str,
    pub name: &'static str,
    pub version: &'static str,
    pub zip: &'static [u8],
}

pub fn all() -> impl Iterator<Item = BuiltinImage> {
    BUILTIN_IMAGES
        .iter()
        .map(|(namespace, name, version, zip)| BuiltinImage {
            namespace,
            name,
            version,
            zip,
        })
}

impl BuiltinImage {
    /// Its coordinates under the image group prefix (which the environment may set to anything).
    pub fn coordinates(&self, prefix: &str) -> Result<Coordinates, UnsafeCoordinate> {
        Coordinates::new(
            &format!("{prefix}.{}", self.namespace),
            self.name,
            self.version,
            Some("image"),
            "zip",
        )
    }
}

/// The built-in images matching an artifact, under the image group prefix.
fn matching<'a>(c: &'a Coordinates, prefix: &'a str) -> impl Iterator<Item = BuiltinImage> + 'a {
    all().filter(move |i| {
        c.classifier.as_deref() == Some("image")
            && c.extension == "zip"
            && c.artifact_id == i.name
            && c.group_id.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) == Some(i.namespace)
    })
}

/// Metadata listing the built-in versions of an artifact, as if a repository served it.
pub fn metadata_for(c: &Coordinates, prefix: &str) -> Option<Metadata> {
    let versions: Vec<String> = matching(c, prefix).map(|i| i.version.to_owned()).collect();
    if versions.is_empty() {
        return None;
    }
    let mut m = metadata::artifact_metadata(&c.group_id, &c.artifact_id);
    m.versioning.versions = versions;
    Some(m)
}

/// The zip of a built-in image at exactly `c`'s version.
pub fn zip_for(c: &Coordinates, prefix: &str) -> Option<&'static [u8]> {
    matching(c, prefix)
        .find(|i| i.version == c.version)
        .map(|i| i.zip)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::DEFAULT_GROUP_PREFIX;

    #[test]
    fn the_java_and_ticker_images_are_built_in() {
        let names: Vec<String> = all().map(|i| format!("{}/{}", i.namespace, i.name)).collect();
        assert!(names.contains(&"fabric8/java".to_owned()), "{names:?}");
        assert!(names.contains(&"fabric8/ticker".to_owned()), "{names:?}");
        let java = all().find(|i| i.name == "java").unwrap();
        let c = java.coordinates(DEFAULT_GROUP_PREFIX).unwrap();
        assert_eq!(zip_for(&c, DEFAULT_GROUP_PREFIX), Some(java.zip));
        assert!(zip_for(&c.with_version("0.0.1").unwrap(), DEFAULT_GROUP_PREFIX).is_none());
        assert_eq!(
            metadata_for(&c, DEFAULT_GROUP_PREFIX).unwrap().newest_release(),
            Some(java.version)
        );
        assert!(metadata_for(&c, "com.example").is_none());
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(java.zip)).unwrap();
        assert!(archive.by_name("start.sh").is_ok() && archive.by_name("demo/Hello.java").is_ok());
    }
}
