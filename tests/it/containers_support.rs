//! What the container tests share: a test env with a repository serving images, image variants
//! built on `fixtures::simple_image`, and ways to look at what jube left on disk and in /proc.
#![allow(dead_code)] // each container test module uses a different part

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::common::fixtures::{self, ZipEntry};
use crate::common::{Child, Out, RepoServer, TestEnv, wait_until};

/// Long enough for any real event on a loaded 2-core machine; never a claim about speed.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A test env whose remote repository is a [`RepoServer`] on 127.0.0.1.
pub struct Images {
    pub env: TestEnv,
    pub server: RepoServer,
}

impl Images {
    pub fn new() -> Self {
        let server = RepoServer::start();
        let mut env = TestEnv::new();
        env.set_env("JUBE_REMOTE_MAVEN_REPOS", server.url());
        Self { env, server }
    }

    /// Publishes an image zip of `entries` as `name:1.0` and returns that reference.
    pub fn publish(&self, name: &str, entries: &[ZipEntry]) -> String {
        self.publish_bytes(name, &fixtures::image_zip(entries))
    }

    pub fn publish_bytes(&self, name: &str, zip: &[u8]) -> String {
        self.server.publish_image(name, "1.0", zip);
        format!("{name}:1.0")
    }

    /// `jube create IMAGE ARGS...`, which must succeed; returns the ID it printed last.
    #[track_caller]
    pub fn create(&self, image: &str, args: &[&str]) -> String {
        let out = self.env.jube().arg("create").args(args).arg(image).success();
        full_id(&out)
    }

    /// `n` runs of `jube create IMAGE` at once, which must all succeed; returns their IDs.
    pub fn create_in_parallel(&self, image: &str, n: usize) -> BTreeSet<String> {
        let children: Vec<Child> = (0..n)
            .map(|_| {
                self.env
                    .jube()
                    .args(["create", image])
                    .timeout(PATIENCE * 10)
                    .spawn()
            })
            .collect();
        children
            .into_iter()
            .map(|c| full_id(&c.wait().assert_success()))
            .collect()
    }

    /// The ID of the one container in JUBE_HOME (the last by name if there are more).
    #[track_caller]
    pub fn only_container(&self) -> String {
        entries(&self.env.home().join("containers"))
            .pop()
            .expect("a container")
    }

    /// Waits until `jube run` has recorded its app as running.
    pub fn wait_running(&self, id: &str) {
        wait_until("jube run to record its app", PATIENCE, || {
            self.state(id)["status"] == "running"
        });
    }

    /// `jube start IMAGE ARGS...`, which must succeed; returns the new container's ID.
    #[track_caller]
    pub fn start_image(&self, image: &str, args: &[&str]) -> String {
        let out = self.env.jube().arg("start").args(args).arg(image).success();
        full_id(&out)
    }

    pub fn state(&self, id: &str) -> Value {
        state(&self.env, id)
    }

    pub fn app_base(&self, id: &str) -> PathBuf {
        app_base(&self.env, id)
    }

    /// The app's pid as jube recorded it.
    #[track_caller]
    pub fn pid(&self, id: &str) -> u32 {
        let state = self.state(id);
        match state["process"]["pid"].as_u64() {
            Some(pid) => pid as u32,
            None => panic!("container {id} has no process recorded: {state:#}"),
        }
    }
}

/// The last line of stdout, checked to be a full container ID.
#[track_caller]
pub fn full_id(out: &Out) -> String {
    let id = out.last_line().to_owned();
    assert!(
        id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "expected a full container ID as the last line\n{out}"
    );
    id
}

pub fn container_dir(env: &TestEnv, id: &str) -> PathBuf {
    env.home().join("containers").join(id)
}

/// The container's `state.json`.
#[track_caller]
pub fn state(env: &TestEnv, id: &str) -> Value {
    let path = container_dir(env, id).join("state.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON ({e}): {text}", path.display()))
}

#[track_caller]
pub fn app_base(env: &TestEnv, id: &str) -> PathBuf {
    let rel = state(env, id)["app_base"]
        .as_str()
        .expect("app_base in state.json")
        .to_owned();
    container_dir(env, id).join(rel)
}

/// One lease as `ports.json` holds it: (name, container port, host port).
pub type LeaseRow = (String, u16, u16);

/// `ports.json`'s leases, by owner; empty without the file.
#[track_caller]
pub fn leases(env: &TestEnv) -> Vec<(String, Vec<LeaseRow>)> {
    let path = env.home().join("ports.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Vec::new();
    };
    let table: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("ports.json ({e}): {text}"));
    let Some(owners) = table["leases"].as_object() else {
        panic!("ports.json has no leases object: {text}");
    };
    owners
        .iter()
        .map(|(owner, list)| {
            let ports = list
                .as_array()
                .expect("a lease list")
                .iter()
                .map(|l| {
                    (
                        l["name"].as_str().expect("lease name").to_owned(),
                        l["container_port"].as_u64().expect("container port") as u16,
                        l["host_port"].as_u64().expect("host port") as u16,
                    )
                })
                .collect();
            (owner.clone(), ports)
        })
        .collect()
}

/// The host ports leased to `id`.
pub fn host_ports(env: &TestEnv, id: &str) -> Vec<u16> {
    leases(env)
        .into_iter()
        .filter(|(owner, _)| owner == id)
        .flat_map(|(_, ports)| ports.into_iter().map(|(_, _, host)| host))
        .collect()
}

/// The entries of a folder, by name; empty when it does not exist.
pub fn entries(dir: &Path) -> Vec<String> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = read
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A failed create must leave nothing: no container folder, no staging folder (nor its lock), no
/// lease.
#[track_caller]
pub fn assert_nothing_left(env: &TestEnv) {
    let containers = entries(&env.home().join("containers"));
    assert!(containers.is_empty(), "container folders left: {containers:?}");
    let staging = entries(&env.home().join("tmp"));
    assert!(staging.is_empty(), "staging left: {staging:?}");
    let leased = leases(env);
    assert!(leased.is_empty(), "leases left: {leased:?}");
}

/// Every running process whose environment carries `JUBE_CONTAINER_ID=<id>` (zombies excluded).
pub fn marked_processes(id: &str) -> Vec<u32> {
    let marker = format!("JUBE_CONTAINER_ID={id}");
    let Ok(proc) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    proc.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| !is_zombie(*pid))
        .filter(|pid| environ_holds(*pid, &marker))
        .collect()
}

/// Whether process `pid`'s environment holds the entry `NAME=value`, byte for byte.
pub fn environ_holds(pid: u32, entry: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/environ"))
        .is_ok_and(|env| env.split(|b| *b == 0).any(|e| e == entry.as_bytes()))
}

/// Running and not a zombie.
pub fn is_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
        !matches!(state.and_then(|s| s.chars().next()), Some('Z' | 'X') | None)
    })
}

fn is_zombie(pid: u32) -> bool {
    !is_alive(pid)
}

/// The start time (ticks after boot) /proc gives `pid`.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(19)?.parse().ok()
}

#[track_caller]
pub fn wait_for_file(path: &Path) {
    wait_until(&format!("{} to appear", path.display()), PATIENCE, || {
        path.exists()
    });
}

#[track_caller]
pub fn wait_for_text(path: &Path, needle: &str) {
    wait_until(&format!("{needle:?} in {}", path.display()), PATIENCE, || {
        std::fs::read_to_string(path).is_ok_and(|t| t.contains(needle))
    });
}

/// `simple_image`, with each script jube runs (not run.sh, which is the app) first noting its
/// name in `scripts.log`, so a test can tell which scripts jube ran.
pub fn logged_image() -> Vec<ZipEntry> {
    fixtures::simple_image()
        .into_iter()
        .map(|entry| {
            let scripts = ["start", "stop", "kill", "status", "restart"];
            let Some(name) = entry.path.strip_suffix(".sh").filter(|n| scripts.contains(n)) else {
                return entry;
            };
            let text = String::from_utf8(entry.data.clone()).expect("scripts are text");
            let body = text.strip_prefix("#!/bin/sh\n").unwrap_or(&text);
            let logged = format!("#!/bin/sh\necho {name} >> \"$(dirname \"$0\")/scripts.log\"\n{body}");
            ZipEntry::script(&entry.path, &logged)
        })
        .collect()
}

/// Replaces (or adds) one entry of an image.
pub fn with(mut image: Vec<ZipEntry>, entry: ZipEntry) -> Vec<ZipEntry> {
    image.retain(|e| e.path != entry.path);
    image.push(entry);
    image
}

/// Leaves an entry out of an image.
pub fn without(mut image: Vec<ZipEntry>, path: &str) -> Vec<ZipEntry> {
    image.retain(|e| e.path != path);
    image
}

/// An image with only `run.sh` (and ports): jube must detach it and write process.pid itself.
pub fn run_only_image() -> Vec<ZipEntry> {
    vec![
        ZipEntry::script(
            "run.sh",
            "#!/bin/sh\necho \"run-only app $$ on $HTTP_PORT\"\nexec sleep 100000\n",
        ),
        ZipEntry::file("ports.properties", "HTTP=8080\n"),
    ]
}

/// `simple_image` whose app starts a child that ignores SIGTERM (and records its pid in
/// `child.pid`), and whose stop.sh only asks the main process.
pub fn stubborn_image() -> Vec<ZipEntry> {
    let run = r#"#!/bin/sh
cd "$(dirname "$0")" || exit 1
sh -c 'trap "" TERM; echo $$ > child.pid; exec sleep 100000' &
echo "app running as $$"
exec sleep 100000
"#;
    with(fixtures::simple_image(), ZipEntry::script("run.sh", run))
}
