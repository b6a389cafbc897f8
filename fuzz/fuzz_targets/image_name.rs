//! The image-name grammar: any text either is refused with an error or becomes coordinates whose
//! parts are single, safe path components.
#![no_main]

use jube::image::{self, DEFAULT_GROUP_PREFIX, VersionRequest};
use libfuzzer_sys::fuzz_target;

fn assert_component(what: &str, part: &str, name: &str) {
    assert!(!part.is_empty(), "{what} of {name:?} is empty");
    assert!(part != "." && part != "..", "{what} of {name:?} is {part:?}");
    assert!(
        !part.contains(['/', '\\', '\0']),
        "{what} {part:?} of {name:?} is not one path component"
    );
}

fuzz_target!(|name: &str| {
    let Ok(parsed) = image::parse(name, DEFAULT_GROUP_PREFIX) else {
        return;
    };
    for segment in parsed.group_id.split('.') {
        assert_component("a groupId segment", segment, name);
    }
    assert_component("the artifactId", &parsed.artifact_id, name);
    assert_component("the extension", &parsed.extension, name);
    if let Some(classifier) = &parsed.classifier {
        assert_component("the classifier", classifier, name);
    }
    if let VersionRequest::Exact(v) | VersionRequest::Snapshot(v) = &parsed.version {
        assert_component("the version", v, name);
    }
    // Parsing is a function of the text alone.
    assert_eq!(image::parse(name, DEFAULT_GROUP_PREFIX).as_ref(), Ok(&parsed));
    let _ = parsed.repository(DEFAULT_GROUP_PREFIX);
});
