//! The OpenAPI v3 documents kubectl reads: `/openapi/v3` (where each group version's document
//! is) and one document per group version, with the operations of every kind jube serves and
//! the schemas of the objects (generated from k8s-openapi's types, in kube-openapi's shape), so
//! that `kubectl explain` has fields to show.
//!
//! The patch operations name no request body on purpose: kubectl computes the strategic merge
//! patches of a client-side apply from a document only when it says the operation takes
//! `application/strategic-merge-patch+json`, and otherwise uses its built-in types, which know
//! every list's merge key (these schemas do not carry `x-kubernetes-patch-merge-key`).

use std::sync::OnceLock;

use axum::body::Bytes;
use axum::http::header;
use axum::response::{IntoResponse, Json};
use k8s_openapi::schemars::JsonSchema;
use k8s_openapi::schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::kube::kinds::Kind;

/// The group versions with a document, as `/openapi/v3` names them, with their `apiVersion`.
const GROUP_VERSIONS: [(&str, &str); 4] = [
    ("api/v1", "v1"),
    ("apis/apps/v1", "apps/v1"),
    ("apis/batch/v1", "batch/v1"),
    ("apis/discovery.k8s.io/v1", "discovery.k8s.io/v1"),
];

/// A document, serialized once, and the hash clients key their caches on.
struct Served {
    bytes: Bytes,
    hash: String,
}

fn served(group_version: &str) -> &'static Served {
    static DOCUMENTS: OnceLock<Vec<Served>> = OnceLock::new();
    let all = DOCUMENTS.get_or_init(|| {
        GROUP_VERSIONS
            .iter()
            .map(|(_, gv)| {
                let bytes = serde_json::to_vec(&group_document(gv)).unwrap_or_default();
                // The content decides the hash, so a changed document is fetched again.
                let hash = hex::encode(Sha256::digest(&bytes)).to_uppercase();
                Served {
                    bytes: bytes.into(),
                    hash,
                }
            })
            .collect()
    });
    let index = GROUP_VERSIONS
        .iter()
        .position(|(_, gv)| *gv == group_version)
        .unwrap_or(0);
    &all[index]
}

/// `/openapi/v3`: where each group version's document is.
pub async fn root() -> impl IntoResponse {
    Json(root_document())
}

fn root_document() -> Value {
    let paths: Map<String, Value> = GROUP_VERSIONS
        .iter()
        .map(|(path, gv)| {
            let url = format!("/openapi/v3/{path}?hash={}", served(gv).hash);
            ((*path).to_owned(), json!({"serverRelativeURL": url}))
        })
        .collect();
    json!({"paths": paths})
}

fn respond(group_version: &str) -> impl IntoResponse + use<> {
    (
        [(header::CONTENT_TYPE, "application/json")],
        served(group_version).bytes.clone(),
    )
}

pub async fn core_v1() -> impl IntoResponse {
    respond("v1")
}

pub async fn apps_v1() -> impl IntoResponse {
    respond("apps/v1")
}

pub async fn batch_v1() -> impl IntoResponse {
    respond("batch/v1")
}

pub async fn discovery_v1() -> impl IntoResponse {
    respond("discovery.k8s.io/v1")
}

/// The OpenAPI v3 document of one group version (`v1`, `apps/v1`, `batch/v1`).
pub fn group_document(group_version: &str) -> Value {
    let kinds: Vec<Kind> = Kind::ALL
        .into_iter()
        .filter(|k| k.api_version() == group_version)
        .collect();
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0"},
        "paths": paths(&kinds),
        "components": {"schemas": schemas(&kinds)},
    })
}

fn gvk(group: &str, kind: &str) -> Value {
    json!({"group": group, "version": "v1", "kind": kind})
}

/// The operations on each kind's objects and collections, with the query parameters kubectl
/// looks for (`fieldValidation` tells it the server checks fields itself).
fn paths(kinds: &[Kind]) -> Map<String, Value> {
    let mut paths = Map::new();
    let query = |name: &str| json!({"name": name, "in": "query", "schema": {"type": "string"}});
    for kind in kinds {
        let gvk = gvk(kind.group(), kind.name());
        let object = kind.object_path(kind.namespaced().then_some("{namespace}"), "{name}");
        let collection = kind.collection_path(kind.namespaced().then_some("{namespace}"));
        let write = |action: &str| {
            json!({
                "x-kubernetes-action": action,
                "x-kubernetes-group-version-kind": gvk,
                "parameters": [query("dryRun"), query("fieldManager"), query("fieldValidation")],
                "responses": {"200": {"description": "OK"}},
            })
        };
        let read = |action: &str| {
            json!({
                "x-kubernetes-action": action,
                "x-kubernetes-group-version-kind": gvk,
                "responses": {"200": {"description": "OK"}},
            })
        };
        paths.insert(
            object,
            json!({"get": read("get"), "put": write("put"), "patch": write("patch"), "delete": read("delete")}),
        );
        paths.insert(collection, json!({"get": read("list"), "post": write("post")}));
    }
    paths
}

/// Registers `T`'s schema (and everything it refers to) and answers its name.
fn register<T: JsonSchema>(generator: &mut SchemaGenerator) -> String {
    generator.subschema_for::<T>();
    T::schema_name().into_owned()
}

/// The k8s-openapi type of a kind.
fn register_kind(kind: Kind, generator: &mut SchemaGenerator) -> String {
    use k8s_openapi::api::apps::v1 as apps;
    use k8s_openapi::api::batch::v1 as batch;
    use k8s_openapi::api::core::v1 as core;
    match kind {
        Kind::Namespace => register::<core::Namespace>(generator),
        Kind::Pod => register::<core::Pod>(generator),
        Kind::ReplicationController => register::<core::ReplicationController>(generator),
        Kind::Service => register::<core::Service>(generator),
        Kind::ConfigMap => register::<core::ConfigMap>(generator),
        Kind::Secret => register::<core::Secret>(generator),
        Kind::ServiceAccount => register::<core::ServiceAccount>(generator),
        Kind::PersistentVolumeClaim => register::<core::PersistentVolumeClaim>(generator),
        Kind::Event => register::<core::Event>(generator),
        Kind::ReplicaSet => register::<apps::ReplicaSet>(generator),
        Kind::Deployment => register::<apps::Deployment>(generator),
        Kind::Job => register::<batch::Job>(generator),
        Kind::Endpoints => register::<core::Endpoints>(generator),
        Kind::EndpointSlice => register::<k8s_openapi::api::discovery::v1::EndpointSlice>(generator),
    }
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// `<Kind>List`, which k8s-openapi has no type for: `items` of the kind and the list's metadata.
fn list_schema(kind: Kind, item: &str, list_meta: &str) -> Value {
    json!({
        "description": format!("{}List is a list of {}.", kind.name(), kind.name()),
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object."},
            "kind": {"type": "string", "description": "Kind is a string value representing the REST resource this object represents."},
            "items": {"type": "array", "description": format!("The list of {}.", kind.plural()),
                "items": {"default": {}, "allOf": [reference(item)]}},
            "metadata": {"default": {}, "description": "Standard list metadata.", "allOf": [reference(list_meta)]},
        },
        "required": ["items"],
        "x-kubernetes-group-version-kind": [gvk(kind.group(), &format!("{}List", kind.name()))],
    })
}

/// The schemas of `kinds`, their lists and everything they refer to, keyed by kube-openapi's
/// names (`io.k8s.api.core.v1.Pod`); the top-level ones carry `x-kubernetes-group-version-kind`,
/// which `kubectl explain` finds them by.
fn schemas(kinds: &[Kind]) -> Map<String, Value> {
    // OpenAPI 3.0's dialect: refs under #/components/schemas, a ref with a description beside
    // it wrapped in allOf, as kube-openapi writes them.
    let mut generator = SchemaSettings::openapi3().into_generator();
    let list_meta = register::<k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta>(&mut generator);
    let mut top = Vec::new();
    for kind in kinds {
        top.push((*kind, register_kind(*kind, &mut generator)));
    }
    let scale = kinds
        .iter()
        .any(|k| k.scalable())
        .then(|| register::<k8s_openapi::api::autoscaling::v1::Scale>(&mut generator));
    let mut schemas = generator.take_definitions(true);
    for (kind, name) in top {
        if let Some(Value::Object(schema)) = schemas.get_mut(&name) {
            schema.insert(
                "x-kubernetes-group-version-kind".into(),
                json!([gvk(kind.group(), kind.name())]),
            );
        }
        schemas.insert(format!("{name}List"), list_schema(kind, &name, &list_meta));
    }
    if let Some(name) = scale
        && let Some(Value::Object(schema)) = schemas.get_mut(&name)
    {
        schema.insert(
            "x-kubernetes-group-version-kind".into(),
            json!([{"group": "autoscaling", "version": "v1", "kind": "Scale"}]),
        );
    }
    schemas
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `$ref` in `value`.
    fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r);
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_kind_has_its_schema_found_by_its_group_version_kind() {
        for (_, gv) in GROUP_VERSIONS {
            let doc = group_document(gv);
            let schemas = doc["components"]["schemas"].as_object().unwrap();
            for kind in Kind::ALL.into_iter().filter(|k| k.api_version() == gv) {
                let wanted = gvk(kind.group(), kind.name());
                let found: Vec<&String> = schemas
                    .iter()
                    .filter(|(_, s)| {
                        s["x-kubernetes-group-version-kind"]
                            .as_array()
                            .is_some_and(|g| g.contains(&wanted))
                    })
                    .map(|(name, _)| name)
                    .collect();
                assert_eq!(found.len(), 1, "{kind:?} in {gv}: {found:?}");
                let schema = &schemas[found[0]];
                assert!(schema["properties"]["metadata"].is_object(), "{kind:?}");
                // The paths name the same group version kind, which is how kubectl explain
                // gets from a resource to its schema.
                let collection = kind.collection_path(kind.namespaced().then_some("{namespace}"));
                assert_eq!(
                    doc["paths"][&collection]["get"]["x-kubernetes-group-version-kind"],
                    wanted
                );
            }
        }
    }

    #[test]
    fn schemas_are_in_kube_openapis_shape_and_every_ref_resolves() {
        let doc = group_document("v1");
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let pod = &schemas["io.k8s.api.core.v1.Pod"];
        assert_eq!(
            pod["properties"]["spec"]["allOf"][0]["$ref"],
            "#/components/schemas/io.k8s.api.core.v1.PodSpec"
        );
        assert!(
            pod["properties"]["spec"]["description"]
                .as_str()
                .unwrap()
                .starts_with("Specification of the desired behavior of the pod")
        );
        let containers = &schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
        assert_eq!(containers["type"], "array");
        assert_eq!(
            containers["items"]["$ref"],
            "#/components/schemas/io.k8s.api.core.v1.Container"
        );
        assert!(schemas.contains_key("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"));
        assert!(schemas.contains_key("io.k8s.api.core.v1.PodList"));
        for (_, gv) in GROUP_VERSIONS {
            let doc = group_document(gv);
            let mut all = Vec::new();
            refs(&doc, &mut all);
            assert!(!all.is_empty());
            for r in all {
                let name = r
                    .strip_prefix("#/components/schemas/")
                    .unwrap_or_else(|| panic!("{r}"));
                assert!(doc["components"]["schemas"].get(name).is_some(), "{gv}: {r}");
            }
        }
    }

    #[test]
    fn the_document_says_patches_take_field_validation_but_no_strategic_merge_body() {
        let doc = group_document("v1");
        let patch = &doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"];
        assert_eq!(patch["x-kubernetes-group-version-kind"]["kind"], "Pod");
        assert!(
            patch["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "fieldValidation")
        );
        // kubectl's client-side apply keeps to its built-in merge keys.
        assert!(patch.get("requestBody").is_none());
        assert!(doc["paths"]["/api/v1/namespaces/{name}"]["patch"].is_object());
    }

    #[test]
    fn the_root_points_at_each_document_by_its_content_hash() {
        let root = root_document();
        for (path, gv) in GROUP_VERSIONS {
            let url = root["paths"][path]["serverRelativeURL"].as_str().unwrap();
            assert_eq!(url, format!("/openapi/v3/{path}?hash={}", served(gv).hash));
            let served: Value = serde_json::from_slice(&served(gv).bytes).unwrap();
            assert_eq!(served, group_document(gv));
        }
        assert_ne!(served("v1").hash, served("apps/v1").hash);
    }
}
