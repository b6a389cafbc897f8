//! `jube pull`: what it prints, where it caches, which version each tag means, and bad names.
//! The helpers here are shared by the other `pull_*`, `images` and `settings` modules.

use std::path::{Path, PathBuf};

use crate::common::fixtures::{self, IMAGE_GROUP_PREFIX};
use crate::common::{Cmd, Out, RepoServer, TestEnv, ZipEntry};

/// The repository id the tests give their server, as TESTING.md's Maven recipe expects.
pub const REPO_ID: &str = "bars";

/// A test env whose only remote repository is `server`, id `bars`, releases and snapshots.
pub fn env_for(server: &RepoServer) -> TestEnv {
    let mut env = TestEnv::new();
    env.set_env(
        "JUBE_REMOTE_MAVEN_REPOS",
        format!("{}@id={REPO_ID}@snapshots", server.url()),
    );
    env
}

/// A small image zip whose bytes tell which build it is.
pub fn app_zip(marker: &str) -> Vec<u8> {
    fixtures::image_zip(&[
        ZipEntry::script("start.sh", "#!/bin/sh\nexit 0\n"),
        ZipEntry::file("BUILD", marker),
    ])
}

/// An image zip of about `len` bytes that does not compress, for downloads that take a while.
pub fn big_zip(len: usize) -> Vec<u8> {
    let mut state: u32 = 0x1234_5678;
    let noise: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect();
    fixtures::image_zip(&[
        ZipEntry::script("start.sh", "#!/bin/sh\nexit 0\n"),
        ZipEntry::file("noise.bin", noise).with_mode(0o644),
    ])
}

pub fn pull(env: &TestEnv, name: &str) -> Cmd {
    env.jube().args(["pull", name])
}

/// The group path of a `namespace/name` image under the default prefix.
pub fn artifact_dir(image: &str) -> String {
    let (group, artifact) = fixtures::image_coords(image);
    format!("{}/{artifact}", group.replace('.', "/"))
}

/// Where the local repository keeps a file of an image version (`file` relative to the version folder).
pub fn local_file(env: &TestEnv, image: &str, version: &str, file: &str) -> PathBuf {
    env.local_repo()
        .join(artifact_dir(image))
        .join(version)
        .join(file)
}

/// The cached zip of a release version.
pub fn cached_zip(env: &TestEnv, image: &str, version: &str) -> PathBuf {
    let name = image.rsplit('/').next().unwrap_or(image);
    local_file(env, image, version, &format!("{name}-{version}-image.zip"))
}

/// The path `jube pull` printed (its second and last stdout line), checked to exist.
#[track_caller]
pub fn pulled_path(out: &Out) -> PathBuf {
    let path = PathBuf::from(out.last_line());
    assert!(path.is_file(), "the printed path is no file\n{out}");
    path
}

/// Every file below `dir` whose name starts with `prefix` (download leftovers).
pub fn files_named(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_named(&path, prefix));
        } else if entry.file_name().to_string_lossy().starts_with(prefix) {
            found.push(path);
        }
    }
    found
}

#[test]
fn pull_prints_coordinates_and_path_and_caches_as_maven_does() {
    let server = RepoServer::start();
    let zip = app_zip("1.0");
    server.publish_image("acme/app", "1.0", &zip);
    let env = env_for(&server);

    let out = pull(&env, "acme/app:1.0").success();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            format!("{IMAGE_GROUP_PREFIX}.acme:app:1.0:zip:image"),
            cached_zip(&env, "acme/app", "1.0").display().to_string(),
        ],
        "stdout is the coordinates and the path, nothing else\n{out}"
    );
    out.stderr_contains("downloaded").stderr_contains(REPO_ID);
    assert_eq!(std::fs::read(pulled_path(&out)).expect("the cached zip"), zip);
    let origins = std::fs::read_to_string(local_file(&env, "acme/app", "1.0", "_remote.repositories"))
        .expect("_remote.repositories");
    assert!(origins.contains("app-1.0-image.zip>bars="), "{origins}");
    assert!(origins.contains("app-1.0.pom>bars="), "{origins}");
    assert!(local_file(&env, "acme/app", "1.0", "app-1.0.pom").is_file());
    assert!(files_named(env.local_repo(), ".jube-partial").is_empty());
    // Warnings and notes never reach stdout, so scripts can read it.
    out.stdout_lacks("warning");
}

#[test]
fn no_tag_latest_and_release_mean_the_newest_release_by_maven_order() {
    let server = RepoServer::start();
    for v in ["1.2", "1.9", "1.10", "1.10-rc1"] {
        server.publish_image("acme/app", v, &app_zip(v));
    }
    let (group, artifact) = fixtures::image_coords("acme/app");
    // Unsorted, with a snapshot, and `latest`/`release` left stale, as real repositories do.
    fixtures::write_artifact_metadata(
        server.root(),
        &group,
        &artifact,
        &["1.10", "1.9", "2.0-SNAPSHOT", "1.2", "1.10-rc1"],
        Some("1.2"),
        Some("1.9"),
    );
    let env = env_for(&server);
    for name in ["acme/app", "acme/app:latest", "acme/app:RELEASE"] {
        let out = pull(&env, name).success();
        out.stdout_contains(":app:1.10:zip:image");
        assert_eq!(
            std::fs::read(pulled_path(&out)).unwrap(),
            app_zip("1.10"),
            "{name}"
        );
    }
}

#[test]
fn latest_in_capitals_includes_snapshots() {
    let server = RepoServer::start();
    server.publish_image("acme/app", "1.0", &app_zip("1.0"));
    server.publish_image("acme/app", "1.1-SNAPSHOT", &app_zip("snap"));
    let env = env_for(&server);

    let out = pull(&env, "acme/app:LATEST").success();
    let path = pulled_path(&out);
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("app-1.1-") && name.ends_with("-1-image.zip") && !name.contains("SNAPSHOT"),
        "a timestamped build of 1.1-SNAPSHOT: {name}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), app_zip("snap"));
    // The release rules still skip it.
    pull(&env, "acme/app")
        .success()
        .stdout_contains(":app:1.0:zip:image");
}

#[test]
fn messy_metadata_is_read_leniently() {
    let server = RepoServer::start();
    server.publish_image("acme/app", "2.0.1", &app_zip("2.0.1"));
    let path = format!("{}/maven-metadata.xml", artifact_dir("acme/app"));
    let messy = "\u{feff}<?xml version=\"1.0\"?>\n<metadata>\n  <groupId>x</groupId>\n  <versioning>\n    \
                 <latest/>\n    <release></release>\n    <versions>\n      <version> 2.0 </version>\n      \
                 <version>2.0.1</version>\n      <version>2.0</version>\n      <version></version>\n      \
                 <version>10-alpha</version>\n    </versions>\n    <unknown>ignored</unknown>\n  </versioning>\n\
                 </metadata>\n";
    server.put_file(&path, messy.as_bytes());
    // Checksums of metadata are not required; stale ones are removed so none contradicts it.
    for ext in ["sha1", "md5"] {
        let _ = std::fs::remove_file(server.root().join(format!("{path}.{ext}")));
    }
    let env = env_for(&server);
    // By Maven's order 10-alpha is the newest release; it has no file, so the error naming it shows
    // that the order was computed from <versions>, as <latest> and <release> are empty.
    let out = pull(&env, "acme/app").failure();
    out.stderr_contains(":app:10-alpha:zip:image");
    server.put_file(&path, messy.replace("<version>10-alpha</version>", "").as_bytes());
    let out = pull(&env, "acme/app").arg("-U").success();
    out.stdout_contains(":app:2.0.1:zip:image");
}

#[test]
fn versions_merge_across_two_repositories() {
    let a = RepoServer::start();
    let b = RepoServer::start();
    a.publish_image("acme/app", "1.0", &app_zip("a1.0"));
    a.publish_image("acme/app", "3.0", &app_zip("a3.0"));
    b.publish_image("acme/app", "2.0", &app_zip("b2.0"));
    b.publish_image("acme/app", "3.5", &app_zip("b3.5"));
    let mut env = TestEnv::new();
    env.set_env(
        "JUBE_REMOTE_MAVEN_REPOS",
        format!("{}@id=first,{}@id=second", a.url(), b.url()),
    );

    let out = pull(&env, "acme/app").success();
    out.stdout_contains(":app:3.5:zip:image")
        .stderr_contains("second");
    assert_eq!(std::fs::read(pulled_path(&out)).unwrap(), app_zip("b3.5"));
    let dir = env.local_repo().join(artifact_dir("acme/app"));
    assert!(
        dir.join("maven-metadata-first.xml").is_file(),
        "each remote's metadata is cached by id"
    );
    assert!(dir.join("maven-metadata-second.xml").is_file());
    assert!(
        !dir.join("maven-metadata.xml").exists() && !dir.join("maven-metadata-local.xml").exists(),
        "only Maven's names for cached metadata"
    );
    // A version only the first has comes from there.
    let out = pull(&env, "acme/app:3.0").success();
    assert_eq!(std::fs::read(pulled_path(&out)).unwrap(), app_zip("a3.0"));
}

#[test]
fn explicit_maven_coordinates_are_pulled() {
    let server = RepoServer::start();
    let zip = app_zip("mvn");
    fixtures::publish(server.root(), ("com.example.tools", "app", "1.2"), &zip);
    let env = env_for(&server);
    let out = pull(&env, "mvn:com.example.tools/app/1.2").success();
    assert_eq!(
        out.stdout.lines().next(),
        Some("com.example.tools:app:1.2:zip:image")
    );
    assert_eq!(
        pulled_path(&out),
        env.local_repo()
            .join("com/example/tools/app/1.2/app-1.2-image.zip")
    );
    // Without a version: the newest, as for image names.
    pull(&env, "mvn:com.example.tools/app")
        .success()
        .stdout_contains(":app:1.2:");
}

#[test]
fn bad_image_names_exit_2_and_say_which_part_is_wrong() {
    let server = RepoServer::start();
    let env = env_for(&server);
    for (name, says) in [
        ("acme/ap p", "whitespace"),
        ("acme//app", "path part 2 is empty"),
        ("../app", "`..`"),
        ("acme/app:", "the tag is empty"),
        ("acme/a$p", "`a$p` contains `$`"),
        ("mvn:com.example", "mvn:GROUP/ARTIFACT"),
        ("", "empty"),
    ] {
        let out = pull(&env, name).code(2);
        out.stderr_contains("invalid image name").stderr_contains(says);
        assert!(out.stdout.is_empty(), "{out}");
    }
    assert!(server.requests().is_empty(), "{:?}", server.requests());
    assert!(!env.local_repo().exists(), "nothing written for a bad name");
    // The exit codes are documented.
    env.jube()
        .arg("--help")
        .success()
        .stdout_contains("2 usage error");
}

#[test]
fn a_version_no_repository_has_fails_and_leaves_no_folders() {
    let server = RepoServer::start();
    server.publish_image("acme/app", "1.0", &app_zip("1.0"));
    let env = env_for(&server);
    let out = pull(&env, "acme/app:9.9").code(1);
    out.stderr_contains(":app:9.9:zip:image was not found")
        .stderr_contains(&server.url())
        .stderr_contains("not found (404)");
    assert!(out.stdout.is_empty());
    assert!(
        !env.local_repo().join(artifact_dir("acme/app")).exists(),
        "no empty folders are left behind"
    );
    let out = pull(&env, "acme/nothing").code(1);
    out.stderr_contains("no version of io.fabric8.jube.images.acme:nothing found");
}
