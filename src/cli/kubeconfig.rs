//! `jube kubeconfig [--merge]`: a kubeconfig for this JUBE_HOME's running daemon.

use crate::kube::client::Client;
use crate::kube::daemon;
use crate::kube::kubeconfig::{self, Target};
use crate::layout::Layout;

pub fn kubeconfig(merge: bool) -> anyhow::Result<i32> {
    let layout = Layout::from_env();
    let client = Client::connect(&layout)?;
    let token = daemon::recorded_token(&layout);
    let certificate = daemon::recorded_certificate(&layout);
    let target = Target {
        server: client.base_url(),
        token: token.as_ref(),
        certificate: certificate.as_deref(),
    };
    if !merge {
        print!("{}", kubeconfig::standalone(&target)?);
        return Ok(0);
    }
    let merged = kubeconfig::merge_into(&kubeconfig::default_path()?, &target)?;
    let verb = match (merged.existed, merged.replaced) {
        (false, _) => "created",
        (true, true) => "replaced the jube cluster, user and context in",
        (true, false) => "added the jube cluster, user and context to",
    };
    eprintln!("{verb} {}", merged.path.display());
    if merged.set_current {
        eprintln!("current-context is now jube");
    } else {
        eprintln!(
            "current-context stays {}; use `kubectl --context jube` or `kubectl config use-context jube`",
            merged.current_context
        );
    }
    Ok(0)
}
