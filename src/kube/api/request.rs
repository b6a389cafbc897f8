//! What a request under `/api/v1/` names (kind, namespace, object, subresource) and its query
//! parameters, and the JSON reply every non-streaming handler returns.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::kube::kinds::Kind;
use crate::kube::selector::{FieldSelector, LabelSelector};
use crate::kube::status::ApiError;

/// A subresource of one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sub {
    Status,
    Scale,
    Log,
}

/// The resource a path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub kind: Kind,
    /// The namespace in the path; `None` for namespaces themselves and for lists across all
    /// namespaces.
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub sub: Option<Sub>,
    /// The old `/api/v1/watch/...` form.
    pub watch_path: bool,
}

impl Target {
    /// Reads the path after `/api/v1/`: `pods`, `namespaces/dev`, `namespaces/dev/pods/web/log`,
    /// `watch/namespaces/dev/pods`.
    pub fn parse(rest: &str) -> Result<Self, ApiError> {
        Self::parse_in("/api/v1", rest)
    }

    /// Reads the path after a group version's root (`/api/v1`, `/apis/apps/v1`): only the kinds
    /// that group serves are found there.
    pub fn parse_in(root: &str, rest: &str) -> Result<Self, ApiError> {
        let plural_kind = |plural: &str| plural_kind(plural).filter(|k| k.api_root() == root);
        let mut segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        let watch_path = segments.first() == Some(&"watch");
        if watch_path {
            segments.remove(0);
        }
        let namespaced_kind = |plural: &str| plural_kind(plural).filter(|k| k.namespaced());
        let (namespace, rest) = match segments.as_slice() {
            ["namespaces", ns, plural, rest @ ..] if namespaced_kind(plural).is_some() => {
                (Some((*ns).to_owned()), {
                    let mut v = vec![*plural];
                    v.extend_from_slice(rest);
                    v
                })
            }
            _ => (None, segments.clone()),
        };
        let (plural, name, sub) = match rest.as_slice() {
            [plural] => (*plural, None, None),
            [plural, name] => (*plural, Some((*name).to_owned()), None),
            [plural, name, sub] => (*plural, Some((*name).to_owned()), Some(*sub)),
            _ => return Err(ApiError::no_such_resource()),
        };
        let kind = plural_kind(plural).ok_or_else(ApiError::no_such_resource)?;
        // `/api/v1/pods/web`: a namespaced object needs its namespace in the path.
        if kind.namespaced() && namespace.is_none() && name.is_some() {
            return Err(ApiError::no_such_resource());
        }
        let sub = match (sub, kind) {
            (None, _) => None,
            (Some("status"), _) => Some(Sub::Status),
            (Some("scale"), k) if k.scalable() => Some(Sub::Scale),
            (Some("log"), Kind::Pod) => Some(Sub::Log),
            _ => return Err(ApiError::no_such_resource()),
        };
        Ok(Self {
            kind,
            namespace,
            name,
            sub,
            watch_path,
        })
    }

    /// The store's namespace key: the path's namespace, or `""` for cluster-scoped kinds.
    pub fn store_namespace(&self) -> &str {
        if self.kind.namespaced() {
            self.namespace.as_deref().unwrap_or_default()
        } else {
            ""
        }
    }

    /// The namespace a list is limited to (`None`: all).
    pub fn list_namespace(&self) -> Option<&str> {
        self.namespace.as_deref().filter(|_| self.kind.namespaced())
    }
}

fn plural_kind(plural: &str) -> Option<Kind> {
    Kind::ALL.into_iter().find(|k| k.plural() == plural)
}

/// A request's query parameters.
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(query: Option<&str>) -> Self {
        Self(
            url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean as Go's ParseBool reads it (`true`, `1`, `t`, `True`...; absent: false).
    pub fn flag(&self, key: &str) -> Result<bool, ApiError> {
        match self.get(key) {
            None | Some("" | "false" | "0" | "f" | "F" | "FALSE" | "False") => Ok(false),
            Some("true" | "1" | "t" | "T" | "TRUE" | "True") => Ok(true),
            Some(other) => Err(ApiError::bad_request(format!(
                "{key}: `{other}` is not a boolean (true or false)"
            ))),
        }
    }

    pub fn number(&self, key: &str) -> Result<Option<u64>, ApiError> {
        self.get(key)
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| ApiError::bad_request(format!("{key}: `{v}` is not a whole number")))
            })
            .transpose()
    }

    pub fn labels(&self) -> Result<LabelSelector, ApiError> {
        LabelSelector::parse(self.get("labelSelector").unwrap_or_default())
            .map_err(|e| ApiError::bad_request(e.to_string()))
    }

    /// The `fieldSelector`, limited to the fields Kubernetes lets one select this kind by.
    pub fn fields(&self, kind: Kind) -> Result<FieldSelector, ApiError> {
        let selector = FieldSelector::parse(self.get("fieldSelector").unwrap_or_default())
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        for r in &selector.requirements {
            if !selectable_fields(kind).contains(&r.field.as_str()) {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {} (a {} can be selected by {})",
                    r.field,
                    kind.singular(),
                    selectable_fields(kind).join(", ")
                )));
            }
        }
        Ok(selector)
    }

    /// `dryRun=All`: everything but the write.
    pub fn dry_run(&self) -> Result<bool, ApiError> {
        match self.get("dryRun") {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(other) => Err(ApiError::bad_request(format!(
                "dryRun: `{other}` is not supported (only All)"
            ))),
        }
    }

    /// `fieldValidation`: Strict turns unknown fields into errors, Ignore drops their warnings.
    pub fn field_validation(&self) -> Result<FieldValidation, ApiError> {
        match self.get("fieldValidation") {
            None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation: `{other}` is not Ignore, Warn or Strict"
            ))),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

fn selectable_fields(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Pod => &[
            "metadata.name",
            "metadata.namespace",
            "spec.nodeName",
            "spec.restartPolicy",
            "status.phase",
            "status.podIP",
        ],
        Kind::ReplicationController => &["metadata.name", "metadata.namespace", "status.replicas"],
        Kind::ReplicaSet | Kind::Deployment => &["metadata.name", "metadata.namespace"],
        Kind::Job => &["metadata.name", "metadata.namespace", "status.successful"],
        Kind::Namespace => &["metadata.name", "status.phase"],
        Kind::Service
        | Kind::ConfigMap
        | Kind::ServiceAccount
        | Kind::PersistentVolumeClaim
        | Kind::Endpoints
        | Kind::EndpointSlice => &["metadata.name", "metadata.namespace"],
        Kind::Secret => &["metadata.name", "metadata.namespace", "type"],
        Kind::Event => &[
            "metadata.name",
            "metadata.namespace",
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
    }
}

/// A JSON answer, with the warnings Kubernetes sends in `Warning` headers (kubectl prints them).
#[derive(Debug)]
pub struct Reply {
    pub code: StatusCode,
    pub body: Value,
    pub warnings: Vec<String>,
}

impl Reply {
    pub fn ok(body: Value) -> Self {
        Self {
            code: StatusCode::OK,
            body,
            warnings: Vec::new(),
        }
    }

    pub fn created(body: Value) -> Self {
        Self {
            code: StatusCode::CREATED,
            ..Self::ok(body)
        }
    }

    pub fn warn(mut self, warnings: Vec<String>) -> Self {
        self.warnings.extend(warnings);
        self
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = (self.code, self.body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for w in &self.warnings {
            if let Ok(v) = HeaderValue::from_str(&warning_header(w)) {
                headers.append(header::WARNING, v);
            }
        }
        response
    }
}

/// RFC 7234's `299 - "text"`, as Kubernetes writes warnings (printable ASCII only).
fn warning_header(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| match c {
            '"' | '\\' => format!("\\{c}"),
            c if c.is_ascii_graphic() || c == ' ' => c.to_string(),
            _ => "?".to_owned(),
        })
        .collect();
    format!("299 - \"{clean}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_kinds_namespaces_objects_and_subresources() {
        let t = |p: &str| Target::parse(p).unwrap();
        assert_eq!(t("pods").kind, Kind::Pod);
        assert_eq!(t("pods").namespace, None);
        let web = t("namespaces/dev/pods/web/log");
        assert_eq!(
            (web.kind, web.namespace.as_deref(), web.name.as_deref(), web.sub),
            (Kind::Pod, Some("dev"), Some("web"), Some(Sub::Log))
        );
        let ns = t("namespaces/dev");
        assert_eq!(
            (ns.kind, ns.name.as_deref(), ns.store_namespace()),
            (Kind::Namespace, Some("dev"), "")
        );
        let ns_status = t("namespaces/dev/status");
        assert_eq!(
            (ns_status.kind, ns_status.sub),
            (Kind::Namespace, Some(Sub::Status))
        );
        assert_eq!(
            t("namespaces/dev/replicationcontrollers/web/scale").sub,
            Some(Sub::Scale)
        );
        assert!(t("watch/namespaces/dev/services").watch_path);
        assert_eq!(t("namespaces/").kind, Kind::Namespace);
        for bad in [
            "deployments",
            "pods/web",
            "namespaces/dev/pods/web/scale",
            "namespaces/dev/services/web/log",
            "namespaces/dev/pods/web/log/extra",
            "",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn params_read_flags_selectors_and_reject_bad_values() {
        let p = Params::parse(Some(
            "watch=1&labelSelector=app%3Dweb&fieldSelector=metadata.name%3Dx&dryRun=All&timeoutSeconds=5",
        ));
        assert!(p.flag("watch").unwrap());
        assert_eq!(p.labels().unwrap().to_string(), "app=web");
        assert_eq!(p.fields(Kind::Pod).unwrap().name(), Some("x"));
        assert!(p.dry_run().unwrap());
        assert_eq!(p.number("timeoutSeconds").unwrap(), Some(5));
        let bad = Params::parse(Some(
            "watch=maybe&fieldSelector=spec.image%3Dx&dryRun=Some&limit=x",
        ));
        assert!(bad.flag("watch").is_err());
        assert!(
            bad.fields(Kind::Pod)
                .unwrap_err()
                .message
                .contains("field label not supported")
        );
        assert!(bad.dry_run().is_err());
        assert!(bad.number("limit").is_err());
        assert!(
            Params::parse(Some("fieldSelector=status.phase%3DRunning"))
                .fields(Kind::Pod)
                .is_ok()
        );
    }

    #[test]
    fn warnings_become_printable_header_values() {
        assert_eq!(
            warning_header("unknown field \"spec.x\" — é"),
            "299 - \"unknown field \\\"spec.x\\\" ? ?\""
        );
    }
}
