//! Manifests: YAML (several documents per file) or JSON, single objects or `kind: List`, read
//! from files, folders or stdin, checked against the Kubernetes types, with warnings for what jube
//! does not act on and errors that name the file, the document and the field.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    ConfigMap, Event, Namespace, PersistentVolumeClaim, Pod, PodSpec, ReplicationController, Secret, Service,
    ServiceAccount,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::kube::kinds::Kind;

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{source_name}: no manifests found (looked for .yaml, .yml and .json files)")]
    Empty { source_name: String },
    #[error(
        "{source_name} is larger than the {} MiB a manifest source may be (Kubernetes stores no \
         object above 1.5 MiB); split it into several files",
        MAX_MANIFEST_BYTES >> 20
    )]
    TooLarge { source_name: String },
    #[error("{source_name}, document {index}: {message}")]
    Invalid {
        source_name: String,
        index: usize,
        message: String,
    },
}

/// The most bytes read from one manifest file or from stdin: far above any real manifest, low
/// enough that a runaway file (or an endless pipe) is refused before it fills memory.
pub const MAX_MANIFEST_BYTES: u64 = 8 << 20;

/// Reads a manifest source whole, refusing one larger than [`MAX_MANIFEST_BYTES`].
fn read_source(
    reader: &mut dyn std::io::Read,
    path: &Path,
    source_name: &str,
) -> Result<String, ManifestError> {
    let mut bytes = Vec::new();
    std::io::Read::take(reader, MAX_MANIFEST_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| ManifestError::Read {
            path: path.to_owned(),
            source,
        })?;
    if bytes.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(ManifestError::TooLarge {
            source_name: source_name.to_owned(),
        });
    }
    String::from_utf8(bytes).map_err(|e| ManifestError::Read {
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })
}

/// One object from a manifest, checked.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Where it came from: a file path or `-`.
    pub source: String,
    /// Its document's position in the source, from 1.
    pub index: usize,
    pub kind: Kind,
    pub name: String,
    /// The namespace the manifest names, if any.
    pub namespace: Option<String>,
    pub object: Value,
}

/// The objects of one `apply` or `delete -f`, and what the user should be warned about.
#[derive(Debug, Default)]
pub struct ManifestSet {
    pub objects: Vec<Manifest>,
    pub warnings: Vec<String>,
}

/// Reads every manifest from files and folders (`recursive` descends into sub-folders); `-` reads
/// `stdin`. Everything is checked before anything is returned, so an error means nothing applies.
pub fn load(
    paths: &[PathBuf],
    recursive: bool,
    stdin: &mut dyn std::io::Read,
) -> Result<ManifestSet, ManifestError> {
    let mut set = ManifestSet::default();
    for path in paths {
        if path.as_os_str() == "-" {
            let text = read_source(stdin, path, "stdin")?;
            parse_into("-", &text, &mut set)?;
            continue;
        }
        let files = manifest_files(path, recursive)?;
        if files.is_empty() {
            return Err(ManifestError::Empty {
                source_name: path.display().to_string(),
            });
        }
        for file in files {
            let mut opened = std::fs::File::open(&file).map_err(|source| ManifestError::Read {
                path: file.clone(),
                source,
            })?;
            let text = read_source(&mut opened, &file, &file.display().to_string())?;
            parse_into(&file.display().to_string(), &text, &mut set)?;
        }
    }
    Ok(set)
}

/// A file, or the manifest files of a folder sorted by name (as kubectl takes them).
fn manifest_files(path: &Path, recursive: bool) -> Result<Vec<PathBuf>, ManifestError> {
    let meta = std::fs::metadata(path).map_err(|source| ManifestError::Read {
        path: path.to_owned(),
        source,
    })?;
    if !meta.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut out = Vec::new();
    let entries = std::fs::read_dir(path).map_err(|source| ManifestError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mut entries: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            if recursive {
                out.extend(manifest_files(&entry, true)?);
            }
        } else if entry
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        {
            out.push(entry);
        }
    }
    Ok(out)
}

/// Parses one source's text and adds its objects (lists expanded) to `set`.
pub fn parse_into(source: &str, text: &str, set: &mut ManifestSet) -> Result<(), ManifestError> {
    let documents = split_documents(source, text)?;
    for (index, doc) in documents.into_iter().enumerate() {
        let index = index + 1;
        for object in expand_list(doc) {
            if let Some(m) = check(source, index, object, &mut set.warnings)? {
                set.objects.push(m);
            }
        }
    }
    Ok(())
}

/// The documents of a source: JSON when it starts with `{` or `[`, else YAML documents separated by
/// `---` (empty documents skipped).
fn split_documents(source: &str, text: &str) -> Result<Vec<Value>, ManifestError> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let value: Value = serde_json::from_str(text).map_err(|e| ManifestError::Invalid {
            source_name: source.to_owned(),
            index: 1,
            message: format!("malformed JSON at line {}, column {}: {e}", e.line(), e.column()),
        })?;
        return Ok(match value {
            Value::Array(items) => items,
            other => vec![other],
        });
    }
    let mut docs = Vec::new();
    for (i, doc) in serde_norway::Deserializer::from_str(text).enumerate() {
        let value: Value = serde::Deserialize::deserialize(doc).map_err(|e| ManifestError::Invalid {
            source_name: source.to_owned(),
            index: i + 1,
            message: format!("malformed YAML: {e}"),
        })?;
        if !value.is_null() {
            docs.push(value);
        }
    }
    Ok(docs)
}

/// `kind: List` (or any `*List`) with `items` stands for its items.
fn expand_list(doc: Value) -> Vec<Value> {
    let is_list = doc
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k == "List" || k.ends_with("List"))
        && doc.get("items").is_some_and(Value::is_array);
    if !is_list {
        return vec![doc];
    }
    match doc {
        Value::Object(mut map) => match map.remove("items") {
            Some(Value::Array(items)) => items.into_iter().flat_map(expand_list).collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// Checks one object. Kinds jube does not handle are skipped with a warning; malformed objects are
/// errors naming the field.
pub fn check(
    source: &str,
    index: usize,
    object: Value,
    warnings: &mut Vec<String>,
) -> Result<Option<Manifest>, ManifestError> {
    let invalid = |message: String| ManifestError::Invalid {
        source_name: source.to_owned(),
        index,
        message,
    };
    if !object.is_object() {
        return Err(invalid(
            "a manifest must be an object with apiVersion, kind and metadata".into(),
        ));
    }
    let kind_name = object
        .get("kind")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("field `kind` is missing".into()))?;
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("field `apiVersion` is missing".into()))?;
    let Some(kind) = Kind::from_kind(kind_name) else {
        warnings.push(format!(
            "{source}, document {index}: kind {kind_name} ({api_version}) is not handled by jube yet; skipped"
        ));
        return Ok(None);
    };
    if api_version != kind.api_version() {
        return Err(invalid(format!(
            "{kind_name} has apiVersion {}, not `{api_version}`",
            kind.api_version()
        )));
    }
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    check_name("metadata.name", &name).map_err(invalid)?;
    match kind {
        // As Kubernetes: namespaces are DNS labels, services DNS-1035 labels (their names become
        // environment variables and host names).
        Kind::Namespace => check_label("metadata.name", &name).map_err(invalid)?,
        Kind::Service => check_service_name(&name).map_err(invalid)?,
        _ => {}
    }
    let namespace = object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(ns) = &namespace {
        check_label("metadata.namespace", ns).map_err(invalid)?;
    }
    let here = format!("{source}, document {index} ({kind_name} {name})");
    let typed = match kind {
        Kind::Namespace => typed::<Namespace>(&object),
        Kind::Pod => typed::<Pod>(&object),
        Kind::ReplicationController => typed::<ReplicationController>(&object),
        Kind::Service => typed::<Service>(&object),
        Kind::ReplicaSet => typed::<ReplicaSet>(&object),
        Kind::Deployment => typed::<Deployment>(&object),
        Kind::Job => typed::<Job>(&object),
        Kind::ConfigMap => typed::<ConfigMap>(&object),
        Kind::Secret => typed::<Secret>(&object),
        Kind::ServiceAccount => typed::<ServiceAccount>(&object),
        Kind::PersistentVolumeClaim => typed::<PersistentVolumeClaim>(&object),
        Kind::Event => typed::<Event>(&object),
        Kind::Endpoints => typed::<k8s_openapi::api::core::v1::Endpoints>(&object),
        Kind::EndpointSlice => typed::<k8s_openapi::api::discovery::v1::EndpointSlice>(&object),
    }
    .map_err(invalid)?;
    unknown_fields(&object, &typed, "", &here, warnings);
    match kind {
        Kind::Pod => {
            let spec = object
                .get("spec")
                .ok_or_else(|| invalid("field `spec` is missing".into()))?;
            check_pod_spec(spec, "spec", &here, warnings).map_err(invalid)?;
        }
        Kind::ReplicationController => {
            let template = object
                .pointer("/spec/template/spec")
                .ok_or_else(|| invalid("field `spec.template.spec` is missing".into()))?;
            check_pod_spec(template, "spec.template.spec", &here, warnings).map_err(invalid)?;
            if let Some(r) = object
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .filter(|r| *r < 0)
            {
                return Err(invalid(format!("spec.replicas: must be 0 or more, not {r}")));
            }
            check_selector(&object).map_err(invalid)?;
        }
        Kind::ReplicaSet | Kind::Deployment | Kind::Job => {
            let template = object
                .pointer("/spec/template/spec")
                .ok_or_else(|| invalid("field `spec.template.spec` is missing".into()))?;
            check_pod_spec(template, "spec.template.spec", &here, warnings).map_err(invalid)?;
            for field in ["replicas", "completions", "parallelism", "backoffLimit"] {
                if let Some(r) = object
                    .pointer(&format!("/spec/{field}"))
                    .and_then(Value::as_i64)
                    .filter(|r| *r < 0)
                {
                    return Err(invalid(format!("spec.{field}: must be 0 or more, not {r}")));
                }
            }
            if kind == Kind::Job {
                // A Job's pods run to their end: Always would never let one complete.
                match template.get("restartPolicy").and_then(Value::as_str) {
                    Some("OnFailure" | "Never") => {}
                    other => {
                        return Err(invalid(format!(
                            "spec.template.spec.restartPolicy: Unsupported value: {}: supported values: \"OnFailure\", \"Never\"",
                            other.map_or("\"\"".to_owned(), |p| format!("\"{p}\""))
                        )));
                    }
                }
            } else {
                check_label_selector(&object).map_err(invalid)?;
            }
        }
        Kind::Service => check_service(&object, &here, warnings).map_err(invalid)?,
        Kind::ConfigMap | Kind::Secret => check_data_keys(&object).map_err(invalid)?,
        Kind::Namespace
        | Kind::ServiceAccount
        | Kind::PersistentVolumeClaim
        | Kind::Event
        | Kind::Endpoints
        | Kind::EndpointSlice => {}
    }
    Ok(Some(Manifest {
        source: source.to_owned(),
        index,
        kind,
        name,
        namespace,
        object,
    }))
}

/// Deserializes into the k8s-openapi type, naming the field path of a type error, and returns the
/// typed object serialized back (what jube understood).
fn typed<T: DeserializeOwned + serde::Serialize>(object: &Value) -> Result<Value, String> {
    let parsed: T = serde_path_to_error::deserialize(object)
        .map_err(|e| format!("field `{}`: {}", e.path(), e.inner()))?;
    serde_json::to_value(parsed).map_err(|e| e.to_string())
}

/// Fields of the manifest the Kubernetes types do not have (typos, mostly), as kubectl warns.
fn unknown_fields(given: &Value, understood: &Value, path: &str, here: &str, warnings: &mut Vec<String>) {
    match (given, understood) {
        (Value::Object(g), Value::Object(u)) => {
            for (key, value) in g {
                let field = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match u.get(key) {
                    Some(inner) => unknown_fields(value, inner, &field, here, warnings),
                    // Empty values serialize away; only a non-empty unknown field is news.
                    None if !is_empty(value) => warnings.push(format!("{here}: unknown field \"{field}\"")),
                    None => {}
                }
            }
        }
        (Value::Array(g), Value::Array(u)) => {
            for (i, (gv, uv)) in g.iter().zip(u).enumerate() {
                unknown_fields(gv, uv, &format!("{path}[{i}]"), here, warnings);
            }
        }
        _ => {}
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// Pod-spec fields that change how Kubernetes runs a pod but that jube does not act on.
const IGNORED_POD_FIELDS: &[&str] = &[
    "nodeSelector",
    "nodeName",
    "affinity",
    "tolerations",
    "securityContext",
    "hostNetwork",
    "dnsPolicy",
    "activeDeadlineSeconds",
    "imagePullSecrets",
];

const IGNORED_CONTAINER_FIELDS: &[&str] = &[
    "resources",
    "securityContext",
    "workingDir",
    "lifecycle",
    "stdin",
    "tty",
];

fn check_pod_spec(spec: &Value, path: &str, here: &str, warnings: &mut Vec<String>) -> Result<(), String> {
    for field in IGNORED_POD_FIELDS {
        if spec
            .get(*field)
            .is_some_and(|v| !is_empty(v) && *v != Value::Bool(false))
        {
            warnings.push(format!("{here}: {path}.{field} is ignored by jube"));
        }
    }
    let containers = spec
        .get("containers")
        .and_then(Value::as_array)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| format!("{path}.containers: a pod needs at least one container"))?;
    let inits = spec
        .get("initContainers")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut names = std::collections::HashSet::new();
    let listed = inits
        .iter()
        .enumerate()
        .map(|(i, c)| (format!("{path}.initContainers[{i}]"), c))
        .chain(
            containers
                .iter()
                .enumerate()
                .map(|(i, c)| (format!("{path}.containers[{i}]"), c)),
        );
    for (cpath, c) in listed {
        let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
        check_label(&format!("{cpath}.name"), name)?;
        if !names.insert(name) {
            return Err(format!(
                "{cpath}.name: `{name}` is used by two containers of the pod"
            ));
        }
        let image = c.get("image").and_then(Value::as_str).unwrap_or_default();
        if image.trim().is_empty() {
            return Err(format!("{cpath}.image: a container needs an image"));
        }
        crate::image::parse(image, crate::image::DEFAULT_GROUP_PREFIX)
            .map_err(|e| format!("{cpath}.image: {e}"))?;
        for field in IGNORED_CONTAINER_FIELDS {
            if c.get(*field)
                .is_some_and(|v| !is_empty(v) && *v != Value::Bool(false))
            {
                warnings.push(format!("{here}: {cpath}.{field} is ignored by jube"));
            }
        }
        let mapped: Vec<String> = c
            .get("volumeMounts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|m| {
                let path = m.get("mountPath").and_then(Value::as_str)?;
                let volume = m.get("name").and_then(Value::as_str).unwrap_or_default();
                Some(format!(
                    "{path} -> $APP_BASE/{} (${})",
                    path.trim_start_matches('/'),
                    crate::kube::volumes::mount_variable(volume)
                ))
            })
            .collect();
        if !mapped.is_empty() {
            warnings.push(format!(
                "{here}: {cpath}: volumes are mounted inside the app's folder: {}",
                mapped.join(", ")
            ));
        }
        for (j, env) in c
            .get("env")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let ename = env.get("name").and_then(Value::as_str).unwrap_or_default();
            crate::container::envfile::check_name(ename)
                .map_err(|e| format!("{cpath}.env[{j}].name: {e}"))?;
        }
    }
    if let Some(policy) = spec.get("restartPolicy").and_then(Value::as_str)
        && !["Always", "OnFailure", "Never"].contains(&policy)
    {
        return Err(format!(
            "{path}.restartPolicy: `{policy}` is not Always, OnFailure or Never"
        ));
    }
    Ok(())
}

/// An RC's selector must match its template's labels, as the API server insists.
fn check_selector(rc: &Value) -> Result<(), String> {
    let labels = rc
        .pointer("/spec/template/metadata/labels")
        .and_then(Value::as_object);
    let selector = rc.pointer("/spec/selector").and_then(Value::as_object).or(labels);
    let (Some(selector), Some(labels)) = (selector, labels) else {
        return Err(
            "spec.template.metadata.labels: an RC's pod template needs labels (its selector matches them)"
                .into(),
        );
    };
    for (k, v) in selector {
        if labels.get(k) != Some(v) {
            return Err(format!(
                "spec.selector: `{k}={}` does not match the template's labels",
                v.as_str().unwrap_or_default()
            ));
        }
    }
    Ok(())
}

/// A ReplicaSet's or Deployment's `spec.selector` (matchLabels, matchExpressions) is required
/// and must select its template's labels, as the API server insists.
fn check_label_selector(object: &Value) -> Result<(), String> {
    let selector = object
        .pointer("/spec/selector")
        .filter(|s| s.as_object().is_some_and(|m| !m.is_empty()))
        .ok_or("spec.selector: Required value")?;
    let typed: k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector =
        serde_json::from_value(selector.clone()).map_err(|e| format!("spec.selector: {e}"))?;
    let parsed = crate::kube::selector::LabelSelector::from_label_selector(&typed)
        .map_err(|e| format!("spec.selector: {e}"))?;
    if parsed.is_empty() {
        return Err("spec.selector: Invalid value: empty selector is invalid for a workload".into());
    }
    let template = serde_json::json!({"metadata": {"labels": object
        .pointer("/spec/template/metadata/labels").cloned().unwrap_or_default()}});
    if !parsed.matches_object(&template) {
        return Err(format!(
            "spec.template.metadata.labels: Invalid value: `selector` does not match template `labels` ({})",
            crate::kube::table::format_labels(template.pointer("/metadata/labels"))
        ));
    }
    Ok(())
}

fn check_service(svc: &Value, here: &str, warnings: &mut Vec<String>) -> Result<(), String> {
    let ports = svc
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if ports.is_empty() {
        return Err("spec.ports: a service needs at least one port".into());
    }
    for (i, p) in ports.iter().enumerate() {
        match p.get("port").and_then(Value::as_i64) {
            Some(n) if (1..=65535).contains(&n) => {}
            _ => {
                return Err(format!(
                    "spec.ports[{i}].port: must be a port number (1 to 65535)"
                ));
            }
        }
        if p.get("protocol")
            .and_then(Value::as_str)
            .is_some_and(|proto| proto != "TCP")
        {
            warnings.push(format!(
                "{here}: spec.ports[{i}].protocol: only TCP is proxied by jube"
            ));
        }
    }
    for field in [
        "externalName",
        "loadBalancerIP",
        "sessionAffinity",
        "externalTrafficPolicy",
    ] {
        if svc
            .pointer(&format!("/spec/{field}"))
            .is_some_and(|v| !is_empty(v) && *v != Value::String("None".into()))
        {
            warnings.push(format!("{here}: spec.{field} is ignored by jube"));
        }
    }
    Ok(())
}

/// Object names: DNS-1123 subdomains (lower case letters, digits, `-` and `.`), as Kubernetes asks.
fn check_name(field: &str, name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("{field} is missing"));
    }
    let ok = name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric();
    if !ok {
        return Err(format!(
            "{field}: `{name}` is not a valid name: use lower case letters, digits, `-` and `.`, starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

/// DNS-1123 labels: as names, without dots, at most 63 characters.
fn check_label(field: &str, name: &str) -> Result<(), String> {
    check_name(field, name)?;
    if name.contains('.') || name.len() > 63 {
        return Err(format!(
            "{field}: `{name}` must be at most 63 characters without `.`"
        ));
    }
    Ok(())
}

/// ConfigMap and Secret keys become file names and variable names: as in Kubernetes, each is made
/// of letters, digits, `-`, `_` and `.`, at most 253 characters, and not `.` or `..`; a key is in
/// one of `data`, `binaryData` and `stringData` only.
fn check_data_keys(object: &Value) -> Result<(), String> {
    let mut seen = std::collections::BTreeSet::new();
    for field in ["data", "binaryData", "stringData"] {
        let Some(map) = object.get(field).and_then(Value::as_object) else {
            continue;
        };
        for key in map.keys() {
            let valid = !key.is_empty()
                && key.len() <= 253
                && key != "."
                && key != ".."
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !valid {
                return Err(format!(
                    "{field}[{key:?}]: Invalid value: a valid config key must consist of alphanumeric \
                     characters, '-', '_' or '.' (e.g. 'key.name')"
                ));
            }
            if field != "stringData" && !seen.insert(key.clone()) {
                return Err(format!(
                    "{field}[{key:?}]: Invalid value: duplicate of key {key:?} present in data"
                ));
            }
        }
    }
    Ok(())
}

/// A DNS-1035 label: a DNS label that starts with a letter.
fn check_service_name(name: &str) -> Result<(), String> {
    check_label("metadata.name", name)?;
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(format!(
            "metadata.name: `{name}` is not a valid service name: it must start with a letter"
        ));
    }
    Ok(())
}

/// The pod spec of a pod or RC, typed.
pub fn pod_spec(object: &Value, kind: Kind) -> Option<PodSpec> {
    let spec = match kind {
        Kind::Pod => object.get("spec")?,
        Kind::ReplicationController | Kind::ReplicaSet | Kind::Deployment | Kind::Job => {
            object.pointer("/spec/template/spec")?
        }
        _ => return None,
    };
    serde_json::from_value(spec.clone()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ManifestSet, ManifestError> {
        let mut set = ManifestSet::default();
        parse_into("app.yaml", text, &mut set)?;
        Ok(set)
    }

    const RC: &str = "apiVersion: v1
kind: ReplicationController
metadata:
  name: web
spec:
  replicas: 2
  selector:
    app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: fabric8/java
        ports:
        - containerPort: 8080
";

    #[test]
    fn multi_document_yaml_lists_and_json() {
        let text = format!(
            "{RC}---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector:\n    app: web\n  ports:\n  - port: 80\n    targetPort: 8080\n---\n"
        );
        let set = parse(&text).unwrap();
        let kinds: Vec<_> = set.objects.iter().map(|m| (m.kind, m.index)).collect();
        assert_eq!(kinds, [(Kind::ReplicationController, 1), (Kind::Service, 2)]);
        let list = r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"dev"}}]}"#;
        let set = parse(list).unwrap();
        assert_eq!(set.objects[0].kind, Kind::Namespace);
        assert!(set.warnings.is_empty(), "{:?}", set.warnings);
    }

    #[test]
    fn unknown_kinds_and_mapped_mounts_are_warnings() {
        let text = format!(
            "{RC}        volumeMounts:\n        - name: data\n          mountPath: /data\n      volumes:\n      - name: data\n        emptyDir: {{}}\n---\napiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: db\n"
        );
        let set = parse(&text).unwrap();
        assert_eq!(set.objects.len(), 1);
        let w = set.warnings.join("\n");
        assert!(w.contains("kind StatefulSet (apps/v1) is not handled"), "{w}");
        assert!(
            w.contains("containers[0]: volumes are mounted inside the app's folder: /data -> $APP_BASE/data ($JUBE_MOUNT_DATA)"),
            "{w}"
        );
        assert!(!w.contains("volumes is ignored"), "{w}");
    }

    #[test]
    fn typos_are_warned_about() {
        let set = parse(&RC.replace("replicas: 2", "replcas: 2")).unwrap();
        assert!(
            set.warnings
                .iter()
                .any(|w| w.contains("unknown field \"spec.replcas\"")),
            "{:?}",
            set.warnings
        );
    }

    #[test]
    fn errors_name_file_document_and_field() {
        let bad_type = RC.replace("replicas: 2", "replicas: many");
        let text = format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ok\n---\n{bad_type}");
        let e = parse(&text).unwrap_err().to_string();
        assert!(
            e.starts_with("app.yaml, document 2: field `spec.replicas`"),
            "{e}"
        );
        for (text, needle) in [
            ("kind: Pod\nmetadata:\n  name: a\n", "apiVersion"),
            (
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: Bad_Name\nspec:\n  containers: []\n",
                "not a valid name",
            ),
            (
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\nspec:\n  containers: []\n",
                "at least one container",
            ),
            (
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\nspec:\n  containers:\n  - name: c\n",
                "needs an image",
            ),
            (
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\nspec:\n  containers:\n  - name: c\n    image: x\n  restartPolicy: Sometimes\n",
                "restartPolicy",
            ),
            (
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  ports: []\n",
                "at least one port",
            ),
            (
                "apiVersion: apps/v2\nkind: Pod\nmetadata:\n  name: a\n",
                "apiVersion v1",
            ),
            ("key: [unclosed\n", "malformed YAML"),
            (
                "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a.b\n",
                "without `.`",
            ),
            (
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: 1st\nspec:\n  ports:\n  - port: 80\n",
                "must start with a letter",
            ),
            (
                &RC.replace("app: web\n  template", "app: other\n  template"),
                "does not match",
            ),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(needle), "{text}\n=> {e}");
        }
    }

    #[test]
    fn folders_are_read_in_order_and_stdin_too() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.yaml"), RC).unwrap();
        std::fs::write(
            dir.path().join("a.json"),
            r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"dev"}}"#,
        )
        .unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a manifest").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(
            dir.path().join("sub/c.yml"),
            RC.replace("name: web\nspec", "name: api\nspec"),
        )
        .unwrap();
        let flat = load(&[dir.path().to_owned()], false, &mut std::io::empty()).unwrap();
        assert_eq!(
            flat.objects.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
            ["dev", "web"]
        );
        let deep = load(&[dir.path().to_owned()], true, &mut std::io::empty()).unwrap();
        assert_eq!(deep.objects.len(), 3);
        let from_stdin = load(&[PathBuf::from("-")], false, &mut RC.as_bytes()).unwrap();
        assert_eq!(from_stdin.objects[0].source, "-");
        let empty = tempfile::tempdir().unwrap();
        assert!(load(&[empty.path().to_owned()], false, &mut std::io::empty()).is_err());
    }
}
