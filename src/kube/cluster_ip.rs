//! Service addresses: each Service gets a loopback address of its own from a range inside
//! 127.0.0.0/8 (`JUBE_SERVICE_CIDR`, default 127.77.0.0/16) as its `spec.clusterIP`, so that its
//! proxy can listen on the Service's own port without colliding with another Service's.
//!
//! The address is chosen from a hash of the daemon's home and the Service's namespace and name,
//! then the next free one: the same Service re-created gets the same address back, and daemons
//! side by side (other JUBE_HOMEs) rarely pick the same one for a Service of the same name.

use std::collections::BTreeSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::Ipv4Net;
use sha2::{Digest, Sha256};

use serde_json::{Value, json};

use crate::env_vars::{self, EnvVars};
use crate::kube::daemon::DaemonLog;
use crate::kube::kinds::Kind;
use crate::kube::reconcile;
use crate::kube::store::{Store, StoreError};

/// The range Service addresses come from when `JUBE_SERVICE_CIDR` is not set.
pub const DEFAULT_RANGE: &str = "127.77.0.0/16";

/// What `spec.clusterIP` holds for a headless Service, which gets no address and no proxy
/// address of its own.
pub const HEADLESS: &str = "None";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RangeError {
    #[error("`{0}` is not an IPv4 range like {DEFAULT_RANGE}")]
    Syntax(String),
    #[error("`{0}` is not inside 127.0.0.0/8: Service addresses must be loopback addresses")]
    NotLoopback(String),
    #[error("`{0}` holds fewer than 2 addresses; use a prefix of /30 or shorter, like {DEFAULT_RANGE}")]
    TooSmall(String),
}

/// The loopback range Service addresses are drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceRange(Ipv4Net);

impl Default for ServiceRange {
    fn default() -> Self {
        Self(DEFAULT_RANGE.parse().expect("the default range parses"))
    }
}

impl fmt::Display for ServiceRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.trunc().fmt(f)
    }
}

impl std::str::FromStr for ServiceRange {
    type Err = RangeError;

    fn from_str(text: &str) -> Result<Self, RangeError> {
        let net: Ipv4Net = text
            .trim()
            .parse()
            .map_err(|_| RangeError::Syntax(text.to_owned()))?;
        let loopback: Ipv4Net = "127.0.0.0/8".parse().expect("a valid net");
        if !loopback.contains(&net) {
            return Err(RangeError::NotLoopback(text.to_owned()));
        }
        if net.prefix_len() > 30 {
            return Err(RangeError::TooSmall(text.to_owned()));
        }
        Ok(Self(net.trunc()))
    }
}

impl ServiceRange {
    /// `JUBE_SERVICE_CIDR`, or the default range.
    pub fn from_env() -> Result<Self, RangeError> {
        env_vars::var(EnvVars::JUBE_SERVICE_CIDR).map_or_else(|| Ok(Self::default()), |v| v.parse())
    }

    /// Whether `ip` is an address a Service may have: in the range, and neither its network nor
    /// its broadcast address.
    pub fn holds(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(v4) => self.0.hosts().next().is_some_and(|first| v4 >= first) && v4 <= self.last(),
            IpAddr::V6(_) => false,
        }
    }

    fn last(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.0.broadcast()) - 1)
    }

    /// The first host address, which the daemon tries at start to learn whether the system
    /// answers on the range at all.
    pub fn first(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.0.network()) + 1)
    }

    /// An address for Service `namespace/name` of the daemon `salt` names that none in `taken`
    /// has, or `None` when the range is full.
    pub fn allocate(
        &self,
        salt: &str,
        namespace: &str,
        name: &str,
        taken: &BTreeSet<IpAddr>,
    ) -> Option<Ipv4Addr> {
        let first = u32::from(self.first());
        let size = u32::from(self.last()) - first + 1;
        let digest = Sha256::digest(format!("{salt}\n{namespace}/{name}").as_bytes());
        let start = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) % size;
        (0..size)
            .map(|i| Ipv4Addr::from(first + (start + i) % size))
            .find(|ip| !taken.contains(&IpAddr::V4(*ip)))
    }
}

/// Gives an address to each of `services` stored before Services had one (by an older jube),
/// updating `services` as stored. A Service changed meanwhile gets its address on a later pass.
pub fn backfill(
    store: &Store,
    range: &ServiceRange,
    salt: &str,
    services: &mut [Value],
    log: &DaemonLog,
) -> Result<(), StoreError> {
    let mut taken: BTreeSet<IpAddr> = services
        .iter()
        .filter_map(crate::kube::services::cluster_ip)
        .collect();
    for svc in services.iter_mut() {
        if reconcile::str_at(svc, "/spec/clusterIP").is_some_and(|ip| !ip.is_empty()) {
            continue;
        }
        let namespace = reconcile::str_at(svc, "/metadata/namespace")
            .unwrap_or("default")
            .to_owned();
        let name = reconcile::str_at(svc, "/metadata/name")
            .unwrap_or_default()
            .to_owned();
        let Some(ip) = range.allocate(salt, &namespace, &name, &taken) else {
            log.line(&format!("service {namespace}/{name}: no address left in {range}"));
            continue;
        };
        let revision = reconcile::str_at(svc, "/metadata/resourceVersion").and_then(|r| r.parse().ok());
        let mut updated = svc.clone();
        if let Some(spec) = updated.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert("clusterIP".into(), json!(ip.to_string()));
            spec.insert("clusterIPs".into(), json!([ip.to_string()]));
        }
        match store.update(Kind::Service, &namespace, updated, revision) {
            Ok(saved) => {
                taken.insert(IpAddr::V4(ip));
                *svc = saved;
            }
            Err(StoreError::NotFound { .. } | StoreError::Conflict { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_stored_without_an_address_get_one_and_others_keep_theirs() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store.db")).unwrap();
        let layout = crate::layout::Layout::new(dir.path().join("home"));
        std::fs::create_dir_all(layout.home()).unwrap();
        let log = DaemonLog::open(&layout).unwrap();
        let svc = |name: &str, ip: Option<&str>| {
            let mut spec = json!({"ports": [{"port": 80}]});
            if let Some(ip) = ip {
                spec["clusterIP"] = json!(ip);
            }
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"}, "spec": spec})
        };
        for s in [
            svc("old", None),
            svc("new", Some("127.77.0.9")),
            svc("bare", Some("None")),
        ] {
            store.create(Kind::Service, "default", s).unwrap();
        }
        let (mut services, _) = store.list(Kind::Service, None).unwrap();
        let range = ServiceRange::default();
        backfill(&store, &range, "/home", &mut services, &log).unwrap();
        let ip_of = |name: &str| {
            let stored = store.get(Kind::Service, "default", name).unwrap().unwrap();
            stored["spec"]["clusterIP"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        };
        let old = ip_of("old");
        assert!(range.holds(old.parse().unwrap()), "{old}");
        assert_ne!(old, "127.77.0.9");
        assert_eq!(
            (ip_of("new").as_str(), ip_of("bare").as_str()),
            ("127.77.0.9", "None")
        );
        let listed: Vec<&str> = services
            .iter()
            .filter_map(|s| reconcile::str_at(s, "/spec/clusterIP"))
            .collect();
        assert!(
            listed.contains(&old.as_str()),
            "the list given is updated too: {listed:?}"
        );
    }

    #[test]
    fn ranges_must_be_loopback_and_hold_addresses() {
        assert_eq!(ServiceRange::default().to_string(), "127.77.0.0/16");
        assert_eq!(
            "127.9.1.7/24".parse::<ServiceRange>().unwrap().to_string(),
            "127.9.1.0/24"
        );
        assert!(matches!(
            "10.0.0.0/16".parse::<ServiceRange>(),
            Err(RangeError::NotLoopback(_))
        ));
        assert!(matches!(
            "127.0.0.0/7".parse::<ServiceRange>(),
            Err(RangeError::NotLoopback(_))
        ));
        assert!(matches!(
            "127.1.1.1/31".parse::<ServiceRange>(),
            Err(RangeError::TooSmall(_))
        ));
        assert!(matches!(
            "127.1".parse::<ServiceRange>(),
            Err(RangeError::Syntax(_))
        ));
    }

    #[test]
    fn holds_only_host_addresses_of_the_range() {
        let r: ServiceRange = "127.77.0.0/16".parse().unwrap();
        assert!(r.holds("127.77.0.1".parse().unwrap()));
        assert!(r.holds("127.77.255.254".parse().unwrap()));
        assert!(!r.holds("127.77.0.0".parse().unwrap()));
        assert!(!r.holds("127.77.255.255".parse().unwrap()));
        assert!(!r.holds("127.0.0.1".parse().unwrap()));
        assert!(!r.holds("::1".parse().unwrap()));
    }

    #[test]
    fn the_same_service_gets_the_same_address_and_a_taken_one_is_skipped() {
        let r: ServiceRange = "127.5.5.0/30".parse().unwrap();
        let none = BTreeSet::new();
        let a = r.allocate("/home", "default", "redis", &none).unwrap();
        assert_eq!(r.allocate("/home", "default", "redis", &none), Some(a));
        assert!(r.holds(IpAddr::V4(a)));
        let taken: BTreeSet<IpAddr> = [IpAddr::V4(a)].into();
        let b = r.allocate("/home", "default", "redis", &taken).unwrap();
        assert_ne!(a, b);
        let full: BTreeSet<IpAddr> = [a, b].into_iter().map(IpAddr::V4).collect();
        assert_eq!(
            r.allocate("/home", "default", "redis", &full),
            None,
            "a /30 has two host addresses"
        );
    }
}
