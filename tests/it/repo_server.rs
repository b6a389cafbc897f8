//! Self-tests of the Maven repository server, with reqwest and with real curl.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::blocking::Client;

use crate::common::{Fault, Out, RepoServer, TestEnv, fixtures};

fn client() -> Client {
    Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("build a reqwest client")
}

/// Real curl, sealed off like every test command; `--noproxy` so no proxy setting interferes.
fn curl(env: &TestEnv, args: &[&str]) -> Out {
    env.command("curl")
        .args(["-sS", "--noproxy", "*", "--max-time", "20"])
        .args(args)
        .output()
}

fn get(url: &str) -> (StatusCode, Vec<u8>) {
    let response = client().get(url).send().expect("GET");
    let status = response.status();
    (status, response.bytes().expect("read the body").to_vec())
}

/// Content that shows a misplaced or missing byte.
fn numbered_bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

#[test]
fn get_head_put_round_trip_with_reqwest() {
    let server = RepoServer::start();
    let url = format!("{}g/a/1/a-1.zip", server.url());
    let body = numbered_bytes(100_000);

    let put = client().put(&url).body(body.clone()).send().expect("PUT");
    assert_eq!(put.status(), StatusCode::CREATED);
    assert_eq!(
        std::fs::read(server.root().join("g/a/1/a-1.zip")).expect("the PUT file"),
        body
    );

    assert_eq!(get(&url), (StatusCode::OK, body.clone()));

    let head = client().head(&url).send().expect("HEAD");
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()["content-length"], "100000");
    assert!(head.bytes().expect("HEAD body").is_empty());

    let replaced = client().put(&url).body("new").send().expect("second PUT");
    assert_eq!(replaced.status(), StatusCode::NO_CONTENT);
    assert_eq!(get(&url), (StatusCode::OK, b"new".to_vec()));
}

#[test]
fn get_head_put_round_trip_with_curl() {
    let env = TestEnv::new();
    let server = RepoServer::start();
    let url = format!("{}io/x/y/1.0/y-1.0-image.zip", server.url());
    let upload = env.root().join("upload.bin");
    let body = numbered_bytes(3 * 1024 * 1024); // big enough for curl to send `Expect: 100-continue`
    std::fs::write(&upload, &body).expect("write the upload");

    let put = curl(
        &env,
        &["-f", "-T", upload.to_str().unwrap(), "-w", "%{http_code}", &url],
    );
    assert_eq!(put.assert_success().stdout, "201");

    let download = env.root().join("download.bin");
    curl(&env, &["-f", "-o", download.to_str().unwrap(), &url]).assert_success();
    assert!(
        std::fs::read(&download).expect("the download") == body,
        "curl got other bytes"
    );

    let head = curl(&env, &["-f", "-I", &url]).assert_success();
    head.stdout_contains("content-length: 3145728");
}

#[test]
fn missing_files_and_folders_are_404_and_escaping_paths_400() {
    let env = TestEnv::new();
    let server = RepoServer::start();
    server.put_file("io/x/y/1.0/y-1.0.pom", b"<project/>");

    assert_eq!(
        get(&format!("{}io/x/y/1.0/missing.zip", server.url())).0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&format!("{}io/x/y/1.0/", server.url())).0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&format!("{}io/x/y/1.0", server.url())).0,
        StatusCode::NOT_FOUND
    );
    for path in ["io/../../outside.txt", "io/%2e%2e/%2e%2e/outside.txt", "io/x/%zz"] {
        let url = format!("{}{path}", server.url());
        let out = curl(
            &env,
            &["--path-as-is", "-o", "/dev/null", "-w", "%{http_code}", &url],
        );
        assert_eq!(out.assert_success().stdout, "400", "{path}");
    }
    assert_eq!(
        get(&format!("{}io/x/y/1.0/y-1.0.pom", server.url())).0,
        StatusCode::OK
    );
}

#[test]
fn put_creates_folders_and_put_file_is_served() {
    let server = RepoServer::start();
    server.put_file("/a/b/c/file.txt", b"one");
    assert_eq!(
        get(&format!("{}a/b/c/file.txt", server.url())),
        (StatusCode::OK, b"one".to_vec())
    );
    let put = client()
        .put(format!("{}deep/er/still/file.txt", server.url()))
        .body("two")
        .send()
        .expect("PUT");
    assert_eq!(put.status(), StatusCode::CREATED);
    assert_eq!(
        std::fs::read(server.root().join("deep/er/still/file.txt")).unwrap(),
        b"two"
    );
    let folder = client()
        .put(format!("{}a/b", server.url()))
        .body("x")
        .send()
        .expect("PUT on a folder");
    assert_eq!(folder.status(), StatusCode::CONFLICT);
}

#[test]
fn status_fault_answers_that_status_for_matching_paths_only() {
    let env = TestEnv::new();
    let server = RepoServer::start();
    server.put_file("g/a/1/a-1-image.zip", b"zip");
    server.put_file("g/a/1/a-1.pom", b"pom");
    server.set_fault(Some("-image.zip"), Fault::Status(500));

    assert_eq!(
        get(&format!("{}g/a/1/a-1-image.zip", server.url())).0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(
        get(&format!("{}g/a/1/a-1.pom", server.url())),
        (StatusCode::OK, b"pom".to_vec())
    );
    let out = curl(&env, &["-f", &format!("{}g/a/1/a-1-image.zip", server.url())]);
    assert_eq!(out.code, Some(22), "curl -f exits 22 on an HTTP error\n{out}");
    out.stderr_contains("500");

    let put = client()
        .put(format!("{}g/a/2/a-2-image.zip", server.url()))
        .body("x")
        .send()
        .unwrap();
    assert_eq!(
        put.status(),
        StatusCode::INTERNAL_SERVER_ERROR,
        "faults apply to PUT as well"
    );
    assert!(!server.root().join("g/a/2/a-2-image.zip").exists());
}

#[test]
fn not_found_fault_hides_an_existing_file() {
    let server = RepoServer::start();
    server.put_file("g/a/maven-metadata.xml", b"<metadata/>");
    server.set_fault(Some("maven-metadata.xml"), Fault::NotFound);
    assert_eq!(
        get(&format!("{}g/a/maven-metadata.xml", server.url())).0,
        StatusCode::NOT_FOUND
    );
    server.clear_faults();
    assert_eq!(
        get(&format!("{}g/a/maven-metadata.xml", server.url())).0,
        StatusCode::OK
    );
}

#[test]
fn truncate_fault_declares_the_full_length_but_sends_less() {
    let env = TestEnv::new();
    let server = RepoServer::start();
    let body = numbered_bytes(50_000);
    server.put_file("g/a/1/a-1-image.zip", &body);
    server.set_fault(Some(".zip"), Fault::Truncate { after: 1000 });
    let url = format!("{}g/a/1/a-1-image.zip", server.url());

    let mut response = client().get(&url).send().expect("the head arrives");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.content_length(), Some(50_000));
    let mut got = Vec::new();
    let error = std::io::Read::read_to_end(&mut response, &mut got).expect_err("the body ends early");
    assert_eq!(got, body[..1000], "exactly the first 1000 bytes arrive ({error})");

    let out = curl(&env, &["-o", "/dev/null", "-w", "%{size_download}", &url]);
    assert_eq!(
        out.code,
        Some(18),
        "curl: transfer closed with bytes remaining\n{out}"
    );
    assert_eq!(out.stdout, "1000");

    // HEAD is not cut, and the next response on a kept-alive connection is whole again.
    let head = client().head(&url).send().expect("HEAD");
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()["content-length"], "50000");
    server.put_file("g/a/1/a-1.pom", b"pom");
    let keep_alive = client();
    keep_alive
        .get(&url)
        .send()
        .and_then(|r| r.bytes())
        .expect_err("truncated");
    let pom = keep_alive
        .get(format!("{}g/a/1/a-1.pom", server.url()))
        .send()
        .and_then(|r| r.bytes());
    assert_eq!(pom.expect("the pom").as_ref(), b"pom");

    // A truncation point past the end is no truncation.
    server.set_fault(Some(".zip"), Fault::Truncate { after: 50_000 });
    assert_eq!(get(&url), (StatusCode::OK, body));
}

#[test]
fn reset_fault_closes_the_connection_before_any_response() {
    let env = TestEnv::new();
    let server = RepoServer::start();
    server.put_file("g/a/1/a-1-image.zip", b"zip");
    server.set_fault(None, Fault::Reset);
    let url = format!("{}g/a/1/a-1-image.zip", server.url());

    let error = client()
        .get(&url)
        .send()
        .expect_err("a reset connection is an error");
    assert!(error.status().is_none(), "no status may arrive: {error:?}");

    let out = curl(&env, &[&url]);
    // 52: empty reply from server; 56: failure receiving data (connection reset by peer).
    assert!(matches!(out.code, Some(52 | 56)), "{out}");
    assert_eq!(
        server.requests(),
        vec![("GET".to_owned(), "/g/a/1/a-1-image.zip".to_owned(), 0); 2]
    );
}

#[test]
fn times_fault_applies_to_the_next_requests_only() {
    let server = RepoServer::start();
    server.put_file("g/a/1/a-1-image.zip", b"zip");
    let url = format!("{}g/a/1/a-1-image.zip", server.url());

    server.set_fault(Some(".zip"), Fault::Times(1, Box::new(Fault::Status(500))));
    assert_eq!(get(&url).0, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(get(&url), (StatusCode::OK, b"zip".to_vec()));
    assert_eq!(get(&url).0, StatusCode::OK);

    server.set_fault(
        None,
        Fault::Times(2, Box::new(Fault::Times(9, Box::new(Fault::NotFound)))),
    );
    assert_eq!(get(&url).0, StatusCode::NOT_FOUND);
    assert_eq!(get(&url).0, StatusCode::NOT_FOUND);
    assert_eq!(get(&url).0, StatusCode::OK, "the outer count rules");

    server.set_fault(None, Fault::Times(0, Box::new(Fault::Status(500))));
    assert_eq!(get(&url).0, StatusCode::OK, "zero times is never");

    let statuses: Vec<u16> = server.requests().into_iter().map(|(_, _, s)| s).collect();
    assert_eq!(statuses, [500, 200, 200, 404, 404, 200, 200]);
}

#[test]
fn slow_fault_paces_the_body_and_ends_with_the_request() {
    let server = RepoServer::start();
    let body = numbered_bytes(10_000);
    server.put_file("g/a/1/a-1-image.zip", &body);
    server.put_file("g/a/1/a-1.pom", b"pom");
    server.set_fault(
        Some(".zip"),
        Fault::Slow {
            bytes_per_sec: 10_000,
        },
    );
    let client = client();

    let started = Instant::now();
    let got = client
        .get(format!("{}g/a/1/a-1-image.zip", server.url()))
        .send()
        .and_then(|r| r.bytes())
        .expect("the slow GET");
    let slow = started.elapsed();
    assert_eq!(got.to_vec(), body);
    // 10 kB at 10 kB/s in 0.1 s steps: at least 0.9 s by construction.
    assert!(slow >= Duration::from_millis(850), "took only {slow:?}");

    // The same keep-alive connection serves the next request at full speed.
    let started = Instant::now();
    let pom = client
        .get(format!("{}g/a/1/a-1.pom", server.url()))
        .send()
        .and_then(|r| r.bytes());
    assert_eq!(pom.expect("the next GET").as_ref(), b"pom");
    assert!(
        started.elapsed() < slow / 2,
        "the next request was slow too: {:?}",
        started.elapsed()
    );
}

#[test]
fn hang_fault_never_answers_and_drop_still_stops_the_server() {
    let server = RepoServer::start();
    server.put_file("g/a/1/a-1-image.zip", b"zip");
    server.set_fault(Some(".zip"), Fault::Hang);
    let quick = Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let error = quick
        .get(format!("{}g/a/1/a-1-image.zip", server.url()))
        .send()
        .expect_err("a hanging request times out");
    assert!(error.is_timeout(), "{error:?}");
    assert_eq!(server.count("GET", ".zip"), 1);

    // A connection left hanging must not keep the server alive.
    let _open = std::net::TcpStream::connect(("127.0.0.1", server.port())).expect("connect");
    let started = Instant::now();
    drop(server);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "drop took {:?}",
        started.elapsed()
    );
}

#[test]
fn basic_auth_is_required_on_every_request() {
    let env = TestEnv::new();
    let server = RepoServer::start_with_auth("alice", "s3cret:x");
    server.put_file("g/a/1/a-1.pom", b"pom");
    let url = format!("{}g/a/1/a-1.pom", server.url());

    let anonymous = client().get(&url).send().expect("GET without credentials");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let challenge = anonymous.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.starts_with("Basic "), "{challenge}");

    let wrong = client()
        .get(&url)
        .basic_auth("alice", Some("nope"))
        .send()
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let right = client()
        .get(&url)
        .basic_auth("alice", Some("s3cret:x"))
        .send()
        .unwrap();
    assert_eq!(right.status(), StatusCode::OK);

    let put = client().put(&url).body("new").send().unwrap();
    assert_eq!(
        put.status(),
        StatusCode::UNAUTHORIZED,
        "PUT needs credentials too"
    );
    assert_eq!(
        std::fs::read(server.root().join("g/a/1/a-1.pom")).unwrap(),
        b"pom"
    );

    let out = curl(&env, &["-f", "-u", "alice:s3cret:x", &url]).assert_success();
    assert_eq!(out.stdout, "pom");
    let out = curl(&env, &["-f", "-u", "alice:wrong", &url]);
    assert_eq!(out.code, Some(22), "{out}");
}

#[test]
fn request_log_records_method_path_and_status() {
    let server = RepoServer::start();
    server.put_file("g/a/1/a-1.pom", b"pom");
    let base = server.url();
    get(&format!("{base}g/a/1/a-1.pom"));
    client().head(format!("{base}g/a/1/a-1.pom")).send().unwrap();
    get(&format!("{base}g/a/1/missing.zip"));
    client()
        .put(format!("{base}g/a/2/a-2.pom"))
        .body("x")
        .send()
        .unwrap();
    client().delete(format!("{base}g/a/2/a-2.pom")).send().unwrap();

    let expected = [
        ("GET", "/g/a/1/a-1.pom", 200),
        ("HEAD", "/g/a/1/a-1.pom", 200),
        ("GET", "/g/a/1/missing.zip", 404),
        ("PUT", "/g/a/2/a-2.pom", 201),
        ("DELETE", "/g/a/2/a-2.pom", 405),
    ]
    .map(|(m, p, s)| (m.to_owned(), p.to_owned(), s));
    assert_eq!(server.requests(), expected);
    assert_eq!(server.count("GET", ".pom"), 1);
    assert_eq!(server.count("get", ""), 2);
    assert_eq!(server.count("PUT", "a-2.pom"), 1);
    server.clear_requests();
    assert!(server.requests().is_empty());
}

#[test]
fn the_fault_set_last_wins_and_clear_faults_restores_service() {
    let server = RepoServer::start();
    server.put_file("g/a/1/a-1-image.zip", b"zip");
    server.put_file("g/a/1/a-1.pom", b"pom");
    let zip = format!("{}g/a/1/a-1-image.zip", server.url());
    let pom = format!("{}g/a/1/a-1.pom", server.url());

    server.set_fault(Some(".zip"), Fault::NotFound);
    server.set_fault(None, Fault::Status(503));
    assert_eq!(get(&zip).0, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(get(&pom).0, StatusCode::SERVICE_UNAVAILABLE);

    server.set_fault(Some(".zip"), Fault::Status(502));
    assert_eq!(
        get(&zip).0,
        StatusCode::BAD_GATEWAY,
        "set again, it is the newest"
    );
    assert_eq!(get(&pom).0, StatusCode::SERVICE_UNAVAILABLE);

    server.clear_faults();
    assert_eq!(get(&zip), (StatusCode::OK, b"zip".to_vec()));
}

#[test]
fn streams_large_files_intact() {
    let server = RepoServer::start();
    let body = numbered_bytes(40 * 1024 * 1024 + 7);
    server.put_file("big/file.zip", &body);
    let (status, got) = get(&format!("{}big/file.zip", server.url()));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got.len(), body.len());
    assert!(got == body, "the large body arrived changed");
}

#[test]
fn dropping_the_server_closes_its_port() {
    let server = RepoServer::start();
    let port = server.port();
    assert!(server.url().ends_with('/'));
    assert_eq!(server.url(), format!("http://127.0.0.1:{port}/"));
    std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect while it runs");
    let root = server.root().to_path_buf();
    drop(server);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "still listening"
    );
    assert!(!root.exists(), "the served folder outlived the server");
}

#[test]
fn publish_image_is_served_with_matching_checksums() {
    let server = RepoServer::start();
    let zip = fixtures::image_zip(&fixtures::simple_image());
    let path = server.publish_image("fabric8/java", "2.0.3", &zip);
    assert_eq!(
        path,
        "io/fabric8/jube/images/fabric8/java/2.0.3/java-2.0.3-image.zip"
    );

    let (status, got) = get(&format!("{}{path}", server.url()));
    assert_eq!((status, got == zip), (StatusCode::OK, true));
    let (status, sha1) = get(&format!("{}{path}.sha1", server.url()));
    assert_eq!(
        (status, String::from_utf8(sha1).unwrap()),
        (StatusCode::OK, fixtures::sha1_hex(&zip))
    );
}
