//! Server-side printing: what `kubectl get` asks for with
//! `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` is a `meta.k8s.io/v1` Table whose
//! columns are kubectl's (the same as `jube get` prints), wide columns at priority 1.

use axum::http::{HeaderMap, header};
use serde_json::{Map, Value, json};

use crate::kube::kinds::Kind;
use crate::kube::status::ApiError;
use crate::kube::table::{TableOptions, table};

/// How much of each object a Table row carries (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Include {
    None,
    Metadata,
    Object,
}

/// The Table the request asks for, if it asks for one.
pub fn requested(headers: &HeaderMap, include: Option<&str>) -> Result<Option<Include>, ApiError> {
    let accept = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    let wants = accept.split(',').any(|media| {
        let params: Vec<&str> = media.split(';').map(str::trim).collect();
        params.contains(&"as=Table") && params.contains(&"g=meta.k8s.io")
    });
    if !wants {
        return Ok(None);
    }
    let include = match include {
        None | Some("") | Some("Metadata") => Include::Metadata,
        Some("None") => Include::None,
        Some("Object") => Include::Object,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "includeObject: `{other}` is not None, Metadata or Object"
            )));
        }
    };
    Ok(Some(include))
}

/// The Table of `objects` of one kind, as of `revision` (none for a single object).
pub fn to_table(kind: Kind, objects: &[Value], revision: Option<u64>, include: Include) -> Value {
    let wide = table(
        kind,
        objects,
        &TableOptions {
            wide: true,
            ..TableOptions::default()
        },
    );
    let narrow = table(kind, &[], &TableOptions::default());
    from_rows(wide, &narrow.headers, objects, revision, include)
}

/// The Table of rows already laid out: `wide` holds every column, and the ones not in `narrow`
/// are shown only with `-o wide`.
pub fn from_rows(
    wide: crate::kube::table::Table,
    narrow: &[String],
    objects: &[Value],
    revision: Option<u64>,
    include: Include,
) -> Value {
    let columns: Vec<Value> = wide
        .headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            json!({
                "name": h,
                "type": "string",
                "format": if i == 0 && h == "NAME" { "name" } else { "" },
                "description": "",
                "priority": if narrow.contains(h) { 0 } else { 1 },
            })
        })
        .collect();
    let rows: Vec<Value> = wide
        .rows
        .into_iter()
        .zip(objects)
        .map(|(cells, object)| {
            let mut row = json!({"cells": cells});
            match include {
                Include::None => {}
                Include::Metadata => {
                    row["object"] = json!({
                        "kind": "PartialObjectMetadata",
                        "apiVersion": "meta.k8s.io/v1",
                        "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
                    });
                }
                Include::Object => row["object"] = object.clone(),
            }
            row
        })
        .collect();
    let mut metadata = Map::new();
    if let Some(r) = revision {
        metadata.insert("resourceVersion".into(), json!(r.to_string()));
    }
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": columns,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_get_asks_for_tables_and_gets_kubectls_columns() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
                .parse()
                .unwrap(),
        );
        assert_eq!(requested(&headers, None).unwrap(), Some(Include::Metadata));
        assert_eq!(
            requested(&headers, Some("Object")).unwrap(),
            Some(Include::Object)
        );
        assert!(requested(&headers, Some("All")).is_err());
        assert_eq!(requested(&HeaderMap::new(), None).unwrap(), None);

        let pod = json!({"metadata": {"name": "web", "namespace": "default", "labels": {"a": "b"}},
                         "status": {"phase": "Running", "podIP": "127.0.0.1"}});
        let t = to_table(Kind::Pod, &[pod], Some(7), Include::Metadata);
        assert_eq!(t["kind"], "Table");
        assert_eq!(t["metadata"]["resourceVersion"], "7");
        let columns: Vec<(&str, i64)> = t["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["name"].as_str().unwrap(), c["priority"].as_i64().unwrap()))
            .collect();
        assert_eq!(
            columns,
            [
                ("NAME", 0),
                ("READY", 0),
                ("STATUS", 0),
                ("RESTARTS", 0),
                ("AGE", 0),
                ("IP", 1),
                ("NODE", 1)
            ]
        );
        assert_eq!(t["columnDefinitions"][0]["format"], "name");
        let row = &t["rows"][0];
        assert_eq!(row["cells"][0], "web");
        assert_eq!(row["cells"][2], "Running");
        assert_eq!(row["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(row["object"]["metadata"]["labels"]["a"], "b");
    }
}
