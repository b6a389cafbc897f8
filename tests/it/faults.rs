//! Faults from outside: `jube start` SIGKILLed while unpacking, the daemon SIGKILLed while it
//! creates a controller's pods and in the middle of a rollout, a full disk under the local repository and under `JUBE_HOME`, and
//! a stop script that hangs while a child ignores SIGTERM. After each, the next command works,
//! nothing half-written is taken for good, no lease outlives its container, no pod is doubled and
//! no process is left. (A pull killed mid-download: `pull_concurrency`; a recycled pid:
//! `lifecycle`; parallel creates: `ports`; 200 parallel starts: `scripts/reliability`.)

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::fixtures::{self, ZipEntry};
use crate::common::{Fault, RepoServer, TestEnv, wait_until};
use crate::containers_support::*;
use crate::kubectl_like::Kube;
use crate::pull::{big_zip, cached_zip, env_for, files_named, pull};

/// How many entries below `dir`, counting no further than `limit`.
fn count_entries(dir: &Path, limit: usize) -> usize {
    let mut count = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(read) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in read.flatten() {
            count += 1;
            if count >= limit {
                return count;
            }
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(entry.path());
            }
        }
    }
    count
}

/// The live processes working below `dir` (their cwd), with their command names.
fn processes_under(dir: &Path) -> Vec<(u32, String)> {
    let Ok(read) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    read.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| is_alive(*pid))
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd.starts_with(dir)))
        .map(|pid| {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            (pid, comm.trim().to_owned())
        })
        .collect()
}

/// Every lease in `ports.json` belongs to a container that exists, and every container's record
/// is whole.
#[track_caller]
fn assert_leases_match_containers(env: &TestEnv) -> BTreeSet<String> {
    let containers: BTreeSet<String> = entries(&env.home().join("containers")).into_iter().collect();
    for id in &containers {
        state(env, id); // panics on a missing or torn state.json
    }
    let owners: BTreeSet<String> = leases(env).into_iter().map(|(owner, _)| owner).collect();
    assert!(
        owners.is_subset(&containers),
        "leases of containers that do not exist: {:?}",
        owners.difference(&containers).collect::<Vec<_>>()
    );
    containers
}

/// An image of `files` small files that differ, so that unpacking it takes a while.
fn many_files_image(files: usize) -> Vec<ZipEntry> {
    let mut entries = fixtures::simple_image();
    entries.extend((0..files).map(|i| {
        let text = format!("file {i}\n").repeat(40);
        ZipEntry::file(&format!("lib/part-{}/file-{i}.txt", i % 50), text)
    }));
    entries
}

#[test]
fn a_start_killed_while_unpacking_leaves_nothing_the_next_start_trips_on() {
    let images = Images::new();
    let image = images.publish("faults/many", &many_files_image(6000));
    images.env.jube().args(["pull", &image]).success();
    let staging = images.env.home().join("tmp");

    let killed = images.env.jube().args(["start", &image]).spawn();
    wait_until("the unpack to be under way", PATIENCE, || {
        count_entries(&staging, 200) >= 200
    });
    let out = killed.kill();
    assert_eq!(out.signal, Some(9), "killed while unpacking\n{out}");

    // The next start sweeps what the killed one left and works.
    let id = images.start_image(&image, &[]);
    images.env.jube().args(["status", &id]).code(0);
    assert!(
        entries(&staging).is_empty(),
        "the killed start's staging folder was swept: {:?}",
        entries(&staging)
    );
    let containers = assert_leases_match_containers(&images.env);
    assert_eq!(
        containers,
        BTreeSet::from([id.clone()]),
        "only the finished container"
    );
    assert_eq!(
        images
            .env
            .jube()
            .args(["ps", "-a", "-q"])
            .success()
            .stdout
            .lines()
            .count(),
        1
    );
    images.env.jube().args(["rm", "-f", &id]).success();
    assert!(marked_processes(&id).is_empty());
    assert!(
        leases(&images.env).is_empty(),
        "no lease left: {:?}",
        leases(&images.env)
    );
}

const REPLICAS: usize = 6;

fn tickers(replicas: usize) -> String {
    format!(
        "apiVersion: v1
kind: ReplicationController
metadata:
  name: tick
spec:
  replicas: {replicas}
  selector:
    app: tick
  template:
    metadata:
      labels:
        app: tick
    spec:
      containers:
      - name: tick
        image: fabric8/ticker
"
    )
}

/// Pod containers with a running process, by `jube ps`.
fn running_pods(k: &Kube) -> usize {
    let out = k.jube().args(["ps", "--format", "json"]).success();
    let list: serde_json::Value = serde_json::from_str(&out.stdout).expect("ps JSON");
    list.as_array()
        .expect("an array")
        .iter()
        .filter(|c| c["name"].as_str().is_some_and(|n| n.starts_with("k8s_")) && c["pid"].is_u64())
        .count()
}

#[test]
fn a_daemon_killed_while_creating_pods_ends_with_exactly_the_replicas_asked_for() {
    let k = Kube::new();
    let first = k.jube().arg("daemon").spawn();
    wait_until("daemon.addr written", PATIENCE, || k.daemon_addr().exists());
    let containers_dir = k.env.home().join("containers");
    k.apply(&k.write("tick.yaml", &tickers(REPLICAS)));
    wait_until("the first pod's container", PATIENCE, || {
        !entries(&containers_dir).is_empty()
    });
    first.signal(nix::sys::signal::Signal::SIGKILL);
    let out = first.wait();
    assert_eq!(out.signal, Some(9), "{out}");

    let second = k.jube().arg("daemon").spawn();
    wait_until(&format!("{REPLICAS} pods running"), PATIENCE, || {
        running_pods(&k) >= REPLICAS
    });
    let pods = k.json(&["pods"]);
    assert_eq!(pods["items"].as_array().unwrap().len(), REPLICAS, "{pods:#}");
    let containers = assert_leases_match_containers(&k.env);
    assert_eq!(
        containers.len(),
        REPLICAS,
        "one container per pod: {containers:?}"
    );
    let apps: Vec<(u32, String)> = processes_under(&containers_dir)
        .into_iter()
        .filter(|(_, comm)| comm == "run.sh")
        .collect();
    assert_eq!(apps.len(), REPLICAS, "one ticker per pod: {apps:?}");
    assert!(
        entries(&k.env.home().join("tmp")).is_empty(),
        "no staging folder left: {:?}",
        entries(&k.env.home().join("tmp"))
    );

    k.jube().args(["daemon", "stop", "--stop-pods"]).success();
    let _ = second.wait();
    let left = processes_under(&containers_dir);
    assert!(left.is_empty(), "processes left after --stop-pods: {left:?}");
}

/// A Deployment of ticker pods whose template carries `version`; `minReadySeconds` stretches a
/// rollout over several of the daemon's passes, so a kill lands in its middle.
fn ticker_deployment(replicas: usize, version: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: tick
spec:
  replicas: {replicas}
  minReadySeconds: 1
  selector:
    matchLabels:
      app: tick
  template:
    metadata:
      labels:
        app: tick
    spec:
      containers:
      - name: tick
        image: fabric8/ticker
        env:
        - name: VERSION
          value: \"{version}\"
"
    )
}

/// The `pod-template-hash` of every pod, by name.
fn pod_hashes(k: &Kube) -> Vec<(String, String)> {
    k.json(&["pods"])["items"]
        .as_array()
        .expect("a List")
        .iter()
        .map(|p| {
            (
                p["metadata"]["name"].as_str().unwrap_or_default().to_owned(),
                p["metadata"]["labels"]["pod-template-hash"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_daemon_killed_mid_rollout_finishes_it_with_exactly_the_replicas_asked_for() {
    let k = Kube::new();
    let first = k.jube().arg("daemon").spawn();
    wait_until("daemon.addr written", PATIENCE, || k.daemon_addr().exists());
    k.apply(&k.write("v1.yaml", &ticker_deployment(REPLICAS, "1")));
    k.jube()
        .args(["rollout", "status", "deploy/tick", "--timeout", "120"])
        .timeout(std::time::Duration::from_secs(150))
        .success();
    let old: BTreeSet<String> = pod_hashes(&k).into_iter().map(|(_, h)| h).collect();
    assert_eq!(old.len(), 1, "one revision before the update: {old:?}");

    k.apply(&k.write("v2.yaml", &ticker_deployment(REPLICAS, "2")));
    let mut mid = Vec::new();
    wait_until("the first pod of the new revision", PATIENCE, || {
        mid = pod_hashes(&k);
        mid.iter().any(|(_, h)| !old.contains(h))
    });
    first.signal(nix::sys::signal::Signal::SIGKILL);
    let out = first.wait();
    assert_eq!(out.signal, Some(9), "{out}");
    assert!(
        mid.iter().any(|(_, h)| old.contains(h)),
        "the kill came after the rollout had ended, so it tests nothing: {mid:?}"
    );

    let second = k.jube().arg("daemon").spawn();
    wait_until("the second daemon answers", PATIENCE, || {
        k.jube().args(["get", "deploy", "tick"]).output().code == Some(0)
    });
    k.jube()
        .args(["rollout", "status", "deploy/tick", "--timeout", "120"])
        .timeout(std::time::Duration::from_secs(150))
        .success()
        .stdout_contains("successfully rolled out");
    let containers_dir = k.env.home().join("containers");
    let apps = || -> Vec<(u32, String)> {
        processes_under(&containers_dir)
            .into_iter()
            .filter(|(_, comm)| comm == "run.sh")
            .collect()
    };
    // The old revision's pods go through their grace period after the rollout counts them gone.
    wait_until("the old revision's pods gone", PATIENCE, || {
        pod_hashes(&k).len() == REPLICAS && apps().len() == REPLICAS
    });
    let pods = pod_hashes(&k);
    assert!(
        pods.iter().all(|(_, h)| !old.contains(h)),
        "every pod is of the new revision: {pods:?}"
    );
    assert_eq!(running_pods(&k), REPLICAS, "{pods:?}");
    let containers = assert_leases_match_containers(&k.env);
    assert_eq!(
        containers.len(),
        REPLICAS,
        "one container per pod: {containers:?}"
    );
    let replica_sets = k.json(&["rs"]);
    let sizes: Vec<(String, u64)> = replica_sets["items"]
        .as_array()
        .expect("a List")
        .iter()
        .map(|rs| {
            (
                rs["metadata"]["name"].as_str().unwrap_or_default().to_owned(),
                rs["spec"]["replicas"].as_u64().unwrap_or(u64::MAX),
            )
        })
        .collect();
    assert_eq!(sizes.len(), 2, "one ReplicaSet per revision: {sizes:?}");
    assert_eq!(
        sizes.iter().map(|(_, n)| *n).sum::<u64>(),
        REPLICAS as u64,
        "the old ReplicaSet is scaled to 0: {sizes:?}"
    );
    assert!(
        entries(&k.env.home().join("tmp")).is_empty(),
        "no staging folder left: {:?}",
        entries(&k.env.home().join("tmp"))
    );

    k.jube().args(["daemon", "stop", "--stop-pods"]).success();
    let _ = second.wait();
    let left = processes_under(&containers_dir);
    assert!(left.is_empty(), "processes left after --stop-pods: {left:?}");
}

/// A tmpfs of `size` mounted on a new folder; unmounted when dropped.
struct SmallDisk {
    path: PathBuf,
}

impl SmallDisk {
    /// `None` (after saying why) when this machine cannot mount one; under `CI=true` that fails.
    fn mount(path: PathBuf, size: &str) -> Option<Self> {
        std::fs::create_dir_all(&path).expect("create the mount point");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .output();
        match out {
            Ok(out) if out.status.success() => Some(Self { path }),
            other => {
                let why = format!(
                    "cannot mount a tmpfs on {} (root is needed): {other:?}",
                    path.display()
                );
                assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
                eprintln!("skipped: {why}");
                None
            }
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Whatever a test left running there must not keep the disk busy.
        for (pid, _) in processes_under(&self.path) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

#[test]
fn a_full_disk_during_a_download_says_so_and_leaves_no_partial_file() {
    let server = RepoServer::start();
    server.publish_image("faults/huge", "1.0", &big_zip(4_000_000));
    let mut env = env_for(&server);
    let Some(disk) = SmallDisk::mount(env.root().join("small-repo"), "2m") else {
        return;
    };
    env.set_env("JUBE_LOCAL_REPO", &disk.path);

    let out = pull(&env, "faults/huge:1.0").code(1);
    out.stderr_contains("disk is full")
        .stderr_contains(&disk.path.display().to_string());
    assert!(
        !cached_zip(&env, "faults/huge", "1.0").exists(),
        "no file under its final name"
    );
    assert!(
        files_named(&disk.path, ".jube-partial").is_empty(),
        "the partial download was removed: {:?}",
        files_named(&disk.path, ".jube-partial")
    );
    let listed = env.jube().args(["images", "--format", "json"]).success();
    assert_eq!(listed.stdout.trim(), "[]");

    // Once there is room, the same pull works.
    server.clear_faults();
    server.publish_image("faults/small", "1.0", &big_zip(10_000));
    pull(&env, "faults/small:1.0").success();
}

#[test]
fn a_full_disk_during_an_install_says_so_and_leaves_nothing() {
    let mut images = Images::new();
    // 3 MB that do not compress: the zip fits the local repository, the unpacked copy not the home.
    let fat = with(
        fixtures::simple_image(),
        ZipEntry::file("lib/payload.zip", big_zip(3_000_000)).with_mode(0o644),
    );
    let image = images.publish("faults/fat", &fat);
    images.env.jube().args(["pull", &image]).success();
    let Some(disk) = SmallDisk::mount(images.env.root().join("small-home"), "2m") else {
        return;
    };
    let home = disk.path.join("jube");
    images.env.set_env("JUBE_HOME", &home);

    let out = images.env.jube().args(["start", &image]).code(1);
    out.stderr_contains("disk is full")
        .stderr_contains(&home.display().to_string());
    assert_eq!(out.stdout, "", "no ID for a failed start\n{out}");
    let containers = entries(&home.join("containers"));
    assert!(containers.is_empty(), "container folders left: {containers:?}");
    let staging = entries(&home.join("tmp"));
    assert!(staging.is_empty(), "staging left: {staging:?}");
    let owners: Vec<String> = leases_in(&home);
    assert!(owners.is_empty(), "leases left: {owners:?}");
    // The small image still fits.
    let small = images.publish("faults/small", &fixtures::simple_image());
    let id = images.start_image(&small, &[]);
    images.env.jube().args(["rm", "-f", &id]).success();
}

/// The owners in `home/ports.json`.
fn leases_in(home: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(home.join("ports.json")) else {
        return Vec::new();
    };
    let table: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("ports.json ({e}): {text}"));
    table["leases"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn stop_ends_a_hanging_stop_sh_and_a_child_that_ignores_sigterm() {
    let images = Images::new();
    let hanging = with(
        stubborn_image(),
        ZipEntry::script("stop.sh", "#!/bin/sh\necho stopping forever\nexec sleep 100000\n"),
    );
    let image = images.publish("faults/hanging", &hanging);
    let id = images.start_image(&image, &[]);
    let child_pid_file = images.app_base(&id).join("child.pid");
    wait_until("the child to write its pid", PATIENCE, || {
        std::fs::read_to_string(&child_pid_file).is_ok_and(|t| t.ends_with('\n'))
    });
    let app = images.pid(&id);
    assert!(
        marked_processes(&id).len() >= 2,
        "the app and its stubborn child run"
    );

    images
        .env
        .jube()
        .args(["stop", "-t", "2", &id])
        .timeout(PATIENCE)
        .success();
    let left = marked_processes(&id);
    assert!(left.is_empty(), "processes left: {left:?}");
    assert!(!is_alive(app));
    images.env.jube().args(["status", &id]).code(3);
    assert_eq!(images.state(&id)["status"], "exited");
    images.env.jube().args(["rm", &id]).success();
    assert!(leases(&images.env).is_empty());
}

#[test]
fn a_slow_download_killed_and_retried_keeps_only_whole_files() {
    // Not the first kill (pull_concurrency has that): three kills in a row at different points,
    // then a pull that finishes. The cache never holds a bad zip under its final name.
    let server = RepoServer::start();
    let zip = big_zip(300_000);
    server.publish_image("faults/slow", "1.0", &zip);
    server.set_fault(
        Some("-image.zip"),
        Fault::Slow {
            bytes_per_sec: 60_000,
        },
    );
    let env = env_for(&server);
    for round in 1..=3u64 {
        let killed = pull(&env, "faults/slow:1.0").spawn();
        wait_until("some bytes downloaded", PATIENCE, || {
            files_named(env.local_repo(), ".jube-partial")
                .iter()
                .any(|p| std::fs::metadata(p).is_ok_and(|m| m.len() >= round * 20_000))
        });
        assert_eq!(killed.kill().signal, Some(9));
        assert!(!cached_zip(&env, "faults/slow", "1.0").exists());
    }
    server.clear_faults();
    pull(&env, "faults/slow:1.0").success();
    assert_eq!(
        std::fs::read(cached_zip(&env, "faults/slow", "1.0")).unwrap(),
        zip
    );
    assert!(files_named(env.local_repo(), ".jube-partial").is_empty());
}
