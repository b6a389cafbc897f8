//! `metadata.managedFields` and server-side apply: who owns which fields of an object (each
//! manager and operation, Apply or Update, with the fields in FieldsV1), how an update moves
//! ownership, and how an applied configuration merges into an object, with its conflicts.

use serde_json::{Map, Value, json};

use crate::kube::fieldset::{self, FieldSet, ListType};

pub const APPLY: &str = "Apply";
pub const UPDATE: &str = "Update";

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub manager: String,
    pub operation: String,
    pub api_version: String,
    pub subresource: Option<String>,
    pub time: Option<String>,
    pub fields: FieldSet,
}

impl Entry {
    fn same_manager(&self, manager: &str, operation: &str, subresource: Option<&str>) -> bool {
        self.manager == manager && self.operation == operation && self.subresource.as_deref() == subresource
    }

    /// How a conflict names it: `"kubectl" with subresource "scale" using apps/v1`.
    pub fn describe(&self) -> String {
        let mut text = format!("{:?}", self.manager);
        if let Some(sub) = &self.subresource {
            text.push_str(&format!(" with subresource {sub:?}"));
        }
        if self.operation == UPDATE {
            text.push_str(&format!(" using {}", self.api_version));
        }
        text
    }

    fn to_value(&self) -> Value {
        let mut v = json!({
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": self.fields.to_fields_v1(),
        });
        if let Some(sub) = &self.subresource {
            v["subresource"] = json!(sub);
        }
        v
    }

    fn from_value(v: &Value) -> Option<Self> {
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        Some(Self {
            manager: text("manager")?,
            operation: text("operation").unwrap_or_else(|| UPDATE.to_owned()),
            api_version: text("apiVersion").unwrap_or_default(),
            subresource: text("subresource").filter(|s| !s.is_empty()),
            time: text("time"),
            fields: v
                .get("fieldsV1")
                .map(FieldSet::from_fields_v1)
                .unwrap_or_default(),
        })
    }
}

/// Who writes, and how.
#[derive(Debug, Clone)]
pub struct Writer<'a> {
    pub manager: &'a str,
    pub api_version: &'a str,
    pub subresource: Option<&'a str>,
    pub now: String,
}

/// The entries of an object's `metadata.managedFields`.
pub fn entries(object: &Value) -> Vec<Entry> {
    object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Entry::from_value)
        .collect()
}

/// Writes `entries` into the object's metadata (none: no `managedFields`).
pub fn set_entries(object: &mut Value, entries: &[Entry]) {
    let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    if entries.is_empty() {
        meta.remove("managedFields");
    } else {
        meta.insert(
            "managedFields".into(),
            Value::Array(entries.iter().map(Entry::to_value).collect()),
        );
    }
}

/// Leaves `managedFields` out of an object shown to a user, as kubectl does unless asked.
pub fn hide(object: &mut Value) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
}

/// Members of `new` whose value differs from `old`'s (all of them when there is no `old`).
fn changed(old: Option<&Value>, new: &Value) -> FieldSet {
    let mut out = FieldSet::default();
    for path in FieldSet::of_object(new).members() {
        let before = old.and_then(|o| fieldset::value_at(o, &path));
        let after = fieldset::value_at(new, &path);
        // A keyed item is a member of its own; it changes when it appears.
        let differs = match (before, after) {
            (Some(b), Some(a)) if path.last().is_some_and(|e| e.starts_with("k:")) => {
                b.is_null() && !a.is_null()
            }
            (b, a) => b != a,
        };
        if differs {
            out.union(&single(&path));
        }
    }
    out
}

/// The set holding just the member at `path`.
fn single(path: &[String]) -> FieldSet {
    let mut root = FieldSet::default();
    let mut node = &mut root;
    for element in path {
        node = node.children.entry(element.clone()).or_default();
    }
    node.member = true;
    root
}

/// Whatever an entry owns that `object` no longer has goes; empty entries go.
fn prune(entries: &mut Vec<Entry>, object: &Value) {
    let present = FieldSet::of_object(object);
    for e in entries.iter_mut() {
        e.fields = e.fields.intersect(&present);
    }
    entries.retain(|e| !e.fields.is_empty());
}

/// Puts `fields` in the writer's entry (made if missing), keeping its time unless what it owns
/// changed, so a write that changes nothing leaves the object as it was.
fn own(entries: &mut Vec<Entry>, writer: &Writer, operation: &str, fields: FieldSet, replace: bool) {
    match entries
        .iter_mut()
        .find(|e| e.same_manager(writer.manager, operation, writer.subresource))
    {
        Some(e) => {
            let mut next = if replace {
                FieldSet::default()
            } else {
                e.fields.clone()
            };
            next.union(&fields);
            if next != e.fields {
                e.fields = next;
                e.time = Some(writer.now.clone());
                e.api_version = writer.api_version.to_owned();
            }
        }
        None if !fields.is_empty() => entries.push(Entry {
            manager: writer.manager.to_owned(),
            operation: operation.to_owned(),
            api_version: writer.api_version.to_owned(),
            subresource: writer.subresource.map(str::to_owned),
            time: Some(writer.now.clone()),
            fields,
        }),
        None => {}
    }
}

/// An update (create, PUT, a non-apply PATCH) by `writer` turned `old` into `new`: the writer
/// takes the fields it changed from whoever had them, and fields gone are owned by no one.
/// Sets `new`'s managedFields from `old`'s.
pub fn record_update(old: Option<&Value>, new: &mut Value, writer: &Writer) {
    let mut list = old.map(entries).unwrap_or_default();
    let taken = changed(old, new);
    for e in list.iter_mut() {
        if !e.same_manager(writer.manager, UPDATE, writer.subresource) {
            e.fields.subtract(&taken);
        }
    }
    own(&mut list, writer, UPDATE, taken, false);
    prune(&mut list, new);
    set_entries(new, &list);
}

/// A field an applier wants set otherwise than another manager has it.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    pub manager: String,
    pub path: String,
}

/// `Apply failed with 1 conflict: conflict with "kubectl" using apps/v1: .spec.replicas`, as
/// the API server words it.
pub fn conflict_message(conflicts: &[Conflict]) -> String {
    if let [one] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            one.manager, one.path
        );
    }
    let mut managers: Vec<&str> = conflicts.iter().map(|c| c.manager.as_str()).collect();
    managers.sort_unstable();
    managers.dedup();
    let mut lines = Vec::new();
    for m in managers {
        lines.push(format!("conflicts with {m}:"));
        for c in conflicts.iter().filter(|c| c.manager == m) {
            lines.push(format!("- {}", c.path));
        }
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

/// Server-side apply of `applied` by `writer` to `current` (None: the object is new). Answers
/// the merged object, with its managedFields, or the conflicts (unless `force`, which takes the
/// fields over).
pub fn apply(
    current: Option<&Value>,
    applied: &Value,
    writer: &Writer,
    force: bool,
) -> Result<Value, Vec<Conflict>> {
    let mut list = current.map(entries).unwrap_or_default();
    let wanted = FieldSet::of_object(applied);
    let mine = |e: &Entry| e.same_manager(writer.manager, APPLY, writer.subresource);

    // Fields others own that this apply would set to another value.
    let mut conflicts = Vec::new();
    let mut taken = FieldSet::default();
    if let Some(current) = current {
        for e in list.iter().filter(|e| !mine(e)) {
            for path in e.fields.intersect(&wanted).members() {
                let is_item = path
                    .last()
                    .is_some_and(|p| p.starts_with("k:") || p.starts_with("v:"));
                if is_item || fieldset::value_at(current, &path) == fieldset::value_at(applied, &path) {
                    continue;
                }
                taken.union(&single(&path));
                conflicts.push(Conflict {
                    manager: e.describe(),
                    path: fieldset::path_text(&path),
                });
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflicts);
    }
    for e in list.iter_mut().filter(|e| !mine(e)) {
        e.fields.subtract(&taken);
    }

    // What this manager applied before and no longer lists goes, unless another manager owns it.
    let mut object = current.cloned().unwrap_or_else(|| json!({}));
    if let Some(before) = list.iter().find(|e| mine(e)) {
        let mut dropped = before.fields.clone();
        dropped.subtract(&wanted);
        for e in list.iter().filter(|e| !mine(e)) {
            dropped.subtract(&e.fields);
        }
        // Deepest first, so an item goes after its fields.
        let mut paths = dropped.members();
        paths.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for path in paths {
            fieldset::remove_at(&mut object, &path);
        }
    }
    merge(&mut object, applied, &mut Vec::new());
    own(&mut list, writer, APPLY, wanted, true);
    prune(&mut list, &object);
    set_entries(&mut object, &list);
    Ok(object)
}

/// Merges an applied configuration into an object: maps field by field, keyed lists item by
/// item, set lists as sets; anything else is replaced.
fn merge(target: &mut Value, applied: &Value, path: &mut Vec<String>) {
    let (Some(map), Value::Object(_)) = (applied.as_object(), &*target) else {
        *target = applied.clone();
        return;
    };
    let Value::Object(out) = target else { return };
    for (key, value) in map {
        if path.is_empty() && key == "status" {
            continue;
        }
        match value {
            Value::Null => {}
            Value::Object(_) => {
                path.push(key.clone());
                let entry = out
                    .entry(key.as_str())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !entry.is_object() {
                    *entry = Value::Object(Map::new());
                }
                merge(entry, value, path);
                path.pop();
            }
            Value::Array(items) => {
                let entry = out.entry(key.as_str()).or_insert_with(|| json!([]));
                match (list_type_at(path, key), entry.as_array_mut()) {
                    (ListType::Map(keys), Some(existing)) => {
                        path.push(key.clone());
                        for item in items {
                            let k = fieldset::item_key(item, keys);
                            match existing
                                .iter_mut()
                                .find(|e| k.is_some() && fieldset::item_key(e, keys) == k)
                            {
                                Some(found) => merge(found, item, path),
                                None => existing.push(item.clone()),
                            }
                        }
                        path.pop();
                    }
                    (ListType::Set, Some(existing)) => {
                        for item in items {
                            if !existing.contains(item) {
                                existing.push(item.clone());
                            }
                        }
                    }
                    _ => *entry = value.clone(),
                }
            }
            scalar => {
                out.insert(key.clone(), scalar.clone());
            }
        }
    }
}

fn list_type_at(path: &[String], field: &str) -> ListType {
    fieldset::list_type(path, field)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer(manager: &str) -> Writer<'_> {
        Writer {
            manager,
            api_version: "apps/v1",
            subresource: None,
            now: "2025-01-01T00:00:00Z".into(),
        }
    }

    fn deploy(replicas: i64, image: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "web", "image": image}]}}}})
    }

    #[test]
    fn apply_creates_then_merges_and_removes_what_it_no_longer_lists() {
        let mut applied = deploy(2, "x");
        applied["metadata"]["labels"] = json!({"team": "a"});
        let created = apply(None, &applied, &writer("kubectl"), false).unwrap();
        let list = entries(&created);
        assert_eq!(list.len(), 1);
        assert_eq!(
            (list[0].manager.as_str(), list[0].operation.as_str()),
            ("kubectl", APPLY)
        );
        assert_eq!(
            list[0].fields.to_fields_v1()["f:metadata"],
            json!({"f:labels": {"f:team": {}}})
        );
        // Same again: nothing changes, not even the time.
        let mut later = writer("kubectl");
        later.now = "2030-01-01T00:00:00Z".into();
        assert_eq!(apply(Some(&created), &applied, &later, false).unwrap(), created);
        // The label dropped from the configuration goes; a field another manager set stays.
        let mut edited = created.clone();
        edited["spec"]["paused"] = json!(true);
        record_update(Some(&created), &mut edited, &writer("kubectl-edit"));
        let next = apply(Some(&edited), &deploy(2, "y"), &later, false).unwrap();
        assert!(
            next["metadata"]
                .get("labels")
                .is_none_or(|l| l.get("team").is_none()),
            "{next}"
        );
        assert_eq!(next["spec"]["paused"], true);
        assert_eq!(next["spec"]["template"]["spec"]["containers"][0]["image"], "y");
    }

    #[test]
    fn applying_another_managers_field_otherwise_conflicts_unless_forced() {
        let created = apply(None, &deploy(2, "x"), &writer("kubectl"), false).unwrap();
        let mut scaled = created.clone();
        scaled["spec"]["replicas"] = json!(5);
        let mut scale = writer("kubectl");
        scale.subresource = Some("scale");
        record_update(Some(&created), &mut scaled, &scale);
        let managers: Vec<(String, String)> = entries(&scaled)
            .into_iter()
            .map(|e| (e.manager, e.operation))
            .collect();
        assert_eq!(
            managers,
            [
                ("kubectl".into(), APPLY.into()),
                ("kubectl".into(), UPDATE.into())
            ]
        );
        let conflicts = apply(Some(&scaled), &deploy(3, "x"), &writer("kubectl"), false).unwrap_err();
        assert_eq!(
            conflict_message(&conflicts),
            "Apply failed with 1 conflict: conflict with \"kubectl\" with subresource \"scale\" using apps/v1: .spec.replicas"
        );
        // The same value is shared, not a conflict.
        assert!(apply(Some(&scaled), &deploy(5, "x"), &writer("kubectl"), false).is_ok());
        let forced = apply(Some(&scaled), &deploy(3, "x"), &writer("kubectl"), true).unwrap();
        assert_eq!(forced["spec"]["replicas"], 3);
        assert_eq!(entries(&forced).len(), 1, "the scaler lost its only field");
    }

    #[test]
    fn an_update_takes_the_fields_it_changes() {
        let mut created = deploy(1, "x");
        record_update(None, &mut created, &writer("kubectl-client-side-apply"));
        let mut scaled = created.clone();
        scaled["spec"]["replicas"] = json!(4);
        record_update(Some(&created), &mut scaled, &writer("kubectl"));
        let list = entries(&scaled);
        assert_eq!(list.len(), 2);
        assert_eq!(
            list[1].fields.to_fields_v1(),
            json!({"f:spec": {"f:replicas": {}}})
        );
        assert!(
            list[0].fields.to_fields_v1()["f:spec"]
                .get("f:replicas")
                .is_none()
        );
        // Writing the same again changes nothing.
        let mut again = scaled.clone();
        record_update(Some(&scaled), &mut again, &writer("kubectl"));
        assert_eq!(again, scaled);
    }

    #[test]
    fn conflicts_with_several_managers_are_listed_by_manager() {
        let conflicts = [
            Conflict {
                manager: "\"b\" using v1".into(),
                path: ".spec.x".into(),
            },
            Conflict {
                manager: "\"a\" using v1".into(),
                path: ".spec.y".into(),
            },
        ];
        assert_eq!(
            conflict_message(&conflicts),
            "Apply failed with 2 conflicts: conflicts with \"a\" using v1:\n- .spec.y\nconflicts with \"b\" using v1:\n- .spec.x"
        );
    }
}
