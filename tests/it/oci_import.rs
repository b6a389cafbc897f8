//! `jube import`: container images become image zips that `jube start` runs as local processes;
//! hostile archives are refused and leave nothing installed.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::common::TestEnv;
use crate::oci_support::{answer, build_web_image, busybox_base, image_tools_ready, tool};

/// `jube start IMAGE`, which must succeed; the container's host port for `name`.
fn start(env: &TestEnv, image: &str, name: &str) -> (String, u16) {
    let id = env.jube().args(["start", image]).success().last_line().to_owned();
    let port = env.jube().args(["port", &id, name]).success().stdout;
    let host: u16 = port.trim().rsplit(' ').next().unwrap().parse().unwrap();
    (id, host)
}

fn without_pid(body: &str) -> &str {
    body.rsplit_once(" pid ").map_or(body, |(text, _)| text)
}

#[test]
fn an_exported_image_imported_again_starts_as_a_local_process_and_answers_the_same_way() {
    if !image_tools_ready() {
        return;
    }
    let env = TestEnv::new();
    let (oci_base, _) = busybox_base(&env);
    build_web_image(&env, "team/web:1.0", "HTTP=8080\nADMIN=9090\n");
    let archive = env.root().join("web.tar");
    env.jube()
        .args(["export", "team/web:1.0", "--format", "oci-archive", "-o"])
        .arg(&archive)
        .arg("--base")
        .arg(&oci_base)
        .success();
    let (original, port) = start(&env, "team/web:1.0", "HTTP");
    let expected = answer(port);
    env.jube().args(["stop", &original]).success();

    let out = env
        .jube()
        .args([
            "import",
            &format!("oci-archive:{}", archive.display()),
            "-t",
            "team/web-back:1.0",
        ])
        .success();
    assert!(
        out.stdout
            .starts_with("io.fabric8.jube.images.team:web-back:1.0:zip:image\n"),
        "{out}"
    );
    // Ports come back from the image's own ports.properties, names and order kept.
    let (id, port) = start(&env, "team/web-back:1.0", "HTTP");
    let ports = env.jube().args(["port", &id]).success().stdout;
    let names: Vec<&str> = ports.lines().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(names, ["HTTP", "ADMIN"], "{ports}");
    let body = answer(port);
    assert_eq!(without_pid(&body), without_pid(&expected));
    assert_eq!(without_pid(&body), "hello oci");
    env.jube().args(["stop", &id]).success();
    env.jube().args(["status", &id]).code(3);

    // The same image through skopeo's OCI layout and docker archive imports too.
    let layout = env.root().join("layout");
    let oci_ref = format!("oci-archive:{}", archive.display());
    tool(
        "skopeo",
        &["copy", &oci_ref, &format!("oci:{}:web", layout.display())],
    );
    env.jube()
        .args([
            "import",
            &format!("oci:{}", layout.display()),
            "-t",
            "team/web-layout:1.0",
        ])
        .success();
    let docker = env.root().join("web-docker.tar");
    tool(
        "skopeo",
        &[
            "copy",
            &oci_ref,
            &format!("docker-archive:{}:team/web:1.0", docker.display()),
        ],
    );
    env.jube()
        .args([
            "import",
            &format!("docker-archive:{}", docker.display()),
            "-t",
            "team/web-docker:1.0",
        ])
        .success();
    let (id, port) = start(&env, "team/web-docker:1.0", "HTTP");
    assert_eq!(without_pid(&answer(port)), "hello oci");
    env.jube().args(["stop", &id]).success();
}

#[test]
fn a_foreign_image_gets_ports_from_exposed_ports_and_runs_its_cmd_in_its_working_dir() {
    if !image_tools_ready() {
        return;
    }
    let env = TestEnv::new();
    let (oci_base, _) = busybox_base(&env);
    let layout = env.root().join("foreign");
    tool(
        "skopeo",
        &[
            "copy",
            &format!("oci-archive:{}", oci_base.display()),
            &format!("oci:{}:app", layout.display()),
        ],
    );
    let image = format!("{}:app", layout.display());
    let site = env.root().join("site/www");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("index.html"), "foreign\n").unwrap();
    tool(
        "umoci",
        &["insert", "--image", &image, site.to_str().unwrap(), "/www"],
    );
    tool(
        "umoci",
        &[
            "config",
            "--image",
            &image,
            "--config.workingdir",
            "/www",
            "--config.exposedports",
            "8080/tcp",
            "--config.entrypoint",
            "/bin/sh",
            "--config.cmd",
            "-c",
            "--config.cmd",
            "exec httpd -f -p \"$PORT_8080_PORT\" -h .",
        ],
    );
    env.jube()
        .args(["import", &format!("oci:{image}"), "-t", "team/foreign:2.0"])
        .success();
    let (id, port) = start(&env, "team/foreign:2.0", "PORT_8080");
    assert_eq!(answer(port), "foreign");
    env.jube().args(["stop", &id]).success();
}

// Hostile archives, written by hand.

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A tar entry whose name is written as given (`../x` included), for fixtures the tar crate's
/// own path checks would refuse to write.
fn raw_entry(tar: &mut tar::Builder<Vec<u8>>, name: &str, kind: tar::EntryType, link: &str, data: &[u8]) {
    let mut header = tar::Header::new_gnu();
    {
        let gnu = header.as_gnu_mut().unwrap();
        gnu.name[..name.len()].copy_from_slice(name.as_bytes());
        gnu.linkname[..link.len()].copy_from_slice(link.as_bytes());
    }
    header.set_entry_type(kind);
    header.set_size(data.len() as u64);
    header.set_mode(if kind == tar::EntryType::Symlink {
        0o777
    } else {
        0o755
    });
    header.set_cksum();
    tar.append(&header, data).unwrap();
}

fn layer_of(entries: &[(&str, tar::EntryType, &str, &[u8])]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    raw_entry(
        &mut tar,
        "run.sh",
        tar::EntryType::Regular,
        "",
        b"#!/bin/sh\nexit 0\n",
    );
    for (name, kind, link, data) in entries {
        raw_entry(&mut tar, name, *kind, link, data);
    }
    tar.into_inner().unwrap()
}

/// An OCI archive of one layer (stored as given), with a matching config and manifest;
/// `outer` adds raw entries to the archive itself.
fn oci_archive(dir: &Path, name: &str, layer: &[u8], gzip: bool, outer: &[(&str, &[u8])]) -> PathBuf {
    let diff_id = if gzip {
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(layer), &mut plain).unwrap();
        sha256(&plain)
    } else {
        sha256(layer)
    };
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/run.sh"]},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{diff_id}")]},
    })
    .to_string();
    let media = if gzip {
        "application/vnd.oci.image.layer.v1.tar+gzip"
    } else {
        "application/vnd.oci.image.layer.v1.tar"
    };
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{}", sha256(config.as_bytes())), "size": config.len()},
        "layers": [{"mediaType": media, "digest": format!("sha256:{}", sha256(layer)), "size": layer.len()}],
    })
    .to_string();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": format!("sha256:{}", sha256(manifest.as_bytes())), "size": manifest.len()}],
    })
    .to_string();
    let mut tar = tar::Builder::new(Vec::new());
    for blob in [config.as_bytes(), manifest.as_bytes(), layer] {
        raw_entry(
            &mut tar,
            &format!("blobs/sha256/{}", sha256(blob)),
            tar::EntryType::Regular,
            "",
            blob,
        );
    }
    raw_entry(
        &mut tar,
        "index.json",
        tar::EntryType::Regular,
        "",
        index.as_bytes(),
    );
    raw_entry(
        &mut tar,
        "oci-layout",
        tar::EntryType::Regular,
        "",
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    );
    for (entry, data) in outer {
        raw_entry(&mut tar, entry, tar::EntryType::Regular, "", data);
    }
    let path = dir.join(name);
    std::fs::write(&path, tar.into_inner().unwrap()).unwrap();
    path
}

#[test]
fn hostile_archives_are_refused_with_the_reason_and_nothing_is_installed() {
    use tar::EntryType::{Regular, Symlink};
    let mut env = TestEnv::new();
    env.set_env("JUBE_UNPACK_MAX_BYTES", "5000000");
    let dir = env.root().to_owned();
    let zeros = {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let mut tar = tar::Builder::new(Vec::new());
        raw_entry(&mut tar, "zeros", Regular, "", &vec![0u8; 20_000_000]);
        gz.write_all(&tar.into_inner().unwrap()).unwrap();
        gz.finish().unwrap()
    };
    let good = layer_of(&[]);
    let cases: Vec<(PathBuf, &str)> = vec![
        (
            oci_archive(
                &dir,
                "climb.tar",
                &layer_of(&[("../../evil", Regular, "", b"x")]),
                false,
                &[],
            ),
            "climbs out with `..`",
        ),
        (
            oci_archive(
                &dir,
                "link-out.tar",
                &layer_of(&[("etc/passwd", Symlink, "../../../etc/passwd", b"")]),
                false,
                &[],
            ),
            "points outside the image",
        ),
        (
            oci_archive(
                &dir,
                "through-link.tar",
                &layer_of(&[("out", Symlink, "/usr", b""), ("out/x", Regular, "", b"x")]),
                false,
                &[],
            ),
            "lies beneath a symlink",
        ),
        (
            oci_archive(&dir, "bomb.tar", &zeros, true, &[]),
            "its layers unpack to more than 5000000 bytes",
        ),
        (
            oci_archive(&dir, "outer.tar", &good, false, &[("../outside", b"x")]),
            "climbs out with `..`",
        ),
    ];
    for (archive, reason) in &cases {
        let out = env
            .jube()
            .args([
                "import",
                &format!("oci-archive:{}", archive.display()),
                "-t",
                "team/bad:1.0",
            ])
            .failure();
        out.stderr_contains(reason);
        out.stderr_contains("cannot import");
    }
    // A blob whose bytes do not match its digest.
    let tampered = oci_archive(&dir, "tampered.tar", &good, false, &[]);
    let mut bytes = std::fs::read(&tampered).unwrap();
    let at = bytes.windows(9).position(|w| w == b"exit 0\n\0\0").unwrap();
    bytes[at + 5] = b'1';
    std::fs::write(&tampered, bytes).unwrap();
    env.jube()
        .args([
            "import",
            &format!("oci-archive:{}", tampered.display()),
            "-t",
            "team/bad:1.0",
        ])
        .failure()
        .stderr_contains("does not match its content");

    assert!(
        !env.local_repo().join("io/fabric8/jube/images/team/bad").exists(),
        "nothing installed"
    );
    let staging = env.home().join("tmp");
    let left: Vec<_> = std::fs::read_dir(&staging)
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "no work folder is left: {left:?}");

    // The good one imports (so the refusals above are the hostile entries' doing).
    let fine = oci_archive(&dir, "fine.tar", &good, false, &[]);
    env.jube()
        .args([
            "import",
            &format!("oci-archive:{}", fine.display()),
            "-t",
            "team/bad:1.0",
        ])
        .success();
}
