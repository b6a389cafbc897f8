//! Pulls racing each other or killed halfway: one download, whole files only.

use std::time::Duration;

use crate::common::{Fault, RepoServer, wait_until};
use crate::pull::{big_zip, cached_zip, env_for, files_named, pull, pulled_path};

const ZIP: &str = "-image.zip";

/// A partial download of some bytes exists in the local repository.
fn download_under_way(local_repo: &std::path::Path) -> bool {
    files_named(local_repo, ".jube-partial")
        .iter()
        .any(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 0))
}

#[test]
fn two_pulls_at_once_both_succeed_with_one_download() {
    let server = RepoServer::start();
    let zip = big_zip(300_000);
    server.publish_image("acme/app", "1.0", &zip);
    server.set_fault(
        Some(ZIP),
        Fault::Slow {
            bytes_per_sec: 300_000,
        },
    );
    let env = env_for(&server);

    let first = pull(&env, "acme/app:1.0").spawn();
    wait_until("the first download to start", Duration::from_secs(30), || {
        download_under_way(env.local_repo())
    });
    let second = pull(&env, "acme/app:1.0").spawn();
    let (first, second) = (first.wait().assert_success(), second.wait().assert_success());
    second.stderr_contains("waiting for another jube process to finish downloading");
    second.stderr_contains("up to date").stderr_lacks("downloaded");

    assert_eq!(pulled_path(&first), pulled_path(&second));
    assert_eq!(std::fs::read(pulled_path(&first)).unwrap(), zip, "no torn file");
    assert_eq!(
        server.count("GET", ZIP),
        1,
        "one download: {:?}",
        server.requests()
    );
    assert!(files_named(env.local_repo(), ".jube-partial").is_empty());
}

#[test]
fn a_pull_killed_mid_download_leaves_nothing_taken_for_good() {
    let server = RepoServer::start();
    let zip = big_zip(400_000);
    server.publish_image("acme/app", "1.0", &zip);
    server.set_fault(
        Some(ZIP),
        Fault::Slow {
            bytes_per_sec: 50_000,
        },
    );
    let env = env_for(&server);

    let killed = pull(&env, "acme/app:1.0").spawn();
    wait_until("the download to start", Duration::from_secs(30), || {
        download_under_way(env.local_repo())
    });
    let out = killed.kill();
    assert_eq!(out.signal, Some(9), "killed with SIGKILL\n{out}");
    assert!(
        !cached_zip(&env, "acme/app", "1.0").exists(),
        "no file under the final name"
    );
    let listed = env.jube().args(["images", "--format", "json"]).success();
    assert_eq!(
        listed.stdout.trim(),
        "[]",
        "jube images does not list a partial download"
    );
    // Offline, the leftover is not mistaken for the image either.
    pull(&env, "acme/app:1.0").arg("--offline").code(1);

    server.clear_faults();
    let out = pull(&env, "acme/app:1.0").success();
    assert_eq!(std::fs::read(pulled_path(&out)).unwrap(), zip);
    assert!(
        files_named(env.local_repo(), ".jube-partial").is_empty(),
        "the next pull cleans up what the killed one left"
    );
}
