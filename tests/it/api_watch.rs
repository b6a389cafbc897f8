//! Watches on the real daemon: current objects then changes, replays from a resourceVersion,
//! selectors and namespaces, an expired resourceVersion, timeouts, shutdown, and curl.

use std::time::Duration;

use serde_json::{Value, json};

use crate::api_support::{Api, Lines, namespace, service};
use crate::common::TestEnv;

/// Reads events until one for `name` of type `wanted` arrives; returns every event read.
#[track_caller]
fn until(lines: &mut Lines, wanted: &str, name: &str) -> Vec<(String, Value)> {
    let mut seen = Vec::new();
    loop {
        let (t, object) = lines.next_event();
        let done = t == wanted && object["metadata"]["name"] == name;
        seen.push((t, object));
        if done {
            return seen;
        }
    }
}

fn rv(object: &Value) -> u64 {
    object["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn a_watch_streams_the_current_objects_then_every_change() {
    let api = Api::start();
    api.create("/api/v1/namespaces", &namespace("team"));
    let mut lines = api.stream("/api/v1/namespaces?watch=true");
    let mut first = [lines.next_event(), lines.next_event()];
    first.sort_by(|a, b| {
        a.1["metadata"]["name"]
            .as_str()
            .cmp(&b.1["metadata"]["name"].as_str())
    });
    assert_eq!(first[0].0, "ADDED");
    assert_eq!(first[0].1["metadata"]["name"], "default");
    assert_eq!(
        (first[1].0.as_str(), first[1].1["metadata"]["name"].as_str()),
        ("ADDED", Some("team"))
    );

    let created = api.create("/api/v1/namespaces", &namespace("new"));
    let (t, object) = lines.next_event();
    assert_eq!((t.as_str(), &object), ("ADDED", &created));
    api.patch(
        "/api/v1/namespaces/new",
        "application/merge-patch+json",
        &json!({"metadata": {"labels": {"a": "b"}}}),
    )
    .expect(200, None);
    let (t, object) = lines.next_event();
    assert_eq!(
        (t.as_str(), &object["metadata"]["labels"]),
        ("MODIFIED", &json!({"a": "b"}))
    );
    assert!(rv(&object) > rv(&created));
    api.delete("/api/v1/namespaces/new").expect(200, None);
    let (t, object) = lines.next_event();
    assert_eq!(
        (t.as_str(), object["metadata"]["name"].as_str()),
        ("DELETED", Some("new"))
    );

    // `watch=1`, and the old /api/v1/watch/ paths, are watches too.
    let mut numeric = api.stream("/api/v1/namespaces?watch=1&fieldSelector=metadata.name%3Dteam");
    assert_eq!(numeric.next_event().1["metadata"]["name"], "team");
    let mut legacy = api.stream("/api/v1/watch/namespaces/team");
    assert_eq!(legacy.next_event().1["metadata"]["name"], "team");
    api.stop();
}

#[test]
fn a_watch_from_a_resource_version_replays_what_came_after_it() {
    let api = Api::start();
    let a = api.create("/api/v1/namespaces", &namespace("a"));
    api.create("/api/v1/namespaces", &namespace("b"));
    api.patch(
        "/api/v1/namespaces/a",
        "application/merge-patch+json",
        &json!({"metadata": {"labels": {"x": "1"}}}),
    )
    .expect(200, None);
    api.delete("/api/v1/namespaces/b").expect(200, None);
    let from = rv(&a);
    let mut lines = api.stream(&format!("/api/v1/namespaces?watch=true&resourceVersion={from}"));
    let replay: Vec<(String, String)> = (0..3)
        .map(|_| lines.next_event())
        .map(|(t, o)| (t, o["metadata"]["name"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        replay,
        [
            ("ADDED".into(), "b".into()),
            ("MODIFIED".into(), "a".into()),
            ("DELETED".into(), "b".into())
        ]
    );
    api.create("/api/v1/namespaces", &namespace("c"));
    let (t, o) = lines.next_event();
    assert_eq!((t.as_str(), o["metadata"]["name"].as_str()), ("ADDED", Some("c")));
    api.stop();
}

#[test]
fn watches_filter_by_labels_and_report_objects_entering_and_leaving() {
    let api = Api::start();
    let mut lines = api.stream("/api/v1/namespaces?watch=true&labelSelector=team%3Da");
    api.create(
        "/api/v1/namespaces",
        &json!({"metadata": {"name": "one", "labels": {"team": "a"}}}),
    );
    assert_eq!(lines.next_event().0, "ADDED");
    api.create(
        "/api/v1/namespaces",
        &json!({"metadata": {"name": "two", "labels": {"team": "b"}}}),
    );
    let merge = "application/merge-patch+json";
    api.patch(
        "/api/v1/namespaces/two",
        merge,
        &json!({"metadata": {"labels": {"team": "a"}}}),
    )
    .expect(200, None);
    let (t, o) = lines.next_event();
    assert_eq!(
        (t.as_str(), o["metadata"]["name"].as_str()),
        ("ADDED", Some("two")),
        "entering the selector"
    );
    api.patch(
        "/api/v1/namespaces/one",
        merge,
        &json!({"metadata": {"labels": {"team": "c"}}}),
    )
    .expect(200, None);
    let (t, o) = lines.next_event();
    assert_eq!(
        (t.as_str(), o["metadata"]["name"].as_str()),
        ("DELETED", Some("one")),
        "leaving it"
    );
    api.delete("/api/v1/namespaces/one").expect(200, None);
    api.delete("/api/v1/namespaces/two").expect(200, None);
    let (t, o) = lines.next_event();
    assert_eq!(
        (t.as_str(), o["metadata"]["name"].as_str()),
        ("DELETED", Some("two"))
    );
    api.stop();
}

#[test]
fn a_namespaced_watch_sees_only_its_namespace() {
    let api = Api::start();
    api.create("/api/v1/namespaces", &namespace("dev"));
    let mut lines = api.stream("/api/v1/namespaces/dev/services?watch=true");
    api.create(
        "/api/v1/namespaces/default/services",
        &service("elsewhere", json!({"app": "x"})),
    );
    api.create(
        "/api/v1/namespaces/dev/services",
        &service("here", json!({"app": "x"})),
    );
    api.create(
        "/api/v1/namespaces/dev/services",
        &service("marker", json!({"app": "y"})),
    );
    let events = until(&mut lines, "ADDED", "marker");
    assert!(
        events.iter().all(|(_, o)| o["metadata"]["namespace"] == "dev"),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|(t, o)| t == "ADDED" && o["metadata"]["name"] == "here"),
        "{events:?}"
    );
    api.stop();
}

#[test]
fn an_expired_resource_version_is_a_410_error_event() {
    // A store whose event log was trimmed (as it is beyond 10000 events) before the daemon starts.
    let env = TestEnv::new();
    let layout = jube::layout::Layout::new(env.home());
    {
        let store = jube::kube::store::Store::open(&layout.store()).unwrap();
        for name in ["a", "b", "c"] {
            store
                .create(jube::kube::kinds::Kind::Namespace, "", namespace(name))
                .unwrap();
        }
    }
    let db = rusqlite::Connection::open(layout.store()).unwrap();
    db.execute("DELETE FROM events WHERE revision <= 2", []).unwrap();
    drop(db);
    let api = Api::start_in(env);
    let mut lines = api.stream("/api/v1/namespaces?watch=true&resourceVersion=1");
    let (t, status) = lines.next_event();
    assert_eq!(t, "ERROR");
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["code"], 410);
    assert_eq!(status["reason"], "Expired");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .starts_with("too old resource version: 1"),
        "{status}"
    );
    assert!(lines.next_line().is_none(), "the watch ends after the error");
    // Still reachable: after the oldest kept event.
    let mut ok = api.stream("/api/v1/namespaces?watch=true&resourceVersion=2");
    assert_eq!(ok.next_event().1["metadata"]["name"], "c");
    api.stop();
}

#[test]
fn a_watch_ends_at_its_timeout_and_when_the_daemon_stops() {
    let api = Api::start();
    let mut timed = api.stream("/api/v1/namespaces?watch=true&timeoutSeconds=1");
    assert_eq!(timed.next_event().0, "ADDED");
    assert!(
        timed.next_line().is_none(),
        "the stream ends after timeoutSeconds"
    );

    let mut open = api.stream("/api/v1/namespaces?watch=true");
    assert_eq!(open.next_event().0, "ADDED");
    // An open watch does not keep the daemon from stopping (stop waits for its exit).
    api.stop();
    assert!(open.next_line().is_none(), "the stream ends with the daemon");
}

#[test]
fn curl_follows_a_watch() {
    let api = Api::start();
    let mut curl = api
        .env
        .command("curl")
        .args(["-sSN", &api.url("/api/v1/namespaces?watch=true")])
        .spawn();
    curl.wait_for_stdout("\"name\":\"default\"", Duration::from_secs(30));
    api.create("/api/v1/namespaces", &namespace("seen-by-curl"));
    curl.wait_for_stdout("\"name\":\"seen-by-curl\"", Duration::from_secs(30));
    api.delete("/api/v1/namespaces/seen-by-curl").expect(200, None);
    curl.wait_for_stdout("{\"type\":\"DELETED\"", Duration::from_secs(30));
    for line in curl.stdout_so_far().lines() {
        // As Kubernetes writes them (some clients read the type first).
        assert!(line.starts_with("{\"type\":\""), "{line}");
        let event: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert!(
            ["ADDED", "DELETED"].contains(&event["type"].as_str().unwrap()),
            "{line}"
        );
    }
    drop(curl);
    api.stop();
}
