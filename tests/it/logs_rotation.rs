//! Bounded console logs: with a small `JUBE_LOG_MAX_SIZE`, an app printing numbered lines fast is
//! followed by `kubectl logs -f` and `jube logs -f` across every rotation, each number once and in
//! order, while the files on disk stay within `JUBE_LOG_MAX_FILES`; bad values are refused.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::api_support::Api;
use crate::common::{TestEnv, wait_until};

const PODS: &str = "/api/v1/namespaces/default/pods";
const PATIENCE: Duration = Duration::from_secs(120);
const LINES: usize = 3000;
const MAX_SIZE: u64 = 2048;
const MAX_FILES: usize = 4;

/// The console log files of a run in `dir` (not their `.times` indexes).
fn log_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name == "console.log"
                || name
                    .strip_prefix("console.log.")
                    .is_some_and(|n| n.parse::<u32>().is_ok())
        })
        .collect()
}

fn numbers_once_in_order(text: &str) -> Result<(), String> {
    let got: Vec<&str> = text.lines().filter(|l| *l != "ready" && *l != "done").collect();
    let expected: Vec<String> = (1..=LINES).map(|i| format!("n {i}")).collect();
    if got.len() == expected.len() && got.iter().zip(&expected).all(|(a, b)| a == b) {
        return Ok(());
    }
    let first_bad = got.iter().zip(&expected).position(|(a, b)| a != b);
    Err(format!(
        "{} lines, first difference at {first_bad:?}: {:?}",
        got.len(),
        first_bad.map(|i| &got[i.saturating_sub(2)..(i + 3).min(got.len())])
    ))
}

#[test]
fn a_log_rotated_under_logs_follow_loses_and_repeats_nothing_and_stays_bounded() {
    assert!(
        std::process::Command::new("kubectl")
            .args(["version", "--client"])
            .output()
            .is_ok(),
        "kubectl is not installed (apt-get install kubectl)"
    );
    let mut env = TestEnv::new();
    env.set_env("JUBE_LOG_MAX_SIZE", MAX_SIZE.to_string());
    env.set_env("JUBE_LOG_MAX_FILES", MAX_FILES.to_string());
    let api = Api::start_in(env);
    // The app waits for `go`, so both followers are there from its first number; then about 500
    // lines a second, a file of 2 KiB every half second.
    let script = format!(
        "echo ready; while [ ! -f go ]; do sleep 0.1; done; i=0; while [ $i -lt {LINES} ]; do i=$((i+1)); \
         echo \"n $i\"; [ $((i % 25)) -eq 0 ] && sleep 0.05; done; echo done; exec sleep 600"
    );
    api.create(
        PODS,
        &json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "rot"},
            "spec": {"containers": [{"name": "main", "image": "fabric8/ticker", "command": ["sh", "-c", script]}]},
        }),
    );
    let container = "k8s_main_rot_default";
    wait_until("the pod's container", PATIENCE, || {
        api.env.jube().args(["inspect", container]).output().code == Some(0)
    });
    let inspected: Value =
        serde_json::from_str(&api.env.jube().args(["inspect", container]).success().stdout).unwrap();
    let app_base = PathBuf::from(inspected[0]["app_base_path"].as_str().unwrap());
    let logs_dir = PathBuf::from(inspected[0]["console_log"].as_str().unwrap())
        .parent()
        .unwrap()
        .to_owned();
    wait_until("the app running", PATIENCE, || {
        api.get(&format!("{PODS}/rot")).body["status"]["phase"] == "Running"
    });

    let mut kubectl = api
        .env
        .command("kubectl")
        .args(["--server", &api.base, "logs", "-f", "rot"])
        .timeout(PATIENCE * 2)
        .spawn();
    let mut own = api
        .env
        .jube()
        .args(["logs", "-f", container])
        .timeout(PATIENCE * 2)
        .spawn();
    // Both followers are reading before the app begins.
    kubectl.wait_for_stdout("ready\n", PATIENCE);
    own.wait_for_stdout("ready\n", PATIENCE);
    std::fs::write(app_base.join("go"), "").unwrap();

    let mut most_files = 0;
    let mut largest = 0;
    wait_until("both followers at the last line", PATIENCE, || {
        let files = log_files(&logs_dir);
        most_files = most_files.max(files.len());
        for f in &files {
            largest = largest.max(f.metadata().map(|m| m.len()).unwrap_or(0));
        }
        kubectl.stdout_so_far().ends_with("done\n") && own.stdout_so_far().ends_with("done\n")
    });
    numbers_once_in_order(&kubectl.stdout_so_far()).expect("kubectl logs -f");
    numbers_once_in_order(&own.stdout_so_far()).expect("jube logs -f");
    assert!(
        most_files <= MAX_FILES && largest <= MAX_SIZE,
        "at most {MAX_FILES} files of {MAX_SIZE} bytes, saw {most_files} files, the largest {largest} bytes"
    );

    // What is kept is the end of the output, whole, in as many files as allowed.
    let files = log_files(&logs_dir);
    assert_eq!(files.len(), MAX_FILES, "{files:?}");
    let kept = api.env.jube().args(["logs", container]).success().stdout;
    assert!(kept.ends_with(&format!("n {LINES}\ndone\n")), "{kept}");
    let first: usize = kept.lines().next().unwrap()[2..]
        .parse()
        .unwrap_or_else(|_| panic!("a whole first line: {kept}"));
    let expected: String = (first..=LINES).map(|i| format!("n {i}\n")).collect();
    assert_eq!(kept, format!("{expected}done\n"));
    assert!(kept.len() as u64 > MAX_SIZE * (MAX_FILES as u64 - 1));
    drop(kubectl);
    drop(own);
    api.stop();
}

#[test]
fn bad_log_bounds_are_refused_with_the_variable_named_and_nothing_made() {
    let env = TestEnv::new();
    let out = env
        .jube()
        .args(["start", "fabric8/ticker"])
        .env("JUBE_LOG_MAX_SIZE", "lots")
        .code(1);
    out.stderr_contains("JUBE_LOG_MAX_SIZE=\"lots\" is not a log size")
        .stderr_contains("20m");
    let listed = env.jube().args(["ps", "-a", "-q"]).success();
    assert_eq!(listed.stdout, "", "nothing was created");

    let out = env
        .jube()
        .args(["daemon", "--listen", "127.0.0.1:0"])
        .env("JUBE_LOG_MAX_FILES", "0")
        .timeout(Duration::from_secs(60))
        .code(1);
    out.stderr_contains("JUBE_LOG_MAX_FILES=\"0\" is not a number of log files");

    // A container made with good values refuses to start again under bad ones.
    let id = env.jube().args(["create", "fabric8/ticker"]).success();
    let id = id.last_line().to_owned();
    env.jube()
        .args(["start", &id])
        .env("JUBE_LOG_MAX_SIZE", "1.5m")
        .code(1)
        .stderr_contains("JUBE_LOG_MAX_SIZE");
    let ps = env.jube().args(["ps", "-a"]).success();
    ps.stdout_lacks("Up");
}
