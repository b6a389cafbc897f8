//! A container's environment as the kubelet builds it: `envFrom` first, then `env` in order, each
//! value `$(VAR)`-expanded against what came before it and the Services' variables, with values
//! taken from ConfigMaps, Secrets, the pod itself (`fieldRef`) and its resources
//! (`resourceFieldRef`).

use std::collections::BTreeSet;

use base64::Engine as _;
use serde_json::Value;

use crate::kube::kinds::Kind;
use crate::kube::pods::expand;
use crate::kube::reconcile::str_at as text;

/// Finds a ConfigMap or Secret of the pod's namespace by name.
pub type Lookup<'a> = &'a dyn Fn(Kind, &str) -> Option<Value>;

/// The variables a container gets, and the names of those whose values came from a Secret (kept
/// out of every listing).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ContainerEnv {
    pub vars: Vec<(String, String)>,
    pub secret_names: BTreeSet<String>,
    /// `envFrom` keys that are not variable names, skipped as Kubernetes skips them.
    pub skipped: Vec<String>,
}

/// Why a container cannot be given its environment: Kubernetes keeps such a pod waiting with the
/// reason `CreateContainerConfigError` and this message.
pub type ConfigError = String;

/// The environment of `container` in `pod`: the Services' variables, `HOSTNAME`, then `envFrom`
/// and `env`.
pub fn container_env(
    pod: &Value,
    container: &Value,
    service_env: &[(String, String)],
    lookup: Lookup<'_>,
) -> Result<ContainerEnv, ConfigError> {
    let namespace = text(pod, "/metadata/namespace").unwrap_or("default");
    let mut out = ContainerEnv::default();
    // What `$(VAR)` sees: the Services' variables, then every variable defined so far.
    let mut vars: Vec<(String, String)> = service_env.to_vec();
    vars.push((
        "HOSTNAME".into(),
        text(pod, "/metadata/name").unwrap_or_default().to_owned(),
    ));
    for source in array(container, "envFrom") {
        let prefix = text(source, "/prefix").unwrap_or_default();
        let (kind, reference) = match (source.get("configMapRef"), source.get("secretRef")) {
            (Some(r), _) => (Kind::ConfigMap, r),
            (None, Some(r)) => (Kind::Secret, r),
            (None, None) => continue,
        };
        let name = text(reference, "/name").unwrap_or_default();
        let optional = reference.get("optional").and_then(Value::as_bool) == Some(true);
        let Some(object) = lookup(kind, name) else {
            if optional {
                continue;
            }
            return Err(not_found(kind, name));
        };
        for (key, value) in entries(kind, &object) {
            let var = format!("{prefix}{key}");
            if !is_env_name(&var) {
                out.skipped.push(var);
                continue;
            }
            mark_secret(&mut out, &var, kind == Kind::Secret);
            vars.push((var, value));
        }
    }
    for e in array(container, "env") {
        let Some(name) = text(e, "/name") else { continue };
        let value = match e.get("valueFrom") {
            Some(from) => match value_from(from, pod, container, namespace, lookup)? {
                Some((value, is_secret)) => {
                    mark_secret(&mut out, name, is_secret);
                    value
                }
                None => continue,
            },
            None => {
                mark_secret(&mut out, name, false);
                match e.get("value") {
                    Some(Value::String(s)) => expand(s, &vars),
                    Some(Value::Null) | None => String::new(),
                    Some(other) => other.to_string(),
                }
            }
        };
        vars.push((name.to_owned(), value));
    }
    out.vars = vars;
    Ok(out)
}

/// One `valueFrom`: the value and whether it is secret, or `None` for an optional reference that
/// is missing (the variable is then left out).
fn value_from(
    from: &Value,
    pod: &Value,
    container: &Value,
    namespace: &str,
    lookup: Lookup<'_>,
) -> Result<Option<(String, bool)>, ConfigError> {
    for (field, kind) in [
        ("configMapKeyRef", Kind::ConfigMap),
        ("secretKeyRef", Kind::Secret),
    ] {
        let Some(r) = from.get(field) else { continue };
        let name = text(r, "/name").unwrap_or_default();
        let key = text(r, "/key").unwrap_or_default();
        let optional = r.get("optional").and_then(Value::as_bool) == Some(true);
        let Some(object) = lookup(kind, name) else {
            return if optional {
                Ok(None)
            } else {
                Err(not_found(kind, name))
            };
        };
        return match entries(kind, &object).into_iter().find(|(k, _)| k == key) {
            Some((_, value)) => Ok(Some((value, kind == Kind::Secret))),
            None if optional => Ok(None),
            None => Err(format!(
                "couldn't find key {key} in {} {namespace}/{name}",
                kind.name()
            )),
        };
    }
    if let Some(r) = from.get("fieldRef") {
        let path = text(r, "/fieldPath").unwrap_or_default();
        return field_value(pod, path)
            .map(|v| Some((v, false)))
            .ok_or_else(|| format!("unsupported fieldPath: {path}"));
    }
    if let Some(r) = from.get("resourceFieldRef") {
        return resource_value(r, pod, container).map(|v| Some((v, false)));
    }
    Ok(None)
}

/// Remembers whether the latest definition of `name` came from a Secret.
fn mark_secret(out: &mut ContainerEnv, name: &str, is_secret: bool) {
    if is_secret {
        out.secret_names.insert(name.to_owned());
    } else {
        out.secret_names.remove(name);
    }
}

fn not_found(kind: Kind, name: &str) -> ConfigError {
    format!("{} \"{name}\" not found", kind.singular())
}

/// A ConfigMap's `data` and `binaryData`, or a Secret's decoded `data`, as text.
fn entries(kind: Kind, object: &Value) -> Vec<(String, String)> {
    data_of(kind, object)
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
        .collect()
}

/// A ConfigMap's `data` and `binaryData`, or a Secret's `data`, decoded: the bytes each key holds.
pub(crate) fn data_of(kind: Kind, object: &Value) -> std::collections::BTreeMap<String, Vec<u8>> {
    let decode = |v: &Value| {
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .unwrap_or_default()
    };
    let map = |field: &str| object.get(field).and_then(Value::as_object).into_iter().flatten();
    match kind {
        Kind::Secret => map("data").map(|(k, v)| (k.clone(), decode(v))).collect(),
        _ => map("data")
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().as_bytes().to_vec()))
            .chain(map("binaryData").map(|(k, v)| (k.clone(), decode(v))))
            .collect(),
    }
}

/// A `fieldRef`'s value, from the pod: the paths Kubernetes allows for environment variables.
pub fn field_value(pod: &Value, path: &str) -> Option<String> {
    let path = path.trim();
    let keyed = |prefix: &str| {
        let rest = path.strip_prefix(prefix)?.strip_prefix('[')?.strip_suffix(']')?;
        let key = rest
            .strip_prefix('\'')
            .and_then(|r| r.strip_suffix('\''))
            .or_else(|| rest.strip_prefix('"').and_then(|r| r.strip_suffix('"')))?;
        Some(key.to_owned())
    };
    if let Some(key) = keyed("metadata.labels") {
        return Some(
            text(pod, &format!("/metadata/labels/{}", pointer_escape(&key)))
                .unwrap_or_default()
                .to_owned(),
        );
    }
    if let Some(key) = keyed("metadata.annotations") {
        return Some(
            text(pod, &format!("/metadata/annotations/{}", pointer_escape(&key)))
                .unwrap_or_default()
                .to_owned(),
        );
    }
    let own = |p: &str| text(pod, p).unwrap_or_default().to_owned();
    Some(match path {
        "metadata.name" => own("/metadata/name"),
        "metadata.namespace" => text(pod, "/metadata/namespace").unwrap_or("default").to_owned(),
        "metadata.uid" => own("/metadata/uid"),
        "metadata.labels" | "metadata.annotations" => {
            let field = path.trim_start_matches("metadata.");
            pod.pointer(&format!("/metadata/{field}"))
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(k, v)| format!("{k}=\"{}\"", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join("\n")
        }
        "spec.nodeName" => text(pod, "/spec/nodeName").map_or_else(node_name, str::to_owned),
        "spec.serviceAccountName" => text(pod, "/spec/serviceAccountName")
            .unwrap_or("default")
            .to_owned(),
        "status.podIP" | "status.podIPs" | "status.hostIP" | "status.hostIPs" => "127.0.0.1".to_owned(),
        _ => return None,
    })
}

/// The name of the machine, which is the one node every pod runs on.
pub fn node_name() -> String {
    sysinfo::System::host_name()
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
        .to_ascii_lowercase()
}

/// A `resourceFieldRef`: the declared request or limit in units of `divisor`, rounded up as
/// Kubernetes rounds it. A limit that is not declared is the machine's capacity; a request that
/// is not declared is its limit when that is declared, and 0 otherwise.
pub(crate) fn resource_value(r: &Value, pod: &Value, container: &Value) -> Result<String, ConfigError> {
    let resource = text(r, "/resource").unwrap_or_default();
    let target = match text(r, "/containerName").filter(|n| !n.is_empty()) {
        Some(name) => array(pod.get("spec").unwrap_or(&Value::Null), "containers")
            .find(|c| text(c, "/name") == Some(name))
            .ok_or_else(|| format!("resourceFieldRef: no container named {name}"))?,
        None => container,
    };
    let (section, what) = resource
        .split_once('.')
        .ok_or_else(|| format!("unsupported resource: {resource}"))?;
    if !matches!(section, "limits" | "requests") || !matches!(what, "cpu" | "memory" | "ephemeral-storage") {
        return Err(format!("unsupported resource: {resource}"));
    }
    let declared = |s: &str| {
        target
            .pointer(&format!("/resources/{s}/{what}"))
            .map(|q| q.as_str().map(str::to_owned).unwrap_or_else(|| q.to_string()))
    };
    let amount = match (section, declared(section), declared("limits")) {
        (_, Some(q), _) | ("requests", None, Some(q)) => {
            quantity(&q).ok_or_else(|| format!("{resource}: `{q}` is not a quantity"))?
        }
        ("limits", None, _) => capacity(what),
        _ => 0.0,
    };
    let divisor = match r.get("divisor") {
        Some(Value::String(d)) => quantity(d).ok_or_else(|| format!("divisor: `{d}` is not a quantity"))?,
        Some(Value::Number(n)) => n.as_f64().unwrap_or(1.0),
        _ => 1.0,
    };
    if divisor <= 0.0 {
        return Err(format!("{resource}: the divisor must be more than 0"));
    }
    Ok(format!("{}", (amount / divisor - 1e-9).ceil().max(0.0)))
}

fn capacity(what: &str) -> f64 {
    match what {
        "cpu" => std::thread::available_parallelism().map_or(1, usize::from) as f64,
        "memory" => {
            let Ok(mut sys) = sysinfo::System::new() else {
                return 0.0;
            };
            sys.refresh_memory();
            sys.total_memory() as f64
        }
        _ => 0.0,
    }
}

/// A Kubernetes quantity (`500m`, `1.5`, `128Mi`, `2G`, `1e3`) as a number.
pub fn quantity(text: &str) -> Option<f64> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '+' | '-')))
        .unwrap_or(t.len());
    let (number, suffix) = t.split_at(split);
    let n: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        s if s.starts_with(['e', 'E']) => 10f64.powi(s[1..].parse().ok()?),
        _ => return None,
    };
    Some(n * factor)
}

/// A C identifier-like name that a shell can export; Kubernetes allows any printable name without
/// `=`, but a name a shell cannot set would never reach the app through env.sh.
fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn pointer_escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// The items of the array at `field`, none when it is missing.
pub(crate) fn array<'a>(v: &'a Value, field: &str) -> impl Iterator<Item = &'a Value> {
    v.get(field).and_then(Value::as_array).into_iter().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lookup(kind: Kind, name: &str) -> Option<Value> {
        match (kind, name) {
            (Kind::ConfigMap, "settings") => Some(
                json!({"data": {"MODE": "demo", "bad-key": "x", "url": "http://db"},
                "binaryData": {"blob": "aGk="}}),
            ),
            (Kind::Secret, "db") => Some(json!({"data": {"password": "aHVudGVyMg==", "USER": "YWRtaW4="}})),
            _ => None,
        }
    }

    fn env_of(container: Value) -> Result<ContainerEnv, ConfigError> {
        let pod = json!({"metadata": {"name": "web-1", "namespace": "shop", "uid": "u-1",
            "labels": {"app": "web"}, "annotations": {"team": "a"}},
            "spec": {"serviceAccountName": "runner", "containers": [container.clone()]}});
        container_env(
            &pod,
            &container,
            &[("DB_SERVICE_HOST".into(), "127.0.0.1".into())],
            &lookup,
        )
    }

    fn get<'a>(env: &'a ContainerEnv, name: &str) -> Option<&'a str> {
        env.vars
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn values_come_from_config_maps_secrets_and_the_pod() {
        let env = env_of(json!({"name": "web",
            "envFrom": [{"configMapRef": {"name": "settings"}, "prefix": "CFG_"}, {"secretRef": {"name": "db"}}],
            "env": [
                {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "MODE"}}},
                {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
                {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                {"name": "TEAM", "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['team']"}}},
                {"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
                {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                {"name": "UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
                {"name": "GONE", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "x", "optional": true}}},
                {"name": "URL", "value": "$(CFG_url)/$(POD)?$(MISSING)&$$(POD)"},
                {"name": "USER", "value": "plain"}
            ]}))
        .unwrap();
        assert_eq!(get(&env, "CFG_MODE"), Some("demo"));
        assert_eq!(get(&env, "CFG_blob"), Some("hi"));
        assert_eq!(get(&env, "MODE"), Some("demo"));
        assert_eq!(get(&env, "PASSWORD"), Some("hunter2"));
        assert_eq!(get(&env, "POD"), Some("web-1"));
        assert_eq!(get(&env, "NS"), Some("shop"));
        assert_eq!(get(&env, "APP"), Some("web"));
        assert_eq!(get(&env, "TEAM"), Some("a"));
        assert_eq!(get(&env, "SA"), Some("runner"));
        assert_eq!(get(&env, "IP"), Some("127.0.0.1"));
        assert_eq!(get(&env, "UID"), Some("u-1"));
        assert_eq!(get(&env, "GONE"), None);
        assert_eq!(get(&env, "URL"), Some("http://db/web-1?$(MISSING)&$(POD)"));
        assert_eq!(get(&env, "DB_SERVICE_HOST"), Some("127.0.0.1"));
        assert_eq!(env.skipped, ["CFG_bad-key"]);
        // USER came from the Secret first and was then set in plain text.
        assert_eq!(get(&env, "USER"), Some("plain"));
        assert_eq!(
            env.secret_names.iter().map(String::as_str).collect::<Vec<_>>(),
            ["PASSWORD", "password"]
        );
    }

    #[test]
    fn a_missing_reference_that_is_not_optional_is_a_config_error() {
        let missing = |from: Value| {
            env_of(json!({"name": "c", "env": [{"name": "X", "valueFrom": from}]})).unwrap_err()
        };
        assert_eq!(
            missing(json!({"configMapKeyRef": {"name": "nope", "key": "k"}})),
            "configmap \"nope\" not found"
        );
        assert_eq!(
            missing(json!({"secretKeyRef": {"name": "nope", "key": "k"}})),
            "secret \"nope\" not found"
        );
        assert_eq!(
            missing(json!({"secretKeyRef": {"name": "db", "key": "token"}})),
            "couldn't find key token in Secret shop/db"
        );
        assert_eq!(
            missing(json!({"fieldRef": {"fieldPath": "spec.containers"}})),
            "unsupported fieldPath: spec.containers"
        );
        let from = env_of(json!({"name": "c", "envFrom": [{"secretRef": {"name": "none"}}]})).unwrap_err();
        assert_eq!(from, "secret \"none\" not found");
        assert!(
            env_of(json!({"name": "c", "envFrom": [{"secretRef": {"name": "none", "optional": true}}]}))
                .is_ok()
        );
    }

    #[test]
    fn resource_fields_give_the_declared_values_rounded_up() {
        let env = env_of(json!({"name": "c", "resources": {"limits": {"cpu": "1500m", "memory": "128Mi"}, "requests": {"cpu": "250m"}},
            "env": [
                {"name": "CPU_LIMIT", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
                {"name": "CPU_REQ_M", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu", "divisor": "1m"}}},
                {"name": "MEM_MI", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
                {"name": "MEM_REQ", "valueFrom": {"resourceFieldRef": {"resource": "requests.memory"}}}
            ]}))
        .unwrap();
        assert_eq!(get(&env, "CPU_LIMIT"), Some("2"));
        assert_eq!(get(&env, "CPU_REQ_M"), Some("250"));
        assert_eq!(get(&env, "MEM_MI"), Some("128"));
        assert_eq!(get(&env, "MEM_REQ"), Some("134217728"));
    }

    #[test]
    fn quantities_parse_as_kubernetes_writes_them() {
        assert_eq!(quantity("500m"), Some(0.5));
        assert_eq!(quantity("2"), Some(2.0));
        assert_eq!(quantity("1Ki"), Some(1024.0));
        assert_eq!(quantity("1e3"), Some(1000.0));
        assert_eq!(quantity("1.5G"), Some(1.5e9));
        assert_eq!(quantity("12 parsecs"), None);
    }
}
