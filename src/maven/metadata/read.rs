//! Reads `maven-metadata.xml` with quick-xml's event reader. Metadata of a long-lived artifact lists
//! thousands of versions and is read on every resolve of `latest`; walking the events costs a
//! fraction of serde's per-element deserialization.

use std::borrow::Cow;

use quick_xml::events::{BytesStart, Event};

use super::{
    MetadataError, RawMetadata, RawSnapshot, RawSnapshotVersion, RawSnapshotVersions, RawVersions, malformed,
};

/// The elements read, by their path below `<metadata>`. Anything else (group metadata's
/// `<plugins>`, extensions of other tools) is skipped with all it holds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    GroupId,
    ArtifactId,
    Version,
    Latest,
    Release,
    LastUpdated,
    VersionEntry,
    Timestamp,
    BuildNumber,
    LocalCopy,
    Classifier,
    Extension,
    Value,
    Updated,
}

/// Where the reader is: a containing element it understands, a text field, or inside something
/// it skips.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Metadata,
    Versioning,
    Versions,
    Snapshot,
    SnapshotVersions,
    SnapshotVersion,
    Text(Field),
    Skipped,
}

impl Place {
    /// The place of a child element named `name`.
    fn child(self, name: &str) -> Place {
        use Field::*;
        let text = Place::Text;
        match (self, name) {
            (Place::Metadata, "groupId") => text(GroupId),
            (Place::Metadata, "artifactId") => text(ArtifactId),
            (Place::Metadata, "version") => text(Version),
            (Place::Metadata, "versioning") => Place::Versioning,
            (Place::Versioning, "latest") => text(Latest),
            (Place::Versioning, "release") => text(Release),
            (Place::Versioning, "lastUpdated") => text(LastUpdated),
            (Place::Versioning, "versions") => Place::Versions,
            (Place::Versioning, "snapshot") => Place::Snapshot,
            (Place::Versioning, "snapshotVersions") => Place::SnapshotVersions,
            (Place::Versions, "version") => text(VersionEntry),
            (Place::Snapshot, "timestamp") => text(Timestamp),
            (Place::Snapshot, "buildNumber") => text(BuildNumber),
            (Place::Snapshot, "localCopy") => text(LocalCopy),
            (Place::SnapshotVersions, "snapshotVersion") => Place::SnapshotVersion,
            (Place::SnapshotVersion, "classifier") => text(Classifier),
            (Place::SnapshotVersion, "extension") => text(Extension),
            (Place::SnapshotVersion, "value") => text(Value),
            (Place::SnapshotVersion, "updated") => text(Updated),
            _ => Place::Skipped,
        }
    }
}

/// Reads the document whose root element is `<metadata>` (checked by the caller).
pub(super) fn read(text: &str) -> Result<RawMetadata, MetadataError> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut raw = RawMetadata::default();
    let mut stack: Vec<Place> = Vec::new();
    let mut value = String::new();
    let error = |reader: &quick_xml::Reader<&[u8]>, message: String| {
        malformed(text, reader.error_position(), message)
    };
    loop {
        let event = reader.read_event().map_err(|e| error(&reader, e.to_string()))?;
        let here = stack.last().copied();
        match event {
            Event::Start(e) | Event::Empty(e) if matches!(here, Some(Place::Text(_))) => {
                let name = e.local_name().into_inner().to_owned();
                return Err(malformed(
                    text,
                    reader.buffer_position(),
                    format!("unexpected element <{name}> inside a text element"),
                ));
            }
            Event::Start(e) => {
                check_attributes(&e).map_err(|m| error(&reader, m))?;
                let place = here.map_or(Place::Metadata, |p| p.child(e.local_name().into_inner()));
                enter(&mut raw, place);
                stack.push(place);
                value.clear();
            }
            Event::Empty(e) => {
                check_attributes(&e).map_err(|m| error(&reader, m))?;
                let place = here.map_or(Place::Metadata, |p| p.child(e.local_name().into_inner()));
                enter(&mut raw, place);
                if let Place::Text(field) = place {
                    store(&mut raw, field, String::new());
                }
                if here.is_none() {
                    break;
                }
            }
            Event::Text(t) if matches!(here, Some(Place::Text(_))) => value.push_str(&t.xml10_content()),
            Event::CData(c) if matches!(here, Some(Place::Text(_))) => {
                value.push_str(&c.xml10_content());
            }
            Event::GeneralRef(r) if matches!(here, Some(Place::Text(_))) => {
                let resolved: Cow<'_, str> = match r.resolve_char_ref() {
                    Ok(Some(c)) => Cow::Owned(c.to_string()),
                    Ok(None) => match quick_xml::escape::resolve_predefined_entity(&r.xml10_content()) {
                        Some(s) => Cow::Borrowed(s),
                        None => {
                            return Err(error(&reader, format!("unknown entity &{};", r.xml10_content())));
                        }
                    },
                    Err(e) => return Err(error(&reader, e.to_string())),
                };
                value.push_str(&resolved);
            }
            Event::End(_) => {
                if let Some(Place::Text(field)) = stack.pop() {
                    store(&mut raw, field, std::mem::take(&mut value));
                }
                if stack.is_empty() {
                    break;
                }
            }
            Event::Eof => {
                let open = stack.len();
                return Err(malformed(
                    text,
                    reader.buffer_position(),
                    format!("the document ends with {open} element(s) still open"),
                ));
            }
            _ => {}
        }
    }
    Ok(raw)
}

/// Attributes are not read, but must be well-formed like the rest of the document.
fn check_attributes(element: &BytesStart<'_>) -> Result<(), String> {
    for attribute in element.attributes() {
        attribute.map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Makes room for what an opening element starts: a `<snapshotVersion>` is an entry of its own.
fn enter(raw: &mut RawMetadata, place: Place) {
    if matches!(place, Place::Metadata | Place::Text(_) | Place::Skipped) {
        return;
    }
    let versioning = raw.versioning.get_or_insert_with(Default::default);
    match place {
        Place::Versions => {
            versioning.versions.get_or_insert_with(RawVersions::default);
        }
        Place::Snapshot => {
            versioning.snapshot.get_or_insert_with(RawSnapshot::default);
        }
        Place::SnapshotVersions => {
            versioning
                .snapshot_versions
                .get_or_insert_with(RawSnapshotVersions::default);
        }
        Place::SnapshotVersion => versioning
            .snapshot_versions
            .get_or_insert_with(RawSnapshotVersions::default)
            .snapshot_version
            .push(RawSnapshotVersion::default()),
        _ => {}
    }
}

/// Keeps a text element's value; a repeated element's last value wins, as with Maven's reader.
fn store(raw: &mut RawMetadata, field: Field, value: String) {
    let versioning = raw.versioning.get_or_insert_with(Default::default);
    let slot = match field {
        Field::GroupId => &mut raw.group_id,
        Field::ArtifactId => &mut raw.artifact_id,
        Field::Version => &mut raw.version,
        Field::Latest => &mut versioning.latest,
        Field::Release => &mut versioning.release,
        Field::LastUpdated => &mut versioning.last_updated,
        Field::VersionEntry => {
            let versions = versioning.versions.get_or_insert_with(RawVersions::default);
            versions.version.push(value);
            return;
        }
        Field::Timestamp | Field::BuildNumber | Field::LocalCopy => {
            let snapshot = versioning.snapshot.get_or_insert_with(RawSnapshot::default);
            match field {
                Field::Timestamp => &mut snapshot.timestamp,
                Field::BuildNumber => &mut snapshot.build_number,
                _ => &mut snapshot.local_copy,
            }
        }
        Field::Classifier | Field::Extension | Field::Value | Field::Updated => {
            let entries = &mut versioning
                .snapshot_versions
                .get_or_insert_with(RawSnapshotVersions::default)
                .snapshot_version;
            if entries.is_empty() {
                entries.push(RawSnapshotVersion::default());
            }
            let entry = entries.last_mut().expect("an entry was just made");
            match field {
                Field::Classifier => &mut entry.classifier,
                Field::Extension => &mut entry.extension,
                Field::Value => &mut entry.value,
                _ => &mut entry.updated,
            }
        }
    };
    *slot = Some(value);
}
