//! One test per bug found and fixed in the container code, named after the bug.

use std::collections::BTreeSet;
use std::process::Command;

use nix::sys::signal::Signal;

use crate::common::fixtures::{self, ZipEntry};
use crate::common::wait_until;
use crate::containers_support::*;

/// Leases were dropped for any owner with neither `containers/<id>` nor `tmp/<id>`, looked at in
/// that order: a stage renamed into place between the two looks seemed gone, and its lease was
/// lost (and its port given out again). Names were reserved with the same two looks.
#[test]
fn regression_parallel_creates_lost_a_lease_to_a_stage_renamed_between_two_looks() {
    let images = Images::new();
    let image = images.publish("reg/one", &fixtures::simple_image());
    images.env.jube().args(["pull", &image]).success();
    let ids = images.create_in_parallel(&image, 30);
    let table = leases(&images.env);
    assert_eq!(table.len(), 30, "every container keeps its lease");
    let ports: BTreeSet<u16> = table
        .iter()
        .flat_map(|(_, l)| l.iter().map(|(_, _, p)| *p))
        .collect();
    assert_eq!(ports.len(), 30);
    let names: BTreeSet<String> = ids
        .iter()
        .map(|id| images.state(id)["name"].to_string())
        .collect();
    assert_eq!(names.len(), 30);
}

/// `jube run` marked its container running without a process, so every `ps` (which checks pids)
/// showed the app as exited while it ran.
#[test]
fn regression_ps_showed_a_jube_run_app_as_exited_while_it_ran() {
    let images = Images::new();
    let run = "#!/bin/sh\necho \"app up\"\nexec sleep 100000\n";
    let image = images.publish("reg/fg", &with(run_only_image(), ZipEntry::script("run.sh", run)));
    let mut child = images.env.jube().args(["run", &image]).spawn();
    child.wait_for_stdout("app up", PATIENCE);
    let id = images.only_container();
    images.wait_running(&id);
    let out = images.env.jube().args(["ps"]).success();
    assert!(
        out.stdout.contains(&id[..12]) && out.stdout.contains("Up "),
        "{out}"
    );
    assert_eq!(images.state(&id)["status"], "running");
    drop(child);
}

#[test]
fn regression_stopping_a_jube_run_app_signalled_the_group_and_session_of_jube_run() {
    let images = Images::new();
    let run = "#!/bin/sh\ntrap 'echo got TERM; exit 3' TERM\necho \"app up\"\nwhile :; do sleep 0.1; done\n";
    let image = images.publish(
        "reg/fg2",
        &with(run_only_image(), ZipEntry::script("run.sh", run)),
    );
    // As from another terminal: `jube run` in a session and group of its own, beside a sibling
    // (the user's shell, another job) that a stop must never touch.
    let sibling_file = images.env.root().join("sibling.pid");
    let script = "sleep 100000 >/dev/null 2>&1 & echo $! > \"$1\"; exec \"$0\" run \"$2\"";
    let mut child = images
        .env
        .command("setsid")
        .args(["-w", "sh", "-c", script, env!("CARGO_BIN_EXE_jube")])
        .arg(&sibling_file)
        .arg(&image)
        .spawn();
    child.wait_for_stdout("app up", PATIENCE);
    let sibling: u32 = std::fs::read_to_string(&sibling_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let id = images.only_container();
    images.wait_running(&id);
    images.env.jube().args(["stop", &id]).success();
    let out = child.wait();
    let spared = is_alive(sibling);
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(sibling as i32), Signal::SIGKILL);
    assert_eq!(
        out.code,
        Some(3),
        "jube run ends with the app's code, not by a signal\n{out}"
    );
    assert!(out.stdout.contains("got TERM"), "{out}");
    assert!(spared, "the stop signalled jube run's group or session");
    assert!(marked_processes(&id).is_empty());
    assert_eq!(images.state(&id)["status"], "exited");
    assert_eq!(images.state(&id)["exit_code"], 3);
}

/// The sweep after a stop only looked in the app's session: a child that made a session of its
/// own (and ignored SIGTERM) outlived the container.
#[test]
fn regression_a_child_in_a_session_of_its_own_survived_stop() {
    let images = Images::new();
    let run = "#!/bin/sh\ncd \"$(dirname \"$0\")\" || exit 1\n\
               setsid sh -c 'trap \"\" TERM; echo $$ > runaway.pid; exec sleep 100000' &\n\
               exec sleep 100000\n";
    let image = images.publish(
        "reg/runaway",
        &with(fixtures::simple_image(), ZipEntry::script("run.sh", run)),
    );
    let id = images.start_image(&image, &[]);
    wait_for_text(&images.app_base(&id).join("runaway.pid"), "\n");
    assert!(marked_processes(&id).len() >= 2);
    images.env.jube().args(["stop", &id]).success();
    let left = marked_processes(&id);
    assert!(left.is_empty(), "survivors: {left:?}");
}

/// A start.sh that started the app and then failed left the app running, untracked, in a
/// container marked failed; nothing would ever stop it.
#[test]
fn regression_a_failed_start_left_what_it_started_running() {
    let images = Images::new();
    let start = "#!/bin/sh\ncd \"$(dirname \"$0\")\"\nnohup ./run.sh >> app.log 2>&1 < /dev/null &\n\
                 echo $! > process.pid\necho 'then something failed'\nexit 2\n";
    let image = images.publish(
        "reg/halfstart",
        &with(fixtures::simple_image(), ZipEntry::script("start.sh", start)),
    );
    images
        .env
        .jube()
        .args(["start", &image])
        .code(1)
        .stderr_contains("failed with exit code 2");
    let id = images.only_container();
    assert!(marked_processes(&id).is_empty(), "{:?}", marked_processes(&id));
    assert_eq!(images.state(&id)["status"], "failed");
}

/// `ps` marked a dead app exited in memory only, with "now" as its end: it said "Exited Less than
/// a second ago" for ever.
#[test]
fn regression_ps_showed_every_exit_as_just_now() {
    let images = Images::new();
    let image = images.publish("reg/app", &fixtures::simple_image());
    let id = images.start_image(&image, &[]);
    let pid = images.pid(&id);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGKILL).unwrap();
    wait_until("the app to die", PATIENCE, || !is_alive(pid));
    images
        .env
        .jube()
        .args(["ps", "-a"])
        .success()
        .stdout_contains("Exited");
    let first_seen = images.state(&id)["finished_at"].clone();
    assert_eq!(
        images.state(&id)["status"],
        "exited",
        "the exit is saved when first seen"
    );
    assert!(first_seen.is_string());
    images.env.jube().args(["ps", "-a"]).success();
    assert_eq!(images.state(&id)["finished_at"], first_seen);
}

/// Without a stop.sh, nothing asked the app to stop: jube waited out the whole grace period
/// (`-t 600` here: ten minutes) before kill.sh and signals.
#[test]
fn regression_stop_without_stop_sh_waited_out_the_grace_period() {
    let images = Images::new();
    let run = "#!/bin/sh\ntrap 'echo got TERM; exit 0' TERM\necho up\nwhile :; do sleep 0.1; done\n";
    let image = images.publish(
        "reg/nostop",
        &with(run_only_image(), ZipEntry::script("run.sh", run)),
    );
    let id = images.start_image(&image, &[]);
    let console = container_dir(&images.env, &id).join("logs/console.log");
    wait_for_text(&console, "up\n");
    let out = images.env.jube().args(["stop", "-t", "600", &id]).success();
    out.stderr_lacks("was killed");
    wait_for_text(&console, "got TERM");
    assert_eq!(images.state(&id)["status"], "exited");
}

/// A pid file naming a process that is not the container's (stale, or another program's) was
/// taken for the app, which jube would later stop.
#[test]
fn regression_a_pid_file_naming_another_process_was_taken_for_the_app() {
    let images = Images::new();
    let mut stranger = Command::new("sleep").arg("300").spawn().unwrap();
    let pid = stranger.id();
    let liar = with(
        fixtures::simple_image(),
        ZipEntry::script("start.sh", &format!("#!/bin/sh\necho {pid} > process.pid\n")),
    );
    let image = images.publish("reg/liar", &liar);
    let out = images.env.jube().args(["start", &image]).code(1);
    out.stderr_contains(&format!(
        "wrote pid {pid}, which is not a process this container started"
    ));
    let alive = is_alive(pid);
    stranger.kill().unwrap();
    stranger.wait().unwrap();
    assert!(alive, "the other process is left alone");
}

/// An image without start.sh or run.sh was reported by the path of jube's staging copy, which
/// the failure had just deleted.
#[test]
fn regression_not_an_image_named_the_deleted_staging_copy() {
    let images = Images::new();
    let image = images.publish("reg/notimage", &[ZipEntry::file("README", "hi")]);
    let out = images.env.jube().args(["create", &image]).code(1);
    out.stderr_contains("notimage-1.0-image.zip is not a jube image");
    out.stderr_lacks("jube-home/tmp");
}

/// An image shipping env.bat could not take a `-e` value with a line break on Unix, where env.bat
/// is never used: the whole create failed.
#[test]
fn regression_a_line_break_for_env_bat_failed_the_create_on_unix() {
    let images = Images::new();
    let image = images.publish(
        "reg/withbat",
        &with(
            fixtures::simple_image(),
            ZipEntry::file("env.bat", "@echo off\r\n"),
        ),
    );
    let out = images
        .env
        .jube()
        .args(["create", "-e", "MULTI=a\nb", &image])
        .success();
    out.stderr_contains("MULTI is left out of env.bat");
    let id = full_id(&out);
    let sh = std::fs::read_to_string(images.app_base(&id).join("env.sh")).unwrap();
    assert!(sh.contains("export MULTI='a\nb'"), "{sh}");
}

/// An app that ends right after start.sh wrote its pid (a one-shot job, or an app that fails at
/// once) made `start` fail with "that process had already exited": the container was `failed`,
/// and a pod running such a job showed StartError instead of Completed.
#[test]
fn regression_an_app_that_ended_at_once_failed_the_start() {
    let images = Images::new();
    let start =
        "#!/bin/sh\nnohup sh -c 'echo job done; exit 0' >>job.log 2>&1 &\necho $! > process.pid\nsleep 0.3\n";
    let image = images.publish(
        "reg/oneshot",
        &with(fixtures::simple_image(), ZipEntry::script("start.sh", start)),
    );
    let out = images.env.jube().args(["start", &image]).success();
    out.stderr_contains("its app has already ended");
    let id = full_id(&out);
    let state = images.state(&id);
    assert_eq!(state["status"], "exited", "{state}");
    assert!(state["error"].is_null(), "{state}");
    images.env.jube().args(["status", &id]).code(3);
    // It starts again like any exited container.
    images.env.jube().args(["start", &id]).success();
    assert!(images.app_base(&id).join("job.log").is_file());
}
