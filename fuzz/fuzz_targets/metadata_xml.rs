//! `maven-metadata.xml` from a repository: any bytes parse or fail with an error, and what parses
//! survives being written back out and read again.
#![no_main]

use jube::maven::metadata;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(parsed) = metadata::parse(bytes) else {
        return;
    };
    let _ = (parsed.newest_release(), parsed.newest());
    let xml = parsed.to_xml();
    let again = match metadata::parse(xml.as_bytes()) {
        Ok(again) => again,
        Err(e) => panic!("jube cannot read the metadata it wrote ({e}):\n{xml}"),
    };
    assert_eq!(again, parsed, "written and read back:\n{xml}");
    // Merging recomputes `release` and `latest` from the versions, so only "no panic" holds.
    let mut merged = parsed.clone();
    merged.merge(&again);
});
