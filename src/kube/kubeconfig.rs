//! kubeconfig files for the daemon: one that names only jube, and the merge of a `jube` cluster,
//! user and context into the user's own file, which keeps everything else it holds.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use serde_json::json;
use serde_norway::{Mapping, Value};

use crate::env_vars::EnvVars;
use crate::fsutil;
use crate::kube::token::Token;

/// The name of the cluster, user and context jube adds.
pub const NAME: &str = "jube";

#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    #[error("cannot read the kubeconfig {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("the kubeconfig {} is not valid YAML: {message}; fix it or point KUBECONFIG at another file", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("the kubeconfig {} is not a kubeconfig ({what}); fix it or point KUBECONFIG at another file", path.display())]
    NotKubeconfig { path: PathBuf, what: String },
    #[error("cannot write the kubeconfig {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot find the home folder for ~/.kube/config; set KUBECONFIG to the file to merge into")]
    NoHome,
    #[error("cannot write a kubeconfig: {0}")]
    Yaml(String),
}

/// The daemon a kubeconfig points at.
pub struct Target<'a> {
    /// `http://host:port`, or `https://host:port` for a daemon that requires a token.
    pub server: &'a str,
    pub token: Option<&'a Token>,
    /// The certificate (PEM) an HTTPS daemon presents, which kubectl is to trust.
    pub certificate: Option<&'a str>,
}

impl Target<'_> {
    fn cluster(&self) -> Value {
        let mut cluster = json!({"server": self.server});
        if let Some(pem) = self.certificate {
            cluster["certificate-authority-data"] = BASE64_STANDARD.encode(pem).into();
        }
        to_yaml(json!({"name": NAME, "cluster": cluster}))
    }

    fn user(&self) -> Value {
        let user = match self.token {
            Some(t) => json!({"token": t.as_str()}),
            None => json!({}),
        };
        to_yaml(json!({"name": NAME, "user": user}))
    }

    fn context(&self) -> Value {
        to_yaml(json!({"name": NAME, "context": {"cluster": NAME, "user": NAME}}))
    }
}

fn to_yaml(v: serde_json::Value) -> Value {
    serde_norway::to_value(v).unwrap_or(Value::Null)
}

/// A kubeconfig that names only the daemon, as YAML.
pub fn standalone(target: &Target) -> Result<String, KubeconfigError> {
    let mut config = Mapping::new();
    config.insert("apiVersion".into(), "v1".into());
    config.insert("kind".into(), "Config".into());
    config.insert("clusters".into(), Value::Sequence(vec![target.cluster()]));
    config.insert("users".into(), Value::Sequence(vec![target.user()]));
    config.insert("contexts".into(), Value::Sequence(vec![target.context()]));
    config.insert("current-context".into(), NAME.into());
    config.insert("preferences".into(), Value::Mapping(Mapping::new()));
    serde_norway::to_string(&Value::Mapping(config)).map_err(|e| KubeconfigError::Yaml(e.to_string()))
}

/// The file `--merge` writes: the first path of `$KUBECONFIG`, else `~/.kube/config`.
pub fn default_path() -> Result<PathBuf, KubeconfigError> {
    if let Some(list) = std::env::var_os(EnvVars::KUBECONFIG).filter(|v| !v.is_empty())
        && let Some(first) = std::env::split_paths(&list).find(|p| !p.as_os_str().is_empty())
    {
        return Ok(first);
    }
    dirs::home_dir()
        .map(|h| h.join(".kube").join("config"))
        .ok_or(KubeconfigError::NoHome)
}

/// What a merge did.
#[derive(Debug, PartialEq)]
pub struct Merged {
    pub path: PathBuf,
    /// Whether the file existed before.
    pub existed: bool,
    /// Whether it held a `jube` entry that was replaced.
    pub replaced: bool,
    /// The current context after the merge, and whether the merge set it.
    pub current_context: String,
    pub set_current: bool,
}

/// Adds (or replaces) the `jube` cluster, user and context in the kubeconfig at `path`, keeping
/// everything else, and sets `current-context` only when none is set. Written atomically, mode
/// 0600 (it holds credentials).
pub fn merge_into(path: &Path, target: &Target) -> Result<Merged, KubeconfigError> {
    // A symlinked kubeconfig is updated where it points, not replaced by a file.
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => return Err(KubeconfigError::Read { path, source }),
    };
    let existing = match text.as_deref() {
        Some(t) if !t.trim().is_empty() => {
            serde_norway::from_str::<Value>(t).map_err(|e| KubeconfigError::Parse {
                path: path.clone(),
                message: e.to_string(),
            })?
        }
        _ => Value::Null,
    };
    let (config, mut merged) = merge(existing, target).map_err(|what| KubeconfigError::NotKubeconfig {
        path: path.clone(),
        what,
    })?;
    merged.existed = text.is_some();
    let yaml = serde_norway::to_string(&config).map_err(|e| KubeconfigError::Yaml(e.to_string()))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| KubeconfigError::Write {
            path: dir.to_owned(),
            source,
        })?;
    }
    fsutil::write_atomic_mode(&path, yaml.as_bytes(), Some(0o600)).map_err(|source| {
        KubeconfigError::Write {
            path: path.clone(),
            source,
        }
    })?;
    merged.path = path;
    Ok(merged)
}

/// The merge itself; the error says what in the document is not a kubeconfig.
fn merge(existing: Value, target: &Target) -> Result<(Value, Merged), String> {
    let mut config = match existing {
        Value::Null => Mapping::new(),
        Value::Mapping(m) => m,
        _ => return Err("its top level is not a mapping".into()),
    };
    for (key, value) in [("apiVersion", "v1"), ("kind", "Config")] {
        if !config.contains_key(key) {
            config.insert(key.into(), value.into());
        }
    }
    let mut replaced = false;
    for (key, entry) in [
        ("clusters", target.cluster()),
        ("users", target.user()),
        ("contexts", target.context()),
    ] {
        let list = config
            .entry(key.into())
            .or_insert_with(|| Value::Sequence(Vec::new()));
        if list.is_null() {
            *list = Value::Sequence(Vec::new());
        }
        let Value::Sequence(items) = list else {
            return Err(format!("`{key}` is not a list"));
        };
        let before = items.len();
        items.retain(|item| item.get("name").and_then(Value::as_str) != Some(NAME));
        replaced |= items.len() != before;
        items.push(entry);
    }
    let current = config
        .get("current-context")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    let set_current = current.is_none();
    if set_current {
        config.insert("current-context".into(), NAME.into());
    }
    Ok((
        Value::Mapping(config),
        Merged {
            path: PathBuf::new(),
            existed: false,
            replaced,
            current_context: current.unwrap_or_else(|| NAME.to_owned()),
            set_current,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OTHER: &str = "apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster: {server: 'https://prod.example:6443'}
- name: jube
  cluster: {server: 'http://127.0.0.1:1'}
users:
- name: admin
  user: {token: abc}
contexts:
- name: prod
  context: {cluster: prod, user: admin}
current-context: prod
preferences: {colors: true}
";

    #[test]
    fn merging_keeps_the_rest_and_replaces_jube() {
        let token = Token::parse("0123456789abcdef").unwrap();
        let target = Target {
            server: "https://127.0.0.1:8585",
            token: Some(&token),
            certificate: Some("PEM"),
        };
        let (config, merged) = merge(serde_norway::from_str(OTHER).unwrap(), &target).unwrap();
        assert!(merged.replaced);
        assert!(!merged.set_current);
        assert_eq!(merged.current_context, "prod");
        let names = |key: &str| -> Vec<String> {
            config[key]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|i| i["name"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(names("clusters"), ["prod", "jube"]);
        assert_eq!(names("users"), ["admin", "jube"]);
        assert_eq!(names("contexts"), ["prod", "jube"]);
        assert_eq!(
            config["clusters"][1]["cluster"]["server"],
            "https://127.0.0.1:8585"
        );
        assert_eq!(
            config["clusters"][1]["cluster"]["certificate-authority-data"],
            "UEVN"
        );
        assert_eq!(config["users"][1]["user"]["token"], "0123456789abcdef");
        assert_eq!(config["preferences"]["colors"], true);
        assert_eq!(config["current-context"], "prod");
    }

    #[test]
    fn an_empty_file_gets_jube_as_current_context() {
        let target = Target {
            server: "http://127.0.0.1:8585",
            token: None,
            certificate: None,
        };
        let (config, merged) = merge(Value::Null, &target).unwrap();
        assert!(merged.set_current);
        assert_eq!(config["current-context"], "jube");
        assert_eq!(config["kind"], "Config");
        assert!(config["users"][0]["user"].as_mapping().unwrap().is_empty());
    }

    #[test]
    fn a_file_that_is_no_kubeconfig_is_refused() {
        let target = Target {
            server: "http://127.0.0.1:8585",
            token: None,
            certificate: None,
        };
        assert!(merge(Value::String("x".into()), &target).is_err());
        let bad: Value = serde_norway::from_str("clusters: 3").unwrap();
        assert!(merge(bad, &target).unwrap_err().contains("clusters"));
    }
}
