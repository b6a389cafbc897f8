//! `jube daemon` and `jube daemon stop`.

use std::net::IpAddr;

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

pub fn daemon(
    action: Option<DaemonAction>,
    listen: Option<String>,
    address: Option<IpAddr>,
) -> anyhow::Result<i32> {
    let layout = Layout::from_env();
    match action {
        Some(DaemonAction::Stop { stop_pods }) => {
            let client = Client::connect(&layout)?;
            client.shutdown(&layout, stop_pods)?;
            eprintln!("jube daemon at {} stopped", client.address());
            Ok(0)
        }
        None => {
            let mut options = DaemonOptions {
                listen,
                ..Default::default()
            };
            if let Some(a) = address {
                options.proxy_address = a;
            }
            daemon::run(layout, options)?;
            Ok(0)
        }
    }
}
