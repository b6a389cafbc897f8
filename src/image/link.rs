//! The one rule for symlinks inside an image, applied when jube packs an image and when it
//! unpacks one: a target is relative, may climb with leading `..` no higher than the image root,
//! and then only descends. A `..` after a name could pass through another symlink and land
//! anywhere, so it is refused.

use std::path::PathBuf;

/// Checks the target of a symlink found `depth` folders below the image root and returns it as a
/// clean relative path; the error says what is wrong with it.
pub fn target_inside(target: &str, depth: usize) -> Result<PathBuf, String> {
    if target.is_empty() {
        return Err("is empty".to_owned());
    }
    if target.contains('\0') || target.contains('\\') {
        return Err("contains a NUL byte or a backslash".to_owned());
    }
    if target.starts_with('/') {
        return Err("is absolute".to_owned());
    }
    let mut path = PathBuf::new();
    let mut climbs = 0;
    let mut descended = false;
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." if descended => return Err("climbs with `..` after a folder name".to_owned()),
            ".." => {
                climbs += 1;
                if climbs > depth {
                    return Err("points outside the image".to_owned());
                }
                path.push("..");
            }
            _ if part.contains(':') => return Err("contains `:`".to_owned()),
            _ => {
                descended = true;
                path.push(part);
            }
        }
    }
    if path.as_os_str().is_empty() {
        path.push(".");
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn targets_may_climb_to_the_root_then_only_descend() {
        assert_eq!(target_inside("lib/app.jar", 0).unwrap(), Path::new("lib/app.jar"));
        assert_eq!(target_inside("../lib/a", 1).unwrap(), Path::new("../lib/a"));
        assert_eq!(target_inside("./a//b", 0).unwrap(), Path::new("a/b"));
        assert_eq!(target_inside(".", 0).unwrap(), Path::new("."));
        for (target, depth, reason) in [
            ("../a", 0, "outside"),
            ("a/../b", 3, "after a folder name"),
            ("a/../../b", 3, "after a folder name"),
            ("/etc/passwd", 3, "absolute"),
            ("C:/x", 0, "`:`"),
            ("a\\b", 0, "backslash"),
            ("", 0, "empty"),
        ] {
            let err = target_inside(target, depth).unwrap_err();
            assert!(err.contains(reason), "{target}: {err}");
        }
    }
}
