//! `describe`: an object as `kubectl describe` prints it, the parts jube has: identity, labels,
//! annotations, selector, replicas, containers and conditions (with their reasons and messages).

use std::fmt::Write;

use serde_json::Value;

use crate::kube::table::selector_text;

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// The annotation kubectl keeps the applied manifest in: it may hold a Secret's values in plain
/// text, and kubectl's describe leaves it out too.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

fn map_lines(out: &mut String, title: &str, map: Option<&Value>) {
    let entries: Vec<String> = map
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter(|(k, _)| k.as_str() != LAST_APPLIED)
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{:<14}{}",
        format!("{title}:"),
        entries.first().map_or("<none>", String::as_str)
    );
    for e in entries.iter().skip(1) {
        let _ = writeln!(out, "{:<14}{e}", "");
    }
}

/// The text `jube describe` prints for one object with no events.
pub fn describe(object: &Value) -> String {
    describe_with_events(object, &[], None, jiff::Timestamp::now())
}

/// The text `jube describe` prints for one object, with the events about it (and for a Service,
/// its Endpoints).
pub fn describe_with_events(
    object: &Value,
    events: &[Value],
    endpoints: Option<&Value>,
    now: jiff::Timestamp,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{:<14}{}", "Name:", text(object, "/metadata/name"));
    if let Some(ns) = object.pointer("/metadata/namespace").and_then(Value::as_str) {
        let _ = writeln!(out, "{:<14}{ns}", "Namespace:");
    }
    let _ = writeln!(out, "{:<14}{}", "Kind:", text(object, "/kind"));
    map_lines(&mut out, "Labels", object.pointer("/metadata/labels"));
    map_lines(&mut out, "Annotations", object.pointer("/metadata/annotations"));
    if let Some(t) = object
        .pointer("/metadata/deletionTimestamp")
        .and_then(Value::as_str)
    {
        let _ = writeln!(out, "{:<14}Terminating (since {t})", "Status:");
    } else if let Some(phase) = object.pointer("/status/phase").and_then(Value::as_str) {
        let _ = writeln!(out, "{:<14}{phase}", "Status:");
    }
    if let Some(selector) = object.pointer("/spec/selector") {
        let _ = writeln!(out, "{:<14}{}", "Selector:", selector_text(Some(selector)));
    }
    if text(object, "/kind") == "Service" {
        service_lines(&mut out, object, endpoints);
    }
    if let Some(r) = object.pointer("/spec/replicas").and_then(Value::as_u64) {
        let int = |p: &str| object.pointer(p).and_then(Value::as_u64).unwrap_or(0);
        let _ = writeln!(
            out,
            "{:<14}{r} desired | {} updated | {} total | {} available | {} unavailable",
            "Replicas:",
            int("/status/updatedReplicas"),
            int("/status/replicas"),
            int("/status/availableReplicas"),
            int("/status/unavailableReplicas"),
        );
    }
    if let Some(s) = object.pointer("/spec/strategy/type").and_then(Value::as_str) {
        let _ = writeln!(out, "{:<14}{s}", "StrategyType:");
    }
    let containers = object
        .pointer("/spec/containers")
        .or_else(|| object.pointer("/spec/template/spec/containers"))
        .and_then(Value::as_array);
    if let Some(containers) = containers {
        let _ = writeln!(out, "Containers:");
        for c in containers {
            let _ = writeln!(out, "  {}:", text(c, "/name"));
            let _ = writeln!(out, "    Image:      {}", text(c, "/image"));
            let ports: Vec<String> = c
                .get("ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|p| p.get("containerPort").and_then(Value::as_u64))
                .map(|p| format!("{p}/TCP"))
                .collect();
            if !ports.is_empty() {
                let _ = writeln!(out, "    Port:       {}", ports.join(", "));
            }
            for key in ["command", "args"] {
                if let Some(items) = c.get(key).and_then(Value::as_array) {
                    let _ = writeln!(out, "    {}:", if key == "command" { "Command" } else { "Args" });
                    for i in items {
                        let _ = writeln!(out, "      {}", i.as_str().unwrap_or_default());
                    }
                }
            }
        }
    }
    if let Some(conditions) = object.pointer("/status/conditions").and_then(Value::as_array) {
        let _ = writeln!(out, "Conditions:\n  Type              Status  Reason");
        for c in conditions {
            let _ = writeln!(
                out,
                "  {:<18}{:<8}{}",
                text(c, "/type"),
                text(c, "/status"),
                text(c, "/reason")
            );
            let message = text(c, "/message");
            if !message.is_empty() {
                let _ = writeln!(out, "    Message: {message}");
            }
        }
    }
    data_lines(&mut out, object);
    event_lines(&mut out, events, now);
    out
}

/// A Service's address, ports and Endpoints, as `kubectl describe svc` shows them.
fn service_lines(out: &mut String, svc: &Value, endpoints: Option<&Value>) {
    let _ = writeln!(out, "{:<14}{}", "IP:", text(svc, "/spec/clusterIP"));
    let _ = writeln!(
        out,
        "{:<14}{}",
        "Port(s):",
        crate::kube::table::service_ports(svc)
    );
    let listed = endpoints.map_or_else(|| "<none>".to_owned(), crate::kube::table::endpoints_cell);
    let _ = writeln!(out, "{:<14}{listed}", "Endpoints:");
}

/// `Events:` as kubectl prints them: type, reason, age (with the count of repeats), source and
/// message, oldest first.
fn event_lines(out: &mut String, events: &[Value], now: jiff::Timestamp) {
    if events.is_empty() {
        let _ = writeln!(out, "Events:       <none>");
        return;
    }
    let mut sorted: Vec<&Value> = events.iter().collect();
    sorted.sort_by_key(|e| text(e, "/firstTimestamp").to_owned());
    let rows: Vec<[String; 5]> = sorted
        .iter()
        .map(|e| {
            let age = |p: &str| crate::kube::table::age(e.pointer(p), now);
            let count = e.get("count").and_then(Value::as_u64).unwrap_or(1);
            let when = if count > 1 {
                format!(
                    "{} (x{count} over {})",
                    age("/lastTimestamp"),
                    age("/firstTimestamp")
                )
            } else {
                age("/lastTimestamp")
            };
            [
                text(e, "/type").to_owned(),
                text(e, "/reason").to_owned(),
                when,
                text(e, "/source/component").to_owned(),
                text(e, "/message").to_owned(),
            ]
        })
        .collect();
    let headers = ["Type", "Reason", "Age", "From", "Message"];
    let widths: Vec<usize> = (0..4)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .max()
                .unwrap_or(0)
                .max(headers[i].len())
        })
        .collect();
    let _ = writeln!(out, "Events:");
    let line = |cells: [&str; 5]| {
        let mut l = String::from("  ");
        for (i, cell) in cells.iter().enumerate().take(4) {
            let _ = write!(l, "{cell:<w$}  ", w = widths[i]);
        }
        l.push_str(cells[4]);
        l
    };
    let _ = writeln!(out, "{}", line(headers));
    let _ = writeln!(out, "{}", line(["----", "------", "----", "----", "-------"]));
    for r in &rows {
        let _ = writeln!(out, "{}", line([&r[0], &r[1], &r[2], &r[3], &r[4]]));
    }
}

/// A ConfigMap's keys and values; a Secret's keys with their sizes only, as kubectl shows them.
fn data_lines(out: &mut String, object: &Value) {
    use base64::Engine as _;
    let entries = |field: &str| {
        object
            .get(field)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect::<Vec<_>>()
    };
    match text(object, "/kind") {
        "ConfigMap" => {
            let _ = writeln!(out, "\nData\n====");
            for (k, v) in entries("data") {
                let _ = writeln!(out, "{k}:\n----\n{v}\n");
            }
            let _ = writeln!(out, "\nBinaryData\n====");
            for (k, v) in entries("binaryData") {
                let size = base64::engine::general_purpose::STANDARD
                    .decode(v)
                    .map_or(0, |b| b.len());
                let _ = writeln!(out, "{k}: {size} bytes");
            }
        }
        "Secret" => {
            let _ = writeln!(out, "\nType:  {}\n\nData\n====", text(object, "/type"));
            for (k, v) in entries("data") {
                let size = base64::engine::general_purpose::STANDARD
                    .decode(v)
                    .map_or(0, |b| b.len());
                let _ = writeln!(out, "{k}:  {size} bytes");
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_not_ready_pod_shows_why() {
        let pod = json!({"kind": "Pod", "metadata": {"name": "web-1", "namespace": "default", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "x", "ports": [{"containerPort": 3000}]}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False",
                "reason": "ContainersNotReady", "message": "containers with unready status: [web]"}]}});
        let text = describe(&pod);
        assert!(text.contains("Name:         web-1"), "{text}");
        assert!(text.contains("Labels:       app=web"), "{text}");
        assert!(text.contains("ContainersNotReady"), "{text}");
        assert!(
            text.contains("Message: containers with unready status: [web]"),
            "{text}"
        );
        assert!(text.contains("Port:       3000/TCP"), "{text}");
    }

    #[test]
    fn a_secret_shows_sizes_and_never_its_values() {
        let secret = json!({"kind": "Secret", "type": "Opaque", "metadata": {"name": "db", "namespace": "default",
            "annotations": {LAST_APPLIED: "{\"stringData\":{\"password\":\"hunter2\"}}", "team": "a"}},
            "data": {"password": "aHVudGVyMg=="}});
        let text = describe(&secret);
        assert!(text.contains("password:  7 bytes"), "{text}");
        assert!(text.contains("team=a"), "{text}");
        assert!(
            !text.contains("hunter2") && !text.contains("aHVudGVyMg"),
            "{text}"
        );
        let config = json!({"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"mode": "demo"}});
        assert!(describe(&config).contains("mode:\n----\ndemo"));
    }
}
