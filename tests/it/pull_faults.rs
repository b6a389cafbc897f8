//! Failing repositories: transient failures retried, a 404 not, nothing cached from a failure,
//! every repository named in the error, and an unreachable one costing one warning.

use crate::common::{Fault, RepoServer, TestEnv, free_port};
use crate::pull::{app_zip, big_zip, cached_zip, env_for, files_named, pull, pulled_path};

const ZIP: &str = "-image.zip";

#[test]
fn a_500_then_ok_is_retried() {
    let server = RepoServer::start();
    server.publish_image("acme/app", "1.0", &app_zip("1.0"));
    server.set_fault(Some(ZIP), Fault::Times(2, Box::new(Fault::Status(500))));
    let env = env_for(&server);
    let out = pull(&env, "acme/app:1.0").success();
    assert_eq!(std::fs::read(pulled_path(&out)).unwrap(), app_zip("1.0"));
    assert_eq!(server.count("GET", ZIP), 3, "{:?}", server.requests());
}

#[test]
fn a_reset_connection_is_retried() {
    let server = RepoServer::start();
    server.publish_image("acme/app", "1.0", &app_zip("1.0"));
    server.set_fault(Some(ZIP), Fault::Times(1, Box::new(Fault::Reset)));
    let env = env_for(&server);
    pull(&env, "acme/app:1.0").success();
    assert_eq!(server.count("GET", ZIP), 2);
}

#[test]
fn a_truncated_body_is_retried_and_never_kept() {
    let server = RepoServer::start();
    let zip = big_zip(300_000);
    server.publish_image("acme/app", "1.0", &zip);
    server.set_fault(
        Some(ZIP),
        Fault::Times(1, Box::new(Fault::Truncate { after: 1000 })),
    );
    let env = env_for(&server);
    let out = pull(&env, "acme/app:1.0").success();
    assert_eq!(std::fs::read(pulled_path(&out)).unwrap(), zip);
    assert_eq!(server.count("GET", ZIP), 2);

    // Cut short every time: the retries run out, and neither the file nor a temp file stays.
    let env = env_for(&server);
    server.set_fault(Some(ZIP), Fault::Truncate { after: 1000 });
    let out = pull(&env, "acme/app:1.0").code(1);
    out.stderr_contains("transfer failed");
    assert!(!cached_zip(&env, "acme/app", "1.0").exists());
    assert!(files_named(env.local_repo(), ".jube-partial").is_empty());
}

#[test]
fn a_404_is_not_retried() {
    let server = RepoServer::start();
    server.publish_image("acme/app", "1.0", &app_zip("1.0"));
    server.set_fault(Some(ZIP), Fault::NotFound);
    let env = env_for(&server);
    pull(&env, "acme/app:1.0")
        .code(1)
        .stderr_contains("not found (404)");
    assert_eq!(server.count("GET", ZIP), 1);
    assert_eq!(
        server.count("GET", ".sha1"),
        0,
        "no checksum is asked for a missing file"
    );
}

#[test]
fn a_transient_failure_is_never_cached_as_not_found() {
    let server = RepoServer::start();
    server.publish_image("acme/app", "1.0", &app_zip("1.0"));
    let env = env_for(&server);
    server.set_fault(Some("maven-metadata.xml"), Fault::Status(503));
    pull(&env, "acme/app").code(1).stderr_contains("503");
    server.set_fault(Some(ZIP), Fault::Status(502));
    pull(&env, "acme/app:1.0").code(1).stderr_contains("502");

    server.clear_faults();
    pull(&env, "acme/app").success().stdout_contains(":app:1.0:");
    assert!(
        files_named(env.local_repo(), "")
            .iter()
            .all(|p| !p.to_string_lossy().ends_with(".lastUpdated"))
    );
}

#[test]
fn a_failing_repository_warns_when_another_has_versions() {
    let good = RepoServer::start();
    let bad = RepoServer::start();
    good.publish_image("acme/app", "1.0", &app_zip("1.0"));
    bad.publish_image("acme/app", "2.0", &app_zip("2.0"));
    bad.set_fault(None, Fault::Status(500));
    let mut env = TestEnv::new();
    env.set_env(
        "JUBE_REMOTE_MAVEN_REPOS",
        format!("{}@id=bad,{}@id=good", bad.url(), good.url()),
    );
    let out = pull(&env, "acme/app").success();
    out.stdout_contains(":app:1.0:")
        .stderr_contains("warning: could not read the versions in")
        .stderr_contains(&bad.url())
        .stderr_contains("500");
}

#[test]
fn errors_list_every_repository_tried_with_its_answer() {
    let missing = RepoServer::start();
    let hanging = RepoServer::start();
    hanging.publish_image("acme/app", "1.0", &app_zip("1.0"));
    hanging.set_fault(Some(ZIP), Fault::Hang);
    let corrupt = RepoServer::start();
    corrupt.publish_image("acme/app", "1.0", &app_zip("1.0"));
    corrupt.put_file(
        "io/fabric8/jube/images/acme/app/1.0/app-1.0-image.zip.sha1",
        b"0000000000000000000000000000000000000000",
    );
    let refused = format!("http://127.0.0.1:{}/", free_port());
    let mut env = TestEnv::new();
    env.set_env(
        "JUBE_REMOTE_MAVEN_REPOS",
        format!(
            "{}@id=missing,{refused}@id=refused,http://user:TopSecret99@{}@id=hanging,{}@id=corrupt",
            missing.url(),
            hanging.url().trim_start_matches("http://"),
            corrupt.url()
        ),
    );
    env.set_env("JUBE_READ_TIMEOUT", "1");
    env.set_env("JUBE_HTTP_RETRIES", "0");

    let out = pull(&env, "acme/app:1.0").code(1);
    let err = &out.stderr;
    let listed = |url: &str, answer: &str| {
        // The attempts are the indented lines under the error.
        err.lines()
            .any(|line| line.starts_with("  ") && line.contains(url) && line.contains(answer))
    };
    assert!(listed(&missing.url(), "not found (404)"), "{out}");
    assert!(listed(&refused, "connection refused"), "{out}");
    assert!(listed(&hanging.url(), "timed out"), "{out}");
    assert!(listed(&corrupt.url(), "checksum mismatch"), "{out}");
    out.stderr_lacks("TopSecret99").stderr_lacks("user:");
    assert!(files_named(env.local_repo(), ".jube-partial").is_empty());
    assert!(!cached_zip(&env, "acme/app", "1.0").exists());
}

#[test]
fn an_unreachable_repository_costs_one_warning_and_built_in_images_still_work() {
    let mut env = TestEnv::new();
    env.set_env("JUBE_REMOTE_MAVEN_REPOS", "http://127.0.0.1:1");
    for image in ["fabric8/java", "fabric8/ticker"] {
        let out = pull(&env, image).success();
        pulled_path(&out);
        let warnings: Vec<&str> = out.stderr.lines().filter(|l| l.contains("127.0.0.1:1")).collect();
        assert_eq!(warnings.len(), 1, "one warning naming it\n{out}");
        assert!(
            warnings[0].starts_with("warning: ") && warnings[0].contains("unreachable"),
            "{out}"
        );
    }
    // The failure was not cached: the next run asks once more, and warns once more.
    let out = pull(&env, "fabric8/ticker").success();
    assert_eq!(out.stderr.matches("127.0.0.1:1").count(), 1, "{out}");
}

#[test]
fn a_tls_failure_is_reported_as_tls_not_as_could_not_connect() {
    let server = RepoServer::start();
    server.publish_image("acme/app", "1.0", &app_zip("1.0"));
    let mut env = TestEnv::new();
    // A plain-HTTP server asked for TLS.
    env.set_env(
        "JUBE_REMOTE_MAVEN_REPOS",
        format!("https://127.0.0.1:{}/@id=not-tls", server.port()),
    );
    let out = pull(&env, "acme/app:1.0").code(1);
    let line = out
        .stderr
        .lines()
        .find(|l| l.starts_with("  https://127.0.0.1:"))
        .unwrap_or_else(|| panic!("the repository is listed\n{out}"));
    assert!(line.contains("TLS error"), "{line}");
    assert!(
        server.requests().is_empty(),
        "no HTTP request was ever understood"
    );
}

#[test]
fn truncated_metadata_is_retried() {
    let server = RepoServer::start();
    server.publish_image("acme/app", "1.0", &app_zip("1.0"));
    server.set_fault(
        Some("maven-metadata.xml"),
        Fault::Times(1, Box::new(Fault::Truncate { after: 20 })),
    );
    let env = env_for(&server);
    pull(&env, "acme/app").success().stdout_contains(":app:1.0:");
    assert_eq!(server.count("GET", "maven-metadata.xml"), 2);
}
