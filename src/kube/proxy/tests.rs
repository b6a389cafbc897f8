//! The proxies against real TCP servers on 127.0.0.1.

use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener as StdListener};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use super::*;

/// Only a guard against a hang; nothing here measures time.
const GUARD: Duration = Duration::from_secs(30);

async fn guard<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(GUARD, future)
        .await
        .unwrap_or_else(|_| panic!("{what} hung"))
}

struct TestEnv {
    _dir: tempfile::TempDir,
    layout: Layout,
    range: PortRange,
    manager: ProxyManager,
}

impl TestEnv {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path().join("jube"));
        std::fs::create_dir_all(layout.home()).unwrap();
        let range = random_range(32);
        let manager = new_manager(&layout, range);
        Self {
            _dir: dir,
            layout,
            range,
            manager,
        }
    }

    async fn sync(&self, desired: &[ServiceProxy]) -> BTreeMap<ServiceKey, Vec<ProxyPort>> {
        guard("sync", self.manager.sync(desired)).await
    }

    /// Syncs `desired` and returns where the first port of service `name` listens.
    async fn listen_port(&self, desired: &[ServiceProxy], name: &str) -> u16 {
        let listening = self.sync(desired).await;
        listening[&key(name)]
            .first()
            .unwrap_or_else(|| panic!("{name} is not proxied: {}", self.log()))
            .listen_port
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.layout.daemon_log()).unwrap_or_default()
    }

    fn leased_ports(&self, name: &str) -> Vec<u16> {
        ports::leases_of(&self.layout, &key(name).lease_owner())
            .unwrap()
            .iter()
            .map(|l| l.host_port)
            .collect()
    }
}

fn new_manager(layout: &Layout, range: PortRange) -> ProxyManager {
    let log = DaemonLog::open(layout).unwrap();
    ProxyManager::new(IpAddr::V4(Ipv4Addr::LOCALHOST), layout.clone(), log).with_port_range(range)
}

/// A range of `width` ports from a random base in 20000..30000 (below the ephemeral ports), so
/// tests running at the same time rarely meet.
fn random_range(width: u16) -> PortRange {
    let random = std::collections::hash_map::RandomState::new().hash_one(0u8);
    let start = 20000 + (random % u64::from(10000 - width)) as u16;
    PortRange {
        start,
        end: start + width - 1,
    }
}

fn key(name: &str) -> ServiceKey {
    ServiceKey::new("default", name)
}

fn service(name: &str, ports: Vec<ServicePortSpec>) -> ServiceProxy {
    ServiceProxy {
        key: key(name),
        cluster_ip: None,
        ports,
    }
}

fn port_spec(port: u16, backends: &[SocketAddr]) -> ServicePortSpec {
    ServicePortSpec {
        name: None,
        port,
        node_port: None,
        backends: backends.to_vec(),
    }
}

fn free_port() -> u16 {
    StdListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An address nothing listens on.
fn dead_backend() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), free_port())
}

/// A server that greets each connection with `tag` and a newline, then echoes until EOF.
async fn tagged_backend(tag: &'static str) -> SocketAddr {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = stream.write_all(format!("{tag}\n").as_bytes()).await;
                let (mut read, mut write) = stream.split();
                let _ = tokio::io::copy(&mut read, &mut write).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    addr
}

/// A server that reads each connection to EOF, then answers how many bytes it got and closes.
async fn counting_backend() -> SocketAddr {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut data = Vec::new();
                let _ = stream.read_to_end(&mut data).await;
                let _ = stream
                    .write_all(format!("got {} bytes", data.len()).as_bytes())
                    .await;
                let _ = stream.shutdown().await;
            });
        }
    });
    addr
}

type Conn = BufReader<TcpStream>;

/// Connects through the proxy on `port` and returns the backend's greeting.
async fn connect(port: u16) -> (String, Conn) {
    let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await.unwrap();
    let mut conn = BufReader::new(stream);
    let mut line = String::new();
    guard("greeting", conn.read_line(&mut line)).await.unwrap();
    (line.trim_end().to_owned(), conn)
}

async fn assert_echoes(conn: &mut Conn, text: &str) {
    conn.get_mut()
        .write_all(format!("{text}\n").as_bytes())
        .await
        .unwrap();
    let mut line = String::new();
    guard("echo", conn.read_line(&mut line)).await.unwrap();
    assert_eq!(line, format!("{text}\n"));
}

async fn greetings(port: u16, count: usize) -> Vec<String> {
    let mut tags = Vec::new();
    for _ in 0..count {
        tags.push(connect(port).await.0);
    }
    tags
}

/// Reads what the proxy sends after it gave up on a connection: nothing, then a clean end.
async fn assert_closed_cleanly(port: u16) {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await.unwrap();
    // A request already sent must not turn the close into a reset.
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut received = Vec::new();
    let read = guard("close", stream.read_to_end(&mut received)).await;
    assert!(read.is_ok(), "a FIN, not a reset: {read:?}");
    assert!(received.is_empty());
    // The proxy still reads what comes (a closed socket would answer with a reset, and the
    // next write would fail).
    for _ in 0..3 {
        let written = stream.write_all(b"more").await;
        assert!(written.is_ok(), "no reset after the FIN: {written:?}");
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_across_three_backends() {
    let env = TestEnv::new();
    let backends = [
        tagged_backend("a").await,
        tagged_backend("b").await,
        tagged_backend("c").await,
    ];
    let port = env
        .listen_port(&[service("web", vec![port_spec(free_port(), &backends)])], "web")
        .await;
    let tags = greetings(port, 9).await;
    let mut first: Vec<&str> = tags[..3].iter().map(String::as_str).collect();
    assert_eq!(tags[3..6], tags[..3], "the same order again: {tags:?}");
    assert_eq!(tags[6..9], tags[..3], "{tags:?}");
    first.sort();
    assert_eq!(first, ["a", "b", "c"], "each backend once per round: {tags:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_backend_is_skipped() {
    let env = TestEnv::new();
    let backends = [
        tagged_backend("a").await,
        dead_backend(),
        tagged_backend("b").await,
    ];
    let port = env
        .listen_port(&[service("web", vec![port_spec(free_port(), &backends)])], "web")
        .await;
    let tags = greetings(port, 6).await;
    assert!(tags.iter().all(|t| t == "a" || t == "b"), "{tags:?}");
    assert!(
        tags.contains(&"a".to_owned()) && tags.contains(&"b".to_owned()),
        "{tags:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_backend_connections_are_closed_at_once() {
    let env = TestEnv::new();
    let port = env
        .listen_port(&[service("web", vec![port_spec(free_port(), &[])])], "web")
        .await;
    assert_closed_cleanly(port).await;
    assert!(env.log().contains("no ready backend"), "{}", env.log());

    // Backends that all refuse are the same as none.
    let port = env
        .listen_port(
            &[service(
                "web",
                vec![port_spec(port, &[dead_backend(), dead_backend()])],
            )],
            "web",
        )
        .await;
    assert_closed_cleanly(port).await;

    // And once a backend is ready, connections go through again.
    let backend = tagged_backend("a").await;
    env.sync(&[service("web", vec![port_spec(port, &[backend])])])
        .await;
    assert_eq!(connect(port).await.0, "a");
    assert!(env.log().contains("forwarding again"), "{}", env.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backends_change_in_place_without_dropping_open_connections() {
    let env = TestEnv::new();
    let (a, b) = (tagged_backend("a").await, tagged_backend("b").await);
    let service_port = free_port();
    let port = env
        .listen_port(&[service("web", vec![port_spec(service_port, &[a])])], "web")
        .await;
    let (tag, mut open) = connect(port).await;
    assert_eq!(tag, "a");
    assert_echoes(&mut open, "before").await;

    let again = env
        .listen_port(&[service("web", vec![port_spec(service_port, &[b])])], "web")
        .await;
    assert_eq!(again, port, "the listener stays on its port");
    assert_echoes(&mut open, "after").await;
    assert_eq!(greetings(port, 3).await, ["b", "b", "b"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_port_is_used_when_free() {
    let env = TestEnv::new();
    let backend = tagged_backend("a").await;
    let wanted = free_port();
    let listening = env
        .sync(&[service(
            "web",
            vec![ServicePortSpec {
                name: Some("http".to_owned()),
                ..port_spec(wanted, &[backend])
            }],
        )])
        .await;
    assert_eq!(
        listening[&key("web")],
        vec![ProxyPort {
            name: Some("http".to_owned()),
            port: wanted,
            listen_port: wanted
        }]
    );
    assert_eq!(connect(wanted).await.0, "a");
    assert!(env.leased_ports("web").is_empty(), "nothing leased");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_service_port_falls_back_to_a_leased_port_that_stays() {
    let env = TestEnv::new();
    let backend = tagged_backend("a").await;
    let blocker = StdListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let taken = blocker.local_addr().unwrap().port();
    let desired = [service("web", vec![port_spec(taken, &[backend])])];
    let port = env.listen_port(&desired, "web").await;
    assert_ne!(port, taken);
    assert!((env.range.start..=env.range.end).contains(&port), "{port}");
    assert_eq!(
        env.leased_ports("web"),
        [port],
        "leased, so containers never get it"
    );
    assert_eq!(connect(port).await.0, "a");
    assert!(env.log().contains("a leased port"), "{}", env.log());

    // Once bound, the listener stays, even when the service port is free again.
    drop(blocker);
    assert_eq!(env.listen_port(&desired, "web").await, port);
    assert_eq!(env.leased_ports("web"), [port]);

    // Removing the service closes the listener and gives the port back.
    assert!(env.sync(&[]).await.is_empty());
    let refused = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await;
    assert!(refused.is_err(), "the listener is closed");
    assert!(env.leased_ports("web").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_port_leased_to_a_container_is_left_to_it() {
    let env = TestEnv::new();
    let wanted = free_port();
    // A container that holds the port but whose app does not listen yet.
    std::fs::create_dir_all(env.layout.container_dir("c0ffee")).unwrap();
    let request = PortRequest {
        name: "http".to_owned(),
        container_port: 8080,
        host_port: Some(wanted),
    };
    ports::lease(&env.layout, "c0ffee", &[request], env.range, &|_| true).unwrap();
    let port = env
        .listen_port(&[service("web", vec![port_spec(wanted, &[])])], "web")
        .await;
    assert_ne!(port, wanted);
    assert!(env.log().contains("leased to container c0ffee"), "{}", env.log());
    // The service's own lease kept the container's.
    assert_eq!(ports::leases_of(&env.layout, "c0ffee").unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_port_is_used_when_set() {
    let env = TestEnv::new();
    let backend = tagged_backend("a").await;
    let node_port = free_port();
    let port = env
        .listen_port(
            &[service(
                "web",
                vec![ServicePortSpec {
                    node_port: Some(node_port),
                    ..port_spec(free_port(), &[backend])
                }],
            )],
            "web",
        )
        .await;
    assert_eq!(port, node_port);
    assert_eq!(connect(port).await.0, "a");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_node_port_falls_back_is_logged_and_taken_once_free() {
    let env = TestEnv::new();
    let backend = tagged_backend("a").await;
    let blocker = StdListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let node_port = blocker.local_addr().unwrap().port();
    let service_port = free_port();
    let desired = [service(
        "web",
        vec![ServicePortSpec {
            node_port: Some(node_port),
            ..port_spec(service_port, &[backend])
        }],
    )];
    assert_eq!(env.listen_port(&desired, "web").await, service_port);
    assert!(
        env.log()
            .contains(&format!("node port {node_port} cannot be bound")),
        "{}",
        env.log()
    );
    let (_, mut open) = connect(service_port).await;

    drop(blocker);
    assert_eq!(env.listen_port(&desired, "web").await, node_port);
    assert_eq!(connect(node_port).await.0, "a");
    assert_echoes(&mut open, "still open").await;
    assert!(
        TcpStream::connect((Ipv4Addr::LOCALHOST, service_port))
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_close_reaches_the_backend_and_the_answer_comes_back() {
    let env = TestEnv::new();
    let backend = counting_backend().await;
    let port = env
        .listen_port(
            &[service("count", vec![port_spec(free_port(), &[backend])])],
            "count",
        )
        .await;
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await.unwrap();
    stream.write_all(b"hello").await.unwrap();
    stream.shutdown().await.unwrap();
    let mut answer = String::new();
    guard("answer", stream.read_to_string(&mut answer)).await.unwrap();
    assert_eq!(answer, "got 5 bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_megabytes_arrive_byte_exact_both_ways() {
    let env = TestEnv::new();
    let backend = tagged_backend("echo").await;
    let port = env
        .listen_port(
            &[service("echo", vec![port_spec(free_port(), &[backend])])],
            "echo",
        )
        .await;
    let (_, conn) = connect(port).await;
    let mut stream = conn.into_inner();
    let data: Vec<u8> = {
        let mut x: u32 = 0x9e37_79b9;
        (0..10 * 1024 * 1024)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect()
    };
    let (mut read, mut write) = stream.split();
    let send = async {
        write.write_all(&data).await.unwrap();
        write.shutdown().await.unwrap();
    };
    let mut echoed = Vec::with_capacity(data.len());
    let receive = read.read_to_end(&mut echoed);
    let ((), received) = guard("transfer", async { tokio::join!(send, receive) }).await;
    received.unwrap();
    assert_eq!(echoed.len(), data.len());
    assert!(echoed == data, "the bytes differ");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_port_closes_only_its_listener() {
    let env = TestEnv::new();
    let backend = tagged_backend("a").await;
    let (http, admin) = (free_port(), free_port());
    env.sync(&[service(
        "web",
        vec![port_spec(http, &[backend]), port_spec(admin, &[backend])],
    )])
    .await;
    assert_eq!(connect(admin).await.0, "a");
    let listening = env
        .sync(&[service("web", vec![port_spec(http, &[backend])])])
        .await;
    assert_eq!(listening[&key("web")].len(), 1);
    assert!(TcpStream::connect((Ipv4Addr::LOCALHOST, admin)).await.is_err());
    assert_eq!(connect(http).await.0, "a");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_every_listener_and_keeps_leases_for_the_next_daemon() {
    let env = TestEnv::new();
    let backend = tagged_backend("a").await;
    let blocker = StdListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let taken = blocker.local_addr().unwrap().port();
    let open_port = free_port();
    let desired = [
        service("leased", vec![port_spec(taken, &[backend])]),
        service("plain", vec![port_spec(open_port, &[backend])]),
    ];
    let leased = env.listen_port(&desired, "leased").await;
    guard("shutdown", env.manager.shutdown()).await;
    for port in [leased, open_port] {
        assert!(
            TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await.is_err(),
            "{port}"
        );
    }
    assert!(
        env.sync(&desired).await.is_empty(),
        "a closed manager opens nothing"
    );
    assert_eq!(env.leased_ports("leased"), [leased]);

    // The next daemon gets the same leased port back, and gives back a gone service's ports.
    ports::lease(
        &env.layout,
        &key("gone").lease_owner(),
        &[PortRequest {
            name: "80".to_owned(),
            container_port: 80,
            host_port: None,
        }],
        env.range,
        &|_| true,
    )
    .unwrap();
    let next = new_manager(&env.layout, env.range);
    let listening = guard("sync", next.sync(&desired)).await;
    assert_eq!(listening[&key("leased")][0].listen_port, leased);
    assert_eq!(connect(leased).await.0, "a");
    assert!(env.leased_ports("gone").is_empty(), "{}", env.log());
}

/// Bug: a restarted daemon moved a service from its leased port to its service port once that was
/// free, and pods started earlier (whose environment names the leased port) lost it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_a_restarted_daemon_keeps_the_leased_port_when_the_service_port_is_free_again() {
    let env = TestEnv::new();
    let backend = tagged_backend("a").await;
    let blocker = StdListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let taken = blocker.local_addr().unwrap().port();
    let desired = [service("web", vec![port_spec(taken, &[backend])])];
    let leased = env.listen_port(&desired, "web").await;
    guard("shutdown", env.manager.shutdown()).await;
    drop(blocker);

    let next = new_manager(&env.layout, env.range);
    let listening = guard("sync", next.sync(&desired)).await;
    assert_eq!(listening[&key("web")][0].listen_port, leased, "{}", env.log());
    assert_eq!(env.leased_ports("web"), [leased]);
    assert_eq!(connect(leased).await.0, "a");
    assert!(env.log().contains("the port it had before"), "{}", env.log());
}

/// A leased port another program took while no daemon ran is replaced by a new lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leased_port_taken_meanwhile_is_leased_anew() {
    let env = TestEnv::new();
    let backend = tagged_backend("a").await;
    let blocker = StdListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let taken = blocker.local_addr().unwrap().port();
    let desired = [service("web", vec![port_spec(taken, &[backend])])];
    let leased = env.listen_port(&desired, "web").await;
    guard("shutdown", env.manager.shutdown()).await;
    let squatter = StdListener::bind((Ipv4Addr::LOCALHOST, leased)).unwrap();

    let next = new_manager(&env.layout, env.range);
    let listening = guard("sync", next.sync(&desired)).await;
    let port = listening[&key("web")][0].listen_port;
    assert_ne!(port, leased);
    assert_eq!(env.leased_ports("web"), [port], "the table follows the listener");
    assert_eq!(connect(port).await.0, "a");
    drop((squatter, blocker));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_with_no_port_left_to_lease_is_logged_and_proxied_once_one_is_free() {
    let env = TestEnv::new();
    let backend = tagged_backend("a").await;
    let service_blocker = StdListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let range_blocker = StdListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let only = range_blocker.local_addr().unwrap().port();
    let manager = new_manager(
        &env.layout,
        PortRange {
            start: only,
            end: only,
        },
    );
    let taken = service_blocker.local_addr().unwrap().port();
    let desired = [service("web", vec![port_spec(taken, &[backend])])];

    let listening = guard("sync", manager.sync(&desired)).await;
    assert_eq!(listening[&key("web")], [], "nothing listens");
    let log = env.log();
    assert!(
        log.contains(&format!("service default/web port {taken}: not proxied")),
        "{log}"
    );
    assert!(
        log.contains("no free host port left") && log.contains("JUBE_PORT_END"),
        "{log}"
    );
    assert!(env.leased_ports("web").is_empty(), "no lease half-made");

    drop(range_blocker);
    let listening = guard("sync", manager.sync(&desired)).await;
    assert_eq!(listening[&key("web")][0].listen_port, only);
    assert_eq!(connect(only).await.0, "a");
    drop(service_blocker);
}

#[test]
fn lease_owners_name_services_and_containers() {
    assert_eq!(key("web").lease_owner(), "svc~default~web");
    assert_eq!(describe_owner("svc~default~web"), "service default/web");
    assert_eq!(describe_owner("0123456789abcdef"), "container 0123456789ab");
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::new(dir.path());
    let live = BTreeSet::from(["svc~default~web".to_owned()]);
    assert!(owner_is_live(&layout, &live, "svc~default~web"));
    assert!(!owner_is_live(&layout, &live, "svc~default~gone"));
    assert!(!owner_is_live(&layout, &live, "c0ffee"));
    std::fs::create_dir_all(layout.container_dir("c0ffee")).unwrap();
    assert!(owner_is_live(&layout, &live, "c0ffee"));
}

#[test]
fn lease_names_change_on_each_failed_bind_and_earlier_ones_are_found() {
    assert_eq!(renamed(80, "80"), "80~1");
    assert_eq!(renamed(80, "80~1"), "80~2");
    let lease = |name: &str| Lease {
        name: name.to_owned(),
        container_port: 80,
        host_port: 20000,
    };
    let mut earlier = vec![lease("8080"), lease("80~2"), lease("800")];
    assert_eq!(take_earlier(&mut earlier, 80).as_deref(), Some("80~2"));
    assert_eq!(take_earlier(&mut earlier, 80), None);
    assert_eq!(take_earlier(&mut earlier, 8080).as_deref(), Some("8080"));
    assert_eq!(earlier, [lease("800")]);
}

/// Two addresses of 127.0.0.0/8 no other test uses (Linux answers on all of it).
#[cfg(target_os = "linux")]
fn own_addresses() -> (IpAddr, IpAddr) {
    let random = std::collections::hash_map::RandomState::new().hash_one(1u8);
    let [a, b, _, _, _, _, _, _] = random.to_le_bytes();
    (
        IpAddr::V4(Ipv4Addr::new(127, 78, a, b.max(1) & 0xfe)),
        IpAddr::V4(Ipv4Addr::new(127, 78, a, (b.max(1) & 0xfe) + 1)),
    )
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_on_one_port_listen_each_on_its_own_address_with_node_ports_beside() {
    let env = TestEnv::new();
    let (red_ip, blue_ip) = own_addresses();
    let (red, blue) = (tagged_backend("red").await, tagged_backend("blue").await);
    let port = free_port();
    let node_port = free_port();
    let mut red_spec = port_spec(port, &[red]);
    red_spec.node_port = Some(node_port);
    let desired = [
        ServiceProxy {
            cluster_ip: Some(red_ip),
            ..service("red", vec![red_spec])
        },
        ServiceProxy {
            cluster_ip: Some(blue_ip),
            ..service("blue", vec![port_spec(port, &[blue])])
        },
    ];
    let listening = env.sync(&desired).await;
    assert_eq!(listening[&key("red")][0].listen_port, port, "{}", env.log());
    assert_eq!(listening[&key("blue")][0].listen_port, port, "{}", env.log());
    let hosts = env.manager.service_hosts().await;
    assert_eq!((hosts[&key("red")], hosts[&key("blue")]), (red_ip, blue_ip));
    for (ip, tag) in [(red_ip, "red"), (blue_ip, "blue")] {
        let stream = TcpStream::connect((ip, port)).await.unwrap();
        let mut line = String::new();
        guard("greeting", BufReader::new(stream).read_line(&mut line))
            .await
            .unwrap();
        assert_eq!(line.trim_end(), tag);
    }
    // The node port listens on the daemon's address, to the same pods.
    assert_eq!(connect(node_port).await.0, "red");
    // Gone with the service.
    env.sync(&desired[1..]).await;
    assert!(TcpStream::connect((red_ip, port)).await.is_err());
    assert!(
        TcpStream::connect((Ipv4Addr::LOCALHOST, node_port))
            .await
            .is_err()
    );
    assert_eq!(env.manager.service_hosts().await.len(), 1);
}

/// Where the system does not answer on a Service's address (macOS without `lo0` aliases; here a
/// documentation address no interface has), the Service listens on the daemon's address as
/// before, and the daemon says so once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_the_system_does_not_answer_on_falls_back_to_the_daemon_s_and_says_so_once() {
    let env = TestEnv::new();
    let backend = tagged_backend("a").await;
    let (one, two) = (free_port(), free_port());
    let elsewhere = |name: &str, last: u8, port: u16| ServiceProxy {
        cluster_ip: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))),
        ..service(name, vec![port_spec(port, &[backend])])
    };
    let desired = [elsewhere("one", 1, one), elsewhere("two", 2, two)];
    let listening = env.sync(&desired).await;
    assert_eq!(listening[&key("one")][0].listen_port, one, "{}", env.log());
    assert_eq!(listening[&key("two")][0].listen_port, two, "{}", env.log());
    let hosts = env.manager.service_hosts().await;
    assert_eq!(hosts[&key("one")], IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_eq!(connect(one).await.0, "a");
    assert_eq!(
        env.log().matches("does not answer on").count(),
        1,
        "{}",
        env.log()
    );
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_node_port_beside_an_own_address_is_logged_once_and_taken_when_free() {
    let env = TestEnv::new();
    let (ip, _) = own_addresses();
    let backend = tagged_backend("a").await;
    let blocker = StdListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let node_port = blocker.local_addr().unwrap().port();
    let mut spec = port_spec(free_port(), &[backend]);
    spec.node_port = Some(node_port);
    let desired = [ServiceProxy {
        cluster_ip: Some(ip),
        ..service("web", vec![spec])
    }];
    env.sync(&desired).await;
    env.sync(&desired).await;
    assert_eq!(env.log().matches("cannot be bound").count(), 1, "{}", env.log());
    drop(blocker);
    env.sync(&desired).await;
    assert_eq!(connect(node_port).await.0, "a");
}
