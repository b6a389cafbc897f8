//! `jube top`: one plain table with `--once` or when piped, without a daemon (containers) and
//! with one (pods too), and the live screen driven in tmux: it shows containers, pods and their
//! ports, Enter tails a log, and `x` stops a container only once `y` confirms it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::api_support::Api;
use crate::common::{TestEnv, missing, runs, wait_until};

/// An app whose log says where it answers, with one port.
fn build_app(env: &TestEnv) {
    let dir = env.root().join("webapp");
    std::fs::create_dir_all(&dir).unwrap();
    let run = dir.join("run.sh");
    std::fs::write(
        &run,
        "#!/bin/sh\necho \"webapp log line: port $HTTP_PORT\"\nexec sleep 100000\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(dir.join("ports.properties"), "HTTP=8080\n").unwrap();
    env.jube()
        .arg("build")
        .arg(&dir)
        .args(["-t", "top/webapp:1.0"])
        .success();
}

const POD: &str = "apiVersion: v1
kind: Pod
metadata:
  name: webpod
spec:
  containers:
  - name: web
    image: top/webapp:1.0
    ports:
    - name: http
      containerPort: 8080
";

/// The data lines of a plain table whose first cell is `kind` and second `name`.
fn line_of<'a>(table: &'a str, kind: &str, name: &str) -> Option<&'a str> {
    table.lines().find(|l| {
        let mut cells = l.split_whitespace();
        cells.next() == Some(kind) && cells.next() == Some(name)
    })
}

#[test]
fn top_once_and_piped_print_one_table_of_containers_then_pods_with_a_daemon() {
    let env = TestEnv::new();
    build_app(&env);
    env.jube()
        .args(["start", "top/webapp:1.0", "--name", "web"])
        .success();
    env.jube()
        .args(["create", "fabric8/ticker", "--name", "idle"])
        .success();

    let once = env.jube().args(["top", "--once"]).success();
    let header: Vec<&str> = once.stdout.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "KIND", "NAME", "STATUS", "RESTARTS", "CPU%", "MEMORY", "PORTS", "UPTIME", "IMAGE"
        ],
        "{once}"
    );
    let web = line_of(&once.stdout, "container", "web").unwrap_or_else(|| panic!("{once}"));
    let port = env.jube().args(["port", "web"]).success();
    let host_port = port.stdout.split_whitespace().last().unwrap().to_owned();
    assert!(web.contains(&format!("HTTP:{host_port}")), "{once}");
    assert!(
        web.contains("running") && web.contains("top/webapp:1.0"),
        "{once}"
    );
    assert!(web.contains('%') && web.contains("Mi"), "{once}");
    let idle = line_of(&once.stdout, "container", "idle").unwrap_or_else(|| panic!("{once}"));
    assert!(idle.contains("created"), "{once}");

    // Not a terminal (the harness pipes stdout): the same table, and the command ends.
    let piped = env.jube().arg("top").success();
    assert!(line_of(&piped.stdout, "container", "web").is_some(), "{piped}");
    assert!(
        piped.stdout.lines().next().unwrap().starts_with("KIND"),
        "{piped}"
    );

    let api = Api::start_in(env);
    let file = api.env.root().join("pod.yaml");
    std::fs::write(&file, POD).unwrap();
    api.env.jube().arg("apply").arg("-f").arg(&file).success();
    wait_until(
        "the pod's row, running with its port",
        Duration::from_secs(120),
        || {
            let out = api.env.jube().args(["top", "--once"]).success();
            line_of(&out.stdout, "pod", "default/webpod")
                .is_some_and(|l| l.contains("Running") && l.contains("HTTP:"))
        },
    );
    api.env.jube().args(["rm", "-f", "web", "idle"]).success();
}

/// A tmux server of the test's own, killed when the test ends.
struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    fn cmd(&self, env: &TestEnv, args: &[&str]) -> crate::common::Out {
        env.command("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .success()
    }

    fn screen(&self, env: &TestEnv) -> String {
        self.cmd(env, &["capture-pane", "-p", "-t", "top"]).stdout
    }

    fn keys(&self, env: &TestEnv, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "top"];
        args.extend_from_slice(keys);
        self.cmd(env, &args);
    }

    #[track_caller]
    fn wait_for(&self, env: &TestEnv, what: &str, f: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while std::time::Instant::now() < deadline {
            last = self.screen(env);
            if f(&last) {
                return last;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("timed out waiting for {what}; the screen:\n{last}");
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = std::process::Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

fn running(env: &TestEnv, name: &str) -> bool {
    env.jube().args(["status", name]).output().code == Some(0)
}

#[test]
fn the_top_screen_in_tmux_shows_ports_tails_a_log_and_stops_only_when_confirmed() {
    if missing(runs("tmux", &["-V"]), "tmux") {
        return;
    }
    let env = TestEnv::new();
    build_app(&env);
    env.jube()
        .args(["start", "top/webapp:1.0", "--name", "web"])
        .success();
    env.jube()
        .args(["start", "fabric8/ticker", "--name", "tick"])
        .success();
    let api = Api::start_in(env);
    let env = &api.env;
    let file = env.root().join("pod.yaml");
    std::fs::write(&file, POD).unwrap();
    env.jube().arg("apply").arg("-f").arg(&file).success();
    let port = env.jube().args(["port", "web"]).success();
    let host_port = port.stdout.split_whitespace().last().unwrap().to_owned();

    let tmux = Tmux {
        socket: env.root().join("tmux.sock"),
    };
    let jube = Path::new(env!("CARGO_BIN_EXE_jube"));
    tmux.cmd(
        env,
        &[
            "new-session",
            "-d",
            "-s",
            "top",
            "-x",
            "200",
            "-y",
            "50",
            &format!("'{}' top", jube.display()),
        ],
    );
    let screen = tmux.wait_for(env, "containers, the pod and the ports", |s| {
        s.contains("jube top:")
            && s.contains(&format!("HTTP:{host_port}"))
            && s.contains("tick")
            && s.lines()
                .any(|l| l.contains("default/webpod") && l.contains("Running") && l.contains("HTTP:"))
    });
    assert!(screen.contains("q quit"), "the help line: {screen}");

    // Filter down to the container by its host port (the pod's is another), open its log.
    let own_port = format!("HTTP:{host_port}");
    tmux.keys(env, &["/", &own_port, "Enter"]);
    tmux.wait_for(env, "the container alone", |s| {
        s.contains(&format!("filter: {own_port}"))
            && !s.contains("default/webpod")
            && !s.contains("fabric8/ticker")
            && s.lines().any(|l| l.contains("web") && l.contains("running"))
    });
    tmux.keys(env, &["Enter"]);
    tmux.wait_for(env, "the log pane", |s| {
        s.contains("log of web") && s.contains(&format!("webapp log line: port {host_port}"))
    });

    // Ask to stop it: nothing happens without a yes.
    tmux.keys(env, &["x"]);
    tmux.wait_for(env, "the question", |s| s.contains("Stop container web? (y/n)"));
    tmux.keys(env, &["n"]);
    tmux.wait_for(env, "the cancellation", |s| s.contains("stop of web cancelled"));
    assert!(
        running(env, "web"),
        "a stop that was not confirmed stopped the container"
    );

    tmux.keys(env, &["x"]);
    tmux.wait_for(env, "the question", |s| s.contains("Stop container web? (y/n)"));
    tmux.keys(env, &["y"]);
    wait_until("the container stopped", Duration::from_secs(60), || {
        !running(env, "web")
    });
    tmux.wait_for(env, "the stopped row", |s| {
        s.lines().any(|l| l.contains("web") && l.contains("exited"))
    });
    assert!(running(env, "tick"), "only the selected container stops");

    tmux.keys(env, &["q"]);
    wait_until("jube top to quit", Duration::from_secs(10), || {
        std::process::Command::new("tmux")
            .arg("-S")
            .arg(&tmux.socket)
            .args(["has-session", "-t", "top"])
            .output()
            .is_ok_and(|o| !o.status.success())
    });
    env.jube().args(["rm", "-f", "web", "tick"]).success();
}
