//! `/api/v1/nodes`: the machine as the one Node, read (get, list, Table, watch) but never
//! stored, so there is nothing to write.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use std::time::Duration;

use super::Shared;
use super::request::{Params, Reply};
use super::{stream, tables};
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
    let params = Params::parse(query.as_deref());
    match params.flag("watch") {
        Ok(true) => {
            return watch(state, name, params, &headers)
                .await
                .unwrap_or_else(|e| e.into_response());
        }
        Ok(false) => {}
        Err(e) => return e.into_response(),
    }
    let reply = tokio::task::spawn_blocking(move || {
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
            Some(include) => Reply::ok(node_table(&objects, include)),
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

/// The node as a Table of its own, as a table request shows it.
fn node_table(objects: &[Value], include: tables::Include) -> Value {
    let wide = node::table(objects, jiff::Timestamp::now());
    let narrow: Vec<String> = node::TABLE_HEADERS[..node::NARROW_COLUMNS]
        .iter()
        .map(|h| (*h).to_owned())
        .collect();
    tables::from_rows(wide, &narrow, objects, Some(1), include)
}

/// `?watch=true`: the node once (unless the client already listed it, at resourceVersion 1), then
/// nothing, since it never changes, until the watch times out, the client leaves or the daemon
/// stops.
async fn watch(
    state: Shared,
    name: Option<String>,
    params: Params,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let table = tables::requested(headers, params.get("includeObject"))?;
    let timeout = params.number("timeoutSeconds")?.map(Duration::from_secs);
    let listed = !matches!(params.get("resourceVersion"), None | Some("") | Some("0"));
    let shared = state.clone();
    let nodes = tokio::task::spawn_blocking(move || selected(&shared, &params))
        .await
        .map_err(|e| ApiError::internal(format!("the watch could not start: {e}")))??;
    let nodes: Vec<Value> = nodes
        .into_iter()
        .filter(|n| name.as_deref().is_none_or(|name| n["metadata"]["name"] == name))
        .collect();
    let (tx, response) = stream::channel("application/json");
    let mut shutdown = state.shutdown.subscribe();
    tokio::spawn(async move {
        if !listed {
            for node in &nodes {
                let object = match table {
                    Some(include) => node_table(std::slice::from_ref(node), include),
                    None => node.clone(),
                };
                let line = format!("{{\"type\":\"ADDED\",\"object\":{object}}}\n");
                if tx.send(line.into()).await.is_err() {
                    return;
                }
            }
        }
        let expired = async {
            match timeout {
                Some(t) => tokio::time::sleep(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tx.closed() => {}
            _ = expired => {}
            _ = shutdown.wait_for(Option::is_some) => {}
        }
    });
    Ok(response)
}
