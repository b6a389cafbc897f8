//! `jube push IMAGE:VERSION [--repo URL|ID]`: deploys as maven-deploy-plugin does, to the loopback
//! repository server; another machine (an empty local repository) then pulls and starts the image.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::build_helpers::{app_base, maven_get, maven_settings, md5_hex, sha1_hex, write_folder, zip_text};
use crate::common::fixtures::simple_image;
use crate::common::{Fault, Out, RepoServer, TestEnv, wait_until};

const GROUP_DIR: &str = "io/fabric8/jube/images/team/app";

/// Builds `team/app:VERSION` from the simple image, greeting as given; returns the zip's bytes.
fn build(env: &TestEnv, version: &str, greeting: &str) -> Vec<u8> {
    let dir = env.root().join(format!("app-{version}-{greeting}"));
    write_folder(&dir, &simple_image());
    std::fs::write(dir.join("env.sh"), format!("export GREETING={greeting}\n")).unwrap();
    let out = env
        .jube()
        .arg("build")
        .arg(&dir)
        .args(["-t", &format!("team/app:{version}")])
        .success();
    std::fs::read(out.last_line()).unwrap()
}

fn push(env: &TestEnv, args: &[&str]) -> Out {
    env.jube().arg("push").args(args).output()
}

/// The version `jube push` deployed, from the coordinates it prints first.
fn pushed_version(out: &Out) -> String {
    let coords = out.stdout.lines().next().expect("the pushed coordinates");
    coords
        .split(':')
        .nth(2)
        .expect("a version in the coordinates")
        .to_owned()
}

fn served(server: &RepoServer, rel: &str) -> Vec<u8> {
    std::fs::read(server.root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn served_text(server: &RepoServer, rel: &str) -> String {
    String::from_utf8(served(server, rel)).unwrap()
}

/// A file on the server and its `.sha1`/`.md5`, which must match it.
fn assert_served_with_checksums(server: &RepoServer, rel: &str) -> Vec<u8> {
    let bytes = served(server, rel);
    assert_eq!(
        served_text(server, &format!("{rel}.sha1")),
        sha1_hex(&bytes),
        "{rel}.sha1"
    );
    assert_eq!(
        served_text(server, &format!("{rel}.md5")),
        md5_hex(&bytes),
        "{rel}.md5"
    );
    bytes
}

fn tag_values(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix(&open)?
                .strip_suffix(&close)
                .map(str::to_owned)
        })
        .collect()
}

/// A second machine: its own JUBE_HOME and an empty local repository, reading `server`.
fn other_machine(server: &RepoServer) -> TestEnv {
    let mut env = TestEnv::new();
    env.set_env("JUBE_REMOTE_MAVEN_REPOS", server.url());
    env
}

fn start_and_greet(env: &TestEnv, image: &str, greeting: &str) {
    let id = env.jube().args(["start", image]).success().last_line().to_owned();
    let log = app_base(env, &id).join("app.log");
    wait_until(&format!("GREETING={greeting}"), Duration::from_secs(30), || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains(&format!("GREETING={greeting}")))
    });
    env.jube().args(["rm", "-f", &id]).success();
}

#[test]
fn push_deploys_like_maven_and_an_empty_local_repository_pulls_and_starts_it() {
    let env = TestEnv::new();
    let server = RepoServer::start();
    let zip = build(&env, "1.0", "hello");
    let out = push(&env, &["team/app:1.0", "--repo", &server.url()]).assert_success();
    let zip_rel = format!("{GROUP_DIR}/1.0/app-1.0-image.zip");
    assert_eq!(
        out.stdout,
        format!(
            "io.fabric8.jube.images.team:app:1.0:zip:image\n{}{zip_rel}\n",
            server.url()
        )
    );
    assert!(assert_served_with_checksums(&server, &zip_rel) == zip);
    let pom = String::from_utf8(assert_served_with_checksums(
        &server,
        &format!("{GROUP_DIR}/1.0/app-1.0.pom"),
    ))
    .unwrap();
    assert!(pom.contains("<packaging>zip</packaging>"), "{pom}");
    let metadata = String::from_utf8(assert_served_with_checksums(
        &server,
        &format!("{GROUP_DIR}/maven-metadata.xml"),
    ))
    .unwrap();
    assert_eq!(tag_values(&metadata, "version"), ["1.0"], "{metadata}");
    assert_eq!(tag_values(&metadata, "latest"), ["1.0"]);
    assert_eq!(tag_values(&metadata, "release"), ["1.0"]);
    assert_eq!(tag_values(&metadata, "lastUpdated")[0].len(), 14, "{metadata}");

    // Files first, metadata last: the repository never lists a version it cannot serve whole.
    let requests = server.requests();
    let puts: Vec<&str> = requests
        .iter()
        .filter(|(m, _, _)| m == "PUT")
        .map(|(_, p, _)| p.rsplit('/').next().unwrap())
        .collect();
    assert_eq!(
        puts,
        [
            "app-1.0-image.zip",
            "app-1.0-image.zip.sha1",
            "app-1.0-image.zip.md5",
            "app-1.0.pom",
            "app-1.0.pom.sha1",
            "app-1.0.pom.md5",
            "maven-metadata.xml",
            "maven-metadata.xml.sha1",
            "maven-metadata.xml.md5",
        ],
        "{requests:?}"
    );
    assert!(
        requests.iter().all(|(m, _, s)| m != "PUT" || *s == 201),
        "{requests:?}"
    );

    let other = other_machine(&server);
    let pulled = other.jube().args(["pull", "team/app:1.0"]).success();
    assert!(std::fs::read(pulled.last_line()).unwrap() == zip);
    start_and_greet(&other, "team/app", "hello");

    // Maven itself, checksums enforced, takes what jube deployed.
    let maven_repo = other.root().join("maven-local");
    let settings = maven_settings(&other, &maven_repo, Some(("bars", &server.url())));
    let out = maven_get(&other, &settings, "team/app", "1.0");
    assert_eq!(out.code, Some(0), "{out}");
    assert!(std::fs::read(maven_repo.join(GROUP_DIR).join("1.0/app-1.0-image.zip")).unwrap() == zip);
}

#[test]
fn a_release_in_the_repository_is_not_replaced_unless_forced() {
    let env = TestEnv::new();
    let server = RepoServer::start();
    build(&env, "1.0", "hello");
    push(&env, &["team/app:1.0", "--repo", &server.url()]).assert_success();
    let zip_rel = format!("{GROUP_DIR}/1.0/app-1.0-image.zip");
    let first = served(&server, &zip_rel);

    let second = build(&env, "1.0", "changed");
    let puts = server.count("PUT", "");
    let out = push(&env, &["team/app:1.0", "--repo", &server.url()]);
    assert_eq!(out.code, Some(1), "{out}");
    out.stderr_contains(&format!("{}{zip_rel} already exists", server.url()))
        .stderr_contains("--force");
    assert_eq!(server.count("PUT", ""), puts, "a refused push uploads nothing");
    assert!(served(&server, &zip_rel) == first);

    push(&env, &["team/app:1.0", "--repo", &server.url(), "--force"])
        .assert_success()
        .stderr_contains("replacing release");
    assert!(assert_served_with_checksums(&server, &zip_rel) == second);
    let metadata = served_text(&server, &format!("{GROUP_DIR}/maven-metadata.xml"));
    assert_eq!(tag_values(&metadata, "version"), ["1.0"], "{metadata}");
}

#[test]
fn pushes_merge_the_repository_metadata() {
    let env = TestEnv::new();
    let server = RepoServer::start();
    // Versions someone else deployed before.
    let other_zip = crate::common::fixtures::image_zip(&simple_image());
    server.publish_image("team/app", "0.9", &other_zip);
    server.publish_image("team/app", "3.0", &other_zip);
    build(&env, "1.0", "hello");
    build(&env, "4.0-SNAPSHOT", "snap");
    push(&env, &["team/app:1.0", "--repo", &server.url()]).assert_success();
    let metadata = served_text(&server, &format!("{GROUP_DIR}/maven-metadata.xml"));
    assert_eq!(
        tag_values(&metadata, "version"),
        ["0.9", "3.0", "1.0"],
        "{metadata}"
    );
    assert_eq!(tag_values(&metadata, "release"), ["3.0"], "{metadata}");
    push(&env, &["team/app:4.0-SNAPSHOT", "--repo", &server.url()]).assert_success();
    let metadata = served_text(&server, &format!("{GROUP_DIR}/maven-metadata.xml"));
    assert_eq!(
        tag_values(&metadata, "version"),
        ["0.9", "3.0", "1.0", "4.0-SNAPSHOT"],
        "{metadata}"
    );
    assert_eq!(tag_values(&metadata, "release"), ["3.0"]);
    assert_eq!(tag_values(&metadata, "latest"), ["4.0-SNAPSHOT"]);
    // The other machine's newest release is still 3.0.
    let other = other_machine(&server);
    other
        .jube()
        .args(["pull", "team/app"])
        .success()
        .stdout_contains("team:app:3.0:zip:image");
}

#[test]
fn snapshots_are_deployed_as_timestamped_builds_and_the_newest_is_pulled() {
    let env = TestEnv::new();
    let server = RepoServer::start();
    build(&env, "2.0-SNAPSHOT", "first");
    let first = push(&env, &["team/app:2.0-SNAPSHOT", "--repo", &server.url()]).assert_success();
    let second_zip = build(&env, "2.0-SNAPSHOT", "second");
    let second = push(&env, &["team/app:2.0-SNAPSHOT", "--repo", &server.url()]).assert_success();

    let (v1, v2) = (pushed_version(&first), pushed_version(&second));
    for (v, build) in [(&v1, "1"), (&v2, "2")] {
        let parts: Vec<&str> = v.split('-').collect();
        assert_eq!(parts.len(), 3, "{v}");
        assert_eq!(parts[0], "2.0");
        assert!(
            parts[1].len() == 15 && parts[1].as_bytes()[8] == b'.',
            "{v}: yyyyMMdd.HHmmss"
        );
        assert_eq!(parts[2], build, "{v}");
    }
    let dir = format!("{GROUP_DIR}/2.0-SNAPSHOT");
    assert!(assert_served_with_checksums(&server, &format!("{dir}/app-{v2}-image.zip")) == second_zip);
    assert_served_with_checksums(&server, &format!("{dir}/app-{v1}-image.zip"));
    assert_served_with_checksums(&server, &format!("{dir}/app-{v2}.pom"));
    let version_meta = String::from_utf8(assert_served_with_checksums(
        &server,
        &format!("{dir}/maven-metadata.xml"),
    ))
    .unwrap();
    assert_eq!(tag_values(&version_meta, "buildNumber"), ["2"], "{version_meta}");
    assert_eq!(tag_values(&version_meta, "version"), ["2.0-SNAPSHOT"]);
    assert_eq!(
        tag_values(&version_meta, "value"),
        [v2.clone(), v2.clone()],
        "{version_meta}"
    );
    let artifact_meta = served_text(&server, &format!("{GROUP_DIR}/maven-metadata.xml"));
    assert_eq!(tag_values(&artifact_meta, "version"), ["2.0-SNAPSHOT"]);

    let mut other = other_machine(&server);
    other.set_env("JUBE_REMOTE_MAVEN_REPOS", format!("{}@snapshots", server.url()));
    let pulled = other.jube().args(["pull", "team/app:2.0-SNAPSHOT"]).success();
    assert!(pulled.stdout.contains(&v2), "{pulled}");
    assert_eq!(
        zip_text(Path::new(pulled.last_line()), "env.sh"),
        "export GREETING=second\n"
    );
    start_and_greet(&other, "team/app:2.0-SNAPSHOT", "second");

    let maven_repo = other.root().join("maven-local");
    let settings = maven_settings(&other, &maven_repo, Some(("bars", &server.url())));
    let out = maven_get(&other, &settings, "team/app", "2.0-SNAPSHOT");
    assert_eq!(out.code, Some(0), "{out}");
    let maven_file = maven_repo
        .join(GROUP_DIR)
        .join("2.0-SNAPSHOT/app-2.0-SNAPSHOT-image.zip");
    assert!(
        std::fs::read(maven_file).unwrap() == second_zip,
        "Maven took another build"
    );
}

#[test]
fn credentials_come_from_settings_servers_or_the_url_and_are_never_shown() {
    let mut env = TestEnv::new();
    let server = RepoServer::start_with_auth("deployer", "s3cret-pw");
    build(&env, "1.0", "hello");
    build(&env, "1.1", "hello");

    let out = push(&env, &["team/app:1.0", "--repo", &server.url()]);
    assert_eq!(out.code, Some(1), "{out}");
    out.stderr_contains("401").stderr_contains(&server.url());

    let with_url = |user: &str, pass: &str| {
        server
            .url()
            .replacen("http://", &format!("http://{user}:{pass}@"), 1)
    };
    let out = push(
        &env,
        &["team/app:1.0", "--repo", &with_url("deployer", "wrong-pw")],
    );
    assert_eq!(out.code, Some(1), "{out}");
    out.stderr_contains("401");
    assert!(
        !format!("{}{}", out.stdout, out.stderr).contains("wrong-pw"),
        "{out}"
    );

    // Credentials in the URL.
    let out = push(
        &env,
        &["team/app:1.0", "--repo", &with_url("deployer", "s3cret-pw")],
    )
    .assert_success();
    assert!(
        !format!("{}{}", out.stdout, out.stderr).contains("s3cret-pw"),
        "{out}"
    );

    // A settings.xml <server> for the id of the default repository.
    env.set_env(
        "JUBE_REMOTE_MAVEN_REPOS",
        format!("{}@id=team-releases", server.url()),
    );
    env.write_settings(
        "<settings><servers><server><id>team-releases</id><username>deployer</username>\
         <password>s3cret-pw</password></server></servers></settings>",
    );
    let out = push(&env, &["team/app:1.1"]).assert_success();
    out.stderr_contains("team-releases");
    assert!(
        !format!("{}{}", out.stdout, out.stderr).contains("s3cret-pw"),
        "{out}"
    );
    // The same by id.
    push(&env, &["team/app:1.1", "--repo", "team-releases", "--force"]).assert_success();
    let metadata = served_text(&server, &format!("{GROUP_DIR}/maven-metadata.xml"));
    assert_eq!(tag_values(&metadata, "version"), ["1.0", "1.1"], "{metadata}");
}

#[test]
fn push_errors_say_what_is_wrong_and_what_to_do() {
    let mut env = TestEnv::new();
    let server = RepoServer::start();
    build(&env, "1.0", "hello");
    // No repository anywhere.
    let out = push(&env, &["team/app:1.0"]);
    assert_eq!(out.code, Some(1), "{out}");
    out.stderr_contains("no repository to push to")
        .stderr_contains("--repo");
    env.set_env("JUBE_REMOTE_MAVEN_REPOS", format!("{}@id=team", server.url()));
    let out = push(&env, &["team/app:1.0", "--repo", "nope"]);
    assert_eq!(out.code, Some(1), "{out}");
    out.stderr_contains("no repository with id `nope`")
        .stderr_contains("team (");
    let out = push(&env, &["team/app:7.0"]);
    assert_eq!(out.code, Some(1), "{out}");
    out.stderr_contains("not in the local repository")
        .stderr_contains("jube build");
    let out = push(&env, &["team/app"]);
    assert_eq!(out.code, Some(2), "{out}");
    out.stderr_contains("names no version");
    assert_eq!(server.count("PUT", ""), 0);

    // The repository fails the pom: the error names it, and no metadata lists the version.
    server.set_fault(Some(".pom"), Fault::Status(500));
    let out = push(&env, &["team/app:1.0"]);
    assert_eq!(out.code, Some(1), "{out}");
    out.stderr_contains(&format!("PUT {}{GROUP_DIR}/1.0/app-1.0.pom failed", server.url()))
        .stderr_contains("500");
    assert_eq!(server.count("PUT", "maven-metadata.xml"), 0);
    server.clear_faults();
    // Unreadable metadata in the repository is not overwritten: a web page in its place is named
    // as one, other text as unreadable.
    server.put_file(
        &format!("{GROUP_DIR}/maven-metadata.xml"),
        b"<html>not metadata</html>",
    );
    let out = push(&env, &["team/app:1.0", "--force"]);
    assert_eq!(out.code, Some(1), "{out}");
    out.stderr_contains("maven-metadata.xml failed: the server returned an HTML page");
    assert_eq!(
        served_text(&server, &format!("{GROUP_DIR}/maven-metadata.xml")),
        "<html>not metadata</html>"
    );
    server.put_file(
        &format!("{GROUP_DIR}/maven-metadata.xml"),
        b"<metadata><versioning>",
    );
    let out = push(&env, &["team/app:1.0", "--force"]);
    assert_eq!(out.code, Some(1), "{out}");
    out.stderr_contains("maven-metadata.xml is unreadable");
    assert_eq!(
        served_text(&server, &format!("{GROUP_DIR}/maven-metadata.xml")),
        "<metadata><versioning>"
    );
}

#[test]
fn a_file_repository_takes_a_push_and_serves_the_pull() {
    let env = TestEnv::new();
    let zip = build(&env, "1.0", "hello");
    let folder = env.root().join("file-repo");
    let url = url::Url::from_directory_path(&folder).unwrap().to_string();
    push(&env, &["team/app:1.0", "--repo", &url]).assert_success();
    assert!(std::fs::read(folder.join(GROUP_DIR).join("1.0/app-1.0-image.zip")).unwrap() == zip);
    let mut other = TestEnv::new();
    other.set_env("JUBE_REMOTE_MAVEN_REPOS", &url);
    let pulled = other.jube().args(["pull", "team/app:1.0"]).success();
    assert!(std::fs::read(pulled.last_line()).unwrap() == zip);
}

/// One request as the bare server below saw it.
#[derive(Debug, Clone)]
struct SeenRequest {
    method: String,
    path: String,
    content_length: Option<usize>,
    chunked: bool,
    body_len: usize,
}

/// A bare HTTP/1.1 server that records request heads: 404 for every GET, 201 for every PUT.
struct HeadRecorder {
    url: String,
    seen: Arc<Mutex<Vec<SeenRequest>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HeadRecorder {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        stream.set_nonblocking(false).unwrap();
                        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                        serve_connection(stream, &seen2);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self {
            url,
            seen,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for HeadRecorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve_connection(stream: std::net::TcpStream, seen: &Mutex<Vec<SeenRequest>>) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or_default().to_owned(),
            parts.next().unwrap_or_default().to_owned(),
        );
        let (mut content_length, mut chunked) = (None, false);
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
                break;
            }
            let lower = header.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                content_length = v.trim().parse().ok();
            }
            if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            }
        }
        let mut body = vec![0u8; content_length.unwrap_or(0)];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        seen.lock().unwrap().push(SeenRequest {
            method: method.clone(),
            path,
            content_length,
            chunked,
            body_len: body.len(),
        });
        let status = if method == "PUT" {
            "201 Created"
        } else {
            "404 Not Found"
        };
        let close = if chunked { "Connection: close\r\n" } else { "" };
        let _ = write!(writer, "HTTP/1.1 {status}\r\nContent-Length: 0\r\n{close}\r\n");
        if chunked {
            return;
        }
    }
}

#[test]
fn every_upload_carries_its_content_length() {
    let env = TestEnv::new();
    let zip = build(&env, "1.0", "hello");
    let recorder = HeadRecorder::start();
    push(&env, &["team/app:1.0", "--repo", &recorder.url]).assert_success();
    let seen = recorder.seen.lock().unwrap().clone();
    let puts: Vec<&SeenRequest> = seen.iter().filter(|r| r.method == "PUT").collect();
    assert_eq!(puts.len(), 9, "{seen:#?}");
    for put in &puts {
        assert!(!put.chunked, "{put:?}");
        assert_eq!(put.content_length, Some(put.body_len), "{put:?}");
    }
    let zip_put = puts
        .iter()
        .find(|r| r.path.ends_with("app-1.0-image.zip"))
        .unwrap();
    assert_eq!(zip_put.content_length, Some(zip.len()));
}

#[test]
fn without_repo_the_first_repository_of_the_active_settings_profiles_is_used_not_its_mirror() {
    let env = TestEnv::new();
    let server = RepoServer::start_with_auth("deployer", "pw-in-settings");
    let mirror = RepoServer::start();
    build(&env, "1.0", "hello");
    env.write_settings(&format!(
        "<settings>
  <mirrors><mirror><id>all</id><mirrorOf>*</mirrorOf><url>{}</url></mirror></mirrors>
  <servers><server><id>company</id><username>deployer</username><password>pw-in-settings</password></server></servers>
  <profiles><profile><id>p</id><repositories><repository><id>company</id><url>{}</url></repository></repositories></profile></profiles>
  <activeProfiles><activeProfile>p</activeProfile></activeProfiles>
</settings>",
        mirror.url(),
        server.url()
    ));
    let out = push(&env, &["team/app:1.0"]).assert_success();
    out.stderr_contains("company");
    assert!(
        server
            .root()
            .join(GROUP_DIR)
            .join("1.0/app-1.0-image.zip")
            .is_file()
    );
    assert!(
        mirror.requests().is_empty(),
        "deploys never go through mirrors: {:?}",
        mirror.requests()
    );
}

#[test]
fn an_upload_the_repository_failed_is_sent_again_whole() {
    let env = TestEnv::new();
    let server = RepoServer::start();
    let zip = build(&env, "3.0-SNAPSHOT", "again");
    // A snapshot's zip is only ever PUT (never looked up first), so the fault meets the upload.
    server.set_fault(Some("-image.zip"), Fault::Times(1, Box::new(Fault::Status(503))));
    let out = push(&env, &["team/app:3.0-SNAPSHOT", "--repo", &server.url()]).assert_success();
    let version = pushed_version(&out);
    let rel = format!("{GROUP_DIR}/3.0-SNAPSHOT/app-{version}-image.zip");
    let puts: Vec<u16> = server
        .requests()
        .into_iter()
        .filter(|(method, path, _)| method == "PUT" && path.ends_with("-image.zip"))
        .map(|(_, _, status)| status)
        .collect();
    assert_eq!(puts.len(), 2, "one refused upload, then one accepted: {puts:?}");
    assert_eq!(puts[0], 503);
    assert!(
        assert_served_with_checksums(&server, &rel) == zip,
        "the retry sent the whole zip"
    );
}
