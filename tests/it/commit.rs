//! `jube commit CONTAINER IMAGE:VERSION`: a container's current folder as a new image, without
//! what belongs to its run (pid files, jube's env lines, the run's logs).

use std::path::Path;
use std::time::Duration;

use crate::build_helpers::{app_base, files_under, stock_image_dir, zip_names, zip_text};
use crate::common::{TestEnv, wait_until};

fn logs_contain(env: &TestEnv, id: &str, needle: &str) -> bool {
    env.jube().args(["logs", id]).success().stdout.contains(needle)
}

#[test]
fn commit_packs_the_changed_folder_and_the_new_image_starts_with_the_change() {
    let env = TestEnv::new();
    let id = env
        .jube()
        .args(["start", "--name", "worker", "fabric8/ticker"])
        .success()
        .last_line()
        .to_owned();
    wait_until("a tick", Duration::from_secs(30), || {
        logs_contain(&env, &id, "tick 1")
    });
    let base = app_base(&env, &id);
    assert!(base.join("logs/ticker.log").is_file());
    // The change: the image's own default message, and a new file.
    let env_sh = std::fs::read_to_string(base.join("env.sh")).unwrap();
    assert!(env_sh.contains("# jube: begin"), "{env_sh}");
    std::fs::write(
        base.join("env.sh"),
        env_sh.replace("${TICK_MESSAGE:-tick}", "${TICK_MESSAGE:-tock}"),
    )
    .unwrap();
    std::fs::create_dir_all(base.join("data")).unwrap();
    std::fs::write(base.join("data/notes.txt"), "kept\n").unwrap();
    std::fs::create_dir_all(base.join("var/run")).unwrap();
    std::fs::write(base.join("var/run/helper.pid"), "1\n").unwrap();
    std::fs::write(base.join("var/process.pid"), "1\n").unwrap();

    let out = env
        .jube()
        .args(["commit", "worker", "team/ticker2:1.0"])
        .success();
    let zip = Path::new(out.last_line());
    assert_eq!(
        out.stdout.lines().next(),
        Some("io.fabric8.jube.images.team:ticker2:1.0:zip:image")
    );
    out.stderr_contains("logs/ticker.log")
        .stderr_contains("process.pid");
    let names = zip_names(zip);
    for gone in [
        "process.pid",
        "var/process.pid",
        "var/run/helper.pid",
        "logs/ticker.log",
    ] {
        assert!(!names.contains(&gone.to_owned()), "{gone} in {names:?}");
    }
    for kept in [
        "logs/",
        "data/notes.txt",
        "var/run/",
        "start.sh",
        "start.bat",
        "image.properties",
    ] {
        assert!(names.contains(&kept.to_owned()), "{kept} not in {names:?}");
    }
    // env.sh and env.bat are the image's own, with the change, without jube's lines.
    let original = std::fs::read_to_string(stock_image_dir("fabric8/ticker").join("env.sh")).unwrap();
    assert_eq!(
        zip_text(zip, "env.sh"),
        original.replace("${TICK_MESSAGE:-tick}", "${TICK_MESSAGE:-tock}")
    );
    let original_bat = std::fs::read_to_string(stock_image_dir("fabric8/ticker").join("env.bat")).unwrap();
    assert_eq!(
        zip_text(zip, "env.bat").replace("\r\n", "\n"),
        original_bat.replace("\r\n", "\n")
    );
    let version_dir = zip.parent().unwrap();
    let origins = std::fs::read_to_string(version_dir.join("_remote.repositories")).unwrap();
    assert!(origins.contains("ticker2-1.0-image.zip>="), "{origins}");
    assert!(version_dir.join("ticker2-1.0.pom").is_file());

    // The new image runs with the change; the committed container runs on, unchanged.
    let new_id = env
        .jube()
        .args(["start", "team/ticker2:1.0"])
        .success()
        .last_line()
        .to_owned();
    wait_until("a tock", Duration::from_secs(30), || {
        logs_contain(&env, &new_id, "tock 1")
    });
    let new_base = app_base(&env, &new_id);
    assert_eq!(
        std::fs::read_to_string(new_base.join("data/notes.txt")).unwrap(),
        "kept\n"
    );
    env.jube().args(["status", &id]).success();
    // A stopped container commits too.
    env.jube().args(["stop", &id]).success();
    env.jube().args(["commit", &id, "team/ticker2:1.1"]).success();
    for c in [&id, &new_id] {
        env.jube().args(["rm", "-f", c]).success();
    }
}

#[test]
fn pipes_and_links_out_of_the_folder_are_left_out_of_the_commit() {
    let env = TestEnv::new();
    let id = env.create_container("fabric8/ticker");
    let base = app_base(&env, &id);
    let status = std::process::Command::new("mkfifo")
        .arg(base.join("control.pipe"))
        .status()
        .unwrap();
    assert!(status.success());
    std::os::unix::fs::symlink("/tmp", base.join("scratch")).unwrap();
    std::os::unix::fs::symlink("start.sh", base.join("begin.sh")).unwrap();
    let out = env
        .jube()
        .args(["commit", &id, "team/piped:1.0"])
        .timeout(Duration::from_secs(30))
        .success();
    out.stderr_contains("control.pipe").stderr_contains("scratch");
    let names = zip_names(Path::new(out.last_line()));
    assert!(!names.contains(&"control.pipe".to_owned()), "{names:?}");
    assert!(!names.contains(&"scratch".to_owned()), "{names:?}");
    assert!(
        names.contains(&"begin.sh".to_owned()),
        "a link inside stays: {names:?}"
    );
    // The committed image installs (jube refuses links out of an image when it unpacks).
    env.jube().args(["create", "team/piped:1.0"]).success();
}

#[test]
fn commit_errors_say_what_is_wrong() {
    let env = TestEnv::new();
    env.jube()
        .args(["commit", "nosuch", "team/x:1.0"])
        .code(1)
        .stderr_contains("no such container: nosuch");
    let id = env.create_container("fabric8/ticker");
    env.jube()
        .args(["commit", &id, "team/x"])
        .code(2)
        .stderr_contains("names no version");
    let base = app_base(&env, &id);
    for script in ["start.sh", "run.sh"] {
        std::fs::remove_file(base.join(script)).unwrap();
    }
    env.jube()
        .args(["commit", &id, "team/x:1.0"])
        .code(1)
        .stderr_contains("neither start.sh nor run.sh")
        .stderr_contains(&base.display().to_string());
    let installed: Vec<String> = files_under(env.local_repo())
        .into_iter()
        .filter(|f| f.contains("/team/"))
        .collect();
    assert!(installed.is_empty(), "{installed:?}");
}
