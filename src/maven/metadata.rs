//! `maven-metadata.xml`: read leniently, written the way Maven writes it.
//!
//! Real repositories publish messy metadata: missing or empty elements, unsorted or repeated
//! versions, stray whitespace, unknown elements. Reading keeps what is usable and never trusts
//! `<latest>`/`<release>` for choosing a version: [`Metadata::newest_release`] and
//! [`Metadata::newest`] compute it from `<versions>` with Maven's ordering.

use std::collections::HashSet;

use quick_xml::events::Event;
use serde::Serialize;

use crate::maven::coordinates::{Coordinates, is_snapshot_version};
use crate::maven::version::MavenVersion;

mod read;

/// The contents of one `maven-metadata.xml` (artifact level, or snapshot version level).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    pub group_id: Option<String>,
    pub artifact_id: Option<String>,
    /// Set in a snapshot version's own metadata (`1.0-SNAPSHOT`).
    pub version: Option<String>,
    pub versioning: Versioning,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Versioning {
    /// As published; may be stale or wrong, so not used for choosing.
    pub latest: Option<String>,
    /// As published; may be stale or wrong, so not used for choosing.
    pub release: Option<String>,
    /// Trimmed, without empty entries or duplicates, in document order.
    pub versions: Vec<String>,
    /// `yyyyMMddHHmmss`, UTC.
    pub last_updated: Option<String>,
    pub snapshot: Option<Snapshot>,
    pub snapshot_versions: Vec<SnapshotVersion>,
}

/// The newest build of a snapshot version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// `yyyyMMdd.HHmmss`, UTC.
    pub timestamp: Option<String>,
    pub build_number: Option<u32>,
    /// The files carry the plain `-SNAPSHOT` version (a local install, not a deploy).
    pub local_copy: bool,
}

/// Which file version one classifier/extension of a snapshot build has.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotVersion {
    /// `None` for the main artifact (an empty `<classifier>` reads as `None`).
    pub classifier: Option<String>,
    pub extension: String,
    /// The version in the file name: `1.0-20240101.120000-3`.
    pub value: String,
    /// `yyyyMMddHHmmss`, UTC.
    pub updated: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error(
        "maven-metadata.xml is not UTF-8 text (invalid byte at offset {offset}); the repository served \
         something else than metadata: check its URL, or delete the cached copy to fetch it again"
    )]
    NotUtf8 { offset: usize },
    #[error(
        "maven-metadata.xml is malformed at line {line}, column {column}: {message}; delete the cached \
         copy to fetch it again, or ask the repository's owner to fix it"
    )]
    Malformed {
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "expected maven-metadata.xml (a <metadata> document) but the root element is <{root}>; the \
         repository URL may lead to a web page instead of a Maven repository"
    )]
    NotMetadata { root: String },
    #[error("maven-metadata.xml has no <metadata> element (the file is empty or not XML)")]
    NoRootElement,
    #[error(
        "<{element}> in maven-metadata.xml is {value:?}, not a whole number; delete the cached copy to \
         fetch it again, or ask the repository's owner to fix it"
    )]
    BadNumber { element: &'static str, value: String },
}

/// Reads a `maven-metadata.xml`, keeping whatever is usable.
pub fn parse(bytes: &[u8]) -> Result<Metadata, MetadataError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| MetadataError::NotUtf8 {
        offset: e.valid_up_to(),
    })?;
    let root = root_element_name(text)?;
    if root != "metadata" {
        return Err(MetadataError::NotMetadata { root });
    }
    read::read(text)?.into_metadata()
}

/// Empty metadata for an artifact that has none yet.
pub fn artifact_metadata(group: &str, artifact: &str) -> Metadata {
    Metadata {
        group_id: Some(group.to_owned()),
        artifact_id: Some(artifact.to_owned()),
        ..Metadata::default()
    }
}

/// The current UTC time as Maven writes it: (`yyyyMMddHHmmss` for `lastUpdated`,
/// `yyyyMMdd.HHmmss` for a snapshot's timestamp).
pub fn timestamp_now() -> (String, String) {
    timestamps_at(jiff::Timestamp::now())
}

fn timestamps_at(at: jiff::Timestamp) -> (String, String) {
    (
        at.strftime("%Y%m%d%H%M%S").to_string(),
        at.strftime("%Y%m%d.%H%M%S").to_string(),
    )
}

impl Metadata {
    /// Folds in another repository's metadata for the same artifact: the union of the versions,
    /// the newest `lastUpdated`, and the newest snapshot build (by timestamp).
    pub fn merge(&mut self, other: &Metadata) {
        fill_missing(&mut self.group_id, &other.group_id);
        fill_missing(&mut self.artifact_id, &other.artifact_id);
        fill_missing(&mut self.version, &other.version);
        let ours = &mut self.versioning;
        let theirs = &other.versioning;
        let mut known: HashSet<String> = ours.versions.iter().cloned().collect();
        for v in &theirs.versions {
            if known.insert(v.clone()) {
                ours.versions.push(v.clone());
            }
        }
        if theirs.last_updated > ours.last_updated {
            ours.last_updated.clone_from(&theirs.last_updated);
        }
        if let Some(snapshot) = &theirs.snapshot
            && ours.snapshot.as_ref().is_none_or(|s| snapshot.is_newer_than(s))
        {
            ours.snapshot = Some(snapshot.clone());
        }
        for sv in &theirs.snapshot_versions {
            merge_snapshot_version(&mut ours.snapshot_versions, sv);
        }
        fill_missing(&mut ours.latest, &theirs.latest);
        fill_missing(&mut ours.release, &theirs.release);
        self.recompute_latest_and_release();
    }

    /// The newest version that is not a snapshot, by Maven's ordering.
    pub fn newest_release(&self) -> Option<&str> {
        newest_of(
            self.versioning
                .versions
                .iter()
                .filter(|v| !is_snapshot_version(v)),
        )
    }

    /// The newest version, snapshots included, by Maven's ordering.
    pub fn newest(&self) -> Option<&str> {
        newest_of(self.versioning.versions.iter())
    }

    /// The version in the file name of a snapshot artifact (`base_version` is `1.0-SNAPSHOT`):
    /// the matching `<snapshotVersion>` value, else the version built from `<snapshot>`'s
    /// timestamp and build number, else `base_version` itself (a local copy, or no build info).
    pub fn snapshot_file_version(
        &self,
        base_version: &str,
        classifier: Option<&str>,
        extension: &str,
    ) -> String {
        let classifier = classifier.filter(|c| !c.is_empty());
        let matching = self
            .versioning
            .snapshot_versions
            .iter()
            .filter(|sv| sv.classifier.as_deref() == classifier && sv.extension == extension)
            .max_by(|a, b| a.updated.cmp(&b.updated));
        if let Some(sv) = matching {
            return sv.value.clone();
        }
        match &self.versioning.snapshot {
            Some(Snapshot {
                local_copy: false,
                timestamp: Some(timestamp),
                build_number: Some(build),
            }) => match base_version.strip_suffix("-SNAPSHOT") {
                Some(release_part) => format!("{release_part}-{timestamp}-{build}"),
                None => base_version.to_owned(),
            },
            _ => base_version.to_owned(),
        }
    }

    /// Maven's layout: XML declaration, 2-space indent, empty elements left out, and
    /// `modelVersion="1.1.0"` only when the document uses 1.1.0's `<snapshotVersions>`.
    pub fn to_xml(&self) -> String {
        let raw = RawMetadata::from_metadata(self);
        let mut body = String::new();
        let mut serializer = quick_xml::se::Serializer::new(&mut body);
        serializer.indent(' ', 2);
        // Only strings, options and lists of strings, written into a String: this cannot fail.
        raw.serialize(serializer)
            .expect("metadata of plain strings always serializes");
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{body}\n")
    }

    /// Records a deployed version: adds it (once), points `latest` and `release` at the newest
    /// versions, and sets `lastUpdated`.
    pub fn add_release(&mut self, version: &str, last_updated: &str) {
        let version = version.trim();
        if !version.is_empty() && !self.versioning.versions.iter().any(|v| v == version) {
            self.versioning.versions.push(version.to_owned());
        }
        self.versioning.last_updated = Some(last_updated.to_owned());
        self.recompute_latest_and_release();
    }

    fn recompute_latest_and_release(&mut self) {
        if let Some(newest) = self.newest() {
            self.versioning.latest = Some(newest.to_owned());
        }
        if let Some(release) = self.newest_release() {
            self.versioning.release = Some(release.to_owned());
        }
    }
}

impl Versioning {
    /// Records that the snapshot build `value` holds the artifact `c` and its pom, replacing what
    /// an earlier build said of those two files (other classifiers keep their entries).
    pub fn record_snapshot_files(&mut self, c: &Coordinates, value: &str, updated: &str) {
        for (classifier, extension) in [
            (
                c.classifier.as_ref().map(|p| p.to_string()),
                c.extension.to_string(),
            ),
            (None, "pom".to_owned()),
        ] {
            self.snapshot_versions
                .retain(|sv| !(sv.classifier == classifier && sv.extension == extension));
            self.snapshot_versions.push(SnapshotVersion {
                classifier,
                extension,
                value: value.to_owned(),
                updated: Some(updated.to_owned()),
            });
        }
    }
}

impl Snapshot {
    fn is_newer_than(&self, other: &Snapshot) -> bool {
        (&self.timestamp, self.build_number) > (&other.timestamp, other.build_number)
    }

    fn is_empty(&self) -> bool {
        self.timestamp.is_none() && self.build_number.is_none() && !self.local_copy
    }
}

fn fill_missing(ours: &mut Option<String>, theirs: &Option<String>) {
    if ours.is_none() {
        ours.clone_from(theirs);
    }
}

/// Keeps one entry per classifier and extension: the most recently updated.
fn merge_snapshot_version(ours: &mut Vec<SnapshotVersion>, theirs: &SnapshotVersion) {
    let same_file = ours
        .iter_mut()
        .find(|sv| sv.classifier == theirs.classifier && sv.extension == theirs.extension);
    match same_file {
        Some(sv) if theirs.updated > sv.updated => *sv = theirs.clone(),
        Some(_) => {}
        None => ours.push(theirs.clone()),
    }
}

/// Each version is parsed once, so this stays linear in the number of versions.
fn newest_of<'a>(versions: impl Iterator<Item = &'a String> + Clone) -> Option<&'a str> {
    // Most artifacts list only dotted numbers, and some list thousands: those compare as numbers
    // (Maven's order for them), without building Maven's item lists for each.
    if let Some(newest) = newest_dotted_number(versions.clone()) {
        return newest;
    }
    versions
        .map(|v| (MavenVersion::parse(v), v))
        .max_by(|(a, _), (b, _)| a.cmp(b))
        .map(|(_, v)| v.as_str())
}

/// The newest of versions that are all dotted numbers (`1`, `1.0`, `2.10.3`, each part a `u64`),
/// or `None` when one is not. Parts are compared as numbers with trailing zeros dropped, so
/// `1.0.0` = `1` and `1.0.1` < `1.1`, as Maven orders them. Of equal versions the last wins.
fn newest_dotted_number<'a>(versions: impl Iterator<Item = &'a String>) -> Option<Option<&'a str>> {
    let (mut best, mut parts): (Vec<u64>, Vec<u64>) = (Vec::new(), Vec::new());
    let mut newest = None;
    for v in versions {
        if !dotted_number_parts(v, &mut parts) {
            return None;
        }
        if newest.is_none() || parts >= best {
            std::mem::swap(&mut best, &mut parts);
            newest = Some(v.as_str());
        }
    }
    Some(newest)
}

/// Reads `v`'s parts into `parts` without trailing zeros; false when `v` is not a dotted number.
fn dotted_number_parts(v: &str, parts: &mut Vec<u64>) -> bool {
    parts.clear();
    let (mut number, mut digits) = (0u64, 0usize);
    for b in v.bytes().chain(std::iter::once(b'.')) {
        if b == b'.' {
            if digits == 0 {
                return false;
            }
            parts.push(number);
            (number, digits) = (0, 0);
        } else if b.is_ascii_digit() {
            let Some(next) = number
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(b - b'0')))
            else {
                return false;
            };
            (number, digits) = (next, digits + 1);
        } else {
            return false;
        }
    }
    while parts.last() == Some(&0) {
        parts.pop();
    }
    true
}

/// The local name of the first element, so that an HTML page is not read as empty metadata.
fn root_element_name(text: &str) -> Result<String, MetadataError> {
    let mut reader = quick_xml::Reader::from_str(text);
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) => {
                return Ok(e.local_name().into_inner().to_owned());
            }
            Ok(Event::Eof) => return Err(MetadataError::NoRootElement),
            Ok(_) => {}
            Err(e) => return Err(malformed(text, reader.error_position(), e.to_string())),
        }
    }
}

fn malformed(text: &str, at: u64, message: String) -> MetadataError {
    let at = usize::try_from(at).unwrap_or(usize::MAX).min(text.len());
    let before = &text.as_bytes()[..at];
    let line_start = before.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    MetadataError::Malformed {
        line: before.iter().filter(|b| **b == b'\n').count() + 1,
        column: at - line_start + 1,
        message,
    }
}

/// Trimmed text, `None` when empty.
fn clean(value: Option<String>) -> Option<String> {
    let value = value?;
    match value.trim() {
        "" => None,
        trimmed if trimmed.len() == value.len() => Some(value),
        trimmed => Some(trimmed.to_owned()),
    }
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

// The XML shapes, shared by reading and writing. Every text is an optional string so that reading
// accepts missing, empty and odd values; conversion to the public types does the checking. Field
// order is Maven's element order.

#[derive(Serialize, Default)]
#[serde(rename = "metadata")]
struct RawMetadata {
    #[serde(rename = "@modelVersion", skip_serializing_if = "Option::is_none")]
    model_version: Option<String>,
    #[serde(rename = "groupId", skip_serializing_if = "Option::is_none")]
    group_id: Option<String>,
    #[serde(rename = "artifactId", skip_serializing_if = "Option::is_none")]
    artifact_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    versioning: Option<RawVersioning>,
}

#[derive(Serialize, Default)]
struct RawVersioning {
    #[serde(skip_serializing_if = "Option::is_none")]
    latest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    release: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    snapshot: Option<RawSnapshot>,
    #[serde(skip_serializing_if = "Option::is_none")]
    versions: Option<RawVersions>,
    #[serde(rename = "lastUpdated", skip_serializing_if = "Option::is_none")]
    last_updated: Option<String>,
    #[serde(rename = "snapshotVersions", skip_serializing_if = "Option::is_none")]
    snapshot_versions: Option<RawSnapshotVersions>,
}

#[derive(Serialize, Default)]
struct RawVersions {
    version: Vec<String>,
}

#[derive(Serialize, Default)]
struct RawSnapshot {
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<String>,
    #[serde(rename = "buildNumber", skip_serializing_if = "Option::is_none")]
    build_number: Option<String>,
    #[serde(rename = "localCopy", skip_serializing_if = "Option::is_none")]
    local_copy: Option<String>,
}

#[derive(Serialize, Default)]
struct RawSnapshotVersions {
    #[serde(rename = "snapshotVersion")]
    snapshot_version: Vec<RawSnapshotVersion>,
}

#[derive(Serialize, Default)]
struct RawSnapshotVersion {
    #[serde(skip_serializing_if = "Option::is_none")]
    classifier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    extension: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    updated: Option<String>,
}

impl RawMetadata {
    fn into_metadata(self) -> Result<Metadata, MetadataError> {
        let raw = self.versioning.unwrap_or_default();
        let snapshot = raw.snapshot.map(RawSnapshot::into_snapshot).transpose()?;
        Ok(Metadata {
            group_id: clean(self.group_id),
            artifact_id: clean(self.artifact_id),
            version: clean(self.version),
            versioning: Versioning {
                latest: clean(raw.latest),
                release: clean(raw.release),
                versions: unique_versions(raw.versions.map(|v| v.version).unwrap_or_default()),
                // Old Maven versions wrote the word "null".
                last_updated: clean(raw.last_updated).filter(|u| u != "null"),
                snapshot: snapshot.filter(|s| !s.is_empty()),
                snapshot_versions: raw
                    .snapshot_versions
                    .map(|s| s.snapshot_version)
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(RawSnapshotVersion::into_snapshot_version)
                    .collect(),
            },
        })
    }

    fn from_metadata(m: &Metadata) -> Self {
        let v = &m.versioning;
        let owned = |value: &Option<String>| non_empty(value).map(str::to_owned);
        let versions: Vec<String> = v.versions.iter().filter(|s| !s.is_empty()).cloned().collect();
        let snapshot_versions: Vec<RawSnapshotVersion> = v
            .snapshot_versions
            .iter()
            .map(RawSnapshotVersion::from_snapshot_version)
            .collect();
        let versioning = RawVersioning {
            latest: owned(&v.latest),
            release: owned(&v.release),
            snapshot: v
                .snapshot
                .as_ref()
                .filter(|s| !s.is_empty())
                .map(RawSnapshot::from_snapshot),
            versions: (!versions.is_empty()).then_some(RawVersions { version: versions }),
            last_updated: owned(&v.last_updated),
            snapshot_versions: (!snapshot_versions.is_empty()).then_some(RawSnapshotVersions {
                snapshot_version: snapshot_versions,
            }),
        };
        let versioning_is_empty = versioning.latest.is_none()
            && versioning.release.is_none()
            && versioning.snapshot.is_none()
            && versioning.versions.is_none()
            && versioning.last_updated.is_none()
            && versioning.snapshot_versions.is_none();
        RawMetadata {
            model_version: versioning.snapshot_versions.as_ref().map(|_| "1.1.0".to_owned()),
            group_id: owned(&m.group_id),
            artifact_id: owned(&m.artifact_id),
            version: owned(&m.version),
            versioning: (!versioning_is_empty).then_some(versioning),
        }
    }
}

impl RawSnapshot {
    fn into_snapshot(self) -> Result<Snapshot, MetadataError> {
        let build_number = clean(self.build_number)
            .map(|b| {
                b.parse::<u32>().map_err(|_| MetadataError::BadNumber {
                    element: "buildNumber",
                    value: b,
                })
            })
            .transpose()?;
        Ok(Snapshot {
            timestamp: clean(self.timestamp),
            build_number,
            local_copy: clean(self.local_copy).is_some_and(|c| c.eq_ignore_ascii_case("true")),
        })
    }

    fn from_snapshot(s: &Snapshot) -> Self {
        RawSnapshot {
            timestamp: non_empty(&s.timestamp).map(str::to_owned),
            build_number: s.build_number.map(|b| b.to_string()),
            local_copy: s.local_copy.then(|| "true".to_owned()),
        }
    }
}

impl RawSnapshotVersion {
    /// An entry without a `<value>` names no file, so it is dropped.
    fn into_snapshot_version(self) -> Option<SnapshotVersion> {
        Some(SnapshotVersion {
            value: clean(self.value)?,
            classifier: clean(self.classifier),
            extension: clean(self.extension).unwrap_or_default(),
            updated: clean(self.updated),
        })
    }

    fn from_snapshot_version(sv: &SnapshotVersion) -> Self {
        RawSnapshotVersion {
            classifier: non_empty(&sv.classifier).map(str::to_owned),
            extension: (!sv.extension.is_empty()).then(|| sv.extension.clone()),
            value: (!sv.value.is_empty()).then(|| sv.value.clone()),
            updated: non_empty(&sv.updated).map(str::to_owned),
        }
    }
}

/// Trimmed, non-empty, first occurrence kept.
fn unique_versions(raw: Vec<String>) -> Vec<String> {
    let cleaned: Vec<String> = raw.into_iter().filter_map(|v| clean(Some(v))).collect();
    let mut seen = HashSet::with_capacity(cleaned.len());
    let keep: Vec<bool> = cleaned.iter().map(|v| seen.insert(v.as_str())).collect();
    cleaned
        .into_iter()
        .zip(keep)
        .filter_map(|(v, keep)| keep.then_some(v))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(xml: &str) -> Metadata {
        match parse(xml.as_bytes()) {
            Ok(m) => m,
            Err(e) => panic!("{e}\n{xml}"),
        }
    }

    fn snapshot_version(
        classifier: Option<&str>,
        extension: &str,
        value: &str,
        updated: &str,
    ) -> SnapshotVersion {
        SnapshotVersion {
            classifier: classifier.map(str::to_owned),
            extension: extension.to_owned(),
            value: value.to_owned(),
            updated: Some(updated.to_owned()),
        }
    }

    fn full_snapshot_metadata() -> Metadata {
        Metadata {
            group_id: Some("io.fabric8.jube.images.fabric8".into()),
            artifact_id: Some("java".into()),
            version: Some("2.0-SNAPSHOT".into()),
            versioning: Versioning {
                latest: Some("2.0-SNAPSHOT".into()),
                release: Some("1.9".into()),
                versions: vec!["1.9".into(), "2.0-SNAPSHOT".into()],
                last_updated: Some("20240102030405".into()),
                snapshot: Some(Snapshot {
                    timestamp: Some("20240102.030405".into()),
                    build_number: Some(7),
                    local_copy: false,
                }),
                snapshot_versions: vec![
                    snapshot_version(Some("image"), "zip", "2.0-20240102.030405-7", "20240102030405"),
                    snapshot_version(None, "pom", "2.0-20240102.030405-7", "20240102030405"),
                ],
            },
        }
    }

    #[test]
    fn writes_maven_layout() {
        let xml = full_snapshot_metadata().to_xml();
        let expected = r#"<?xml version="1.0" encoding="UTF-8"?>
<metadata modelVersion="1.1.0">
  <groupId>io.fabric8.jube.images.fabric8</groupId>
  <artifactId>java</artifactId>
  <version>2.0-SNAPSHOT</version>
  <versioning>
    <latest>2.0-SNAPSHOT</latest>
    <release>1.9</release>
    <snapshot>
      <timestamp>20240102.030405</timestamp>
      <buildNumber>7</buildNumber>
    </snapshot>
    <versions>
      <version>1.9</version>
      <version>2.0-SNAPSHOT</version>
    </versions>
    <lastUpdated>20240102030405</lastUpdated>
    <snapshotVersions>
      <snapshotVersion>
        <classifier>image</classifier>
        <extension>zip</extension>
        <value>2.0-20240102.030405-7</value>
        <updated>20240102030405</updated>
      </snapshotVersion>
      <snapshotVersion>
        <extension>pom</extension>
        <value>2.0-20240102.030405-7</value>
        <updated>20240102030405</updated>
      </snapshotVersion>
    </snapshotVersions>
  </versioning>
</metadata>
"#;
        assert_eq!(xml, expected);
    }

    #[test]
    fn writes_release_metadata_without_model_version_or_empty_elements() {
        let mut m = artifact_metadata("g", "a");
        m.add_release("1.0", "20240101000000");
        m.versioning.snapshot = Some(Snapshot::default());
        m.version = Some(String::new());
        let expected = r#"<?xml version="1.0" encoding="UTF-8"?>
<metadata>
  <groupId>g</groupId>
  <artifactId>a</artifactId>
  <versioning>
    <latest>1.0</latest>
    <release>1.0</release>
    <versions>
      <version>1.0</version>
    </versions>
    <lastUpdated>20240101000000</lastUpdated>
  </versioning>
</metadata>
"#;
        assert_eq!(m.to_xml(), expected);
        assert_eq!(
            artifact_metadata("g", "a").to_xml(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata>\n  <groupId>g</groupId>\n  \
             <artifactId>a</artifactId>\n</metadata>\n"
        );
    }

    #[test]
    fn round_trips() {
        let local = Metadata {
            versioning: Versioning {
                snapshot: Some(Snapshot {
                    timestamp: None,
                    build_number: None,
                    local_copy: true,
                }),
                last_updated: Some("20240101000000".into()),
                ..Versioning::default()
            },
            ..artifact_metadata("g", "a")
        };
        let mut escaped = artifact_metadata("g<&>\"'", "a");
        escaped.add_release("1.0-a&b<c>", "20240101000000");
        for m in [
            full_snapshot_metadata(),
            local,
            escaped,
            Metadata::default(),
            artifact_metadata("g", "a"),
        ] {
            let xml = m.to_xml();
            assert_eq!(parse_str(&xml), m, "round trip through\n{xml}");
        }
    }

    #[test]
    fn reads_messy_metadata() {
        let m = parse_str(
            "\u{feff}<metadata modelVersion=\"1.1.0\">
               <!-- written by hand -->
               <groupId>  g  </groupId>
               <artifactId>a</artifactId>
               <plugins><plugin><prefix>x</prefix></plugin></plugins>
               <versioning>
                 <latest>1.0</latest>
                 <release></release>
                 <unknown attr=\"1\"><deep>x</deep></unknown>
                 <versions>
                   <version> 2.0 </version>
                   <version>10.0</version>
                   <version/>
                   <version>2.0</version>
                   <version>1.0</version>
                 </versions>
                 <lastUpdated>
                   20240101000000
                 </lastUpdated>
               </versioning>
             </metadata>",
        );
        assert_eq!(m.group_id.as_deref(), Some("g"));
        assert_eq!(m.artifact_id.as_deref(), Some("a"));
        assert_eq!(m.version, None);
        assert_eq!(m.versioning.latest.as_deref(), Some("1.0"));
        assert_eq!(m.versioning.release, None);
        assert_eq!(m.versioning.versions, ["2.0", "10.0", "1.0"]);
        assert_eq!(m.versioning.last_updated.as_deref(), Some("20240101000000"));
        // <latest> says 1.0; the versions say otherwise.
        assert_eq!(m.newest_release(), Some("10.0"));
    }

    #[test]
    fn reads_entities_cdata_and_nested_unknown_elements() {
        let m = parse_str(
            "<metadata>
               <groupId>g&amp;h</groupId>
               <artifactId><![CDATA[a<b]]></artifactId>
               <plugins><plugin><version>9.9</version><versions><version>8</version></versions></plugin></plugins>
               <versioning>
                 <versions><version>1&#46;0</version><version>2.0</version></versions>
                 <snapshotVersions>
                   <snapshotVersion><extension>zip</extension><value>v1</value></snapshotVersion>
                   <snapshotVersion><classifier>image</classifier><value>v2</value></snapshotVersion>
                 </snapshotVersions>
               </versioning>
             </metadata>",
        );
        assert_eq!(m.group_id.as_deref(), Some("g&h"));
        assert_eq!(m.artifact_id.as_deref(), Some("a<b"));
        assert_eq!(
            m.version, None,
            "<version> of an unknown element is not the metadata's"
        );
        assert_eq!(m.versioning.versions, ["1.0", "2.0"]);
        let entries: Vec<(Option<&str>, &str, &str)> = m
            .versioning
            .snapshot_versions
            .iter()
            .map(|sv| (sv.classifier.as_deref(), sv.extension.as_str(), sv.value.as_str()))
            .collect();
        assert_eq!(entries, [(None, "zip", "v1"), (Some("image"), "", "v2")]);
        assert!(matches!(
            parse(b"<metadata><groupId>&nosuch;</groupId></metadata>"),
            Err(MetadataError::Malformed { .. })
        ));
        assert!(matches!(
            parse(b"<metadata><versioning a=\"1\" a=\"2\"/></metadata>"),
            Err(MetadataError::Malformed { .. })
        ));
        assert_eq!(parse_str("<metadata/>"), Metadata::default());
    }

    #[test]
    fn reads_minimal_and_empty_documents() {
        let prolog = parse_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata/>");
        assert_eq!(prolog, Metadata::default());
        let empty_parts = parse_str(
            "<metadata><groupId/><versioning><versions/><snapshot/><snapshotVersions/>\
             <lastUpdated>null</lastUpdated></versioning></metadata>",
        );
        assert_eq!(empty_parts, Metadata::default());
        assert_eq!(empty_parts.newest(), None);
        assert_eq!(empty_parts.newest_release(), None);
    }

    #[test]
    fn reads_snapshot_metadata_leniently() {
        let m = parse_str(
            "<metadata>
               <version>1.0-SNAPSHOT</version>
               <versioning>
                 <snapshot><timestamp>20240101.120000</timestamp><buildNumber> 3 </buildNumber>
                   <localCopy>FALSE</localCopy></snapshot>
                 <snapshotVersions>
                   <snapshotVersion><classifier></classifier><extension>jar</extension>
                     <value>1.0-20240101.120000-3</value><updated>20240101120000</updated></snapshotVersion>
                   <snapshotVersion><extension>pom</extension></snapshotVersion>
                 </snapshotVersions>
               </versioning>
             </metadata>",
        );
        assert_eq!(
            m.versioning.snapshot,
            Some(Snapshot {
                timestamp: Some("20240101.120000".into()),
                build_number: Some(3),
                local_copy: false
            })
        );
        // The entry without a value names no file and is dropped.
        assert_eq!(
            m.versioning.snapshot_versions,
            [snapshot_version(
                None,
                "jar",
                "1.0-20240101.120000-3",
                "20240101120000"
            )]
        );
    }

    #[test]
    fn newest_ignores_order_and_published_latest() {
        let m = parse_str(
            "<metadata><versioning><latest>1.0</latest><release>1.0</release><versions>
               <version>1.10</version><version>1.9</version><version>2.0-SNAPSHOT</version>
               <version>2.0-rc1</version><version>1.2</version>
             </versions></versioning></metadata>",
        );
        assert_eq!(m.newest_release(), Some("2.0-rc1"));
        assert_eq!(m.newest(), Some("2.0-SNAPSHOT"));
        let only_snapshots = parse_str(
            "<metadata><versioning><versions><version>1.0-SNAPSHOT</version>\
             <version>1.0-20240101.120000-1</version></versions></versioning></metadata>",
        );
        assert_eq!(only_snapshots.newest_release(), None);
        // Maven ranks a number above the `snapshot` qualifier.
        assert_eq!(only_snapshots.newest(), Some("1.0-20240101.120000-1"));
    }

    #[test]
    fn dotted_numbers_compare_as_maven_compares_them() {
        let versions = [
            "1",
            "1.0",
            "1.0.0",
            "01",
            "1.0.1",
            "1.1",
            "1.9",
            "1.10",
            "2",
            "2.0.0.1",
            "10",
            "0",
            "0.0.1",
            "18446744073709551615",
            "1.18446744073709551615",
        ];
        let (mut pa, mut pb) = (Vec::new(), Vec::new());
        for a in versions {
            assert!(dotted_number_parts(a, &mut pa), "{a}");
            for b in versions {
                assert!(dotted_number_parts(b, &mut pb), "{b}");
                assert_eq!(
                    pa.cmp(&pb),
                    MavenVersion::parse(a).cmp(&MavenVersion::parse(b)),
                    "{a} vs {b}"
                );
            }
        }
        for not_plain in [
            "",
            "1.",
            ".1",
            "1..2",
            "1-2",
            "1.0a",
            "18446744073709551616",
            "1.2-SNAPSHOT",
        ] {
            assert!(!dotted_number_parts(not_plain, &mut pa), "{not_plain}");
        }
        // A list of dotted numbers and the same list with one qualifier (the general path) agree.
        let plain: Vec<String> = ["1.9", "1.10", "1.2", "1.10.0", "0.99"]
            .map(String::from)
            .to_vec();
        assert_eq!(newest_of(plain.iter()), Some("1.10.0"));
        let mixed: Vec<String> = plain.iter().cloned().chain(["1.0-rc1".to_owned()]).collect();
        assert_eq!(newest_of(mixed.iter()), Some("1.10.0"));
        assert_eq!(newest_of([].iter()), None);
    }

    #[test]
    fn two_thousand_versions_are_quick() {
        // Shuffled by a stride coprime with 2000, so neither the first nor the last is the newest.
        let versions: Vec<String> = (0..2000u32)
            .map(|i| (i * 7919) % 2000)
            .map(|n| match n % 3 {
                1 => format!("{}.{}.{}-SNAPSHOT", n / 100 + 1, n / 10 % 10, n % 10),
                _ => format!("{}.{}.{}", n / 100 + 1, n / 10 % 10, n % 10),
            })
            .collect();
        let body: String = versions
            .iter()
            .map(|v| format!("<version>{v}</version>\n"))
            .collect();
        let xml = format!(
            "<metadata><versioning><latest>1.0.0</latest><versions>\n{body}</versions></versioning></metadata>"
        );
        let m = parse(xml.as_bytes()).expect("generated metadata parses");
        let newest_release = m.newest_release();
        let newest = m.newest();
        assert_eq!(m.versioning.versions.len(), 2000);
        assert_eq!(newest_release, Some("20.9.8"));
        assert_eq!(newest, Some("20.9.9-SNAPSHOT"));
    }

    #[test]
    fn merges_two_repositories() {
        let mut central = parse_str(
            "<metadata><groupId>g</groupId><artifactId>a</artifactId><versioning>
               <latest>1.1</latest><release>1.1</release>
               <versions><version>1.0</version><version>1.1</version></versions>
               <lastUpdated>20230101000000</lastUpdated></versioning></metadata>",
        );
        let company = parse_str(
            "<metadata><groupId>g</groupId><artifactId>a</artifactId><versioning>
               <latest>1.0</latest>
               <versions><version>1.1</version><version>2.0</version><version>2.1-SNAPSHOT</version></versions>
               <lastUpdated>20240101000000</lastUpdated></versioning></metadata>",
        );
        central.merge(&company);
        assert_eq!(central.versioning.versions, ["1.0", "1.1", "2.0", "2.1-SNAPSHOT"]);
        assert_eq!(central.versioning.last_updated.as_deref(), Some("20240101000000"));
        assert_eq!(central.versioning.latest.as_deref(), Some("2.1-SNAPSHOT"));
        assert_eq!(central.versioning.release.as_deref(), Some("2.0"));
        assert_eq!(central.newest_release(), Some("2.0"));

        // Merging an older one changes nothing.
        let before = central.clone();
        central.merge(&artifact_metadata("other", "other"));
        assert_eq!(central, before);

        let mut empty = Metadata::default();
        empty.merge(&company);
        assert_eq!(empty.group_id.as_deref(), Some("g"));
        assert_eq!(empty.versioning.versions, company.versioning.versions);
    }

    #[test]
    fn merge_keeps_the_newest_snapshot_build() {
        let build = |timestamp: &str, number: u32, jar_value: &str, updated: &str| Metadata {
            version: Some("1.0-SNAPSHOT".into()),
            versioning: Versioning {
                snapshot: Some(Snapshot {
                    timestamp: Some(timestamp.into()),
                    build_number: Some(number),
                    local_copy: false,
                }),
                snapshot_versions: vec![snapshot_version(None, "jar", jar_value, updated)],
                ..Versioning::default()
            },
            ..Metadata::default()
        };
        let older = build("20240101.000000", 1, "1.0-20240101.000000-1", "20240101000000");
        let newer = build("20240202.000000", 2, "1.0-20240202.000000-2", "20240202000000");
        let local = Metadata {
            versioning: Versioning {
                snapshot: Some(Snapshot {
                    local_copy: true,
                    ..Snapshot::default()
                }),
                ..Versioning::default()
            },
            ..Metadata::default()
        };

        let mut merged = local.clone();
        merged.merge(&older);
        merged.merge(&newer);
        merged.merge(&older);
        assert_eq!(merged.versioning.snapshot, newer.versioning.snapshot);
        assert_eq!(
            merged.versioning.snapshot_versions,
            newer.versioning.snapshot_versions
        );
        assert_eq!(
            merged.snapshot_file_version("1.0-SNAPSHOT", None, "jar"),
            "1.0-20240202.000000-2"
        );

        let mut with_pom = newer.clone();
        with_pom.versioning.snapshot_versions =
            vec![snapshot_version(None, "pom", "1.0-x", "20240101000000")];
        let mut merged = older.clone();
        merged.merge(&with_pom);
        assert_eq!(
            merged.versioning.snapshot_versions.len(),
            2,
            "different extensions are both kept"
        );
    }

    #[test]
    fn snapshot_file_version_prefers_matching_snapshot_version() {
        let mut m = full_snapshot_metadata();
        m.versioning.snapshot_versions.extend([
            snapshot_version(Some("image"), "zip", "2.0-20240101.000000-5", "20240101000000"),
            snapshot_version(Some("image"), "zip", "2.0-20240103.000000-9", "20240103000000"),
            snapshot_version(Some("image"), "zip", "2.0-20231231.000000-4", "20231231000000"),
        ]);
        assert_eq!(
            m.snapshot_file_version("2.0-SNAPSHOT", Some("image"), "zip"),
            "2.0-20240103.000000-9",
            "the newest <updated> of several matches"
        );
        assert_eq!(
            m.snapshot_file_version("2.0-SNAPSHOT", None, "pom"),
            "2.0-20240102.030405-7"
        );
        assert_eq!(
            m.snapshot_file_version("2.0-SNAPSHOT", Some(""), "pom"),
            "2.0-20240102.030405-7"
        );
    }

    #[test]
    fn snapshot_file_version_falls_back_to_snapshot_build() {
        let mut m = full_snapshot_metadata();
        m.versioning.snapshot = Some(Snapshot {
            timestamp: Some("20240105.060708".into()),
            build_number: Some(12),
            local_copy: false,
        });
        // No <snapshotVersion> for a jar, nor for the image classifier with a tar extension.
        assert_eq!(
            m.snapshot_file_version("2.0-SNAPSHOT", None, "jar"),
            "2.0-20240105.060708-12"
        );
        assert_eq!(
            m.snapshot_file_version("2.0-SNAPSHOT", Some("image"), "tar"),
            "2.0-20240105.060708-12"
        );
        // A base version that is no snapshot cannot carry a build.
        assert_eq!(m.snapshot_file_version("2.0", None, "jar"), "2.0");
    }

    #[test]
    fn snapshot_file_version_uses_base_version_without_build_info() {
        let base = "1.0-SNAPSHOT";
        let with_snapshot = |snapshot: Option<Snapshot>| Metadata {
            versioning: Versioning {
                snapshot,
                ..Versioning::default()
            },
            ..Metadata::default()
        };
        let local_copy = Snapshot {
            timestamp: Some("20240101.000000".into()),
            build_number: Some(1),
            local_copy: true,
        };
        let no_build_number = Snapshot {
            timestamp: Some("20240101.000000".into()),
            ..Snapshot::default()
        };
        for m in [
            with_snapshot(Some(local_copy)),
            with_snapshot(Some(no_build_number)),
            with_snapshot(None),
            Metadata::default(),
        ] {
            assert_eq!(m.snapshot_file_version(base, None, "jar"), base, "{m:?}");
        }
    }

    #[test]
    fn add_release_deduplicates_and_points_at_newest() {
        let mut m = artifact_metadata("g", "a");
        m.add_release("1.10", "20240101000000");
        m.add_release("1.9", "20240102000000");
        m.add_release("1.10", "20240103000000");
        m.add_release("2.0-SNAPSHOT", "20240104000000");
        assert_eq!(m.versioning.versions, ["1.10", "1.9", "2.0-SNAPSHOT"]);
        assert_eq!(m.versioning.release.as_deref(), Some("1.10"));
        assert_eq!(m.versioning.latest.as_deref(), Some("2.0-SNAPSHOT"));
        assert_eq!(m.versioning.last_updated.as_deref(), Some("20240104000000"));
    }

    #[test]
    fn timestamps_are_utc_in_maven_formats() {
        let at: jiff::Timestamp = "2024-03-05T06:07:08+02:00".parse().expect("valid timestamp");
        assert_eq!(
            timestamps_at(at),
            ("20240305040708".to_owned(), "20240305.040708".to_owned())
        );
        let (last_updated, snapshot) = timestamp_now();
        assert_eq!(last_updated.len(), 14);
        assert!(last_updated.bytes().all(|b| b.is_ascii_digit()), "{last_updated}");
        assert_eq!(snapshot, format!("{}.{}", &last_updated[..8], &last_updated[8..]));
    }

    #[test]
    fn malformed_xml_is_an_error_with_a_position() {
        match parse(b"<metadata>\n  <groupId>g</groupId>\n  <versioning>\n") {
            Err(MetadataError::Malformed { line, .. }) => assert!(line >= 3, "line {line}"),
            other => panic!("expected Malformed, got {other:?}"),
        }
        match parse(b"<metadata>\n<groupId>g</artifactId>\n</metadata>") {
            Err(e @ MetadataError::Malformed { line: 2, .. }) => {
                assert!(e.to_string().contains("line 2"), "{e}");
            }
            other => panic!("expected Malformed on line 2, got {other:?}"),
        }
        match parse(b"<metadata><groupId>g</groupId") {
            Err(MetadataError::Malformed { line: 1, column, .. }) => assert!(column > 10, "column {column}"),
            other => panic!("expected Malformed, got {other:?}"),
        }
        match parse(b"<metadata><groupId>1<b/>2</groupId></metadata>") {
            Err(MetadataError::Malformed { message, .. }) => assert!(message.contains("<b>"), "{message}"),
            other => panic!("expected Malformed, got {other:?}"),
        }
        assert!(matches!(
            parse(b"<<<>>> garbage"),
            Err(MetadataError::NotMetadata { .. })
        ));
        assert!(matches!(
            parse(b"<metadata attr=\"unclosed></metadata>"),
            Err(MetadataError::Malformed { .. })
        ));
    }

    #[test]
    fn non_metadata_input_is_an_error() {
        for input in [&b""[..], b"   \n", b"just some text", b"<?xml version=\"1.0\"?>"] {
            assert!(
                matches!(parse(input), Err(MetadataError::NoRootElement)),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        match parse(b"<!DOCTYPE html><html><body>Not Found</body></html>") {
            Err(MetadataError::NotMetadata { root }) => assert_eq!(root, "html"),
            other => panic!("expected NotMetadata, got {other:?}"),
        }
        assert!(matches!(
            parse(b"<metadata>\xff\xfe</metadata>"),
            Err(MetadataError::NotUtf8 { offset: 10 })
        ));
    }

    #[test]
    fn bad_build_number_is_an_error() {
        let err = parse(b"<metadata><versioning><snapshot><buildNumber>three</buildNumber></snapshot></versioning></metadata>")
            .expect_err("a word is no build number");
        assert!(
            matches!(&err, MetadataError::BadNumber { element: "buildNumber", value } if value == "three")
        );
        assert!(err.to_string().contains("buildNumber"), "{err}");
    }
}
