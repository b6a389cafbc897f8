//! Deployments, ReplicaSets and Jobs through the real kubectl against a real daemon: rolling
//! updates behind a Service without one failed request, rollout history and undo, Jobs that
//! complete and Jobs that fail with their real exit code, cascading and orphaning deletes, and
//! the workload bugs found in the trial (regression tests).

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;

use crate::api_support::Api;
use crate::common::fixtures::{self, ZipEntry};
use crate::common::{Cmd, RepoServer, TestEnv, wait_until};

const PATIENCE: Duration = Duration::from_secs(90);
const IMAGE: &str = "example/hello";

/// Greets each connection with `hello <VERSION>`, on HTTP_PORT.
pub const SERVER_PL: &str = r#"use strict;
use warnings;
use IO::Socket::INET;
$| = 1;
my $port = $ENV{HTTP_PORT} or die "no HTTP_PORT\n";
my $version = $ENV{VERSION} // '?';
my $server = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port, Listen => 128, ReuseAddr => 1)
    or die "cannot listen on $port: $!\n";
$SIG{TERM} = sub { exit 0 };
print "listening on $port\n";
while (1) {
    my $client = $server->accept or next;
    print $client "hello $version\n";
    close $client;
}
"#;

fn hello_image(version: &str) -> Vec<u8> {
    fixtures::image_zip(&[
        ZipEntry::script(
            "run.sh",
            &format!("#!/bin/sh\nexport VERSION={version}\nexec perl \"$(dirname \"$0\")/server.pl\"\n"),
        ),
        ZipEntry::file("server.pl", SERVER_PL),
        ZipEntry::file("ports.properties", "HTTP=8080\n"),
    ])
}

/// A daemon whose repository serves the images it is given, and the real kubectl to drive it.
pub struct Cluster {
    pub api: Api,
    _server: RepoServer,
}

impl Cluster {
    /// A daemon whose repository serves `example/hello` 1.0 and 2.0.
    fn start() -> Self {
        Self::serving(&[
            (IMAGE, "1.0", hello_image("v1")),
            (IMAGE, "2.0", hello_image("v2")),
        ])
    }

    pub fn serving(images: &[(&str, &str, Vec<u8>)]) -> Self {
        Self::serving_in(TestEnv::new(), images)
    }

    /// Like [`Cluster::serving`], in `env` (a daemon's home of its own, or one a daemon used).
    pub fn serving_in(mut env: TestEnv, images: &[(&str, &str, Vec<u8>)]) -> Self {
        let server = RepoServer::start();
        for (image, version, zip) in images {
            server.publish_image(image, version, zip);
        }
        env.set_env("JUBE_REMOTE_MAVEN_REPOS", server.url());
        Self {
            api: Api::start_in(env),
            _server: server,
        }
    }

    pub fn kubectl(&self) -> Cmd {
        assert!(
            std::process::Command::new("kubectl")
                .args(["version", "--client"])
                .output()
                .is_ok(),
            "kubectl is not installed (apt-get install kubectl)"
        );
        self.api
            .env
            .command("kubectl")
            .args(["--server", &self.api.base, "--request-timeout", "60s"])
    }

    pub fn apply(&self, name: &str, manifest: &str) {
        let path = self.api.env.root().join(name);
        std::fs::write(&path, manifest).expect("write the manifest");
        self.kubectl().arg("apply").arg("-f").arg(&path).success();
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let out = self
            .kubectl()
            .arg("get")
            .args(args)
            .args(["-o", "json"])
            .success();
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e})\n{out}"))
    }

    pub fn names(&self, args: &[&str]) -> Vec<String> {
        let out = self
            .kubectl()
            .arg("get")
            .args(args)
            .args(["-o", "name"])
            .success();
        out.stdout.lines().map(str::to_owned).collect()
    }
}

fn deployment(replicas: u32, image: &str, extra: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: web
{extra}  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: {image}
        ports:
        - name: http
          containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
  - port: 80
    targetPort: 8080
"
    )
}

/// The greeting of one connection to the service's proxy.
pub fn greeting(addr: SocketAddr) -> Result<String, String> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    if line.starts_with("hello ") {
        Ok(line.trim().to_owned())
    } else {
        Err(format!("answered {line:?}"))
    }
}

/// Where the web service's proxy listens: its own address, at the port its status records.
pub fn proxy_addr(c: &Cluster) -> SocketAddr {
    let mut found = None;
    wait_until("the web service's proxy", PATIENCE, || {
        let ingress = &c.json(&["svc", "web"])["status"]["loadBalancer"]["ingress"][0];
        let ip = ingress["ip"].as_str().and_then(|ip| ip.parse().ok());
        let port = ingress["ports"][0]["port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok());
        found = ip.zip(port).map(|(ip, port)| SocketAddr::new(ip, port));
        found.is_some()
    });
    found.expect("an address")
}

fn rollout_status(c: &Cluster) {
    c.kubectl()
        .args(["rollout", "status", "deploy/web", "--timeout=120s"])
        .timeout(Duration::from_secs(150))
        .success()
        .stdout_contains("successfully rolled out");
}

#[test]
fn a_rolling_update_behind_a_service_fails_no_request_and_can_be_undone() {
    let c = Cluster::start();
    c.apply("web.yaml", &deployment(3, "example/hello:1.0", ""));
    rollout_status(&c);
    let addr = proxy_addr(&c);
    wait_until("v1 answering", PATIENCE, || {
        greeting(addr).is_ok_and(|g| g == "hello v1")
    });

    // A client asks every 50 ms for as long as the rollout runs.
    let stop = Arc::new(AtomicBool::new(false));
    let asked = Arc::new(AtomicUsize::new(0));
    let client = {
        let (stop, asked) = (stop.clone(), asked.clone());
        std::thread::spawn(move || {
            let mut failures = Vec::new();
            let mut seen = std::collections::BTreeSet::new();
            while !stop.load(Ordering::SeqCst) {
                asked.fetch_add(1, Ordering::SeqCst);
                match greeting(addr) {
                    Ok(g) => {
                        seen.insert(g);
                    }
                    Err(e) => failures.push(e),
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            (failures, seen)
        })
    };
    c.kubectl()
        .args(["set", "image", "deploy/web", "web=example/hello:2.0"])
        .success();
    rollout_status(&c);
    wait_until("v2 answering", PATIENCE, || {
        greeting(addr).is_ok_and(|g| g == "hello v2")
    });
    stop.store(true, Ordering::SeqCst);
    let (failures, seen) = client.join().expect("the client thread");
    assert!(
        failures.is_empty(),
        "{} of {} requests failed: {failures:?}",
        failures.len(),
        asked.load(Ordering::SeqCst)
    );
    assert!(seen.contains("hello v2"), "{seen:?}");

    // One ReplicaSet per revision, named after the template's hash, owning `<rs>-<5>` pods.
    let rs = c.json(&["rs", "-l", "app=web"]);
    let sets = rs["items"].as_array().expect("items");
    assert_eq!(sets.len(), 2, "{rs}");
    for set in sets {
        let hash = set["metadata"]["labels"]["pod-template-hash"]
            .as_str()
            .expect("a hash");
        assert_eq!(set["metadata"]["name"], format!("web-{hash}"));
        assert_eq!(set["metadata"]["ownerReferences"][0]["kind"], "Deployment");
    }
    let deploy = c.json(&["deploy", "web"]);
    assert_eq!(deploy["status"]["updatedReplicas"], 3, "{deploy}");
    assert_eq!(deploy["status"]["availableReplicas"], 3, "{deploy}");
    assert_eq!(
        deploy["status"]["observedGeneration"],
        deploy["metadata"]["generation"]
    );
    let history = c.kubectl().args(["rollout", "history", "deploy/web"]).success();
    let revisions: Vec<&str> = history
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.parse::<u32>().is_ok())
        .collect();
    assert_eq!(revisions, ["1", "2"], "{history}");

    c.kubectl().args(["rollout", "undo", "deploy/web"]).success();
    rollout_status(&c);
    wait_until("v1 answering again", PATIENCE, || {
        greeting(addr).is_ok_and(|g| g == "hello v1")
    });
    let image = c.json(&["deploy", "web"])["spec"]["template"]["spec"]["containers"][0]["image"].clone();
    assert_eq!(image, "example/hello:1.0");
    let pods = c.names(&["pods", "-l", "app=web"]);
    assert_eq!(pods.len(), 3, "{pods:?}");

    // jube's own rollout verbs read the same: the undone revision 1 is now revision 3.
    c.api
        .env
        .jube()
        .args(["rollout", "status", "deploy/web"])
        .success()
        .stdout_contains("successfully rolled out");
    let history = c
        .api
        .env
        .jube()
        .args(["rollout", "history", "deploy/web"])
        .success();
    let revisions: Vec<&str> = history
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.parse::<u32>().is_ok())
        .collect();
    assert_eq!(revisions, ["2", "3"], "{history}");
    c.api
        .env
        .jube()
        .args(["rollout", "undo", "deploy/web", "--to-revision", "9"])
        .code(1)
        .stderr_contains("unable to find specified revision 9");
}

#[test]
fn recreate_paused_and_a_progress_deadline_that_passes() {
    let c = Cluster::start();
    c.apply(
        "web.yaml",
        &deployment(2, "example/hello:1.0", "  strategy:\n    type: Recreate\n"),
    );
    rollout_status(&c);
    c.kubectl().args(["rollout", "pause", "deploy/web"]).success();
    c.kubectl()
        .args(["set", "image", "deploy/web", "web=example/hello:2.0"])
        .success();
    let deploy = c.json(&["deploy", "web"]);
    wait_until("the paused condition", PATIENCE, || {
        c.json(&["deploy", "web"])["status"]["conditions"]
            .as_array()
            .is_some_and(|cs| cs.iter().any(|c| c["reason"] == "DeploymentPaused"))
    });
    assert_eq!(c.names(&["rs", "-l", "app=web"]).len(), 1, "{deploy}");
    c.kubectl().args(["rollout", "resume", "deploy/web"]).success();
    rollout_status(&c);
    assert_eq!(c.names(&["rs", "-l", "app=web"]).len(), 2);

    // An image whose app never listens: the rollout stalls past its deadline.
    c.apply(
        "stuck.yaml",
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: stuck
spec:
  replicas: 1
  progressDeadlineSeconds: 3
  selector:
    matchLabels:
      app: stuck
  template:
    metadata:
      labels:
        app: stuck
    spec:
      containers:
      - name: main
        image: fabric8/ticker
        ports:
        - name: never
          containerPort: 7000
",
    );
    wait_until("ProgressDeadlineExceeded", PATIENCE, || {
        c.json(&["deploy", "stuck"])["status"]["conditions"]
            .as_array()
            .is_some_and(|cs| {
                cs.iter().any(|c| {
                    c["type"] == "Progressing"
                        && c["status"] == "False"
                        && c["reason"] == "ProgressDeadlineExceeded"
                })
            })
    });
    c.kubectl()
        .args(["rollout", "status", "deploy/stuck", "--timeout=60s"])
        .failure()
        .stderr_contains("exceeded its progress deadline");
    // Its pod says why it is not ready.
    let pods = c.json(&["pods", "-l", "app=stuck"]);
    let ready = pods["items"][0]["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready").cloned())
        .expect("a Ready condition");
    assert_eq!(ready["reason"], "ContainersNotReady", "{ready}");
    assert!(
        ready["message"].as_str().is_some_and(|m| m.contains("7000")),
        "{ready}"
    );
    let name = pods["items"][0]["metadata"]["name"].as_str().expect("a name");
    c.api
        .env
        .jube()
        .args(["describe", "pod", name])
        .success()
        .stdout_contains("ContainersNotReady")
        .stdout_contains("7000");
}

fn job(name: &str, completions: u32, parallelism: u32, command: &str) -> String {
    format!(
        "apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
spec:
  completions: {completions}
  parallelism: {parallelism}
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: work
        image: fabric8/ticker
        command: [\"sh\", \"-c\", \"{command}\"]
"
    )
}

#[test]
fn jobs_complete_or_fail_with_the_real_exit_code() {
    let c = Cluster::start();
    c.apply("ok.yaml", &job("ok", 3, 2, "echo working; sleep 0.5"));
    c.kubectl()
        .args(["wait", "--for=condition=complete", "job/ok", "--timeout=120s"])
        .timeout(Duration::from_secs(150))
        .success();
    let ok = c.json(&["job", "ok"]);
    assert_eq!(ok["status"]["succeeded"], 3, "{ok}");
    let table = c.kubectl().args(["get", "job", "ok"]).success();
    table.stdout_contains("3/3");

    c.apply("bad.yaml", &job("bad", 1, 1, "echo crashing; exit 3"));
    c.kubectl()
        .args(["wait", "--for=condition=failed", "job/bad", "--timeout=120s"])
        .timeout(Duration::from_secs(150))
        .success();
    let bad = c.json(&["job", "bad"]);
    assert_eq!(
        bad["status"]["conditions"][0]["reason"], "BackoffLimitExceeded",
        "{bad}"
    );
    let pods = c.json(&["pods", "-l", "batch.kubernetes.io/job-name=bad"]);
    let items = pods["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "backoffLimit 1: two tries\n{pods}");
    for p in items {
        assert_eq!(p["status"]["phase"], "Failed", "{p}");
        let term = &p["status"]["containerStatuses"][0]["state"]["terminated"];
        assert_eq!(term["exitCode"], 3, "{p}");
        assert_eq!(term["reason"], "Error", "{p}");
    }
    let name = items[0]["metadata"]["name"].as_str().expect("a name");
    c.kubectl()
        .args(["logs", name])
        .success()
        .stdout_contains("crashing");
}

#[test]
fn regression_command_args_keep_their_boundaries_and_vars_expand() {
    let c = Cluster::start();
    c.apply(
        "pod.yaml",
        "apiVersion: v1
kind: Pod
metadata:
  name: argv
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: fabric8/ticker
    env:
    - name: WHO
      value: two words
    command: [\"sh\", \"-c\", 'printf \"<%s>\" \"$@\"; echo; exit 4', \"argv0\"]
    args: [\"$(WHO)\", \"$$(WHO)\", \"$(UNKNOWN)\"]
",
    );
    wait_until("the pod's end", PATIENCE, || {
        c.json(&["pod", "argv"])["status"]["phase"] == "Failed"
    });
    let pod = c.json(&["pod", "argv"]);
    assert_eq!(
        pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"], 4,
        "{pod}"
    );
    c.kubectl()
        .args(["logs", "argv"])
        .success()
        .stdout_contains("<two words><$(WHO)><$(UNKNOWN)>");
}

#[test]
fn regression_deletion_is_graceful_and_cascades_or_orphans() {
    let c = Cluster::start();
    c.apply(
        "rs.yaml",
        "apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: front
spec:
  replicas: 2
  selector:
    matchExpressions:
    - {key: app, operator: In, values: [front, web]}
  template:
    metadata:
      labels:
        app: front
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: main
        image: fabric8/ticker
        # Deaf to SIGTERM: only the end of the grace period stops it.
        command: [\"sh\", \"-c\", \"trap '' TERM; while :; do sleep 0.2; done\"]
",
    );
    wait_until("two pods of the ReplicaSet", PATIENCE, || {
        c.names(&["pods", "-l", "app=front"]).len() == 2
    });
    let pods = c.json(&["pods", "-l", "app=front"]);
    for p in pods["items"].as_array().expect("items") {
        assert_eq!(p["metadata"]["ownerReferences"][0]["kind"], "ReplicaSet", "{p}");
        assert!(
            p["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("front-"))
        );
    }
    // Orphaned, the pods stay; a new ReplicaSet of the same selector adopts them.
    c.kubectl()
        .args(["delete", "rs", "front", "--cascade=orphan"])
        .success();
    let orphans = c.names(&["pods", "-l", "app=front"]);
    assert_eq!(orphans.len(), 2);
    let unowned = c.json(&["pods", "-l", "app=front"]);
    assert!(
        unowned["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|p| p["metadata"]["ownerReferences"]
                .as_array()
                .is_none_or(Vec::is_empty)),
        "{unowned}"
    );
    c.kubectl()
        .arg("apply")
        .arg("-f")
        .arg(c.api.env.root().join("rs.yaml"))
        .success();
    wait_until("the orphans adopted", PATIENCE, || {
        c.json(&["pods", "-l", "app=front"])["items"]
            .as_array()
            .is_some_and(|ps| {
                ps.iter()
                    .all(|p| p["metadata"]["ownerReferences"][0]["name"] == "front")
            })
    });
    assert_eq!(
        c.names(&["pods", "-l", "app=front"]),
        orphans,
        "adopted, not duplicated"
    );

    // A pod deleted with a grace period is listed, terminating, until its processes are gone.
    let victim = orphans[0].trim_start_matches("pod/").to_owned();
    c.kubectl()
        .args(["delete", "pod", &victim, "--wait=false", "--grace-period=3"])
        .success();
    let terminating = c.json(&["pod", &victim]);
    assert!(
        terminating["metadata"]["deletionTimestamp"].is_string(),
        "{terminating}"
    );
    assert_eq!(terminating["metadata"]["deletionGracePeriodSeconds"], 3);
    wait_until("the deleted pod gone", PATIENCE, || {
        c.kubectl().args(["get", "pod", &victim]).output().code != Some(0)
    });
    // Cascading: the ReplicaSet's pods go with it.
    c.kubectl()
        .args(["delete", "rs", "front", "--force", "--grace-period=0"])
        .success();
    wait_until("the pods collected", PATIENCE, || {
        c.names(&["pods", "-l", "app=front"]).is_empty()
    });
}

#[test]
fn regression_a_deployment_applied_again_after_an_orphaning_delete_adopts_its_replica_set() {
    let c = Cluster::start();
    c.apply("web.yaml", &deployment(2, "example/hello:1.0", ""));
    rollout_status(&c);
    let replica_sets = c.names(&["rs", "-l", "app=web"]);
    let pods = c.names(&["pods", "-l", "app=web"]);
    assert_eq!((replica_sets.len(), pods.len()), (1, 2));
    c.kubectl()
        .args(["delete", "deploy", "web", "--cascade=orphan"])
        .success();
    let orphaned = c.json(&["rs", "-l", "app=web"]);
    assert!(
        orphaned["items"][0]["metadata"]["ownerReferences"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "{orphaned}"
    );
    // The same template again: its ReplicaSet has the name a new one would get.
    c.kubectl()
        .arg("apply")
        .arg("-f")
        .arg(c.api.env.root().join("web.yaml"))
        .success();
    wait_until("the ReplicaSet adopted", PATIENCE, || {
        c.json(&["rs", "-l", "app=web"])["items"][0]["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
    });
    rollout_status(&c);
    assert_eq!(
        c.names(&["rs", "-l", "app=web"]),
        replica_sets,
        "adopted, not duplicated"
    );
    assert_eq!(c.names(&["pods", "-l", "app=web"]), pods, "its pods kept running");
}

#[test]
fn foreground_deletion_keeps_the_owner_until_its_pods_are_gone() {
    let c = Cluster::start();
    c.apply(
        "deploy.yaml",
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: slow
spec:
  replicas: 2
  selector:
    matchLabels:
      app: slow
  template:
    metadata:
      labels:
        app: slow
    spec:
      terminationGracePeriodSeconds: 3
      containers:
      - name: main
        image: fabric8/ticker
        # Deaf to SIGTERM: only the end of the grace period stops it.
        command: [\"sh\", \"-c\", \"trap '' TERM; while :; do sleep 0.2; done\"]
",
    );
    wait_until("two pods of the Deployment", PATIENCE, || {
        c.names(&["pods", "-l", "app=slow"]).len() == 2
    });
    c.kubectl()
        .args(["delete", "deploy", "slow", "--cascade=foreground", "--wait=false"])
        .success();
    let deploy = c.json(&["deploy", "slow"]);
    assert!(deploy["metadata"]["deletionTimestamp"].is_string(), "{deploy:#}");
    assert_eq!(
        deploy["metadata"]["finalizers"],
        serde_json::json!(["foregroundDeletion"])
    );
    // While it goes, its pods are terminating and none is made anew.
    let mut saw_pods_left = false;
    wait_until("the Deployment gone", PATIENCE, || {
        let pods = c.json(&["pods", "-l", "app=slow"]);
        let pods = pods["items"].as_array().cloned().unwrap_or_default();
        assert!(pods.len() <= 2, "no pod is made while its owner goes: {pods:#?}");
        let gone = c.kubectl().args(["get", "deploy", "slow"]).output().code != Some(0);
        if !gone {
            saw_pods_left |= !pods.is_empty();
            assert!(
                pods.iter()
                    .all(|p| p["metadata"]["deletionTimestamp"].is_string()),
                "{pods:#?}"
            );
        }
        gone
    });
    assert!(
        saw_pods_left,
        "the Deployment was listed while its pods terminated"
    );
    assert!(
        c.names(&["pods", "-l", "app=slow"]).is_empty(),
        "its pods went first"
    );
    assert!(
        c.names(&["rs", "-l", "app=slow"]).is_empty(),
        "its ReplicaSet went first"
    );

    // `jube delete --cascade=foreground` waits for all of it, as kubectl does.
    c.kubectl()
        .arg("apply")
        .arg("-f")
        .arg(c.api.env.root().join("deploy.yaml"))
        .success();
    wait_until("two pods again", PATIENCE, || {
        c.names(&["pods", "-l", "app=slow"]).len() == 2
    });
    c.api
        .env
        .jube()
        .args(["delete", "deploy", "slow", "--cascade=foreground"])
        .success()
        .stdout_contains("deployment \"slow\" deleted");
    assert!(c.names(&["deploy"]).is_empty());
    assert!(c.names(&["pods", "-l", "app=slow"]).is_empty());
}

#[test]
fn kubectl_lists_the_workload_kinds_with_their_short_names() {
    let c = Cluster::start();
    let out = c.kubectl().args(["api-resources"]).success();
    for (name, short) in [("deployments", "deploy"), ("replicasets", "rs")] {
        assert!(
            out.stdout
                .lines()
                .any(|l| l.split_whitespace().take(2).collect::<Vec<_>>() == [name, short]),
            "{name}\n{out}"
        );
    }
    out.stdout_contains("jobs");
    c.kubectl()
        .args([
            "create",
            "deployment",
            "made",
            "--image=example/hello:1.0",
            "--replicas=1",
        ])
        .success();
    c.kubectl()
        .args([
            "create",
            "job",
            "once",
            "--image=fabric8/ticker",
            "--",
            "sh",
            "-c",
            "echo once",
        ])
        .success();
    c.kubectl()
        .args(["wait", "--for=condition=complete", "job/once", "--timeout=120s"])
        .timeout(Duration::from_secs(150))
        .success();
    c.kubectl()
        .args(["logs", "job/once"])
        .success()
        .stdout_contains("once");
    c.kubectl()
        .args(["scale", "deploy/made", "--replicas=2"])
        .success();
    wait_until("two pods of the created deployment", PATIENCE, || {
        c.names(&["pods", "-l", "app=made"]).len() == 2
    });
    c.kubectl()
        .args(["logs", "deploy/made"])
        .success()
        .stdout_contains("listening on");
}

#[test]
fn regression_a_named_port_the_image_lacks_is_leased_exported_and_makes_the_pod_ready() {
    let c = Cluster::start();
    let listen = "my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', \
                  LocalPort => $ENV{HTTP_SERVER_PORT}, Listen => 5, ReuseAddr => 1) or die $!; \
                  sleep 1 while 1";
    let pod = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "named"},
        "spec": {"containers": [{
            "name": "main", "image": "fabric8/ticker",
            "command": ["perl", "-MIO::Socket::INET", "-e", listen],
            "ports": [{"name": "http-server", "containerPort": 3000}],
        }]}
    });
    c.apply("named.json", &pod.to_string());
    wait_until("the pod ready on its leased http-server port", PATIENCE, || {
        c.json(&["pod", "named"])["status"]["conditions"]
            .as_array()
            .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
    });
}
