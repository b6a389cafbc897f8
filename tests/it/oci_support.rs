//! What the OCI tests share: a web app image served by busybox httpd, an HTTP probe, and runc
//! driven with a state folder of the test's own, whose containers are removed when it drops.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::common::{TestEnv, missing, runs, wait_until};

pub const PATIENCE: Duration = Duration::from_secs(30);

/// `run.sh` of the web image: serves `www/` with busybox httpd on `$HTTP_PORT`, the page saying
/// the host name, its own pid and `GREETING` from env.sh.
pub const WEB_RUN_SH: &str = r#"#!/bin/sh
cd "$(dirname "$0")"
. ./env.sh
mkdir -p www
echo "hello $GREETING pid $$" > www/index.html
exec busybox httpd -f -p "$HTTP_PORT" -h www
"#;

/// Whether runc, busybox and root are here; outside CI a missing one skips the test.
pub fn runc_ready() -> bool {
    let root = nix::unistd::geteuid().is_root();
    !missing(root, "root (runc runs bundles as root)")
        && !missing(runs("runc", &["--version"]), "runc")
        && !missing(runs("busybox", &["true"]), "busybox (busybox-static)")
}

/// Writes the web image's folder under the env's root and builds it as `tag`.
pub fn build_web_image(env: &TestEnv, tag: &str, ports: &str) -> PathBuf {
    let dir = env.root().join(format!("src-{}", tag.replace(['/', ':'], "-")));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("run.sh"), WEB_RUN_SH).unwrap();
    crate::build_helpers::set_mode(&dir.join("run.sh"), 0o755);
    std::fs::write(dir.join("env.sh"), "export GREETING=oci\n").unwrap();
    std::fs::write(dir.join("ports.properties"), ports).unwrap();
    env.jube().arg("build").arg(&dir).args(["-t", tag]).success();
    dir
}

/// `--bind-host` flags that give a bundle the host's shell and busybox: /usr, and /bin, /lib and
/// /lib64 where they exist (links into /usr on merged-/usr systems).
pub fn host_binds() -> Vec<String> {
    let mut flags = Vec::new();
    for path in ["/usr", "/bin", "/lib", "/lib64"] {
        if Path::new(path).exists() {
            flags.extend(["--bind-host".to_owned(), path.to_owned()]);
        }
    }
    flags
}

/// The body of `GET /` at 127.0.0.1:`port`, or `None` while nothing answers there.
pub fn http_get(port: u16) -> Option<String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(3)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    (head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200")).then(|| body.trim().to_owned())
}

/// Waits until the app answers on `port` and returns what it says.
#[track_caller]
pub fn answer(port: u16) -> String {
    let mut body = None;
    wait_until(&format!("an answer on port {port}"), PATIENCE, || {
        body = http_get(port);
        body.is_some()
    });
    body.unwrap_or_default()
}

/// runc with its state in a folder of the test's own; every container it started is killed and
/// deleted on drop.
pub struct Runc {
    root: PathBuf,
    log: PathBuf,
    ids: Vec<String>,
}

impl Runc {
    pub fn new(env: &TestEnv) -> Self {
        Self {
            root: env.root().join("runc-state"),
            log: env.root().join("runc-console.log"),
            ids: Vec::new(),
        }
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("runc");
        cmd.arg("--root").arg(&self.root);
        cmd
    }

    /// `runc run -d` of `bundle` under a fresh id; the app's output goes to a file (a pipe would
    /// stay open as long as the container runs).
    pub fn run_detached(&mut self, bundle: &Path) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let id = format!(
            "jube-it-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let status = self
            .command()
            .args(["run", "-d", "-b"])
            .arg(bundle)
            .arg(&id)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .status()
            .unwrap();
        assert!(status.success(), "runc run failed: {}", self.console());
        self.ids.push(id.clone());
        id
    }

    pub fn console(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `runc state ID`'s status (`running`, `stopped`), or `None` once runc knows no such id.
    pub fn status(&self, id: &str) -> Option<String> {
        let out = self.command().args(["state", id]).output().ok()?;
        let state: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        state["status"].as_str().map(str::to_owned)
    }

    /// `runc kill ID SIGNAL`, then waits until the container has stopped, and deletes it.
    pub fn kill_and_wait(&mut self, id: &str, signal: &str) {
        let status = self.command().args(["kill", id, signal]).status().unwrap();
        assert!(status.success(), "runc kill {id} {signal}");
        wait_until(&format!("container {id} to stop"), PATIENCE, || {
            self.status(id).as_deref() == Some("stopped")
        });
        let status = self.command().args(["delete", id]).status().unwrap();
        assert!(status.success(), "runc delete {id}");
        self.ids.retain(|i| i != id);
    }
}

impl Drop for Runc {
    fn drop(&mut self) {
        for id in &self.ids {
            let _ = self.command().args(["delete", "-f", id]).output();
        }
    }
}

/// Whether skopeo and umoci are here (with runc and busybox); outside CI a missing one skips.
pub fn image_tools_ready() -> bool {
    runc_ready()
        && !missing(runs("skopeo", &["--version"]), "skopeo")
        && !missing(runs("umoci", &["--version"]), "umoci")
}

/// Runs a tool that must succeed; returns its stdout.
#[track_caller]
pub fn tool(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A base image made from Debian's busybox-static: `/bin/busybox` and a relative link per applet,
/// `PATH=/bin`. Returns (OCI archive, docker archive).
pub fn busybox_base(env: &TestEnv) -> (PathBuf, PathBuf) {
    let root = env.root().join("busybox-root");
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
    for applet in tool("busybox", &["--list"]).lines() {
        if applet != "busybox" && !applet.is_empty() {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
        }
    }
    let layout = env.root().join("busybox-layout");
    let image = format!("{}:latest", layout.display());
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    tool("umoci", &["init", "--layout", &s(&layout)]);
    tool("umoci", &["new", "--image", &image]);
    tool("umoci", &["insert", "--image", &image, &s(&root), "/"]);
    tool(
        "umoci",
        &["config", "--image", &image, "--config.env", "PATH=/bin"],
    );
    let oci = env.root().join("busybox-oci.tar");
    let docker = env.root().join("busybox-docker.tar");
    tool(
        "skopeo",
        &[
            "copy",
            &format!("oci:{image}"),
            &format!("oci-archive:{}", oci.display()),
        ],
    );
    tool(
        "skopeo",
        &[
            "copy",
            &format!("oci:{image}"),
            &format!("docker-archive:{}:busybox:1", docker.display()),
        ],
    );
    (oci, docker)
}

/// Makes a bundle `umoci unpack` wrote runnable here: the host's network, no cgroup resources, no
/// terminal, and the app's port set to `port`.
pub fn adapt_umoci_bundle(bundle: &Path, port: u16) {
    let path = bundle.join("config.json");
    let mut config: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    config["process"]["terminal"] = false.into();
    let linux = config["linux"].as_object_mut().unwrap();
    linux.remove("resources");
    linux.remove("cgroupsPath");
    if let Some(ns) = linux.get_mut("namespaces").and_then(|n| n.as_array_mut()) {
        ns.retain(|n| n["type"] != "network" && n["type"] != "user" && n["type"] != "cgroup");
    }
    let env = config["process"]["env"].as_array_mut().unwrap();
    env.retain(|e| !e.as_str().unwrap_or_default().starts_with("HTTP_PORT="));
    env.push(format!("HTTP_PORT={port}").into());
    std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
}
