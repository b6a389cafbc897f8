//! Packs the stock images under `images/<namespace>/<name>/` into deterministic zips and embeds
//! them in the binary, where they are served as the built-in repository.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[path = "src/image/pack.rs"]
#[allow(dead_code)]
mod pack;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let images = Path::new("images");
    println!("cargo:rerun-if-changed=images");
    println!("cargo:rerun-if-changed=src/image/pack.rs");
    let mut table = String::from("/// The stock images: (namespace, name, version, zip bytes).\n");
    table.push_str("pub static BUILTIN_IMAGES: &[(&str, &str, &str, &[u8])] = &[\n");
    for ns in sorted_dirs(images) {
        for image in sorted_dirs(&ns) {
            let version = image_version(&image);
            let bytes =
                pack::pack_dir(&image).unwrap_or_else(|e| panic!("cannot pack {}: {e}", image.display()));
            let ns_name = file_name(&ns);
            let name = file_name(&image);
            let zip_path = out.join(format!("{ns_name}-{name}-{version}-image.zip"));
            std::fs::write(&zip_path, bytes).expect("write the packed image");
            let _ = writeln!(
                table,
                "    ({ns_name:?}, {name:?}, {version:?}, include_bytes!({:?})),",
                zip_path.display().to_string()
            );
            watch(&image);
        }
    }
    table.push_str("];\n");
    std::fs::write(out.join("builtin_images.rs"), table).expect("write builtin_images.rs");
}

fn sorted_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .and_then(|n| n.to_str())
        .expect("image folders have UTF-8 names")
        .to_owned()
}

/// `version=` from the image's `image.properties`.
fn image_version(image: &Path) -> String {
    let props = image.join("image.properties");
    let text = std::fs::read_to_string(&props).unwrap_or_else(|e| panic!("{}: {e}", props.display()));
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("version"))
        .filter_map(|rest| rest.trim_start().strip_prefix(['=', ':']))
        .map(|v| v.trim().to_owned())
        .next()
        .unwrap_or_else(|| panic!("{} has no version=", props.display()))
}

fn watch(dir: &Path) {
    println!("cargo:rerun-if-changed={}", dir.display());
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            watch(&path);
        } else {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}
