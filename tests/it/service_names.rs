//! Services by name (issue 12), through a real daemon and the real kubectl: each Service listens
//! on an address of its own at its own port, pods reach each other by Service name through the
//! hosts file, and Endpoints list the ready pods. The pods run small Perl HTTP servers and clients.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde_json::Value;

use crate::common::fixtures::{self, ZipEntry};
use crate::common::{TestEnv, missing, runs, wait_until};
use crate::workloads::Cluster;

const PATIENCE: Duration = Duration::from_secs(90);

/// Answers every request with `$GREETING`.
const WEB_PL: &str = r#"use strict;
use warnings;
use IO::Socket::INET;
$| = 1;
my $port = $ENV{HTTP_PORT} or die "no HTTP_PORT\n";
my $server = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port, Listen => 64, ReuseAddr => 1)
    or die "cannot listen on $port: $!\n";
$SIG{TERM} = sub { exit 0 };
while (1) {
    my $client = $server->accept or next;
    while (my $line = <$client>) { last if $line =~ /^\r?\n$/; }
    my $body = ($ENV{GREETING} // 'hello') . "\n";
    print $client "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
    close $client;
}
"#;

/// Fetches `http://$BACKEND_ADDR/` and `$FQDN_URL` every half second and logs what came back.
const CLIENT_PL: &str = r#"use strict;
use warnings;
use HTTP::Tiny;
$| = 1;
$SIG{TERM} = sub { exit 0 };
my $http = HTTP::Tiny->new(timeout => 3);
my @urls = ("http://$ENV{BACKEND_ADDR}/", $ENV{FQDN_URL});
while (1) {
    for my $url (@urls) {
        my $r = $http->get($url);
        my $body = $r->{content} // ''; chomp $body;
        print "GET $url -> $r->{status} $body\n";
    }
    select(undef, undef, undef, 0.5);
}
"#;

fn images() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    vec![
        (
            "example/web",
            "1.0",
            fixtures::image_zip(&[
                ZipEntry::script("run.sh", "#!/bin/sh\nexec perl \"$(dirname \"$0\")/web.pl\"\n"),
                ZipEntry::file("web.pl", WEB_PL),
                ZipEntry::file("ports.properties", "HTTP=8080\n"),
            ]),
        ),
        (
            "example/client",
            "1.0",
            fixtures::image_zip(&[
                ZipEntry::script("run.sh", "#!/bin/sh\nexec perl \"$(dirname \"$0\")/client.pl\"\n"),
                ZipEntry::file("client.pl", CLIENT_PL),
            ]),
        ),
    ]
}

fn perl_missing() -> bool {
    missing(
        runs("perl", &["-MIO::Socket::INET", "-MHTTP::Tiny", "-e", "1"]),
        "perl with IO::Socket::INET and HTTP::Tiny (apt-get install perl)",
    )
}

/// A pod of `example/web` greeting with `greeting`, and a Service on `port` in front of it.
fn web_and_service(name: &str, ns: &str, port: u16, greeting: &str) -> String {
    format!(
        "apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: {ns}
  labels:
    app: {name}
spec:
  containers:
  - name: web
    image: example/web:1.0
    env:
    - name: GREETING
      value: {greeting}
    ports:
    - name: http
      containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: {ns}
spec:
  selector:
    app: {name}
  ports:
  - name: http
    port: {port}
    targetPort: http
"
    )
}

/// The body of `GET /` at `addr`, or `None` while nothing answers there.
fn http_get(addr: SocketAddr) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(3)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.0 200").then(|| body.trim().to_owned())
}

fn service(cluster: &Cluster, name: &str, ns: &str) -> Value {
    cluster.json(&["svc", name, "-n", ns])
}

/// The Service's address and the port its proxy listens on, once it listens.
fn listening(cluster: &Cluster, name: &str, ns: &str) -> SocketAddr {
    let mut found = None;
    wait_until(&format!("the proxy of {name}"), PATIENCE, || {
        let svc = service(cluster, name, ns);
        let ingress = &svc["status"]["loadBalancer"]["ingress"][0];
        let ip = ingress["ip"].as_str().and_then(|ip| ip.parse::<IpAddr>().ok());
        let port = ingress["ports"][0]["port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok());
        found = ip.zip(port).map(|(ip, port)| SocketAddr::new(ip, port));
        found.is_some() && ingress["ports"][0].get("error").is_none()
    });
    found.expect("an address")
}

fn in_default_range(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V4(v4) if v4.octets()[..2] == [127, 77])
}

#[test]
#[cfg(target_os = "linux")] // all of 127.0.0.0/8 answers without aliases on Linux only
fn two_services_on_one_port_answer_each_on_its_own_address_with_endpoints() {
    if perl_missing() {
        return;
    }
    let cluster = Cluster::serving(&images());
    cluster.apply("red.yaml", &web_and_service("red", "default", 6379, "red"));
    cluster.apply("blue.yaml", &web_and_service("blue", "default", 6379, "blue"));
    let red = listening(&cluster, "red", "default");
    let blue = listening(&cluster, "blue", "default");
    assert_eq!(
        (red.port(), blue.port()),
        (6379, 6379),
        "both on the service port"
    );
    assert_ne!(red.ip(), blue.ip(), "each on its own address");
    for (svc, addr) in [("red", red), ("blue", blue)] {
        assert!(in_default_range(addr.ip()), "{addr}");
        assert_eq!(
            service(&cluster, svc, "default")["spec"]["clusterIP"],
            addr.ip().to_string(),
            "spec.clusterIP is where it listens"
        );
        wait_until(&format!("{svc} answering on {addr}"), PATIENCE, || {
            http_get(addr).as_deref() == Some(svc)
        });
    }
    let table = cluster.kubectl().args(["get", "svc", "red", "blue"]).success();
    assert!(table.stdout.contains(&red.ip().to_string()), "{table}");
    assert!(table.stdout.contains(&blue.ip().to_string()), "{table}");

    // Endpoints and EndpointSlices list the ready pod at 127.0.0.1 and its host port.
    let (lo, hi) = cluster.api.env.port_range();
    let mut endpoints = String::new();
    wait_until("the endpoints of red", PATIENCE, || {
        endpoints = cluster
            .kubectl()
            .args(["get", "endpoints", "red"])
            .success()
            .stdout;
        endpoints.contains("127.0.0.1:")
    });
    let host_port: u16 = endpoints
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no host port in\n{endpoints}"));
    assert!(
        (lo..=hi).contains(&host_port),
        "{host_port} is a leased port: {endpoints}"
    );
    assert_eq!(
        http_get(SocketAddr::from(([127, 0, 0, 1], host_port))).as_deref(),
        Some("red"),
        "the endpoint is the pod itself"
    );
    let slices = cluster
        .kubectl()
        .args(["get", "endpointslices", "-l", "kubernetes.io/service-name=red"])
        .success();
    assert!(slices.stdout.contains(&host_port.to_string()), "{slices}");
    assert!(slices.stdout.contains("IPv4"), "{slices}");
    let described = cluster.kubectl().args(["describe", "svc", "red"]).success();
    let line = described
        .stdout
        .lines()
        .find(|l| l.starts_with("Endpoints:"))
        .unwrap_or_else(|| panic!("no Endpoints line\n{described}"));
    assert!(line.contains(&format!("127.0.0.1:{host_port}")), "{described}");
    assert!(described.stdout.contains(&red.ip().to_string()), "{described}");
    // jube's own describe says the same.
    let ours = cluster.api.env.jube().args(["describe", "svc", "red"]).success();
    ours.stdout_contains(&format!("IP:           {}", red.ip()))
        .stdout_contains(&format!("Endpoints:    127.0.0.1:{host_port}"));

    // Gone with their Service.
    cluster.kubectl().args(["delete", "svc", "red"]).success();
    wait_until("red's endpoints gone", PATIENCE, || {
        cluster.names(&["endpoints"]).iter().all(|n| n != "endpoints/red")
            && cluster
                .names(&["endpointslices"])
                .iter()
                .all(|n| !n.starts_with("endpointslice.discovery.k8s.io/red"))
    });
}

#[test]
fn a_requested_cluster_ip_is_kept_inside_the_range_and_refused_outside() {
    let cluster = Cluster::serving(&[]);
    let svc = |name: &str, ip: &str| {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  clusterIP: {ip}\n  selector:\n    app: x\n  ports:\n  - port: 80\n"
        )
    };
    cluster.apply("inside.yaml", &svc("inside", "127.77.200.7"));
    assert_eq!(
        service(&cluster, "inside", "default")["spec"]["clusterIP"],
        "127.77.200.7"
    );
    let path = cluster.api.env.root().join("outside.yaml");
    std::fs::write(&path, svc("outside", "10.0.0.1")).unwrap();
    let refused = cluster.kubectl().arg("apply").arg("-f").arg(&path).failure();
    assert!(
        refused.stderr.contains("spec.clusterIP") && refused.stderr.contains("127.77.0.0/16"),
        "{refused}"
    );
    let taken = cluster.api.env.root().join("taken.yaml");
    std::fs::write(&taken, svc("taken", "127.77.200.7")).unwrap();
    let refused = cluster.kubectl().arg("apply").arg("-f").arg(&taken).failure();
    assert!(refused.stderr.contains("already allocated"), "{refused}");
    // Immutable, as in Kubernetes; an update that leaves it out keeps it.
    let changed = cluster
        .kubectl()
        .args([
            "patch",
            "svc",
            "inside",
            "-p",
            r#"{"spec":{"clusterIP":"127.77.200.8"}}"#,
        ])
        .failure();
    assert!(changed.stderr.contains("immutable"), "{changed}");
    let generated = service(&cluster, "inside", "default");
    let mut replaced = generated.clone();
    replaced["spec"].as_object_mut().unwrap().remove("clusterIP");
    replaced["spec"].as_object_mut().unwrap().remove("clusterIPs");
    let put = cluster
        .api
        .put("/api/v1/namespaces/default/services/inside", &replaced);
    assert_eq!(put.code, 200, "{}", put.body);
    assert_eq!(put.body["spec"]["clusterIP"], "127.77.200.7");
}

#[test]
fn services_created_at_once_never_share_an_address() {
    let cluster = Cluster::serving(&[]);
    const RACERS: usize = 16;
    // Creates sent together from threads of their own; returns each answer's code and message.
    let create_all = |prefix: &str, cluster_ip: Option<&str>| -> Vec<(u16, Value)> {
        let start = std::sync::Arc::new(std::sync::Barrier::new(RACERS));
        let creates: Vec<_> = (0..RACERS)
            .map(|i| {
                let (client, url, start) = (
                    cluster.api.client(),
                    cluster.api.url("/api/v1/namespaces/default/services"),
                    start.clone(),
                );
                let mut spec = serde_json::json!({"selector": {"app": "x"}, "ports": [{"port": 80}]});
                if let Some(ip) = cluster_ip {
                    spec["clusterIP"] = ip.into();
                }
                let svc = serde_json::json!({
                    "apiVersion": "v1", "kind": "Service",
                    "metadata": {"name": format!("{prefix}-{i}")}, "spec": spec,
                });
                std::thread::spawn(move || {
                    // Connected first, so that the creates arrive together.
                    client.get(&url).send().expect("a list");
                    start.wait();
                    let answer = client.post(url).json(&svc).send().expect("a create");
                    (
                        answer.status().as_u16(),
                        answer.json::<Value>().expect("a JSON answer"),
                    )
                })
            })
            .collect();
        creates.into_iter().map(|c| c.join().unwrap()).collect()
    };
    // They race for one address: exactly one gets it, the others are told it is taken.
    let raced = create_all("racer", Some("127.77.201.9"));
    assert_eq!(
        raced.iter().filter(|(code, _)| *code == 201).count(),
        1,
        "{raced:#?}"
    );
    for (code, refused) in raced.iter().filter(|(code, _)| *code != 201) {
        assert_eq!(*code, 422, "{refused}");
        assert!(
            refused["message"].as_str().unwrap().contains("already allocated"),
            "{refused}"
        );
    }
    // Addresses drawn from the range at once are all different, and none is the one above.
    let drawn: std::collections::BTreeSet<String> = create_all("drawn", None)
        .into_iter()
        .map(|(code, svc)| {
            assert_eq!(code, 201, "{svc}");
            svc["spec"]["clusterIP"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(drawn.len(), RACERS, "{drawn:?}");
    assert!(!drawn.contains("127.77.201.9"), "{drawn:?}");
}

/// Whether this process may edit the system's hosts file; under CI it must.
fn hosts_file_writable() -> bool {
    let writable = std::fs::OpenOptions::new()
        .append(true)
        .open("/etc/hosts")
        .is_ok();
    if !writable {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI runs as root: /etc/hosts must be writable for the Service-name tests"
        );
        eprintln!("skipped: /etc/hosts is not writable (run as root to test Service names)");
    }
    writable
}

/// What `name` resolves to through the system's resolver (the hosts file among its sources).
fn resolve(name: &str) -> Vec<IpAddr> {
    (name, 0)
        .to_socket_addrs()
        .map(|a| a.map(|s| s.ip()).collect())
        .unwrap_or_default()
}

fn block_marker(env: &TestEnv) -> String {
    format!("# BEGIN jube {}", env.home().display())
}

#[test]
#[cfg(target_os = "linux")]
fn pods_reach_services_by_name_and_names_follow_services_restarts_and_the_daemon() {
    if perl_missing() || !hosts_file_writable() {
        return;
    }
    let mut env = TestEnv::new();
    env.set_env("JUBE_HOSTS_FILE", "/etc/hosts");
    // Names are global in the hosts file: unique ones, so that parallel tests never meet.
    let n = env.port_range().0;
    let (ns, backend) = (format!("names{n}"), format!("backend{n}"));
    let cluster = Cluster::serving_in(env, &images());
    cluster.kubectl().args(["create", "namespace", &ns]).success();
    cluster.apply(
        "backend.yaml",
        &web_and_service(&backend, &ns, 8080, "hello-backend"),
    );
    // A manifest as microservice demos write them: the address is `name:port`.
    let fqdn_url = format!("http://{backend}.{ns}.svc.cluster.local:8080/");
    cluster.apply(
        "client.yaml",
        &format!(
            "apiVersion: v1
kind: Pod
metadata:
  name: client
  namespace: {ns}
spec:
  containers:
  - name: client
    image: example/client:1.0
    env:
    - name: BACKEND_ADDR
      value: {backend}:8080
    - name: FQDN_URL
      value: {fqdn_url}
"
        ),
    );
    let address = listening(&cluster, &backend, &ns);
    for (url, what) in [
        (format!("http://{backend}:8080/"), "short name"),
        (fqdn_url.clone(), "FQDN"),
    ] {
        let wanted = format!("GET {url} -> 200 hello-backend");
        wait_until(
            &format!("the client reaching the backend by its {what}"),
            PATIENCE,
            || {
                let logs = cluster.kubectl().args(["logs", "client", "-n", &ns]).output();
                logs.stdout.contains(&wanted)
            },
        );
    }
    for name in [
        backend.clone(),
        format!("{backend}.{ns}"),
        format!("{backend}.{ns}.svc"),
        format!("{backend}.{ns}.svc.cluster.local"),
    ] {
        assert_eq!(resolve(&name), [address.ip()], "{name}");
    }

    // A daemon stop takes its block out; the next daemon puts it back, with the same address.
    let env = cluster.api.stop();
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap();
    assert!(!hosts.contains(&block_marker(&env)), "{hosts}");
    assert!(resolve(&format!("{backend}.{ns}")).is_empty());
    let cluster = Cluster::serving_in(env, &images());
    wait_until("the name back after a restart", PATIENCE, || {
        resolve(&format!("{backend}.{ns}.svc.cluster.local")) == [address.ip()]
    });
    wait_until("the backend answering by name after a restart", PATIENCE, || {
        http_get(address).as_deref() == Some("hello-backend")
    });
    assert_eq!(listening(&cluster, &backend, &ns), address);

    // Deleting the Service takes its names away.
    cluster
        .kubectl()
        .args(["delete", "svc", &backend, "-n", &ns])
        .success();
    wait_until("the names gone with the Service", PATIENCE, || {
        resolve(&format!("{backend}.{ns}")).is_empty() && resolve(&backend).is_empty()
    });
    let env = cluster.api.stop();
    assert!(
        !std::fs::read_to_string("/etc/hosts")
            .unwrap()
            .contains(&block_marker(&env))
    );
}

#[test]
fn an_unwritable_hosts_file_warns_once_and_pods_still_start() {
    if perl_missing() {
        return;
    }
    let mut env = TestEnv::new();
    // A folder where a file is expected: no one, root included, can write it.
    let hosts = env.root().join("hosts-dir");
    std::fs::create_dir_all(&hosts).unwrap();
    env.set_env("JUBE_HOSTS_FILE", &hosts);
    let cluster = Cluster::serving_in(env, &images());
    cluster.apply("web.yaml", &web_and_service("web", "default", 8080, "still-here"));
    let address = listening(&cluster, "web", "default");
    wait_until("the pod answering", PATIENCE, || {
        http_get(address).as_deref() == Some("still-here")
    });
    let log = std::fs::read_to_string(cluster.api.env.home().join("daemon.log")).unwrap();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("cannot write Service names"))
        .collect();
    assert_eq!(warnings.len(), 1, "{log}");
    assert!(warnings[0].contains("web.default.svc.cluster.local"), "{log}");
    assert!(warnings[0].contains("run the daemon as root"), "{log}");
}
