//! The Job controller, as a pure function from a Job and its pods to actions: pods run to
//! completion (`completions`, at most `parallelism` at once), failures counted against
//! `backoffLimit` (failed pods under `Never`, restarts under `OnFailure`), `activeDeadlineSeconds`,
//! the Complete and Failed conditions, and `ttlSecondsAfterFinished`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::kube::reconcile::{
    Action, OwnerRef, Plan, controller_uid, is_active, is_terminating, key, str_at,
};

fn int(v: &Value, pointer: &str) -> Option<u64> {
    v.pointer(pointer).and_then(Value::as_u64)
}

fn condition_true(job: &Value, kind: &str) -> bool {
    job.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == kind && c["status"] == "True"))
}

fn phase(pod: &Value) -> &str {
    str_at(pod, "/status/phase").unwrap_or("Pending")
}

/// What one Job needs now. `pods` are those of its namespace.
/// `backoff_base`: the delay before the pod after the first failure; it doubles with each further
/// failed pod, up to the restart back-off's cap, as Kubernetes' Job controller waits (10 s by
/// default).
pub fn reconcile(job: &Value, pods: &[Value], now: jiff::Timestamp, backoff_base: Duration) -> Plan {
    let mut plan = Plan::default();
    let (Some(owner), false) = (OwnerRef::of(job), is_terminating(job)) else {
        return plan;
    };
    let namespace = str_at(job, "/metadata/namespace").unwrap_or("default").to_owned();
    let stamp = |t: jiff::Timestamp| t.round(jiff::Unit::Second).unwrap_or(t).to_string();
    let mine: Vec<&Value> = pods
        .iter()
        .filter(|p| controller_uid(p) == Some(owner.uid.as_str()))
        .collect();
    let succeeded = mine.iter().filter(|p| phase(p) == "Succeeded").count() as u64;
    let restarts: u64 = mine
        .iter()
        .flat_map(|p| {
            p.pointer("/status/containerStatuses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .filter_map(|c| c.get("restartCount").and_then(Value::as_u64))
        .sum();
    let failed_pods = mine.iter().filter(|p| phase(p) == "Failed").count() as u64;
    let failed = failed_pods + restarts;
    let active: Vec<&&Value> = mine.iter().filter(|p| is_active(p)).collect();
    let completions = int(job, "/spec/completions");
    let parallelism = int(job, "/spec/parallelism").unwrap_or(1);
    let backoff_limit = int(job, "/spec/backoffLimit").unwrap_or(6);
    let start = str_at(job, "/status/startTime")
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .unwrap_or(now);
    let finished = condition_true(job, "Complete") || condition_true(job, "Failed");
    let mut status = job
        .get("status")
        .cloned()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    status["startTime"] = json!(str_at(job, "/status/startTime").map_or_else(|| stamp(now), str::to_owned));

    if !finished {
        let deadline = int(job, "/spec/activeDeadlineSeconds").map(Duration::from_secs);
        let ran = now.duration_since(start).unsigned_abs();
        let failure = if failed > backoff_limit {
            Some((
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
            ))
        } else if deadline.is_some_and(|d| ran >= d) {
            Some((
                "DeadlineExceeded",
                "Job was active longer than specified deadline",
            ))
        } else {
            if let Some(d) = deadline {
                plan.requeue(d - ran);
            }
            None
        };
        let done = match completions {
            Some(c) => succeeded >= c,
            // No completions: done when one pod succeeded and none runs.
            None => succeeded > 0 && active.is_empty(),
        };
        let ended = |kind: &str, reason: &str, message: &str| {
            json!([{"type": kind, "status": "True", "reason": reason, "message": message,
                "lastProbeTime": stamp(now), "lastTransitionTime": stamp(now)}])
        };
        if let Some((reason, message)) = failure {
            status["conditions"] = ended("Failed", reason, message);
            for p in &active {
                let (namespace, name) = key(p);
                plan.actions.push(Action::DeletePod { namespace, name });
            }
        } else if done {
            status["conditions"] = ended(
                "Complete",
                "CompletionsReached",
                "Reached expected number of succeeded pods",
            );
            status["completionTime"] = json!(stamp(now));
            for p in &active {
                let (namespace, name) = key(p);
                plan.actions.push(Action::DeletePod { namespace, name });
            }
        } else if let Some(wait) = backoff_left(&mine, failed_pods, now, backoff_base) {
            plan.requeue(wait);
        } else {
            let remaining = completions.map_or(1, |c| c.saturating_sub(succeeded));
            let wanted = parallelism.min(remaining) as usize;
            for _ in active.len()..wanted {
                plan.actions.push(Action::CreatePod {
                    namespace: namespace.clone(),
                    owner: owner.clone(),
                    template: job.pointer("/spec/template").cloned().unwrap_or(Value::Null),
                });
            }
        }
    } else if let Some(ttl) = int(job, "/spec/ttlSecondsAfterFinished") {
        let ended_at = str_at(job, "/status/completionTime")
            .or_else(|| str_at(job, "/status/conditions/0/lastTransitionTime"))
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .unwrap_or(now);
        let since = now.duration_since(ended_at).unsigned_abs();
        if since >= Duration::from_secs(ttl) {
            plan.actions.push(Action::DeleteObject {
                kind: "Job".into(),
                namespace: namespace.clone(),
                name: owner.name.clone(),
            });
            return plan;
        }
        plan.requeue(Duration::from_secs(ttl) - since);
    }
    status["active"] = json!(active.len());
    status["succeeded"] = json!(succeeded);
    status["failed"] = json!(failed);
    status["ready"] = json!(
        active
            .iter()
            .filter(|p| p
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True")))
            .count()
    );
    status["terminating"] = json!(mine.iter().filter(|p| is_terminating(p)).count());
    if job.get("status") != Some(&status) {
        plan.actions.push(Action::UpdateOwnerStatus {
            kind: "Job".into(),
            namespace,
            name: owner.name,
            status,
        });
    }
    plan
}

/// How long the next pod must still wait after the newest failed one ended, if at all.
fn backoff_left(mine: &[&Value], failed_pods: u64, now: jiff::Timestamp, base: Duration) -> Option<Duration> {
    let last_failure = mine
        .iter()
        .filter(|p| phase(p) == "Failed")
        .flat_map(|p| {
            p.pointer("/status/containerStatuses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .filter_map(|c| {
            str_at(c, "/state/terminated/finishedAt")?
                .parse::<jiff::Timestamp>()
                .ok()
        })
        .max()?;
    let delay = crate::kube::reconcile::backoff(
        base,
        u32::try_from(failed_pods.saturating_sub(1)).unwrap_or(u32::MAX),
    );
    let elapsed = if now > last_failure {
        now.duration_since(last_failure).unsigned_abs()
    } else {
        Duration::ZERO
    };
    delay.checked_sub(elapsed).filter(|left| !left.is_zero())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: Duration = Duration::from_secs(10);

    fn ts(secs: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    fn job(completions: u64, parallelism: u64) -> Value {
        json!({"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "work", "namespace": "default", "uid": "j-1"},
            "spec": {"completions": completions, "parallelism": parallelism, "backoffLimit": 1,
                "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x"}]}}}})
    }

    fn pod(name: &str, phase: &str) -> Value {
        json!({"metadata": {"name": name, "namespace": "default",
            "ownerReferences": [{"uid": "j-1", "controller": true}]},
            "status": {"phase": phase}})
    }

    fn creates(plan: &Plan) -> usize {
        plan.actions
            .iter()
            .filter(|a| matches!(a, Action::CreatePod { .. }))
            .count()
    }

    fn status(plan: &Plan) -> Value {
        plan.actions
            .iter()
            .find_map(|a| match a {
                Action::UpdateOwnerStatus { status, .. } => Some(status.clone()),
                _ => None,
            })
            .unwrap_or(Value::Null)
    }

    #[test]
    fn completions_three_parallelism_two_runs_two_then_one() {
        let j = job(3, 2);
        assert_eq!(creates(&reconcile(&j, &[], ts(0), BASE)), 2);
        let two_running = [pod("a", "Running"), pod("b", "Running")];
        assert_eq!(creates(&reconcile(&j, &two_running, ts(1), BASE)), 0);
        let one_done = [pod("a", "Succeeded"), pod("b", "Succeeded")];
        assert_eq!(creates(&reconcile(&j, &one_done, ts(2), BASE)), 1);
        let all = [
            pod("a", "Succeeded"),
            pod("b", "Succeeded"),
            pod("c", "Succeeded"),
        ];
        let s = status(&reconcile(&j, &all, ts(3), BASE));
        assert_eq!(s["conditions"][0]["type"], "Complete");
        assert_eq!(s["succeeded"], 3);
    }

    fn failed_at(name: &str, secs: i64) -> Value {
        let mut p = pod(name, "Failed");
        p["status"]["containerStatuses"] = json!([{"name": "c", "state": {"terminated": {"exitCode": 3, "finishedAt": ts(secs).to_string()}}}]);
        p
    }

    #[test]
    fn the_next_pod_after_a_failure_waits_a_backoff_that_doubles() {
        let mut j = job(1, 1);
        j["spec"]["backoffLimit"] = json!(6);
        let one = [failed_at("a", 0)];
        let plan = reconcile(&j, &one, ts(4), BASE);
        assert_eq!(creates(&plan), 0, "10 s after the first failure");
        assert_eq!(plan.requeue_after, Some(Duration::from_secs(6)));
        assert_eq!(creates(&reconcile(&j, &one, ts(10), BASE)), 1);
        let two = [failed_at("a", 0), failed_at("b", 20)];
        assert_eq!(
            creates(&reconcile(&j, &two, ts(35), BASE)),
            0,
            "20 s after the second"
        );
        assert_eq!(creates(&reconcile(&j, &two, ts(40), BASE)), 1);
    }

    #[test]
    fn failures_past_the_backoff_limit_fail_the_job() {
        let j = job(1, 1);
        let one = [pod("a", "Failed")];
        assert_eq!(
            creates(&reconcile(&j, &one, ts(0), BASE)),
            1,
            "one failure is within the limit"
        );
        let two = [pod("a", "Failed"), pod("b", "Failed")];
        let plan = reconcile(&j, &two, ts(1), BASE);
        assert_eq!(creates(&plan), 0);
        let s = status(&plan);
        assert_eq!(s["conditions"][0]["type"], "Failed");
        assert_eq!(s["conditions"][0]["reason"], "BackoffLimitExceeded");
    }

    #[test]
    fn the_active_deadline_and_the_ttl_end_a_job() {
        let mut j = job(1, 1);
        j["spec"]["activeDeadlineSeconds"] = json!(10);
        j["status"] = json!({"startTime": ts(0).to_string()});
        let plan = reconcile(&j, &[pod("a", "Running")], ts(11), BASE);
        assert_eq!(status(&plan)["conditions"][0]["reason"], "DeadlineExceeded");
        assert!(plan.actions.iter().any(|a| matches!(a, Action::DeletePod { .. })));
        let mut done = job(1, 1);
        done["spec"]["ttlSecondsAfterFinished"] = json!(5);
        done["status"] = json!({"completionTime": ts(0).to_string(),
            "conditions": [{"type": "Complete", "status": "True"}]});
        assert_eq!(
            reconcile(&done, &[], ts(2), BASE).requeue_after,
            Some(Duration::from_secs(3))
        );
        assert!(
            reconcile(&done, &[], ts(6), BASE)
                .actions
                .iter()
                .any(|a| matches!(a, Action::DeleteObject { .. }))
        );
    }
}
