//! `jube daemon` and `jube daemon stop`.

use std::net::IpAddr;
use std::path::PathBuf;

use crate::kube::client::Client;
use crate::kube::daemon::{self, DaemonOptions};
use crate::layout::Layout;

#[derive(Debug, clap::Subcommand)]
pub enum DaemonAction {
    /// Stop the daemon; pods keep running unless --stop-pods.
    Stop {
        /// Stop every pod's containers too.
        #[arg(long)]
        stop_pods: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct DaemonFlags {
    /// The API's address (default 127.0.0.1:8585; port 0 picks a free one). An address beyond
    /// loopback needs --token-file.
    #[arg(long)]
    listen: Option<String>,
    /// A file holding the bearer token the API requires (`Authorization: Bearer TOKEN`); needed
    /// when the API listens beyond loopback. Default: $JUBE_DAEMON_TOKEN_FILE.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// The address service proxies listen on (default 127.0.0.1). An address beyond loopback
    /// needs --expose-services.
    #[arg(long)]
    address: Option<IpAddr>,
    /// Let service proxies listen beyond loopback (--address), where other machines can use the
    /// services without any token.
    #[arg(long)]
    expose_services: bool,
    /// The loopback range Services get their own addresses from (default 127.77.0.0/16; or
    /// $JUBE_SERVICE_CIDR).
    #[arg(long, value_name = "CIDR")]
    service_cidr: Option<crate::kube::cluster_ip::ServiceRange>,
    /// How long events are kept, like `1h`, `30m` or `90s` (default 1h).
    #[arg(long, value_name = "DURATION", value_parser = parse_ttl)]
    event_ttl: Option<std::time::Duration>,
}

/// `1h`, `30m`, `90s`, `2h30m`: Kubernetes' duration syntax for `--event-ttl`.
fn parse_ttl(text: &str) -> Result<std::time::Duration, String> {
    let bad = || format!("`{text}` is not a duration like 1h, 30m or 90s");
    let mut total = 0u64;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number.parse().map_err(|_| bad())?;
        number.clear();
        total += n * match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
    }
    if !number.is_empty() || total == 0 {
        return Err(bad());
    }
    Ok(std::time::Duration::from_secs(total))
}

pub fn daemon(action: Option<DaemonAction>, flags: DaemonFlags) -> anyhow::Result<i32> {
    let layout = Layout::from_env();
    match action {
        Some(DaemonAction::Stop { stop_pods }) => {
            let client = Client::connect(&layout)?;
            client.shutdown(&layout, stop_pods)?;
            eprintln!("jube daemon at {} stopped", client.address());
            Ok(0)
        }
        None => {
            // Every pod's log is bounded by these: a bad value is refused before any pod runs.
            crate::container::logsize::LogLimits::from_env()?;
            let mut options = DaemonOptions {
                listen: flags.listen,
                expose_services: flags.expose_services,
                ..Default::default()
            };
            options.service_range = flags.service_cidr;
            if let Some(ttl) = flags.event_ttl {
                options.event_ttl = ttl;
            }
            if let Some(file) = flags.token_file {
                options.token_file = Some(file);
            }
            if let Some(a) = flags.address {
                options.proxy_address = a;
            }
            if !options.proxy_address.is_loopback() && options.expose_services {
                eprintln!(
                    "warning: service proxies listen on {}, beyond loopback: other machines can use \
                     every service, with no token",
                    options.proxy_address
                );
            }
            daemon::run(layout, options)?;
            Ok(0)
        }
    }
}
