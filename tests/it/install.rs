//! Installing an image as a container through `jube create`: safe unzip (zip-slip, zip bombs,
//! damaged zips), what an image must hold, nested folders, modes and execute bits, and that a
//! failed install leaves nothing behind.

use std::os::unix::fs::PermissionsExt;

use crate::common::fixtures::{self, ZipEntry};
use crate::containers_support::*;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// Every file below `dir` whose name contains `needle`.
fn files_named(dir: &std::path::Path, needle: &str, found: &mut Vec<String>) {
    let Ok(read) = std::fs::read_dir(dir) else { return };
    for entry in read.flatten() {
        let path = entry.path();
        if entry.file_name().to_string_lossy().contains(needle) {
            found.push(path.display().to_string());
        }
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            files_named(&path, needle, found);
        }
    }
}

#[test]
fn zip_slip_entries_are_refused_and_nothing_is_written() {
    let images = Images::new();
    let outside = images.env.root().join("outside-target");
    std::fs::create_dir(&outside).unwrap();
    let absolute = format!("{}/absolute-evil", outside.display());
    let cases: Vec<(&str, ZipEntry, &str)> = vec![
        (
            "dotdot",
            ZipEntry::file("../dotdot-evil.sh", "echo pwned"),
            "climbs out with `..`",
        ),
        (
            "deep",
            ZipEntry::file("lib/../../deep-evil", "x"),
            "climbs out with `..`",
        ),
        ("absolute", ZipEntry::file(&absolute, "x"), "is an absolute path"),
        (
            "link",
            ZipEntry::symlink("lib/escape", "../../../../outside-target"),
            "points outside the image",
        ),
        ("abslink", ZipEntry::symlink("abs-link", "/etc"), "is absolute"),
    ];
    for (name, evil, reason) in cases {
        let image = images.publish(
            &format!("slip/{name}"),
            &with(fixtures::simple_image(), evil.clone()),
        );
        let out = images.env.jube().args(["create", &image]).code(1);
        out.stderr_contains(&evil.path)
            .stderr_contains(reason)
            .stderr_contains("refusing");
        assert_eq!(out.stdout, "", "no ID for a failed create\n{out}");
        assert_nothing_left(&images.env);
    }
    let mut written = Vec::new();
    files_named(images.env.root(), "evil", &mut written);
    assert!(written.is_empty(), "written outside the container: {written:?}");
    assert!(entries(&outside).is_empty());
}

#[test]
fn zip_bombs_stop_at_the_configured_size_and_entry_count() {
    let mut images = Images::new();
    // 8 MiB of zeros deflate to a few KiB: only the bytes really written can stop it.
    let bomb = with(
        fixtures::simple_image(),
        ZipEntry::file("lib/zeros.bin", vec![0u8; 8 << 20]),
    );
    let image = images.publish("bomb/size", &bomb);
    images.env.set_env("JUBE_UNPACK_MAX_BYTES", "1000000");
    let out = images.env.jube().args(["create", &image]).code(1);
    out.stderr_contains("unpacks to more than 1000000 bytes")
        .stderr_contains("lib/zeros.bin")
        .stderr_contains("raise JUBE_UNPACK_MAX_BYTES");
    assert_nothing_left(&images.env);

    let many: Vec<ZipEntry> = (0..30)
        .map(|i| ZipEntry::file(&format!("data/{i}.txt"), "x"))
        .chain(fixtures::simple_image())
        .collect();
    let image = images.publish("bomb/entries", &many);
    images.env.set_env("JUBE_UNPACK_MAX_ENTRIES", "20");
    let out = images.env.jube().args(["create", &image]).code(1);
    out.stderr_contains("holds 37 entries, more than the limit of 20")
        .stderr_contains("raise JUBE_UNPACK_MAX_ENTRIES");
    assert_nothing_left(&images.env);

    images.env.set_env("JUBE_UNPACK_MAX_ENTRIES", "lots");
    let out = images.env.jube().args(["create", &image]).code(1);
    out.stderr_contains("JUBE_UNPACK_MAX_ENTRIES=`lots`");
    assert_nothing_left(&images.env);

    // Within the limits, the same images install.
    images.env.set_env("JUBE_UNPACK_MAX_ENTRIES", "37");
    images.env.set_env("JUBE_UNPACK_MAX_BYTES", "20000000");
    images.create(&image, &[]);
    images.create("bomb/size:1.0", &[]);
}

#[test]
fn damaged_zips_are_refused_and_leave_nothing() {
    let images = Images::new();
    let image = images.publish_bytes("broken/notzip", b"this is not a zip file at all");
    let out = images.env.jube().args(["create", &image]).code(1);
    out.stderr_contains("is damaged or not a zip")
        .stderr_contains("notzip-1.0-image.zip")
        .stderr_contains("remove it so that it is downloaded again");
    assert_nothing_left(&images.env);

    // A flipped byte inside an entry's data: found while writing, after unpacking began.
    let noise: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut entries = vec![ZipEntry::file("lib/noise.bin", noise)];
    entries.extend(fixtures::simple_image());
    let mut zip = fixtures::image_zip(&entries);
    let middle = zip.len() / 3;
    zip[middle] ^= 0xff;
    zip[middle + 1] ^= 0x55;
    let image = images.publish_bytes("broken/flipped", &zip);
    let out = images.env.jube().args(["create", &image]).code(1);
    out.stderr_contains("is damaged or not a zip")
        .stderr_contains("lib/noise.bin");
    assert_nothing_left(&images.env);
}

#[test]
fn an_image_without_start_or_run_script_names_what_is_missing_and_what_it_holds() {
    let images = Images::new();
    let image = images.publish(
        "not/animage",
        &[
            ZipEntry::file("README.txt", "hello"),
            ZipEntry::file("lib/app.jar", "jar"),
            ZipEntry::script("stop.sh", "exit 0"),
        ],
    );
    let out = images.env.jube().args(["create", &image]).code(1);
    out.stderr_contains("animage-1.0-image.zip is not a jube image")
        .stderr_contains("neither start.sh nor run.sh")
        .stderr_contains("it holds: README.txt, lib, stop.sh");
    assert!(
        !out.stderr.contains("jube-home/tmp"),
        "the removed staging copy is not named\n{out}"
    );
    assert_nothing_left(&images.env);
}

#[test]
fn an_image_in_one_top_level_folder_has_that_folder_as_app_base_named_after_the_container() {
    let images = Images::new();
    let nested: Vec<ZipEntry> = fixtures::simple_image()
        .into_iter()
        .map(|mut e| {
            e.path = format!("myapp-1.0/{}", e.path);
            e
        })
        .collect();
    let image = images.publish("nested/app", &nested);
    let id = images.start_image(&image, &["--name", "nested-one"]);
    let base = images.app_base(&id);
    assert!(base.ends_with(format!("{id}/nested-one")), "{}", base.display());
    assert!(base.join("start.sh").is_file() && !base.join("myapp-1.0").exists());
    let app_env = base.join("app.env");
    wait_for_text(&app_env, "APP_BASE=");
    let text = std::fs::read_to_string(&app_env).unwrap();
    assert!(text.contains(&format!("APP_BASE={}\n", base.display())), "{text}");
    images.env.jube().args(["status", &id]).success();
    images.env.jube().args(["rm", "-f", &id]).success();
}

#[test]
fn modes_are_kept_and_scripts_bin_and_listed_files_made_executable() {
    let images = Images::new();
    let image = images.publish(
        "modes/app",
        &[
            ZipEntry::file("start.sh", "#!/bin/sh\nexit 0\n").with_mode(0o644),
            ZipEntry::file("run.bat", "@echo off").with_mode(0o644),
            ZipEntry::file("tool.cmd", "").with_mode(0o600),
            ZipEntry::file("readme.txt", "").with_mode(0o644),
            ZipEntry::file("conf/secret.properties", "").with_mode(0o600),
            ZipEntry::file("conf/helper.sh", "").with_mode(0o640),
            ZipEntry::file("bin/launcher", "").with_mode(0o644),
            ZipEntry::file("lib/native/libx.so", "").with_mode(0o644),
            ZipEntry::file("lib/native/notes.txt", "").with_mode(0o644),
            ZipEntry::file("tools/run-me", "").with_mode(0o750),
            ZipEntry::file(
                "executables.properties",
                "# extra executables\nlib/native = .*\\\\.so\n",
            ),
        ],
    );
    let id = images.create(&image, &[]);
    let base = images.app_base(&id);
    let expected = [
        ("start.sh", 0o755),
        ("run.bat", 0o755),
        ("tool.cmd", 0o700),
        ("readme.txt", 0o644),
        ("conf/secret.properties", 0o600),
        ("conf/helper.sh", 0o640),
        ("bin/launcher", 0o755),
        ("lib/native/libx.so", 0o755),
        ("lib/native/notes.txt", 0o644),
        ("tools/run-me", 0o750),
    ];
    for (path, want) in expected {
        assert_eq!(
            mode(&base.join(path)),
            want,
            "{path}: {:o}",
            mode(&base.join(path))
        );
    }
}

#[test]
fn a_failure_after_ports_were_leased_gives_them_back_and_keeps_other_containers() {
    let images = Images::new();
    let good = images.publish("fine/app", &fixtures::simple_image());
    let first = images.create(&good, &[]);
    let before = leases(&images.env);
    assert_eq!(before.len(), 1);
    // env.sh is a folder: writing jube's lines fails after the ports were leased.
    let broken = without(fixtures::simple_image(), "env.sh");
    let broken = with(broken, ZipEntry::dir("env.sh/"));
    let image = images.publish("broken/envsh", &broken);
    let out = images.env.jube().args(["create", &image]).code(1);
    out.stderr_contains("env.sh");
    assert_eq!(
        leases(&images.env),
        before,
        "only the first container's lease is left"
    );
    assert_eq!(entries(&images.env.home().join("containers")), [first]);
    assert!(entries(&images.env.home().join("tmp")).is_empty());
}

#[test]
fn a_create_killed_midway_is_cleaned_up_by_the_next_one() {
    let images = Images::new();
    let image = images.publish("fine/app", &fixtures::simple_image());
    let first = images.create(&image, &[]);
    // What a `jube create` killed while unpacking leaves: a stage with no live creator, and a lease.
    let abandoned = "ab".repeat(32);
    let stage = images.env.home().join("tmp").join(&abandoned);
    std::fs::create_dir_all(stage.join("root/lib")).unwrap();
    std::fs::write(stage.join("root/lib/half.jar"), "half").unwrap();
    std::fs::write(stage.join("name"), "half_made").unwrap();
    let table_path = images.env.home().join("ports.json");
    let mut table: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&table_path).unwrap()).unwrap();
    table["leases"][&abandoned] =
        serde_json::json!([{"name": "HTTP", "container_port": 8080, "host_port": 1}]);
    std::fs::write(&table_path, serde_json::to_string(&table).unwrap()).unwrap();

    let second = images.create(&image, &["--name", "half_made"]);
    assert_eq!(entries(&images.env.home().join("tmp")), Vec::<String>::new());
    let owners: Vec<String> = leases(&images.env).into_iter().map(|(o, _)| o).collect();
    let mut expected = vec![first, second];
    expected.sort();
    assert_eq!(owners, expected);
}

/// Replaces `from` by `to` (same length) in both copies of an entry's name (local header and
/// central directory), for names the zip writer will not store; `flags` are OR-ed into both
/// headers' general-purpose flags (bit 0: encrypted, bit 11: the name is UTF-8).
fn patch_entry(zip: &mut [u8], from: &[u8], to: &[u8], flags: u16) {
    assert_eq!(from.len(), to.len());
    let mut patched = 0;
    for at in 0..zip.len().saturating_sub(46) {
        let (name_len_at, name_at, flags_at) = match &zip[at..at + 4] {
            b"PK\x03\x04" => (26, 30, 6),
            b"PK\x01\x02" => (28, 46, 8),
            _ => continue,
        };
        let len = u16::from_le_bytes([zip[at + name_len_at], zip[at + name_len_at + 1]]) as usize;
        let name = at + name_at;
        if len == from.len() && zip.get(name..name + len) == Some(from) {
            zip[name..name + len].copy_from_slice(to);
            let old = u16::from_le_bytes([zip[at + flags_at], zip[at + flags_at + 1]]);
            zip[at + flags_at..at + flags_at + 2].copy_from_slice(&(old | flags).to_le_bytes());
            patched += 1;
        }
    }
    assert_eq!(patched, 2, "both headers of {:?}", String::from_utf8_lossy(from));
}

#[test]
fn hostile_names_encrypted_entries_and_broken_archives_are_refused_and_leave_nothing() {
    let images = Images::new();
    // (case, the entry as stored, patched to, flags, what stderr says)
    type Case<'a> = (&'a str, &'a str, &'a [u8], u16, &'a [&'a str]);
    let cases: Vec<Case<'_>> = vec![
        (
            "backslash",
            "..\\bs-evil",
            b"..\\bs-evil",
            0,
            &["contains a backslash"],
        ),
        (
            "drive",
            "C:\\drive-evil",
            b"C:\\drive-evil",
            0,
            &["contains a backslash"],
        ),
        (
            "drive-relative",
            "C:drive-evil",
            b"C:drive-evil",
            0,
            &["contains `:`"],
        ),
        (
            "nulbyte",
            "nul-evilX.sh",
            b"nul-evil\0.sh",
            0,
            &["contains a NUL byte"],
        ),
        (
            "encrypted",
            "lib/locked.txt",
            b"lib/locked.txt",
            1,
            &["lib/locked.txt", "encrypted"],
        ),
        (
            "not-utf8",
            "lib/XY.txt",
            b"lib/\xff\xfe.txt",
            1 << 11,
            &["is not valid UTF-8", "refusing"],
        ),
        ("duplicate", "lib/dupB", b"lib/dupA", 0, &["same name"]),
    ];
    for (case, stored, patched, flags, expected) in cases {
        let mut entries = with(fixtures::simple_image(), ZipEntry::file(stored, "x"));
        if case == "duplicate" {
            entries.push(ZipEntry::file("lib/dupA", "y"));
        }
        let mut zip = fixtures::image_zip(&entries);
        patch_entry(&mut zip, stored.as_bytes(), patched, flags);
        let image = images.publish_bytes(&format!("hostile/{case}"), &zip);
        let out = images.env.jube().args(["create", &image]).code(1);
        for needle in expected {
            out.stderr_contains(needle);
        }
        assert_eq!(out.stdout, "", "{case}: no ID for a failed create\n{out}");
        assert_nothing_left(&images.env);
    }
    let mut written = Vec::new();
    files_named(images.env.root(), "evil", &mut written);
    assert!(written.is_empty(), "written: {written:?}");

    // Not marked as UTF-8 either (the zip format's CP437): refused as well, never guessed at.
    let mut zip = fixtures::image_zip(&with(fixtures::simple_image(), ZipEntry::file("lib/XY.txt", "x")));
    patch_entry(&mut zip, b"lib/XY.txt", b"lib/\x80\x81.txt", 0);
    let image = images.publish_bytes("hostile/cp437", &zip);
    let out = images.env.jube().args(["create", &image]).code(1);
    out.stderr_contains("is not valid UTF-8");
    assert_nothing_left(&images.env);

    // Cut short: the central directory is gone.
    let whole = fixtures::image_zip(&fixtures::simple_image());
    let image = images.publish_bytes("hostile/truncated", &whole[..whole.len() - 30]);
    let out = images.env.jube().args(["create", &image]).code(1);
    out.stderr_contains("is damaged or not a zip");
    assert_nothing_left(&images.env);
}

#[test]
fn a_zip_bomb_by_ratio_is_refused_before_anything_is_written() {
    let mut images = Images::new();
    // 100 MiB of zeros in about 100 KiB: under the byte limit, far over the ratio.
    let bomb = with(
        fixtures::simple_image(),
        ZipEntry::file("lib/zeros.bin", vec![0u8; 100 << 20]),
    );
    let image = images.publish("bomb/ratio", &bomb);
    let out = images.env.jube().args(["create", &image]).code(1);
    out.stderr_contains("more than 200 times its size (a zip bomb)")
        .stderr_contains("raise JUBE_UNPACK_MAX_RATIO");
    assert_nothing_left(&images.env);
    // Trusted, it installs.
    images.env.set_env("JUBE_UNPACK_MAX_RATIO", "5000");
    let id = images.create(&image, &[]);
    assert!(images.app_base(&id).join("lib/zeros.bin").is_file());
}
