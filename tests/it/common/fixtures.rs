//! Image zips and Maven repository layouts, written here from the Maven conventions rather than
//! with jube's own maven code, so that tests check jube against an independent picture.

use std::io::Write;
use std::path::Path;

use md5::Md5;
use sha1::{Digest, Sha1};
use zip::write::SimpleFileOptions;

/// The groupId prefix image names map under (jube's default).
pub const IMAGE_GROUP_PREFIX: &str = "io.fabric8.jube.images";

/// What a zip entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    /// A symbolic link to this target (stored as the entry's content, with the link mode).
    Symlink(String),
}

/// One entry of an image zip. `path` is written as given, so `../evil` or `/abs` make zip-slip
/// fixtures. `mode` is the unix permission bits; `None` takes the zip crate's default (0o644 for
/// files, 0o755 for folders, 0o777 for links).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZipEntry {
    pub path: String,
    pub data: Vec<u8>,
    pub mode: Option<u32>,
    pub kind: Kind,
}

impl ZipEntry {
    pub fn file(path: &str, data: impl Into<Vec<u8>>) -> Self {
        Self {
            path: path.to_owned(),
            data: data.into(),
            mode: None,
            kind: Kind::File,
        }
    }

    /// An executable (0o755) file.
    pub fn script(path: &str, text: &str) -> Self {
        Self::file(path, text).with_mode(0o755)
    }

    pub fn dir(path: &str) -> Self {
        Self {
            path: path.to_owned(),
            data: Vec::new(),
            mode: None,
            kind: Kind::Dir,
        }
    }

    pub fn symlink(path: &str, target: &str) -> Self {
        Self {
            path: path.to_owned(),
            data: Vec::new(),
            mode: None,
            kind: Kind::Symlink(target.to_owned()),
        }
    }

    pub fn with_mode(mut self, mode: u32) -> Self {
        self.mode = Some(mode);
        self
    }
}

/// A zip of these entries, in order. The same entries always give the same bytes.
pub fn image_zip(entries: &[ZipEntry]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for entry in entries {
        let mut options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(zip::DateTime::default());
        if let Some(mode) = entry.mode {
            options = options.unix_permissions(mode);
        }
        let added = match &entry.kind {
            Kind::File => zip
                .start_file(&entry.path, options)
                .and_then(|()| zip.write_all(&entry.data).map_err(Into::into)),
            Kind::Dir => zip.add_directory(entry.path.as_str(), options),
            Kind::Symlink(target) => zip.add_symlink(&entry.path, target, options),
        };
        if let Err(e) = added {
            panic!("cannot add {:?} to the zip: {e}", entry.path);
        }
    }
    zip.finish().expect("finish the zip").into_inner()
}

/// A minimal working POSIX image. `start.sh` starts `run.sh` in the background with nohup and
/// writes its pid to `process.pid`; `run.sh` sources `env.sh`, writes its environment to `app.env`,
/// prints `app running as PID (GREETING=hello)` and sleeps in the foreground until signalled.
/// `stop.sh` sends TERM and waits for the exit, `kill.sh` sends KILL, `status.sh` exits 0 while
/// the app runs and 3 when not. `ports.properties` declares `HTTP=8080`.
pub fn simple_image() -> Vec<ZipEntry> {
    vec![
        ZipEntry::script("start.sh", START_SH),
        ZipEntry::script("run.sh", RUN_SH),
        ZipEntry::script("stop.sh", STOP_SH),
        ZipEntry::script("kill.sh", KILL_SH),
        ZipEntry::script("status.sh", STATUS_SH),
        ZipEntry::file("env.sh", ENV_SH),
        ZipEntry::file("ports.properties", "HTTP=8080\n"),
    ]
}

const START_SH: &str = r#"#!/bin/sh
# Starts the app in the background and records its pid.
cd "$(dirname "$0")" || exit 1
nohup ./run.sh >> app.log 2>&1 < /dev/null &
echo $! > process.pid
exit 0
"#;

const RUN_SH: &str = r#"#!/bin/sh
# Runs the app in the foreground until it is signalled.
cd "$(dirname "$0")" || exit 1
. ./env.sh
env | sort > app.env
echo "app running as $$ (GREETING=$GREETING)"
exec sleep 100000
"#;

/// Shared by the scripts that ask whether the app runs: a zombie has exited, it only has not
/// been collected by its parent yet.
macro_rules! running_fn {
    () => {
        r#"running() {
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  case "$(ps -o stat= -p "$pid" 2>/dev/null)" in Z*) return 1 ;; esac
  return 0
}
"#
    };
}

const STOP_SH: &str = concat!(
    r#"#!/bin/sh
# Stops the app: TERM, then waits up to 10 s for it to exit.
cd "$(dirname "$0")" || exit 1
pid=$(cat process.pid 2>/dev/null)
"#,
    running_fn!(),
    r#"running || exit 0
kill "$pid"
i=0
while running && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
running && exit 1
rm -f process.pid
exit 0
"#
);

const KILL_SH: &str = r#"#!/bin/sh
# Kills the app at once.
cd "$(dirname "$0")" || exit 1
pid=$(cat process.pid 2>/dev/null) || exit 0
kill -9 "$pid" 2>/dev/null
rm -f process.pid
exit 0
"#;

const STATUS_SH: &str = concat!(
    r#"#!/bin/sh
# Exits 0 while the app runs, 3 when it does not (LSB).
cd "$(dirname "$0")" || exit 1
pid=$(cat process.pid 2>/dev/null)
"#,
    running_fn!(),
    r#"running && exit 0
exit 3
"#
);

const ENV_SH: &str = "# The app's environment; jube adds its own lines below.\nexport GREETING=hello\n";

/// The (groupId, artifactId) of an image name without tag: the last two path parts, under
/// [`IMAGE_GROUP_PREFIX`]; a one-part name is in the `library` namespace, as in docker.
pub fn image_coords(image: &str) -> (String, String) {
    let mut parts = image.rsplit('/');
    let artifact = parts.next().unwrap_or_default();
    let namespace = parts.next().unwrap_or("library");
    (format!("{IMAGE_GROUP_PREFIX}.{namespace}"), artifact.to_owned())
}

/// The repository path of a release image zip: `io/.../ARTIFACT/VERSION/ARTIFACT-VERSION-image.zip`.
pub fn image_zip_path(group: &str, artifact: &str, version: &str) -> String {
    format!(
        "{}/{artifact}-{version}-image.zip",
        version_dir(group, artifact, version)
    )
}

fn artifact_dir(group: &str, artifact: &str) -> String {
    format!("{}/{artifact}", group.replace('.', "/"))
}

fn version_dir(group: &str, artifact: &str, version: &str) -> String {
    format!("{}/{version}", artifact_dir(group, artifact))
}

/// Publishes `zip` as `image` (`fabric8/java`) at `version`; see [`publish`].
pub fn publish_image(server_root: &Path, image: &str, version: &str, zip: &[u8]) -> String {
    let (group, artifact) = image_coords(image);
    publish(server_root, (&group, &artifact, version), zip)
}

/// Publishes an image zip as `mvn deploy` would: the zip (classifier `image`) and a pom, each with
/// `.sha1` and `.md5`, and the artifact's `maven-metadata.xml` (plus checksums) listing every
/// version published so far, with `latest` the one just published and `release` the last
/// non-snapshot one published. A `-SNAPSHOT` version is deployed as a unique snapshot
/// (`ARTIFACT-1.0-20240102.030405-N-image.zip`, N counting up) with version-level metadata.
/// Returns the zip's path relative to `server_root` (`/`-separated).
pub fn publish(server_root: &Path, coords: (&str, &str, &str), zip: &[u8]) -> String {
    let (group, artifact, version) = coords;
    let now = jiff::Timestamp::now();
    let file_version = match version.strip_suffix("-SNAPSHOT") {
        Some(base) => publish_snapshot_metadata(server_root, coords, base, now),
        None => version.to_owned(),
    };
    let dir = version_dir(group, artifact, version);
    let zip_path = format!("{dir}/{artifact}-{file_version}-image.zip");
    write_with_checksums(server_root, &zip_path, zip);
    write_with_checksums(
        server_root,
        &format!("{dir}/{artifact}-{file_version}.pom"),
        pom(group, artifact, version).as_bytes(),
    );

    let metadata_path = format!("{}/maven-metadata.xml", artifact_dir(group, artifact));
    let existing = std::fs::read_to_string(server_root.join(&metadata_path)).unwrap_or_default();
    let mut versions = versions_in(&existing);
    if !versions.iter().any(|v| v == version) {
        versions.push(version.to_owned());
    }
    let release = if version.ends_with("-SNAPSHOT") {
        tag_value(&existing, "release")
    } else {
        Some(version.to_owned())
    };
    let versions: Vec<&str> = versions.iter().map(String::as_str).collect();
    write_artifact_metadata(
        server_root,
        group,
        artifact,
        &versions,
        Some(version),
        release.as_deref(),
    );
    zip_path
}

/// Writes the artifact-level `maven-metadata.xml` (and checksums) as given, for tests that need
/// metadata `publish` would not write (versions out of order, no `release`, a missing version).
pub fn write_artifact_metadata(
    server_root: &Path,
    group: &str,
    artifact: &str,
    versions: &[&str],
    latest: Option<&str>,
    release: Option<&str>,
) {
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata>\n  <groupId>{group}</groupId>\n  \
         <artifactId>{artifact}</artifactId>\n  <versioning>\n"
    );
    if let Some(latest) = latest {
        xml += &format!("    <latest>{latest}</latest>\n");
    }
    if let Some(release) = release {
        xml += &format!("    <release>{release}</release>\n");
    }
    xml += "    <versions>\n";
    for version in versions {
        xml += &format!("      <version>{version}</version>\n");
    }
    xml += &format!(
        "    </versions>\n    <lastUpdated>{}</lastUpdated>\n  </versioning>\n</metadata>\n",
        jiff::Timestamp::now().strftime("%Y%m%d%H%M%S")
    );
    let path = format!("{}/maven-metadata.xml", artifact_dir(group, artifact));
    write_with_checksums(server_root, &path, xml.as_bytes());
}

/// Writes the version-level metadata of a new snapshot build and returns its file version
/// (`1.0-20240102.030405-3`).
fn publish_snapshot_metadata(
    server_root: &Path,
    (group, artifact, version): (&str, &str, &str),
    base: &str,
    now: jiff::Timestamp,
) -> String {
    let path = format!("{}/maven-metadata.xml", version_dir(group, artifact, version));
    let existing = std::fs::read_to_string(server_root.join(&path)).unwrap_or_default();
    let build = tag_value(&existing, "buildNumber")
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(0)
        + 1;
    let timestamp = now.strftime("%Y%m%d.%H%M%S").to_string();
    let updated = now.strftime("%Y%m%d%H%M%S").to_string();
    let value = format!("{base}-{timestamp}-{build}");
    let xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<metadata modelVersion="1.1.0">
  <groupId>{group}</groupId>
  <artifactId>{artifact}</artifactId>
  <version>{version}</version>
  <versioning>
    <snapshot>
      <timestamp>{timestamp}</timestamp>
      <buildNumber>{build}</buildNumber>
    </snapshot>
    <lastUpdated>{updated}</lastUpdated>
    <snapshotVersions>
      <snapshotVersion>
        <classifier>image</classifier>
        <extension>zip</extension>
        <value>{value}</value>
        <updated>{updated}</updated>
      </snapshotVersion>
      <snapshotVersion>
        <extension>pom</extension>
        <value>{value}</value>
        <updated>{updated}</updated>
      </snapshotVersion>
    </snapshotVersions>
  </versioning>
</metadata>
"#
    );
    write_with_checksums(server_root, &path, xml.as_bytes());
    value
}

fn pom(group: &str, artifact: &str, version: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>{group}</groupId>
  <artifactId>{artifact}</artifactId>
  <version>{version}</version>
  <packaging>pom</packaging>
</project>
"#
    )
}

/// Writes a file and its `.sha1` and `.md5` (hex only, as Maven deploys them).
fn write_with_checksums(root: &Path, rel: &str, bytes: &[u8]) {
    write_file(root, rel, bytes);
    write_file(root, &format!("{rel}.sha1"), sha1_hex(bytes).as_bytes());
    write_file(
        root,
        &format!("{rel}.md5"),
        hex::encode(Md5::digest(bytes)).as_bytes(),
    );
}

fn write_file(root: &Path, rel: &str, bytes: &[u8]) {
    let path = root.join(rel);
    let parent = path.parent().expect("a repository file has a folder");
    std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("create {}: {e}", parent.display()));
    // Renamed into place, so a server never serves half a file.
    let mut temp = tempfile::NamedTempFile::new_in(parent).expect("create a temp file");
    temp.write_all(bytes).expect("write the temp file");
    temp.persist(&path)
        .unwrap_or_else(|e| panic!("rename into {}: {e}", path.display()));
}

pub fn sha1_hex(bytes: &[u8]) -> String {
    hex::encode(Sha1::digest(bytes))
}

/// The `<version>`s inside `<versions>`.
fn versions_in(xml: &str) -> Vec<String> {
    let Some(start) = xml.find("<versions>") else {
        return Vec::new();
    };
    let end = xml[start..].find("</versions>").map_or(xml.len(), |e| start + e);
    tag_values(&xml[start..end], "version")
}

fn tag_value(xml: &str, tag: &str) -> Option<String> {
    tag_values(xml, tag).into_iter().next()
}

fn tag_values(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut values = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        rest = &rest[start + open.len()..];
        let Some(end) = rest.find(&close) else { break };
        values.push(rest[..end].trim().to_owned());
        rest = &rest[end + close.len()..];
    }
    values
}
