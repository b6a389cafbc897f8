//! The safe unzip: any bytes as an image zip either unpack inside the destination or fail with
//! nothing left; nothing is ever written outside it, and no symlink points out of it.
#![no_main]

use std::path::{Path, PathBuf};

use jube::container::install::{self, UnpackLimits};
use jube::reporter::Silent;
use libfuzzer_sys::fuzz_target;

/// Every path under `dir` (not following symlinks).
fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(read) = std::fs::read_dir(dir) else { return };
    for entry in read.flatten() {
        let path = entry.path();
        found.push(path.clone());
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            walk(&path, found);
        }
    }
}

fuzz_target!(|bytes: &[u8]| {
    // root/zip/image.zip is the input, root/out/dest the destination; root/out/sibling stands for
    // everything beside it, such as other containers.
    let root = tempfile::tempdir().expect("a temp folder");
    let zip = root.path().join("zip").join("image.zip");
    std::fs::create_dir_all(zip.parent().unwrap()).unwrap();
    std::fs::write(&zip, bytes).unwrap();
    let out = root.path().join("out");
    std::fs::create_dir_all(out.join("sibling")).unwrap();
    let dest = out.join("dest");
    // Small limits keep a bomb from filling the disk while fuzzing.
    let limits = UnpackLimits::from_values(Some("4000000"), Some("2000")).expect("valid limits");

    let result = install::unpack(&zip, &dest, &limits, &Silent);

    let mut everything = Vec::new();
    walk(root.path(), &mut everything);
    for path in &everything {
        let inside = path.starts_with(&dest)
            || *path == zip
            || *path == zip.parent().unwrap()
            || *path == out
            || *path == out.join("sibling");
        assert!(
            inside,
            "{} was written outside the destination ({result:?})",
            path.display()
        );
    }
    match &result {
        Ok(_) => {
            let canonical_dest = dest.canonicalize().unwrap();
            for path in everything.iter().filter(|p| p.is_symlink()) {
                // A link that resolves must resolve inside; a dangling one reaches nothing.
                if let Ok(target) = path.canonicalize() {
                    assert!(
                        target.starts_with(&canonical_dest),
                        "{} points out of the destination, to {}",
                        path.display(),
                        target.display()
                    );
                }
            }
        }
        Err(_) => assert!(!dest.exists(), "a failed unpack left {}", dest.display()),
    }
    // The folder may hold read-only sub-folders; make them writable so the cleanup can remove them.
    for path in everything.iter().filter(|p| p.is_dir() && !p.is_symlink()) {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755));
    }
});
