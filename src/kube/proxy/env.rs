//! The environment a pod gets for the services that exist when it starts, named as Kubernetes
//! names them (kubelet's `envvars.FromServices`), so apps written for Kubernetes find them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// A service's name, the address its proxies listen on, and per port its name and listen port.
pub type ServiceListening = (String, IpAddr, Vec<(Option<String>, u16)>);

/// The variables for `services` (name, the address its proxies listen on, and per port its name
/// and the host port it listens on), in order: for each service `<NAME>_SERVICE_HOST`,
/// `<NAME>_SERVICE_PORT` (its first port), `<NAME>_SERVICE_PORT_<PORTNAME>` for each named port,
/// then the Docker link variables Kubernetes also sets (`<NAME>_PORT=tcp://host:port`,
/// `<NAME>_PORT_<port>_TCP`, `..._PROTO`, `..._PORT`, `..._ADDR`). Names are upper-cased with `-`
/// turned into `_`. The port is the one the proxy listens on, the only one a pod can reach here.
pub fn service_env(services: &[ServiceListening]) -> Vec<(String, String)> {
    let mut env = Vec::new();
    for (name, ip, ports) in services {
        let prefix = env_name(name);
        let host = reachable(*ip);
        env.push((format!("{prefix}_SERVICE_HOST"), host.to_string()));
        if let Some((_, first)) = ports.first() {
            env.push((format!("{prefix}_SERVICE_PORT"), first.to_string()));
        }
        for (port_name, port) in ports {
            if let Some(port_name) = port_name.as_deref().filter(|n| !n.is_empty()) {
                env.push((
                    format!("{prefix}_SERVICE_PORT_{}", env_name(port_name)),
                    port.to_string(),
                ));
            }
        }
        link_variables(&mut env, &prefix, host, ports);
    }
    env
}

/// Docker's link variables, which Kubernetes keeps setting for older apps.
fn link_variables(
    env: &mut Vec<(String, String)>,
    prefix: &str,
    host: IpAddr,
    ports: &[(Option<String>, u16)],
) {
    for (i, (_, port)) in ports.iter().enumerate() {
        let url = format!("tcp://{}", SocketAddr::new(host, *port));
        if i == 0 {
            env.push((format!("{prefix}_PORT"), url.clone()));
        }
        let port_prefix = format!("{prefix}_PORT_{port}_TCP");
        env.push((format!("{port_prefix}_PROTO"), "tcp".to_owned()));
        env.push((format!("{port_prefix}_PORT"), port.to_string()));
        env.push((format!("{port_prefix}_ADDR"), host.to_string()));
        env.push((port_prefix, url));
    }
}

/// `my-svc` → `MY_SVC`, as kubelet's `makeEnvVariableName`.
fn env_name(name: &str) -> String {
    name.to_uppercase().replace('-', "_")
}

/// A proxy listening on every address (`--address 0.0.0.0`) is reached on loopback.
pub(crate) fn reachable(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(env: &'a [(String, String)], key: &str) -> Option<&'a str> {
        env.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    fn localhost() -> IpAddr {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    }

    #[test]
    fn host_first_port_and_named_ports() {
        let env = service_env(&[(
            "redis-master".to_owned(),
            localhost(),
            vec![
                (Some("client".to_owned()), 6379),
                (Some("peer-sync".to_owned()), 48001),
            ],
        )]);
        assert_eq!(lookup(&env, "REDIS_MASTER_SERVICE_HOST"), Some("127.0.0.1"));
        assert_eq!(lookup(&env, "REDIS_MASTER_SERVICE_PORT"), Some("6379"));
        assert_eq!(lookup(&env, "REDIS_MASTER_SERVICE_PORT_CLIENT"), Some("6379"));
        assert_eq!(lookup(&env, "REDIS_MASTER_SERVICE_PORT_PEER_SYNC"), Some("48001"));
        assert_eq!(
            env[0].0, "REDIS_MASTER_SERVICE_HOST",
            "host first, as kubelet orders them"
        );
        assert_eq!(env[1].0, "REDIS_MASTER_SERVICE_PORT");
    }

    #[test]
    fn docker_link_variables_as_kubernetes_sets_them() {
        let env = service_env(&[(
            "web".to_owned(),
            localhost(),
            vec![(None, 8080), (Some("admin".to_owned()), 9990)],
        )]);
        assert_eq!(lookup(&env, "WEB_PORT"), Some("tcp://127.0.0.1:8080"));
        assert_eq!(lookup(&env, "WEB_PORT_8080_TCP"), Some("tcp://127.0.0.1:8080"));
        assert_eq!(lookup(&env, "WEB_PORT_8080_TCP_PROTO"), Some("tcp"));
        assert_eq!(lookup(&env, "WEB_PORT_8080_TCP_PORT"), Some("8080"));
        assert_eq!(lookup(&env, "WEB_PORT_8080_TCP_ADDR"), Some("127.0.0.1"));
        assert_eq!(lookup(&env, "WEB_PORT_9990_TCP"), Some("tcp://127.0.0.1:9990"));
        // An unnamed port has no _SERVICE_PORT_<NAME>.
        assert!(
            env.iter()
                .all(|(k, _)| !k.starts_with("WEB_SERVICE_PORT_") || k == "WEB_SERVICE_PORT_ADMIN")
        );
    }

    #[test]
    fn an_unspecified_address_is_reached_on_loopback_and_v6_is_bracketed() {
        let env = service_env(&[
            (
                "any".to_owned(),
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                vec![(None, 80)],
            ),
            (
                "six".to_owned(),
                IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                vec![(None, 81)],
            ),
        ]);
        assert_eq!(lookup(&env, "ANY_SERVICE_HOST"), Some("127.0.0.1"));
        assert_eq!(lookup(&env, "SIX_SERVICE_HOST"), Some("::1"));
        assert_eq!(lookup(&env, "SIX_PORT"), Some("tcp://[::1]:81"));
    }

    #[test]
    fn a_service_without_ports_gets_only_its_host() {
        let env = service_env(&[("bare".to_owned(), localhost(), vec![])]);
        assert_eq!(
            env,
            vec![("BARE_SERVICE_HOST".to_owned(), "127.0.0.1".to_owned())]
        );
        assert!(service_env(&[]).is_empty());
    }
}
