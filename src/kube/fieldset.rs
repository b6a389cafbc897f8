//! Sets of fields of an object, as server-side apply tracks who owns what: a tree whose
//! children are path elements in Kubernetes' `FieldsV1` spelling (`f:spec`, `k:{"name":"web"}`
//! for an item of a keyed list, `v:"x"` for a member of a set list), each node a member of the
//! set itself (`.`) or only the parent of members.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// A set of fields, or a node of one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet {
    /// The field this node stands for is in the set (a leaf, or `.` in FieldsV1).
    pub member: bool,
    pub children: BTreeMap<String, FieldSet>,
}

/// How a list is tracked and merged: by item keys, as a set of scalars, or as one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListType {
    /// Items are objects identified by these fields (with a default for a missing one).
    Map(&'static [(&'static str, Option<&'static str>)]),
    Set,
    Atomic,
}

const NAME: &[(&str, Option<&str>)] = &[("name", None)];

/// The `x-kubernetes-list-type` and `-list-map-keys` of the Kubernetes types' lists, by field
/// name and, for `ports`, by where it is (`path` holds the field names above it).
pub fn list_type(path: &[String], field: &str) -> ListType {
    match field {
        "containers" | "initContainers" | "ephemeralContainers" | "volumes" | "imagePullSecrets" | "env" => {
            ListType::Map(NAME)
        }
        "volumeMounts" => ListType::Map(&[("mountPath", None)]),
        "volumeDevices" => ListType::Map(&[("devicePath", None)]),
        // A Service's `spec.ports`; a container's.
        "ports" if path.len() == 1 && path[0] == "spec" => {
            ListType::Map(&[("port", None), ("protocol", Some("TCP"))])
        }
        "ports" if path.last().is_some_and(|p| p.ends_with("ontainers")) => {
            ListType::Map(&[("containerPort", None), ("protocol", Some("TCP"))])
        }
        "ownerReferences" => ListType::Map(&[("uid", None)]),
        "conditions" => ListType::Map(&[("type", None)]),
        "hostAliases" => ListType::Map(&[("ip", None)]),
        "finalizers" => ListType::Set,
        _ => ListType::Atomic,
    }
}

/// The `k:` element of a keyed list's item (keys in order of name, as Kubernetes writes them),
/// or None when the item lacks a key.
pub fn item_key(item: &Value, keys: &[(&str, Option<&str>)]) -> Option<String> {
    let mut map = Map::new();
    for (key, default) in keys {
        let value = match item.get(*key) {
            Some(v) if !v.is_null() => v.clone(),
            _ => json!((*default)?),
        };
        map.insert((*key).to_owned(), value);
    }
    let mut sorted: Vec<(&String, &Value)> = map.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let body: Vec<String> = sorted
        .iter()
        .map(|(k, v)| format!("{}:{v}", Value::String((*k).clone())))
        .collect();
    Some(format!("k:{{{}}}", body.join(",")))
}

fn field(name: &str) -> String {
    format!("f:{name}")
}

impl FieldSet {
    fn leaf() -> Self {
        Self {
            member: true,
            children: BTreeMap::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        !self.member && self.children.is_empty()
    }

    /// The fields an object sets, leaving out what the server owns (`apiVersion`, `kind`,
    /// `status`, `metadata`'s name, namespace, uid, resourceVersion...).
    pub fn of_object(object: &Value) -> Self {
        let mut set = Self::default();
        let Some(map) = object.as_object() else {
            return set;
        };
        for (key, value) in map {
            match key.as_str() {
                "apiVersion" | "kind" | "status" => {}
                "metadata" => {
                    let mut meta = Self::default();
                    for (k, v) in value.as_object().into_iter().flatten() {
                        if matches!(
                            k.as_str(),
                            "labels" | "annotations" | "finalizers" | "ownerReferences"
                        ) {
                            meta.add_value(k, v, &mut vec!["metadata".to_owned()]);
                        }
                    }
                    if !meta.is_empty() {
                        set.children.insert(field("metadata"), meta);
                    }
                }
                _ => set.add_value(key, value, &mut Vec::new()),
            }
        }
        set
    }

    /// Adds field `key` holding `value` under this node (`path`: the field names to here).
    fn add_value(&mut self, key: &str, value: &Value, path: &mut Vec<String>) {
        if value.is_null() {
            return;
        }
        let node = match value {
            Value::Object(map) if !map.is_empty() => {
                let mut node = Self::default();
                path.push(key.to_owned());
                for (k, v) in map {
                    node.add_value(k, v, path);
                }
                path.pop();
                node
            }
            Value::Array(items) if !items.is_empty() => match list_type(path, key) {
                ListType::Map(keys) => {
                    let mut node = Self::default();
                    path.push(key.to_owned());
                    for item in items {
                        let Some(k) = item_key(item, keys) else {
                            continue;
                        };
                        let mut inner = Self::leaf();
                        for (f, v) in item.as_object().into_iter().flatten() {
                            inner.add_value(f, v, path);
                        }
                        node.children.insert(k, inner);
                    }
                    path.pop();
                    node
                }
                ListType::Set => {
                    let mut node = Self::default();
                    for item in items {
                        node.children.insert(format!("v:{item}"), Self::leaf());
                    }
                    node
                }
                ListType::Atomic => Self::leaf(),
            },
            _ => Self::leaf(),
        };
        if node.is_empty() {
            // A map whose items had no keys: the field itself, as a value.
            self.children.insert(field(key), Self::leaf());
        } else {
            self.children.insert(field(key), node);
        }
    }

    /// Everything in `self` or `other`.
    pub fn union(&mut self, other: &FieldSet) {
        self.member |= other.member;
        for (k, child) in &other.children {
            self.children.entry(k.clone()).or_default().union(child);
        }
    }

    /// `self` without the members of `other` (a node that other holds as a member goes whole).
    pub fn subtract(&mut self, other: &FieldSet) {
        if other.member {
            self.member = false;
        }
        for (k, child) in &other.children {
            if let Some(mine) = self.children.get_mut(k) {
                if child.member && child.children.is_empty() {
                    self.children.remove(k);
                    continue;
                }
                mine.subtract(child);
                if mine.is_empty() {
                    self.children.remove(k);
                }
            }
        }
    }

    /// The members of `self` that are also in `other`.
    pub fn intersect(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            member: self.member && other.member,
            children: BTreeMap::new(),
        };
        for (k, child) in &self.children {
            if let Some(theirs) = other.children.get(k) {
                let both = child.intersect(theirs);
                if !both.is_empty() {
                    out.children.insert(k.clone(), both);
                }
            }
        }
        out
    }

    /// Each member's path, from the root, as its elements.
    pub fn members(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        self.walk(&mut Vec::new(), &mut out);
        out
    }

    fn walk(&self, here: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        if self.member {
            out.push(here.clone());
        }
        for (k, child) in &self.children {
            here.push(k.clone());
            child.walk(here, out);
            here.pop();
        }
    }

    /// FieldsV1, as `metadata.managedFields[].fieldsV1` holds it.
    pub fn to_fields_v1(&self) -> Value {
        let mut map = Map::new();
        if self.member && !self.children.is_empty() {
            map.insert(".".into(), json!({}));
        }
        for (k, child) in &self.children {
            map.insert(k.clone(), child.to_fields_v1());
        }
        Value::Object(map)
    }

    /// Reads FieldsV1 back.
    pub fn from_fields_v1(value: &Value) -> Self {
        let Some(map) = value.as_object() else {
            return Self::default();
        };
        if map.is_empty() {
            return Self::leaf();
        }
        let mut set = Self::default();
        for (k, v) in map {
            if k == "." {
                set.member = true;
            } else {
                set.children.insert(k.clone(), Self::from_fields_v1(v));
            }
        }
        set
    }
}

/// A member's path as Kubernetes prints it in a conflict: `.spec.replicas`,
/// `.spec.template.spec.containers[name="web"].image`.
pub fn path_text(path: &[String]) -> String {
    let mut out = String::new();
    for element in path {
        if let Some(name) = element.strip_prefix("f:") {
            out.push('.');
            out.push_str(name);
        } else if let Some(key) = element.strip_prefix("k:") {
            let map: Map<String, Value> = serde_json::from_str(key).unwrap_or_default();
            let parts: Vec<String> = map.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push_str(&format!("[{}]", parts.join(",")));
        } else if let Some(value) = element.strip_prefix("v:") {
            out.push_str(&format!("[={value}]"));
        }
    }
    out
}

/// The value at a member's path in `object`, if it is there.
pub fn value_at<'a>(object: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut here = object;
    let mut names: Vec<String> = Vec::new();
    for element in path {
        if let Some(name) = element.strip_prefix("f:") {
            here = here.get(name)?;
            names.push(name.to_owned());
        } else if element.starts_with("k:") {
            let field = names.pop()?;
            let keys = match list_type(&names, &field) {
                ListType::Map(keys) => keys,
                _ => return None,
            };
            names.push(field);
            here = here
                .as_array()?
                .iter()
                .find(|item| item_key(item, keys).as_deref() == Some(element.as_str()))?;
        } else if let Some(value) = element.strip_prefix("v:") {
            let wanted: Value = serde_json::from_str(value).ok()?;
            here = here.as_array()?.iter().find(|v| **v == wanted)?;
        }
    }
    Some(here)
}

/// Removes the member at `path` from `object` (a field, a keyed item or a set's value).
pub fn remove_at(object: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut names: Vec<String> = parents
        .iter()
        .filter_map(|e| e.strip_prefix("f:").map(str::to_owned))
        .collect();
    let Some(parent) = value_at_mut(object, parents) else {
        return;
    };
    if let Some(name) = last.strip_prefix("f:") {
        if let Some(map) = parent.as_object_mut() {
            map.remove(name);
        }
    } else if last.starts_with("k:") {
        let Some(field) = names.pop() else { return };
        if let (ListType::Map(keys), Some(items)) = (list_type(&names, &field), parent.as_array_mut()) {
            items.retain(|item| item_key(item, keys).as_deref() != Some(last.as_str()));
        }
    } else if let Some(value) = last.strip_prefix("v:") {
        let wanted: Value = serde_json::from_str(value).unwrap_or(Value::Null);
        if let Some(items) = parent.as_array_mut() {
            items.retain(|v| *v != wanted);
        }
    }
}

fn value_at_mut<'a>(object: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    let mut here = object;
    let mut names: Vec<String> = Vec::new();
    for element in path {
        if let Some(name) = element.strip_prefix("f:") {
            here = here.get_mut(name)?;
            names.push(name.to_owned());
        } else if element.starts_with("k:") {
            let field = names.pop()?;
            let ListType::Map(keys) = list_type(&names, &field) else {
                return None;
            };
            names.push(field);
            here = here
                .as_array_mut()?
                .iter_mut()
                .find(|item| item_key(item, keys).as_deref() == Some(element.as_str()))?;
        } else {
            return None;
        }
    }
    Some(here)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "uid": "u", "labels": {"app": "web"}},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [
                {"name": "web", "image": "x", "args": ["a", "b"], "resources": {},
                 "ports": [{"containerPort": 80}]}]}}},
            "status": {"replicas": 2},
        })
    }

    #[test]
    fn an_object_becomes_fields_v1_as_kubernetes_writes_it() {
        let set = FieldSet::of_object(&deployment());
        assert_eq!(
            set.to_fields_v1(),
            json!({
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"web\"}": {".": {}, "f:args": {}, "f:image": {}, "f:name": {},
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}},
                        "f:resources": {}}}}}},
            })
        );
        assert_eq!(FieldSet::from_fields_v1(&set.to_fields_v1()), set);
    }

    #[test]
    fn members_name_paths_that_lead_to_values() {
        let object = deployment();
        let set = FieldSet::of_object(&object);
        let texts: Vec<String> = set.members().iter().map(|p| path_text(p)).collect();
        assert!(texts.contains(&".spec.replicas".to_owned()), "{texts:?}");
        assert!(texts.contains(&".spec.template.spec.containers[name=\"web\"].image".to_owned()));
        for path in set.members() {
            assert!(value_at(&object, &path).is_some(), "{path:?}");
        }
        let image = set
            .members()
            .into_iter()
            .find(|p| path_text(p).ends_with(".image"))
            .unwrap();
        assert_eq!(value_at(&object, &image), Some(&json!("x")));
        let mut changed = object.clone();
        remove_at(&mut changed, &image);
        assert!(
            changed
                .pointer("/spec/template/spec/containers/0/image")
                .is_none()
        );
        let container = &image[..image.len() - 1];
        remove_at(&mut changed, container);
        assert_eq!(changed["spec"]["template"]["spec"]["containers"], json!([]));
    }

    #[test]
    fn union_subtract_and_intersect() {
        let a = FieldSet::of_object(&json!({"spec": {"replicas": 1, "paused": true}}));
        let b = FieldSet::of_object(&json!({"spec": {"replicas": 3}}));
        let both = a.intersect(&b);
        assert_eq!(both.to_fields_v1(), json!({"f:spec": {"f:replicas": {}}}));
        let mut rest = a.clone();
        rest.subtract(&b);
        assert_eq!(rest.to_fields_v1(), json!({"f:spec": {"f:paused": {}}}));
        let mut all = rest;
        all.union(&b);
        assert_eq!(all, a);
    }
}
