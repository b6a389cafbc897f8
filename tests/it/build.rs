//! `jube build DIR -t IMAGE:VERSION`: folder checks, the deterministic zip, the local-repository
//! install that jube and Maven itself find.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::build_helpers::{
    app_base, files_under, maven_get, maven_settings, md5_hex, repo_file, sha1_hex, write_folder, zip_names,
    zip_text,
};
use crate::common::fixtures::simple_image;
use crate::common::{TestEnv, ZipEntry, wait_until};

/// An image folder from the harness's simple image, greeting as given.
fn image_folder(env: &TestEnv, name: &str, greeting: &str) -> PathBuf {
    let dir = env.root().join(name);
    write_folder(&dir, &simple_image());
    std::fs::write(dir.join("env.sh"), format!("export GREETING={greeting}\n")).unwrap();
    dir
}

fn build(env: &TestEnv, dir: &Path, tag: &str) -> crate::common::Out {
    env.jube().arg("build").arg(dir).args(["-t", tag]).output()
}

/// The image files in the local repository: zips and poms, nothing of jube's locks.
fn image_files(env: &TestEnv) -> Vec<String> {
    files_under(env.local_repo())
        .into_iter()
        .filter(|f| !f.starts_with(".locks"))
        .collect()
}

#[test]
fn build_installs_the_zip_with_pom_checksums_metadata_and_local_origin() {
    let env = TestEnv::new();
    let dir = image_folder(&env, "app", "hello");
    let out = build(&env, &dir, "team/app:1.0").assert_success();
    let zip = repo_file(env.local_repo(), "team/app", "1.0", "app-1.0-image.zip");
    assert_eq!(
        out.stdout,
        format!(
            "io.fabric8.jube.images.team:app:1.0:zip:image\n{}\n",
            zip.display()
        )
    );
    let bytes = std::fs::read(&zip).unwrap();
    let read =
        |name: &str| std::fs::read_to_string(repo_file(env.local_repo(), "team/app", "1.0", name)).unwrap();
    assert_eq!(read("app-1.0-image.zip.sha1"), sha1_hex(&bytes));
    assert_eq!(read("app-1.0-image.zip.md5"), md5_hex(&bytes));
    let pom = read("app-1.0.pom");
    for needle in [
        "<groupId>io.fabric8.jube.images.team</groupId>",
        "<artifactId>app</artifactId>",
        "<version>1.0</version>",
        "<packaging>zip</packaging>",
    ] {
        assert!(pom.contains(needle), "{needle} in\n{pom}");
    }
    assert_eq!(read("app-1.0.pom.sha1"), sha1_hex(pom.as_bytes()));
    let origins = read("_remote.repositories");
    assert!(origins.lines().any(|l| l == "app-1.0-image.zip>="), "{origins}");
    assert!(origins.lines().any(|l| l == "app-1.0.pom>="), "{origins}");

    // Entries sorted, scripts executable, the folder's files as they are.
    let names = zip_names(&zip);
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert_eq!(zip_text(&zip, "env.sh"), "export GREETING=hello\n");
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
    assert_eq!(
        archive
            .by_name("start.sh")
            .unwrap()
            .unix_mode()
            .map(|m| m & 0o777),
        Some(0o755)
    );
    assert_eq!(
        archive
            .by_name("ports.properties")
            .unwrap()
            .unix_mode()
            .map(|m| m & 0o777),
        Some(0o644)
    );

    // A second version: the metadata lists both, newest last.
    build(&env, &dir, "team/app:1.1").assert_success();
    let metadata = std::fs::read_to_string(
        env.local_repo()
            .join("io/fabric8/jube/images/team/app/maven-metadata-local.xml"),
    )
    .unwrap();
    let versions: Vec<&str> = metadata
        .lines()
        .filter_map(|l| l.trim().strip_prefix("<version>")?.strip_suffix("</version>"))
        .collect();
    assert_eq!(versions, ["1.0", "1.1"], "{metadata}");
    assert!(metadata.contains("<release>1.1</release>"), "{metadata}");
}

#[test]
fn building_twice_gives_identical_bytes() {
    let env = TestEnv::new();
    let dir = image_folder(&env, "app", "hello");
    std::fs::create_dir_all(dir.join("lib/deep")).unwrap();
    std::fs::write(dir.join("lib/deep/data.bin"), vec![42u8; 100_000]).unwrap();
    std::os::unix::fs::symlink("deep/data.bin", dir.join("lib/data.bin")).unwrap();
    let first = PathBuf::from(build(&env, &dir, "team/app:1.0").assert_success().last_line());
    let first_bytes = std::fs::read(&first).unwrap();
    // New times and a different umask-made mode change nothing.
    let old = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(86_400 * 365);
    for f in ["env.sh", "lib/deep/data.bin"] {
        std::fs::File::options()
            .write(true)
            .open(dir.join(f))
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    crate::build_helpers::set_mode(&dir.join("ports.properties"), 0o600);
    let second = PathBuf::from(build(&env, &dir, "team/app:1.0").assert_success().last_line());
    assert_eq!(first, second);
    assert!(
        std::fs::read(&second).unwrap() == first_bytes,
        "rebuilding changed the bytes"
    );
    // The same folder as another image gives the same bytes too.
    let other = PathBuf::from(build(&env, &dir, "team/copy:9").assert_success().last_line());
    assert!(std::fs::read(other).unwrap() == first_bytes);
}

#[test]
fn a_built_image_starts_by_name_and_the_newest_version_wins() {
    let env = TestEnv::new();
    build(&env, &image_folder(&env, "v1", "hello"), "team/app:1.0").assert_success();
    build(&env, &image_folder(&env, "v2", "bonjour"), "team/app:1.1").assert_success();
    let id = env
        .jube()
        .args(["start", "team/app"])
        .success()
        .last_line()
        .to_owned();
    let log = app_base(&env, &id).join("app.log");
    wait_until("the app's greeting", Duration::from_secs(30), || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("GREETING=bonjour"))
    });
    env.jube().args(["rm", "-f", &id]).success();
    let id = env
        .jube()
        .args(["start", "team/app:1.0"])
        .success()
        .last_line()
        .to_owned();
    let log = app_base(&env, &id).join("app.log");
    wait_until("the app's greeting", Duration::from_secs(30), || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("GREETING=hello"))
    });
    env.jube().args(["rm", "-f", &id]).success();
}

#[test]
fn maven_finds_built_releases_and_snapshots_in_the_local_repository() {
    let env = TestEnv::new();
    let dir = image_folder(&env, "app", "hello");
    let release = PathBuf::from(build(&env, &dir, "team/app:1.0").assert_success().last_line());
    let snapshot = PathBuf::from(
        build(&env, &dir, "team/app:2.0-SNAPSHOT")
            .assert_success()
            .last_line(),
    );
    assert!(
        snapshot.ends_with("2.0-SNAPSHOT/app-2.0-SNAPSHOT-image.zip"),
        "{}",
        snapshot.display()
    );
    let before = (
        std::fs::read(&release).unwrap(),
        std::fs::read(&snapshot).unwrap(),
    );
    // No repository has these files: Maven must accept the ones jube installed.
    let settings = maven_settings(&env, env.local_repo(), None);
    for version in ["1.0", "2.0-SNAPSHOT"] {
        let out = maven_get(&env, &settings, "team/app", version);
        assert_eq!(
            out.code,
            Some(0),
            "Maven refused the {version} jube installed\n{out}"
        );
        out.stdout_lacks("is missing");
    }
    assert!(std::fs::read(&release).unwrap() == before.0);
    assert!(std::fs::read(&snapshot).unwrap() == before.1);
    // And jube resolves the snapshot from its local metadata.
    env.jube()
        .args(["pull", "--offline", "team/app:2.0-SNAPSHOT"])
        .success()
        .stdout_contains(&snapshot.display().to_string());
}

#[test]
fn a_folder_that_is_no_image_is_refused_and_nothing_is_installed() {
    let env = TestEnv::new();
    let file = env.root().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let empty = env.root().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let no_start = env.root().join("no-start");
    write_folder(
        &no_start,
        &[
            ZipEntry::script("stop.sh", "exit 0\n"),
            ZipEntry::file("README", "hi"),
        ],
    );
    let bad_port = image_folder(&env, "bad-port", "x");
    std::fs::write(bad_port.join("ports.properties"), "HTTP=8080\nADMIN=eighty\n").unwrap();
    let escaping = image_folder(&env, "escaping", "x");
    std::os::unix::fs::symlink("../../etc/passwd", escaping.join("passwd")).unwrap();
    let absolute = image_folder(&env, "absolute", "x");
    std::os::unix::fs::symlink("/etc/passwd", absolute.join("lib")).unwrap();
    let cases: [(&Path, &[&str]); 7] = [
        (&env.root().join("missing"), &["missing does not exist"]),
        (&file, &["is not a folder"]),
        (&empty, &["neither start.sh nor run.sh", "holds: nothing"]),
        (&no_start, &["neither start.sh nor run.sh", "README, stop.sh"]),
        (&bad_port, &["ports.properties", "ADMIN", "eighty"]),
        (&escaping, &["passwd", "points outside the image"]),
        (&absolute, &["/etc/passwd", "absolute"]),
    ];
    for (dir, needles) in cases {
        let out = build(&env, dir, "team/app:1.0");
        assert_eq!(out.code, Some(1), "{out}");
        for needle in needles {
            out.stderr_contains(needle);
        }
    }
    assert_eq!(image_files(&env), Vec::<String>::new());
}

/// Regression: a named pipe in the folder made `jube build` wait forever for a writer.
#[test]
fn a_named_pipe_in_the_folder_is_refused_instead_of_blocking() {
    let env = TestEnv::new();
    let dir = image_folder(&env, "app", "x");
    let status = std::process::Command::new("mkfifo")
        .arg(dir.join("control.pipe"))
        .status()
        .unwrap();
    assert!(status.success());
    let out = env
        .jube()
        .arg("build")
        .arg(&dir)
        .args(["-t", "team/app:1.0"])
        .timeout(Duration::from_secs(30))
        .output();
    assert_eq!(out.code, Some(1), "{out}");
    out.stderr_contains("control.pipe").stderr_contains("named pipe");
    assert_eq!(image_files(&env), Vec::<String>::new());
}

#[test]
fn tags_without_a_version_are_usage_errors() {
    let env = TestEnv::new();
    let dir = image_folder(&env, "app", "x");
    for (tag, needle) in [
        ("team/app", "names no version"),
        ("team/app:latest", "names no version"),
        ("team/app:LATEST", "names no version"),
        ("team/a$pp:1.0", "contains `$`"),
        ("mvn:com.example/app/1.0/jar", "jube images are zips"),
    ] {
        let out = build(&env, &dir, tag);
        assert_eq!(out.code, Some(2), "{out}");
        out.stderr_contains(needle);
    }
    env.jube().arg("build").arg(&dir).code(2).stderr_contains("--tag");
    assert_eq!(image_files(&env), Vec::<String>::new());
}

#[test]
fn missing_optional_scripts_are_warnings_and_pid_files_are_left_out() {
    let env = TestEnv::new();
    let dir = env.root().join("app");
    write_folder(
        &dir,
        &[
            ZipEntry::script("run.sh", "#!/bin/sh\necho run-only app\nexec sleep 100000\n"),
            ZipEntry::script("start.bat", "@echo off\n"),
            ZipEntry::file("process.pid", "12345\n"),
            ZipEntry::file("var/run/app.pid", "12345\n"),
            ZipEntry::file("var/run/keep.txt", "kept\n"),
        ],
    );
    let out = build(&env, &dir, "team/runonly:1.0").assert_success();
    out.stderr_contains("warning: no stop.sh")
        .stderr_contains("warning: no status.sh")
        .stderr_contains("warning: no run.bat")
        .stderr_contains("process.pid, var/run/app.pid");
    let names = zip_names(Path::new(out.last_line()));
    assert!(!names.contains(&"process.pid".to_owned()), "{names:?}");
    assert!(!names.contains(&"var/run/app.pid".to_owned()), "{names:?}");
    assert!(names.contains(&"var/run/keep.txt".to_owned()), "{names:?}");
    // A run.sh-only image starts, and is not taken for running because of a stale pid file.
    let id = env
        .jube()
        .args(["start", "team/runonly:1.0"])
        .success()
        .last_line()
        .to_owned();
    wait_until("the app's output", Duration::from_secs(30), || {
        env.logs(&id).contains("run-only app")
    });
    env.jube().args(["rm", "-f", &id]).success();
}

#[test]
fn rebuilding_a_version_replaces_it_and_lists_it_once() {
    let env = TestEnv::new();
    build(&env, &image_folder(&env, "v1", "hello"), "team/app:1.0").assert_success();
    let out = build(&env, &image_folder(&env, "v2", "bonjour"), "team/app:1.0").assert_success();
    let zip = PathBuf::from(out.last_line());
    assert_eq!(zip_text(&zip, "env.sh"), "export GREETING=bonjour\n");
    let sha1 = std::fs::read_to_string(repo_file(
        env.local_repo(),
        "team/app",
        "1.0",
        "app-1.0-image.zip.sha1",
    ))
    .unwrap();
    assert_eq!(sha1, sha1_hex(&std::fs::read(&zip).unwrap()));
    let metadata = std::fs::read_to_string(
        env.local_repo()
            .join("io/fabric8/jube/images/team/app/maven-metadata-local.xml"),
    )
    .unwrap();
    assert_eq!(
        metadata.matches("<version>1.0</version>").count(),
        1,
        "{metadata}"
    );
    // No temp files are left in the version folder.
    let leftovers: Vec<String> = image_files(&env)
        .into_iter()
        .filter(|f| f.rsplit('/').next().is_some_and(|n| n.starts_with('.')))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Regression: builds of two versions at once each rewrote maven-metadata-local.xml from what they
/// had read, and one version could vanish from it.
#[test]
fn concurrent_builds_of_different_versions_keep_every_version_in_the_metadata() {
    let env = TestEnv::new();
    let dir = image_folder(&env, "app", "x");
    let versions: Vec<String> = (1..=8).map(|i| format!("1.{i}")).collect();
    let children: Vec<_> = versions
        .iter()
        .map(|v| {
            env.jube()
                .arg("build")
                .arg(&dir)
                .args(["-t", &format!("team/app:{v}")])
                .spawn()
        })
        .collect();
    for child in children {
        child.wait().assert_success();
    }
    let metadata = std::fs::read_to_string(
        env.local_repo()
            .join("io/fabric8/jube/images/team/app/maven-metadata-local.xml"),
    )
    .unwrap();
    for v in &versions {
        assert!(
            metadata.contains(&format!("<version>{v}</version>")),
            "{v} lost:\n{metadata}"
        );
    }
}

#[test]
fn an_image_built_under_explicit_coordinates_is_listed_and_starts() {
    let env = TestEnv::new();
    let dir = image_folder(&env, "app", "coordinates");
    let out = build(&env, &dir, "mvn:com.example.apps/greeter/3.1").assert_success();
    assert_eq!(
        out.stdout.lines().next(),
        Some("com.example.apps:greeter:3.1:zip:image")
    );
    assert!(
        out.last_line()
            .ends_with("com/example/apps/greeter/3.1/greeter-3.1-image.zip"),
        "{out}"
    );
    env.jube()
        .args(["images"])
        .success()
        .stdout_contains("com.example.apps:greeter:3.1");
    let id = env
        .jube()
        .args(["start", "mvn:com.example.apps/greeter"])
        .success()
        .last_line()
        .to_owned();
    let log = app_base(&env, &id).join("app.log");
    wait_until("the greeting", Duration::from_secs(30), || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("GREETING=coordinates"))
    });
    env.jube().args(["rm", "-f", &id]).success();
}
