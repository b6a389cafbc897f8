//! The Kubernetes REST API of the real daemon: discovery, the verbs on every kind, subresources,
//! selectors, deletes and validation, with Kubernetes' `Status` errors.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::wait_until;

use crate::api_support::{ABSENT_IMAGE, Api, names, namespace, pod, rc, service};

#[test]
fn discovery_names_versions_resources_and_groups() {
    let api = Api::start();
    let versions = api.get("/api");
    assert_eq!(versions.expect(200, None)["kind"], "APIVersions");
    assert_eq!(versions.body["versions"], json!(["v1"]));
    let v1 = api.get("/api/v1");
    let v1 = v1.expect(200, None);
    assert_eq!(
        (v1["kind"].as_str(), v1["groupVersion"].as_str()),
        (Some("APIResourceList"), Some("v1"))
    );
    let resource = |name: &str| {
        v1["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("{name} is not in {v1}"))
            .clone()
    };
    for (name, kind, namespaced, short) in [
        ("pods", "Pod", true, Some("po")),
        (
            "replicationcontrollers",
            "ReplicationController",
            true,
            Some("rc"),
        ),
        ("services", "Service", true, Some("svc")),
        ("namespaces", "Namespace", false, Some("ns")),
        ("pods/log", "Pod", true, None),
        ("pods/status", "Pod", true, None),
        ("replicationcontrollers/scale", "Scale", true, None),
        (
            "replicationcontrollers/status",
            "ReplicationController",
            true,
            None,
        ),
        ("services/status", "Service", true, None),
        ("namespaces/status", "Namespace", false, None),
    ] {
        let r = resource(name);
        assert_eq!(
            (r["kind"].as_str(), r["namespaced"].as_bool()),
            (Some(kind), Some(namespaced)),
            "{r}"
        );
        assert!(
            r["verbs"].as_array().is_some_and(|v| v.contains(&json!("get"))),
            "{r}"
        );
        if let Some(short) = short {
            assert_eq!(r["shortNames"], json!([short]), "{r}");
            assert!(r["verbs"].as_array().unwrap().contains(&json!("watch")), "{r}");
            assert_eq!(r["singularName"], name.trim_end_matches('s'), "{r}");
        }
    }
    assert_eq!(resource("replicationcontrollers/scale")["group"], "autoscaling");
    let groups = api.get("/apis");
    assert_eq!(
        groups.expect(200, None),
        &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": [
            {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
                "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}},
            {"name": "batch", "versions": [{"groupVersion": "batch/v1", "version": "v1"}],
                "preferredVersion": {"groupVersion": "batch/v1", "version": "v1"}},
            {"name": "discovery.k8s.io", "versions": [{"groupVersion": "discovery.k8s.io/v1", "version": "v1"}],
                "preferredVersion": {"groupVersion": "discovery.k8s.io/v1", "version": "v1"}},
            {"name": "events.k8s.io", "versions": [{"groupVersion": "events.k8s.io/v1", "version": "v1"}],
                "preferredVersion": {"groupVersion": "events.k8s.io/v1", "version": "v1"}},
            {"name": "metrics.k8s.io", "versions": [{"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"}],
                "preferredVersion": {"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"}},
        ]})
    );
    let discovery = names_of_resources(api.get("/apis/discovery.k8s.io/v1").expect(200, None));
    assert_eq!(discovery, ["endpointslices"]);
    let apps = api.get("/apis/apps/v1");
    let apps = names_of_resources(apps.expect(200, None));
    assert!(
        apps.contains(&"deployments/scale".to_owned()) && apps.contains(&"replicasets".to_owned()),
        "{apps:?}"
    );
    assert_eq!(api.get("/version").expect(200, None)["major"], "1");
    for probe in ["/healthz", "/readyz", "/livez"] {
        assert_eq!(api.get(probe).body, json!("ok"), "{probe}");
    }
    assert!(
        api.get("/").body["paths"]
            .as_array()
            .unwrap()
            .contains(&json!("/api/v1"))
    );
    api.stop();
}

#[test]
fn objects_are_created_read_and_listed_as_kubernetes_serves_them() {
    let api = Api::start();
    // `default` exists from the start.
    let default = api.get("/api/v1/namespaces/default");
    assert_eq!(default.expect(200, None)["status"]["phase"], "Active");

    let created = api.create(
        "/api/v1/namespaces/default/pods",
        &json!({"metadata": {"name": "web", "labels": {"app": "web"}},
                "spec": {"containers": [{"name": "main", "image": "example/absent"}]},
                "status": {"phase": "Running"}}),
    );
    // kind and apiVersion filled in, the path's namespace, server fields, defaults, and the
    // status a new pod has (what the client sent is not taken).
    assert_eq!(
        (created["kind"].as_str(), created["apiVersion"].as_str()),
        (Some("Pod"), Some("v1"))
    );
    let meta = &created["metadata"];
    assert_eq!(meta["namespace"], "default");
    assert!(meta["uid"].as_str().is_some_and(|u| u.len() == 36), "{meta}");
    assert!(
        meta["creationTimestamp"].is_string() && meta["resourceVersion"].is_string(),
        "{meta}"
    );
    assert_eq!(created["spec"]["restartPolicy"], "Always");
    assert_eq!(created["spec"]["containers"][0]["imagePullPolicy"], "Always");
    assert_eq!(created["status"]["phase"], "Pending");

    let fetched = api.get("/api/v1/namespaces/default/pods/web");
    assert_eq!(fetched.expect(200, None)["metadata"]["uid"], meta["uid"]);
    assert_eq!(fetched.content_type, "application/json");

    api.create("/api/v1/namespaces", &namespace("dev"));
    api.create("/api/v1/namespaces/dev/pods", &pod("api", json!({"app": "api"})));
    api.create(
        "/api/v1/namespaces/dev/services",
        &service("api", json!({"app": "api"})),
    );
    api.create("/api/v1/namespaces/dev/replicationcontrollers", &rc("worker", 0));

    for (path, kind, expected) in [
        ("/api/v1/namespaces/default/pods", "PodList", vec!["web"]),
        ("/api/v1/namespaces/dev/pods", "PodList", vec!["api"]),
        ("/api/v1/pods", "PodList", vec!["web", "api"]),
        ("/api/v1/namespaces", "NamespaceList", vec!["default", "dev"]),
        ("/api/v1/services", "ServiceList", vec!["api"]),
        (
            "/api/v1/namespaces/dev/replicationcontrollers",
            "ReplicationControllerList",
            vec!["worker"],
        ),
        ("/api/v1/namespaces/nowhere/pods", "PodList", vec![]),
    ] {
        let list = api.get(path);
        let list = list.expect(200, None);
        assert_eq!(list["kind"], kind, "{path}");
        assert_eq!(list["apiVersion"], "v1", "{path}");
        assert!(
            list["metadata"]["resourceVersion"]
                .as_str()
                .is_some_and(|r| r.parse::<u64>().is_ok()),
            "{list}"
        );
        let mut got = names(list);
        let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{path}");
    }
    // The service and RC came back with Kubernetes' defaults.
    let svc = api.get("/api/v1/namespaces/dev/services/api");
    assert_eq!(svc.body["spec"]["type"], "ClusterIP");
    assert_eq!(svc.body["spec"]["ports"][0]["protocol"], "TCP");
    let worker = api.get("/api/v1/namespaces/dev/replicationcontrollers/worker");
    assert_eq!(worker.body["metadata"]["labels"], json!({"app": "worker"}));
    api.stop();
}

#[test]
fn failures_are_status_objects_with_kubernetes_reasons() {
    let api = Api::start();
    api.create(
        "/api/v1/namespaces/default/pods",
        &pod("web", json!({"app": "web"})),
    );
    let pods = "/api/v1/namespaces/default/pods";
    let other_ns = {
        let mut p = pod("x", json!({}));
        p["metadata"]["namespace"] = json!("dev");
        p
    };
    let no_containers =
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "empty"}, "spec": {"containers": []}});
    let bad_type = json!({"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "r"},
        "spec": {"replicas": "many", "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}});
    #[allow(clippy::type_complexity)]
    let cases: Vec<(&str, &str, Option<Value>, u16, &str, &str)> = vec![
        (
            "GET",
            "/api/v1/namespaces/default/pods/nope",
            None,
            404,
            "NotFound",
            "pods \"nope\" not found",
        ),
        (
            "POST",
            pods,
            Some(pod("web", json!({}))),
            409,
            "AlreadyExists",
            "pods \"web\" already exists",
        ),
        (
            "POST",
            "/api/v1/namespaces/nowhere/pods",
            Some(pod("x", json!({}))),
            404,
            "NotFound",
            "namespaces \"nowhere\" not found",
        ),
        (
            "POST",
            pods,
            Some(other_ns),
            400,
            "BadRequest",
            "does not match the namespace",
        ),
        (
            "POST",
            pods,
            Some(
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {}, "spec": {"containers": [{"name": "c", "image": "x"}]}}),
            ),
            422,
            "Invalid",
            "name or generateName is required",
        ),
        (
            "POST",
            pods,
            Some(no_containers),
            422,
            "Invalid",
            "Pod \"empty\" is invalid: spec.containers: a pod needs at least one container",
        ),
        (
            "POST",
            "/api/v1/namespaces/default/replicationcontrollers",
            Some(bad_type),
            422,
            "Invalid",
            "field `spec.replicas`",
        ),
        (
            "POST",
            pods,
            Some(service("s", json!({})).clone()),
            400,
            "BadRequest",
            "the kind of the object (Service) does not match",
        ),
        (
            "POST",
            pods,
            Some(json!({"apiVersion": "apps/v1", "kind": "Pod", "metadata": {"name": "a"}})),
            400,
            "BadRequest",
            "API version in the data (apps/v1)",
        ),
        (
            "POST",
            pods,
            Some(json!("just text")),
            400,
            "BadRequest",
            "must be a JSON object",
        ),
        (
            "POST",
            "/api/v1/pods",
            Some(pod("x", json!({}))),
            405,
            "MethodNotAllowed",
            "does not allow this method",
        ),
        (
            "POST",
            "/api/v1/namespaces/default/pods/web",
            Some(pod("web", json!({}))),
            405,
            "MethodNotAllowed",
            "",
        ),
        (
            "PUT",
            "/api/v1/namespaces/default/pods/web",
            Some(pod("other", json!({}))),
            400,
            "BadRequest",
            "the name of the object (other) does not match the name on the URL (web)",
        ),
        (
            "PUT",
            "/api/v1/namespaces/default/pods/ghost",
            Some(pod("ghost", json!({}))),
            404,
            "NotFound",
            "pods \"ghost\" not found",
        ),
        (
            "DELETE",
            "/api/v1/namespaces/default/services/ghost",
            None,
            404,
            "NotFound",
            "services \"ghost\" not found",
        ),
        (
            "DELETE",
            "/api/v1/namespaces/default",
            None,
            403,
            "Forbidden",
            "namespaces \"default\" is forbidden",
        ),
        (
            "GET",
            "/api/v1/deployments",
            None,
            404,
            "NotFound",
            "the server could not find the requested resource",
        ),
        ("GET", "/api/v1/pods/web", None, 404, "NotFound", "could not find"),
        (
            "GET",
            "/apis/apps/v1/namespaces/default/statefulsets",
            None,
            404,
            "NotFound",
            "could not find",
        ),
        (
            "GET",
            "/api/v1/namespaces/default/services/web/scale",
            None,
            404,
            "NotFound",
            "could not find",
        ),
        (
            "GET",
            "/api/v1/namespaces/default/replicationcontrollers/nope/scale",
            None,
            404,
            "NotFound",
            "replicationcontrollers \"nope\" not found",
        ),
        (
            "GET",
            "/api/v1/pods?labelSelector=app%20in%20web",
            None,
            400,
            "BadRequest",
            "unable to parse requirement",
        ),
        (
            "GET",
            "/api/v1/pods?fieldSelector=spec.image%3Dx",
            None,
            400,
            "BadRequest",
            "field label not supported: spec.image",
        ),
        (
            "GET",
            "/api/v1/pods?watch=perhaps",
            None,
            400,
            "BadRequest",
            "not a boolean",
        ),
        (
            "POST",
            "/api/v1/namespaces/default/pods?dryRun=Some",
            Some(pod("d", json!({}))),
            400,
            "BadRequest",
            "dryRun",
        ),
        ("DELETE", "/api/v1/namespaces", None, 405, "MethodNotAllowed", ""),
    ];
    for (method, path, body, code, reason, message) in cases {
        let answer = api.call(method, path, body.as_ref());
        answer.expect(code, Some(reason));
        assert!(
            answer.message().contains(message),
            "{method} {path}: {}",
            answer.body
        );
        assert_eq!(answer.content_type, "application/json", "{method} {path}");
    }
    // Details name the object as Kubernetes fills them.
    let missing = api.get("/api/v1/namespaces/default/pods/nope");
    assert_eq!(missing.body["details"], json!({"name": "nope", "kind": "pods"}));
    let invalid = api.post(pods, &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "empty"}, "spec": {"containers": []}}));
    assert_eq!(invalid.body["details"]["kind"], "Pod");
    assert_eq!(invalid.body["details"]["causes"][0]["field"], "spec.containers");
    // Protobuf is read for namespaces and services only (what kubectl's typed commands send); a
    // pod in protobuf (envelope: typeMeta {apiVersion v1, kind Pod}) is refused with a way out.
    let protobuf = api.request(
        "POST",
        pods,
        Some("application/vnd.kubernetes.protobuf"),
        Some(b"k8s\0\x0a\x09\x0a\x02v1\x12\x03Pod"),
    );
    protobuf.expect(415, Some("UnsupportedMediaType"));
    assert!(
        protobuf.message().contains("send v1 Pod as JSON"),
        "{}",
        protobuf.body
    );
    let cbor = api.request("POST", pods, Some("application/cbor"), Some(b"\xa0"));
    cbor.expect(415, Some("UnsupportedMediaType"));
    assert!(cbor.message().contains("application/json"), "{}", cbor.body);
    // A malformed body is a BadRequest, not a crash.
    let garbage = api.request("POST", pods, Some("application/json"), Some(b"{\"kind\": "));
    garbage.expect(400, Some("BadRequest"));
    assert!(garbage.message().contains("not valid JSON"), "{}", garbage.body);
    // Nothing of the refused requests was stored.
    let mut stored = names(&api.get("/api/v1/pods").body);
    stored.sort();
    assert_eq!(stored, ["web"]);
    api.stop();
}

#[test]
fn replace_checks_the_resource_version_and_leaves_status_alone() {
    let api = Api::start();
    let ns = api.create("/api/v1/namespaces", &namespace("team"));
    let path = "/api/v1/namespaces/team";
    let rv = ns["metadata"]["resourceVersion"].as_str().unwrap().to_owned();

    let mut stale = ns.clone();
    stale["metadata"]["resourceVersion"] = json!("1");
    stale["metadata"]["labels"] = json!({"x": "y"});
    let conflict = api.put(path, &stale);
    conflict.expect(409, Some("Conflict"));
    assert_eq!(
        conflict.message(),
        "Operation cannot be fulfilled on namespaces \"team\": the object has been modified; please apply your changes to the latest version and try again"
    );

    let mut fresh = ns.clone();
    fresh["metadata"]["labels"] = json!({"owner": "me"});
    fresh["status"] = json!({"phase": "Terminating"});
    let replaced = api.put(path, &fresh);
    let replaced = replaced.expect(200, None);
    assert_eq!(replaced["metadata"]["labels"], json!({"owner": "me"}));
    assert_eq!(
        replaced["status"]["phase"], "Active",
        "a PUT does not change status"
    );
    assert_eq!(replaced["metadata"]["uid"], ns["metadata"]["uid"]);
    let new_rv = replaced["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(new_rv.parse::<u64>().unwrap() > rv.parse::<u64>().unwrap());

    // The same object again changes nothing, not even the resourceVersion.
    let again = api.put(path, replaced);
    assert_eq!(
        again.expect(200, None)["metadata"]["resourceVersion"],
        new_rv.as_str()
    );
    // Without a resourceVersion, a replace applies to whatever is current.
    let mut unconditional = replaced.clone();
    unconditional["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    unconditional["metadata"]["labels"] = json!({"owner": "you"});
    assert_eq!(
        api.put(path, &unconditional).expect(200, None)["metadata"]["labels"]["owner"],
        "you"
    );
    // The old resourceVersion is stale now.
    api.put(path, &fresh).expect(409, Some("Conflict"));
    api.stop();
}

#[test]
fn patches_in_all_three_formats() {
    let api = Api::start();
    api.create("/api/v1/namespaces", &namespace("team"));
    let ns = "/api/v1/namespaces/team";
    let merge = "application/merge-patch+json";
    let strategic = "application/strategic-merge-patch+json";
    let json_patch = "application/json-patch+json";

    let merged = api.patch(ns, merge, &json!({"metadata": {"labels": {"a": "1", "b": "2"}}}));
    assert_eq!(
        merged.expect(200, None)["metadata"]["labels"],
        json!({"a": "1", "b": "2"})
    );
    let removed = api.patch(ns, merge, &json!({"metadata": {"labels": {"a": null}}}));
    assert_eq!(removed.expect(200, None)["metadata"]["labels"], json!({"b": "2"}));
    let rv = removed.body["metadata"]["resourceVersion"].clone();

    let ops = json!([
        {"op": "test", "path": "/metadata/labels/b", "value": "2"},
        {"op": "add", "path": "/metadata/labels/c", "value": "3"},
        {"op": "replace", "path": "/metadata/labels/b", "value": "two"},
        {"op": "remove", "path": "/metadata/labels/c"},
    ]);
    assert_eq!(
        api.patch(ns, json_patch, &ops).expect(200, None)["metadata"]["labels"],
        json!({"b": "two"})
    );
    let failed = api.patch(
        ns,
        json_patch,
        &json!([{"op": "test", "path": "/metadata/labels/b", "value": "2"}]),
    );
    failed.expect(422, Some("Invalid"));
    assert!(
        failed
            .message()
            .contains("testing value /metadata/labels/b failed"),
        "{}",
        failed.body
    );
    api.patch(
        ns,
        json_patch,
        &json!([{"op": "remove", "path": "/metadata/labels/zzz"}]),
    )
    .expect(422, Some("Invalid"));
    api.patch(ns, json_patch, &json!({"op": "add"}))
        .expect(400, Some("BadRequest"));
    api.patch(ns, json_patch, &json!([{"op": "fly", "path": "/x"}]))
        .expect(400, Some("BadRequest"));

    // A resourceVersion in the patch is a precondition.
    let stale = api.patch(
        ns,
        merge,
        &json!({"metadata": {"resourceVersion": rv, "labels": {"d": "4"}}}),
    );
    stale.expect(409, Some("Conflict"));
    // Patches cannot rename, and unknown formats are refused.
    api.patch(ns, merge, &json!({"metadata": {"name": "other"}}))
        .expect(400, Some("BadRequest"));
    let unsupported = api.patch(ns, "application/json", &json!({}));
    unsupported.expect(415, Some("UnsupportedMediaType"));
    // Server-side apply names its field manager, as Kubernetes insists.
    let unnamed = api.patch(ns, "application/apply-patch+yaml", &json!({}));
    unnamed.expect(400, Some("BadRequest"));
    assert!(
        unnamed.message().contains("fieldManager: Required value"),
        "{}",
        unnamed.body
    );
    api.request("PATCH", ns, Some(merge), Some(b"not json"))
        .expect(400, Some("BadRequest"));
    api.patch("/api/v1/namespaces/ghost", merge, &json!({}))
        .expect(404, Some("NotFound"));
    // A patch whose result is invalid is refused whole.
    let rc_path = "/api/v1/namespaces/default/replicationcontrollers";
    api.create(rc_path, &rc("web", 0));
    let web = format!("{rc_path}/web");
    let invalid = api.patch(&web, merge, &json!({"spec": {"replicas": -1}}));
    invalid.expect(422, Some("Invalid"));
    assert!(invalid.message().contains("spec.replicas"), "{}", invalid.body);

    // Strategic merge: containers merge by name, their ports by containerPort, as kubectl expects.
    let mut two = rc("two", 0);
    two["spec"]["template"]["spec"]["containers"] = json!([
        {"name": "main", "image": ABSENT_IMAGE, "ports": [{"containerPort": 8080, "name": "http"}],
         "env": [{"name": "A", "value": "1"}]},
        {"name": "side", "image": ABSENT_IMAGE},
    ]);
    api.create(rc_path, &two);
    let patched = api.patch(
        &format!("{rc_path}/two"),
        strategic,
        &json!({"spec": {"template": {"spec": {"containers": [
            {"name": "main", "image": "example/absent:2.0", "env": [{"name": "B", "value": "2"}]},
            {"name": "side", "$patch": "delete"}
        ]}}}}),
    );
    let containers = patched.expect(200, None)["spec"]["template"]["spec"]["containers"].clone();
    assert_eq!(containers.as_array().unwrap().len(), 1, "{containers}");
    assert_eq!(containers[0]["image"], "example/absent:2.0");
    assert_eq!(
        containers[0]["ports"][0]["containerPort"], 8080,
        "kept: {containers}"
    );
    assert_eq!(
        containers[0]["env"],
        json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])
    );
    assert_eq!(
        patched.body["metadata"]["generation"], 2,
        "a spec change bumps the generation"
    );
    // As a merge patch, the same list replaces the whole list.
    let replaced = api.patch(
        &format!("{rc_path}/two"),
        merge,
        &json!({"spec": {"template": {"spec": {"containers": [{"name": "only", "image": ABSENT_IMAGE}]}}}}),
    );
    assert_eq!(
        replaced.expect(200, None)["spec"]["template"]["spec"]["containers"][0]["name"],
        "only"
    );
    api.stop();
}

#[test]
fn the_status_subresource_changes_only_status() {
    let api = Api::start();
    api.create("/api/v1/namespaces", &namespace("team"));
    let status_path = "/api/v1/namespaces/team/status";
    let ns = api.get(status_path).expect(200, None).clone();
    assert_eq!(ns["kind"], "Namespace");

    let mut sent = ns.clone();
    sent["status"] = json!({"phase": "Terminating"});
    sent["metadata"]["labels"] = json!({"ignored": "yes"});
    let put = api.put(status_path, &sent);
    let put = put.expect(200, None);
    assert_eq!(put["status"]["phase"], "Terminating");
    assert!(put["metadata"].get("labels").is_none(), "{put}");

    let patched = api.patch(
        status_path,
        "application/merge-patch+json",
        &json!({"status": {"phase": "Active"}, "metadata": {"labels": {"no": "pe"}}}),
    );
    let patched = patched.expect(200, None);
    assert_eq!(patched["status"]["phase"], "Active");
    assert!(patched["metadata"].get("labels").is_none(), "{patched}");
    // A stale resourceVersion is a conflict here too.
    api.put(status_path, &sent).expect(409, Some("Conflict"));
    // And the main resource ignores status patches.
    let main = api.patch(
        "/api/v1/namespaces/team",
        "application/merge-patch+json",
        &json!({"status": {"phase": "Gone"}}),
    );
    assert_eq!(main.expect(200, None)["status"]["phase"], "Active");

    // Pods too: a status written through the subresource, answered with the whole pod.
    api.create("/api/v1/namespaces/default/pods", &pod("web", json!({})));
    let pod_status = api.patch(
        "/api/v1/namespaces/default/pods/web/status",
        "application/merge-patch+json",
        &json!({"status": {"message": "hello"}}),
    );
    let pod_status = pod_status.expect(200, None);
    assert_eq!(
        (
            pod_status["kind"].as_str(),
            pod_status["status"]["message"].as_str()
        ),
        (Some("Pod"), Some("hello"))
    );
    api.request("POST", status_path, Some("application/json"), Some(b"{}"))
        .expect(405, Some("MethodNotAllowed"));
    api.stop();
}

#[test]
fn the_scale_subresource_reads_and_sets_replicas() {
    let api = Api::start();
    let created = api.create("/api/v1/namespaces/default/replicationcontrollers", &rc("web", 0));
    let scale_path = "/api/v1/namespaces/default/replicationcontrollers/web/scale";
    let scale = api.get(scale_path);
    let scale = scale.expect(200, None);
    assert_eq!(
        (scale["kind"].as_str(), scale["apiVersion"].as_str()),
        (Some("Scale"), Some("autoscaling/v1"))
    );
    assert_eq!(scale["metadata"]["name"], "web");
    assert_eq!(scale["metadata"]["uid"], created["metadata"]["uid"]);
    assert_eq!(scale["spec"]["replicas"], 0);
    assert_eq!(scale["status"]["selector"], "app=web");

    // What `kubectl scale` sends.
    let patched = api.patch(
        scale_path,
        "application/merge-patch+json",
        &json!({"spec": {"replicas": 3}}),
    );
    assert_eq!(patched.expect(200, None)["spec"]["replicas"], 3);
    let rc_now = api.get("/api/v1/namespaces/default/replicationcontrollers/web");
    assert_eq!(rc_now.body["spec"]["replicas"], 3);

    // The Scale's resourceVersion is the RC's: the one read before the patch is stale now.
    let mut stale = scale.clone();
    stale["spec"]["replicas"] = json!(0);
    api.put(scale_path, &stale).expect(409, Some("Conflict"));
    let mut put = stale.clone();
    put["metadata"].as_object_mut().unwrap().remove("resourceVersion");
    let replaced = api.put(scale_path, &put);
    assert_eq!(replaced.expect(200, None)["spec"]["replicas"], 0);

    let negative = api.put(scale_path, &json!({"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": {"name": "web"}, "spec": {"replicas": -2}}));
    negative.expect(422, Some("Invalid"));
    assert!(negative.message().contains("spec.replicas"), "{}", negative.body);
    api.put(
        scale_path,
        &json!({"metadata": {"name": "other"}, "spec": {"replicas": 1}}),
    )
    .expect(400, Some("BadRequest"));
    api.patch(
        scale_path,
        "application/json-patch+json",
        &json!([{"op": "replace", "path": "/spec/replicas", "value": 2}]),
    )
    .expect(200, None);
    assert_eq!(api.get(scale_path).body["spec"]["replicas"], 2);
    api.stop();
}

#[test]
fn lists_filter_by_label_and_field_selectors() {
    let api = Api::start();
    api.create("/api/v1/namespaces", &namespace("dev"));
    for (ns, name, labels) in [
        (
            "default",
            "web-1",
            json!({"app": "web", "tier": "front", "env": "prod"}),
        ),
        (
            "default",
            "web-2",
            json!({"app": "web", "tier": "front", "env": "dev"}),
        ),
        ("default", "db", json!({"app": "db", "env": "prod"})),
        (
            "dev",
            "web-3",
            json!({"app": "web", "env": "dev", "canary": "true"}),
        ),
    ] {
        api.create(&format!("/api/v1/namespaces/{ns}/pods"), &pod(name, labels));
    }
    for (query, expected) in [
        ("labelSelector=app%3Dweb", vec!["web-1", "web-2", "web-3"]),
        ("labelSelector=app%3D%3Dweb", vec!["web-1", "web-2", "web-3"]),
        ("labelSelector=app%21%3Dweb", vec!["db"]),
        ("labelSelector=env%20in%20(dev,qa)", vec!["web-2", "web-3"]),
        ("labelSelector=env%20notin%20(dev)", vec!["db", "web-1"]),
        ("labelSelector=tier", vec!["web-1", "web-2"]),
        ("labelSelector=%21tier", vec!["db", "web-3"]),
        ("labelSelector=app%3Dweb,%21canary,env%3Dprod", vec!["web-1"]),
        ("fieldSelector=metadata.name%3Ddb", vec!["db"]),
        ("fieldSelector=metadata.namespace%3Ddev", vec!["web-3"]),
        (
            "fieldSelector=metadata.namespace%21%3Ddev,metadata.name%21%3Ddb",
            vec!["web-1", "web-2"],
        ),
        (
            "fieldSelector=status.phase%3DPending&labelSelector=app%3Ddb",
            vec!["db"],
        ),
        ("labelSelector=app%3Dnone", vec![]),
    ] {
        let list = api.get(&format!("/api/v1/pods?{query}"));
        let mut got = names(list.expect(200, None));
        got.sort();
        assert_eq!(got, expected, "{query}");
    }
    let in_dev = api.get("/api/v1/namespaces/dev/pods?labelSelector=app%3Dweb");
    assert_eq!(names(&in_dev.body), ["web-3"]);
    let namespaces = api.get("/api/v1/namespaces?fieldSelector=metadata.name%3Ddev");
    assert_eq!(names(&namespaces.body), ["dev"]);
    api.stop();
}

#[test]
fn deletes_answer_with_the_object_and_take_an_owners_pods_along() {
    let api = Api::start();
    let rcs = "/api/v1/namespaces/default/replicationcontrollers";
    let pods = "/api/v1/namespaces/default/pods";
    // Two owners (replicas 0, so the reconciler makes no pods of its own), each with pods that
    // name it as owner (not as controller, so the reconciler does not count them as replicas).
    let mut uids = Vec::new();
    for owner in ["keep", "drop"] {
        let created = api.create(rcs, &rc(owner, 0));
        let uid = created["metadata"]["uid"].as_str().unwrap().to_owned();
        for i in 1..=2 {
            let mut p = pod(&format!("{owner}-{i}"), json!({"owner": owner}));
            p["metadata"]["ownerReferences"] = json!([{
                "apiVersion": "v1", "kind": "ReplicationController", "name": owner, "uid": uid, "controller": false
            }]);
            api.create(pods, &p);
        }
        uids.push(uid);
    }
    api.create(pods, &pod("loner", json!({})));

    let deleted = api.delete(&format!("{rcs}/drop"));
    let deleted = deleted.expect(200, None);
    assert_eq!(
        (deleted["kind"].as_str(), deleted["metadata"]["name"].as_str()),
        (Some("ReplicationController"), Some("drop"))
    );
    api.get(&format!("{rcs}/drop")).expect(404, Some("NotFound"));
    api.delete(&format!("{rcs}/drop")).expect(404, Some("NotFound"));
    // The pods terminate first, and are gone once the daemon has stopped what they ran.
    let mut left = Vec::new();
    wait_until("the owner's pods gone", Duration::from_secs(60), || {
        left = names(&api.get(pods).body);
        left.sort();
        left.len() == 3
    });
    assert_eq!(
        left,
        ["keep-1", "keep-2", "loner"],
        "the owner's pods went with it"
    );

    // Orphan leaves them, without the reference to the owner that is gone.
    api.delete(&format!("{rcs}/keep?propagationPolicy=Orphan"))
        .expect(200, None);
    let orphan = api.get(&format!("{pods}/keep-1"));
    assert!(
        orphan.expect(200, None)["metadata"]
            .get("ownerReferences")
            .is_none_or(|r| r == &json!([])),
        "{}",
        orphan.body
    );

    // Preconditions in DeleteOptions (on a namespace, which nothing else writes to).
    let team = api.create("/api/v1/namespaces", &namespace("team"));
    let wrong_uid = json!({"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"uid": uids[0]}});
    let refused = api.call("DELETE", "/api/v1/namespaces/team", Some(&wrong_uid));
    refused.expect(409, Some("Conflict"));
    assert!(
        refused.message().contains("Precondition failed: UID"),
        "{}",
        refused.body
    );
    let stale = json!({"preconditions": {"resourceVersion": "1"}});
    api.call("DELETE", "/api/v1/namespaces/team", Some(&stale))
        .expect(409, Some("Conflict"));
    let right = json!({"preconditions": {"uid": team["metadata"]["uid"], "resourceVersion": team["metadata"]["resourceVersion"]}});
    api.call("DELETE", "/api/v1/namespaces/team", Some(&right))
        .expect(200, None);
    api.delete(&format!("{pods}/loner")).expect(200, None);
    api.request(
        "DELETE",
        &format!("{pods}/keep-1"),
        Some("application/json"),
        Some(b"{oops"),
    )
    .expect(400, Some("BadRequest"));

    // A collection, by selector: answered with what went.
    let gone = api.delete(&format!("{pods}?labelSelector=owner%3Dkeep"));
    let mut gone_names = names(gone.expect(200, None));
    gone_names.sort();
    assert_eq!(gone_names, ["keep-1", "keep-2"]);
    assert_eq!(gone.body["kind"], "PodList");
    // Deleted pods stay listed, terminating, until their processes are gone.
    wait_until("the deleted pods to go", Duration::from_secs(60), || {
        names(&api.get(pods).body).is_empty()
    });
    api.stop();
}

#[test]
fn deleting_a_namespace_deletes_everything_in_it() {
    let api = Api::start();
    api.create("/api/v1/namespaces", &namespace("dev"));
    api.create("/api/v1/namespaces/dev/pods", &pod("a", json!({})));
    api.create(
        "/api/v1/namespaces/dev/services",
        &service("s", json!({"app": "x"})),
    );
    api.create("/api/v1/namespaces/dev/replicationcontrollers", &rc("r", 0));
    api.create("/api/v1/namespaces/default/pods", &pod("a", json!({})));

    let deleted = api.delete("/api/v1/namespaces/dev");
    assert_eq!(deleted.expect(200, None)["metadata"]["name"], "dev");
    for kind in ["pods", "services", "replicationcontrollers"] {
        let list = api.get(&format!("/api/v1/{kind}"));
        let in_dev: Vec<&Value> = list.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["metadata"]["namespace"] == "dev")
            .collect();
        assert!(in_dev.is_empty(), "{kind}: {in_dev:?}");
    }
    assert_eq!(
        names(&api.get("/api/v1/namespaces/default/pods").body),
        ["a"],
        "other namespaces keep theirs"
    );
    // Creating in it now fails as in a namespace that never was.
    api.post("/api/v1/namespaces/dev/pods", &pod("b", json!({})))
        .expect(404, Some("NotFound"));
    api.delete("/api/v1/namespaces/default")
        .expect(403, Some("Forbidden"));
    assert_eq!(api.get("/api/v1/namespaces/default").code, 200);
    api.stop();
}

#[test]
fn warnings_come_as_headers_and_strict_validation_refuses_unknown_fields() {
    let api = Api::start();
    let mut typo = rc("web", 0);
    typo["spec"]["replcas"] = json!(2);
    typo["spec"]["template"]["spec"]["nodeSelector"] = json!({"disk": "ssd"});
    let path = "/api/v1/namespaces/default/replicationcontrollers";
    let created = api.post(path, &typo);
    created.expect(201, None);
    let warnings = created.warnings.join("\n");
    assert!(
        warnings.contains("299 - \"unknown field \\\"spec.replcas\\\"\""),
        "{warnings}"
    );
    assert!(
        warnings.contains("spec.template.spec.nodeSelector is ignored by jube"),
        "{warnings}"
    );

    let mut strict_typo = typo.clone();
    strict_typo["metadata"]["name"] = json!("strict");
    let strict = api.post(&format!("{path}?fieldValidation=Strict"), &strict_typo);
    strict.expect(400, Some("BadRequest"));
    assert!(
        strict
            .message()
            .contains("strict decoding error: unknown field \"spec.replcas\""),
        "{}",
        strict.body
    );
    let ignored = api.post(&format!("{path}?fieldValidation=Ignore"), &strict_typo);
    ignored.expect(201, None);
    assert!(
        !ignored.warnings.join("\n").contains("unknown field"),
        "{:?}",
        ignored.warnings
    );
    api.stop();
}

#[test]
fn dry_runs_and_generated_names() {
    let api = Api::start();
    let pods = "/api/v1/namespaces/default/pods";
    let dry = api.post(&format!("{pods}?dryRun=All"), &pod("dry", json!({})));
    assert_eq!(dry.expect(201, None)["metadata"]["name"], "dry");
    api.get(&format!("{pods}/dry")).expect(404, Some("NotFound"));

    let mut generated = pod("", json!({}));
    generated["metadata"] = json!({"generateName": "web-"});
    let first = api.create(pods, &generated);
    let second = api.create(pods, &generated);
    for p in [&first, &second] {
        let name = p["metadata"]["name"].as_str().unwrap();
        assert!(name.starts_with("web-") && name.len() == 9, "{name}");
    }
    assert_ne!(first["metadata"]["name"], second["metadata"]["name"]);

    let name = first["metadata"]["name"].as_str().unwrap();
    api.patch(
        &format!("{pods}/{name}?dryRun=All"),
        "application/merge-patch+json",
        &json!({"metadata": {"labels": {"x": "y"}}}),
    )
    .expect(200, None);
    assert!(
        api.get(&format!("{pods}/{name}")).body["metadata"]
            .get("labels")
            .is_none_or(|l| l.get("x").is_none())
    );
    api.delete(&format!("{pods}/{name}?dryRun=All")).expect(200, None);
    api.get(&format!("{pods}/{name}")).expect(200, None);
    api.stop();
}

#[test]
fn yaml_bodies_are_accepted_like_json() {
    let api = Api::start();
    let yaml = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: from-yaml\nspec:\n  containers:\n  - name: main\n    image: {ABSENT_IMAGE}\n"
    );
    let created = api.request(
        "POST",
        "/api/v1/namespaces/default/pods",
        Some("application/yaml"),
        Some(yaml.as_bytes()),
    );
    assert_eq!(created.expect(201, None)["metadata"]["name"], "from-yaml");
    api.stop();
}

#[test]
fn kubectl_asks_for_tables_and_gets_them_for_lists_objects_and_watches() {
    let api = Api::start();
    api.create(
        "/api/v1/namespaces/default/pods",
        &pod("web", json!({"app": "web"})),
    );
    let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
    let get = |path: &str| -> Value {
        let resp = reqwest::blocking::Client::new()
            .get(api.url(path))
            .header("Accept", accept)
            .send()
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        resp.json().unwrap()
    };
    let list = get("/api/v1/namespaces/default/pods");
    assert_eq!(
        (list["kind"].as_str(), list["apiVersion"].as_str()),
        (Some("Table"), Some("meta.k8s.io/v1"))
    );
    assert!(list["metadata"]["resourceVersion"].is_string(), "{list}");
    let columns: Vec<&str> = list["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        columns,
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
    );
    assert_eq!(list["columnDefinitions"][5]["priority"], 1, "IP is a wide column");
    assert_eq!(list["rows"][0]["cells"][0], "web");
    assert_eq!(list["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    assert_eq!(list["rows"][0]["object"]["metadata"]["labels"]["app"], "web");

    let one = get("/api/v1/namespaces/default/pods/web?includeObject=Object");
    assert_eq!(one["rows"][0]["object"]["kind"], "Pod");
    let none = get("/api/v1/namespaces?includeObject=None");
    assert!(none["rows"][0].get("object").is_none(), "{none}");
    // Without the header, the same paths answer plain objects.
    assert_eq!(api.get("/api/v1/namespaces/default/pods").body["kind"], "PodList");

    let resp = reqwest::blocking::Client::new()
        .get(api.url("/api/v1/namespaces?watch=true&timeoutSeconds=1"))
        .header("Accept", accept)
        .send()
        .unwrap();
    let text = resp.text().unwrap();
    let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["type"], "ADDED");
    assert_eq!(first["object"]["kind"], "Table");
    assert_eq!(first["object"]["rows"][0]["cells"][0], "default");
    api.stop();
}

fn names_of_resources(list: &Value) -> Vec<String> {
    list["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["name"].as_str().map(str::to_owned))
        .collect()
}
