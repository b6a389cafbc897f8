//! Service proxies: one TCP listener per Service port, forwarding round-robin to the ready pods.
//!
//! A port listens on its `nodePort` when set, else on the service port when that is free, else on
//! a port leased from jube's lease table (owner `svc~<ns>~<name>`, so containers never get it).
//! Once bound, a listener stays where it is across syncs; only its backends change.
//!
//! A Service with an address of its own (`spec.clusterIP`, see [`crate::kube::cluster_ip`])
//! listens there, on its service port, which no other Service shares; its node ports listen on
//! the daemon's address beside it. Where the system does not answer on that address (macOS
//! without `lo0` aliases), the Service falls back to the daemon's address, as above.

mod env;
mod listener;
#[cfg(test)]
mod tests;
mod workers;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, SocketAddr};

use crate::container::ports::{self, Lease, PortError, PortRange, PortRequest};
use crate::kube::daemon::DaemonLog;
use crate::layout::Layout;

pub use env::{ServiceListening, service_env};
use listener::Listener;

/// Lease-table owners of service ports start with this; container IDs never do.
pub const LEASE_OWNER_PREFIX: &str = "svc~";

/// A Service by namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceKey {
    pub namespace: String,
    pub name: String,
}

impl ServiceKey {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// Who holds this service's leased ports in the lease table.
    pub fn lease_owner(&self) -> String {
        format!("{LEASE_OWNER_PREFIX}{}~{}", self.namespace, self.name)
    }
}

impl fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// What a service should proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceProxy {
    pub key: ServiceKey,
    /// The Service's own address, when it has one in the daemon's range.
    pub cluster_ip: Option<IpAddr>,
    pub ports: Vec<ServicePortSpec>,
}

/// One service port and where its traffic goes (the ready pods' host ports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePortSpec {
    pub name: Option<String>,
    pub port: u16,
    pub node_port: Option<u16>,
    pub backends: Vec<SocketAddr>,
}

/// Where a service port listens, for the service's status and `jube get svc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyPort {
    pub name: Option<String>,
    pub port: u16,
    pub listen_port: u16,
}

/// How a listener's port was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Origin {
    NodePort,
    ServicePort,
    /// Held in the lease table under this request name.
    Leased(String),
}

struct PortProxy {
    listener: Listener,
    origin: Origin,
    /// The node port whose failed bind was last logged, so a retry that fails again stays quiet.
    node_port_logged: Option<u16>,
}

impl PortProxy {
    fn lease_name(&self) -> Option<&str> {
        match &self.origin {
            Origin::Leased(name) => Some(name),
            _ => None,
        }
    }
}

/// Where a service's listeners bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct At {
    ip: IpAddr,
    /// The Service's own address: no other program's wildcard listener is shadowed there.
    own: bool,
}

#[derive(Default)]
struct Proxies {
    /// Per service, its listeners by service port.
    services: BTreeMap<ServiceKey, BTreeMap<u16, PortProxy>>,
    /// Per service, where its listeners bind, chosen when it is first seen.
    hosts: BTreeMap<ServiceKey, At>,
    /// Node-port listeners of services that listen on their own address, by service and port.
    node_ports: BTreeMap<(ServiceKey, u16), Listener>,
    /// Node ports whose failed bind was logged, so that a retry that fails again stays quiet.
    node_ports_failing: BTreeSet<(ServiceKey, u16)>,
    /// Whether the missing-alias hint was logged.
    alias_hint_logged: bool,
    stale_leases_pruned: bool,
    closed: bool,
}

/// Owns every service's listeners.
pub struct ProxyManager {
    bind: IpAddr,
    layout: Layout,
    log: DaemonLog,
    /// Where leased ports come from; `None` reads JUBE_PORT_START/END at each lease.
    range: Option<PortRange>,
    proxies: tokio::sync::Mutex<Proxies>,
}

#[derive(Debug, thiserror::Error)]
enum LeaseError {
    #[error(transparent)]
    Port(#[from] PortError),
    #[error("the lease table task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Leased ports a listener could not bind are leased afresh this many times.
const LEASE_ATTEMPTS: usize = 3;

impl ProxyManager {
    pub fn new(bind: IpAddr, layout: Layout, log: DaemonLog) -> Self {
        Self {
            bind,
            layout,
            log,
            range: None,
            proxies: tokio::sync::Mutex::new(Proxies::default()),
        }
    }

    /// Leases ports from `range` instead of the one JUBE_PORT_START/END configure.
    pub fn with_port_range(mut self, range: PortRange) -> Self {
        self.range = Some(range);
        self
    }

    /// The address pods reach the proxies on (loopback when they listen on every address).
    pub fn service_host(&self) -> IpAddr {
        env::reachable(self.bind)
    }

    /// Where each service's clients reach it: its own address, or the daemon's.
    pub async fn service_hosts(&self) -> BTreeMap<ServiceKey, IpAddr> {
        let proxies = self.proxies.lock().await;
        proxies
            .hosts
            .iter()
            .map(|(k, at)| (k.clone(), env::reachable(at.ip)))
            .collect()
    }

    /// Whether services listen on their own addresses: only when proxies listen on the default
    /// loopback address; `--address` puts them all on the address it names.
    fn own_addresses(&self) -> bool {
        self.bind == IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
    }

    /// Where `service`'s listeners go: its own address when it has one and the system answers
    /// there, else the daemon's. Logs once how to add the addresses where they are missing.
    fn choose_host(&self, service: &ServiceProxy, alias_hint_logged: &mut bool) -> At {
        let shared = At {
            ip: self.bind,
            own: false,
        };
        let Some(ip) = service.cluster_ip.filter(|_| self.own_addresses()) else {
            return shared;
        };
        match std::net::TcpListener::bind(SocketAddr::new(ip, 0)) {
            Ok(_) => At { ip, own: true },
            Err(e) => {
                if !*alias_hint_logged {
                    *alias_hint_logged = true;
                    self.log.warn(&format!(
                        "this system does not answer on {ip} ({e}), so Services listen on {} at \
                         leased ports instead of their own addresses. {}",
                        self.bind,
                        alias_hint(ip)
                    ));
                }
                shared
            }
        }
    }

    /// Brings the proxies to the desired set: one listener per service port, backends = the
    /// ready endpoints. Idempotent; called by the reconciler after every pass. Returns, per
    /// service, the host port each service port listens on (a port that could not be bound is
    /// missing, and daemon.log says why).
    pub async fn sync(&self, desired: &[ServiceProxy]) -> BTreeMap<ServiceKey, Vec<ProxyPort>> {
        let mut proxies = self.proxies.lock().await;
        if proxies.closed {
            return BTreeMap::new();
        }
        let live: BTreeSet<String> = desired.iter().map(|s| s.key.lease_owner()).collect();
        let gone: Vec<ServiceKey> = proxies
            .services
            .keys()
            .filter(|key| !desired.iter().any(|s| &s.key == *key))
            .cloned()
            .collect();
        for key in gone {
            proxies.hosts.remove(&key);
            if let Some(ports) = proxies.services.remove(&key) {
                self.remove_service(&key, ports).await;
            }
        }
        if !proxies.stale_leases_pruned {
            // Services deleted while no daemon ran still hold their leases.
            self.prune_stale_leases(&live).await;
            proxies.stale_leases_pruned = true;
        }
        let mut listening = BTreeMap::new();
        for service in desired {
            let at = match proxies.hosts.get(&service.key) {
                Some(at) => *at,
                None => {
                    let at = self.choose_host(service, &mut proxies.alias_hint_logged);
                    proxies.hosts.insert(service.key.clone(), at);
                    at
                }
            };
            let bound = if at.own {
                // Node ports listen on the daemon's address, beside the Service's own one.
                let own = ServiceProxy {
                    ports: (service.ports.iter())
                        .map(|p| ServicePortSpec {
                            node_port: None,
                            ..p.clone()
                        })
                        .collect(),
                    ..service.clone()
                };
                let ports = proxies.services.entry(service.key.clone()).or_default();
                let bound = self.sync_service(&own, at, ports, &live).await;
                let Proxies {
                    node_ports,
                    node_ports_failing,
                    ..
                } = &mut *proxies;
                self.sync_node_ports(service, node_ports, node_ports_failing);
                bound
            } else {
                let ports = proxies.services.entry(service.key.clone()).or_default();
                self.sync_service(service, at, ports, &live).await
            };
            listening.insert(service.key.clone(), bound);
        }
        let wanted: BTreeSet<(ServiceKey, u16)> = (desired.iter())
            .filter(|s| proxies.hosts.get(&s.key).is_some_and(|at| at.own))
            .flat_map(|s| s.ports.iter().filter_map(|p| Some((s.key.clone(), p.node_port?))))
            .collect();
        let stale: Vec<(ServiceKey, u16)> = (proxies.node_ports.keys())
            .filter(|k| !wanted.contains(k))
            .cloned()
            .collect();
        proxies.node_ports_failing.retain(|k| wanted.contains(k));
        for k in stale {
            if let Some(listener) = proxies.node_ports.remove(&k) {
                listener.close().await;
                self.log
                    .line(&format!("service {} node port {}: closed", k.0, k.1));
            }
        }
        listening
    }

    /// Closes every listener. Leases are kept, so the next daemon gets the same ports back.
    pub async fn shutdown(&self) {
        let mut proxies = self.proxies.lock().await;
        proxies.closed = true;
        for (_, ports) in std::mem::take(&mut proxies.services) {
            for (_, proxy) in ports {
                proxy.listener.close().await;
            }
        }
        for (_, listener) in std::mem::take(&mut proxies.node_ports) {
            listener.close().await;
        }
    }

    async fn remove_service(&self, key: &ServiceKey, ports: BTreeMap<u16, PortProxy>) {
        let leased = ports.values().any(|p| p.lease_name().is_some());
        for (_, proxy) in ports {
            proxy.listener.close().await;
        }
        if leased {
            self.release(key).await;
        }
        self.log
            .line(&format!("service {key}: removed, its proxies are closed"));
    }

    /// The node ports of a service on its own address: listeners on the daemon's address that
    /// send to the same backends. A node port that cannot be bound is logged and tried again.
    fn sync_node_ports(
        &self,
        service: &ServiceProxy,
        node_ports: &mut BTreeMap<(ServiceKey, u16), Listener>,
        failing: &mut BTreeSet<(ServiceKey, u16)>,
    ) {
        for spec in &service.ports {
            let Some(node_port) = spec.node_port else {
                continue;
            };
            let k = (service.key.clone(), node_port);
            if let Some(listener) = node_ports.get(&k) {
                listener.set_backends(&spec.backends);
                continue;
            }
            match listener::bind(self.bind, node_port) {
                Ok(socket) => {
                    let label = format!("{} node port {node_port}", label(&service.key, spec));
                    let listener =
                        Listener::start(socket, spec.backends.clone(), label.clone(), self.log.clone());
                    self.log.line(&format!(
                        "{label}: listening on {}",
                        SocketAddr::new(self.bind, node_port)
                    ));
                    failing.remove(&k);
                    node_ports.insert(k, listener);
                }
                Err(e) => {
                    if failing.insert(k) {
                        self.log.line(&format!(
                            "{}: node port {node_port} cannot be bound: {e}; trying again",
                            label(&service.key, spec)
                        ));
                    }
                }
            }
        }
    }

    async fn sync_service(
        &self,
        service: &ServiceProxy,
        at: At,
        ports: &mut BTreeMap<u16, PortProxy>,
        live: &BTreeSet<String>,
    ) -> Vec<ProxyPort> {
        // A service new to this daemon may have leased ports from the daemon before: the pods it
        // already told about them keep finding it there.
        let mut earlier = if ports.is_empty() {
            self.earlier_leases(&service.key)
        } else {
            Vec::new()
        };
        let mut leases_changed = false;
        let wanted: BTreeSet<u16> = service.ports.iter().map(|p| p.port).collect();
        let dropped: Vec<u16> = ports.keys().filter(|p| !wanted.contains(p)).copied().collect();
        for port in dropped {
            if let Some(proxy) = ports.remove(&port) {
                leases_changed |= proxy.lease_name().is_some();
                proxy.listener.close().await;
                self.log.line(&format!(
                    "service {} port {port}: removed, listener closed",
                    service.key
                ));
            }
        }
        let mut pending = Vec::new();
        for spec in &service.ports {
            match ports.get_mut(&spec.port) {
                Some(proxy) => {
                    if proxy.listener.set_backends(&spec.backends) {
                        self.log_backends(&service.key, spec);
                    }
                    leases_changed |= self.follow_node_port(&service.key, spec, at, proxy).await;
                }
                None => {
                    let earlier_name = take_earlier(&mut earlier, spec.port);
                    match self.bind_unleased(&service.key, spec, at, earlier_name.is_some()) {
                        Ok(proxy) => {
                            ports.insert(spec.port, proxy);
                        }
                        Err(reason) => pending.push(Pending {
                            spec,
                            reason,
                            name: earlier_name.unwrap_or_else(|| spec.port.to_string()),
                        }),
                    }
                }
            }
        }
        // Earlier leases no port asks for any more are given back.
        leases_changed |= !earlier.is_empty();
        if !pending.is_empty() || leases_changed {
            self.bind_leased(&service.key, at, pending, ports, live).await;
        }
        service
            .ports
            .iter()
            .filter_map(|spec| {
                ports.get(&spec.port).map(|proxy| ProxyPort {
                    name: spec.name.clone(),
                    port: spec.port,
                    listen_port: proxy.listener.port(),
                })
            })
            .collect()
    }

    /// A listener for a new port on its node port or its service port; else why not, for the log.
    /// A port that had a leased port before the daemon restarted goes back to it instead of the
    /// service port.
    fn bind_unleased(
        &self,
        key: &ServiceKey,
        spec: &ServicePortSpec,
        at: At,
        leased_before: bool,
    ) -> Result<PortProxy, String> {
        let mut reason = String::new();
        let mut node_port_logged = None;
        if let Some(node_port) = spec.node_port {
            match listener::bind(at.ip, node_port) {
                Ok(socket) => {
                    return Ok(self.start(key, spec, socket, Origin::NodePort, "its node port", None));
                }
                Err(e) => {
                    reason = format!("node port {node_port} cannot be bound: {e}");
                    node_port_logged = Some(node_port);
                }
            }
        }
        if leased_before {
            let before = "the port it had before";
            return Err(if reason.is_empty() {
                before.to_owned()
            } else {
                format!("{reason}; {before}")
            });
        }
        let why_not = match self.lease_holder(key, spec.port) {
            Some(holder) => format!("port {} is leased to {holder}", spec.port),
            None => match bind_at(at, spec.port) {
                Ok(socket) => {
                    let why = if reason.is_empty() {
                        "the service port".to_owned()
                    } else {
                        format!("the service port; {reason}")
                    };
                    return Ok(self.start(key, spec, socket, Origin::ServicePort, &why, node_port_logged));
                }
                Err(e) => format!("port {} is taken: {e}", spec.port),
            },
        };
        Err(if reason.is_empty() {
            why_not
        } else {
            format!("{reason}; {why_not}")
        })
    }

    /// Moves a listener to its node port when one is set (or changed) and can be bound now.
    /// Returns whether a leased port was given up.
    async fn follow_node_port(
        &self,
        key: &ServiceKey,
        spec: &ServicePortSpec,
        at: At,
        proxy: &mut PortProxy,
    ) -> bool {
        let Some(node_port) = spec.node_port else {
            return false;
        };
        if proxy.listener.port() == node_port {
            return false;
        }
        match listener::bind(at.ip, node_port) {
            Ok(socket) => {
                let moved = self.start(key, spec, socket, Origin::NodePort, "its node port", None);
                let old = std::mem::replace(proxy, moved);
                let was_leased = old.lease_name().is_some();
                old.listener.close().await;
                was_leased
            }
            Err(e) => {
                if proxy.node_port_logged != Some(node_port) {
                    self.log.line(&format!(
                        "{}: node port {node_port} cannot be bound ({e}); staying on {}",
                        label(key, spec),
                        proxy.listener.port()
                    ));
                    proxy.node_port_logged = Some(node_port);
                }
                false
            }
        }
    }

    /// Leases ports for `pending` (with the service's leased ports it keeps) and binds them.
    async fn bind_leased(
        &self,
        key: &ServiceKey,
        at: At,
        mut pending: Vec<Pending<'_>>,
        ports: &mut BTreeMap<u16, PortProxy>,
        live: &BTreeSet<String>,
    ) {
        for attempt in 1..=LEASE_ATTEMPTS + 1 {
            let mut requests = kept_requests(ports);
            if attempt <= LEASE_ATTEMPTS {
                requests.extend(pending.iter().map(|p| PortRequest {
                    name: p.name.clone(),
                    container_port: p.spec.port,
                    host_port: None,
                }));
            } else {
                // Out of attempts: what could not be bound is given back and logged.
                for p in &pending {
                    self.log.line(&format!(
                        "{}: not proxied: {}, and no leased port could be bound",
                        label(key, p.spec),
                        p.reason
                    ));
                }
            }
            if requests.is_empty() {
                self.release(key).await;
                return;
            }
            let leases = match self.lease(key.lease_owner(), requests, live).await {
                Ok(leases) => leases,
                Err(e) => {
                    for p in &pending {
                        self.log.line(&format!(
                            "{}: not proxied: {}, and {e}",
                            label(key, p.spec),
                            p.reason
                        ));
                    }
                    return;
                }
            };
            if attempt > LEASE_ATTEMPTS {
                return;
            }
            pending = self.bind_leases(key, at, pending, &leases, ports);
            if pending.is_empty() {
                return;
            }
        }
    }

    /// Binds each pending port on its lease; returns those that failed, renamed so that the next
    /// lease gives them another port.
    fn bind_leases<'a>(
        &self,
        key: &ServiceKey,
        at: At,
        pending: Vec<Pending<'a>>,
        leases: &[Lease],
        ports: &mut BTreeMap<u16, PortProxy>,
    ) -> Vec<Pending<'a>> {
        let mut failed = Vec::new();
        for Pending { spec, reason, name } in pending {
            let Some(lease) = leases.iter().find(|l| l.name == name) else {
                continue;
            };
            match bind_at(at, lease.host_port) {
                Ok(socket) => {
                    let why = format!("a leased port; {reason}");
                    let proxy = self.start(key, spec, socket, Origin::Leased(name), &why, spec.node_port);
                    ports.insert(spec.port, proxy);
                }
                Err(e) => failed.push(Pending {
                    spec,
                    reason: format!("{reason}; leased port {} cannot be bound: {e}", lease.host_port),
                    name: renamed(spec.port, &name),
                }),
            }
        }
        failed
    }

    /// This service's leases in the table, as a daemon before this one left them.
    fn earlier_leases(&self, key: &ServiceKey) -> Vec<Lease> {
        ports::leases_of(&self.layout, &key.lease_owner()).unwrap_or_else(|e| {
            self.log.line(&format!("service {key}: {e}"));
            Vec::new()
        })
    }

    fn start(
        &self,
        key: &ServiceKey,
        spec: &ServicePortSpec,
        socket: tokio::net::TcpListener,
        origin: Origin,
        why: &str,
        node_port_logged: Option<u16>,
    ) -> PortProxy {
        let label = label(key, spec);
        let bound = socket
            .local_addr()
            .map_or_else(|e| e.to_string(), |a| a.to_string());
        let listener = Listener::start(socket, spec.backends.clone(), label.clone(), self.log.clone());
        self.log.line(&format!("{label}: listening on {bound} ({why})"));
        self.log_backends(key, spec);
        PortProxy {
            listener,
            origin,
            node_port_logged,
        }
    }

    fn log_backends(&self, key: &ServiceKey, spec: &ServicePortSpec) {
        let list: Vec<String> = spec.backends.iter().map(SocketAddr::to_string).collect();
        self.log.line(&format!(
            "{}: {} ready backend(s) [{}]",
            label(key, spec),
            list.len(),
            list.join(", ")
        ));
    }

    /// Who other than this service holds `port` in the lease table: a container whose app may not
    /// listen yet must not lose its port to a proxy.
    fn lease_holder(&self, key: &ServiceKey, port: u16) -> Option<String> {
        let owner = key.lease_owner();
        let table = match ports::all_leases(&self.layout) {
            Ok(table) => table,
            Err(e) => {
                self.log.line(&format!("service {key}: {e}"));
                return None;
            }
        };
        table
            .into_iter()
            .find(|(other, leases)| *other != owner && leases.iter().any(|l| l.host_port == port))
            .map(|(other, _)| describe_owner(&other))
    }

    async fn lease(
        &self,
        owner: String,
        requests: Vec<PortRequest>,
        live: &BTreeSet<String>,
    ) -> Result<Vec<Lease>, LeaseError> {
        let layout = self.layout.clone();
        let live = live.clone();
        let range = self.range;
        let leases = tokio::task::spawn_blocking(move || {
            let range = match range {
                Some(range) => range,
                None => PortRange::from_env()?,
            };
            let is_live = |other: &str| owner_is_live(&layout, &live, other);
            ports::lease(&layout, &owner, &requests, range, &is_live)
        })
        .await??;
        Ok(leases)
    }

    async fn release(&self, key: &ServiceKey) {
        let layout = self.layout.clone();
        let owner = key.lease_owner();
        let released = tokio::task::spawn_blocking(move || ports::release(&layout, &owner)).await;
        match released {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self
                .log
                .line(&format!("service {key}: cannot give back its ports: {e}")),
            Err(e) => self
                .log
                .line(&format!("service {key}: cannot give back its ports: {e}")),
        }
    }

    async fn prune_stale_leases(&self, live: &BTreeSet<String>) {
        let layout = self.layout.clone();
        let live = live.clone();
        let pruned = tokio::task::spawn_blocking(move || -> Result<Vec<String>, PortError> {
            let stale: Vec<String> = ports::all_leases(&layout)?
                .into_keys()
                .filter(|owner| owner.starts_with(LEASE_OWNER_PREFIX) && !live.contains(owner))
                .collect();
            for owner in &stale {
                ports::release(&layout, owner)?;
            }
            Ok(stale)
        })
        .await;
        match pruned {
            Ok(Ok(stale)) if stale.is_empty() => {}
            Ok(Ok(stale)) => self.log.line(&format!(
                "gave back the ports of services that no longer exist: {}",
                stale.join(", ")
            )),
            Ok(Err(e)) => self.log.line(&format!("cannot prune service port leases: {e}")),
            Err(e) => self.log.line(&format!("cannot prune service port leases: {e}")),
        }
    }
}

/// Binds a service's listener: on its own address only that address matters.
fn bind_at(at: At, port: u16) -> std::io::Result<tokio::net::TcpListener> {
    if at.own {
        listener::bind_exact(at.ip, port)
    } else {
        listener::bind(at.ip, port)
    }
}

/// The command that makes macOS answer on `ip` (and the rest of its /16, one alias each).
fn alias_hint(ip: IpAddr) -> String {
    if cfg!(target_os = "macos") {
        format!(
            "To give each Service its own address, add loopback aliases, one per address: \
             sudo ifconfig lo0 alias {ip} up (see the README, \"Service addresses and names\")"
        )
    } else {
        format!("Check that {ip} is a loopback address this system answers on.")
    }
}

/// A service port waiting for a leased port: why it has none of its own, and its lease name.
struct Pending<'a> {
    spec: &'a ServicePortSpec,
    reason: String,
    name: String,
}

/// The lease name of service port `port`: its number, then `<number>~<n>` for each leased port
/// that could not be bound, so that the next lease gives another port.
fn renamed(port: u16, name: &str) -> String {
    let tries = name
        .rsplit_once('~')
        .and_then(|(_, n)| n.parse::<u32>().ok())
        .unwrap_or(0);
    format!("{port}~{}", tries + 1)
}

/// Takes the earlier lease of service port `port` out of `earlier`, by its lease name.
fn take_earlier(earlier: &mut Vec<Lease>, port: u16) -> Option<String> {
    let number = port.to_string();
    let index = earlier.iter().position(|l| {
        l.name == number
            || l.name
                .strip_prefix(number.as_str())
                .and_then(|rest| rest.strip_prefix('~'))
                .is_some()
    })?;
    Some(earlier.remove(index).name)
}

/// The lease requests for the leased ports a service keeps; the lease table gives them back
/// unchanged.
fn kept_requests(ports: &BTreeMap<u16, PortProxy>) -> Vec<PortRequest> {
    ports
        .iter()
        .filter_map(|(port, proxy)| {
            proxy.lease_name().map(|name| PortRequest {
                name: name.to_owned(),
                container_port: *port,
                host_port: None,
            })
        })
        .collect()
}

/// Whether a lease owner still exists: a service while it is desired, a container while its
/// folder (or its staging folder, during create) exists.
fn owner_is_live(layout: &Layout, services: &BTreeSet<String>, owner: &str) -> bool {
    if owner.starts_with(LEASE_OWNER_PREFIX) {
        services.contains(owner)
    } else {
        layout.container_dir(owner).exists() || layout.staging_dir().join(owner).exists()
    }
}

fn describe_owner(owner: &str) -> String {
    match owner.strip_prefix(LEASE_OWNER_PREFIX) {
        Some(service) => format!("service {}", service.replacen('~', "/", 1)),
        None => format!("container {}", owner.chars().take(12).collect::<String>()),
    }
}

fn label(key: &ServiceKey, spec: &ServicePortSpec) -> String {
    match &spec.name {
        Some(name) => format!("service {key} port {} ({name})", spec.port),
        None => format!("service {key} port {}", spec.port),
    }
}
