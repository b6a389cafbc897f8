//! A Service's address, given when it is created (`spec.clusterIP`): the one it asks for when
//! that is free and in the daemon's range, else one drawn from the range. It never changes
//! afterwards, as in Kubernetes: an update that leaves it out keeps it.

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde_json::{Value, json};

use crate::kube::api::ApiState;
use crate::kube::cluster_ip::HEADLESS;
use crate::kube::kinds::Kind;
use crate::kube::reconcile;
use crate::kube::status::ApiError;

/// Fills in or checks `spec.clusterIP` (and `clusterIPs`) of Service `object` in `namespace`.
pub fn admit(state: &ApiState, namespace: &str, object: &mut Value) -> Result<(), ApiError> {
    let name = reconcile::str_at(object, "/metadata/name")
        .unwrap_or_default()
        .to_owned();
    let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    let (services, _) = state.store.list(Kind::Service, None)?;
    let is_this = |s: &&Value| {
        reconcile::str_at(s, "/metadata/namespace") == Some(namespace)
            && reconcile::str_at(s, "/metadata/name") == Some(name.as_str())
    };
    let current = services
        .iter()
        .find(is_this)
        .and_then(|s| reconcile::str_at(s, "/spec/clusterIP"))
        .filter(|ip| !ip.is_empty())
        .map(str::to_owned);
    let asked = spec
        .get("clusterIP")
        .and_then(Value::as_str)
        .filter(|ip| !ip.is_empty())
        .map(str::to_owned);
    let invalid = |ip: &str, why: &str| {
        ApiError::invalid(
            "Service",
            &name,
            &format!("spec.clusterIP: Invalid value: \"{ip}\": {why}"),
        )
    };
    let ip = match (asked, current) {
        (None, Some(current)) => current,
        (Some(asked), Some(current)) if asked != current => {
            return Err(invalid(&asked, "field is immutable"));
        }
        (Some(asked), _) if asked == HEADLESS => asked,
        (Some(asked), Some(_)) => asked,
        (Some(asked), None) => {
            let range = &state.service_range;
            let parsed: IpAddr = asked
                .parse()
                .map_err(|_| invalid(&asked, "must be a valid IP address or \"None\""))?;
            if !range.holds(parsed) {
                return Err(invalid(
                    &asked,
                    &format!("the provided IP is not in the valid range. The range of valid IPs is {range}"),
                ));
            }
            if taken(&services, &is_this).contains(&parsed) {
                return Err(invalid(&asked, "the provided IP is already allocated"));
            }
            asked
        }
        (None, None) => {
            let range = &state.service_range;
            range
                .allocate(
                    &state.layout.home().display().to_string(),
                    namespace,
                    &name,
                    &taken(&services, &is_this),
                )
                .ok_or_else(|| {
                    ApiError::unprocessable(format!(
                        "Internal error occurred: failed to allocate a serviceIP: range {range} is full"
                    ))
                })?
                .to_string()
        }
    };
    spec.insert("clusterIP".into(), json!(ip));
    spec.insert("clusterIPs".into(), json!([ip]));
    if ip != HEADLESS {
        // As the API server fills them in for a single-stack cluster.
        spec.entry("ipFamilies").or_insert_with(|| json!(["IPv4"]));
        spec.entry("ipFamilyPolicy")
            .or_insert_with(|| json!("SingleStack"));
    }
    Ok(())
}

/// The addresses of every Service but this one.
fn taken(services: &[Value], is_this: &impl Fn(&&Value) -> bool) -> BTreeSet<IpAddr> {
    services
        .iter()
        .filter(|s| !is_this(s))
        .filter_map(crate::kube::services::cluster_ip)
        .collect()
}
