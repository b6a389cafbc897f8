//! The verbs on objects: list, create, get, replace, patch, delete (one or a collection), and the
//! `status` and `scale` subresources, with Kubernetes' rules for names, namespaces,
//! resourceVersions and validation. These run on a blocking thread: the store is SQLite.

use serde_json::{Value, json};

use crate::kube::api::ApiState;
use crate::kube::api::defaults;
use crate::kube::api::protobuf::{self, ProtobufError};
use crate::kube::api::request::{FieldValidation, Params, Reply, Sub, Target};
use crate::kube::gc::{self, Propagation};
use crate::kube::kinds::{DEFAULT_NAMESPACE, Kind};
use crate::kube::managed::{self, Writer};
use crate::kube::manifest::{self, ManifestError};
use crate::kube::patch::{self, PatchError, PatchType};
use crate::kube::selector::LabelSelector;
use crate::kube::status::{ApiError, CONFLICT_WHY};
use crate::kube::store::{StoreError, metadata_mut, now_rfc3339};

/// How often a write whose object changed underneath it is tried again (a patch, or a replace
/// without a resourceVersion, applies to whatever is current).
const WRITE_ATTEMPTS: usize = 5;

/// What `check` is told the object came from; stripped from its warnings.
const SOURCE: &str = "request";

/// A request body: what a client sent, in JSON (or YAML, which kubectl can send too), and who
/// sent it (the `User-Agent`, which names the field manager when the query does not).
pub struct Body<'a> {
    pub bytes: &'a [u8],
    pub content_type: &'a str,
    pub user_agent: &'a str,
}

/// The formats objects may be sent in.
const OBJECT_TYPES: &[&str] = &["application/json", "application/yaml"];
const PATCH_TYPES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    APPLY_PATCH,
];

/// Server-side apply's patch type.
const APPLY_PATCH: &str = "application/apply-patch+yaml";

/// The longest field manager name Kubernetes takes.
const MANAGER_MAX: usize = 128;

/// Who is writing: `fieldManager`, else the User-Agent's product (`kubectl/v1.32.0 (...)` is
/// `kubectl`), as the API server names managers.
fn writer<'a>(
    kind: Kind,
    params: &'a Params,
    body: &'a Body,
    sub: Option<&'a str>,
) -> Result<Writer<'a>, ApiError> {
    let manager = match params.get("fieldManager").filter(|m| !m.is_empty()) {
        Some(m) if m.chars().count() > MANAGER_MAX => {
            return Err(ApiError::bad_request(format!(
                "fieldManager: Too long: may not be more than {MANAGER_MAX} bytes"
            )));
        }
        Some(m) => m,
        None => match body.user_agent.split('/').next().map(str::trim) {
            Some(product) if !product.is_empty() => product,
            _ => "unknown",
        },
    };
    Ok(Writer {
        manager,
        api_version: kind.api_version(),
        subresource: sub,
        now: now_rfc3339(),
    })
}

/// What a write does to `metadata.managedFields`.
enum Managed<'a> {
    /// An update by this writer: it takes the fields it changes.
    Update(&'a Writer<'a>),
    /// As the current object has them (status writes).
    Keep,
    /// As the new object has them already (server-side apply worked them out).
    Given,
}

impl Body<'_> {
    fn object(&self) -> Result<Value, ApiError> {
        if self.bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request(
                "the request has no body; send the object as JSON",
            ));
        }
        let mime = self.content_type.split(';').next().unwrap_or_default().trim();
        let yaml = match mime.to_ascii_lowercase().as_str() {
            "" | "application/json" | "*/*" => false,
            "application/yaml" | "application/x-yaml" | "text/yaml" => true,
            protobuf::MEDIA_TYPE => return protobuf_object(self.bytes),
            _ => return Err(ApiError::unsupported_media_type(mime, OBJECT_TYPES)),
        };
        let value: Value = if yaml {
            serde_norway::from_slice(self.bytes)
                .map_err(|e| ApiError::bad_request(format!("the body is not valid YAML: {e}")))?
        } else {
            serde_json::from_slice(self.bytes)
                .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))?
        };
        if !value.is_object() {
            return Err(ApiError::bad_request(
                "the body must be a JSON object with apiVersion, kind and metadata",
            ));
        }
        Ok(value)
    }
}

fn protobuf_object(bytes: &[u8]) -> Result<Value, ApiError> {
    protobuf::object_json(bytes).map_err(|e| match e {
        ProtobufError::Malformed(why) => {
            ApiError::bad_request(format!("the body is not a valid protobuf object: {why}"))
        }
        ProtobufError::UnreadKind(kind) => ApiError::unread_protobuf_kind(&kind, protobuf::READ_KINDS),
    })
}

pub fn name_of(object: &Value) -> &str {
    object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

pub fn revision_of(object: &Value) -> u64 {
    object
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The resourceVersion a client sent, if any.
fn client_revision(object: &Value) -> Result<Option<u64>, ApiError> {
    match object.pointer("/metadata/resourceVersion") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => s.parse().map(Some).map_err(|_| {
            ApiError::bad_request(format!(
                "metadata.resourceVersion: `{s}` is not a resourceVersion this server gave out"
            ))
        }),
        Some(other) => Err(ApiError::bad_request(format!(
            "metadata.resourceVersion: must be a string, not {other}"
        ))),
    }
}

pub fn get_object(state: &ApiState, kind: Kind, namespace: &str, name: &str) -> Result<Value, ApiError> {
    state
        .store
        .get(kind, namespace, name)?
        .ok_or_else(|| ApiError::not_found(kind, name))
}

fn require_namespace(state: &ApiState, namespace: &str) -> Result<(), ApiError> {
    get_object(state, Kind::Namespace, "", namespace).map(drop)
}

/// `<Kind>List` with the revision it is as of.
pub fn list_body(kind: Kind, items: Vec<Value>, revision: u64) -> Value {
    json!({
        "kind": format!("{}List", kind.name()),
        "apiVersion": kind.api_version(),
        "metadata": {"resourceVersion": revision.to_string()},
        "items": items,
    })
}

/// The objects of a list request that its selectors pick, and the revision they are as of.
pub fn select(state: &ApiState, target: &Target, params: &Params) -> Result<(Vec<Value>, u64), ApiError> {
    let labels = params.labels()?;
    let fields = params.fields(target.kind)?;
    let (items, revision) = state.store.list(target.kind, target.list_namespace())?;
    let items = items
        .into_iter()
        .filter(|o| labels.matches_object(o) && fields.matches_object(o))
        .collect();
    Ok((items, revision))
}

pub fn list(state: &ApiState, target: &Target, params: &Params) -> Result<Reply, ApiError> {
    let (items, revision) = select(state, target, params)?;
    Ok(Reply::ok(list_body(target.kind, items, revision)))
}

pub fn get(state: &ApiState, target: &Target, name: &str) -> Result<Reply, ApiError> {
    let object = get_object(state, target.kind, target.store_namespace(), name)?;
    Ok(Reply::ok(match target.sub {
        Some(Sub::Scale) => scale_of(&object),
        _ => object,
    }))
}

/// Sets `key` to `expected` when it is missing or empty; any other value is refused with `mismatch`.
fn fill_or_match(
    map: &mut serde_json::Map<String, Value>,
    key: &str,
    expected: &str,
    mismatch: impl FnOnce(&str) -> String,
) -> Result<(), ApiError> {
    match map.get(key).and_then(Value::as_str) {
        None | Some("") => {
            map.insert(key.into(), json!(expected));
            Ok(())
        }
        Some(found) if found == expected => Ok(()),
        Some(found) => Err(ApiError::bad_request(mismatch(found))),
    }
}

/// The object's kind, apiVersion, namespace and name must agree with the path; missing ones are
/// taken from it.
fn identify(kind: Kind, namespace: &str, url_name: Option<&str>, object: &mut Value) -> Result<(), ApiError> {
    let map = object
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("the body must be a JSON object"))?;
    fill_or_match(map, "kind", kind.name(), |k| {
        format!(
            "the kind of the object ({k}) does not match the kind of the URL ({})",
            kind.name()
        )
    })?;
    fill_or_match(map, "apiVersion", kind.api_version(), |v| {
        format!(
            "the API version in the data ({v}) does not match the expected API version ({})",
            kind.api_version()
        )
    })?;
    if map
        .get("metadata")
        .is_some_and(|m| !m.is_object() && !m.is_null())
    {
        return Err(ApiError::bad_request("metadata must be an object"));
    }
    let meta = metadata_mut(object);
    if kind.namespaced() {
        fill_or_match(meta, "namespace", namespace, |ns| {
            format!(
                "the namespace of the provided object ({ns}) does not match the namespace sent on the request ({namespace})"
            )
        })?;
    } else {
        meta.remove("namespace");
    }
    if let Some(url_name) = url_name {
        fill_or_match(meta, "name", url_name, |n| {
            format!("the name of the object ({n}) does not match the name on the URL ({url_name})")
        })?;
    }
    Ok(())
}

/// Runs the manifest checks jube applies to files on what the API is sent: a failure is 422
/// Invalid; warnings come back for the `Warning` headers (or fail the request under
/// `fieldValidation=Strict` when they are unknown fields).
fn validate(kind: Kind, object: &Value, validation: FieldValidation) -> Result<Vec<String>, ApiError> {
    let name = name_of(object).to_owned();
    if name.is_empty() {
        return Err(ApiError::invalid(
            kind.name(),
            "",
            "metadata.name: Required value: name or generateName is required",
        ));
    }
    let mut warnings = Vec::new();
    match manifest::check(SOURCE, 1, object.clone(), &mut warnings) {
        Ok(_) => {}
        Err(ManifestError::Invalid { message, .. }) => {
            return Err(ApiError::invalid(kind.name(), &name, &message));
        }
        Err(other) => return Err(ApiError::invalid(kind.name(), &name, &other.to_string())),
    }
    let prefix = format!("{SOURCE}, document 1 ({} {name}): ", kind.name());
    let warnings: Vec<String> = warnings
        .into_iter()
        .map(|w| w.strip_prefix(&prefix).map(str::to_owned).unwrap_or(w))
        .collect();
    let is_unknown = |w: &String| w.starts_with("unknown field ");
    match validation {
        FieldValidation::Warn => Ok(warnings),
        FieldValidation::Ignore => Ok(warnings.into_iter().filter(|w| !is_unknown(w)).collect()),
        FieldValidation::Strict => {
            let unknown: Vec<&String> = warnings.iter().filter(|w| is_unknown(w)).collect();
            if unknown.is_empty() {
                return Ok(warnings);
            }
            // Word for word as the API server says it.
            Err(ApiError::bad_request(format!(
                "{kind} in version \"{version}\" cannot be handled as a {kind}: strict decoding error: {}",
                unknown.iter().map(|w| w.as_str()).collect::<Vec<_>>().join(", "),
                kind = kind.name(),
                version = kind.api_version().rsplit('/').next().unwrap_or("v1"),
            )))
        }
    }
}

fn admit(
    state: &ApiState,
    kind: Kind,
    namespace: &str,
    url_name: Option<&str>,
    object: &mut Value,
    params: &Params,
) -> Result<Vec<String>, ApiError> {
    identify(kind, namespace, url_name, object)?;
    defaults::apply(kind, object);
    if kind == Kind::Service {
        super::cluster_ips::admit(state, namespace, object)?;
    }
    let warnings = validate(kind, object, params.field_validation()?)?;
    if kind == Kind::Pod {
        crate::kube::node::bind(object);
    }
    Ok(warnings)
}

/// POST to a collection.
pub fn create(state: &ApiState, target: &Target, params: &Params, body: &Body) -> Result<Reply, ApiError> {
    let kind = target.kind;
    if kind.namespaced() && target.namespace.is_none() {
        return Err(ApiError::method_not_allowed());
    }
    let namespace = target.store_namespace();
    let mut object = body.object()?;
    let generate = object
        .pointer("/metadata/generateName")
        .and_then(Value::as_str)
        .filter(|g| !g.is_empty())
        .map(str::to_owned)
        .filter(|_| name_of(&object).is_empty());
    if let Some(prefix) = &generate {
        metadata_mut(&mut object).insert("name".into(), json!(generated_name(prefix)));
    }
    let warnings = admit(state, kind, namespace, None, &mut object, params)?;
    if kind.namespaced() {
        require_namespace(state, namespace)?;
    }
    managed::record_update(None, &mut object, &writer(kind, params, body, None)?);
    let status = defaults::initial_status(kind, &object);
    if let Some(map) = object.as_object_mut() {
        if status.is_null() {
            map.remove("status");
        } else {
            map.insert("status".into(), status);
        }
    }
    if params.dry_run()? {
        return Ok(Reply::created(object).warn(warnings));
    }
    let mut attempts = 0;
    loop {
        match state.store.create(kind, namespace, object.clone()) {
            Ok(created) => return Ok(Reply::created(created).warn(warnings)),
            // A generated name that is taken: draw another, as the API server does.
            Err(StoreError::AlreadyExists { .. }) if generate.is_some() && attempts < WRITE_ATTEMPTS => {
                attempts += 1;
                let prefix = generate.as_deref().unwrap_or_default();
                metadata_mut(&mut object).insert("name".into(), json!(generated_name(prefix)));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// `generateName` plus five characters from the alphabet Kubernetes uses (no vowels, no
/// look-alikes).
pub fn generated_name(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let suffix: String = (0..5)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{prefix}{suffix}")
}

/// Reads the current object, asks `change` for the new one, and stores it if it differs,
/// checking a resourceVersion the client gave and trying again when someone else wrote first.
fn update_with(
    state: &ApiState,
    target: &Target,
    name: &str,
    dry_run: bool,
    managed: Managed,
    mut change: impl FnMut(&Value) -> Result<(Value, Vec<String>), ApiError>,
) -> Result<(Value, Vec<String>), ApiError> {
    let (kind, namespace) = (target.kind, target.store_namespace());
    for _ in 0..WRITE_ATTEMPTS {
        let current = get_object(state, kind, namespace, name)?;
        let current_revision = revision_of(&current);
        let (mut object, warnings) = change(&current)?;
        if client_revision(&object)?.is_some_and(|r| r != current_revision) {
            return Err(ApiError::conflict(kind, name, CONFLICT_WHY));
        }
        carry_server_fields(&current, &mut object);
        match &managed {
            Managed::Update(writer) => managed::record_update(Some(&current), &mut object, writer),
            Managed::Keep => {
                let entries = managed::entries(&current);
                managed::set_entries(&mut object, &entries);
            }
            Managed::Given => {}
        }
        if object == current {
            return Ok((current, warnings));
        }
        if dry_run {
            return Ok((object, warnings));
        }
        match state
            .store
            .update(kind, namespace, object, Some(current_revision))
        {
            Ok(saved) => return Ok((saved, warnings)),
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::conflict(kind, name, CONFLICT_WHY))
}

/// What the server owns in `metadata` is kept whatever the client sent.
fn carry_server_fields(current: &Value, object: &mut Value) {
    let meta = metadata_mut(object);
    for key in ["uid", "creationTimestamp", "generation", "resourceVersion"] {
        match current.pointer(&format!("/metadata/{key}")) {
            Some(v) => meta.insert(key.into(), v.clone()),
            None => meta.remove(key),
        };
    }
}

/// `status` as in `from` (absent when it has none).
fn with_status_of(mut object: Value, from: &Value) -> Value {
    if let Some(map) = object.as_object_mut() {
        match from.get("status") {
            Some(status) => map.insert("status".into(), status.clone()),
            None => map.remove("status"),
        };
    }
    object
}

fn with_revision_of(mut object: Value, from: &Value) -> Value {
    let revision = from.pointer("/metadata/resourceVersion").cloned();
    let meta = metadata_mut(&mut object);
    match revision {
        Some(r) => meta.insert("resourceVersion".into(), r),
        None => meta.remove("resourceVersion"),
    };
    object
}

/// PUT of an object or its status or scale.
pub fn replace(
    state: &ApiState,
    target: &Target,
    name: &str,
    params: &Params,
    body: &Body,
) -> Result<Reply, ApiError> {
    let (kind, namespace) = (target.kind, target.store_namespace());
    let sent = body.object()?;
    let dry_run = params.dry_run()?;
    match target.sub {
        None => {
            let mut sent = sent;
            // The revision the client sent is checked against the current one below.
            let warnings = admit(state, kind, namespace, Some(name), &mut sent, params)?;
            let writer = writer(kind, params, body, None)?;
            let (saved, _) = update_with(
                state,
                target,
                name,
                dry_run,
                Managed::Update(&writer),
                |current| Ok((with_status_of(sent.clone(), current), Vec::new())),
            )?;
            Ok(Reply::ok(saved).warn(warnings))
        }
        Some(Sub::Status) => {
            let mut check = sent.clone();
            identify(kind, namespace, Some(name), &mut check)?;
            let (saved, warnings) = update_with(state, target, name, dry_run, Managed::Keep, |current| {
                let mut object = with_revision_of(with_status_of(current.clone(), &sent), &sent);
                let warnings = admit(state, kind, namespace, Some(name), &mut object, params)?;
                Ok((object, warnings))
            })?;
            Ok(Reply::ok(saved).warn(warnings))
        }
        Some(Sub::Scale) => {
            let replicas = scale_replicas(&sent, name)?;
            let writer = writer(kind, params, body, Some("scale"))?;
            let (saved, warnings) = update_with(
                state,
                target,
                name,
                dry_run,
                Managed::Update(&writer),
                |current| rescale(state, target, current, replicas, &sent, name, params),
            )?;
            Ok(Reply::ok(scale_of(&saved)).warn(warnings))
        }
        Some(Sub::Log) => Err(ApiError::method_not_allowed()),
    }
}

/// PATCH of an object or its status or scale, in any of the three formats.
pub fn patch(
    state: &ApiState,
    target: &Target,
    name: &str,
    params: &Params,
    body: &Body,
) -> Result<Reply, ApiError> {
    let (kind, namespace) = (target.kind, target.store_namespace());
    let mime = body.content_type.split(';').next().unwrap_or_default().trim();
    if mime.eq_ignore_ascii_case(APPLY_PATCH) {
        return server_side_apply(state, target, name, params, body);
    }
    if params.get("force").is_some() {
        return Err(ApiError::unprocessable(
            "force: Forbidden: may not be specified for non-apply patch",
        ));
    }
    let format = PatchType::from_content_type(body.content_type)
        .ok_or_else(|| ApiError::unsupported_media_type(body.content_type, PATCH_TYPES))?;
    let document: Value = serde_json::from_slice(body.bytes)
        .map_err(|e| ApiError::bad_request(format!("the patch is not valid JSON: {e}")))?;
    let apply = |to: &Value| {
        patch::apply(format, to, &document).map_err(|e| match e {
            PatchError::Malformed(m) => ApiError::bad_request(m),
            PatchError::Failed(m) => ApiError::unprocessable(m),
        })
    };
    let dry_run = params.dry_run()?;
    match target.sub {
        None => {
            let writer = writer(kind, params, body, None)?;
            let (saved, warnings) = update_with(
                state,
                target,
                name,
                dry_run,
                Managed::Update(&writer),
                |current| {
                    // Changes to status go through the status subresource.
                    let mut object = with_status_of(apply(current)?, current);
                    let warnings = admit(state, kind, namespace, Some(name), &mut object, params)?;
                    Ok((object, warnings))
                },
            )?;
            Ok(Reply::ok(saved).warn(warnings))
        }
        Some(Sub::Status) => {
            let (saved, warnings) = update_with(state, target, name, dry_run, Managed::Keep, |current| {
                let patched = apply(current)?;
                let mut object = with_revision_of(with_status_of(current.clone(), &patched), &patched);
                let warnings = admit(state, kind, namespace, Some(name), &mut object, params)?;
                Ok((object, warnings))
            })?;
            Ok(Reply::ok(saved).warn(warnings))
        }
        Some(Sub::Scale) => {
            let writer = writer(kind, params, body, Some("scale"))?;
            let (saved, warnings) = update_with(
                state,
                target,
                name,
                dry_run,
                Managed::Update(&writer),
                |current| {
                    let scale = apply(&scale_of(current))?;
                    let replicas = scale_replicas(&scale, name)?;
                    rescale(state, target, current, replicas, &scale, name, params)
                },
            )?;
            Ok(Reply::ok(scale_of(&saved)).warn(warnings))
        }
        Some(Sub::Log) => Err(ApiError::method_not_allowed()),
    }
}

/// PATCH with `application/apply-patch+yaml`: server-side apply of the configuration sent, as
/// the field manager named; creates the object when there is none.
fn server_side_apply(
    state: &ApiState,
    target: &Target,
    name: &str,
    params: &Params,
    body: &Body,
) -> Result<Reply, ApiError> {
    let (kind, namespace) = (target.kind, target.store_namespace());
    if target.sub.is_some() {
        return Err(ApiError::unsupported_media_type(
            body.content_type,
            &PATCH_TYPES[..3],
        ));
    }
    if params.get("fieldManager").is_none_or(str::is_empty) {
        return Err(ApiError::bad_request(
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
        ));
    }
    let writer = writer(kind, params, body, None)?;
    let force = params.flag("force")?;
    let dry_run = params.dry_run()?;
    // JSON is YAML too.
    let mut applied: Value = serde_norway::from_slice(body.bytes)
        .map_err(|e| ApiError::bad_request(format!("the apply configuration is not valid YAML: {e}")))?;
    if !applied.is_object() {
        return Err(ApiError::bad_request(
            "the apply configuration must be an object with apiVersion, kind and metadata",
        ));
    }
    identify(kind, namespace, Some(name), &mut applied)?;
    let merged = |current: Option<&Value>| {
        managed::apply(current, &applied, &writer, force).map_err(|conflicts| {
            let causes = conflicts
                .iter()
                .map(|c| (c.path.clone(), format!("conflict with {}", c.manager)))
                .collect();
            ApiError::apply_conflict(managed::conflict_message(&conflicts), causes)
        })
    };
    for _ in 0..WRITE_ATTEMPTS {
        if state.store.get(kind, namespace, name)?.is_none() {
            if kind.namespaced() {
                require_namespace(state, namespace)?;
            }
            let mut object = merged(None)?;
            let warnings = admit(state, kind, namespace, Some(name), &mut object, params)?;
            let status = defaults::initial_status(kind, &object);
            if let Some(map) = object.as_object_mut()
                && !status.is_null()
            {
                map.insert("status".into(), status);
            }
            if dry_run {
                return Ok(Reply::created(object).warn(warnings));
            }
            match state.store.create(kind, namespace, object) {
                Ok(created) => return Ok(Reply::created(created).warn(warnings)),
                // Someone made it meanwhile: apply to theirs.
                Err(StoreError::AlreadyExists { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        let updated = update_with(state, target, name, dry_run, Managed::Given, |current| {
            let mut object = with_status_of(merged(Some(current))?, current);
            let warnings = admit(state, kind, namespace, Some(name), &mut object, params)?;
            Ok((object, warnings))
        });
        match updated {
            Err(e) if e.reason == crate::kube::status::Reason::NotFound => continue,
            other => {
                let (saved, warnings) = other?;
                return Ok(Reply::ok(saved).warn(warnings));
            }
        }
    }
    Err(ApiError::conflict(kind, name, CONFLICT_WHY))
}

/// An RC as an `autoscaling/v1` Scale.
pub fn scale_of(rc: &Value) -> Value {
    let selector = match rc.pointer("/spec/selector") {
        Some(s) if s.get("matchLabels").is_some() || s.get("matchExpressions").is_some() => {
            crate::kube::table::selector_text(Some(s))
        }
        Some(s) => s
            .as_object()
            .map(|m| LabelSelector::from_json_map(m).to_string())
            .unwrap_or_default(),
        None => String::new(),
    };
    let meta = |key: &str| {
        rc.pointer(&format!("/metadata/{key}"))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let mut metadata = serde_json::Map::new();
    for key in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] {
        let v = meta(key);
        if !v.is_null() {
            metadata.insert(key.to_owned(), v);
        }
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": metadata,
        "spec": {"replicas": rc.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1)},
        "status": {
            "replicas": rc.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0),
            "selector": selector,
        },
    })
}

/// The replicas a Scale asks for (absent means 0, as in Kubernetes).
fn scale_replicas(scale: &Value, name: &str) -> Result<i64, ApiError> {
    if let Some(kind) = scale.get("kind").and_then(Value::as_str)
        && kind != "Scale"
    {
        return Err(ApiError::bad_request(format!(
            "the kind of the object ({kind}) does not match the kind of the URL (Scale)"
        )));
    }
    if let Some(n) = scale.pointer("/metadata/name").and_then(Value::as_str)
        && !n.is_empty()
        && n != name
    {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({n}) does not match the name on the URL ({name})"
        )));
    }
    match scale.pointer("/spec/replicas") {
        None | Some(Value::Null) => Ok(0),
        Some(v) => match v.as_i64() {
            Some(n) if (0..=i64::from(i32::MAX)).contains(&n) => Ok(n),
            _ => Err(ApiError::invalid(
                "Scale",
                name,
                &format!("spec.replicas: Invalid value: {v}: must be greater than or equal to 0"),
            )),
        },
    }
}

fn rescale(
    state: &ApiState,
    target: &Target,
    current: &Value,
    replicas: i64,
    scale: &Value,
    name: &str,
    params: &Params,
) -> Result<(Value, Vec<String>), ApiError> {
    let (kind, namespace) = (target.kind, target.store_namespace());
    let mut object = with_revision_of(current.clone(), scale);
    if let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) {
        spec.insert("replicas".into(), json!(replicas));
    }
    let warnings = admit(state, kind, namespace, Some(name), &mut object, params)?;
    Ok((object, warnings))
}

/// What a DELETE asks for, from its `DeleteOptions` body and query.
struct DeleteOptions {
    propagation: Propagation,
    /// `gracePeriodSeconds`: how long a pod's containers get to stop (0 with `--force`).
    grace: Option<std::time::Duration>,
    dry_run: bool,
    uid: Option<String>,
    revision: Option<u64>,
}

impl DeleteOptions {
    fn read(params: &Params, body: &Body) -> Result<Self, ApiError> {
        let options = if body.bytes.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            serde_json::from_slice(body.bytes)
                .map_err(|e| ApiError::bad_request(format!("the DeleteOptions are not valid JSON: {e}")))?
        };
        let policy = params.get("propagationPolicy").map(str::to_owned).or_else(|| {
            options
                .get("propagationPolicy")
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
        let orphan_flag = params.flag("orphanDependents")?
            || options.get("orphanDependents").and_then(Value::as_bool) == Some(true);
        let propagation = match policy.as_deref() {
            // An owner's dependants go unless asked otherwise (`kubectl delete` asks for
            // Background too).
            None | Some("Background") if orphan_flag => Propagation::Orphan,
            None | Some("Background") => Propagation::Background,
            Some("Foreground") => Propagation::Foreground,
            Some("Orphan") => Propagation::Orphan,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "propagationPolicy: `{other}` is not Orphan, Background or Foreground"
                )));
            }
        };
        let dry_run = params.dry_run()?
            || options
                .get("dryRun")
                .and_then(Value::as_array)
                .is_some_and(|d| d.iter().any(|v| v == "All"));
        let pre = options.get("preconditions");
        let uid = pre
            .and_then(|p| p.get("uid"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let revision = match pre.and_then(|p| p.get("resourceVersion")).and_then(Value::as_str) {
            None | Some("") => None,
            Some(r) => Some(r.parse().map_err(|_| {
                ApiError::bad_request(format!("preconditions.resourceVersion: `{r}` is not valid"))
            })?),
        };
        let grace = match params.number("gracePeriodSeconds")? {
            Some(n) => Some(n),
            None => options.get("gracePeriodSeconds").and_then(Value::as_u64),
        }
        .map(std::time::Duration::from_secs);
        Ok(Self {
            propagation,
            grace,
            dry_run,
            uid,
            revision,
        })
    }

    fn check(&self, kind: Kind, name: &str, current: &Value) -> Result<(), ApiError> {
        let uid = current
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if let Some(wanted) = &self.uid
            && wanted != uid
        {
            return Err(ApiError::conflict(
                kind,
                name,
                &format!("Precondition failed: UID in precondition: {wanted}, UID in object meta: {uid}"),
            ));
        }
        if let Some(wanted) = self.revision
            && wanted != revision_of(current)
        {
            return Err(ApiError::conflict(
                kind,
                name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {wanted}, ResourceVersion in object meta: {}",
                    revision_of(current)
                ),
            ));
        }
        Ok(())
    }
}

/// DELETE of one object: answers with the object as it was.
pub fn delete(
    state: &ApiState,
    target: &Target,
    name: &str,
    params: &Params,
    body: &Body,
) -> Result<Reply, ApiError> {
    let (kind, namespace) = (target.kind, target.store_namespace());
    if target.sub.is_some() {
        return Err(ApiError::method_not_allowed());
    }
    let options = DeleteOptions::read(params, body)?;
    let current = get_object(state, kind, namespace, name)?;
    options.check(kind, name, &current)?;
    if kind == Kind::Namespace && name == DEFAULT_NAMESPACE {
        return Err(ApiError::forbidden(
            kind,
            name,
            "this namespace may not be deleted",
        ));
    }
    if options.dry_run {
        return Ok(Reply::ok(current));
    }
    let deleted = if kind == Kind::Namespace {
        delete_namespace(state, name)?
    } else {
        gc::delete(
            &state.store,
            kind,
            namespace,
            name,
            options.grace,
            options.propagation,
        )?
    };
    Ok(Reply::ok(deleted))
}

/// DELETE of a collection: every object its selectors pick; answers with their list.
pub fn delete_collection(
    state: &ApiState,
    target: &Target,
    params: &Params,
    body: &Body,
) -> Result<Reply, ApiError> {
    if target.kind == Kind::Namespace || target.namespace.is_none() {
        return Err(ApiError::method_not_allowed());
    }
    let options = DeleteOptions::read(params, body)?;
    let (items, _) = select(state, target, params)?;
    let namespace = target.store_namespace();
    let mut deleted = Vec::new();
    for item in items {
        if options.dry_run {
            deleted.push(item);
            continue;
        }
        match gc::delete(
            &state.store,
            target.kind,
            namespace,
            name_of(&item),
            options.grace,
            options.propagation,
        ) {
            Ok(gone) => deleted.push(gone),
            Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let revision = state.store.revision()?;
    Ok(Reply::ok(list_body(target.kind, deleted, revision)))
}

/// A namespace goes with everything in it: controllers first (so no new pods appear), then
/// services and pods, then the namespace, then any pod that appeared meanwhile.
fn delete_namespace(state: &ApiState, name: &str) -> Result<Value, ApiError> {
    let sweep = |kinds: &[Kind]| -> Result<(), ApiError> {
        for kind in kinds {
            let (items, _) = state.store.list(*kind, Some(name))?;
            for item in items {
                match state.store.delete(*kind, name, name_of(&item)) {
                    Ok(_) | Err(StoreError::NotFound { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    };
    sweep(&[
        Kind::Deployment,
        Kind::Job,
        Kind::ReplicaSet,
        Kind::ReplicationController,
        Kind::Service,
        Kind::Pod,
    ])?;
    let deleted = state.store.delete(Kind::Namespace, "", name)?;
    sweep(&[Kind::Pod])?;
    Ok(deleted)
}
