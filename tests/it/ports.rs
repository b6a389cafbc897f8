//! Host ports through the real binary: `<NAME>_PORT` for each name in ports.properties, the lowest
//! free port, `-p NAME=HOSTPORT`, leases kept while stopped and freed by `rm` or when the
//! container folder vanished, and 50 creates at once.

use std::collections::BTreeSet;
use std::net::TcpListener;

use crate::common::TestEnv;
use crate::common::fixtures::{self, ZipEntry};
use crate::containers_support::*;

/// An image declaring three ports, in java-properties' three separator styles, with a comment.
fn three_port_image() -> Vec<ZipEntry> {
    with(
        fixtures::simple_image(),
        ZipEntry::file(
            "ports.properties",
            "# the app's ports\nhttp=8080\njolokia-agent : 8778\n! admin console\nadmin 9990\n",
        ),
    )
}

/// `KEY=VALUE` lines of the environment the app wrote to `app.env`.
fn app_env(images: &Images, id: &str) -> String {
    let path = images.app_base(id).join("app.env");
    wait_for_text(&path, "APP_BASE=");
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn each_port_name_gets_the_lowest_free_host_port_as_name_port() {
    let images = Images::new();
    let image = images.publish("ports/three", &three_port_image());
    let (start, _) = images.env.port_range();
    let id = images.start_image(&image, &[]);
    let env = app_env(&images, &id);
    for line in [
        format!("HTTP_PORT={start}"),
        format!("JOLOKIA_AGENT_PORT={}", start + 1),
        format!("ADMIN_PORT={}", start + 2),
    ] {
        assert!(
            env.lines().any(|l| l == line),
            "{line} missing from the app's environment:\n{env}"
        );
    }
    let out = images.env.jube().args(["port", &id]).success();
    assert_eq!(
        out.stdout,
        format!(
            "http 8080 -> {start}\njolokia-agent 8778 -> {}\nadmin 9990 -> {}\n",
            start + 1,
            start + 2
        )
    );
    let out = images.env.jube().args(["port", &id, "ADMIN"]).success();
    assert_eq!(out.stdout, format!("admin 9990 -> {}\n", start + 2));
    images
        .env
        .jube()
        .args(["port", &id, "nope"])
        .code(1)
        .stderr_contains("no port named nope");
    images.env.jube().args(["rm", "-f", &id]).success();
}

#[test]
fn a_port_another_program_listens_on_is_skipped() {
    let images = Images::new();
    let image = images.publish("ports/one", &fixtures::simple_image());
    let (start, _) = images.env.port_range();
    let _busy = TcpListener::bind(("0.0.0.0", start)).expect("bind the first port of the range");
    let _busy_loopback = TcpListener::bind(("127.0.0.1", start + 1)).expect("bind the second port");
    let id = images.create(&image, &[]);
    assert_eq!(host_ports(&images.env, &id), [start + 2]);
}

#[test]
fn a_requested_host_port_that_is_taken_or_leased_is_a_clear_error() {
    let images = Images::new();
    let image = images.publish("ports/one", &fixtures::simple_image());
    let (start, _) = images.env.port_range();
    let first = images.create(&image, &[]);
    assert_eq!(host_ports(&images.env, &first), [start]);

    let out = images
        .env
        .jube()
        .args(["create", "-p", &format!("HTTP={start}"), &image])
        .code(1);
    out.stderr_contains(&format!("host port {start} for `HTTP` is taken"))
        .stderr_contains(&format!("leased to container {}", &first[..12]))
        .stderr_contains("choose another host port");

    let busy = TcpListener::bind(("0.0.0.0", 0)).unwrap();
    let busy_port = busy.local_addr().unwrap().port();
    let out = images
        .env
        .jube()
        .args(["create", "-p", &format!("http={busy_port}"), &image])
        .code(1);
    out.stderr_contains(&format!(
        "host port {busy_port} for `HTTP` is taken: another program listens on it"
    ));

    let out = images
        .env
        .jube()
        .args(["create", "-p", "WEB=20000", &image])
        .code(1);
    out.stderr_contains("the image declares no port named `WEB`")
        .stderr_contains("names: HTTP");
    for bad in ["HTTP=abc", "HTTP=0", "HTTP=70000", "HTTP"] {
        let out = images.env.jube().args(["create", "-p", bad, &image]).code(1);
        out.stderr_contains(&format!("-p {bad}"));
    }
    // Only the first container and its lease exist.
    assert_eq!(
        entries(&images.env.home().join("containers")),
        std::slice::from_ref(&first)
    );
    assert_eq!(leases(&images.env).len(), 1);
    assert!(entries(&images.env.home().join("tmp")).is_empty());

    // A free port outside the range is fine.
    let free = crate::common::free_port();
    let fixed = images.create(&image, &["-p", &format!("HTTP={free}")]);
    assert_eq!(host_ports(&images.env, &fixed), [free]);
}

#[test]
fn a_stopped_container_keeps_its_ports_and_gets_them_again_on_start_and_restart() {
    let images = Images::new();
    let image = images.publish("ports/one", &fixtures::simple_image());
    let (start, _) = images.env.port_range();
    let a = images.start_image(&image, &[]);
    images.env.jube().args(["stop", &a]).success();
    let b = images.create(&image, &[]);
    assert_eq!(
        host_ports(&images.env, &a),
        [start],
        "a stopped container keeps its lease"
    );
    assert_eq!(host_ports(&images.env, &b), [start + 1]);
    images.env.jube().args(["start", &a]).success();
    let env = app_env(&images, &a);
    assert!(env.contains(&format!("HTTP_PORT={start}\n")), "{env}");
    images.env.jube().args(["restart", &a]).success();
    let out = images.env.jube().args(["port", &a]).success();
    assert_eq!(out.stdout, format!("HTTP 8080 -> {start}\n"));
    images.env.jube().args(["rm", "-f", &a]).success();
}

#[test]
fn rm_gives_the_ports_back() {
    let images = Images::new();
    let image = images.publish("ports/one", &fixtures::simple_image());
    let (start, _) = images.env.port_range();
    let a = images.create(&image, &[]);
    let b = images.create(&image, &[]);
    images.env.jube().args(["rm", &a]).success();
    assert_eq!(leases(&images.env).len(), 1);
    let c = images.create(&image, &[]);
    assert_eq!(
        host_ports(&images.env, &c),
        [start],
        "the freed port is the lowest again"
    );
    assert_eq!(host_ports(&images.env, &b), [start + 1]);
}

#[test]
fn the_lease_of_a_container_whose_folder_vanished_is_reclaimed() {
    let images = Images::new();
    let image = images.publish("ports/one", &fixtures::simple_image());
    let (start, _) = images.env.port_range();
    let gone = images.create(&image, &[]);
    std::fs::remove_dir_all(container_dir(&images.env, &gone)).unwrap();
    let next = images.create(&image, &[]);
    assert_eq!(host_ports(&images.env, &next), [start]);
    let owners: Vec<String> = leases(&images.env).into_iter().map(|(o, _)| o).collect();
    assert_eq!(owners, [next]);
}

/// A port range of at least `width` ports that no other test uses: consecutive blocks of test
/// envs, which are kept alive (returned) so their ports stay reserved.
fn wide_range(width: u16) -> ((u16, u16), Vec<TestEnv>) {
    let mut held: Vec<TestEnv> = Vec::new();
    for _ in 0..40 {
        held.push(TestEnv::new());
        let ranges: Vec<(u16, u16)> = held.iter().map(TestEnv::port_range).collect();
        // The newest blocks, as long as each follows the one before.
        let mut start = ranges[ranges.len() - 1].0;
        let end = ranges[ranges.len() - 1].1;
        for pair in ranges.windows(2).rev() {
            if pair[1].0 != pair[0].1 + 1 || end - start + 1 >= width {
                break;
            }
            start = pair[0].0;
        }
        if end - start + 1 >= width {
            return ((start, end), held);
        }
    }
    panic!("no {width} consecutive test ports found");
}

#[test]
fn fifty_parallel_creates_make_fifty_containers_with_distinct_ports_and_whole_files() {
    let mut images = Images::new();
    let two_ports = with(
        fixtures::simple_image(),
        ZipEntry::file("ports.properties", "HTTP=8080\nJMX=9999\n"),
    );
    let image = images.publish("ports/two", &two_ports);
    let ((start, end), _reserved) = wide_range(100);
    images.env.set_env("JUBE_PORT_START", start.to_string());
    images.env.set_env("JUBE_PORT_END", end.to_string());
    images.env.jube().args(["pull", &image]).success();

    let ids = images.create_in_parallel(&image, 50);
    assert_eq!(ids.len(), 50);

    let on_disk: BTreeSet<String> = entries(&images.env.home().join("containers"))
        .into_iter()
        .collect();
    assert_eq!(on_disk, ids);
    assert!(entries(&images.env.home().join("tmp")).is_empty());
    let table = leases(&images.env);
    assert_eq!(table.len(), 50);
    let mut ports = BTreeSet::new();
    let mut names = BTreeSet::new();
    for id in &ids {
        let state = images.state(id);
        names.insert(state["name"].as_str().unwrap().to_owned());
        let recorded: Vec<u16> = state["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["host_port"].as_u64().unwrap() as u16)
            .collect();
        assert_eq!(
            recorded,
            host_ports(&images.env, id),
            "state.json and ports.json agree"
        );
        assert_eq!(recorded.len(), 2);
        for port in recorded {
            assert!((start..=end).contains(&port));
            assert!(ports.insert(port), "port {port} leased twice");
        }
    }
    assert_eq!(ports.len(), 100);
    assert_eq!(names.len(), 50, "names are unique too");
    let out = images.env.jube().args(["ps", "-a", "-q"]).success();
    assert_eq!(out.stdout.lines().count(), 50);
}
