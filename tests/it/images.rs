//! `jube images` and `jube rmi`: every image jube pulled is listed (image names and explicit
//! coordinates), as a table or a stable JSON array; rmi removes files and folders, refuses an
//! image a container uses unless forced, and fails for what is not cached.

use serde_json::Value;

use crate::common::fixtures;
use crate::common::{Out, RepoServer, TestEnv};
use crate::pull::{app_zip, cached_zip, env_for, pull};

fn images_json(env: &TestEnv) -> Vec<Value> {
    let out = env.jube().args(["images", "--format", "json"]).success();
    match serde_json::from_str(&out.stdout) {
        Ok(Value::Array(items)) => items,
        other => panic!("expected a JSON array, got {other:?}\n{out}"),
    }
}

fn listed(env: &TestEnv) -> Vec<String> {
    images_json(env)
        .iter()
        .map(|i| {
            format!(
                "{}:{}",
                i["image"].as_str().unwrap(),
                i["version"].as_str().unwrap()
            )
        })
        .collect()
}

fn rmi(env: &TestEnv, names: &[&str]) -> crate::common::Cmd {
    env.jube().arg("rmi").args(names)
}

/// A server with `acme/app` 1.0 and 2.0, a `1.1-SNAPSHOT` of `acme/tool`, and explicit artifacts
/// `com.example:lib:3.1:zip:image` and `com.example:dist:1.0:tar.gz`.
fn server_with_images() -> RepoServer {
    let server = RepoServer::start();
    server.publish_image("acme/app", "1.0", &app_zip("1.0"));
    server.publish_image("acme/app", "2.0", &app_zip("2.0"));
    server.publish_image("acme/tool", "1.1-SNAPSHOT", &app_zip("tool"));
    fixtures::publish(server.root(), ("com.example", "lib", "3.1"), &app_zip("lib"));
    // A plain tar.gz, no classifier: published by hand.
    let dist = b"not really a tarball".to_vec();
    let rel = "com/example/dist/1.0/dist-1.0.tar.gz";
    server.put_file(rel, &dist);
    server.put_file(&format!("{rel}.sha1"), fixtures::sha1_hex(&dist).as_bytes());
    server
}

fn pull_all(env: &TestEnv) {
    for name in [
        "acme/app:1.0",
        "acme/app:2.0",
        "acme/tool:1.1-SNAPSHOT",
        "mvn:com.example/lib/3.1",
        "mvn:com.example/dist/1.0/tar.gz",
    ] {
        pull(env, name).success();
    }
}

#[test]
fn images_lists_every_pulled_image_as_a_table_and_as_json() {
    let server = server_with_images();
    let env = env_for(&server);
    assert!(
        images_json(&env).is_empty(),
        "an empty local repository lists nothing"
    );
    let out = env.jube().arg("images").success();
    assert_eq!(out.stdout.trim(), "IMAGE   VERSION   COORDINATES   SIZE   PULLED");

    pull_all(&env);
    // Maven's own files in the same local repository are no images.
    let jar = env.local_repo().join("junit/junit/4.13/junit-4.13.jar");
    std::fs::create_dir_all(jar.parent().unwrap()).unwrap();
    std::fs::write(&jar, b"jar").unwrap();

    let names = listed(&env);
    assert_eq!(names.len(), 5, "{names:?}");
    for expected in [
        "acme/app:1.0",
        "acme/app:2.0",
        "mvn:com.example/lib:3.1",
        "mvn:com.example/dist:1.0",
    ] {
        assert!(names.contains(&expected.to_owned()), "{expected} in {names:?}");
    }
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("acme/tool:1.1-") && n.ends_with("-1")),
        "the snapshot build: {names:?}"
    );
    let items = images_json(&env);
    let lib = items
        .iter()
        .find(|i| i["image"] == "mvn:com.example/lib")
        .expect("lib listed");
    assert_eq!(lib["coordinates"], "com.example:lib:3.1:zip:image");
    assert_eq!(lib["size"].as_u64(), Some(app_zip("lib").len() as u64));
    assert_eq!(lib["builtin"], false);
    assert!(
        lib["pulled_at"].as_str().is_some_and(|t| t.contains('T')),
        "{lib}"
    );
    assert!(std::path::Path::new(lib["path"].as_str().unwrap()).is_file());
    let dist = items
        .iter()
        .find(|i| i["image"] == "mvn:com.example/dist")
        .unwrap();
    assert_eq!(dist["coordinates"], "com.example:dist:1.0:tar.gz");

    let table = env.jube().arg("images").success();
    let row = table
        .stdout
        .lines()
        .find(|l| l.starts_with("acme/app ") && l.contains(" 1.0 "))
        .unwrap_or_else(|| panic!("a row for acme/app 1.0\n{table}"));
    assert!(
        row.contains("io.fabric8.jube.images.acme:app:1.0:zip:image") && row.contains("ago"),
        "{row}"
    );

    // --all adds the built-in images, marked as such.
    let out = env.jube().args(["images", "--all"]).success();
    out.stdout_contains("fabric8/java").stdout_contains("built in");
}

#[test]
fn an_image_pulled_by_a_container_command_is_listed_too() {
    let server = RepoServer::start();
    fixtures::publish(
        server.root(),
        ("com.example", "svc", "1.0"),
        &fixtures::image_zip(&fixtures::simple_image()),
    );
    let env = env_for(&server);
    env.jube().args(["create", "mvn:com.example/svc/1.0"]).success();
    assert_eq!(listed(&env), ["mvn:com.example/svc:1.0"]);
}

#[test]
fn rmi_removes_versions_files_and_folders() {
    let server = server_with_images();
    let env = env_for(&server);
    pull_all(&env);

    let out = rmi(&env, &["acme/app:1.0"]).success();
    assert_eq!(out.stdout.trim(), "Deleted: acme/app:1.0");
    assert!(
        !cached_zip(&env, "acme/app", "1.0").parent().unwrap().exists(),
        "the version folder is gone"
    );
    assert!(
        cached_zip(&env, "acme/app", "2.0").is_file(),
        "other versions stay"
    );

    rmi(&env, &["acme/tool"])
        .success()
        .stdout_contains("Deleted: acme/tool:1.1-");
    rmi(
        &env,
        &["mvn:com.example/lib/3.1", "mvn:com.example/dist/1.0/tar.gz"],
    )
    .success();
    assert_eq!(listed(&env), ["acme/app:2.0"]);
    let record = std::fs::read_to_string(env.home().join("images.json")).unwrap_or_default();
    assert!(
        !record.contains("\"lib\""),
        "a removed artifact is forgotten: {record}"
    );

    // Without a version, every cached version goes.
    pull(&env, "acme/app:1.0").success();
    let out = rmi(&env, &["acme/app"]).success();
    assert_eq!(out.stdout.lines().count(), 2, "{out}");
    assert!(listed(&env).is_empty());
    // A later pull works as on a fresh machine.
    pull(&env, "acme/app:2.0").success();
}

#[test]
fn rmi_of_an_image_that_is_not_cached_fails() {
    let server = server_with_images();
    let env = env_for(&server);
    pull(&env, "acme/app:1.0").success();

    let out = rmi(&env, &["acme/app:2.0"]).code(1);
    out.stderr_contains("acme/app:2.0 is not in the local repository")
        .stderr_contains("jube images");
    assert_eq!(out.stderr.lines().count(), 1, "one error, said once\n{out}");
    // Each name is tried; the cached one is removed, the command still fails.
    let out = rmi(&env, &["acme/nothing", "acme/app:1.0"]).code(1);
    out.stdout_contains("Deleted: acme/app:1.0")
        .stderr_contains("acme/nothing")
        .stderr_contains("1 of 2 images could not be removed");
    rmi(&env, &["acme/ap p"])
        .code(2)
        .stderr_contains("invalid image name");
    assert!(
        server.requests().iter().all(|(_, p, _)| !p.contains("nothing")),
        "rmi never asks a repository"
    );
}

/// Creates a container from `acme/svc:1.0` and returns its ID.
fn container_from(env: &TestEnv) -> String {
    let out: Out = env
        .jube()
        .args(["create", "--name", "user-of-svc", "acme/svc:1.0"])
        .success();
    out.last_line().to_owned()
}

#[test]
fn rmi_refuses_an_image_a_container_uses_unless_forced() {
    let server = RepoServer::start();
    server.publish_image("acme/svc", "1.0", &fixtures::image_zip(&fixtures::simple_image()));
    let env = env_for(&server);
    let id = container_from(&env);
    let zip = cached_zip(&env, "acme/svc", "1.0");

    let out = rmi(&env, &["acme/svc:1.0"]).code(1);
    out.stderr_contains("used by container user-of-svc")
        .stderr_contains("-f");
    assert!(zip.is_file(), "nothing removed");

    let out = rmi(&env, &["-f", "acme/svc"]).success();
    out.stdout_contains("Deleted: acme/svc:1.0");
    assert!(!zip.exists());
    // The container keeps its unpacked copy and can still be removed.
    env.jube().args(["rm", &id]).success();
}
