//! The three patch formats of the Kubernetes API: JSON merge patch (RFC 7386), strategic merge
//! patch (merge patch that merges known lists by key, as kubectl sends it) and JSON patch
//! (RFC 6902).

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The patch document itself is malformed (HTTP 400).
    #[error("{0}")]
    Malformed(String),
    /// The patch does not apply to this object: a `test` failed, a path is missing (HTTP 422).
    #[error("{0}")]
    Failed(String),
}

/// Which format a `Content-Type` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    Merge,
    StrategicMerge,
    Json,
}

impl PatchType {
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let mime = content_type.split(';').next().unwrap_or_default().trim();
        match mime.to_ascii_lowercase().as_str() {
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::StrategicMerge),
            "application/json-patch+json" => Some(PatchType::Json),
            _ => None,
        }
    }
}

/// Applies a patch of the given format to a copy of `target`.
pub fn apply(kind: PatchType, target: &Value, patch: &Value) -> Result<Value, PatchError> {
    let mut out = target.clone();
    match kind {
        PatchType::Merge => {
            if !patch.is_object() {
                return Err(PatchError::Malformed(
                    "a merge patch must be a JSON object".into(),
                ));
            }
            merge(&mut out, patch);
        }
        PatchType::StrategicMerge => strategic_merge(&mut out, patch)?,
        PatchType::Json => json_patch(&mut out, patch)?,
    }
    Ok(out)
}

/// RFC 7386: objects merge key by key, `null` removes a key, anything else replaces.
pub fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(map) = target else { return };
    for (key, value) in patch {
        if value.is_null() {
            map.remove(key);
        } else {
            merge(map.entry(key.as_str()).or_insert(Value::Null), value);
        }
    }
}

/// How a list field is patched in a strategic merge patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListStrategy {
    /// Items are objects, merged by this key.
    MergeKey(&'static str),
    /// Items are strings, merged as a set (`finalizers`).
    Union,
    /// The patch's list replaces the object's.
    Replace,
}

/// The Kubernetes types' `patchMergeKey`s, by field name (and place, for `ports`).
fn list_strategy(path: &[String], field: &str) -> ListStrategy {
    match field {
        "containers" | "initContainers" | "ephemeralContainers" | "volumes" | "imagePullSecrets" | "env" => {
            ListStrategy::MergeKey("name")
        }
        "volumeMounts" => ListStrategy::MergeKey("mountPath"),
        "volumeDevices" => ListStrategy::MergeKey("devicePath"),
        // A Service's `spec.ports` merge by port; a container's by containerPort.
        "ports" if path.len() == 1 && path[0] == "spec" => ListStrategy::MergeKey("port"),
        "ports" => ListStrategy::MergeKey("containerPort"),
        "ownerReferences" => ListStrategy::MergeKey("uid"),
        "conditions" => ListStrategy::MergeKey("type"),
        "topologySpreadConstraints" => ListStrategy::MergeKey("topologyKey"),
        "hostAliases" => ListStrategy::MergeKey("ip"),
        "finalizers" => ListStrategy::Union,
        _ => ListStrategy::Replace,
    }
}

const PATCH_DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";

/// A strategic merge patch as kubectl sends it: a merge patch whose known lists (containers,
/// env, ports, volumes...) merge item by item on their key, with the `$patch`, `$retainKeys`,
/// `$setElementOrder/` and `$deleteFromPrimitiveList/` directives.
pub fn strategic_merge(target: &mut Value, patch: &Value) -> Result<(), PatchError> {
    if !patch.is_object() {
        return Err(PatchError::Malformed(
            "a strategic merge patch must be a JSON object".into(),
        ));
    }
    merge_map(target, patch, &mut Vec::new())
}

fn merge_map(target: &mut Value, patch: &Value, path: &mut Vec<String>) -> Result<(), PatchError> {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return Ok(());
    };
    match patch.get(PATCH_DIRECTIVE).and_then(Value::as_str) {
        None | Some("merge") => {}
        Some("replace") => {
            let mut fresh = Value::Object(Map::new());
            let mut without = patch.clone();
            without.remove(PATCH_DIRECTIVE);
            merge_map(&mut fresh, &Value::Object(without), path)?;
            *target = fresh;
            return Ok(());
        }
        Some("delete") => {
            *target = Value::Object(Map::new());
            return Ok(());
        }
        Some(other) => {
            return Err(PatchError::Malformed(format!(
                "unknown patch type `{other}` in $patch (merge, replace or delete)"
            )));
        }
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let mut orders = Vec::new();
    for (key, value) in patch {
        if key == PATCH_DIRECTIVE || key == RETAIN_KEYS {
            continue;
        }
        if let Some(field) = key.strip_prefix(SET_ELEMENT_ORDER) {
            orders.push((field.to_owned(), value.clone()));
            continue;
        }
        let Value::Object(map) = target else { break };
        if let Some(field) = key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            let gone = value
                .as_array()
                .ok_or_else(|| PatchError::Malformed(format!("{key} must be a list of values")))?;
            if let Some(Value::Array(items)) = map.get_mut(field) {
                items.retain(|item| !gone.contains(item));
            }
            continue;
        }
        match value {
            Value::Null => {
                map.remove(key);
            }
            Value::Object(inner) if inner.get(PATCH_DIRECTIVE).and_then(Value::as_str) == Some("delete") => {
                map.remove(key);
            }
            Value::Object(_) => {
                path.push(key.clone());
                let entry = map.entry(key.as_str()).or_insert(Value::Null);
                let result = merge_map(entry, value, path);
                path.pop();
                result?;
            }
            Value::Array(items) => {
                let strategy = list_strategy(path, key);
                path.push(key.clone());
                let entry = map.entry(key.as_str()).or_insert(Value::Null);
                let result = merge_list(entry, items, strategy, path);
                path.pop();
                result?;
            }
            scalar => {
                map.insert(key.clone(), scalar.clone());
            }
        }
    }
    let Value::Object(map) = target else {
        return Ok(());
    };
    for (field, order) in orders {
        let strategy = list_strategy(path, &field);
        if let (Some(Value::Array(items)), Value::Array(order)) = (map.get_mut(&field), &order) {
            reorder(items, order, strategy);
        }
    }
    if let Some(retain) = patch.get(RETAIN_KEYS) {
        let keep = retain
            .as_array()
            .ok_or_else(|| PatchError::Malformed("$retainKeys must be a list of field names".into()))?;
        map.retain(|k, _| keep.iter().any(|r| r.as_str() == Some(k)));
    }
    Ok(())
}

fn merge_list(
    target: &mut Value,
    items: &[Value],
    strategy: ListStrategy,
    path: &mut Vec<String>,
) -> Result<(), PatchError> {
    let replace_all = items
        .iter()
        .any(|i| i.get(PATCH_DIRECTIVE).and_then(Value::as_str) == Some("replace"));
    match strategy {
        ListStrategy::Replace => {
            *target = Value::Array(items.to_vec());
        }
        ListStrategy::Union => {
            if !target.is_array() {
                *target = Value::Array(Vec::new());
            }
            if let Value::Array(existing) = target {
                for item in items {
                    if !existing.contains(item) {
                        existing.push(item.clone());
                    }
                }
            }
        }
        ListStrategy::MergeKey(key) => {
            if replace_all || !target.is_array() {
                *target = Value::Array(Vec::new());
            }
            let Value::Array(existing) = target else {
                return Ok(());
            };
            for item in items {
                let Value::Object(fields) = item else {
                    return Err(PatchError::Malformed(format!(
                        "{}: items must be objects with the merge key `{key}`",
                        path.join(".")
                    )));
                };
                let directive = fields.get(PATCH_DIRECTIVE).and_then(Value::as_str);
                if directive == Some("replace") {
                    continue;
                }
                let Some(id) = fields.get(key) else {
                    return Err(PatchError::Malformed(format!(
                        "{}: an item does not contain the merge key `{key}`",
                        path.join(".")
                    )));
                };
                let position = existing.iter().position(|e| e.get(key) == Some(id));
                match (directive, position) {
                    (Some("delete"), _) => existing.retain(|e| e.get(key) != Some(id)),
                    (_, Some(i)) => merge_map(&mut existing[i], item, path)?,
                    (_, None) => {
                        let mut fresh = Value::Object(Map::new());
                        merge_map(&mut fresh, item, path)?;
                        existing.push(fresh);
                    }
                }
            }
        }
    }
    Ok(())
}

/// `$setElementOrder`: the listed items first, in that order; others keep their order after them.
fn reorder(items: &mut [Value], order: &[Value], strategy: ListStrategy) {
    let rank = |item: &Value| {
        let id = match strategy {
            ListStrategy::MergeKey(key) => item.get(key),
            _ => Some(item),
        };
        order
            .iter()
            .position(|o| match strategy {
                ListStrategy::MergeKey(key) => o.get(key) == id,
                _ => Some(o) == id,
            })
            .unwrap_or(usize::MAX)
    };
    items.sort_by_key(rank);
}

/// RFC 6902: `add`, `remove`, `replace`, `move`, `copy` and `test`, all or nothing.
pub fn json_patch(target: &mut Value, ops: &Value) -> Result<(), PatchError> {
    let ops = ops
        .as_array()
        .ok_or_else(|| PatchError::Malformed("a JSON patch must be a list of operations".into()))?;
    let mut doc = target.clone();
    for (i, op) in ops.iter().enumerate() {
        apply_op(&mut doc, op).map_err(|e| match e {
            PatchError::Malformed(m) => PatchError::Malformed(format!("operation {i}: {m}")),
            PatchError::Failed(m) => PatchError::Failed(format!("operation {i}: {m}")),
        })?;
    }
    *target = doc;
    Ok(())
}

fn apply_op(doc: &mut Value, op: &Value) -> Result<(), PatchError> {
    let field = |name: &str| {
        op.get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| PatchError::Malformed(format!("`{name}` is missing or not a string")))
    };
    let name = field("op")?;
    let path = field("path")?;
    let tokens = pointer(path)?;
    let value = || {
        op.get("value")
            .cloned()
            .ok_or_else(|| PatchError::Malformed(format!("{name} needs a `value`")))
    };
    match name {
        "add" => add(doc, &tokens, value()?, path),
        "remove" => remove(doc, &tokens, path).map(drop),
        "replace" => {
            let slot = get_mut(doc, &tokens).ok_or_else(|| missing("replace", path))?;
            *slot = value()?;
            Ok(())
        }
        "move" => {
            let from = field("from")?;
            if path.starts_with(&format!("{from}/")) {
                return Err(PatchError::Malformed(format!(
                    "cannot move {from} into its own child {path}"
                )));
            }
            let moved = remove(doc, &pointer(from)?, from)?;
            add(doc, &tokens, moved, path)
        }
        "copy" => {
            let from = field("from")?;
            let copied = get_mut(doc, &pointer(from)?)
                .map(|v| v.clone())
                .ok_or_else(|| missing("copy", from))?;
            add(doc, &tokens, copied, path)
        }
        "test" => {
            let expected = value()?;
            match get_mut(doc, &tokens) {
                Some(actual) if *actual == expected => Ok(()),
                Some(actual) => Err(PatchError::Failed(format!(
                    "testing value {path} failed: it is {actual}, not {expected}"
                ))),
                None => Err(missing("test", path)),
            }
        }
        other => Err(PatchError::Malformed(format!(
            "unknown operation `{other}` (add, remove, replace, move, copy, test)"
        ))),
    }
}

fn missing(op: &str, path: &str) -> PatchError {
    PatchError::Failed(format!(
        "{op} operation does not apply: doc is missing path: {path}"
    ))
}

/// A JSON pointer's reference tokens (`~1` is `/`, `~0` is `~`).
fn pointer(path: &str) -> Result<Vec<String>, PatchError> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(PatchError::Malformed(format!(
            "path `{path}` is not a JSON pointer (it must start with /)"
        )));
    };
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn get_mut<'a>(doc: &'a mut Value, tokens: &[String]) -> Option<&'a mut Value> {
    tokens.iter().try_fold(doc, |node, token| match node {
        Value::Object(map) => map.get_mut(token),
        Value::Array(items) => array_index(token, items.len()).and_then(|i| items.get_mut(i)),
        _ => None,
    })
}

fn array_index(token: &str, len: usize) -> Option<usize> {
    if token.len() > 1 && token.starts_with('0') {
        return None;
    }
    token.parse::<usize>().ok().filter(|i| *i < len)
}

fn add(doc: &mut Value, tokens: &[String], value: Value, path: &str) -> Result<(), PatchError> {
    let Some((last, parent)) = tokens.split_last() else {
        *doc = value;
        return Ok(());
    };
    match get_mut(doc, parent) {
        Some(Value::Object(map)) => {
            map.insert(last.clone(), value);
            Ok(())
        }
        Some(Value::Array(items)) => {
            let at = if last == "-" {
                items.len()
            } else {
                last.parse::<usize>()
                    .ok()
                    .filter(|i| *i <= items.len())
                    .ok_or_else(|| {
                        PatchError::Failed(format!(
                            "add operation does not apply: index {last} is out of bounds at {path}"
                        ))
                    })?
            };
            items.insert(at, value);
            Ok(())
        }
        _ => Err(missing("add", path)),
    }
}

fn remove(doc: &mut Value, tokens: &[String], path: &str) -> Result<Value, PatchError> {
    let Some((last, parent)) = tokens.split_last() else {
        return Err(PatchError::Failed("cannot remove the whole document".into()));
    };
    let removed = match get_mut(doc, parent) {
        Some(Value::Object(map)) => map.remove(last),
        Some(Value::Array(items)) => array_index(last, items.len()).map(|i| items.remove(i)),
        _ => None,
    };
    removed.ok_or_else(|| missing("remove", path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7386_examples() {
        // The examples of RFC 7386, appendix A.
        for (target, patch, expected) in [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "b"}), json!({"b": "c"}), json!({"a": "b", "b": "c"})),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (json!({"a": "b", "b": "c"}), json!({"a": null}), json!({"b": "c"})),
            (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]})),
            (
                json!({"a": {"b": "c"}}),
                json!({"a": {"b": "d", "c": null}}),
                json!({"a": {"b": "d"}}),
            ),
            (json!({"a": [{"b": "c"}]}), json!({"a": [1]}), json!({"a": [1]})),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a": "b"}), json!(["c"]), json!(["c"])),
            (json!({"a": "foo"}), json!(null), json!(null)),
            (json!({"e": null}), json!({"a": 1}), json!({"e": null, "a": 1})),
            (json!([1, 2]), json!({"a": "b", "c": null}), json!({"a": "b"})),
            (
                json!({}),
                json!({"a": {"bb": {"ccc": null}}}),
                json!({"a": {"bb": {}}}),
            ),
        ] {
            let mut out = target.clone();
            merge(&mut out, &patch);
            assert_eq!(out, expected, "{target} + {patch}");
        }
    }

    fn pod() -> Value {
        json!({
            "metadata": {"name": "web", "labels": {"app": "web"}, "finalizers": ["a"]},
            "spec": {"containers": [
                {"name": "web", "image": "fabric8/java:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                 "ports": [{"containerPort": 8080, "name": "http"}]},
                {"name": "side", "image": "fabric8/ticker"}
            ]}
        })
    }

    #[test]
    fn strategic_merge_merges_lists_by_their_keys() {
        let patch = json!({
            "metadata": {"labels": {"tier": "front"}, "finalizers": ["b", "a"]},
            "spec": {"containers": [
                {"name": "web", "image": "fabric8/java:2", "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}]},
                {"name": "new", "image": "x"},
                {"name": "side", "$patch": "delete"}
            ]}
        });
        let out = apply(PatchType::StrategicMerge, &pod(), &patch).unwrap();
        let containers = out["spec"]["containers"].as_array().unwrap();
        let names: Vec<_> = containers.iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["web", "new"]);
        assert_eq!(containers[0]["image"], "fabric8/java:2");
        assert_eq!(containers[0]["ports"][0]["containerPort"], 8080, "kept");
        assert_eq!(
            containers[0]["env"],
            json!([{"name": "A", "value": "1"}, {"name": "B", "value": "3"}, {"name": "C", "value": "4"}])
        );
        assert_eq!(out["metadata"]["labels"], json!({"app": "web", "tier": "front"}));
        assert_eq!(out["metadata"]["finalizers"], json!(["a", "b"]));
        // The same patch as a plain merge patch replaces the whole list.
        let merged = apply(PatchType::Merge, &pod(), &patch).unwrap();
        assert_eq!(merged["spec"]["containers"].as_array().unwrap().len(), 3);
        assert!(merged["spec"]["containers"][0].get("ports").is_none());
    }

    #[test]
    fn strategic_merge_directives() {
        let replace =
            json!({"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "y"}]}});
        let out = apply(PatchType::StrategicMerge, &pod(), &replace).unwrap();
        assert_eq!(out["spec"]["containers"], json!([{"name": "only", "image": "y"}]));

        let order = json!({"spec": {"$setElementOrder/containers": [{"name": "side"}, {"name": "web"}]}});
        let out = apply(PatchType::StrategicMerge, &pod(), &order).unwrap();
        assert_eq!(out["spec"]["containers"][0]["name"], "side");

        let prim = json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}});
        let out = apply(PatchType::StrategicMerge, &pod(), &prim).unwrap();
        assert_eq!(out["metadata"]["finalizers"], json!([]));

        let retain = json!({"metadata": {"$retainKeys": ["name"], "name": "web"}});
        let out = apply(PatchType::StrategicMerge, &pod(), &retain).unwrap();
        assert_eq!(out["metadata"], json!({"name": "web"}));

        let map_replace = json!({"metadata": {"labels": {"$patch": "replace", "x": "y"}}});
        let out = apply(PatchType::StrategicMerge, &pod(), &map_replace).unwrap();
        assert_eq!(out["metadata"]["labels"], json!({"x": "y"}));

        let map_delete = json!({"metadata": {"labels": {"$patch": "delete"}}});
        let out = apply(PatchType::StrategicMerge, &pod(), &map_delete).unwrap();
        assert!(out["metadata"].get("labels").is_none());

        let svc = json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}});
        let out = apply(
            PatchType::StrategicMerge,
            &svc,
            &json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}),
        )
        .unwrap();
        assert_eq!(
            out["spec"]["ports"],
            json!([{"port": 80, "targetPort": 9090}, {"port": 443}])
        );

        for bad in [
            json!({"spec": {"containers": [{"image": "no-name"}]}}),
            json!({"spec": {"containers": ["text"]}}),
            json!({"$patch": "explode"}),
            json!([1]),
        ] {
            assert!(
                matches!(
                    apply(PatchType::StrategicMerge, &pod(), &bad),
                    Err(PatchError::Malformed(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn json_patch_operations_and_failures() {
        let doc = json!({"spec": {"replicas": 1, "list": ["a", "b"]}, "metadata": {"labels": {"a/b": "x"}}});
        let ops = json!([
            {"op": "test", "path": "/spec/replicas", "value": 1},
            {"op": "replace", "path": "/spec/replicas", "value": 3},
            {"op": "add", "path": "/spec/list/1", "value": "between"},
            {"op": "add", "path": "/spec/list/-", "value": "end"},
            {"op": "remove", "path": "/metadata/labels/a~1b"},
            {"op": "add", "path": "/metadata/labels/new", "value": "y"},
            {"op": "copy", "from": "/metadata/labels/new", "path": "/metadata/labels/copy"},
            {"op": "move", "from": "/spec/list/0", "path": "/spec/first"}
        ]);
        let out = apply(PatchType::Json, &doc, &ops).unwrap();
        assert_eq!(
            out,
            json!({"spec": {"replicas": 3, "list": ["between", "b", "end"], "first": "a"},
                   "metadata": {"labels": {"new": "y", "copy": "y"}}})
        );
        for (ops, failed) in [
            (
                json!([{"op": "test", "path": "/spec/replicas", "value": 2}]),
                true,
            ),
            (
                json!([{"op": "replace", "path": "/spec/missing", "value": 2}]),
                true,
            ),
            (json!([{"op": "remove", "path": "/spec/list/5"}]), true),
            (json!([{"op": "add", "path": "/nope/x", "value": 1}]), true),
            (json!([{"op": "add", "path": "/spec/list/9", "value": 1}]), true),
            (json!([{"op": "jump", "path": "/spec"}]), false),
            (json!([{"op": "add", "path": "spec"}]), false),
            (json!([{"op": "add", "path": "/spec/x"}]), false),
            (json!({"op": "add"}), false),
            (json!([{"path": "/spec"}]), false),
        ] {
            let e = apply(PatchType::Json, &doc, &ops).unwrap_err();
            assert_eq!(matches!(e, PatchError::Failed(_)), failed, "{ops}: {e}");
        }
        // All or nothing: a failing test after a replace leaves the document as it was.
        let mut untouched = doc.clone();
        let ops = json!([{"op": "replace", "path": "/spec/replicas", "value": 9}, {"op": "test", "path": "/spec/replicas", "value": 1}]);
        assert!(json_patch(&mut untouched, &ops).is_err());
        assert_eq!(untouched, doc);
    }

    #[test]
    fn content_types_name_the_formats() {
        assert_eq!(
            PatchType::from_content_type("application/merge-patch+json; charset=utf-8"),
            Some(PatchType::Merge)
        );
        assert_eq!(
            PatchType::from_content_type("application/strategic-merge-patch+json"),
            Some(PatchType::StrategicMerge)
        );
        assert_eq!(
            PatchType::from_content_type("application/json-patch+json"),
            Some(PatchType::Json)
        );
        assert_eq!(PatchType::from_content_type("application/json"), None);
        assert_eq!(PatchType::from_content_type("application/apply-patch+yaml"), None);
    }
}
