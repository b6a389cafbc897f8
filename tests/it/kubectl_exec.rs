//! Into running pods with the real kubectl: `exec` (pipes, stdin, exit codes, a terminal driven
//! by `script`, over a WebSocket and over SPDY), `cp` both ways, `attach` refused with what to use instead, and `port-forward`
//! carrying HTTP to a pod and to a service, many connections at once, over the WebSocket tunnel
//! and over plain SPDY. The pod runs a small Perl HTTP server.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::common::fixtures::{self, ZipEntry};
use crate::common::{Child, Cmd, RepoServer, TestEnv, missing, runs, wait_until};
use crate::kubectl_like::{Kube, PATIENCE};

const IMAGE: &str = "example/hello";

/// Answers every request with `hello from <GREETING>` and closes the connection.
const SERVER_PL: &str = r#"use strict;
use warnings;
use IO::Socket::INET;
$| = 1;
my $port = $ENV{HTTP_PORT} or die "no HTTP_PORT\n";
my $server = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port, Listen => 64, ReuseAddr => 1)
    or die "cannot listen on $port: $!\n";
$SIG{CHLD} = 'IGNORE';
print "listening on $port\n";
while (1) {
    my $client = $server->accept or next;
    my $pid = fork;
    if (defined $pid && $pid == 0) {
        close $server;
        while (my $line = <$client>) { last if $line =~ /^\r?\n$/; }
        my $body = "hello from $ENV{GREETING}\n";
        print $client "HTTP/1.1 200 OK\r\nContent-Length: " . length($body) . "\r\nConnection: close\r\n\r\n$body";
        close $client;
        exit 0;
    }
    close $client;
}
"#;

const APP: &str = "apiVersion: v1
kind: Pod
metadata:
  name: hello
  labels:
    app: hello
spec:
  containers:
  - name: web
    image: example/hello:1.0
    env:
    - name: GREETING
      value: the-pod
    ports:
    - name: http
      containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: hello
spec:
  selector:
    app: hello
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: greeter
spec:
  replicas: 1
  selector:
    matchLabels:
      app: greeter
  template:
    metadata:
      labels:
        app: greeter
    spec:
      containers:
      - name: web
        image: example/hello:1.0
        env:
        - name: GREETING
          value: the-deployment
        ports:
        - name: http
          containerPort: 8080
";

/// A daemon running the `hello` pod and its Service, and kubectl pointed at it.
struct Pod {
    k: Kube,
    server: String,
    _repo: RepoServer,
}

impl Pod {
    fn start() -> Option<Self> {
        let tools = [
            (runs("kubectl", &["version", "--client"]), "kubectl"),
            (
                runs("perl", &["-MIO::Socket::INET", "-e", "1"]),
                "perl with IO::Socket::INET (apt-get install perl)",
            ),
        ];
        if tools.iter().any(|(found, what)| missing(*found, what)) {
            return None;
        }
        let repo = RepoServer::start();
        let image = vec![
            ZipEntry::script("run.sh", "#!/bin/sh\nexec perl \"$(dirname \"$0\")/server.pl\"\n"),
            ZipEntry::file("server.pl", SERVER_PL),
            ZipEntry::file("ports.properties", "HTTP=8080\n"),
        ];
        repo.publish_image(IMAGE, "1.0", &fixtures::image_zip(&image));
        let mut env = TestEnv::new();
        env.set_env("JUBE_DAEMON_LISTEN", "127.0.0.1:0");
        env.set_env("JUBE_BACKOFF_BASE", "0.2");
        env.set_env("JUBE_REMOTE_MAVEN_REPOS", repo.url());
        let k = Kube { env };
        let file = k.write("hello.yaml", APP);
        k.apply(&file);
        wait_until(
            "the hello pod and the greeter deployment's pod ready",
            PATIENCE,
            || k.ready_pods("app=hello").len() == 1 && k.ready_pods("app=greeter").len() == 1,
        );
        let addr = std::fs::read_to_string(k.daemon_addr()).expect("the daemon's address");
        Some(Self {
            server: format!("http://{}", addr.trim()),
            k,
            _repo: repo,
        })
    }

    fn kubectl(&self) -> Cmd {
        self.k
            .env
            .command("kubectl")
            .args(["--server", &self.server, "--request-timeout", "60s"])
    }

    /// `kubectl port-forward TARGET :PORT`, and the local port kubectl chose.
    fn port_forward(&self, target: &str, port: u16, extra_env: &[(&str, &str)]) -> (Child, u16) {
        let mut cmd = self
            .kubectl()
            .args(["port-forward", target, &format!(":{port}")])
            .timeout(Duration::from_secs(300));
        for (k, v) in extra_env {
            cmd = cmd.env(k, v);
        }
        let mut child = cmd.spawn();
        child.wait_for_stdout(&format!(" -> {port}"), PATIENCE);
        let out = child.stdout_so_far();
        let local = out
            .lines()
            .find_map(|l| l.strip_prefix("Forwarding from 127.0.0.1:"))
            .and_then(|rest| rest.split(' ').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no local port in kubectl's output: {out}"));
        (child, local)
    }
}

/// One HTTP request to 127.0.0.1:`port`, and the whole answer.
fn http_get(port: u16) -> String {
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect to the forwarded port");
    tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("send a request");
    let mut answer = String::new();
    let _ = tcp.read_to_string(&mut answer);
    answer
}

/// Ten requests at once through the same forward, each answered in full.
fn ten_at_once(port: u16, greeting: &str) {
    let answers: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..10).map(|_| s.spawn(move || http_get(port))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for answer in answers {
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
        assert!(answer.ends_with(&format!("hello from {greeting}\n")), "{answer}");
    }
}

#[test]
fn kubectl_exec_runs_commands_in_the_container_folder_with_exit_codes_stdin_and_a_terminal() {
    let Some(pod) = Pod::start() else { return };
    let home = pod.k.env.home().to_string_lossy().into_owned();

    let out = pod
        .kubectl()
        .args([
            "exec",
            "hello",
            "--",
            "sh",
            "-c",
            "pwd; echo \"greeting $GREETING\"; echo oops >&2",
        ])
        .success();
    let folder = out.stdout.lines().next().unwrap_or_default().to_owned();
    assert!(
        folder.starts_with(&home) && folder.contains("containers"),
        "not the container's folder: {out}"
    );
    // The container's own variables, as its app has them.
    out.stdout_contains("greeting the-pod").stderr_contains("oops");

    // The command's exit code is kubectl's.
    pod.kubectl()
        .args(["exec", "hello", "--", "sh", "-c", "exit 3"])
        .code(3)
        .stderr_contains("command terminated with exit code 3");
    pod.kubectl()
        .args(["exec", "hello", "-c", "web", "--", "no-such-program"])
        .code(127)
        .stderr_contains("cannot run no-such-program");
    pod.kubectl()
        .args(["exec", "hello", "-c", "nope", "--", "true"])
        .failure()
        .stderr_contains("container nope is not valid for pod hello");

    // Stdin piped in reaches the command, and its end ends the command's input.
    pod.kubectl()
        .args(["exec", "-i", "hello", "--", "cat"])
        .stdin("hi\nthere\n")
        .success()
        .stdout_contains("hi\nthere\n");

    // A terminal: kubectl on a terminal (script's), its size sent through the resize channel.
    if !missing(runs("script", &["-V"]), "script (apt-get install bsdutils)") {
        let inner = format!(
            "stty cols 123 rows 45; kubectl --server {} exec -it hello -- sh -c 'tty; stty size; exit 4'",
            pod.server
        );
        let out = pod
            .k
            .env
            .command("script")
            .args(["-qec", &inner, "/dev/null"])
            .code(4);
        out.stdout_contains("/dev/pts/").stdout_contains("45 123");
    }

    // Over SPDY, as kubectl before 1.30 and client-go's SPDY executor speak it.
    pod.kubectl()
        .env("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "false")
        .args([
            "exec",
            "-i",
            "hello",
            "--",
            "sh",
            "-c",
            "cat; echo oops >&2; exit 5",
        ])
        .stdin("over spdy\n")
        .code(5)
        .stdout_contains("over spdy\n")
        .stderr_contains("oops")
        .stderr_contains("command terminated with exit code 5");

    // A client that goes away takes its command along.
    let mut running = pod
        .kubectl()
        .args([
            "exec",
            "hello",
            "--",
            "sh",
            "-c",
            "echo $$ > exec.pid; exec sleep 300",
        ])
        .timeout(Duration::from_secs(300))
        .spawn();
    let pid_file = std::path::Path::new(&folder).join("exec.pid");
    wait_until("the exec'd command's pid", PATIENCE, || {
        std::fs::read_to_string(&pid_file).is_ok_and(|p| p.ends_with('\n'))
    });
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let alive = || nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
    assert!(alive() && running.is_running());
    running.kill();
    wait_until("the command of a gone client to end", PATIENCE, || !alive());

    // Without -t there is no terminal.
    pod.kubectl()
        .args(["exec", "hello", "--", "sh", "-c", "tty || true"])
        .success()
        .stdout_contains("not a tty");
}

#[test]
fn kubectl_cp_copies_in_and_out_of_the_container_folder_and_attach_is_refused() {
    let Some(pod) = Pod::start() else { return };
    if missing(runs("tar", &["--version"]), "tar (apt-get install tar)") {
        return;
    }
    let local = pod.k.env.root().join("in.txt");
    std::fs::write(&local, "copied in\n").unwrap();
    pod.kubectl()
        .args(["exec", "hello", "--", "mkdir", "-p", "data"])
        .success();
    pod.kubectl()
        .arg("cp")
        .arg(&local)
        .arg("hello:data/x.txt")
        .success();
    pod.kubectl()
        .args(["exec", "hello", "--", "cat", "data/x.txt"])
        .success()
        .stdout_contains("copied in");
    let back = pod.k.env.root().join("out.txt");
    pod.kubectl()
        .arg("cp")
        .arg("hello:data/x.txt")
        .arg(&back)
        .success();
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "copied in\n");

    pod.kubectl()
        .args(["attach", "hello"])
        .failure()
        .stderr_contains("jube does not attach")
        .stderr_contains("kubectl logs -f hello")
        .stderr_contains("kubectl exec -it hello -- sh");
}

#[test]
fn kubectl_port_forward_carries_http_to_a_pod_and_a_service_many_connections_at_once() {
    let Some(pod) = Pod::start() else { return };

    let (to_pod, port) = pod.port_forward("pod/hello", 8080, &[]);
    ten_at_once(port, "the-pod");
    drop(to_pod);

    // kubectl finds the service's pod and its targetPort itself.
    let (to_service, port) = pod.port_forward("svc/hello", 80, &[]);
    ten_at_once(port, "the-pod");
    drop(to_service);

    // A Deployment: kubectl picks one of its pods.
    let (to_deployment, port) = pod.port_forward("deploy/greeter", 8080, &[]);
    ten_at_once(port, "the-deployment");
    drop(to_deployment);

    // Plain SPDY, as kubectl speaks it without the WebSocket tunnel.
    let (plain, port) = pod.port_forward("pod/hello", 8080, &[("KUBECTL_PORT_FORWARD_WEBSOCKETS", "false")]);
    ten_at_once(port, "the-pod");
    drop(plain);

    // A port the pod does not declare: kubectl reports the error jube sends, and gives up.
    let (mut undeclared, port) = pod.port_forward("pod/hello", 9999, &[]);
    let answer = http_get(port);
    assert!(!answer.contains("hello from"), "{answer}");
    undeclared.wait_for_stderr("no container of the pod declares containerPort 9999", PATIENCE);
    undeclared.wait_for_stderr("it declares 8080", PATIENCE);
}
