//! Starting, stopping, killing and restarting containers with real scripts and processes: the
//! recorded pid and start time, run.sh-only images, stop sequences that leave nothing running,
//! states checked before acting, failed and hanging start scripts, apps that die on their own.

use std::process::Command;

use crate::common::fixtures::{self, ZipEntry};
use crate::common::wait_until;
use crate::containers_support::*;

#[track_caller]
fn assert_no_process_left(id: &str) {
    let left = marked_processes(id);
    assert!(left.is_empty(), "processes of container {id} survive: {left:?}");
}

fn scripts_run(images: &Images, id: &str) -> Vec<String> {
    std::fs::read_to_string(images.app_base(id).join("scripts.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn start_records_the_pid_with_its_start_time() {
    let images = Images::new();
    let image = images.publish("life/app", &fixtures::simple_image());
    let id = images.start_image(&image, &[]);
    let state = images.state(&id);
    assert_eq!(state["status"], "running");
    let pid = images.pid(&id);
    let written: u32 = std::fs::read_to_string(images.app_base(&id).join("process.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(pid, written);
    assert_eq!(
        state["process"]["start_time"].as_u64(),
        start_time(pid),
        "{state:#}"
    );
    assert!(state["started_at"].is_string());
    assert!(
        marked_processes(&id).contains(&pid),
        "the app carries the container's marker"
    );
    let out = images.env.jube().args(["status", &id]).code(0);
    out.stdout_contains(&format!("running (pid {pid})"))
        .stdout_contains("status.sh exited 0");
    images.env.jube().args(["rm", "-f", &id]).success();
    assert_no_process_left(&id);
}

/// A state.json claiming a pid that now belongs to another process (same pid, other start time).
fn fake_recycled_pid(images: &Images, id: &str, pid: u32) {
    let path = container_dir(&images.env, id).join("state.json");
    let mut state = images.state(id);
    state["status"] = "running".into();
    state["process"] = serde_json::json!({"pid": pid, "start_time": start_time(pid).unwrap() - 1});
    std::fs::write(&path, serde_json::to_vec_pretty(&state).unwrap()).unwrap();
}

#[test]
fn a_recycled_pid_is_never_taken_for_the_app() {
    let images = Images::new();
    let image = images.publish("life/app", &fixtures::simple_image());
    let id = images.create(&image, &[]);
    let mut stranger = Command::new("sleep").arg("300").spawn().unwrap();
    let pid = stranger.id();
    fake_recycled_pid(&images, &id, pid);

    let out = images.env.jube().args(["ps"]).success();
    out.stdout_lacks(&id[..12]);
    let out = images.env.jube().args(["ps", "-a"]).success();
    out.stdout_contains("Exited");
    images.env.jube().args(["status", &id]).code(3);
    images
        .env
        .jube()
        .args(["stop", &id])
        .success()
        .stderr_contains("is not running");
    images.env.jube().args(["kill", &id]).success();
    images.env.jube().args(["rm", &id]).success();
    assert!(is_alive(pid), "the process that holds the pid now is left alone");

    stranger.kill().unwrap();
    stranger.wait().unwrap();
}

#[test]
fn a_run_sh_only_image_is_started_detached_with_a_pid_file_jube_writes() {
    let images = Images::new();
    let image = images.publish("life/runonly", &run_only_image());
    let id = images.start_image(&image, &[]);
    let pid = images.pid(&id);
    let base = images.app_base(&id);
    assert_eq!(
        std::fs::read_to_string(base.join("process.pid")).unwrap(),
        format!("{pid}\n")
    );
    assert_eq!(
        images.state(&id)["session"].as_u64(),
        Some(u64::from(pid)),
        "a session of its own"
    );
    let console = container_dir(&images.env, &id).join("logs/console.log");
    let port = host_ports(&images.env, &id)[0];
    wait_for_text(&console, &format!("run-only app {pid} on {port}"));
    images.env.jube().args(["status", &id]).code(0);
    // No stop.sh: jube asks with SIGTERM itself.
    let out = images.env.jube().args(["stop", &id]).success();
    out.stderr_lacks("was killed");
    assert!(!is_alive(pid));
    images.env.jube().args(["status", &id]).code(3);
    images.env.jube().args(["start", &id]).success();
    assert_ne!(images.pid(&id), pid);
    images.env.jube().args(["rm", "-f", &id]).success();
    assert_no_process_left(&id);
}

#[test]
fn stop_leaves_no_process_when_a_child_ignores_sigterm() {
    let images = Images::new();
    let image = images.publish("life/stubborn", &stubborn_image());
    let id = images.start_image(&image, &[]);
    let child_pid_file = images.app_base(&id).join("child.pid");
    wait_for_file(&child_pid_file);
    wait_until("the child to write its pid", PATIENCE, || {
        std::fs::read_to_string(&child_pid_file).is_ok_and(|t| t.ends_with('\n'))
    });
    let child: u32 = std::fs::read_to_string(&child_pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(marked_processes(&id).contains(&child));
    let out = images.env.jube().args(["stop", "-t", "2", &id]).success();
    out.stderr_contains("killed 1 process that container");
    assert!(!is_alive(child));
    assert_no_process_left(&id);
    assert_eq!(images.state(&id)["status"], "exited");
}

#[test]
fn kill_ends_the_app_at_once_with_kill_sh_and_sigkill() {
    let images = Images::new();
    let image = images.publish("life/logged", &logged_image());
    let id = images.start_image(&image, &[]);
    let pid = images.pid(&id);
    images.env.jube().args(["kill", &id]).success();
    assert!(!is_alive(pid));
    assert_no_process_left(&id);
    assert_eq!(
        scripts_run(&images, &id),
        ["start", "kill"],
        "kill.sh, never stop.sh"
    );
    let out = images.env.jube().args(["ps", "-a"]).success();
    out.stdout_contains("Exited (137)");
    images
        .env
        .jube()
        .args(["kill", &id])
        .success()
        .stderr_contains("is not running");
}

#[test]
fn restart_runs_a_new_process_on_the_same_ports() {
    let images = Images::new();
    let image = images.publish("life/app", &fixtures::simple_image());
    let id = images.start_image(&image, &[]);
    let (pid, ports) = (images.pid(&id), host_ports(&images.env, &id));
    images
        .env
        .jube()
        .args(["restart", "-t", "5", &id])
        .success()
        .stdout_contains(&id);
    let again = images.pid(&id);
    assert_ne!(again, pid);
    assert!(!is_alive(pid));
    assert_eq!(host_ports(&images.env, &id), ports);
    assert_eq!(images.state(&id)["status"], "running");
    // restart of a stopped container starts it
    images.env.jube().args(["stop", &id]).success();
    images.env.jube().args(["restart", &id]).success();
    images.env.jube().args(["status", &id]).code(0);
    images.env.jube().args(["rm", "-f", &id]).success();
}

#[test]
fn status_exits_0_when_running_3_when_not_and_1_for_no_such_container() {
    let images = Images::new();
    let image = images.publish("life/app", &fixtures::simple_image());
    let id = images.create(&image, &[]);
    images
        .env
        .jube()
        .args(["status", &id])
        .code(3)
        .stdout_contains("created");
    images.env.jube().args(["start", &id]).success();
    images
        .env
        .jube()
        .args(["status", &id])
        .code(0)
        .stdout_contains("running");
    images.env.jube().args(["stop", &id]).success();
    images
        .env
        .jube()
        .args(["status", &id])
        .code(3)
        .stdout_contains("exited");
    images
        .env
        .jube()
        .args(["status", "nosuchthing"])
        .code(1)
        .stderr_contains("no such container: nosuchthing");
}

#[test]
fn every_verb_checks_the_state_before_acting() {
    let images = Images::new();
    let image = images.publish("life/logged", &logged_image());
    let id = images.start_image(&image, &[]);
    let out = images.env.jube().args(["start", &id]).success();
    out.stderr_contains("is already running").stdout_contains(&id);
    let out = images.env.jube().args(["run", "-d", &id]).success();
    out.stderr_lacks("error");
    assert_eq!(scripts_run(&images, &id), ["start"], "start.sh ran once");
    let name = images.state(&id)["name"].as_str().unwrap().to_owned();
    let out = images.env.jube().args(["rm", &id]).code(1);
    out.stderr_contains(&format!("container {name} is running"))
        .stderr_contains("jube rm -f");
    images.env.jube().args(["stop", &id]).success();
    let out = images.env.jube().args(["stop", &id]).success();
    out.stderr_contains(&format!("container {name} is not running"));
    assert_eq!(
        scripts_run(&images, &id),
        ["start", "stop"],
        "no script for a stopped container"
    );
    images.env.jube().args(["start", &id]).success();
    let pid = images.pid(&id);
    images.env.jube().args(["rm", "-f", &id]).success();
    assert!(!is_alive(pid));
    assert!(!container_dir(&images.env, &id).exists());
    assert!(leases(&images.env).is_empty());
}

#[test]
fn a_failed_start_sh_gives_its_exit_code_and_last_lines_and_leaves_nothing_running() {
    let images = Images::new();
    let start = "#!/bin/sh\nsleep 100000 &\nfor i in $(seq 1 30); do echo \"starting step $i\"; done\n\
                 echo 'cannot bind port' >&2\nexit 7\n";
    let image = images.publish(
        "life/failing",
        &with(fixtures::simple_image(), ZipEntry::script("start.sh", start)),
    );
    let out = images.env.jube().args(["start", &image]).code(1);
    out.stderr_contains("start.sh of container")
        .stderr_contains("failed with exit code 7")
        .stderr_contains("| starting step 30")
        .stderr_contains("| cannot bind port")
        .stderr_lacks("starting step 10\n")
        .stderr_contains("the container is kept");
    let id = entries(&images.env.home().join("containers"))
        .pop()
        .expect("the container is kept");
    assert_eq!(images.state(&id)["status"], "failed");
    assert_no_process_left(&id);
    images
        .env
        .jube()
        .args(["ps", "-a"])
        .success()
        .stdout_contains("Failed");
    images.env.jube().args(["status", &id]).code(3);
    // A failed container can be started again (and fails again the same way).
    images
        .env
        .jube()
        .args(["start", &id])
        .code(1)
        .stderr_contains("exit code 7");
    images.env.jube().args(["rm", &id]).success();
}

#[test]
fn a_hanging_start_sh_is_killed_at_the_script_timeout_with_its_children() {
    let mut images = Images::new();
    let start = "#!/bin/sh\nsleep 100000 &\necho $! > kid.pid\necho 'waiting forever'\nsleep 100000\n";
    let image = images.publish(
        "life/hanging",
        &with(fixtures::simple_image(), ZipEntry::script("start.sh", start)),
    );
    images.env.set_env("JUBE_SCRIPT_TIMEOUT", "1");
    let out = images.env.jube().args(["start", &image]).code(1);
    out.stderr_contains("did not finish within 1s and was killed")
        .stderr_contains("JUBE_SCRIPT_TIMEOUT")
        .stderr_contains("| waiting forever");
    let id = images.only_container();
    let kid: u32 = std::fs::read_to_string(images.app_base(&id).join("kid.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(!is_alive(kid));
    assert_no_process_left(&id);
    assert_eq!(images.state(&id)["status"], "failed");
}

#[test]
fn a_start_sh_that_writes_no_pid_file_fails_with_a_hint() {
    let mut images = Images::new();
    let start = "#!/bin/sh\nnohup sleep 100000 >/dev/null 2>&1 &\necho started\n";
    let image = images.publish(
        "life/nopid",
        &with(fixtures::simple_image(), ZipEntry::script("start.sh", start)),
    );
    images.env.set_env("JUBE_PID_TIMEOUT", "0.5");
    let out = images.env.jube().args(["start", &image]).code(1);
    out.stderr_contains("exited 0 but no pid file appeared within 0.5s")
        .stderr_contains("JUBE_PID_TIMEOUT")
        .stderr_contains("| started");
    let id = images.only_container();
    assert_no_process_left(&id);
}

#[test]
fn an_app_that_dies_on_its_own_shows_as_exited_without_any_script_run() {
    let images = Images::new();
    let image = images.publish("life/logged", &logged_image());
    let id = images.start_image(&image, &[]);
    let pid = images.pid(&id);
    images
        .env
        .jube()
        .args(["ps"])
        .success()
        .stdout_contains(&id[..12])
        .stdout_contains("Up ");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_until("the app to die", PATIENCE, || !is_alive(pid));
    images.env.jube().args(["ps"]).success().stdout_lacks(&id[..12]);
    let out = images.env.jube().args(["ps", "-a"]).success();
    let row = out
        .stdout
        .lines()
        .find(|l| l.starts_with(&id[..12]))
        .unwrap()
        .to_owned();
    assert!(row.contains("Exited"), "{row}");
    assert_eq!(scripts_run(&images, &id), ["start"], "ps runs no script");
}

#[test]
fn a_pid_file_written_late_in_var_run_is_waited_for() {
    let images = Images::new();
    let start = "#!/bin/sh\nmkdir -p var/run\n\
                 nohup sh -c 'sleep 0.5; echo $$ > var/run/app.pid; exec sleep 100000' >/dev/null 2>&1 &\n\
                 echo launched\n";
    let image = images.publish(
        "life/late",
        &with(fixtures::simple_image(), ZipEntry::script("start.sh", start)),
    );
    let id = images.start_image(&image, &[]);
    let pid = images.pid(&id);
    let written = std::fs::read_to_string(images.app_base(&id).join("var/run/app.pid")).unwrap();
    assert_eq!(written.trim(), pid.to_string());
    assert!(is_alive(pid));
    images.env.jube().args(["rm", "-f", &id]).success();
    assert_no_process_left(&id);
}

#[test]
fn exec_runs_a_command_in_the_container_folder_with_its_environment_and_exit_code() {
    let images = Images::new();
    let image = images.publish("life/app", &fixtures::simple_image());
    let id = images.start_image(&image, &["-e", "GREETING=hi"]);
    let env = &images.env;
    let out = env
        .jube()
        .args(["exec", "-e", "EXTRA=x y", &id, "sh", "-c"])
        .arg("echo \"$GREETING|$EXTRA|$HTTP_PORT|$(pwd)\"; exit 7")
        .code(7);
    let port = images.state(&id)["ports"][0]["host_port"].to_string();
    let base = images.app_base(&id).canonicalize().unwrap();
    assert_eq!(
        out.stdout.trim(),
        format!("hi|x y|{port}|{}", base.display()),
        "{out}"
    );
    // A relative path is the image's; hyphenated arguments belong to the command.
    env.jube()
        .args(["exec", &id, "./status.sh", "--verbose"])
        .success();
    let missing = env.jube().args(["exec", &id, "no-such-command"]).code(127);
    missing.stderr_contains("cannot run `no-such-command`");
    std::fs::write(images.app_base(&id).join("plain.txt"), "not a program").unwrap();
    env.jube().args(["exec", &id, "./plain.txt"]).code(126);

    // What exec starts carries the container's marker, so stopping the container ends it too.
    let sleeper = env.jube().args(["exec", &id, "sleep", "300"]).spawn();
    wait_until("the exec'd sleep, marked as the container's", PATIENCE, || {
        marked_processes(&id)
            .iter()
            .any(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == b"sleep\x00300\x00"))
    });
    env.jube().args(["stop", &id]).success();
    let ended = sleeper.wait();
    assert_ne!(ended.code, Some(0), "{ended}");
    assert_no_process_left(&id);
    env.jube()
        .args(["exec", &id, "true"])
        .code(1)
        .stderr_contains("is not running; start it with `jube start");
    env.jube().args(["exec", &id]).code(2);
}
