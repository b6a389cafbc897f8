//! The controller runs [`reconcile`] again and again, on every change to the store and at least
//! every second: it observes jube's containers, then carries out the plan. Container work (pulls,
//! scripts) runs in the background, one job per container at a time, so a slow start.sh never holds
//! up the rest.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::container::lifecycle::{Containers, ImageSource, StartOutcome};
use crate::container::platform;
use crate::container::scripts;
use crate::container::state::{POD_LABEL, State, Status};
use crate::kube::cluster_ip::{self, ServiceRange};
use crate::kube::daemon::DaemonLog;
use crate::kube::endpoints;
use crate::kube::events::{self, EventType, source};
use crate::kube::gc;
use crate::kube::hosts::{self, ServiceNames};
use crate::kube::kinds::Kind;
use crate::kube::podenv;
use crate::kube::pods::{self, CONTAINER_LABEL, POD_UID_LABEL};
use crate::kube::probes;
use crate::kube::proxy::{self, ProxyManager, ServiceKey};
use crate::kube::reconcile::{self, Action, Config, Failures, Observed, OwnerRef, PodKey};
use crate::kube::services;
use crate::kube::store::{Batch, Store, StoreError};
use crate::kube::volumes;
use crate::kube::{deployment, job};
use crate::registry::Registry;
use crate::reporter::Silent;

/// How often the controller looks even when nothing changed: the safety net for missed events
/// and for apps that exit on their own.
pub const RESYNC: Duration = Duration::from_secs(1);
/// How long a wake waits for more of the same burst before the pass it asks for.
const BURST: Duration = Duration::from_millis(25);
/// While many container jobs run (a scale-up of many pods), each one that ends wakes the loop; a
/// look every this often is enough then (each look reads every container), and the last job to
/// end wakes it at once. A rollout's few jobs at a time are looked at as they end.
const BUSY_PERIOD: Duration = Duration::from_millis(100);
const BUSY_JOBS: usize = 16;
/// A pass whose own writes give the next one work (a pod's status, then its ReplicaSet's, then a
/// scale, then new pods) looks again at once rather than after a burst's wait, this many times in
/// a row at most: each step of a rollout's wave is one pass.
const CHAIN: u32 = 4;
/// How long a pod's containers get to stop when the pod goes.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Where Services get their addresses and where their names are kept.
pub struct ServiceAddressing {
    pub range: ServiceRange,
    /// What tells this daemon's addresses from another's (its JUBE_HOME).
    pub salt: String,
    pub names: Arc<ServiceNames>,
}

pub struct Controller {
    addressing: ServiceAddressing,
    store: Arc<Store>,
    proxies: Arc<ProxyManager>,
    containers: Containers,
    log: DaemonLog,
    config: Config,
    /// Keys of container jobs running now; a job is never started twice.
    busy: Arc<Mutex<HashSet<String>>>,
    /// Why a pod container could not be made, and when to try again.
    failures: Arc<Mutex<HashMap<(PodKey, String), Failure>>>,
    /// Exit codes learnt from reaping, by pid, until recorded in the container's state.
    exits: Mutex<HashMap<u32, i32>>,
    /// Wakes the loop when a background job ends.
    wake: Arc<tokio::sync::Notify>,
    /// Told when the last running background job ends.
    idle: Arc<tokio::sync::Notify>,
    /// Counts finished jobs: a plan made before a job ended may be stale for containers.
    finished_jobs: Arc<AtomicU64>,
    /// When written volumes were last brought in step with their sources.
    volumes_synced: Mutex<Option<Instant>>,
    /// When expired events were last removed.
    events_expired: Mutex<Option<Instant>>,
    /// The probes running for each probed container, by container id.
    probes: Mutex<HashMap<String, ProbeRun>>,
    events: events::Recorder,
}

/// A container's probes, for one run of it.
struct ProbeRun {
    started_at: Option<jiff::Timestamp>,
    health: Arc<Mutex<probes::Health>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ProbeRun {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How often written volumes follow their ConfigMaps and Secrets (Kubernetes promises about a
/// minute; jube's promise is 10 s).
const VOLUME_SYNC: Duration = Duration::from_secs(3);
/// How often expired events are looked for, at the most.
const EVENT_EXPIRY: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
struct Failure {
    reason: String,
    message: String,
    attempts: u32,
    retry_at: Instant,
}

impl Controller {
    pub fn new(
        store: Arc<Store>,
        proxies: Arc<ProxyManager>,
        containers: Containers,
        log: DaemonLog,
        config: Config,
        addressing: ServiceAddressing,
    ) -> Arc<Self> {
        Arc::new(Self {
            addressing,
            events: events::Recorder::new(store.clone()),
            store,
            proxies,
            containers,
            log,
            config,
            busy: Arc::default(),
            failures: Arc::default(),
            exits: Mutex::default(),
            wake: Arc::default(),
            idle: Arc::default(),
            finished_jobs: Arc::default(),
            volumes_synced: Mutex::default(),
            events_expired: Mutex::default(),
            probes: Mutex::default(),
        })
    }

    /// Runs until `stop` says so.
    pub async fn run(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        if platform::become_subreaper() {
            self.log
                .line("reaping orphaned app processes (exit codes of apps started by start.sh are known)");
        }
        let mut changes = self.store.subscribe();
        let mut chained = 0;
        loop {
            let looked = Instant::now();
            let (requeue, wrote) = match self.clone().pass().await {
                Ok(r) => r,
                Err(e) => {
                    self.log.line(&format!("reconcile failed: {e}"));
                    (None, false)
                }
            };
            let in_flight = self.busy.lock().unwrap_or_else(|p| p.into_inner()).len();
            if wrote && chained < CHAIN && in_flight < BUSY_JOBS && !*stop.borrow() {
                chained += 1;
                // What this pass wrote is what the next one reads: no wake is needed for it.
                while changes.try_recv().is_ok() {}
                continue;
            }
            chained = 0;
            let wait = requeue
                .map_or(RESYNC, |r| r.min(RESYNC))
                .max(Duration::from_millis(20));
            let woken = tokio::select! {
                _ = object_change(&mut changes) => true,
                _ = self.wake.notified() => true,
                _ = tokio::time::sleep(wait) => false,
                _ = stop.changed() => false,
            };
            if woken {
                // A burst (an apply of many objects, many containers started at once) is handled
                // in one pass: each pass looks at every container, so one a wake costs n².
                tokio::time::sleep(BURST).await;
                let in_flight = self.busy.lock().unwrap_or_else(|p| p.into_inner()).len();
                if in_flight >= BUSY_JOBS {
                    tokio::select! {
                        _ = tokio::time::sleep_until((looked + BUSY_PERIOD).into()) => {}
                        _ = self.idle.notified() => {}
                        _ = stop.changed() => {}
                    }
                }
                while changes.try_recv().is_ok() {}
            }
            if *stop.borrow() {
                return;
            }
        }
    }

    /// One look: observe, plan, act. Returns when to look again at the latest, and whether the
    /// look changed any object.
    async fn pass(self: Arc<Self>) -> Result<(Option<Duration>, bool), StoreError> {
        for (kind, namespace, name) in gc::finish_foreground_deletions(&self.store)? {
            self.log.line(&format!(
                "deleted {} {namespace}/{name} (its dependants are gone)",
                kind.singular()
            ));
        }
        let (pods, _) = self.store.list(Kind::Pod, None)?;
        let (mut owners, _) = self.store.list(Kind::ReplicationController, None)?;
        let (replica_sets, _) = self.store.list(Kind::ReplicaSet, None)?;
        let (deployments, _) = self.store.list(Kind::Deployment, None)?;
        let (jobs, _) = self.store.list(Kind::Job, None)?;
        owners.extend(replica_sets.iter().cloned());
        let jobs_before = self.finished_jobs.load(Ordering::SeqCst);
        let me = self.clone();
        let declared = declared_ports(&pods);
        let observed = tokio::task::spawn_blocking(move || me.observe(&declared))
            .await
            .unwrap_or_default();
        let observed = self.clone().apply_probes(&pods, observed);
        let failures = self.current_failures();
        let now = jiff::Timestamp::now();
        let job_uids: HashSet<String> = jobs
            .iter()
            .filter_map(|j| reconcile::str_at(j, "/metadata/uid").map(str::to_owned))
            .collect();
        let mut plan =
            reconcile::reconcile_with(&pods, &owners, &job_uids, &observed, &failures, now, self.config);
        let mut workloads: Vec<reconcile::Plan> = deployments
            .iter()
            .map(|d| deployment::reconcile(d, &replica_sets, &pods, now))
            .chain(
                jobs.iter()
                    .map(|j| job::reconcile(j, &pods, now, self.config.backoff_base)),
            )
            .collect();
        // ReplicaSets whose Deployment is gone are collected too.
        let deployment_uids: HashSet<&str> = deployments
            .iter()
            .filter_map(|d| reconcile::str_at(d, "/metadata/uid"))
            .collect();
        for rs in &replica_sets {
            if let Some(owner) = reconcile::controller_uid(rs)
                && !deployment_uids.contains(owner)
            {
                let (namespace, name) = reconcile::key(rs);
                workloads.push(reconcile::Plan {
                    actions: vec![Action::DeleteObject {
                        kind: "ReplicaSet".into(),
                        namespace,
                        name,
                    }],
                    requeue_after: None,
                });
            }
        }
        for w in workloads {
            plan.actions.extend(w.actions);
            if let Some(r) = w.requeue_after {
                plan.requeue(r);
            }
        }
        let (containers, objects): (Vec<Action>, Vec<Action>) = plan
            .actions
            .into_iter()
            .partition(|a| matches!(a, Action::StartContainer { .. } | Action::RemoveContainer { .. }));
        let revision = self.store.revision()?;
        let (statuses, objects): (Vec<Action>, Vec<Action>) = objects
            .into_iter()
            .partition(|a| matches!(a, Action::UpdatePodStatus { .. }));
        self.update_pod_statuses(statuses, &pods)?;
        let (creates, objects): (Vec<Action>, Vec<Action>) = objects
            .into_iter()
            .partition(|a| matches!(a, Action::CreatePod { .. }));
        self.create_pods(creates)?;
        for action in objects {
            self.clone().act(action, &pods)?;
        }
        // Services first, so containers made in this pass see where the proxies listen.
        self.sync_services(&observed).await?;
        let wrote = self.store.revision()? != revision;
        if due(&self.volumes_synced, VOLUME_SYNC) {
            let me = self.clone();
            let pods = pods.clone();
            // Not a container job: it neither counts as one nor wakes the loop.
            tokio::task::spawn_blocking(move || me.sync_volumes(&pods));
        }
        // Container work planned from what a job has since changed waits for the next pass.
        if self.finished_jobs.load(Ordering::SeqCst) == jobs_before {
            for action in containers {
                self.clone().act(action, &pods)?;
            }
        }
        Ok((plan.requeue_after, wrote))
    }

    /// Points each service's proxies at its ready pods and records where they listen.
    async fn sync_services(&self, observed: &[Observed]) -> Result<(), StoreError> {
        let (mut services, _) = self.store.list(Kind::Service, None)?;
        let addressing = &self.addressing;
        cluster_ip::backfill(
            &self.store,
            &addressing.range,
            &addressing.salt,
            &mut services,
            &self.log,
        )?;
        // Readiness as this pass computed it is in the store now; read the pods again for it.
        let (fresh_pods, _) = self.store.list(Kind::Pod, None)?;
        let desired = services::desired(&services, &fresh_pods, observed, &self.addressing.range);
        let listening = self.proxies.sync(&desired).await;
        let hosts = self.proxies.service_hosts().await;
        for svc in &services {
            let key = ServiceKey::new(
                reconcile::str_at(svc, "/metadata/namespace").unwrap_or("default"),
                reconcile::str_at(svc, "/metadata/name").unwrap_or_default(),
            );
            if let Some(ports) = listening.get(&key) {
                let host = hosts
                    .get(&key)
                    .copied()
                    .unwrap_or_else(|| self.proxies.service_host());
                let status = services::status(svc, host, ports);
                ignore_missing(
                    self.store
                        .update_status(Kind::Service, &key.namespace, &key.name, status),
                )?;
            }
        }
        // Headless Services get no address, so no names either.
        let named: Vec<(ServiceKey, IpAddr)> = services
            .iter()
            .filter(|svc| reconcile::str_at(svc, "/spec/clusterIP") != Some(cluster_ip::HEADLESS))
            .filter_map(|svc| {
                let key = ServiceKey::new(
                    reconcile::str_at(svc, "/metadata/namespace").unwrap_or("default"),
                    reconcile::str_at(svc, "/metadata/name")?,
                );
                let host = *hosts.get(&key)?;
                Some((key, host))
            })
            .collect();
        // The hosts file's lock may be held by another daemon: not on a runtime thread.
        let names = self.addressing.names.clone();
        let entries = hosts::entries(&named);
        if let Err(e) = tokio::task::spawn_blocking(move || names.sync(entries)).await {
            self.log.line(&format!("cannot update the Service names: {e}"));
        }
        endpoints::sync(&self.store, &services, &fresh_pods, observed)
    }

    fn current_failures(&self) -> Failures {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures
            .iter()
            .map(|(k, f)| (k.clone(), (f.reason.clone(), f.message.clone())))
            .collect()
    }

    /// The pod containers as they are now: ended apps recorded (with their exit code when this
    /// daemon reaped them), and each running one's ports checked.
    fn observe(&self, declared: &HashMap<(String, String, String), Vec<u16>>) -> Vec<Observed> {
        // Reaping reads every process's stat, so it is done only when a container has ended, and
        // then before its exit code is looked up.
        let mut reaped = false;
        let mut observed = Vec::new();
        for state in self.containers.list().into_iter().flatten() {
            let Some(pod) = state.labels.get(POD_LABEL).cloned() else {
                continue;
            };
            let Some((ns, name)) = pod.split_once('/') else {
                continue;
            };
            let job = format!(
                "{ns}/{name}/{}",
                state
                    .labels
                    .get(CONTAINER_LABEL)
                    .map(String::as_str)
                    .unwrap_or_default()
            );
            let state = if state.status == Status::Exited && self.is_idle(&job) {
                if state.exit_code.is_none() && !std::mem::replace(&mut reaped, true) {
                    self.reap();
                }
                let pid = state.process.map(|p| p.pid);
                let code = || {
                    let pid = pid?;
                    scripts::take_reaped_exit(pid)
                        .or_else(|| self.exits.lock().unwrap_or_else(|e| e.into_inner()).remove(&pid))
                };
                self.containers.try_observe_exit(&state.id, code).unwrap_or(state)
            } else {
                state
            };
            let container = state.labels.get(CONTAINER_LABEL).cloned().unwrap_or_default();
            let wanted = declared.get(&(ns.to_owned(), name.to_owned(), container.clone()));
            observed.push(Observed {
                id: state.id.clone(),
                pod: (ns.to_owned(), name.to_owned()),
                pod_uid: state.labels.get(POD_UID_LABEL).cloned().unwrap_or_default(),
                container,
                status: state.status,
                exit_code: state.exit_code,
                error: state.error.clone(),
                started_at: state.started_at,
                finished_at: state.finished_at,
                restart_count: state.restart_count,
                last_run: state.last_run.clone(),
                ports_ready: state.status == Status::Running && ports_open(&state, wanted),
                ports: state
                    .ports
                    .iter()
                    .map(|l| (l.container_port, l.host_port))
                    .collect(),
                image: state.image.clone(),
            });
        }
        observed
    }

    /// Collects ended orphans (the apps start.sh left running) and keeps their exit codes.
    fn reap(&self) {
        let reaped = platform::reap_orphans();
        if !reaped.is_empty() {
            let mut exits = self.exits.lock().unwrap_or_else(|p| p.into_inner());
            // Codes of processes that were no container's app are never asked for: keep it bounded.
            if exits.len() > 4096 {
                exits.clear();
            }
            exits.extend(reaped);
        }
    }

    /// Reaps as soon as a child ends, so an app that exits is never left a zombie (a stop.sh that
    /// waits with `kill -0` would otherwise wait for nothing). Runs until aborted.
    pub async fn reap_forever(self: Arc<Self>) {
        #[cfg(unix)]
        let mut children = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::child()).ok();
        loop {
            let me = self.clone();
            let _ = tokio::task::spawn_blocking(move || me.reap()).await;
            #[cfg(unix)]
            if let Some(sig) = children.as_mut() {
                // SIGCHLD says when; the timer is a safety net (each scan reads every process).
                tokio::select! {
                    _ = sig.recv() => {}
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                }
                continue;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn is_idle(&self, key: &str) -> bool {
        !self.busy.lock().unwrap_or_else(|p| p.into_inner()).contains(key)
    }

    /// Writes the pods' new statuses in one transaction (a pass that saw fifty containers start
    /// writes to disk once, not fifty times), then tells of containers newly backing off.
    fn update_pod_statuses(&self, updates: Vec<Action>, pods: &[Value]) -> Result<(), StoreError> {
        let updates: Vec<(String, String, Value)> = updates
            .into_iter()
            .filter_map(|a| match a {
                Action::UpdatePodStatus {
                    namespace,
                    name,
                    status,
                } => Some((namespace, name, status)),
                _ => None,
            })
            .collect();
        if updates.is_empty() {
            return Ok(());
        }
        let mut backing_off = Vec::new();
        self.store.batch(|batch| {
            for (namespace, name, status) in updates {
                let before = pods
                    .iter()
                    .find(|p| reconcile::key(p) == (namespace.clone(), name.clone()));
                if let Some(pod) = before {
                    for container in newly_backing_off(Some(pod), &status) {
                        backing_off.push((pod, container));
                    }
                }
                ignore_missing(batch.update_status(Kind::Pod, &namespace, &name, status))?;
            }
            Ok(())
        })?;
        for (pod, container) in backing_off {
            let (namespace, name) = reconcile::key(pod);
            self.events.record(
                pod,
                EventType::Warning,
                "BackOff",
                &format!("Back-off restarting failed container {container} in pod {name}_{namespace}"),
                source::KUBELET,
            );
        }
        Ok(())
    }

    fn act(self: Arc<Self>, action: Action, pods: &[Value]) -> Result<(), StoreError> {
        match action {
            Action::CreatePod { .. } => self.create_pods(vec![action])?,
            Action::AdoptPod {
                namespace,
                name,
                owner,
            } => {
                if let Some(mut pod) = self.store.get(Kind::Pod, &namespace, &name)?
                    && reconcile::controller_uid(&pod).is_none()
                {
                    let revision = crate::kube::api::objects::revision_of(&pod);
                    let meta = crate::kube::store::metadata_mut(&mut pod);
                    let refs = meta.entry("ownerReferences").or_insert_with(|| json!([]));
                    if let Some(refs) = refs.as_array_mut() {
                        refs.push(owner.to_json());
                    }
                    match self.store.update(Kind::Pod, &namespace, pod, Some(revision)) {
                        Ok(_) => self.log.line(&format!(
                            "{} {} adopted pod {namespace}/{name}",
                            owner.kind.to_ascii_lowercase(),
                            owner.name
                        )),
                        Err(StoreError::NotFound { .. } | StoreError::Conflict { .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            Action::DeletePod { namespace, name } => {
                let owner = pods
                    .iter()
                    .find(|p| reconcile::key(p) == (namespace.clone(), name.clone()))
                    .and_then(controller_of);
                match gc::delete_pod(&self.store, &namespace, &name, None) {
                    Ok(_) => {
                        self.log.line(&format!("deleting pod {namespace}/{name}"));
                        if let Some(owner) = owner {
                            self.events.record(
                                &reference(&namespace, &owner),
                                EventType::Normal,
                                "SuccessfulDelete",
                                &format!("Deleted pod: {name}"),
                                controller_source(&owner.kind),
                            );
                        }
                    }
                    Err(StoreError::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            Action::FinalizePod { namespace, name } => {
                match self.store.delete(Kind::Pod, &namespace, &name) {
                    Ok(_) => self.log.line(&format!("deleted pod {namespace}/{name}")),
                    Err(StoreError::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            Action::UpdatePodStatus { .. } => self.update_pod_statuses(vec![action], pods)?,
            Action::UpdateOwnerStatus {
                kind,
                namespace,
                name,
                status,
            } => {
                if let Some(kind) = Kind::from_kind(&kind) {
                    ignore_missing(self.store.update_status(kind, &namespace, &name, status))?;
                }
            }
            Action::CreateObject {
                kind,
                namespace,
                object,
            } => {
                if let Some(kind) = Kind::from_kind(&kind) {
                    match self.store.create(kind, &namespace, object) {
                        Ok(o) => {
                            self.log.line(&format!(
                                "created {} {namespace}/{}",
                                kind.singular(),
                                reconcile::str_at(&o, "/metadata/name").unwrap_or_default()
                            ));
                            self.scaling_event(&namespace, None, &o);
                        }
                        Err(StoreError::AlreadyExists { .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            Action::ReplaceObject {
                kind,
                namespace,
                object,
            } => {
                if let Some(kind) = Kind::from_kind(&kind) {
                    let revision = crate::kube::api::objects::revision_of(&object);
                    let name = reconcile::str_at(&object, "/metadata/name")
                        .unwrap_or_default()
                        .to_owned();
                    let before = self.store.get(kind, &namespace, &name).ok().flatten();
                    match self.store.update(kind, &namespace, object, Some(revision)) {
                        Ok(after) => self.scaling_event(&namespace, before.as_ref(), &after),
                        // Someone wrote first: the next pass plans from what they wrote.
                        Err(StoreError::NotFound { .. } | StoreError::Conflict { .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            Action::DeleteObject {
                kind,
                namespace,
                name,
            } => {
                if let Some(kind) = Kind::from_kind(&kind) {
                    match gc::delete(
                        &self.store,
                        kind,
                        &namespace,
                        &name,
                        None,
                        gc::Propagation::Background,
                    ) {
                        Ok(_) => self
                            .log
                            .line(&format!("deleted {} {namespace}/{name}", kind.singular())),
                        Err(StoreError::NotFound { .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            Action::RemoveContainer { id, grace } => {
                let me = self.clone();
                self.background(id.clone(), move || me.remove_container(&id, grace));
            }
            Action::StartContainer {
                pod,
                container,
                existing,
            } => {
                // One key per pod container, whether it is being made or restarted.
                let key = format!("{}/{}/{}", pod.0, pod.1, container);
                if !self.is_idle(&key) || !self.retry_due(&pod, &container) {
                    return Ok(());
                }
                let Some(pod_object) = pods.iter().find(|p| reconcile::key(p) == pod).cloned() else {
                    return Ok(());
                };
                let service_env = self.service_env(&pod.0);
                let me = self.clone();
                self.background(key, move || {
                    me.start_container(&pod, &container, &pod_object, existing, &service_env)
                });
            }
        }
        Ok(())
    }

    /// Runs a container job on the blocking pool unless one with the same key is running.
    fn background(self: Arc<Self>, key: String, job: impl FnOnce() + Send + 'static) {
        if !self
            .busy
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.clone())
        {
            return;
        }
        let busy = self.busy.clone();
        let wake = self.wake.clone();
        let idle = self.idle.clone();
        let finished = self.finished_jobs.clone();
        tokio::task::spawn_blocking(move || {
            job();
            finished.fetch_add(1, Ordering::SeqCst);
            let mut running = busy.lock().unwrap_or_else(|p| p.into_inner());
            running.remove(&key);
            if running.is_empty() {
                idle.notify_one();
            }
            drop(running);
            wake.notify_one();
        });
    }

    fn retry_due(&self, pod: &PodKey, container: &str) -> bool {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures
            .get(&(pod.clone(), container.to_owned()))
            .is_none_or(|f| Instant::now() >= f.retry_at)
    }

    /// Creates the pods in one transaction (a scale-up to fifty writes to disk once), each named
    /// after its owner with a random suffix.
    fn create_pods(&self, creates: Vec<Action>) -> Result<(), StoreError> {
        if creates.is_empty() {
            return Ok(());
        }
        let created = self.store.batch(|batch| {
            let mut created = Vec::new();
            for action in creates {
                if let Action::CreatePod {
                    namespace,
                    owner,
                    template,
                } = action
                    && let Some(name) = create_pod(batch, &namespace, &owner, &template)?
                {
                    created.push((namespace, owner, name));
                }
            }
            Ok(created)
        })?;
        for (namespace, owner, pod_name) in created {
            self.log.line(&format!(
                "created pod {namespace}/{pod_name} for {} {}",
                owner.kind.to_ascii_lowercase(),
                owner.name
            ));
            self.events.record(
                &reference(&namespace, &owner),
                EventType::Normal,
                "SuccessfulCreate",
                &format!("Created pod: {pod_name}"),
                controller_source(&owner.kind),
            );
        }
        Ok(())
    }

    /// Makes (when needed) and starts one container of a pod. Failures are remembered for the
    /// pod's status and retried with backoff.
    fn start_container(
        &self,
        pod: &PodKey,
        container: &str,
        pod_object: &Value,
        existing: Option<String>,
        service_env: &[(String, String)],
    ) {
        let restarting = existing.is_some();
        let result = match existing {
            Some(id) => self
                .restart(&id)
                .map_err(|e| ("CrashLoopBackOff".to_owned(), e.to_string())),
            None => self.create_and_start(pod_object, container, service_env),
        };
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let key = (pod.clone(), container.to_owned());
        let event = |kind: EventType, reason: &str, message: &str| {
            self.events
                .record(pod_object, kind, reason, message, source::KUBELET);
        };
        match result {
            Ok(started) => {
                failures.remove(&key);
                if started {
                    self.log.line(&format!(
                        "started container {container} of pod {}/{}",
                        pod.0, pod.1
                    ));
                    if restarting {
                        event(
                            EventType::Normal,
                            "Started",
                            &format!("Started container {container}"),
                        );
                    }
                }
            }
            Err((reason, message)) => {
                self.log.line(&format!(
                    "pod {}/{} container {container}: {reason}: {message}",
                    pod.0, pod.1
                ));
                match reason.as_str() {
                    "ContainerCreating" => event(EventType::Warning, "FailedMount", &message),
                    "ErrImagePull" | "InvalidImageName" => event(
                        EventType::Warning,
                        "Failed",
                        &format!("Failed to pull image: {message}"),
                    ),
                    _ => event(EventType::Warning, "Failed", &format!("Error: {message}")),
                }
                let attempts = failures.get(&key).map_or(0, |f| f.attempts) + 1;
                let delay = reconcile::backoff(self.config.backoff_base, attempts - 1);
                failures.insert(
                    key,
                    Failure {
                        reason,
                        message,
                        attempts,
                        retry_at: Instant::now() + delay,
                    },
                );
            }
        }
    }

    /// Starts an existing container again, counting the restart once it really happened.
    fn restart(&self, id: &str) -> Result<bool, crate::container::lifecycle::ContainerError> {
        let ran_before = self.containers.find(id)?.started_at.is_some();
        let (_, outcome) = self.containers.start(id)?;
        let started = outcome != StartOutcome::AlreadyRunning;
        if started && ran_before {
            self.containers.update(id, |s| s.restart_count += 1)?;
        }
        Ok(started)
    }

    fn create_and_start(
        &self,
        pod: &Value,
        container: &str,
        service_env: &[(String, String)],
    ) -> Result<bool, (String, String)> {
        let spec = reconcile::pod_container(pod, container)
            .cloned()
            .unwrap_or_default();
        let namespace = reconcile::str_at(pod, "/metadata/namespace").unwrap_or("default");
        let lookup = |kind: Kind, name: &str| self.store.get(kind, namespace, name).ok().flatten();
        let env = podenv::container_env(pod, &spec, service_env, &lookup)
            .map_err(|e| ("CreateContainerConfigError".to_owned(), e))?;
        let mounts = volumes::plan(pod, &spec, &lookup, &self.volume_roots())
            .map_err(|e| ("ContainerCreating".to_owned(), e))?;
        let event = |reason: &str, message: &str| {
            self.events
                .record(pod, EventType::Normal, reason, message, source::KUBELET);
        };
        let pod_name = reconcile::str_at(pod, "/metadata/name").unwrap_or_default();
        let first = pod
            .pointer("/spec/initContainers/0/name")
            .or_else(|| pod.pointer("/spec/containers/0/name"))
            .and_then(Value::as_str)
            == Some(container);
        let uid = reconcile::str_at(pod, "/metadata/uid").unwrap_or_default();
        if first && self.events.once(&format!("scheduled/{uid}")) {
            self.events.record(
                pod,
                EventType::Normal,
                "Scheduled",
                &format!(
                    "Successfully assigned {namespace}/{pod_name} to {}",
                    podenv::node_name()
                ),
                source::SCHEDULER,
            );
        }
        let image_name = spec
            .get("image")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let pull = |e: String| ("ErrImagePull".to_owned(), e);
        event("Pulling", &format!("Pulling image \"{image_name}\""));
        let pulling = Instant::now();
        let registry = Registry::from_env().map_err(|e| pull(e.to_string()))?;
        let reference = registry
            .parse(&image_name)
            .map_err(|e| ("InvalidImageName".to_owned(), e.to_string()))?;
        let resolved = registry
            .pull(&reference, pods::pull_options(&spec, &registry.prefix), &Silent)
            .map_err(|e| pull(format!("{e:#}")))?;
        event(
            "Pulled",
            &format!(
                "Successfully pulled image \"{image_name}\" in {}ms",
                pulling.elapsed().as_millis()
            ),
        );
        let source = ImageSource {
            name: image_name,
            coordinates: resolved.coordinates,
            zip: resolved.path,
        };
        if first && pod.pointer("/spec/automountServiceAccountToken") != Some(&Value::Bool(false)) {
            self.log.line(&format!(
                "pod {namespace}/{}: no service account token is mounted (jube has none to give); \
                 set automountServiceAccountToken: false to say none is wanted",
                reconcile::str_at(pod, "/metadata/name").unwrap_or_default()
            ));
        }
        let mut options = pods::create_options(pod, &spec, env);
        options.mounts = mounts
            .iter()
            .map(|m| {
                (
                    volumes::mount_variable(&m.volume),
                    m.path.to_string_lossy().into_owned(),
                )
            })
            .collect();
        let create = |e: String| ("CreateContainerError".to_owned(), e);
        // A container left by an earlier pod of the same name goes first.
        if let Some(old) = options
            .name
            .as_deref()
            .and_then(|n| self.containers.id_of_name(n))
        {
            let _ = self.containers.remove(&old, true, true);
        }
        let state = self
            .containers
            .create(&source, &options, &Silent)
            .map_err(|e| create(e.to_string()))?;
        if let Err(e) = volumes::materialize(&self.containers.app_base(&state), &mounts) {
            let _ = self.containers.remove(&state.id, true, true);
            return Err(create(format!("cannot write the volumes' files: {e}")));
        }
        event("Created", &format!("Created container {container}"));
        let started = self
            .containers
            .start(&state.id)
            .map(|(_, outcome)| outcome != StartOutcome::AlreadyRunning)
            .map_err(|e| ("RunContainerError".to_owned(), e.to_string()))?;
        event("Started", &format!("Started container {container}"));
        Ok(started)
    }

    /// Starts the probes of running containers that have them, stops those of containers that
    /// no longer run, and lets the probes decide readiness: a readiness probe's verdict replaces
    /// the open-ports rule, and a startup probe holds readiness back until it succeeds.
    fn apply_probes(self: Arc<Self>, pods: &[Value], mut observed: Vec<Observed>) -> Vec<Observed> {
        let mut runs = self.probes.lock().unwrap_or_else(|p| p.into_inner());
        let mut live = HashSet::new();
        for o in observed.iter_mut().filter(|o| o.status == Status::Running) {
            let Some(pod) = pods.iter().find(|p| {
                reconcile::key(p) == o.pod
                    && reconcile::str_at(p, "/metadata/uid") == Some(o.pod_uid.as_str())
            }) else {
                continue;
            };
            let Some(spec) = reconcile::pod_container(pod, &o.container) else {
                continue;
            };
            let declared = ["startupProbe", "readinessProbe", "livenessProbe"]
                .map(|f| spec.get(f).is_some_and(Value::is_object));
            if !declared.iter().any(|d| *d) {
                continue;
            }
            live.insert(o.id.clone());
            let current = runs.get(&o.id).is_some_and(|r| r.started_at == o.started_at);
            if !current {
                match self.start_probes(pod, spec, o) {
                    Some(run) => {
                        runs.insert(o.id.clone(), run);
                    }
                    None => {
                        runs.remove(&o.id);
                    }
                }
            }
            let health = runs
                .get(&o.id)
                .map(|r| *r.health.lock().unwrap_or_else(|p| p.into_inner()))
                .unwrap_or_default();
            let [startup, readiness, _] = declared;
            if readiness {
                o.ports_ready = health.started && health.ready;
            } else if startup {
                o.ports_ready &= health.started;
            }
        }
        runs.retain(|id, _| live.contains(id));
        observed
    }

    fn start_probes(self: &Arc<Self>, pod: &Value, spec: &Value, o: &Observed) -> Option<ProbeRun> {
        let state = self.containers.find(&o.id).ok()?;
        let app_base = self.containers.app_base(&state);
        let (namespace, pod_name) = o.pod.clone();
        let container = o.container.clone();
        let prefix = format!("pod {namespace}/{pod_name} container {container}");
        let set = match probes::ContainerProbes::of(spec, &o.ports, &app_base) {
            Ok(set) => set,
            Err(e) => {
                self.log.line(&format!(
                    "{prefix}: the probes are not valid and are not run: {e}"
                ));
                return None;
            }
        };
        let health = Arc::new(Mutex::new(probes::Health::default()));
        let pod_grace = pod
            .pointer("/spec/terminationGracePeriodSeconds")
            .and_then(Value::as_u64)
            .map_or(STOP_GRACE, Duration::from_secs);
        let me = self.clone();
        let id = o.id.clone();
        let started_at = o.started_at;
        let watched = health.clone();
        let pod_object = pod.clone();
        let task = tokio::spawn(async move {
            let (log, events, say_prefix, involved) = (
                me.log.clone(),
                me.events.clone(),
                prefix.clone(),
                pod_object.clone(),
            );
            let say = move |text: String| {
                log.line(&format!("{say_prefix}: Unhealthy: {text}"));
                events.record(&involved, EventType::Warning, "Unhealthy", &text, source::KUBELET);
            };
            let gave_up = probes::supervise(set, watched, say).await;
            let why = format!(
                "Container {container} failed {} probe, will be restarted",
                gave_up.kind.title().to_ascii_lowercase()
            );
            me.log
                .line(&format!("{prefix}: Killing: {why} ({})", gave_up.message));
            me.events
                .record(&pod_object, EventType::Normal, "Killing", &why, source::KUBELET);
            let grace = gave_up.grace.unwrap_or(pod_grace);
            let key = format!("{namespace}/{pod_name}/{container}");
            let stopper = me.clone();
            me.clone().background(key, move || {
                // Only the run that was probed: a container restarted meanwhile is left alone.
                let same_run = stopper
                    .containers
                    .find(&id)
                    .is_ok_and(|s| s.started_at == started_at);
                if same_run {
                    let _ = stopper.containers.stop(&id, grace);
                }
                stopper
                    .probes
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&id);
            });
        });
        Some(ProbeRun {
            started_at,
            health,
            task,
        })
    }

    /// `ScalingReplicaSet` on a Deployment when one of its ReplicaSets changes size.
    fn scaling_event(&self, namespace: &str, before: Option<&Value>, after: &Value) {
        if reconcile::str_at(after, "/kind") != Some("ReplicaSet") {
            return;
        }
        let Some(owner) = controller_of(after).filter(|o| o.kind == "Deployment") else {
            return;
        };
        let replicas = |o: Option<&Value>| {
            o.and_then(|o| o.pointer("/spec/replicas"))
                .and_then(Value::as_i64)
                .unwrap_or(0)
        };
        let (from, to) = (replicas(before), replicas(Some(after)));
        if from == to {
            return;
        }
        let name = reconcile::str_at(after, "/metadata/name").unwrap_or_default();
        let direction = if to > from { "up" } else { "down" };
        self.events.record(
            &reference(namespace, &owner),
            EventType::Normal,
            "ScalingReplicaSet",
            &format!("Scaled {direction} replica set {name} from {from} to {to}"),
            source::DEPLOYMENT,
        );
    }

    fn volume_roots(&self) -> volumes::VolumeRoots {
        volumes::VolumeRoots::under(self.containers.layout().home())
    }

    /// Keeps written volumes in step with their ConfigMaps and Secrets (as the kubelet does in
    /// its sync period), and removes the folders of pods and claims that are gone.
    fn sync_volumes(&self, pods: &[Value]) {
        let roots = self.volume_roots();
        // Reading every container is worth it only when some pod has files to keep in step.
        let written = |p: &Value| {
            podenv::array(p.get("spec").unwrap_or(&Value::Null), "volumes").any(|v| {
                ["configMap", "secret", "downwardAPI", "projected"]
                    .iter()
                    .any(|k| v.get(*k).is_some())
            })
        };
        let running = pods
            .iter()
            .any(written)
            .then(|| self.containers.list())
            .into_iter()
            .flatten()
            .flatten();
        for state in running.filter(|s| s.status == Status::Running) {
            let (Some(pod_key), Some(container)) =
                (state.labels.get(POD_LABEL), state.labels.get(CONTAINER_LABEL))
            else {
                continue;
            };
            let Some(pod) = pods.iter().find(|p| {
                let (ns, name) = reconcile::key(p);
                *pod_key == format!("{ns}/{name}")
            }) else {
                continue;
            };
            let Some(spec) = reconcile::pod_container(pod, container) else {
                continue;
            };
            let namespace = reconcile::str_at(pod, "/metadata/namespace").unwrap_or("default");
            let lookup = |kind: Kind, name: &str| self.store.get(kind, namespace, name).ok().flatten();
            let Ok(mounts) = volumes::plan(pod, spec, &lookup, &roots) else {
                continue;
            };
            match volumes::refresh(&self.containers.app_base(&state), &mounts) {
                Ok(true) => self
                    .log
                    .line(&format!("updated the volume files of container {}", state.name)),
                Ok(false) => {}
                Err(e) => self.log.line(&format!(
                    "cannot update the volume files of container {}: {e}",
                    state.name
                )),
            }
        }
        let uids: HashSet<String> = pods
            .iter()
            .filter_map(|p| reconcile::str_at(p, "/metadata/uid").map(str::to_owned))
            .collect();
        volumes::sweep_pods(&roots, &uids);
        // Expiry lists every event: once in a while is enough, and never less often than the TTL.
        let ttl = self.config.event_ttl;
        let expired = if due(&self.events_expired, ttl.min(EVENT_EXPIRY)) {
            self.events.expire(ttl)
        } else {
            0
        };
        if expired > 0 {
            self.log.line(&format!(
                "expired {expired} events older than {}s",
                self.config.event_ttl.as_secs()
            ));
        }
        if let Ok((claims, _)) = self.store.list(Kind::PersistentVolumeClaim, None) {
            let bound: HashSet<String> = claims
                .iter()
                .filter_map(|c| reconcile::str_at(c, "/spec/volumeName").map(str::to_owned))
                .collect();
            volumes::sweep_claims(&roots, &bound);
        }
    }

    fn remove_container(&self, id: &str, grace: Duration) {
        let Ok(state) = self.containers.find(id) else {
            return;
        };
        let name = state.name.clone();
        if state.status == Status::Running
            && let (Some((ns, pod)), Some(container)) = (
                state.labels.get(POD_LABEL).and_then(|p| p.split_once('/')),
                state.labels.get(CONTAINER_LABEL),
            )
        {
            let involved = json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": pod, "namespace": ns, "uid": state.labels.get(POD_UID_LABEL)}});
            self.events.record(
                &involved,
                EventType::Normal,
                "Killing",
                &format!("Stopping container {container}"),
                source::KUBELET,
            );
        }
        let _ = self.containers.stop(id, grace);
        match self.containers.remove(id, true, true) {
            Ok(_) => self.log.line(&format!("removed container {name}")),
            Err(e) => self.log.line(&format!("cannot remove container {name}: {e}")),
        }
    }

    /// `<NAME>_SERVICE_HOST`/`_PORT` of the namespace's services, as their proxies listen. The
    /// docker-link `<NAME>_PORT` variables are left out: jube already names a container's own
    /// leased ports `<NAME>_PORT`, and those must not be overwritten.
    fn service_env(&self, namespace: &str) -> Vec<(String, String)> {
        let Ok((services, _)) = self.store.list(Kind::Service, Some(namespace)) else {
            return Vec::new();
        };
        let default_host = self.proxies.service_host();
        let listed: Vec<proxy::ServiceListening> = services
            .iter()
            .filter_map(|svc| {
                let name = reconcile::str_at(svc, "/metadata/name")?.to_owned();
                svc.pointer("/status/loadBalancer/ingress/0/ports")?;
                let ports: Vec<(Option<String>, u16)> = services::listening(svc)
                    .into_iter()
                    .filter_map(|l| Some((l.name, u16::try_from(l.listen_port?).ok()?)))
                    .collect();
                let host = reconcile::str_at(svc, "/status/loadBalancer/ingress/0/ip")
                    .and_then(|ip| ip.parse().ok())
                    .unwrap_or(default_host);
                Some((name, host, ports))
            })
            .collect();
        proxy::service_env(&listed)
            .into_iter()
            .filter(|(k, _)| k.contains("_SERVICE_"))
            .collect()
    }

    /// Stops every pod container (`jube daemon stop --stop-pods`).
    pub fn stop_all_pods(&self) {
        let running: Vec<State> = self
            .containers
            .list()
            .into_iter()
            .flatten()
            .filter(|s| s.labels.contains_key(POD_LABEL) && s.status == Status::Running)
            .collect();
        // In parallel: each stop may wait out its grace period.
        std::thread::scope(|scope| {
            for state in &running {
                scope.spawn(|| {
                    let _ = self.containers.stop(&state.id, STOP_GRACE);
                    self.log.line(&format!("stopped container {}", state.name));
                });
            }
        });
    }
}

/// Whether `every` has passed since `last` (or it never happened), taking the turn when so.
fn due(last: &Mutex<Option<Instant>>, every: Duration) -> bool {
    let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
    let due = last.is_none_or(|t| t.elapsed() >= every);
    if due {
        *last = Some(Instant::now());
    }
    due
}

/// Stores one pod of `owner` from its template under a free name; the name, or `None` when ten
/// random suffixes were all taken.
fn create_pod(
    batch: &mut Batch<'_>,
    namespace: &str,
    owner: &OwnerRef,
    template: &Value,
) -> Result<Option<String>, StoreError> {
    let mut metadata = template.get("metadata").cloned().unwrap_or_else(|| json!({}));
    metadata["generateName"] = json!(format!("{}-", owner.name));
    metadata["ownerReferences"] = json!([owner.to_json()]);
    for _ in 0..10 {
        let name = format!("{}-{}", owner.name, pod_suffix());
        metadata["name"] = json!(name);
        let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template.get("spec").cloned().unwrap_or_default()});
        crate::kube::node::bind(&mut pod);
        match batch.create(Kind::Pod, namespace, pod) {
            Ok(_) => return Ok(Some(name)),
            Err(StoreError::AlreadyExists { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// The controller that owns an object, as its `ownerReferences` name it.
fn controller_of(object: &Value) -> Option<OwnerRef> {
    let owner = object
        .pointer("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|o| o.get("controller").and_then(Value::as_bool).unwrap_or(true))?;
    let field = |f: &str| {
        owner
            .get(f)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    Some(OwnerRef {
        api_version: field("apiVersion"),
        kind: field("kind"),
        name: field("name"),
        uid: field("uid"),
    })
}

/// An owner as the object an event is about.
fn reference(namespace: &str, owner: &OwnerRef) -> Value {
    json!({"apiVersion": owner.api_version, "kind": owner.kind,
        "metadata": {"name": owner.name, "namespace": namespace, "uid": owner.uid}})
}

fn controller_source(kind: &str) -> &'static str {
    match kind {
        "Deployment" => source::DEPLOYMENT,
        "ReplicaSet" => source::REPLICASET,
        "Job" => source::JOB,
        _ => source::REPLICATION,
    }
}

/// The containers a new pod status puts into CrashLoopBackOff that were not there before.
fn newly_backing_off(before: Option<&Value>, status: &Value) -> Vec<String> {
    let backing_off = |s: &Value| -> Vec<String> {
        ["containerStatuses", "initContainerStatuses"]
            .iter()
            .filter_map(|f| s.get(*f).and_then(Value::as_array))
            .flatten()
            .filter(|c| {
                c.pointer("/state/waiting/reason").and_then(Value::as_str) == Some("CrashLoopBackOff")
            })
            .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_owned))
            .collect()
    };
    let was = before
        .and_then(|p| p.get("status"))
        .map(backing_off)
        .unwrap_or_default();
    backing_off(status)
        .into_iter()
        .filter(|c| !was.contains(c))
        .collect()
}

/// The next change to anything but an event: events are written about what the controller does,
/// and must not wake it again.
async fn object_change(changes: &mut tokio::sync::broadcast::Receiver<crate::kube::store::Event>) {
    loop {
        match changes.recv().await {
            Ok(e) if e.kind == Kind::Event => continue,
            _ => return,
        }
    }
}

fn ignore_missing(r: Result<Value, StoreError>) -> Result<(), StoreError> {
    match r {
        Ok(_) | Err(StoreError::NotFound { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The container ports each pod container's manifest declares, by (namespace, pod, container).
fn declared_ports(pods: &[Value]) -> HashMap<(String, String, String), Vec<u16>> {
    let mut out = HashMap::new();
    for pod in pods {
        let (ns, name) = reconcile::key(pod);
        for c in pod
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let ports: Vec<u16> = c
                .get("ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|p| u16::try_from(p.get("containerPort")?.as_u64()?).ok())
                .collect();
            let cname = c
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            out.insert((ns.clone(), name.clone(), cname), ports);
        }
    }
    out
}

/// A running container is ready when its ports accept TCP connections: the ports its manifest
/// declares, or, when it declares none, every port it leased. (An image may lease ports it only
/// uses sometimes, like the Java image's Jolokia port.)
fn ports_open(state: &State, declared: Option<&Vec<u16>>) -> bool {
    let wanted = declared.filter(|d| !d.is_empty());
    state
        .ports
        .iter()
        .filter(|l| wanted.is_none_or(|d| d.contains(&l.container_port)))
        .all(|l| {
            let addr = SocketAddr::from(([127, 0, 0, 1], l.host_port));
            TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
        })
}

/// Five characters as Kubernetes uses for generated names (no vowels, no confusable digits).
fn pod_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..5)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect()
}
