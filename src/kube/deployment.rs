//! The Deployment controller, as a pure function from a Deployment and the ReplicaSets and pods
//! it owns to actions: one ReplicaSet per pod-template revision (`<deployment>-<hash>`), rolled
//! by the RollingUpdate (maxSurge, maxUnavailable) or Recreate strategy, old revisions kept up to
//! `revisionHistoryLimit`, and the status Kubernetes reports (Available, Progressing, counts).

use std::time::Duration;

use serde_json::{Value, json};

use crate::kube::reconcile::{
    Action, OwnerRef, Plan, controller_uid, is_active, is_terminating, selector_of, str_at,
};

/// The label of a revision's pods and ReplicaSet, and part of its selector.
pub const HASH_LABEL: &str = "pod-template-hash";
/// The annotation holding a ReplicaSet's revision number.
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";

/// A stable hash of a pod template: FNV-1a of its JSON (keys sorted), written with the alphabet
/// Kubernetes uses for generated names, as Kubernetes writes its `pod-template-hash`.
pub fn template_hash(template: &Value) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    for b in normalized(template).to_string().bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    hash.to_string()
        .bytes()
        .map(|d| ALPHABET[usize::from(d) % ALPHABET.len()] as char)
        .collect()
}

/// The template as Kubernetes' typed objects see it: null and empty values are no values (kubectl's
/// rollback sends `creationTimestamp: null`), so they do not change the hash.
fn normalized(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), normalized(v)))
                .filter(|(_, v)| !is_empty(v))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(normalized).collect()),
        other => other.clone(),
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// A ReplicaSet's revision (0 when it has none).
pub fn revision(rs: &Value) -> u64 {
    rs.pointer("/metadata/annotations")
        .and_then(|a| a.get(REVISION_ANNOTATION))
        .and_then(Value::as_str)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// `maxSurge`/`maxUnavailable`: a count, or a percentage of `replicas` rounded up (surge) or down
/// (unavailable), as Kubernetes rounds them.
pub fn resolve(value: Option<&Value>, replicas: u64, default: &str, round_up: bool) -> u64 {
    let text = match value {
        Some(Value::Number(n)) => return n.as_u64().unwrap_or(0),
        Some(Value::String(s)) => s.as_str(),
        _ => default,
    };
    match text.strip_suffix('%').and_then(|p| p.parse::<u64>().ok()) {
        Some(percent) if round_up => (replicas * percent).div_ceil(100),
        Some(percent) => replicas * percent / 100,
        None => text.parse().unwrap_or(0),
    }
}

fn int(v: &Value, pointer: &str) -> u64 {
    v.pointer(pointer).and_then(Value::as_u64).unwrap_or(0)
}

/// What one Deployment needs now. `replica_sets` and `pods` are those of its namespace.
pub fn reconcile(deploy: &Value, replica_sets: &[Value], pods: &[Value], now: jiff::Timestamp) -> Plan {
    let mut plan = Plan::default();
    let (Some(owner), false) = (OwnerRef::of(deploy), is_terminating(deploy)) else {
        return plan;
    };
    let namespace = str_at(deploy, "/metadata/namespace")
        .unwrap_or("default")
        .to_owned();
    let replicas = deploy
        .pointer("/spec/replicas")
        .and_then(Value::as_u64)
        .unwrap_or(1);
    let template = deploy.pointer("/spec/template").cloned().unwrap_or(Value::Null);
    let hash = template_hash(&template);
    let paused = deploy.pointer("/spec/paused") == Some(&Value::Bool(true));
    let recreate = str_at(deploy, "/spec/strategy/type") == Some("Recreate");
    // ReplicaSets of its selector that no controller owns (a Deployment deleted with
    // `--cascade=orphan` leaves them) are adopted first, as Kubernetes does: one of this
    // template's revision has the name a new one would get.
    if let Some(selector) = selector_of(deploy) {
        let orphans: Vec<&Value> = replica_sets
            .iter()
            .filter(|rs| {
                str_at(rs, "/metadata/namespace").unwrap_or("default") == namespace
                    && controller_uid(rs).is_none()
                    && !is_terminating(rs)
                    && selector.matches_object(rs)
            })
            .collect();
        for rs in &orphans {
            let mut adopted = (*rs).clone();
            let meta = crate::kube::store::metadata_mut(&mut adopted);
            let refs = meta.entry("ownerReferences").or_insert_with(|| json!([]));
            if let Some(refs) = refs.as_array_mut() {
                refs.push(owner.to_json());
            }
            plan.actions.push(Action::ReplaceObject {
                kind: "ReplicaSet".into(),
                namespace: namespace.clone(),
                object: adopted,
            });
        }
        if !orphans.is_empty() {
            return plan;
        }
    }
    let mut owned: Vec<&Value> = replica_sets
        .iter()
        .filter(|rs| controller_uid(rs) == Some(owner.uid.as_str()) && !is_terminating(rs))
        .collect();
    owned.sort_by_key(|rs| {
        (
            revision(rs),
            str_at(rs, "/metadata/creationTimestamp").unwrap_or("").to_owned(),
        )
    });
    let is_new = |rs: &&Value| {
        rs.pointer("/metadata/labels")
            .and_then(|l| l.get(HASH_LABEL))
            .and_then(Value::as_str)
            == Some(hash.as_str())
    };
    let new_rs = owned.iter().copied().find(is_new);
    let old: Vec<&Value> = owned.iter().copied().filter(|rs| !is_new(rs)).collect();
    let max_old_revision = old.iter().map(|rs| revision(rs)).max().unwrap_or(0);
    let spec_replicas = |rs: &Value| int(rs, "/spec/replicas");
    let pods_of = |rs: &Value| {
        let uid = str_at(rs, "/metadata/uid").unwrap_or_default();
        pods.iter()
            .filter(|p| controller_uid(p) == Some(uid) && is_active(p))
            .count() as u64
    };
    let min_ready = int(deploy, "/spec/minReadySeconds");
    let new_name = format!("{}-{hash}", owner.name);

    // Scaling decisions (none while paused, as `kubectl rollout pause` means).
    let max_surge = resolve(
        deploy.pointer("/spec/strategy/rollingUpdate/maxSurge"),
        replicas,
        "25%",
        true,
    );
    let mut max_unavailable = resolve(
        deploy.pointer("/spec/strategy/rollingUpdate/maxUnavailable"),
        replicas,
        "25%",
        false,
    );
    if max_surge == 0 && max_unavailable == 0 {
        max_unavailable = 1;
    }
    let scale = |rs: &Value, to: u64, plan: &mut Plan| {
        if spec_replicas(rs) != to {
            let mut changed = rs.clone();
            changed["spec"]["replicas"] = json!(to);
            plan.actions.push(Action::ReplaceObject {
                kind: "ReplicaSet".into(),
                namespace: namespace.clone(),
                object: changed,
            });
        }
    };
    let mut new_desired = new_rs.map(spec_replicas);
    if !paused {
        if recreate {
            let old_running: u64 = old.iter().map(|rs| pods_of(rs)).sum();
            for rs in &old {
                scale(rs, 0, &mut plan);
            }
            new_desired = Some(if old_running == 0 {
                replicas
            } else {
                new_desired.unwrap_or(0)
            });
        } else {
            let total: u64 = owned.iter().map(|rs| spec_replicas(rs)).sum();
            let current_new = new_desired.unwrap_or(0);
            // The new revision grows into the room the surge leaves; scaled down, it shrinks.
            let room = (replicas + max_surge).saturating_sub(total);
            new_desired = Some(if current_new >= replicas {
                replicas
            } else {
                (current_new + room).min(replicas)
            });
            // Old replicas go as far as the availability floor allows; unavailable ones first.
            let available: u64 = owned.iter().map(|rs| int(rs, "/status/availableReplicas")).sum();
            let min_available = replicas.saturating_sub(max_unavailable);
            let mut budget = available.saturating_sub(min_available);
            for rs in &old {
                let want = spec_replicas(rs);
                let unhealthy = want.saturating_sub(int(rs, "/status/availableReplicas"));
                let mut to = want - unhealthy.min(want);
                let cut = budget.min(to);
                to -= cut;
                budget -= cut;
                scale(rs, to, &mut plan);
            }
        }
    }

    // The new revision's ReplicaSet: made when missing, its revision raised above the old ones.
    let wanted_revision = match new_rs.map(revision) {
        Some(r) if r > max_old_revision => r,
        _ => max_old_revision + 1,
    };
    match new_rs {
        None if !paused => {
            let mut labels = template
                .pointer("/metadata/labels")
                .cloned()
                .unwrap_or_else(|| json!({}));
            labels[HASH_LABEL] = json!(hash);
            let mut rs_template = template.clone();
            rs_template["metadata"]["labels"] = labels.clone();
            let mut selector = deploy
                .pointer("/spec/selector")
                .cloned()
                .unwrap_or_else(|| json!({}));
            selector["matchLabels"][HASH_LABEL] = json!(hash);
            let mut annotations = deploy
                .pointer("/metadata/annotations")
                .cloned()
                .filter(Value::is_object)
                .unwrap_or_else(|| json!({}));
            if let Some(a) = annotations.as_object_mut() {
                a.retain(|k, _| !k.starts_with("kubectl.kubernetes.io/last-applied"));
            }
            annotations[REVISION_ANNOTATION] = json!(wanted_revision.to_string());
            annotations["deployment.kubernetes.io/desired-replicas"] = json!(replicas.to_string());
            annotations["deployment.kubernetes.io/max-replicas"] = json!((replicas + max_surge).to_string());
            plan.actions.push(Action::CreateObject {
                kind: "ReplicaSet".into(),
                namespace: namespace.clone(),
                object: json!({
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "metadata": {
                        "name": new_name,
                        "namespace": namespace,
                        "labels": labels,
                        "annotations": annotations,
                        "ownerReferences": [owner.to_json()],
                    },
                    "spec": {
                        "replicas": new_desired.unwrap_or(0),
                        "minReadySeconds": min_ready,
                        "selector": selector,
                        "template": rs_template,
                    },
                }),
            });
        }
        Some(rs) => {
            let mut changed = rs.clone();
            if let Some(n) = new_desired.filter(|_| !paused) {
                changed["spec"]["replicas"] = json!(n);
            }
            changed["spec"]["minReadySeconds"] = json!(min_ready);
            changed["metadata"]["annotations"][REVISION_ANNOTATION] = json!(wanted_revision.to_string());
            if &changed != rs {
                plan.actions.push(Action::ReplaceObject {
                    kind: "ReplicaSet".into(),
                    namespace: namespace.clone(),
                    object: changed,
                });
            }
        }
        None => {}
    }

    // Old revisions beyond the history limit go, oldest first, once they have no pods.
    let limit = deploy
        .pointer("/spec/revisionHistoryLimit")
        .and_then(Value::as_u64)
        .unwrap_or(10) as usize;
    let idle: Vec<&&Value> = old
        .iter()
        .filter(|rs| spec_replicas(rs) == 0 && pods_of(rs) == 0)
        .collect();
    for rs in idle.iter().take(idle.len().saturating_sub(limit)) {
        plan.actions.push(Action::DeleteObject {
            kind: "ReplicaSet".into(),
            namespace: namespace.clone(),
            name: str_at(rs, "/metadata/name").unwrap_or_default().to_owned(),
        });
    }

    let status = status(
        deploy,
        new_rs,
        &owned,
        &new_name,
        replicas,
        max_unavailable,
        paused,
        now,
        &mut plan,
    );
    if deploy.get("status") != Some(&status) {
        plan.actions.push(Action::UpdateOwnerStatus {
            kind: "Deployment".into(),
            namespace,
            name: owner.name,
            status,
        });
    }
    plan
}

/// The Deployment's status from its ReplicaSets' (as their controller last wrote them).
#[allow(clippy::too_many_arguments)]
fn status(
    deploy: &Value,
    new_rs: Option<&Value>,
    owned: &[&Value],
    new_name: &str,
    replicas: u64,
    max_unavailable: u64,
    paused: bool,
    now: jiff::Timestamp,
    plan: &mut Plan,
) -> Value {
    let sum = |p: &str| owned.iter().map(|rs| int(rs, p)).sum::<u64>();
    let updated = new_rs.map_or(0, |rs| int(rs, "/status/replicas"));
    let total = sum("/status/replicas");
    let ready = sum("/status/readyReplicas");
    let available = sum("/status/availableReplicas");
    let previous = |kind: &str| {
        deploy
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|cs| cs.iter().find(|c| c["type"] == kind))
            .cloned()
    };
    let stamp = json!(now.round(jiff::Unit::Second).unwrap_or(now).to_string());
    // A condition keeps its times unless what it says changes.
    let condition = |kind: &str, status: &str, reason: &str, message: String, progressed: bool| {
        let before = previous(kind);
        let same = before
            .as_ref()
            .is_some_and(|b| b["status"] == status && b["reason"] == reason);
        let transition = before
            .as_ref()
            .filter(|_| same)
            .map(|b| b["lastTransitionTime"].clone())
            .unwrap_or_else(|| stamp.clone());
        let update = before
            .as_ref()
            .filter(|_| same && !progressed)
            .map(|b| b["lastUpdateTime"].clone())
            .unwrap_or_else(|| stamp.clone());
        json!({"type": kind, "status": status, "reason": reason, "message": message,
            "lastTransitionTime": transition, "lastUpdateTime": update})
    };
    let (a_status, a_reason, a_message) = if available >= replicas.saturating_sub(max_unavailable) {
        (
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
        )
    } else {
        (
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        )
    };
    let available_condition = condition("Available", a_status, a_reason, a_message.into(), false);
    let complete = new_rs.is_some()
        && updated == replicas
        && available >= replicas
        && total == updated
        && int(new_rs.unwrap_or(&Value::Null), "/status/availableReplicas") >= replicas;
    let before = deploy.get("status");
    let progressed = before.is_none_or(|b| {
        int(b, "/updatedReplicas") != updated
            || int(b, "/availableReplicas") != available
            || int(b, "/readyReplicas") != ready
            || int(b, "/replicas") != total
    });
    let deadline = deploy
        .pointer("/spec/progressDeadlineSeconds")
        .and_then(Value::as_u64)
        .unwrap_or(600);
    let progressing = if paused {
        condition(
            "Progressing",
            "Unknown",
            "DeploymentPaused",
            "Deployment is paused".into(),
            false,
        )
    } else if complete {
        condition(
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            format!("ReplicaSet \"{new_name}\" has successfully progressed."),
            false,
        )
    } else {
        let last = previous("Progressing");
        let exceeded_before = last
            .as_ref()
            .is_some_and(|c| c["reason"] == "ProgressDeadlineExceeded");
        let since = last
            .as_ref()
            .filter(|c| c["status"] == "True" && c["reason"] == "ReplicaSetUpdated")
            .and_then(|c| c["lastUpdateTime"].as_str())
            .and_then(|t| t.parse::<jiff::Timestamp>().ok());
        let waited = since.map_or(Duration::ZERO, |s| now.duration_since(s).unsigned_abs());
        if !progressed && (exceeded_before || waited >= Duration::from_secs(deadline)) {
            condition(
                "Progressing",
                "False",
                "ProgressDeadlineExceeded",
                format!("ReplicaSet \"{new_name}\" has timed out progressing."),
                false,
            )
        } else {
            if since.is_some() && !progressed {
                plan.requeue(Duration::from_secs(deadline).saturating_sub(waited));
            } else {
                plan.requeue(Duration::from_secs(deadline));
            }
            condition(
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                format!("ReplicaSet \"{new_name}\" is progressing."),
                progressed,
            )
        }
    };
    json!({
        "observedGeneration": deploy.pointer("/metadata/generation").cloned().unwrap_or(json!(1)),
        "replicas": total,
        "updatedReplicas": updated,
        "readyReplicas": ready,
        "availableReplicas": available,
        "unavailableReplicas": replicas.saturating_sub(available),
        "conditions": [available_condition, progressing],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(secs: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    fn deploy(replicas: u64, image: &str) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "uid": "d-1", "generation": 2},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                "progressDeadlineSeconds": 60,
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": image}]}}}
        })
    }

    /// The ReplicaSets after applying the plan's creates and replaces, with every pod of
    /// every one at once available (what the RS controller would report).
    fn step(d: &Value, rss: &mut Vec<Value>, now: jiff::Timestamp) -> Plan {
        let plan = reconcile(d, rss, &[], now);
        for a in &plan.actions {
            match a {
                Action::CreateObject { object, .. } => {
                    let mut o = object.clone();
                    o["metadata"]["uid"] = json!(format!("rs-{}", rss.len()));
                    rss.push(o);
                }
                Action::ReplaceObject { object, .. } => {
                    let name = str_at(object, "/metadata/name").unwrap();
                    let rs = rss
                        .iter_mut()
                        .find(|r| str_at(r, "/metadata/name") == Some(name))
                        .unwrap();
                    *rs = object.clone();
                }
                Action::DeleteObject { name, .. } => {
                    rss.retain(|r| str_at(r, "/metadata/name") != Some(name))
                }
                _ => {}
            }
        }
        for rs in rss.iter_mut() {
            let n = int(rs, "/spec/replicas");
            rs["status"] = json!({"replicas": n, "readyReplicas": n, "availableReplicas": n});
        }
        plan
    }

    #[test]
    fn surge_rounds_up_and_unavailable_rounds_down() {
        assert_eq!(resolve(Some(&json!("25%")), 3, "25%", true), 1);
        assert_eq!(resolve(Some(&json!("25%")), 3, "25%", false), 0);
        assert_eq!(resolve(None, 20, "25%", true), 5);
        assert_eq!(resolve(Some(&json!(2)), 20, "25%", false), 2);
        assert_eq!(template_hash(&json!({"a": 1})), template_hash(&json!({"a": 1})));
        assert_ne!(template_hash(&json!({"a": 1})), template_hash(&json!({"a": 2})));
        // regression: kubectl's rollback sends `creationTimestamp: null`; it is the same template.
        assert_eq!(
            template_hash(&json!({"metadata": {"labels": {"a": "b"}}})),
            template_hash(&json!({"metadata": {"labels": {"a": "b"}, "creationTimestamp": null}, "x": {}}))
        );
    }

    #[test]
    fn orphaned_replica_sets_of_its_selector_are_adopted_before_anything_else() {
        let mut rss = Vec::new();
        let d = deploy(2, "web:1");
        step(&d, &mut rss, ts(0));
        // The Deployment deleted with --cascade=orphan, then applied again (a new uid).
        rss[0]["metadata"]["ownerReferences"] = json!([]);
        let mut other = rss[0].clone();
        other["metadata"]["name"] = json!("other");
        other["metadata"]["labels"] = json!({"app": "other"});
        rss.push(other);
        let mut d2 = d.clone();
        d2["metadata"]["uid"] = json!("d-2");
        let plan = step(&d2, &mut rss, ts(1));
        assert_eq!(plan.actions.len(), 1, "{:?}", plan.actions);
        assert_eq!(controller_uid(&rss[0]), Some("d-2"));
        assert_eq!(controller_uid(&rss[1]), None, "another selector's is left alone");
        // Adopted, it is the current revision: nothing new is made and nothing scaled.
        let plan = step(&d2, &mut rss, ts(2));
        assert_eq!(rss.len(), 2);
        assert!(
            !plan
                .actions
                .iter()
                .any(|a| matches!(a, Action::CreateObject { .. } | Action::ReplaceObject { .. })),
            "{:?}",
            plan.actions
        );
    }

    #[test]
    fn a_rolling_update_never_goes_below_the_floor_nor_above_the_surge() {
        let mut rss = Vec::new();
        let v1 = deploy(3, "web:1");
        step(&v1, &mut rss, ts(0));
        assert_eq!(rss.len(), 1);
        assert_eq!(int(&rss[0], "/spec/replicas"), 3);
        assert_eq!(revision(&rss[0]), 1);
        let first = str_at(&rss[0], "/metadata/name").unwrap().to_owned();
        assert!(first.starts_with("web-"));
        let v2 = deploy(3, "web:2");
        for i in 0..10 {
            step(&v2, &mut rss, ts(i));
            let total: u64 = rss.iter().map(|r| int(r, "/spec/replicas")).sum();
            assert!(total <= 4, "surge of 1 exceeded: {total}");
            assert!(
                total >= 3,
                "went below 3 (maxUnavailable 0 for 3 replicas): {total}"
            );
        }
        assert_eq!(rss.len(), 2);
        let new = rss.iter().find(|r| revision(r) == 2).unwrap();
        assert_eq!(int(new, "/spec/replicas"), 3);
        let old = rss.iter().find(|r| revision(r) == 1).unwrap();
        assert_eq!(int(old, "/spec/replicas"), 0);
        // Undo: the old template again is the old ReplicaSet, raised to revision 3.
        for i in 10..20 {
            step(&v1, &mut rss, ts(i));
        }
        let back = rss
            .iter()
            .find(|r| str_at(r, "/metadata/name") == Some(first.as_str()))
            .unwrap();
        assert_eq!((revision(back), int(back, "/spec/replicas")), (3, 3));
    }

    #[test]
    fn recreate_scales_old_to_zero_before_the_new_one_grows() {
        let mut rss = Vec::new();
        let mut v1 = deploy(2, "web:1");
        v1["spec"]["strategy"] = json!({"type": "Recreate"});
        step(&v1, &mut rss, ts(0));
        let mut v2 = v1.clone();
        v2["spec"]["template"]["spec"]["containers"][0]["image"] = json!("web:2");
        let plan = reconcile(
            &v2,
            &rss,
            &[json!({"metadata": {"name": "p", "namespace": "default",
            "ownerReferences": [{"uid": "rs-0", "controller": true}]}, "status": {"phase": "Running"}})],
            ts(1),
        );
        let created = plan.actions.iter().find_map(|a| match a {
            Action::CreateObject { object, .. } => Some(int(object, "/spec/replicas")),
            _ => None,
        });
        assert_eq!(created, Some(0), "no new pod while an old one runs");
        step(&v2, &mut rss, ts(2));
        step(&v2, &mut rss, ts(3));
        let new = rss.iter().find(|r| revision(r) == 2).unwrap();
        assert_eq!(int(new, "/spec/replicas"), 2);
    }

    #[test]
    fn paused_deployments_make_no_new_revision_and_say_so() {
        let mut rss = Vec::new();
        step(&deploy(1, "web:1"), &mut rss, ts(0));
        let mut v2 = deploy(1, "web:2");
        v2["spec"]["paused"] = json!(true);
        let plan = step(&v2, &mut rss, ts(1));
        assert_eq!(rss.len(), 1);
        let status = plan.actions.iter().find_map(|a| match a {
            Action::UpdateOwnerStatus { status, .. } => Some(status.clone()),
            _ => None,
        });
        assert_eq!(status.unwrap()["conditions"][1]["reason"], "DeploymentPaused");
    }

    #[test]
    fn no_progress_past_the_deadline_is_progress_deadline_exceeded() {
        let mut d = deploy(1, "web:1");
        // Its ReplicaSet exists but its pod never becomes available.
        let mut rss = Vec::new();
        let plan = reconcile(&d, &rss, &[], ts(0));
        for a in plan.actions {
            match a {
                Action::CreateObject { mut object, .. } => {
                    object["metadata"]["uid"] = json!("rs-0");
                    object["status"] = json!({"replicas": 1, "readyReplicas": 0, "availableReplicas": 0});
                    rss.push(object);
                }
                Action::UpdateOwnerStatus { status, .. } => d["status"] = status,
                _ => {}
            }
        }
        let at = |d: &mut Value, t: i64| {
            for a in reconcile(d, &rss, &[], ts(t)).actions {
                if let Action::UpdateOwnerStatus { status, .. } = a {
                    d["status"] = status;
                }
            }
            d["status"]["conditions"][1]["reason"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(at(&mut d, 1), "ReplicaSetUpdated");
        assert_eq!(at(&mut d, 30), "ReplicaSetUpdated");
        assert_eq!(at(&mut d, 62), "ProgressDeadlineExceeded");
        assert_eq!(d["status"]["conditions"][1]["status"], "False");
        assert_eq!(at(&mut d, 70), "ProgressDeadlineExceeded");
    }
}
