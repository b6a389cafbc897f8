//! Errors on the wire as Kubernetes sends them: a `Status` body with a reason, the matching HTTP
//! code, and `details` naming the object, so that kubectl and jube's own client branch alike.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, Status, StatusCause, StatusDetails};
use serde_json::Value;

use crate::kube::kinds::Kind;
use crate::kube::store::StoreError;

/// Why a request failed, as `Status.reason` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    BadRequest,
    /// No or a wrong bearer token (HTTP 401).
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    AlreadyExists,
    Conflict,
    /// A watch's resourceVersion the event log no longer reaches (HTTP 410).
    Expired,
    UnsupportedMediaType,
    Invalid,
    InternalError,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::BadRequest => "BadRequest",
            Reason::Unauthorized => "Unauthorized",
            Reason::Forbidden => "Forbidden",
            Reason::NotFound => "NotFound",
            Reason::MethodNotAllowed => "MethodNotAllowed",
            Reason::AlreadyExists => "AlreadyExists",
            Reason::Conflict => "Conflict",
            Reason::Expired => "Expired",
            Reason::UnsupportedMediaType => "UnsupportedMediaType",
            Reason::Invalid => "Invalid",
            Reason::InternalError => "InternalError",
        }
    }

    pub fn code(self) -> StatusCode {
        match self {
            Reason::BadRequest => StatusCode::BAD_REQUEST,
            Reason::Unauthorized => StatusCode::UNAUTHORIZED,
            Reason::Forbidden => StatusCode::FORBIDDEN,
            Reason::NotFound => StatusCode::NOT_FOUND,
            Reason::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Reason::AlreadyExists | Reason::Conflict => StatusCode::CONFLICT,
            Reason::Expired => StatusCode::GONE,
            Reason::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Reason::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
            Reason::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// A failed API request.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub reason: Reason,
    pub message: String,
    /// `details.name` and `details.kind` (Kubernetes puts the resource there, `pods`, except
    /// for Invalid, which names the kind, `Pod`).
    pub name: Option<String>,
    pub kind: Option<String>,
    /// `details.causes[].message` (and `field`, when known).
    pub causes: Vec<(Option<String>, String)>,
    /// `details.causes[].reason` (`FieldManagerConflict`), when the causes have one.
    pub cause_reason: Option<&'static str>,
}

impl ApiError {
    fn new(reason: Reason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
            name: None,
            kind: None,
            causes: Vec::new(),
            cause_reason: None,
        }
    }

    fn about(mut self, kind: &str, name: &str) -> Self {
        self.kind = Some(kind.to_owned());
        if !name.is_empty() {
            self.name = Some(name.to_owned());
        }
        self
    }

    /// `pods "web" not found`
    pub fn not_found(kind: Kind, name: &str) -> Self {
        Self::new(
            Reason::NotFound,
            format!("{} \"{name}\" not found", kind.plural()),
        )
        .about(kind.plural(), name)
    }

    /// `nodes "x" not found`, for a resource that is no stored kind.
    pub fn resource_not_found(resource: &str, name: &str) -> Self {
        Self::new(Reason::NotFound, format!("{resource} \"{name}\" not found")).about(resource, name)
    }

    /// A path that names no resource this server has.
    pub fn no_such_resource() -> Self {
        Self::new(
            Reason::NotFound,
            "the server could not find the requested resource",
        )
    }

    pub fn already_exists(kind: Kind, name: &str) -> Self {
        Self::new(
            Reason::AlreadyExists,
            format!("{} \"{name}\" already exists", kind.plural()),
        )
        .about(kind.plural(), name)
    }

    /// `Operation cannot be fulfilled on pods "web": <why>`
    pub fn conflict(kind: Kind, name: &str, why: &str) -> Self {
        Self::new(
            Reason::Conflict,
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                kind.plural()
            ),
        )
        .about(kind.plural(), name)
    }

    /// A server-side apply that would change fields other managers own: 409 with one
    /// `FieldManagerConflict` cause per field, and no object named, as Kubernetes sends it.
    pub fn apply_conflict(message: String, causes: Vec<(String, String)>) -> Self {
        let mut e = Self::new(Reason::Conflict, message);
        e.causes = causes.into_iter().map(|(field, m)| (Some(field), m)).collect();
        e.cause_reason = Some("FieldManagerConflict");
        e
    }

    /// The object is not valid: `Pod "web" is invalid: spec.containers: ...`
    pub fn invalid(kind: &str, name: &str, problem: &str) -> Self {
        let mut e = Self::new(
            Reason::Invalid,
            format!("{kind} \"{name}\" is invalid: {problem}"),
        )
        .about(kind, name);
        let field = problem
            .split_once(": ")
            .map(|(f, _)| f.trim_start_matches("field `").trim_end_matches('`'))
            .filter(|f| !f.contains(' '))
            .map(str::to_owned);
        e.causes.push((field, problem.to_owned()));
        e
    }

    /// A patch that cannot be applied (RFC 6902 `test` failed, a path is missing): 422 as
    /// Kubernetes answers, without naming an object.
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(Reason::Invalid, message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(Reason::BadRequest, message)
    }

    /// `namespaces "default" is forbidden: this namespace may not be deleted`
    pub fn forbidden(kind: Kind, name: &str, why: &str) -> Self {
        Self::new(
            Reason::Forbidden,
            format!("{} \"{name}\" is forbidden: {why}", kind.plural()),
        )
        .about(kind.plural(), name)
    }

    /// A request refused as a whole (a foreign Host or Origin), not an action on one object.
    pub fn forbidden_request(why: impl Into<String>) -> Self {
        Self::new(Reason::Forbidden, why)
    }

    /// A request without the bearer token this server requires.
    pub fn unauthorized(why: impl Into<String>) -> Self {
        Self::new(Reason::Unauthorized, why)
    }

    /// A body type this server refuses outright, whatever the resource.
    pub fn refused_media_type(why: impl Into<String>) -> Self {
        Self::new(Reason::UnsupportedMediaType, why)
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            Reason::MethodNotAllowed,
            "the server does not allow this method on the requested resource",
        )
    }

    /// `too old resource version: 5 (10230)`
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(Reason::Expired, message)
    }

    /// A body in a format this server does not read (CBOR, an unknown patch type). client-go
    /// retries a CBOR request in JSON after this answer; other clients show it.
    pub fn unsupported_media_type(given: &str, accepted: &[&str]) -> Self {
        Self::new(
            Reason::UnsupportedMediaType,
            format!(
                "the body of the request was in an unknown format ({}) - accepted media types include: {}",
                if given.is_empty() { "none given" } else { given },
                accepted.join(", ")
            ),
        )
    }

    /// A protobuf body of a kind this server reads only as JSON.
    pub fn unread_protobuf_kind(kind: &str, read: &str) -> Self {
        Self::new(
            Reason::UnsupportedMediaType,
            format!(
                "jube reads protobuf bodies only for {read}; send {kind} as JSON (kubectl apply -f does)"
            ),
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Reason::InternalError, message)
    }

    pub fn code(&self) -> StatusCode {
        self.reason.code()
    }

    /// The `Status` object Kubernetes sends for this failure.
    pub fn to_status(&self) -> Status {
        let details =
            (self.name.is_some() || self.kind.is_some() || !self.causes.is_empty()).then(|| StatusDetails {
                name: self.name.clone(),
                kind: self.kind.clone(),
                causes: (!self.causes.is_empty()).then(|| {
                    self.causes
                        .iter()
                        .map(|(field, message)| StatusCause {
                            field: field.clone(),
                            message: Some(message.clone()),
                            reason: self.cause_reason.map(str::to_owned),
                        })
                        .collect()
                }),
                ..Default::default()
            });
        Status {
            code: Some(i32::from(self.code().as_u16())),
            details,
            message: Some(self.message.clone()),
            metadata: ListMeta::default(),
            reason: Some(self.reason.as_str().to_owned()),
            status: Some("Failure".to_owned()),
        }
    }

    /// The `Status` as JSON, with its `kind` and `apiVersion`.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self.to_status()).unwrap_or(Value::Null)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { kind, name } => ApiError::not_found(kind, &name),
            StoreError::AlreadyExists { kind, name } => ApiError::already_exists(kind, &name),
            StoreError::Conflict { plural, name } => {
                let kind = Kind::ALL
                    .into_iter()
                    .find(|k| k.plural() == plural)
                    .unwrap_or(Kind::Pod);
                ApiError::conflict(kind, &name, CONFLICT_WHY)
            }
            other => ApiError::internal(other.to_string()),
        }
    }
}

/// Why a write with a stale resourceVersion fails, in Kubernetes' words.
pub const CONFLICT_WHY: &str =
    "the object has been modified; please apply your changes to the latest version and try again";

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.to_value().to_string();
        let mut response = (self.code(), body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn not_found_is_the_status_kubernetes_sends() {
        let v = ApiError::not_found(Kind::Pod, "web").to_value();
        assert_eq!(
            v,
            json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "pods \"web\" not found", "reason": "NotFound",
                "details": {"name": "web", "kind": "pods"}, "code": 404
            })
        );
    }

    #[test]
    fn invalid_names_the_kind_and_the_field() {
        let e = ApiError::invalid(
            "Pod",
            "web",
            "spec.containers: a pod needs at least one container",
        );
        assert_eq!(e.code(), StatusCode::UNPROCESSABLE_ENTITY);
        let v = e.to_value();
        assert_eq!(v["details"]["kind"], "Pod");
        assert_eq!(v["details"]["causes"][0]["field"], "spec.containers");
        assert_eq!(
            v["message"],
            "Pod \"web\" is invalid: spec.containers: a pod needs at least one container"
        );
        let typed = ApiError::invalid("Pod", "web", "field `spec.replicas`: invalid type");
        assert_eq!(typed.to_value()["details"]["causes"][0]["field"], "spec.replicas");
    }

    #[test]
    fn store_errors_map_to_reasons() {
        let conflict: ApiError = StoreError::Conflict {
            plural: "replicationcontrollers",
            name: "web".into(),
        }
        .into();
        assert_eq!(conflict.reason, Reason::Conflict);
        assert!(
            conflict
                .message
                .starts_with("Operation cannot be fulfilled on replicationcontrollers \"web\": ")
        );
        let exists: ApiError = StoreError::AlreadyExists {
            kind: Kind::Service,
            name: "db".into(),
        }
        .into();
        assert_eq!(exists.code(), StatusCode::CONFLICT);
        assert_eq!(exists.message, "services \"db\" already exists");
    }
}
