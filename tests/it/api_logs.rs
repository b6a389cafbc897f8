//! Pod logs through the API of the real daemon: the reconciler runs a ticker pod, and
//! `pods/{name}/log` shows, tails, limits and follows what it writes.

use std::time::Duration;

use serde_json::{Value, json};

use crate::api_support::{ABSENT_IMAGE, Api};
use crate::common::wait_until;

const PODS: &str = "/api/v1/namespaces/default/pods";

/// A pod of the stock ticker image, writing `<message> N` a few times a second.
fn ticker_pod(name: &str, message: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{
            "name": "ticker", "image": "fabric8/ticker",
            "env": [{"name": "TICK_INTERVAL", "value": "0.2"}, {"name": "TICK_MESSAGE", "value": message}],
        }]},
    })
}

/// Waits until the pod's log has `needle`, and returns the log.
#[track_caller]
fn wait_for_log(api: &Api, path: &str, needle: &str) -> String {
    let mut log = String::new();
    wait_until(&format!("{needle:?} in {path}"), Duration::from_secs(60), || {
        let answer = api.get(path);
        log = answer.body.as_str().unwrap_or_default().to_owned();
        answer.code == 200 && log.contains(needle)
    });
    log
}

#[test]
fn pod_logs_show_tail_limit_and_follow_the_containers_output() {
    let api = Api::start();
    api.create(PODS, &ticker_pod("web", "hello"));
    let log_path = format!("{PODS}/web/log");
    let log = wait_for_log(&api, &log_path, "hello 3");
    assert!(log.contains("hello 1\nhello 2\nhello 3"), "{log}");
    assert_eq!(api.get(&log_path).content_type, "text/plain; charset=utf-8");

    let tail = api.get(&format!("{log_path}?tailLines=1"));
    let tail = tail.body.as_str().unwrap();
    let last = tail.lines().last().unwrap();
    assert!(
        last.starts_with("hello ") && !tail.contains("hello 1\n"),
        "{tail}"
    );
    let limited = api.get(&format!("{log_path}?limitBytes=4&container=ticker"));
    assert_eq!(limited.body.as_str().unwrap().len(), 4, "{}", limited.body);
    // A pod that never restarted has no previous run to show, as Kubernetes says.
    let previous = api.get(&format!("{log_path}?previous=true"));
    previous.expect(400, Some("BadRequest"));
    assert_eq!(
        previous.message(),
        "previous terminated container \"ticker\" in pod \"web\" not found"
    );

    // Following: lines keep coming after what was there.
    let seen: u64 = log
        .lines()
        .filter_map(|l| l.strip_prefix("hello "))
        .filter_map(|n| n.trim().parse().ok())
        .max()
        .unwrap();
    let mut follow = api.stream(&format!("{log_path}?follow=true&tailLines=0"));
    loop {
        let line = follow.next_line().expect("followed lines");
        if let Some(n) = line
            .strip_prefix("hello ")
            .and_then(|n| n.trim().parse::<u64>().ok())
            && n > seen + 2
        {
            break;
        }
    }
    // The stream ends when the pod (and so its container) goes.
    api.delete(&format!("{PODS}/web")).expect(200, None);
    while follow.next_line().is_some() {}
    api.stop();
}

#[test]
fn curl_follows_a_pods_log() {
    let api = Api::start();
    api.create(PODS, &ticker_pod("web", "curled"));
    let log_path = format!("{PODS}/web/log");
    wait_for_log(&api, &log_path, "curled 1");
    let mut curl = api
        .env
        .command("curl")
        .args(["-sSN", &api.url(&format!("{log_path}?follow=1"))])
        .spawn();
    curl.wait_for_stdout("curled 1\n", Duration::from_secs(30));
    let now = api.get(&log_path).body.as_str().unwrap().to_owned();
    let latest: u64 = now
        .lines()
        .filter_map(|l| l.strip_prefix("curled "))
        .filter_map(|n| n.trim().parse().ok())
        .max()
        .unwrap();
    curl.wait_for_stdout(&format!("curled {}\n", latest + 2), Duration::from_secs(30));
    drop(curl);
    api.stop();
}

#[test]
fn log_requests_name_the_pod_and_container_or_say_what_is_wrong() {
    let api = Api::start();
    api.create(
        PODS,
        &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "two"},
                "spec": {"containers": [{"name": "a", "image": ABSENT_IMAGE}, {"name": "b", "image": ABSENT_IMAGE}]}}),
    );
    for (path, code, reason, message) in [
        (
            "/api/v1/namespaces/default/pods/ghost/log",
            404,
            "NotFound",
            "pods \"ghost\" not found",
        ),
        (
            "/api/v1/namespaces/default/pods/two/log",
            400,
            "BadRequest",
            "a container name must be specified for pod two, choose one of: [a b]",
        ),
        (
            "/api/v1/namespaces/default/pods/two/log?container=c",
            400,
            "BadRequest",
            "container c is not valid for pod two",
        ),
        // The image cannot be pulled: the container never starts.
        (
            "/api/v1/namespaces/default/pods/two/log?container=a",
            400,
            "BadRequest",
            "container \"a\" in pod \"two\" is waiting to start",
        ),
        (
            "/api/v1/namespaces/default/pods/two/log?tailLines=some",
            400,
            "BadRequest",
            "tailLines",
        ),
        (
            "/api/v1/namespaces/default/pods/two/log?follow=maybe",
            400,
            "BadRequest",
            "follow",
        ),
    ] {
        let answer = api.get(path);
        answer.expect(code, Some(reason));
        assert!(answer.message().contains(message), "{path}: {}", answer.body);
    }
    api.call("DELETE", "/api/v1/namespaces/default/pods/two/log", None)
        .expect(405, Some("MethodNotAllowed"));
    api.stop();
}
