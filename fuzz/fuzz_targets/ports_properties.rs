//! `ports.properties`: any bytes give port names with non-zero ports, each name once, or an error.
#![no_main]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::OnceLock;

use jube::container::ports;
use libfuzzer_sys::fuzz_target;

/// One file per fuzzing process, rewritten for every input.
fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        let dir = DIR.get_or_init(|| tempfile::tempdir().expect("a temp folder"));
        dir.path().join("ports.properties")
    })
}

fuzz_target!(|bytes: &[u8]| {
    let path = scratch();
    std::fs::write(path, bytes).expect("write the scratch ports.properties");
    let Ok(declared) = ports::read_ports(path) else {
        return;
    };
    let mut names = BTreeSet::new();
    for (name, port) in &declared {
        assert_ne!(*port, 0, "port 0 accepted for {name:?}");
        assert!(names.insert(name), "{name:?} listed twice in {declared:?}");
    }
});
