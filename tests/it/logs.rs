//! `jube logs`: what jube captured (console.log) and the app's own logs/*.log, one file with
//! `--file`, the last lines with `--tail`, and `-f` following across a restart, with the built-in
//! fabric8/ticker image (no Java, no network).

use crate::common::TestEnv;
use crate::common::wait_until;
use crate::containers_support::*;

fn ticker(env: &TestEnv) -> String {
    let out = env
        .jube()
        .args([
            "start",
            "-e",
            "TICK_INTERVAL=0.1",
            "-e",
            "TICK_MESSAGE=beat",
            "fabric8/ticker",
        ])
        .success();
    full_id(&out)
}

fn ticker_log(env: &TestEnv, id: &str) -> std::path::PathBuf {
    app_base(env, id).join("logs/ticker.log")
}

#[test]
fn logs_show_console_and_app_logs_and_file_and_tail_pick_from_them() {
    let env = TestEnv::new();
    let id = ticker(&env);
    wait_for_text(&ticker_log(&env, &id), "beat 3\n");
    let out = env.jube().args(["logs", &id]).success();
    out.stdout_contains("==> console.log <==\nstarted (pid ")
        .stdout_contains("==> ticker.log <==\nticker started")
        .stdout_contains("beat 1\nbeat 2\nbeat 3\n");

    let out = env.jube().args(["logs", "--file", "ticker.log", &id]).success();
    assert!(
        out.stdout.starts_with("ticker started"),
        "one file, no header\n{out}"
    );
    out.stdout_lacks("==>").stdout_lacks("started (pid");
    let out = env.jube().args(["logs", "--file", "console", &id]).success();
    assert!(out.stdout.starts_with("started (pid"), "{out}");

    let out = env
        .jube()
        .args(["logs", "--file", "ticker", "--tail", "2", &id])
        .success();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines.iter().all(|l| l.starts_with("beat ")), "{out}");

    let out = env.jube().args(["logs", "--file", "nope", &id]).code(1);
    out.stderr_contains("no log file `nope`")
        .stderr_contains("console.log, ticker.log");
    env.jube().args(["rm", "-f", &id]).success();
}

#[test]
fn logs_follow_goes_on_across_a_restart_and_ends_when_the_container_is_removed() {
    let env = TestEnv::new();
    let id = ticker(&env);
    wait_for_text(&ticker_log(&env, &id), "beat 1\n");
    let mut follow = env
        .jube()
        .args(["logs", "-f", "--file", "ticker", &id])
        .timeout(PATIENCE * 4)
        .spawn();
    follow.wait_for_stdout("beat 2\n", PATIENCE);
    env.jube().args(["restart", "-t", "5", &id]).success();
    wait_until(
        "the restarted ticker's first line in the follow",
        PATIENCE,
        || follow.stdout_so_far().matches("ticker started").count() == 2,
    );
    follow.wait_for_stdout("ticker stopping after", PATIENCE);
    let before = follow.stdout_so_far().len();
    wait_until("more lines after the restart", PATIENCE, || {
        follow.stdout_so_far().len() > before
    });
    env.jube().args(["rm", "-f", &id]).success();
    let out = follow.wait();
    assert_eq!(out.code, Some(0), "{out}");
}
