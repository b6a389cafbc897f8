//! jube's Kubernetes commands, clients of the daemon's API as kubectl is: `apply`, `get`,
//! `delete`, `scale`, and `logs` of a pod. Messages and output follow kubectl's, so its users
//! (and their scripts) feel at home.

mod apply;
mod delete;
mod describe;
mod get;
mod logs;
mod rollout;
mod scale;
mod watch;

pub use apply::{ApplyArgs, apply};
pub use delete::{DeleteArgs, delete};
pub use describe::{DescribeArgs, describe};
pub use get::{GetArgs, get};
pub use logs::{LogsRequest, logs, parse_since};
pub use rollout::{RolloutArgs, rollout};
pub use scale::{ScaleArgs, scale};

use std::path::PathBuf;

use crate::kube::client::{Client, ClientError};
use crate::kube::kinds::{DEFAULT_NAMESPACE, Kind};
use crate::kube::manifest::{self, Manifest};
use crate::layout::Layout;

/// `-n` and `-A`, as kubectl has them.
#[derive(Debug, Clone, clap::Args, Default)]
pub struct NamespaceArgs {
    /// The namespace (default: `default`).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Every namespace.
    #[arg(short = 'A', long, conflicts_with = "namespace")]
    pub all_namespaces: bool,
}

impl NamespaceArgs {
    /// The namespace commands act in: `-n`, or `default`.
    pub fn namespace(&self) -> &str {
        self.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE)
    }

    /// The namespace of a listing: `None` for all of them.
    pub fn scope(&self) -> Option<&str> {
        (!self.all_namespaces).then(|| self.namespace())
    }
}

/// `-f FILE|DIR|-` and `-R`.
#[derive(Debug, Clone, clap::Args, Default)]
pub struct FileArgs {
    /// A manifest file, a folder of them, or `-` for stdin; may be repeated.
    #[arg(short = 'f', long = "filename", value_name = "FILE|DIR|-")]
    pub files: Vec<PathBuf>,
    /// Also read the folders inside the folders given with -f.
    #[arg(short = 'R', long)]
    pub recursive: bool,
}

/// What the positional arguments of get/delete/scale name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Targets {
    /// Every object of these kinds (`pods`, `pods,svc`, `all`).
    Kinds(Vec<Kind>),
    /// These objects (`pod web`, `pod/web rc/api`).
    Named(Vec<(Kind, String)>),
}

/// A command-line mistake: exit 2 with the message.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

/// What `all` stands for, in kubectl's order.
const ALL: [Kind; 6] = [
    Kind::Pod,
    Kind::ReplicationController,
    Kind::Service,
    Kind::Deployment,
    Kind::ReplicaSet,
    Kind::Job,
];

fn kinds_of(word: &str) -> Result<Vec<Kind>, Usage> {
    let mut kinds = Vec::new();
    for w in word.split(',').filter(|w| !w.is_empty()) {
        if w.eq_ignore_ascii_case("all") {
            kinds.extend(ALL);
            continue;
        }
        let kind = Kind::from_word(w).ok_or_else(|| {
            Usage(format!(
                "the server doesn't have a resource type \"{w}\"; jube knows pods (po), \
                 replicationcontrollers (rc), replicasets (rs), deployments (deploy), jobs, services (svc), \
                 namespaces (ns) and all"
            ))
        })?;
        kinds.push(kind);
    }
    kinds.dedup();
    if kinds.is_empty() {
        return Err(Usage(format!("`{word}` names no resource type")));
    }
    Ok(kinds)
}

/// Reads `KIND [NAME...]` or `KIND/NAME...`, as kubectl does.
pub fn parse_targets(args: &[String]) -> Result<Targets, Usage> {
    let Some(first) = args.first() else {
        return Err(Usage(
            "you must specify the type of resource: pods (po), replicationcontrollers (rc), replicasets (rs), \
             deployments (deploy), jobs, services (svc), namespaces (ns) or all"
                .into(),
        ));
    };
    if first.contains('/') {
        let mut named = Vec::new();
        for arg in args {
            let Some((word, name)) = arg.split_once('/') else {
                return Err(Usage(format!(
                    "there is no need to specify a resource type as a separate argument when passing \
                     arguments in resource/name form (e.g. `jube get pod/web` instead of `jube get pod web`): `{arg}`"
                )));
            };
            let kinds = kinds_of(word)?;
            if kinds.len() != 1 || name.is_empty() || name.contains('/') {
                return Err(Usage(format!("`{arg}` is not of the form KIND/NAME")));
            }
            named.push((kinds[0], name.to_owned()));
        }
        return Ok(Targets::Named(named));
    }
    let kinds = kinds_of(first)?;
    let names = &args[1..];
    if names.is_empty() {
        return Ok(Targets::Kinds(kinds));
    }
    if kinds.len() != 1 {
        return Err(Usage(format!(
            "`{first}` names several resource types; name objects as KIND/NAME (`pod/web svc/web`)"
        )));
    }
    Ok(Targets::Named(
        names.iter().map(|n| (kinds[0], n.clone())).collect(),
    ))
}

/// The namespace an object goes to: its own, else `-n`, else `default`; an object naming
/// another namespace than an explicit `-n` is refused, as kubectl refuses it.
pub fn namespace_of(m: &Manifest, flag: Option<&str>) -> Result<Option<String>, String> {
    if !m.kind.namespaced() {
        return Ok(None);
    }
    match (m.namespace.as_deref(), flag) {
        (Some(own), Some(flag)) if own != flag => Err(format!(
            "{}, document {}: the namespace from the provided object \"{own}\" does not match the namespace \
             \"{flag}\". You must pass '--namespace={own}' to perform this operation.",
            m.source, m.index
        )),
        (Some(own), _) => Ok(Some(own.to_owned())),
        (None, flag) => Ok(Some(flag.unwrap_or(DEFAULT_NAMESPACE).to_owned())),
    }
}

/// Loads and checks every manifest of `-f`, printing the warnings; nothing is sent yet.
pub fn load_manifests(files: &FileArgs) -> anyhow::Result<Vec<Manifest>> {
    let set = manifest::load(&files.files, files.recursive, &mut std::io::stdin().lock())?;
    for warning in &set.warnings {
        eprintln!("Warning: {warning}");
    }
    Ok(set.objects)
}

/// How kubectl names a manifest's source in messages: the path, or `STDIN`.
pub fn source_name(m: &Manifest) -> &str {
    if m.source == "-" { "STDIN" } else { &m.source }
}

/// This JUBE_HOME's running daemon.
pub fn connect() -> Result<Client, ClientError> {
    Client::connect(&Layout::from_env())
}

/// This JUBE_HOME's daemon, started in the background when none runs.
pub fn connect_or_start() -> Result<Client, ClientError> {
    Client::connect_or_start(&Layout::from_env())
}

/// Prints an error of a call as kubectl does: `Error from server (NotFound): pods "x" not found`,
/// with `context` (`error when creating "app.yaml"`) before the message when given.
pub fn print_error(e: &ClientError, context: Option<&str>) {
    let context = context.map(|c| format!("{c}: ")).unwrap_or_default();
    match e {
        ClientError::Api {
            reason,
            message,
            code,
        } => {
            let reason = if reason.is_empty() {
                code.to_string()
            } else {
                reason.clone()
            };
            eprintln!("Error from server ({reason}): {context}{message}");
        }
        other => eprintln!("error: {context}{other}"),
    }
}

/// Whether an error means the daemon cannot be reached at all (no point trying further objects).
pub fn is_fatal(e: &ClientError) -> bool {
    !matches!(e, ClientError::Api { .. })
}

/// A value for a URL query.
pub fn query_value(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The collection path of a kind in a scope, with a label selector.
pub fn list_path(kind: Kind, namespace: Option<&str>, selector: Option<&str>) -> String {
    let path = kind.collection_path(namespace.filter(|_| kind.namespaced()));
    match selector {
        Some(s) => format!("{path}?labelSelector={}", query_value(s)),
        None => path,
    }
}

pub fn object_path(kind: Kind, namespace: &str, name: &str) -> String {
    kind.object_path(kind.namespaced().then_some(namespace), name)
}

/// "No resources found in default namespace." or, across namespaces, "No resources found".
pub fn no_resources(scope: Option<&str>, kinds: &[Kind]) -> String {
    match scope {
        Some(ns) if kinds.iter().any(|k| k.namespaced()) => {
            format!("No resources found in {ns} namespace.")
        }
        _ => "No resources found".into(),
    }
}

/// Prints a usage error and gives the exit code for it.
pub fn usage_error(e: &Usage) -> i32 {
    eprintln!("error: {e}");
    super::EXIT_USAGE
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn targets_read_as_kubectl_reads_them() {
        assert_eq!(
            parse_targets(&args(&["po"])).unwrap(),
            Targets::Kinds(vec![Kind::Pod])
        );
        assert_eq!(
            parse_targets(&args(&["all"])).unwrap(),
            Targets::Kinds(ALL.to_vec())
        );
        assert_eq!(
            parse_targets(&args(&["pods,svc"])).unwrap(),
            Targets::Kinds(vec![Kind::Pod, Kind::Service])
        );
        assert_eq!(
            parse_targets(&args(&["rc", "a", "b"])).unwrap(),
            Targets::Named(vec![
                (Kind::ReplicationController, "a".into()),
                (Kind::ReplicationController, "b".into())
            ])
        );
        assert_eq!(
            parse_targets(&args(&["pod/a", "svc/b"])).unwrap(),
            Targets::Named(vec![(Kind::Pod, "a".into()), (Kind::Service, "b".into())])
        );
        for bad in [
            &[][..],
            &["statefulsets"][..],
            &["pod/a", "b"][..],
            &["pod/"][..],
            &["all", "x"][..],
            &["all/x"][..],
        ] {
            assert!(parse_targets(&args(bad)).is_err(), "{bad:?}");
        }
        let e = parse_targets(&args(&["statefulsets"])).unwrap_err().to_string();
        assert!(e.contains("doesn't have a resource type \"statefulsets\""), "{e}");
    }

    fn manifest(kind: Kind, namespace: Option<&str>) -> Manifest {
        Manifest {
            source: "app.yaml".into(),
            index: 2,
            kind,
            name: "web".into(),
            namespace: namespace.map(str::to_owned),
            object: serde_json::json!({}),
        }
    }

    #[test]
    fn namespaces_come_from_the_object_then_the_flag() {
        let pod = manifest(Kind::Pod, None);
        assert_eq!(namespace_of(&pod, None).unwrap().as_deref(), Some("default"));
        assert_eq!(namespace_of(&pod, Some("dev")).unwrap().as_deref(), Some("dev"));
        let own = manifest(Kind::Pod, Some("prod"));
        assert_eq!(namespace_of(&own, None).unwrap().as_deref(), Some("prod"));
        assert_eq!(namespace_of(&own, Some("prod")).unwrap().as_deref(), Some("prod"));
        let e = namespace_of(&own, Some("dev")).unwrap_err();
        assert!(e.starts_with("app.yaml, document 2: the namespace from the provided object \"prod\" does not match the namespace \"dev\""), "{e}");
        assert_eq!(
            namespace_of(&manifest(Kind::Namespace, None), Some("dev")).unwrap(),
            None
        );
    }

    #[test]
    fn paths_and_messages() {
        assert_eq!(
            list_path(Kind::Pod, Some("dev"), Some("app=web,tier in (a,b)")),
            "/api/v1/namespaces/dev/pods?labelSelector=app%3Dweb%2Ctier+in+%28a%2Cb%29"
        );
        assert_eq!(
            list_path(Kind::Namespace, Some("dev"), None),
            "/api/v1/namespaces"
        );
        assert_eq!(list_path(Kind::Service, None, None), "/api/v1/services");
        assert_eq!(
            object_path(Kind::Namespace, "default", "dev"),
            "/api/v1/namespaces/dev"
        );
        assert_eq!(
            no_resources(Some("default"), &[Kind::Pod]),
            "No resources found in default namespace."
        );
        assert_eq!(no_resources(None, &[Kind::Pod]), "No resources found");
        assert_eq!(
            no_resources(Some("default"), &[Kind::Namespace]),
            "No resources found"
        );
    }
}
