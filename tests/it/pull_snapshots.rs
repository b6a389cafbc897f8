//! Snapshots, as Maven resolves them: `<snapshotVersions>`, the `<snapshot>` fallback,
//! `<localCopy>`, and which metadata files count in the local repository and in a remote one.

use crate::common::fixtures::{self, IMAGE_GROUP_PREFIX};
use crate::common::{RepoServer, TestEnv};
use crate::pull::{REPO_ID, app_zip, artifact_dir, env_for, local_file, pull, pulled_path};

const SNAP: &str = "1.0-SNAPSHOT";

/// Puts a file and its `.sha1` on the server, in the snapshot's version folder.
fn put_with_sha1(server: &RepoServer, file: &str, bytes: &[u8]) {
    let rel = format!("{}/{SNAP}/{file}", artifact_dir("acme/app"));
    server.put_file(&rel, bytes);
    server.put_file(&format!("{rel}.sha1"), fixtures::sha1_hex(bytes).as_bytes());
}

/// Version-level metadata with the given `<versioning>` content.
fn version_metadata(versioning: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata>\n  <groupId>{IMAGE_GROUP_PREFIX}.acme</groupId>\n  \
         <artifactId>app</artifactId>\n  <version>{SNAP}</version>\n  <versioning>\n{versioning}\n  </versioning>\n</metadata>\n"
    )
}

fn put_version_metadata(server: &RepoServer, file: &str, versioning: &str) {
    let rel = format!("{}/{SNAP}/{file}", artifact_dir("acme/app"));
    server.put_file(&rel, version_metadata(versioning).as_bytes());
}

fn file_name(path: &std::path::Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn a_snapshot_tag_takes_the_newest_build_from_snapshot_versions() {
    let server = RepoServer::start();
    server.publish_image("acme/app", SNAP, &app_zip("build 1"));
    server.publish_image("acme/app", SNAP, &app_zip("build 2"));
    let env = env_for(&server);

    let out = pull(&env, "acme/app:1.0-SNAPSHOT").success();
    let path = pulled_path(&out);
    let name = file_name(&path);
    assert!(
        name.starts_with("app-1.0-2") && name.ends_with("-2-image.zip"),
        "{name}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), app_zip("build 2"));
    assert_eq!(
        out.stdout.lines().next().unwrap(),
        format!(
            "{IMAGE_GROUP_PREFIX}.acme:app:{}:zip:image",
            &name[4..name.len() - 10]
        )
    );
    assert!(
        local_file(&env, "acme/app", SNAP, &format!("maven-metadata-{REPO_ID}.xml")).is_file(),
        "the version's metadata is cached by repository id"
    );
    server.clear_requests();
    pull(&env, "acme/app:1.0-SNAPSHOT").success();
    assert_eq!(server.requests(), [], "cached metadata and build: no request");
}

#[test]
fn without_snapshot_versions_the_snapshot_element_names_the_build() {
    let server = RepoServer::start();
    put_with_sha1(&server, "app-1.0-20240102.030405-7-image.zip", &app_zip("seven"));
    put_with_sha1(&server, "app-1.0-20240101.000000-6-image.zip", &app_zip("six"));
    put_version_metadata(
        &server,
        "maven-metadata.xml",
        "    <snapshot><timestamp>20240102.030405</timestamp><buildNumber>7</buildNumber></snapshot>\n    \
         <lastUpdated>20240102030405</lastUpdated>",
    );
    let env = env_for(&server);
    let path = pulled_path(&pull(&env, "acme/app:1.0-SNAPSHOT").success());
    assert_eq!(file_name(&path), "app-1.0-20240102.030405-7-image.zip");
    assert_eq!(std::fs::read(&path).unwrap(), app_zip("seven"));
}

#[test]
fn local_copy_or_no_build_information_means_the_plain_snapshot_file() {
    for versioning in [
        "    <snapshot><localCopy>true</localCopy></snapshot>\n    <lastUpdated>20240102030405</lastUpdated>",
        "    <lastUpdated>20240102030405</lastUpdated>",
    ] {
        let server = RepoServer::start();
        put_with_sha1(&server, "app-1.0-SNAPSHOT-image.zip", &app_zip("plain"));
        put_version_metadata(&server, "maven-metadata.xml", versioning);
        let env = env_for(&server);
        let path = pulled_path(&pull(&env, "acme/app:1.0-SNAPSHOT").success());
        assert_eq!(file_name(&path), "app-1.0-SNAPSHOT-image.zip", "{versioning}");
        assert_eq!(std::fs::read(&path).unwrap(), app_zip("plain"));
    }
}

#[test]
fn a_newer_local_install_wins_and_other_local_metadata_does_not_count() {
    let server = RepoServer::start();
    server.publish_image("acme/app", SNAP, &app_zip("remote build"));
    let env = env_for(&server);
    let dir = env.local_repo().join(artifact_dir("acme/app")).join(SNAP);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("app-1.0-SNAPSHOT-image.zip"), app_zip("local build")).unwrap();
    std::fs::write(dir.join("app-1.0-20990101.000000-99-image.zip"), app_zip("bogus")).unwrap();
    let far_future = "    <snapshot><timestamp>20990101.000000</timestamp><buildNumber>99</buildNumber></snapshot>\n    \
                      <lastUpdated>20990101000000</lastUpdated>";
    // Neither a plain maven-metadata.xml nor the cache of a repository jube does not use counts.
    std::fs::write(dir.join("maven-metadata.xml"), version_metadata(far_future)).unwrap();
    std::fs::write(
        dir.join("maven-metadata-elsewhere.xml"),
        version_metadata(far_future),
    )
    .unwrap();

    let path = pulled_path(&pull(&env, "acme/app:1.0-SNAPSHOT").success());
    assert_eq!(
        std::fs::read(&path).unwrap(),
        app_zip("remote build"),
        "{}",
        path.display()
    );

    // maven-metadata-local.xml (a local install) newer than the remote build: the plain file wins.
    std::fs::write(
        dir.join("maven-metadata-local.xml"),
        version_metadata(
            "    <snapshot><localCopy>true</localCopy></snapshot>\n    <lastUpdated>20980101000000</lastUpdated>",
        ),
    )
    .unwrap();
    let path = pulled_path(&pull(&env, "acme/app:1.0-SNAPSHOT").success());
    assert_eq!(file_name(&path), "app-1.0-SNAPSHOT-image.zip");
    assert_eq!(std::fs::read(&path).unwrap(), app_zip("local build"));
}

#[test]
fn a_remote_maven_metadata_local_xml_is_ignored() {
    let server = RepoServer::start();
    server.publish_image("acme/app", "1.0", &app_zip("1.0"));
    server.publish_image("acme/app", SNAP, &app_zip("remote build"));
    let (group, artifact) = fixtures::image_coords("acme/app");
    let local_meta = format!("{}/maven-metadata-local.xml", artifact_dir("acme/app"));
    server.put_file(
        &local_meta,
        format!(
            "<metadata><groupId>{group}</groupId><artifactId>{artifact}</artifactId><versioning><versions>\
             <version>9.0</version></versions></versioning></metadata>"
        )
        .as_bytes(),
    );
    put_version_metadata(
        &server,
        "maven-metadata-local.xml",
        "    <snapshot><localCopy>true</localCopy></snapshot>\n    <lastUpdated>20990101000000</lastUpdated>",
    );
    let env = env_for(&server);
    pull(&env, "acme/app").success().stdout_contains(":app:1.0:");
    let out = pull(&env, "acme/app:1.0-SNAPSHOT").success();
    assert_eq!(std::fs::read(pulled_path(&out)).unwrap(), app_zip("remote build"));
    assert_eq!(server.count("GET", "maven-metadata-local.xml"), 0);
}

#[test]
fn a_repository_without_snapshots_is_not_asked_and_the_error_says_so() {
    let server = RepoServer::start();
    server.publish_image("acme/app", SNAP, &app_zip("snap"));
    let mut env = TestEnv::new();
    env.set_env(
        "JUBE_REMOTE_MAVEN_REPOS",
        format!("{}@id=releases-only", server.url()),
    );
    let out = pull(&env, "acme/app:1.0-SNAPSHOT").code(1);
    out.stderr_contains("releases-only")
        .stderr_contains("snapshots are off")
        .stderr_contains("@snapshots");
    assert_eq!(server.requests(), []);
}

#[test]
fn a_timestamped_build_is_pinned_not_replaced_by_the_newest() {
    let server = RepoServer::start();
    // The builds may straddle a second, so the first one's name comes from where it was put.
    let first_path = server.publish_image("acme/app", SNAP, &app_zip("build 1"));
    server.publish_image("acme/app", SNAP, &app_zip("build 2"));
    let env = env_for(&server);
    let newest = file_name(&pulled_path(&pull(&env, "acme/app:1.0-SNAPSHOT").success()));
    assert!(newest.ends_with("-2-image.zip"), "{newest}");
    let first = first_path.rsplit('/').next().unwrap().to_owned();
    assert!(first.ends_with("-1-image.zip"), "{first}");
    let version = &first["app-".len()..first.len() - "-image.zip".len()];
    let out = pull(&env, &format!("acme/app:{version}")).success();
    assert_eq!(file_name(&pulled_path(&out)), first);
    assert_eq!(std::fs::read(pulled_path(&out)).unwrap(), app_zip("build 1"));
}
