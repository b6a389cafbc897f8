//! Console logs per run and by time, through the real daemon and the real kubectl: `--previous`
//! after a crash, and `--timestamps`, `--since`, `--since-time`, `--limit-bytes` and `--tail`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::api_support::Api;
use crate::common::{Cmd, wait_until};

const PODS: &str = "/api/v1/namespaces/default/pods";
const PATIENCE: Duration = Duration::from_secs(60);

fn kubectl(api: &Api) -> Cmd {
    assert!(
        std::process::Command::new("kubectl")
            .args(["version", "--client"])
            .output()
            .is_ok(),
        "kubectl is not installed (apt-get install kubectl)"
    );
    api.env
        .command("kubectl")
        .args(["--server", &api.base, "--request-timeout", "30s"])
}

/// A pod of one container `main` (on the stock ticker image) that runs `script` with sh.
fn shell_pod(name: &str, script: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "main", "image": "fabric8/ticker", "command": ["sh", "-c", script]}]},
    })
}

fn restarts(api: &Api, pod: &str) -> i64 {
    api.get(&format!("{PODS}/{pod}")).body["status"]["containerStatuses"][0]["restartCount"]
        .as_i64()
        .unwrap_or(0)
}

#[test]
fn logs_previous_shows_the_run_before_a_crash_and_plain_logs_the_current_one() {
    let api = Api::start();
    // The first run prints and fails; the second prints and stays.
    let script = "n=$(cat runs 2>/dev/null || echo 0); n=$((n+1)); echo $n > runs; \
                  echo \"run $n says hello\"; echo \"run $n says bye\"; \
                  [ $n -ge 2 ] && exec sleep 600; exit 3";
    api.create(PODS, &shell_pod("crash", script));
    wait_until("the crashed pod restarted", PATIENCE, || {
        restarts(&api, "crash") >= 1
    });
    wait_until("the second run's lines", PATIENCE, || {
        kubectl(&api)
            .args(["logs", "crash"])
            .output()
            .stdout
            .contains("run 2 says bye")
    });

    let current = kubectl(&api).args(["logs", "crash"]).success();
    assert_eq!(current.stdout, "run 2 says hello\nrun 2 says bye\n", "{current}");
    let previous = kubectl(&api).args(["logs", "--previous", "crash"]).success();
    assert_eq!(
        previous.stdout, "run 1 says hello\nrun 1 says bye\n",
        "{previous}"
    );
    let short = kubectl(&api)
        .args(["logs", "-p", "crash", "-c", "main"])
        .success();
    assert_eq!(short.stdout, previous.stdout);

    // jube's own CLI, on the pod's container directly (no daemon in the way).
    let container = "k8s_main_crash_default";
    let own = api.env.jube().args(["logs", "--previous", container]).success();
    assert_eq!(own.stdout, previous.stdout, "{own}");
    let own = api.env.jube().args(["logs", container]).success();
    assert!(
        own.stdout.contains("run 2 says bye") && !own.stdout.contains("run 1"),
        "{own}"
    );

    // A pod that never restarted has no previous run: the Kubernetes error.
    api.create(PODS, &shell_pod("steady", "echo up; exec sleep 600"));
    wait_until("the steady pod's line", PATIENCE, || {
        kubectl(&api).args(["logs", "steady"]).output().stdout == "up\n"
    });
    let none = kubectl(&api).args(["logs", "-p", "steady"]).failure();
    none.stderr_contains("previous terminated container \"main\" in pod \"steady\" not found");
    let none = api
        .env
        .jube()
        .args(["logs", "--previous", "k8s_main_steady_default"])
        .code(1);
    none.stderr_contains("has no previous run's log");
    api.stop();
}

/// The lines of `kubectl logs --timestamps`, as (time, text).
fn stamped(api: &Api, pod: &str) -> Vec<(jiff::Timestamp, String)> {
    let out = kubectl(api).args(["logs", "--timestamps", pod]).success();
    out.stdout
        .lines()
        .map(|line| {
            let (time, text) = line.split_once(' ').expect("a time, a space, the line");
            (time.parse().expect("an RFC 3339 time"), text.to_owned())
        })
        .collect()
}

#[test]
fn kubectl_logs_picks_lines_by_time_count_and_bytes_and_stamps_them() {
    let api = Api::start();
    let script = "echo early 1; echo early 2; sleep 2; echo late 1; echo late 2; exec sleep 600";
    api.create(PODS, &shell_pod("timed", script));
    wait_until("all four lines", PATIENCE, || {
        kubectl(&api)
            .args(["logs", "timed"])
            .output()
            .stdout
            .contains("late 2")
    });
    assert_eq!(
        kubectl(&api).args(["logs", "timed"]).success().stdout,
        "early 1\nearly 2\nlate 1\nlate 2\n"
    );

    let lines = stamped(&api, "timed");
    let texts: Vec<&str> = lines.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(texts, ["early 1", "early 2", "late 1", "late 2"]);
    assert!(lines.windows(2).all(|w| w[0].0 <= w[1].0), "{lines:?}");
    let gap = lines[2].0.duration_since(lines[1].0);
    assert!(
        gap >= jiff::SignedDuration::from_millis(1500),
        "the sleep shows: {lines:?}"
    );

    // --since-time: the lines from that time on.
    // kubectl sends whole seconds: a second after the last early line is still before the first late one.
    let between = lines[1].0 + jiff::SignedDuration::from_secs(1);
    let out = kubectl(&api)
        .args(["logs", "timed", &format!("--since-time={between}")])
        .success();
    assert_eq!(out.stdout, "late 1\nlate 2\n", "{out}");
    let out = kubectl(&api)
        .args([
            "logs",
            "timed",
            "--timestamps",
            &format!("--since-time={}", lines[2].0),
        ])
        .success();
    assert_eq!(
        out.stdout,
        format!("{} late 1\n{} late 2\n", lines[2].0, lines[3].0)
    );

    // --since: everything within the hour; nothing once the app has been quiet for longer.
    let out = kubectl(&api).args(["logs", "timed", "--since=1h"]).success();
    assert_eq!(out.stdout.lines().count(), 4, "{out}");
    wait_until("two quiet seconds", PATIENCE, || {
        jiff::Timestamp::now().duration_since(lines[3].0) > jiff::SignedDuration::from_secs(2)
    });
    let out = kubectl(&api).args(["logs", "timed", "--since=1s"]).success();
    assert_eq!(out.stdout, "", "{out}");

    // --tail and --limit-bytes, alone and with the others.
    let out = kubectl(&api).args(["logs", "timed", "--tail=1"]).success();
    assert_eq!(out.stdout, "late 2\n");
    let out = kubectl(&api)
        .args(["logs", "timed", "--limit-bytes=10"])
        .success();
    assert_eq!(out.stdout, "early 1\nea");
    let out = kubectl(&api)
        .args(["logs", "timed", "--tail=3", "--since=1h", "--limit-bytes=13"])
        .success();
    assert_eq!(out.stdout, "early 2\nlate ");

    // -f with --tail: the last line, then the stream stays open for more.
    let mut follow = kubectl(&api)
        .args(["logs", "-f", "--tail=1", "--timestamps", "timed"])
        .spawn();
    follow.wait_for_stdout(" late 2\n", PATIENCE);
    assert_eq!(follow.stdout_so_far(), format!("{} late 2\n", lines[3].0));
    assert!(follow.is_running(), "a followed log stays open");
    drop(follow);

    // jube's own CLI takes --timestamps and --since for a pod and for its container.
    let own = api
        .env
        .jube()
        .args(["logs", "--timestamps", "pod/timed"])
        .success();
    assert_eq!(own.stdout.lines().count(), 4, "{own}");
    assert!(
        own.stdout.starts_with(&format!("{} early 1\n", lines[0].0)),
        "{own}"
    );
    let own = api
        .env
        .jube()
        .args(["logs", "--since", "1s", "k8s_main_timed_default"])
        .success();
    assert_eq!(own.stdout, "");
    let own = api
        .env
        .jube()
        .args(["logs", "--since", "1h", "--tail", "2", "k8s_main_timed_default"])
        .success();
    assert_eq!(own.stdout, "late 1\nlate 2\n");

    // The API's own checks on what it is asked.
    let both = api.get(&format!("{PODS}/timed/log?sinceSeconds=5&sinceTime={between}"));
    both.expect(400, Some("BadRequest"));
    api.get(&format!("{PODS}/timed/log?sinceTime=yesterday"))
        .expect(400, Some("BadRequest"));
    api.stop();
}
