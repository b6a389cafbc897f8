//! The container commands' contracts, as scripts rely on them: IDs on stdout, `ps` columns and
//! JSON, `port` lines, lookup by ID, prefix or name, exit codes, `run` in the foreground, and
//! quiet ends on a closed pipe.

use std::process::{Command, Stdio};

use nix::sys::signal::Signal;

use crate::common::fixtures::{self, ZipEntry};
use crate::common::wait_until;
use crate::containers_support::*;

#[test]
fn create_prints_the_id_last_and_ps_shows_docker_columns() {
    let images = Images::new();
    let image = images.publish("cmd/app", &fixtures::simple_image());
    let out = images
        .env
        .jube()
        .args(["create", "--name", "web", &image])
        .success();
    let id = full_id(&out);
    assert_eq!(out.stdout.lines().count(), 1, "only the ID on stdout\n{out}");
    let port = host_ports(&images.env, &id)[0];

    let out = images.env.jube().args(["ps"]).success();
    assert_eq!(
        out.stdout.lines().count(),
        1,
        "a created container is not running\n{out}"
    );
    let out = images.env.jube().args(["ps", "-a"]).success();
    let lines: Vec<&str> = out.stdout.lines().collect();
    let header: Vec<&str> = lines[0]
        .split("   ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(header, ["CONTAINER ID", "IMAGE", "STATUS", "PORTS", "NAMES"]);
    let row: Vec<&str> = lines[1]
        .split("   ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        row,
        [
            &id[..12],
            image.as_str(),
            "Created",
            &format!("HTTP:{port}"),
            "web"
        ]
    );

    images
        .env
        .jube()
        .args(["start", "web"])
        .success()
        .stdout_contains("web");
    let out = images.env.jube().args(["ps"]).success();
    let row = out.stdout.lines().nth(1).unwrap().to_owned();
    assert!(row.contains("   Up "), "{row}");
    assert!(row.contains("second"), "{row}");
    assert_eq!(
        images.env.jube().args(["ps", "-q"]).success().stdout,
        format!("{}\n", &id[..12])
    );

    let out = images.env.jube().args(["ps", "--format", "json"]).success();
    let rows: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["id"], id.as_str());
    assert_eq!(rows[0]["name"], "web");
    assert_eq!(rows[0]["state"], "running");
    assert_eq!(rows[0]["pid"].as_u64(), Some(u64::from(images.pid(&id))));
    assert_eq!(rows[0]["ports"][0]["host_port"].as_u64(), Some(u64::from(port)));

    images.env.jube().args(["stop", "web"]).success();
    let out = images.env.jube().args(["ps", "--format", "json"]).success();
    assert_eq!(out.stdout.trim(), "[]");
    let out = images.env.jube().args(["ps", "-a"]).success();
    assert!(out.stdout.lines().nth(1).unwrap().contains("Exited"), "{out}");
    images.env.jube().args(["kill", "web"]).success();
    images.env.jube().args(["start", "web"]).success();
    images.env.jube().args(["kill", "web"]).success();
    let out = images.env.jube().args(["ps", "-a"]).success();
    assert!(out.stdout.contains("Exited (137) "), "{out}");
    assert!(out.stdout.contains(" ago"), "{out}");
}

#[test]
fn start_image_pulls_creates_and_starts_and_run_d_is_start() {
    let images = Images::new();
    let image = images.publish("cmd/app", &fixtures::simple_image());
    let out = images.env.jube().args(["start", &image]).success();
    let id = full_id(&out);
    assert_eq!(images.state(&id)["status"], "running");
    let out = images
        .env
        .jube()
        .args(["run", "-d", "--name", "second", &image])
        .success();
    let second = full_id(&out);
    assert_eq!(images.state(&second)["name"], "second");
    images.env.jube().args(["status", "second"]).code(0);
    let out = images.env.jube().args(["run", "-d", "--rm", &image]).code(1);
    out.stderr_contains("--rm cannot be combined with -d");
    images.env.jube().args(["rm", "-f", &id, "second"]).success();
    assert_no_containers(&images);
}

#[track_caller]
fn assert_no_containers(images: &Images) {
    assert!(entries(&images.env.home().join("containers")).is_empty());
    assert!(leases(&images.env).is_empty());
}

#[test]
fn containers_are_named_by_id_prefix_or_name_and_ambiguity_lists_the_matches() {
    let images = Images::new();
    let image = images.publish("cmd/app", &fixtures::simple_image());
    let mut ids: Vec<String> = Vec::new();
    // Sixteen hex digits: by the 17th container two share a first character.
    let (a, b) = loop {
        let id = images.create(&image, &[]);
        if let Some(other) = ids.iter().find(|o| o[..1] == id[..1]) {
            break (other.clone(), id);
        }
        ids.push(id);
    };
    let prefix = &a[..1];
    let out = images.env.jube().args(["inspect", prefix]).code(1);
    out.stderr_contains(&format!("`{prefix}` matches several containers"))
        .stderr_contains(&a[..12])
        .stderr_contains(&b[..12]);
    let common = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    let unique = &a[..common + 1];
    let out = images.env.jube().args(["inspect", unique]).success();
    let found: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(found[0]["id"], a.as_str());
    let name = found[0]["name"].as_str().unwrap();
    assert!(
        found[0]["app_base_path"]
            .as_str()
            .unwrap()
            .ends_with(&format!("{}/{name}", &a)),
        "{found:#}"
    );

    // A name wins over an ID prefix, as in docker.
    let named = images.create(&image, &["--name", &b[..6]]);
    let out = images.env.jube().args(["inspect", &b[..6]]).success();
    assert!(out.stdout.contains(&named), "{out}");
    let out = images.env.jube().args(["inspect", &b]).success();
    assert!(out.stdout.contains(&b), "{out}");
}

#[test]
fn an_unknown_container_is_an_error_for_every_verb() {
    let images = Images::new();
    for verb in [
        &["stop", "ghost"][..],
        &["kill", "ghost"],
        &["restart", "ghost"],
        &["status", "ghost"],
        &["rm", "ghost"],
        &["rm", "-f", "ghost"],
        &["logs", "ghost"],
        &["inspect", "ghost"],
        &["port", "ghost"],
    ] {
        let out = images.env.jube().args(verb).code(1);
        out.stderr_contains("no such container: ghost")
            .stderr_contains("jube ps -a");
    }
    // `start` takes an unknown name for an image, and says it cannot find that one either.
    images
        .env
        .jube()
        .args(["start", "ghost"])
        .code(1)
        .stderr_contains("no container is named `ghost`, and as an image: cannot get image ghost");
}

#[test]
fn names_are_checked_and_unique() {
    let images = Images::new();
    let image = images.publish("cmd/app", &fixtures::simple_image());
    let first = images.create(&image, &["--name", "db"]);
    let out = images.env.jube().args(["create", "--name", "db", &image]).code(1);
    out.stderr_contains("the container name `db` is already used by container")
        .stderr_contains(&first[..12]);
    for bad in ["-dash", "with space", "slash/name"] {
        images
            .env
            .jube()
            .args(["create", &format!("--name={bad}"), &image])
            .code(1)
            .stderr_contains("invalid container name");
    }
    assert_eq!(entries(&images.env.home().join("containers")), [first]);
    assert_eq!(leases(&images.env).len(), 1);
    assert!(entries(&images.env.home().join("tmp")).is_empty());
}

#[test]
fn run_exits_with_the_apps_code_and_rm_removes_the_container() {
    let images = Images::new();
    let run = "#!/bin/sh\n. ./env.sh\necho \"hello from the app on $HTTP_PORT\"\necho oops >&2\nexit 7\n";
    let image = images.publish(
        "cmd/exits",
        &with(run_only_image(), ZipEntry::script("run.sh", run)),
    );
    let out = images.env.jube().args(["run", &image]).code(7);
    out.stdout_contains("hello from the app on ")
        .stderr_contains("oops");
    let kept = entries(&images.env.home().join("containers"));
    assert_eq!(kept.len(), 1);
    let state = images.state(&kept[0]);
    assert_eq!(state["status"], "exited");
    assert_eq!(state["exit_code"], 7);
    images
        .env
        .jube()
        .args(["ps", "-a"])
        .success()
        .stdout_contains("Exited (7)");
    images.env.jube().args(["rm", &kept[0]]).success();

    images.env.jube().args(["run", "--rm", &image]).code(7);
    assert_no_containers(&images);

    let no_run = images.publish("cmd/norun", &without(fixtures::simple_image(), "run.sh"));
    let out = images.env.jube().args(["run", "--rm", &no_run]).code(1);
    out.stderr_contains("has no run.sh");
    assert_no_containers(&images);
}

#[test]
fn run_is_running_while_it_runs_and_ctrl_c_stops_the_app() {
    let images = Images::new();
    let run = "#!/bin/sh\ncd \"$(dirname \"$0\")\"\nsleep 100000 &\necho \"app up as $$\"\nwait\n";
    let image = images.publish("cmd/fg", &with(run_only_image(), ZipEntry::script("run.sh", run)));
    let mut child = images.env.jube().args(["run", "--rm", &image]).spawn();
    child.wait_for_stdout("app up as", PATIENCE);
    let id = images.only_container();
    images.wait_running(&id);
    let out = images.env.jube().args(["ps"]).success();
    assert!(
        out.stdout.contains(&id[..12]) && out.stdout.contains("Up "),
        "jube run's app is running\n{out}"
    );
    images.env.jube().args(["status", &id]).code(0);
    assert!(marked_processes(&id).len() >= 2);
    child.signal_group(Signal::SIGINT);
    let out = child.wait();
    assert_eq!(out.code, Some(130), "the app's code for SIGINT\n{out}");
    assert!(
        marked_processes(&id).is_empty(),
        "nothing of the app survives Ctrl-C"
    );
    assert_no_containers(&images);
}

#[test]
fn rm_f_kills_a_running_container_first() {
    let images = Images::new();
    let image = images.publish("cmd/stubborn", &stubborn_image());
    let id = images.start_image(&image, &[]);
    wait_for_file(&images.app_base(&id).join("child.pid"));
    images
        .env
        .jube()
        .args(["rm", &id])
        .code(1)
        .stderr_contains("is running");
    assert!(!marked_processes(&id).is_empty());
    images
        .env
        .jube()
        .args(["rm", "-f", &id])
        .success()
        .stdout_contains(&id);
    assert!(marked_processes(&id).is_empty());
    assert_no_containers(&images);
}

/// Runs jube with stdout a pipe whose reading end is already closed: every write fails with EPIPE.
fn with_closed_stdout(images: &Images, args: &[&str]) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jube"));
    images.env.apply_env(&mut cmd);
    let out = cmd
        .args(args)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn listings_end_quietly_on_a_closed_pipe() {
    let images = Images::new();
    let image = images.publish("cmd/app", &fixtures::simple_image());
    let id = images.create(&image, &[]);
    for args in [
        &["ps", "-a"][..],
        &["ps", "-a", "-q"],
        &["ps", "-a", "--format", "json"],
        &["inspect", &id],
        &["port", &id],
        &["logs", &id],
    ] {
        let (code, stderr) = with_closed_stdout(&images, args);
        assert_eq!((code, stderr.as_str()), (Some(0), ""), "jube {args:?}");
    }
    // And through a real `head`, as a user types it.
    let out = images
        .env
        .command("bash")
        .args([
            "-c",
            "set -o pipefail; \"$0\" ps -a | head -1",
            env!("CARGO_BIN_EXE_jube"),
        ])
        .success();
    assert!(out.stdout.starts_with("CONTAINER ID"), "{out}");
    assert_eq!(out.stderr, "");
}

#[test]
fn stop_and_status_need_no_daemon_and_print_what_they_were_given() {
    let images = Images::new();
    let image = images.publish("cmd/app", &fixtures::simple_image());
    let a = images.start_image(&image, &["--name", "alpha"]);
    let b = images.start_image(&image, &[]);
    let out = images.env.jube().args(["stop", "alpha", &b[..12]]).success();
    assert_eq!(out.stdout, format!("alpha\n{}\n", &b[..12]));
    let out = images.env.jube().args(["start", "alpha", &b]).success();
    assert_eq!(out.stdout, format!("alpha\n{b}\n"));
    // One failure does not stop the others, and makes the exit code 1.
    let out = images.env.jube().args(["kill", "ghost", "alpha"]).code(1);
    assert_eq!(out.stdout, "alpha\n");
    wait_until("alpha to be stopped", PATIENCE, || {
        images.state(&a)["status"] == "exited"
    });
    images.env.jube().args(["rm", "-f", "alpha", &b]).success();
}

#[test]
fn kill_of_a_jube_run_app_ends_jube_run_with_137() {
    let images = Images::new();
    let run = "#!/bin/sh\ntrap '' TERM\necho \"app up\"\nexec sleep 100000\n";
    let image = images.publish(
        "cmd/fg3",
        &with(run_only_image(), ZipEntry::script("run.sh", run)),
    );
    let mut child = images.env.jube().args(["run", &image]).spawn();
    child.wait_for_stdout("app up", PATIENCE);
    let id = images.only_container();
    images.wait_running(&id);
    images.env.jube().args(["kill", &id]).success();
    let out = child.wait();
    assert_eq!(out.code, Some(137), "{out}");
    assert!(marked_processes(&id).is_empty());
    assert_eq!(images.state(&id)["exit_code"], 137);
}

#[test]
fn ps_lists_the_others_and_warns_about_a_corrupt_record() {
    let images = Images::new();
    let image = images.publish("cmd/app", &fixtures::simple_image());
    let good = images.create(&image, &["--name", "good"]);
    let bad = images.create(&image, &["--name", "bad"]);
    std::fs::write(container_dir(&images.env, &bad).join("state.json"), "{ torn").unwrap();
    let out = images.env.jube().args(["ps", "-a"]).success();
    out.stdout_contains(&good[..12]).stdout_lacks(&bad[..12]);
    out.stderr_contains("warning: ")
        .stderr_contains(&format!("{bad}/state.json is not a valid container record"))
        .stderr_contains("remove the container folder");
    images.env.jube().args(["start", "good"]).success();
}
