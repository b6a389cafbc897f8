//! Image names and the Jube convention that maps them to Maven coordinates.
//!
//! `[REGISTRY/]NAMESPACE/NAME[:TAG]` → `<prefix>.NAMESPACE:NAME:TAG:zip:image`, and explicit
//! coordinates as `mvn:GROUP/ARTIFACT[/VERSION[/TYPE[/CLASSIFIER]]]`.

pub mod build;
pub mod commit;
pub mod link;
pub mod pack;

use std::fmt;

use crate::maven::coordinates::{Coordinates, is_snapshot_version};
use crate::pathpart::{GroupId, PathPart};

/// The groupId prefix image names map under, unless `JUBE_IMAGE_GROUP_PREFIX` says otherwise.
pub const DEFAULT_GROUP_PREFIX: &str = "io.fabric8.jube.images";
pub const IMAGE_CLASSIFIER: &str = "image";
pub const IMAGE_EXTENSION: &str = "zip";

/// Which version of an image a tag asks for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", content = "version", rename_all = "snake_case")]
pub enum VersionRequest {
    /// No tag, `latest` or `RELEASE`: the newest version that is not a snapshot.
    NewestRelease,
    /// `LATEST`: the newest version, snapshots included.
    Latest,
    /// `X-SNAPSHOT`: the newest build of that snapshot.
    Snapshot(PathPart),
    /// A concrete release version.
    Exact(PathPart),
}

impl VersionRequest {
    /// The request a (checked) tag makes.
    pub fn from_tag(tag: Option<PathPart>) -> Self {
        match tag {
            None => Self::NewestRelease,
            Some(v) if v == "latest" || v == "RELEASE" => Self::NewestRelease,
            Some(v) if v == "LATEST" => Self::Latest,
            Some(v) if is_snapshot_version(&v) => Self::Snapshot(v),
            Some(v) => Self::Exact(v),
        }
    }

    /// The version when the tag names one, without asking any repository.
    pub fn concrete(&self) -> Option<&PathPart> {
        match self {
            Self::Exact(v) => Some(v),
            _ => None,
        }
    }
}

impl fmt::Display for VersionRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NewestRelease => f.write_str("latest"),
            Self::Latest => f.write_str("LATEST"),
            Self::Snapshot(v) | Self::Exact(v) => f.write_str(v),
        }
    }
}

/// A parsed image name: the artifact it means and the version it asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// What the user typed.
    pub original: String,
    pub group_id: GroupId,
    pub artifact_id: PathPart,
    pub classifier: Option<PathPart>,
    pub extension: PathPart,
    pub version: VersionRequest,
}

impl ImageRef {
    /// The coordinates at a given (resolved, checked) version.
    pub fn at(&self, version: &PathPart) -> Coordinates {
        Coordinates::from_parts(
            self.group_id.clone(),
            self.artifact_id.clone(),
            version.clone(),
            self.classifier.clone(),
            self.extension.clone(),
        )
    }

    /// The name without its tag, as `jube images` shows it.
    pub fn repository(&self, prefix: &str) -> String {
        image_name(&self.group_id, &self.artifact_id, prefix)
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

/// What is wrong with an image name.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid image name `{name}`: {problem}")]
pub struct ImageNameError {
    pub name: String,
    pub problem: String,
}

/// The short image name for coordinates: `fabric8/java` when the group is under `prefix`,
/// otherwise explicit `mvn:` coordinates.
pub fn image_name(group_id: &str, artifact_id: &str, prefix: &str) -> String {
    match group_id
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('.'))
    {
        Some(ns) if !ns.contains('.') && !ns.is_empty() => format!("{ns}/{artifact_id}"),
        _ => format!("mvn:{group_id}/{artifact_id}"),
    }
}

/// Parses an image name under the given groupId prefix.
pub fn parse(name: &str, prefix: &str) -> Result<ImageRef, ImageNameError> {
    let err = |problem: String| ImageNameError {
        name: name.to_owned(),
        problem,
    };
    if name.trim().is_empty() {
        return Err(err(
            "the name is empty; give one such as `fabric8/java` or `fabric8/java:2.0.3`".into(),
        ));
    }
    if name.chars().any(char::is_whitespace) {
        return Err(err("it contains whitespace".into()));
    }
    if let Some(rest) = name.strip_prefix("mvn:") {
        return parse_mvn(name, rest).map_err(err);
    }
    if name.contains('@') {
        return Err(err(
            "digests (`@sha256:...`) are not supported; name a version as the tag".into(),
        ));
    }

    if let Some(empty) = name.split('/').position(str::is_empty) {
        return Err(err(format!("path part {} is empty", empty + 1)));
    }
    if let Some(dots) = name.split('/').find(|p| p.contains("..")) {
        return Err(err(format!("path part `{dots}` contains `..`")));
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    let last = parts.pop().unwrap_or_default();
    let (artifact, tag) = match last.split_once(':') {
        Some((a, t)) => (a, Some(t)),
        None => (last, None),
    };
    // A first part that looks like a host (a dot, a port or `localhost`) is a registry, as in docker.
    if parts.first().is_some_and(|p| looks_like_registry(p)) {
        parts.remove(0);
    }
    let namespace = match parts.last() {
        Some(ns) => *ns,
        None => "library",
    };
    check_part("namespace", namespace).map_err(err)?;
    let artifact = check_part("name", artifact).map_err(err)?;
    let tag = tag.map(|t| check_version("tag", t)).transpose().map_err(err)?;
    let group = format!("{prefix}.{namespace}");
    let group_id = GroupId::new(&group).map_err(|e| {
        err(format!(
            "the groupId `{group}` (from JUBE_IMAGE_GROUP_PREFIX): {}",
            e.problem
        ))
    })?;
    Ok(ImageRef {
        original: name.to_owned(),
        group_id,
        artifact_id: artifact,
        classifier: Some(literal(IMAGE_CLASSIFIER)),
        extension: literal(IMAGE_EXTENSION),
        version: VersionRequest::from_tag(tag),
    })
}

/// A name jube itself spells, known to be valid.
fn literal(name: &'static str) -> PathPart {
    PathPart::new(name).expect("jube's own names are valid")
}

fn parse_mvn(name: &str, rest: &str) -> Result<ImageRef, String> {
    let parts: Vec<&str> = rest.split('/').collect();
    if parts.len() < 2 || parts.len() > 5 {
        return Err("explicit coordinates are `mvn:GROUP/ARTIFACT[/VERSION[/TYPE[/CLASSIFIER]]]`".into());
    }
    let group = parts[0];
    if group.contains("..") {
        return Err(format!("the groupId `{group}` contains `..`"));
    }
    for (i, g) in group.split('.').enumerate() {
        check_part("groupId", g).map_err(|e| format!("{e} (segment {} of the groupId)", i + 1))?;
    }
    let group_id = GroupId::new(group).map_err(|e| format!("the groupId {e}"))?;
    let artifact_id = check_part("artifactId", parts[1])?;
    let version = parts
        .get(2)
        .copied()
        .filter(|v| !v.is_empty())
        .map(|v| check_version("version", v))
        .transpose()?;
    let extension = match parts.get(3).copied().filter(|t| !t.is_empty()) {
        Some(t) => check_part("type", t)?,
        None => literal(IMAGE_EXTENSION),
    };
    let classifier = match parts.get(4) {
        Some(c) if !c.is_empty() => Some(check_part("classifier", c)?),
        Some(_) => None,
        // Jube's default: a zip is the `image` classifier unless another type is named.
        None if parts.get(3).is_none() => Some(literal(IMAGE_CLASSIFIER)),
        None => None,
    };
    Ok(ImageRef {
        original: name.to_owned(),
        group_id,
        artifact_id,
        classifier,
        extension,
        version: VersionRequest::from_tag(version),
    })
}

fn looks_like_registry(part: &str) -> bool {
    part.contains('.') || part.contains(':') || part == "localhost"
}

/// Checks one part of a name with the image grammar (letters, digits, `.`, `_`, `-`), then as a
/// file or folder name (length, Windows device names, ...).
fn check_part(what: &str, part: &str) -> Result<PathPart, String> {
    if part.is_empty() {
        return Err(format!("the {what} is empty"));
    }
    if part == "." || part == ".." || part.contains("..") {
        return Err(format!("the {what} `{part}` contains `..`"));
    }
    if let Some(bad) = part
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "the {what} `{part}` contains `{bad}`; use letters, digits, `.`, `_` and `-`"
        ));
    }
    if part.starts_with(['.', '-']) {
        return Err(format!(
            "the {what} `{part}` must start with a letter, digit or `_`"
        ));
    }
    PathPart::new(part).map_err(|e| format!("the {what} {e}"))
}

fn check_version(what: &str, v: &str) -> Result<PathPart, String> {
    if v.is_empty() {
        return Err(format!(
            "the {what} is empty; leave out the `:` for the newest version"
        ));
    }
    check_part(what, v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str) -> ImageRef {
        parse(name, DEFAULT_GROUP_PREFIX).unwrap()
    }

    fn v(version: &str) -> PathPart {
        PathPart::new(version).unwrap()
    }

    #[test]
    fn namespace_and_name_map_to_group_and_artifact() {
        let r = p("fabric8/java:2.0.3");
        assert_eq!(
            r.at(&v("2.0.3")).path(),
            "io/fabric8/jube/images/fabric8/java/2.0.3/java-2.0.3-image.zip"
        );
        assert_eq!(r.version, VersionRequest::Exact(v("2.0.3")));
    }

    #[test]
    fn registry_host_is_dropped_and_one_part_names_are_library() {
        assert_eq!(
            p("docker.io/fabric8/java").group_id,
            "io.fabric8.jube.images.fabric8"
        );
        assert_eq!(
            p("localhost:5000/fabric8/java:1").group_id,
            "io.fabric8.jube.images.fabric8"
        );
        assert_eq!(p("localhost/fabric8/java").artifact_id, "java");
        assert_eq!(p("redis").group_id, "io.fabric8.jube.images.library");
        assert_eq!(p("quay.io/redis").group_id, "io.fabric8.jube.images.library");
        assert_eq!(p("a/b/c/d").group_id, "io.fabric8.jube.images.c");
    }

    #[test]
    fn tags_choose_the_version_rule() {
        assert_eq!(p("fabric8/java").version, VersionRequest::NewestRelease);
        assert_eq!(p("fabric8/java:latest").version, VersionRequest::NewestRelease);
        assert_eq!(p("fabric8/java:RELEASE").version, VersionRequest::NewestRelease);
        assert_eq!(p("fabric8/java:LATEST").version, VersionRequest::Latest);
        assert_eq!(
            p("fabric8/java:1.0-SNAPSHOT").version,
            VersionRequest::Snapshot(v("1.0-SNAPSHOT"))
        );
    }

    #[test]
    fn explicit_maven_coordinates() {
        let r = p("mvn:com.example/app/1.2");
        assert_eq!(r.at(&v("1.2")).path(), "com/example/app/1.2/app-1.2-image.zip");
        let r = p("mvn:com.example/app/1.2/tar.gz");
        assert_eq!(r.at(&v("1.2")).file_name(), "app-1.2.tar.gz");
        let r = p("mvn:com.example/app/1.2/zip/dist");
        assert_eq!(r.at(&v("1.2")).file_name(), "app-1.2-dist.zip");
        assert_eq!(p("mvn:com.example/app").version, VersionRequest::NewestRelease);
    }

    #[test]
    fn bad_names_say_which_part_is_wrong() {
        for (name, needle) in [
            ("", "empty"),
            ("fabric8/ja va", "whitespace"),
            ("fabric8//java", "path part 2 is empty"),
            ("../java", "`..`"),
            ("fabric8/java:", "tag is empty"),
            ("fabric8/ja$va", "name `ja$va` contains `$`"),
            ("fabric8/java:1.0/x", "namespace `java:1.0` contains `:`"),
            ("mvn:com.example", "explicit coordinates"),
            ("mvn:com..example/app", "`..`"),
            ("fabric8/java@sha256:abc", "digests"),
            ("fabric8/con", "device name on Windows"),
            (
                "mvn:com.example/app/1.0/zip/aux",
                "classifier `aux` cannot be a file or folder name",
            ),
            ("mvn:com.example/app/1.0./zip", "ends with a dot"),
        ] {
            let e = parse(name, DEFAULT_GROUP_PREFIX).unwrap_err().to_string();
            assert!(e.contains(needle), "{name}: {e}");
        }
    }

    #[test]
    fn image_name_reverses_the_mapping() {
        assert_eq!(
            image_name("io.fabric8.jube.images.fabric8", "java", DEFAULT_GROUP_PREFIX),
            "fabric8/java"
        );
        assert_eq!(
            image_name("com.example", "app", DEFAULT_GROUP_PREFIX),
            "mvn:com.example/app"
        );
    }

    #[test]
    fn regression_fuzz_a_namespace_ending_with_a_dot_made_an_empty_group_segment() {
        let e = parse("mme/app/acme/app/zT./0", DEFAULT_GROUP_PREFIX).unwrap_err();
        assert!(e.problem.contains("ends with a dot"), "{e}");
    }
}
