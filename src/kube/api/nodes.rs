//! `/api/v1/nodes`: the machine as the one Node, read (get, list, Table) but never stored, so
//! there is nothing to write.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Shared;
use super::request::{Params, Reply};
use super::tables;
use crate::kube::node;
use crate::kube::status::ApiError;

/// The Node object of this machine now.
pub fn this_node(state: &super::ApiState) -> Value {
    let machine = node::Machine::read(state.layout.home());
    node::object(&node::name(), &machine, jiff::Timestamp::now())
}

/// The nodes a label selector (and a `metadata.name` field selector) lets through: the one node, or none.
pub fn selected(state: &super::ApiState, params: &Params) -> Result<Vec<Value>, ApiError> {
    let labels = params.labels()?;
    let fields = crate::kube::selector::FieldSelector::parse(params.get("fieldSelector").unwrap_or_default())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let node = this_node(state);
    Ok(if labels.matches_object(&node) && fields.matches_object(&node) {
        vec![node]
    } else {
        Vec::new()
    })
}

/// `GET /api/v1/nodes`.
pub async fn list(
    State(state): State<Shared>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    serve(state, method, None, query, headers).await
}

/// `GET /api/v1/nodes/{name}`.
pub async fn get(
    State(state): State<Shared>,
    method: Method,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    serve(state, method, Some(name), query, headers).await
}

async fn serve(
    state: Shared,
    method: Method,
    name: Option<String>,
    query: Option<String>,
    headers: HeaderMap,
) -> Response {
    if method != Method::GET {
        return ApiError::method_not_allowed().into_response();
    }
    let reply = tokio::task::spawn_blocking(move || {
        let params = Params::parse(query.as_deref());
        if params.flag("watch")? {
            return Err(ApiError::method_not_allowed());
        }
        let table = tables::requested(&headers, params.get("includeObject"))?;
        let (objects, body) = match name {
            Some(name) => {
                let node = this_node(&state);
                if node["metadata"]["name"] != name.as_str() {
                    return Err(ApiError::resource_not_found("nodes", &name));
                }
                (vec![node.clone()], node)
            }
            None => {
                let nodes = selected(&state, &params)?;
                let list = json!({"kind": "NodeList", "apiVersion": "v1",
                    "metadata": {"resourceVersion": "1"}, "items": nodes});
                (nodes, list)
            }
        };
        Ok(match table {
            Some(include) => {
                let wide = node::table(&objects, jiff::Timestamp::now());
                let narrow: Vec<String> = node::TABLE_HEADERS[..node::NARROW_COLUMNS]
                    .iter()
                    .map(|h| (*h).to_owned())
                    .collect();
                Reply::ok(tables::from_rows(wide, &narrow, &objects, Some(1), include))
            }
            None => Reply::ok(body),
        })
    })
    .await;
    match reply {
        Ok(Ok(reply)) => reply.into_response(),
        Ok(Err(e)) => e.into_response(),
        Err(e) => ApiError::internal(format!("the request failed: {e}")).into_response(),
    }
}
