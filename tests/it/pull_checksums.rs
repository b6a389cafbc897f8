//! Checksums: each sidecar algorithm, lenient formats, a mismatch that keeps nothing and shows both
//! sums, and a missing checksum (a warning, or an error with `--strict-checksums`).

use sha2::Digest;

use crate::common::fixtures;
use crate::common::{RepoServer, TestEnv};
use crate::pull::{app_zip, cached_zip, env_for, files_named, pull, pulled_path};

const ALGORITHMS: [&str; 4] = ["sha512", "sha256", "sha1", "md5"];

fn digest(algorithm: &str, bytes: &[u8]) -> String {
    match algorithm {
        "sha512" => hex::encode(sha2::Sha512::digest(bytes)),
        "sha256" => hex::encode(sha2::Sha256::digest(bytes)),
        "sha1" => fixtures::sha1_hex(bytes),
        "md5" => hex::encode(md5::Md5::digest(bytes)),
        other => panic!("no such algorithm {other}"),
    }
}

/// Publishes `acme/app:1.0` with only the given sidecar text for the zip (`None`: no checksum).
fn publish_with_sidecar(server: &RepoServer, zip: &[u8], sidecar: Option<(&str, String)>) -> String {
    let rel = server.publish_image("acme/app", "1.0", zip);
    for algorithm in ALGORITHMS {
        let _ = std::fs::remove_file(server.root().join(format!("{rel}.{algorithm}")));
    }
    if let Some((algorithm, text)) = sidecar {
        server.put_file(&format!("{rel}.{algorithm}"), text.as_bytes());
    }
    rel
}

fn nothing_cached(env: &TestEnv) {
    assert!(!cached_zip(env, "acme/app", "1.0").exists(), "no zip is kept");
    assert!(
        files_named(env.local_repo(), ".jube-partial").is_empty(),
        "no temp file is left"
    );
}

#[test]
fn each_published_algorithm_is_verified() {
    let zip = app_zip("1.0");
    for algorithm in ALGORITHMS {
        let server = RepoServer::start();
        publish_with_sidecar(&server, &zip, Some((algorithm, digest(algorithm, &zip))));
        let env = env_for(&server);
        let out = pull(&env, "acme/app:1.0").success();
        out.stderr_lacks("not verified").stderr_lacks("warning");
        assert_eq!(std::fs::read(pulled_path(&out)).unwrap(), zip);

        // The same sidecar with a wrong sum is a mismatch: it proves this algorithm is checked.
        let server = RepoServer::start();
        let wrong = digest(algorithm, b"other bytes");
        publish_with_sidecar(&server, &zip, Some((algorithm, wrong.clone())));
        let env = env_for(&server);
        let out = pull(&env, "acme/app:1.0").code(1);
        out.stderr_contains("checksum mismatch")
            .stderr_contains(&wrong)
            .stderr_contains(&digest(algorithm, &zip));
        nothing_cached(&env);
    }
}

#[test]
fn the_strongest_published_checksum_is_used() {
    let zip = app_zip("1.0");
    let server = RepoServer::start();
    let rel = publish_with_sidecar(&server, &zip, Some(("sha256", digest("sha256", &zip))));
    // A wrong weaker sum is not even read.
    server.put_file(&format!("{rel}.md5"), digest("md5", b"x").as_bytes());
    let env = env_for(&server);
    pull(&env, "acme/app:1.0").success();
    assert_eq!(server.count("GET", ".md5"), 0);
}

#[test]
fn checksum_files_are_read_leniently() {
    let zip = app_zip("1.0");
    let sha1 = digest("sha1", &zip);
    for text in [
        format!("{sha1}\n"),
        format!("{}  app-1.0-image.zip\n", sha1.to_uppercase()),
        format!("SHA1 (app-1.0-image.zip) = {sha1}\n"),
        format!("  {sha1}\r\n"),
    ] {
        let server = RepoServer::start();
        publish_with_sidecar(&server, &zip, Some(("sha1", text.clone())));
        let env = env_for(&server);
        pull(&env, "acme/app:1.0").success().stderr_lacks("warning");
    }
}

#[test]
fn a_mismatch_shows_both_sums_and_caches_nothing() {
    let zip = app_zip("1.0");
    let server = RepoServer::start();
    let bogus = "0123456789abcdef0123456789abcdef01234567";
    publish_with_sidecar(&server, &zip, Some(("sha1", bogus.to_owned())));
    let env = env_for(&server);
    let out = pull(&env, "acme/app:1.0").code(1);
    out.stderr_contains(&format!("the repository's SHA-1 is {bogus}"))
        .stderr_contains(&format!("the downloaded file's is {}", digest("sha1", &zip)))
        .stderr_contains(&server.url());
    assert_eq!(
        server.count("GET", "-image.zip"),
        2,
        "a mismatch is tried once more"
    );
    nothing_cached(&env);
    assert!(
        !env.local_repo()
            .join("io/fabric8/jube/images/acme/app/1.0")
            .exists(),
        "not even an empty folder"
    );
}

#[test]
fn a_missing_checksum_is_a_warning_and_strict_checksums_make_it_an_error() {
    let zip = app_zip("1.0");
    let server = RepoServer::start();
    publish_with_sidecar(&server, &zip, None);
    let env = env_for(&server);
    let out = pull(&env, "acme/app:1.0").arg("--strict-checksums").code(1);
    out.stderr_contains("no checksum")
        .stderr_contains("--strict-checksums");
    nothing_cached(&env);

    let out = pull(&env, "acme/app:1.0").success();
    out.stderr_contains("warning: no checksum is published for")
        .stderr_contains("not verified");
    assert_eq!(std::fs::read(pulled_path(&out)).unwrap(), zip);
}
