//! `jube apply -f`: create what is absent, patch what the user changed, leave the rest alone.
//!
//! As kubectl's client-side apply: what was applied last is kept in the object's
//! `kubectl.kubernetes.io/last-applied-configuration` annotation, and an update is a three-way
//! merge patch from that (original), the file (modified) and the live object (current), so
//! fields the daemon or other commands set (replicas from `jube scale`, defaults, status) stay
//! unless the file itself changed them.

use serde_json::{Map, Value};

use super::{FileArgs, connect_or_start, is_fatal, namespace_of, object_path, print_error, source_name};
use crate::cli::output;
use crate::kube::client::{Client, ClientError};
use crate::kube::kinds::Kind;
use crate::kube::manifest::Manifest;

/// The annotation kubectl keeps what was applied in.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

const MERGE_PATCH: &str = "application/merge-patch+json";

#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub files: FileArgs,
    /// The namespace of objects that name none (default: `default`).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
}

/// One object, ready to send.
struct Prepared {
    manifest: Manifest,
    namespace: String,
    object: Value,
}

pub fn apply(args: &ApplyArgs) -> anyhow::Result<i32> {
    if args.files.files.is_empty() {
        return Ok(super::usage_error(&super::Usage(
            "must specify -f: `jube apply -f FILE|DIR|-` (a manifest, a folder of them, or stdin)".into(),
        )));
    }
    let manifests = super::load_manifests(&args.files)?;
    if manifests.is_empty() {
        anyhow::bail!("no objects passed to apply");
    }
    // Every object is checked (namespaces too) before the first is sent.
    let mut prepared = Vec::new();
    for m in manifests {
        let namespace = namespace_of(&m, args.namespace.as_deref()).map_err(anyhow::Error::msg)?;
        let object = with_last_applied(&m.object, m.kind, namespace.as_deref())?;
        prepared.push(Prepared {
            namespace: namespace.unwrap_or_default(),
            manifest: m,
            object,
        });
    }
    let client = connect_or_start()?;
    let mut failed = false;
    for p in &prepared {
        match apply_one(&client, p) {
            Ok(outcome) => output::print(&format!(
                "{}/{} {outcome}\n",
                p.manifest.kind.singular(),
                p.manifest.name
            ))?,
            Err((action, e)) => {
                print_error(
                    &e,
                    Some(&format!("error when {action} \"{}\"", source_name(&p.manifest))),
                );
                failed = true;
                if is_fatal(&e) {
                    break;
                }
            }
        }
    }
    Ok(if failed { super::super::EXIT_FAILURE } else { 0 })
}

/// Creates or patches one object; says `created`, `configured` or `unchanged`, or what failed
/// while doing what.
fn apply_one(client: &Client, p: &Prepared) -> Result<&'static str, (&'static str, ClientError)> {
    let kind = p.manifest.kind;
    let path = object_path(kind, &p.namespace, &p.manifest.name);
    // Twice at most: another apply may create the object between our read and our create.
    for _ in 0..2 {
        let current = match client.get(&path) {
            Ok(current) => current,
            Err(e) if e.is_not_found() => {
                let collection = kind.collection_path(kind.namespaced().then_some(p.namespace.as_str()));
                match client.request(reqwest::Method::POST, &collection, Some(&p.object)) {
                    Ok(_) => return Ok("created"),
                    Err(ClientError::Api { code: 409, .. }) => continue,
                    Err(e) => return Err(("creating", e)),
                }
            }
            Err(e) => return Err(("retrieving current configuration of", e)),
        };
        let original = last_applied(&current);
        if original.is_none() {
            eprintln!(
                "Warning: {}/{} is missing the {LAST_APPLIED} annotation, which jube apply (as kubectl \
                 apply) keeps to know what it applied; it is added now",
                kind.plural(),
                p.manifest.name
            );
        }
        let patch = three_way_patch(original.as_ref(), &p.object, &current);
        if patch.is_empty() {
            return Ok("unchanged");
        }
        return match client.patch(&path, MERGE_PATCH, &Value::Object(patch)) {
            Ok(_) => Ok("configured"),
            Err(e) => Err(("applying patch to", e)),
        };
    }
    Err((
        "creating",
        ClientError::Api {
            code: 409,
            reason: "Conflict".into(),
            message: format!(
                "{} \"{}\" keeps changing; try again",
                kind.plural(),
                p.manifest.name
            ),
        },
    ))
}

/// Server-owned metadata that a file saved from `jube get -o yaml` may carry; sending it back
/// would only cause conflicts.
const SERVER_METADATA: &[&str] = &[
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// What gets sent: the object as written, with its namespace, without server-owned fields, and
/// with the last-applied annotation holding exactly that.
fn with_last_applied(object: &Value, kind: Kind, namespace: Option<&str>) -> anyhow::Result<Value> {
    let mut object = object.clone();
    let Some(map) = object.as_object_mut() else {
        anyhow::bail!("a manifest must be an object");
    };
    map.remove("status");
    let meta = map.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    if let Some(meta) = meta.as_object_mut() {
        for field in SERVER_METADATA {
            meta.remove(*field);
        }
        match namespace {
            Some(ns) if kind.namespaced() => {
                meta.insert("namespace".into(), ns.into());
            }
            _ => {}
        }
        if let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            annotations.remove(LAST_APPLIED);
            if annotations.is_empty() {
                meta.remove("annotations");
            }
        }
    }
    // kubectl's encoder ends the annotation with a newline; keep it byte for byte compatible.
    let applied = format!("{}\n", serde_json::to_string(&object)?);
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        let annotations = meta
            .entry("annotations")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(a) = annotations.as_object_mut() {
            a.insert(LAST_APPLIED.into(), applied.into());
        }
    }
    Ok(object)
}

/// What the live object records as applied last.
fn last_applied(current: &Value) -> Option<Value> {
    current
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(LAST_APPLIED))
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str(s).ok())
}

/// The JSON merge patch (RFC 7386) that brings `current` to what `modified` says, removing what
/// `original` had and `modified` dropped. Empty when nothing changes.
pub fn three_way_patch(original: Option<&Value>, modified: &Value, current: &Value) -> Map<String, Value> {
    let empty = Map::new();
    let obj = |v: Option<&Value>| v.and_then(Value::as_object).unwrap_or(&empty).clone();
    diff_maps(&obj(original), &obj(Some(modified)), &obj(Some(current)))
}

fn diff_maps(
    original: &Map<String, Value>,
    modified: &Map<String, Value>,
    current: &Map<String, Value>,
) -> Map<String, Value> {
    let mut patch = Map::new();
    for (key, want) in modified {
        let have = current.get(key).filter(|v| !v.is_null());
        match (want, have) {
            // `key: null` (or `key:`) in a file means "not set".
            (Value::Null, None) => {}
            (Value::Null, Some(_)) => {
                patch.insert(key.clone(), Value::Null);
            }
            (_, None) => {
                patch.insert(key.clone(), want.clone());
            }
            (_, Some(have)) => {
                if let Some(change) = diff_values(original.get(key), want, have) {
                    patch.insert(key.clone(), change);
                }
            }
        }
    }
    for key in original.keys() {
        let dropped = !modified.contains_key(key);
        if dropped && current.get(key).is_some_and(|v| !v.is_null()) {
            patch.insert(key.clone(), Value::Null);
        }
    }
    patch
}

/// The patch for one field, if it changes.
fn diff_values(original: Option<&Value>, modified: &Value, current: &Value) -> Option<Value> {
    match (modified, current) {
        (Value::Object(m), Value::Object(c)) => {
            let empty = Map::new();
            let o = original.and_then(Value::as_object).unwrap_or(&empty);
            let patch = diff_maps(o, m, c);
            (!patch.is_empty()).then_some(Value::Object(patch))
        }
        // A merge patch replaces lists whole. They count as unchanged when each item, in order,
        // is unchanged by the same rules, so fields the daemon fills in (defaults) inside list
        // items do not make every apply an update.
        (Value::Array(m), Value::Array(c)) => {
            let unchanged = m.len() == c.len()
                && m.iter().zip(c).enumerate().all(|(i, (mi, ci))| {
                    let oi = original.and_then(Value::as_array).and_then(|o| o.get(i));
                    diff_values(oi, mi, ci).is_none()
                });
            (!unchanged).then(|| modified.clone())
        }
        _ => (modified != current).then(|| modified.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rc(replicas: u32, image: &str) -> Value {
        json!({
            "apiVersion": "v1", "kind": "ReplicationController",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": replicas, "selector": {"app": "web"},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "web", "image": image}]}}},
        })
    }

    /// What the daemon would hold after a create: server fields, defaults, status.
    fn live(sent: &Value) -> Value {
        let mut live = sent.clone();
        live["metadata"]["uid"] = json!("u-1");
        live["metadata"]["resourceVersion"] = json!("7");
        live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = json!("Always");
        live["spec"]["template"]["spec"]["restartPolicy"] = json!("Always");
        live["status"] = json!({"replicas": 2});
        live
    }

    #[test]
    fn the_same_object_twice_changes_nothing() {
        let sent = with_last_applied(
            &rc(2, "fabric8/ticker"),
            Kind::ReplicationController,
            Some("default"),
        )
        .unwrap();
        assert_eq!(sent["metadata"]["namespace"], "default");
        let current = live(&sent);
        let again = with_last_applied(
            &rc(2, "fabric8/ticker"),
            Kind::ReplicationController,
            Some("default"),
        )
        .unwrap();
        let patch = three_way_patch(last_applied(&current).as_ref(), &again, &current);
        assert!(patch.is_empty(), "{patch:?}");
    }

    #[test]
    fn edits_patch_only_what_changed() {
        let sent = with_last_applied(
            &rc(2, "fabric8/ticker"),
            Kind::ReplicationController,
            Some("default"),
        )
        .unwrap();
        let current = live(&sent);
        let edited = with_last_applied(
            &rc(3, "fabric8/ticker:1.0"),
            Kind::ReplicationController,
            Some("default"),
        )
        .unwrap();
        let patch = three_way_patch(last_applied(&current).as_ref(), &edited, &current);
        assert_eq!(patch["spec"]["replicas"], 3);
        assert_eq!(
            patch["spec"]["template"]["spec"]["containers"][0]["image"],
            "fabric8/ticker:1.0"
        );
        assert!(patch["spec"].get("selector").is_none());
        assert!(patch["metadata"]["annotations"][LAST_APPLIED].is_string());
        assert!(patch.get("status").is_none());
    }

    #[test]
    fn fields_dropped_from_the_file_are_removed_and_others_kept() {
        let mut first = rc(2, "fabric8/ticker");
        first["metadata"]["labels"]["tier"] = json!("front");
        let sent = with_last_applied(&first, Kind::ReplicationController, Some("default")).unwrap();
        let mut current = live(&sent);
        // Set by someone else: not in what was applied, so apply leaves it.
        current["metadata"]["labels"]["owner"] = json!("ops");
        let second = with_last_applied(
            &rc(2, "fabric8/ticker"),
            Kind::ReplicationController,
            Some("default"),
        )
        .unwrap();
        let patch = three_way_patch(last_applied(&current).as_ref(), &second, &current);
        assert_eq!(patch["metadata"]["labels"], json!({"tier": null}));
    }

    #[test]
    fn live_changes_to_applied_fields_are_put_back() {
        let sent = with_last_applied(
            &rc(2, "fabric8/ticker"),
            Kind::ReplicationController,
            Some("default"),
        )
        .unwrap();
        let mut current = live(&sent);
        current["spec"]["replicas"] = json!(5);
        let patch = three_way_patch(last_applied(&current).as_ref(), &sent, &current);
        assert_eq!(Value::Object(patch), json!({"spec": {"replicas": 2}}));
    }

    #[test]
    fn list_items_changed_or_removed_replace_the_list() {
        let mut two = rc(1, "a");
        two["spec"]["template"]["spec"]["containers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "b", "image": "b", "env": [{"name": "X", "value": "1"}]}));
        let sent = with_last_applied(&two, Kind::ReplicationController, None).unwrap();
        let current = live(&sent);
        let mut no_env = two.clone();
        no_env["spec"]["template"]["spec"]["containers"][1]
            .as_object_mut()
            .unwrap()
            .remove("env");
        let edited = with_last_applied(&no_env, Kind::ReplicationController, None).unwrap();
        let patch = three_way_patch(last_applied(&current).as_ref(), &edited, &current);
        let containers = &patch["spec"]["template"]["spec"]["containers"];
        assert_eq!(containers.as_array().unwrap().len(), 2, "{patch:?}");
        assert!(containers[1].get("env").is_none());
    }

    #[test]
    fn objects_without_the_annotation_get_it() {
        let sent = with_last_applied(&rc(2, "x"), Kind::ReplicationController, Some("default")).unwrap();
        let mut current = live(&sent);
        current["metadata"].as_object_mut().unwrap().remove("annotations");
        let patch = three_way_patch(None, &sent, &current);
        assert_eq!(patch.keys().collect::<Vec<_>>(), ["metadata"]);
        assert!(patch["metadata"]["annotations"][LAST_APPLIED].is_string());
    }

    #[test]
    fn what_gets_sent_drops_server_fields_and_old_annotations() {
        let mut saved = rc(1, "x");
        saved["metadata"]["resourceVersion"] = json!("12");
        saved["metadata"]["uid"] = json!("abc");
        saved["metadata"]["annotations"] = json!({LAST_APPLIED: "{\"old\":true}", "team": "a"});
        saved["status"] = json!({"replicas": 1});
        let sent = with_last_applied(&saved, Kind::ReplicationController, Some("dev")).unwrap();
        assert!(sent.get("status").is_none());
        assert!(sent["metadata"].get("uid").is_none());
        assert!(sent["metadata"].get("resourceVersion").is_none());
        assert_eq!(sent["metadata"]["annotations"]["team"], "a");
        let applied: Value =
            serde_json::from_str(sent["metadata"]["annotations"][LAST_APPLIED].as_str().unwrap()).unwrap();
        assert_eq!(applied["metadata"]["annotations"], json!({"team": "a"}));
        assert_eq!(applied["metadata"]["namespace"], "dev");
        let ns = with_last_applied(
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dev"}}),
            Kind::Namespace,
            None,
        )
        .unwrap();
        assert!(ns["metadata"].get("namespace").is_none());
        assert!(
            ns["metadata"]["annotations"][LAST_APPLIED]
                .as_str()
                .unwrap()
                .ends_with("}\n")
        );
    }
}
