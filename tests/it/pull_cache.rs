//! The local repository first: a cached concrete version costs no request, remote metadata is
//! cached per repository for a day (or until `-U`), and `--offline` never touches the network.

use std::time::{Duration, SystemTime};

use crate::common::{RepoServer, TestEnv};
use crate::pull::{REPO_ID, app_zip, artifact_dir, cached_zip, env_for, pull, pulled_path};

/// The cached copy of `repo_id`'s artifact-level metadata.
fn metadata_cache(env: &TestEnv, image: &str, repo_id: &str) -> std::path::PathBuf {
    env.local_repo()
        .join(artifact_dir(image))
        .join(format!("maven-metadata-{repo_id}.xml"))
}

/// Makes a file look `age` old.
fn age_file(path: &std::path::Path, age: Duration) {
    let file = std::fs::File::options()
        .write(true)
        .open(path)
        .expect("open to set its time");
    file.set_modified(SystemTime::now() - age)
        .expect("set the modification time");
}

#[test]
fn a_cached_concrete_version_makes_no_request() {
    let server = RepoServer::start();
    server.publish_image("acme/app", "1.0", &app_zip("1.0"));
    let env = env_for(&server);
    pull(&env, "acme/app:1.0").success();
    server.clear_requests();

    let out = pull(&env, "acme/app:1.0").success();
    out.stderr_contains("up to date").stderr_lacks("downloaded");
    assert_eq!(pulled_path(&out), cached_zip(&env, "acme/app", "1.0"));
    assert_eq!(
        server.requests(),
        [],
        "a cached concrete version costs no request at all"
    );
}

#[test]
fn a_file_maven_put_there_is_used_without_any_repository() {
    let mut env = TestEnv::new();
    let path = cached_zip(&env, "acme/app", "1.0");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, app_zip("by hand")).unwrap();
    // A repository that would fail every request, to show none is made.
    let server = RepoServer::start();
    server.set_fault(None, crate::common::Fault::Status(500));
    env.set_env("JUBE_REMOTE_MAVEN_REPOS", server.url());
    let out = pull(&env, "acme/app:1.0").success();
    assert_eq!(pulled_path(&out), path);
    assert_eq!(server.requests(), []);
}

#[test]
fn metadata_is_cached_per_repository_and_refreshed_after_a_day() {
    let server = RepoServer::start();
    server.publish_image("acme/app", "1.0", &app_zip("1.0"));
    let env = env_for(&server);
    pull(&env, "acme/app").success().stdout_contains(":app:1.0:");
    let cache = metadata_cache(&env, "acme/app", REPO_ID);
    assert!(cache.is_file(), "cached as maven-metadata-{REPO_ID}.xml");

    server.publish_image("acme/app", "2.0", &app_zip("2.0"));
    server.clear_requests();
    pull(&env, "acme/app").success().stdout_contains(":app:1.0:");
    assert_eq!(
        server.requests(),
        [],
        "fresh metadata and a cached version: no request"
    );

    age_file(&cache, Duration::from_secs(25 * 60 * 60));
    let out = pull(&env, "acme/app").success();
    out.stdout_contains(":app:2.0:");
    assert_eq!(std::fs::read(pulled_path(&out)).unwrap(), app_zip("2.0"));
    assert_eq!(server.count("GET", "/maven-metadata.xml"), 1);
    let cached = std::fs::read_to_string(&cache).unwrap();
    assert!(
        cached.contains("<version>2.0</version>"),
        "the cache was refreshed: {cached}"
    );
}

#[test]
fn refresh_flag_fetches_metadata_again() {
    let server = RepoServer::start();
    server.publish_image("acme/app", "1.0", &app_zip("1.0"));
    let env = env_for(&server);
    pull(&env, "acme/app").success();
    server.publish_image("acme/app", "1.1", &app_zip("1.1"));
    pull(&env, "acme/app").success().stdout_contains(":app:1.0:");
    pull(&env, "acme/app")
        .arg("-U")
        .success()
        .stdout_contains(":app:1.1:");
    server.publish_image("acme/app", "1.2", &app_zip("1.2"));
    pull(&env, "acme/app")
        .arg("--refresh")
        .success()
        .stdout_contains(":app:1.2:");
}

#[test]
fn a_corrupt_metadata_cache_is_fetched_again() {
    let server = RepoServer::start();
    server.publish_image("acme/app", "1.0", &app_zip("1.0"));
    let env = env_for(&server);
    pull(&env, "acme/app").success();
    std::fs::write(metadata_cache(&env, "acme/app", REPO_ID), "<html>oops").unwrap();
    pull(&env, "acme/app").success().stdout_contains(":app:1.0:");
    assert!(
        std::fs::read_to_string(metadata_cache(&env, "acme/app", REPO_ID))
            .unwrap()
            .contains("<metadata")
    );
}

#[test]
fn offline_uses_the_cache_and_says_what_is_missing() {
    let server = RepoServer::start();
    server.publish_image("acme/app", "1.0", &app_zip("1.0"));
    let env = env_for(&server);
    pull(&env, "acme/app").success();
    server.publish_image("acme/app", "2.0", &app_zip("2.0"));
    server.clear_requests();

    // Even stale metadata and -U do not make it go online.
    age_file(
        &metadata_cache(&env, "acme/app", REPO_ID),
        Duration::from_secs(3 * 24 * 60 * 60),
    );
    pull(&env, "acme/app")
        .args(["--offline", "-U"])
        .success()
        .stdout_contains(":app:1.0:");
    pull(&env, "acme/app:1.0").arg("--offline").success();

    let out = pull(&env, "acme/app:2.0").arg("--offline").code(1);
    out.stderr_contains("offline")
        .stderr_contains(":app:2.0:zip:image")
        .stderr_contains(&env.local_repo().display().to_string())
        .stderr_contains("without offline mode");
    let out = pull(&env, "acme/other").arg("--offline").code(1);
    out.stderr_contains("offline")
        .stderr_contains("no version of io.fabric8.jube.images.acme:other");
    assert_eq!(server.requests(), [], "offline never touches the network");
    assert!(!cached_zip(&env, "acme/app", "2.0").exists());
}

#[test]
fn settings_offline_is_the_same_as_the_flag() {
    let server = RepoServer::start();
    server.publish_image("acme/app", "1.0", &app_zip("1.0"));
    let env = env_for(&server);
    env.write_settings("<settings><offline>true</offline></settings>");
    pull(&env, "acme/app:1.0").code(1).stderr_contains("offline");
    assert_eq!(server.requests(), []);
    env.write_settings("<settings><offline>false</offline></settings>");
    pull(&env, "acme/app:1.0").success();
}

#[test]
fn offline_still_serves_the_built_in_images() {
    let env = TestEnv::new();
    let out = pull(&env, "fabric8/ticker").arg("--offline").success();
    out.stdout_contains("io.fabric8.jube.images.fabric8:ticker:")
        .stderr_contains("from the images built into jube");
    let origins = std::fs::read_to_string(pulled_path(&out).with_file_name("_remote.repositories")).unwrap();
    assert!(
        origins.contains("-image.zip>="),
        "recorded as a local install: {origins}"
    );
}

#[test]
fn stale_metadata_is_used_with_a_warning_when_the_repository_fails() {
    let server = RepoServer::start();
    server.publish_image("acme/app", "1.0", &app_zip("1.0"));
    let env = env_for(&server);
    pull(&env, "acme/app").success();
    age_file(
        &metadata_cache(&env, "acme/app", REPO_ID),
        Duration::from_secs(2 * 24 * 60 * 60),
    );
    server.set_fault(Some("maven-metadata.xml"), crate::common::Fault::Status(503));
    let out = pull(&env, "acme/app").success();
    out.stdout_contains(":app:1.0:")
        .stderr_contains("warning: using the cached metadata of bars")
        .stderr_contains("503");
}

#[test]
fn a_relative_local_repository_is_made_absolute() {
    let server = RepoServer::start();
    server.publish_image("acme/app", "1.0", &app_zip("1.0"));
    let mut env = env_for(&server);
    env.set_env("JUBE_LOCAL_REPO", "relative-repo");
    let out = pull(&env, "acme/app:1.0").success();
    let path = pulled_path(&out);
    assert!(path.is_absolute(), "{out}");
    assert!(path.starts_with(env.root().join("relative-repo")), "{out}");
}
