//! `events.k8s.io/v1`: the same events as core/v1 (one store, as in Kubernetes), in the newer
//! shape (`regarding`, `note`, `reportingController`, `series`, `deprecated*`). jube serves it for
//! reading (get and list); events are written through core/v1, as jube's own recorder does.

use serde_json::{Map, Value, json};

use crate::kube::api::ApiState;
use crate::kube::api::objects;
use crate::kube::api::request::{Params, Reply, Target};
use crate::kube::kinds::Kind;
use crate::kube::status::ApiError;

pub const GROUP_VERSION: &str = "events.k8s.io/v1";

/// A GET under `/apis/events.k8s.io/v1/`: the core events, converted.
pub fn get(state: &ApiState, rest: &str, query: Option<&str>) -> Result<Reply, ApiError> {
    let target = Target::parse_in("/api/v1", rest)?;
    if target.kind != Kind::Event || target.sub.is_some() {
        return Err(ApiError::no_such_resource());
    }
    let params = Params::parse(Some(&core_query(query.unwrap_or_default())));
    let mut reply = match target.name.as_deref() {
        Some(name) => objects::get(state, &target, name)?,
        None => objects::list(state, &target, &params)?,
    };
    if target.name.is_some() {
        reply.body = to_v1(&reply.body);
    } else if let Some(map) = reply.body.as_object_mut() {
        map.insert("apiVersion".into(), json!(GROUP_VERSION));
        if let Some(Value::Array(items)) = map.get_mut("items") {
            for item in items.iter_mut() {
                *item = to_v1(item);
            }
        }
    }
    Ok(reply)
}

/// The query with its field selector's v1 names (`regarding.name`, `note`) turned into core/v1's.
fn core_query(query: &str) -> String {
    let core_field = |field: &str| match field.split_once('.') {
        Some(("regarding", rest)) => format!("involvedObject.{rest}"),
        _ if field == "note" => "message".into(),
        _ if field == "reportingController" => "reportingComponent".into(),
        _ => field.to_owned(),
    };
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if key == "fieldSelector" {
            let mapped: Vec<String> = value
                .split(',')
                .map(|term| {
                    let at = term.find(['=', '!']).unwrap_or(term.len());
                    format!("{}{}", core_field(&term[..at]), &term[at..])
                })
                .collect();
            out.append_pair(&key, &mapped.join(","));
        } else {
            out.append_pair(&key, &value);
        }
    }
    out.finish()
}

/// A core/v1 Event as events.k8s.io/v1 shows it.
pub fn to_v1(core: &Value) -> Value {
    let field = |name: &str| core.get(name).cloned().filter(|v| !v.is_null());
    let mut out = Map::new();
    out.insert("apiVersion".into(), json!(GROUP_VERSION));
    out.insert("kind".into(), json!("Event"));
    out.insert("metadata".into(), field("metadata").unwrap_or_else(|| json!({})));
    // eventTime is required in v1: the first time it was seen, in microseconds.
    let first = field("eventTime")
        .or_else(|| field("firstTimestamp"))
        .and_then(|t| t.as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok()))
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string());
    out.insert("eventTime".into(), json!(first));
    let count = core.get("count").and_then(Value::as_u64).unwrap_or(1);
    if count > 1 {
        out.insert(
            "series".into(),
            json!({"count": count, "lastObservedTime": field("lastTimestamp")}),
        );
    }
    let controller = field("reportingComponent").or_else(|| core.pointer("/source/component").cloned());
    for (key, value) in [
        ("reportingController", controller),
        ("reportingInstance", field("reportingInstance")),
        ("action", field("action")),
        ("reason", field("reason")),
        ("regarding", field("involvedObject")),
        ("related", field("related")),
        ("note", field("message")),
        ("type", field("type")),
        ("deprecatedSource", field("source")),
        ("deprecatedFirstTimestamp", field("firstTimestamp")),
        ("deprecatedLastTimestamp", field("lastTimestamp")),
        ("deprecatedCount", field("count")),
    ] {
        if let Some(v) = value {
            out.insert(key.into(), v);
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_field_selectors_read_core_fields() {
        assert_eq!(
            core_query("fieldSelector=regarding.name%3Dweb-1%2Cnote%21%3Dx&limit=5"),
            "fieldSelector=involvedObject.name%3Dweb-1%2Cmessage%21%3Dx&limit=5"
        );
    }

    #[test]
    fn a_core_event_reads_as_events_k8s_io_v1() {
        let core = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "web-1.abc", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "web-1"}, "reason": "BackOff", "message": "Back-off",
            "type": "Warning", "count": 3, "firstTimestamp": "2026-12-04T01:00:00Z", "lastTimestamp": "2026-12-04T01:05:00Z",
            "source": {"component": "kubelet", "host": "box"}, "reportingComponent": "kubelet", "reportingInstance": "box"});
        let v1 = to_v1(&core);
        assert_eq!(v1["apiVersion"], "events.k8s.io/v1");
        assert_eq!(v1["regarding"]["name"], "web-1");
        assert_eq!(v1["note"], "Back-off");
        assert_eq!(v1["reportingController"], "kubelet");
        assert_eq!(v1["eventTime"], "2026-12-04T01:00:00.000000Z");
        assert_eq!(
            v1["series"],
            json!({"count": 3, "lastObservedTime": "2026-12-04T01:05:00Z"})
        );
        assert_eq!(v1["deprecatedCount"], 3);
        assert!(v1.get("message").is_none() && v1.get("involvedObject").is_none());
    }
}
