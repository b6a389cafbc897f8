//! Services through a real daemon: the proxy of each service port balances over the ready pods
//! that `jube apply` started, follows them as they die, scale and go, closes connections cleanly
//! when none is ready, chooses its port (service port, node port or a leased one, as `jube get
//! svc` shows), and pods started after a service find it through `<NAME>_SERVICE_HOST/PORT`. Each
//! service listens on its own address (its `spec.clusterIP`), as its status records.
//! The pods run a small Perl TCP server (Perl comes with every Debian and macOS).

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::common::fixtures::{self, ZipEntry};
use crate::common::{RepoServer, TestEnv, free_port, missing, runs, wait_until};
use crate::kubectl_like::{Kube, PATIENCE};

const IMAGE: &str = "example/echo";

/// Greets each connection with `pod <its host port> backend=<BACKEND_SERVICE_HOST>:<..._PORT>`,
/// then echoes lines.
const SERVER_PL: &str = r#"use strict;
use warnings;
use IO::Socket::INET;
$| = 1;
my $port = $ENV{HTTP_PORT} or die "no HTTP_PORT\n";
my $server = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port, Listen => 64, ReuseAddr => 1)
    or die "cannot listen on $port: $!\n";
$SIG{CHLD} = 'IGNORE';
my $backend = join ':', map { $ENV{$_} // '-' } qw(BACKEND_SERVICE_HOST BACKEND_SERVICE_PORT);
print "listening on $port\n";
while (1) {
    my $client = $server->accept or next;
    my $pid = fork;
    if (defined $pid && $pid == 0) {
        close $server;
        $client->autoflush(1);
        print $client "pod $port backend=$backend\n";
        while (my $line = <$client>) { print $client $line; }
        exit 0;
    }
    close $client;
}
"#;

fn echo_image() -> Vec<ZipEntry> {
    vec![
        ZipEntry::script("run.sh", "#!/bin/sh\nexec perl \"$(dirname \"$0\")/server.pl\"\n"),
        ZipEntry::file("server.pl", SERVER_PL),
        ZipEntry::file("ports.properties", "HTTP=8080\n"),
    ]
}

/// A daemon's test env whose repository serves the echo image.
struct Services {
    k: Kube,
    _server: RepoServer,
}

impl Services {
    fn new() -> Option<Self> {
        Self::with(|_| {})
    }

    fn with(adjust: impl FnOnce(&mut TestEnv)) -> Option<Self> {
        if missing(
            runs("perl", &["-MIO::Socket::INET", "-e", "1"]),
            "perl with IO::Socket::INET (apt-get install perl)",
        ) {
            return None;
        }
        let server = RepoServer::start();
        server.publish_image(IMAGE, "1.0", &fixtures::image_zip(&echo_image()));
        let mut env = TestEnv::new();
        env.set_env("JUBE_DAEMON_LISTEN", "127.0.0.1:0");
        env.set_env("JUBE_BACKOFF_BASE", "0.2");
        env.set_env("JUBE_REMOTE_MAVEN_REPOS", server.url());
        adjust(&mut env);
        Some(Self {
            k: Kube { env },
            _server: server,
        })
    }

    fn apply(&self, name: &str, manifest: &str) {
        let file: PathBuf = self.k.write(name, manifest);
        self.k.apply(&file);
    }

    fn ready_pods(&self, app: &str) -> usize {
        self.k.ready_pods(&format!("app={app}")).len()
    }

    fn wait_ready(&self, app: &str, count: usize) {
        wait_until(&format!("{count} ready {app} pods"), PATIENCE, || {
            self.ready_pods(app) == count
        });
    }

    /// The address the service's proxies listen on, as its status records it.
    fn address(&self, service: &str) -> IpAddr {
        let svc = self.k.json(&["svc", service]);
        svc["status"]["loadBalancer"]["ingress"][0]["ip"]
            .as_str()
            .and_then(|ip| ip.parse().ok())
            .unwrap_or_else(|| panic!("no address in the status of {service}: {svc}"))
    }

    /// Where the service's port `port` listens.
    fn at(&self, service: &str, port: u16) -> SocketAddr {
        SocketAddr::new(self.address(service), port)
    }

    fn listening(&self, service: &str) -> Vec<u16> {
        self.k.proxy_ports(service)
    }

    fn wait_listening(&self, service: &str, ports: usize) -> Vec<u16> {
        let mut found = Vec::new();
        wait_until(&format!("the proxies of {service}"), PATIENCE, || {
            found = self.listening(service);
            found.len() == ports
        });
        found
    }

    /// The PORT(S) cell of `jube get svc NAME`.
    fn ports_cell(&self, service: &str) -> String {
        let out = self.k.jube().args(["get", "svc", service]).success();
        let row = out
            .stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(service))
            .unwrap_or_else(|| panic!("no row for {service}\n{out}"))
            .to_owned();
        row.split_whitespace()
            .find(|c| c.ends_with("/TCP"))
            .unwrap_or_else(|| panic!("no PORT(S) cell\n{out}"))
            .to_owned()
    }
}

fn rc_and_service(replicas: u32, service_port: u16) -> String {
    format!(
        "apiVersion: v1
kind: ReplicationController
metadata:
  name: echo
spec:
  replicas: {replicas}
  selector:
    app: echo
  template:
    metadata:
      labels:
        app: echo
    spec:
      containers:
      - name: echo
        image: {IMAGE}:1.0
        ports:
        - name: http
          containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: echo
spec:
  selector:
    app: echo
  ports:
  - name: web
    port: {service_port}
    targetPort: http
"
    )
}

/// What a connection through `addr` gets: the pod's greeting, or `None` when the proxy closes it
/// without a word (cleanly: a reset or a hang fails the test).
fn greeting_at(addr: SocketAddr) -> Option<String> {
    let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    stream.set_read_timeout(Some(PATIENCE)).expect("a read timeout");
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    let read = reader
        .read_line(&mut line)
        .unwrap_or_else(|e| panic!("reading from {addr}: {e}"));
    (read > 0).then(|| line.trim_end().to_owned())
}

fn greeting(at: SocketAddr) -> Option<String> {
    greeting_at(at)
}

/// The pod part of a greeting (`pod 10003`).
fn pod_of(greeting: &str) -> String {
    greeting.split(" backend=").next().unwrap_or_default().to_owned()
}

fn pods_met(port: SocketAddr, connections: usize) -> Vec<String> {
    (0..connections)
        .map(|_| pod_of(&greeting(port).expect("a pod answers through the service")))
        .collect()
}

/// Like [`pods_met`], for waiting: a connection closed unanswered (the proxy has not yet heard of
/// the ready pods) counts for nothing rather than failing.
fn pods_answering(port: SocketAddr, connections: usize) -> Vec<String> {
    (0..connections)
        .filter_map(|_| greeting(port))
        .map(|g| pod_of(&g))
        .collect()
}

fn refused(at: SocketAddr) -> bool {
    TcpStream::connect(at).is_err()
}

#[test]
fn a_service_balances_over_ready_pods_and_follows_them() {
    let Some(s) = Services::new() else { return };
    let service_port = free_port();
    s.apply("echo.yaml", &rc_and_service(3, service_port));
    s.wait_ready("echo", 3);
    assert_eq!(
        s.wait_listening("echo", 1),
        [service_port],
        "the service port was free"
    );
    assert_eq!(s.ports_cell("echo"), format!("{service_port}/TCP"));
    let service = s.at("echo", service_port);
    assert_ne!(service.ip(), Ipv4Addr::LOCALHOST, "an address of its own");

    // Round robin: every pod answers within two rounds, and a connection stays with its pod.
    wait_until("all three pods behind the service", PATIENCE, || {
        let mut met = pods_answering(service, 6);
        met.sort();
        met.dedup();
        met.len() == 3
    });
    let stream = TcpStream::connect(service).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut open = BufReader::new(stream);
    let mut line = String::new();
    open.read_line(&mut line).unwrap();
    open.get_mut().write_all(b"hello\n").unwrap();
    line.clear();
    open.read_line(&mut line).unwrap();
    assert_eq!(line, "hello\n");

    // A pod whose process dies refuses; its connections go to the others meanwhile.
    let ps = s.k.jube().args(["ps", "--format", "json"]).success();
    let containers: Vec<Value> = serde_json::from_str(&ps.stdout).expect("ps --format json");
    let victim = containers
        .iter()
        .find(|c| {
            c["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("k8s_echo_echo-"))
        })
        .unwrap_or_else(|| panic!("an echo pod's container\n{ps}"));
    let id = victim["id"].as_str().expect("an id");
    let state = s.k.jube().args(["inspect", id]).success();
    let state: Value = serde_json::from_str(&state.stdout).expect("inspect prints JSON");
    let inspected = if state.is_array() { &state[0] } else { &state };
    let pid = inspected["process"]["pid"].as_i64().expect("a pid") as i32;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).unwrap();
    // kill(2) returns before the process is gone; until then its listener still takes
    // connections into its backlog, and they are reset when it dies, as with any proxy.
    wait_until("the killed process to be gone", PATIENCE, || {
        !crate::containers_support::is_alive(pid as u32)
    });
    for met in pods_met(service, 6) {
        assert!(met.starts_with("pod "), "{met}");
    }
    wait_until("the killed pod restarted and ready again", PATIENCE, || {
        s.ready_pods("echo") == 3
            && s.k.json(&["pods", "-l", "app=echo"])["items"]
                .as_array()
                .is_some_and(|pods| {
                    pods.iter()
                        .any(|p| p["status"]["containerStatuses"][0]["restartCount"].as_u64() >= Some(1))
                })
    });

    // Scaled down, only the pod left answers.
    s.k.jube().args(["scale", "rc/echo", "--replicas", "1"]).success();
    wait_until("one pod behind the service", PATIENCE, || {
        let mut met = pods_answering(service, 4);
        met.dedup();
        met.len() == 1
    });

    // None ready: connections are closed at once, cleanly.
    s.k.jube().args(["scale", "rc/echo", "--replicas", "0"]).success();
    wait_until("no pod behind the service", PATIENCE, || {
        greeting(service).is_none()
    });
    assert!(s.k.env.home().join("daemon.log").exists());
    let log = std::fs::read_to_string(s.k.env.home().join("daemon.log")).unwrap();
    assert!(log.contains("no ready backend"), "{log}");

    // Deleting the service closes its listener.
    s.k.jube().args(["delete", "svc", "echo"]).success();
    wait_until("the listener closed", PATIENCE, || refused(service));
}

#[test]
fn pods_started_after_a_service_find_it_in_their_environment() {
    let Some(s) = Services::new() else { return };
    let backend_port = free_port();
    s.apply(
        "backend.yaml",
        &format!(
            "apiVersion: v1
kind: Service
metadata:
  name: backend
spec:
  selector:
    app: backend
  ports:
  - port: {backend_port}
"
        ),
    );
    let listening = s.wait_listening("backend", 1);
    let client_port = free_port();
    s.apply("client.yaml", &rc_and_service(1, client_port));
    s.wait_ready("echo", 1);
    s.wait_listening("echo", 1);
    let answer = greeting(s.at("echo", client_port)).expect("the client pod answers");
    assert_eq!(
        answer.split(" backend=").nth(1),
        Some(format!("{}:{}", s.address("backend"), listening[0]).as_str()),
        "{answer}"
    );
}

#[test]
fn a_taken_service_port_gets_a_leased_port_and_a_node_port_is_honoured() {
    let Some(s) = Services::new() else { return };
    // Taken on every address, so on the service's own one too.
    let blocker = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
    let taken = blocker.local_addr().unwrap().port();
    let node_port = free_port();
    s.apply(
        "echo.yaml",
        &format!(
            "{}  - name: admin
    port: 81
    targetPort: 8080
    nodePort: {node_port}
  type: NodePort
",
            rc_and_service(1, taken)
        ),
    );
    s.wait_ready("echo", 1);
    let listening = s.wait_listening("echo", 2);
    let (start, end) = s.k.env.port_range();
    assert!(
        (start..=end).contains(&listening[0]),
        "a leased port: {listening:?}"
    );
    // Port 81 is free on the service's own address; its node port listens beside it, on
    // 127.0.0.1.
    assert_eq!(listening[1], 81);
    assert_eq!(
        s.ports_cell("echo"),
        format!("{taken}:{}/TCP,81:{node_port}/TCP", listening[0])
    );
    let leased = s.at("echo", listening[0]);
    let node = SocketAddr::from((Ipv4Addr::LOCALHOST, node_port));
    for at in [leased, s.at("echo", 81), node] {
        wait_until("the pod behind the proxy", PATIENCE, || greeting(at).is_some());
    }

    // A restarted daemon listens on the same leased port again.
    s.k.jube().args(["daemon", "stop"]).success();
    wait_until("the listeners closed", PATIENCE, || {
        refused(leased) && refused(node)
    });
    drop(blocker);
    s.k.jube()
        .args(["apply", "-f"])
        .arg(s.k.env.root().join("echo.yaml"))
        .success();
    wait_until("the proxy back on its leased port", PATIENCE, || {
        !refused(leased) && greeting(leased).is_some()
    });
    assert_eq!(s.listening("echo"), listening);
}

/// `jube daemon --address` widens (or moves) where the proxies listen.
#[cfg(target_os = "linux")] // 127.0.0.2 is a loopback address only on Linux
#[test]
fn proxies_listen_on_the_daemon_address() {
    let Some(s) = Services::new() else { return };
    let address = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let mut daemon =
        s.k.jube()
            .args(["daemon", "--address", "127.0.0.2"])
            .timeout(Duration::from_secs(300))
            .spawn();
    let addr_file = s.k.daemon_addr();
    wait_until("the daemon's address file", PATIENCE, || {
        assert!(
            daemon.is_running(),
            "the daemon exited: {}",
            daemon.stderr_so_far()
        );
        std::fs::read_to_string(&addr_file).is_ok_and(|a| !a.trim().is_empty())
    });
    let service_port = free_port();
    s.apply("echo.yaml", &rc_and_service(1, service_port));
    s.wait_ready("echo", 1);
    s.wait_listening("echo", 1);
    let svc = s.k.json(&["svc", "echo"]);
    assert_eq!(svc["status"]["loadBalancer"]["ingress"][0]["ip"], "127.0.0.2");
    wait_until("the pod behind 127.0.0.2", PATIENCE, || {
        greeting_at(SocketAddr::new(address, service_port)).is_some()
    });
    assert!(
        refused(SocketAddr::from((Ipv4Addr::LOCALHOST, service_port))),
        "not on 127.0.0.1"
    );
    s.k.jube().args(["daemon", "stop", "--stop-pods"]).success();
    daemon.wait();
}
