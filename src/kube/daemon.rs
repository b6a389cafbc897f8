//! `jube daemon`: one supervisor per JUBE_HOME. It holds the daemon lock, serves the Kubernetes API,
//! runs the reconciler and the service proxies, and logs to `JUBE_HOME/daemon.log`.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::container::lifecycle::Containers;
use crate::env_vars::{self, EnvVars};
use crate::fsutil::{self, LockedFile};
use crate::kube::api::guard::Guard;
use crate::kube::api::tls::{Tls, TlsError, TlsListener};
use crate::kube::api::{self, ApiState};
use crate::kube::cluster_ip::ServiceRange;
use crate::kube::controller::Controller;
use crate::kube::controller::ServiceAddressing;
use crate::kube::hosts::{HostsBlock, ServiceNames};
use crate::kube::kinds::DEFAULT_NAMESPACE;
use crate::kube::proxy::ProxyManager;
use crate::kube::reconcile::Config;
use crate::kube::store::Store;
use crate::kube::token::{self, Token, TokenError};
use crate::layout::Layout;

/// Where the daemon listens unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8585";

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("a jube daemon already runs for {home}{}; stop it with `jube daemon stop`", addr.as_ref().map(|a| format!(" (at {a})")).unwrap_or_default())]
    AlreadyRunning { home: PathBuf, addr: Option<String> },
    #[error(
        "cannot listen on {addr}: {source}; choose another address with --listen (port 0 picks a free one)"
    )]
    Listen { addr: String, source: std::io::Error },
    #[error(
        "the API would listen on {addr}, beyond loopback, without a token: anyone who reaches \
         this machine could run processes as you. Give it a token with --token-file FILE \
         (or JUBE_DAEMON_TOKEN_FILE; {how}), or listen on 127.0.0.1"
    )]
    NeedsToken { addr: SocketAddr, how: &'static str },
    #[error(
        "service proxies would listen on {addr}, beyond loopback, where anyone who reaches this \
         machine can use the services; add --expose-services to mean it, or leave out --address \
         (127.0.0.1)"
    )]
    ProxiesExposed { addr: IpAddr },
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("{0}")]
    Setup(String),
    #[error(transparent)]
    Store(#[from] crate::kube::store::StoreError),
    #[error(transparent)]
    Lock(#[from] crate::fsutil::LockError),
}

/// How the daemon runs.
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// The API's address; `None` means the default, falling back to a free port when it is taken.
    pub listen: Option<String>,
    /// Where service proxies listen.
    pub proxy_address: IpAddr,
    /// Whether proxies may listen beyond loopback (`--expose-services`).
    pub expose_services: bool,
    /// The file holding the bearer token the API requires; required beyond loopback.
    pub token_file: Option<PathBuf>,
    /// The first restart delay of a crashing container; doubles up to five minutes.
    pub backoff_base: Duration,
    /// How long events are kept.
    pub event_ttl: Duration,
    /// Where Service addresses come from; `None` reads JUBE_SERVICE_CIDR (or the default).
    pub service_range: Option<ServiceRange>,
}

impl Default for DaemonOptions {
    fn default() -> Self {
        Self {
            listen: None,
            proxy_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            expose_services: false,
            token_file: env_vars::var(EnvVars::JUBE_DAEMON_TOKEN_FILE).map(PathBuf::from),
            backoff_base: backoff_base_from_env(),
            event_ttl: crate::kube::events::DEFAULT_TTL,
            service_range: None,
        }
    }
}

/// `JUBE_BACKOFF_BASE` seconds (default 10), so tests need not wait for crash-loop delays.
pub fn backoff_base_from_env() -> Duration {
    let secs = env_vars::var(EnvVars::JUBE_BACKOFF_BASE)
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(10.0);
    Duration::from_secs_f64(secs.max(0.0))
}

/// What a shutdown request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// Stop the daemon; pods keep running and are adopted by the next daemon.
    LeavePods,
    /// Stop every pod's containers too.
    StopPods,
}

/// Appends timestamped lines to `daemon.log`.
#[derive(Clone)]
pub struct DaemonLog {
    file: Arc<Mutex<std::fs::File>>,
}

impl DaemonLog {
    pub fn open(layout: &Layout) -> std::io::Result<Self> {
        let path = layout.daemon_log();
        // The log quotes what manifests supply: private, as the store is.
        let file = fsutil::open_private_append(&path)?;
        Ok(Self {
            file: Arc::new(Mutex::new(file)),
        })
    }

    pub fn line(&self, message: &str) {
        let stamp = jiff::Timestamp::now()
            .round(jiff::Unit::Millisecond)
            .map(|t| t.to_string())
            .unwrap_or_default();
        if let Ok(mut f) = self.file.lock() {
            let _ = writeln!(f, "{stamp} {message}");
        }
    }

    /// A line the daemon's user must see: in the log, and on the daemon's stderr.
    pub fn warn(&self, message: &str) {
        eprintln!("warning: {message}");
        self.line(&format!("warning: {message}"));
    }
}

/// The address a running daemon of this JUBE_HOME listens on, from `daemon.addr`.
pub fn recorded_address(layout: &Layout) -> Option<String> {
    std::fs::read_to_string(layout.daemon_addr())
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// The token a running daemon of this JUBE_HOME requires, from `daemon.token`.
pub fn recorded_token(layout: &Layout) -> Option<Token> {
    token::recorded(&layout.daemon_token())
}

/// The certificate (PEM) of a running daemon that serves HTTPS, from `daemon.crt`; `None` when
/// it serves plain HTTP.
pub fn recorded_certificate(layout: &Layout) -> Option<String> {
    std::fs::read_to_string(layout.daemon_cert()).ok()
}

/// Whether a daemon holds this JUBE_HOME's lock right now.
pub fn is_running(layout: &Layout) -> bool {
    matches!(LockedFile::try_acquire(&layout.daemon_lock()), Ok(None))
}

/// Runs the daemon until a shutdown request or SIGTERM/SIGINT.
pub fn run(layout: Layout, options: DaemonOptions) -> Result<(), DaemonError> {
    if !options.proxy_address.is_loopback() && !options.expose_services {
        return Err(DaemonError::ProxiesExposed {
            addr: options.proxy_address,
        });
    }
    let token = options.token_file.as_deref().map(Token::from_file).transpose()?;
    let service_range = match options.service_range {
        Some(range) => range,
        None => ServiceRange::from_env()
            .map_err(|e| DaemonError::Setup(format!("{}: {e}", EnvVars::JUBE_SERVICE_CIDR)))?,
    };
    fs_err::create_dir_all(layout.home()).map_err(|e| DaemonError::Setup(e.to_string()))?;
    let Some(lock) = LockedFile::try_acquire(&layout.daemon_lock())? else {
        return Err(DaemonError::AlreadyRunning {
            home: layout.home().to_owned(),
            addr: recorded_address(&layout),
        });
    };
    let log = DaemonLog::open(&layout).map_err(|e| DaemonError::Setup(e.to_string()))?;
    let store = Arc::new(Store::open(&layout.store())?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| DaemonError::Setup(format!("cannot start the async runtime: {e}")))?;
    let result = runtime.block_on(serve(
        layout.clone(),
        options,
        service_range,
        token,
        store,
        log.clone(),
    ));
    let _ = std::fs::remove_file(layout.daemon_addr());
    let _ = std::fs::remove_file(layout.daemon_token());
    let _ = std::fs::remove_file(layout.daemon_cert());
    log.line("daemon stopped");
    drop(lock);
    result
}

async fn serve(
    layout: Layout,
    options: DaemonOptions,
    service_range: ServiceRange,
    token: Option<Token>,
    store: Arc<Store>,
    log: DaemonLog,
) -> Result<(), DaemonError> {
    let listener = bind(options.listen.as_deref()).await?;
    let addr: SocketAddr = listener
        .local_addr()
        .map_err(|e| DaemonError::Setup(e.to_string()))?;
    if !addr.ip().is_loopback() && token.is_none() {
        return Err(DaemonError::NeedsToken {
            addr,
            how: token::HOW_TO_MAKE_ONE,
        });
    }
    // With a token comes HTTPS: kubectl sends credentials only over TLS.
    let tls = token.as_ref().map(|_| Tls::self_signed(addr)).transpose()?;
    record(&layout, addr, token.as_ref(), tls.as_ref())?;
    log.line(&format!(
        "daemon {} listening on {addr}{} for {}",
        std::process::id(),
        if token.is_some() {
            " (HTTPS, bearer token required)"
        } else {
            ""
        },
        layout.home().display()
    ));
    if !options.proxy_address.is_loopback() {
        log.line(&format!(
            "service proxies listen on {}, beyond loopback (--expose-services)",
            options.proxy_address
        ));
    }

    let (shutdown_tx, mut shutdown_rx) = tokio::sync::watch::channel::<Option<Shutdown>>(None);
    let state = Arc::new(ApiState {
        store: store.clone(),
        layout: layout.clone(),
        log: log.clone(),
        shutdown: shutdown_tx.clone(),
        service_range,
        service_writes: Default::default(),
    });
    let app = api::router(state, Guard::new(addr, token));

    let graceful = shutdown_rx.clone();
    let server = match &tls {
        Some(tls) => {
            let listener = TlsListener::new(listener, tls).map_err(|e| DaemonError::Setup(e.to_string()))?;
            spawn_server(listener, app, graceful)
        }
        None => spawn_server(listener, app, graceful),
    };

    store.ensure_namespace(DEFAULT_NAMESPACE)?;
    let proxies = Arc::new(ProxyManager::new(
        options.proxy_address,
        layout.clone(),
        log.clone(),
    ));
    let names = Arc::new(ServiceNames::new(HostsBlock::for_daemon(&layout), log.clone()));
    let controller = Controller::new(
        store.clone(),
        proxies.clone(),
        Containers::new(layout.clone()),
        log.clone(),
        Config {
            backoff_base: options.backoff_base,
            event_ttl: options.event_ttl,
        },
        ServiceAddressing {
            range: service_range,
            salt: layout.home().display().to_string(),
            names: names.clone(),
        },
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let reconciling = tokio::spawn(controller.clone().run(stop_rx));
    let reaping = tokio::spawn(controller.clone().reap_forever());

    let signals = tokio::spawn(watch_signals(shutdown_tx.clone()));
    let mode = shutdown_rx
        .wait_for(Option::is_some)
        .await
        .ok()
        .and_then(|m| *m)
        .unwrap_or(Shutdown::LeavePods);
    signals.abort();
    log.line(&format!("shutting down ({mode:?})"));
    let _ = stop_tx.send(true);
    let _ = reconciling.await;
    proxies.shutdown().await;
    names.clear();
    if mode == Shutdown::StopPods {
        let c = controller.clone();
        let _ = tokio::task::spawn_blocking(move || c.stop_all_pods()).await;
    }
    reaping.abort();
    let _ = server.await;
    Ok(())
}

/// Tells jube's clients where the API is, which token it wants and which certificate it
/// presents: `daemon.token` and `daemon.crt` (mode 0600; removed when this daemon has none)
/// first, then `daemon.addr`, which clients look for first. A daemon listening on every address
/// records the loopback one, which clients on this machine can connect to.
fn record(
    layout: &Layout,
    addr: SocketAddr,
    token: Option<&Token>,
    tls: Option<&Tls>,
) -> Result<(), DaemonError> {
    let failed = |path: PathBuf| {
        move |e: std::io::Error| DaemonError::Setup(format!("cannot write {}: {e}", path.display()))
    };
    let files = [
        (layout.daemon_token(), token.map(|t| t.as_str().as_bytes())),
        (layout.daemon_cert(), tls.map(|t| t.cert_pem.as_bytes())),
    ];
    for (path, contents) in files {
        match contents {
            Some(bytes) => fsutil::write_atomic_mode(&path, bytes, Some(0o600)).map_err(failed(path))?,
            None => match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(failed(path)(e)),
                _ => {}
            },
        }
    }
    let reachable = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let recorded = SocketAddr::new(reachable, addr.port()).to_string();
    fsutil::write_atomic(&layout.daemon_addr(), recorded.as_bytes()).map_err(failed(layout.daemon_addr()))
}

/// Serves `app` on `listener` until a shutdown is asked for.
fn spawn_server<L>(
    listener: L,
    app: axum::Router,
    mut shutdown: tokio::sync::watch::Receiver<Option<Shutdown>>,
) -> tokio::task::JoinHandle<std::io::Result<()>>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = shutdown.wait_for(Option::is_some).await;
            })
            .await
    })
}

async fn bind(listen: Option<&str>) -> Result<tokio::net::TcpListener, DaemonError> {
    let wanted = listen
        .map(str::to_owned)
        .or_else(|| env_vars::var(EnvVars::JUBE_DAEMON_LISTEN));
    match wanted {
        Some(addr) => tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(|source| DaemonError::Listen { addr, source }),
        // The default port may belong to another JUBE_HOME's daemon: any free port will do.
        None => match tokio::net::TcpListener::bind(DEFAULT_LISTEN).await {
            Ok(l) => Ok(l),
            Err(_) => tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .map_err(|source| DaemonError::Listen {
                    addr: "127.0.0.1:0".into(),
                    source,
                }),
        },
    }
}

#[cfg(unix)]
async fn watch_signals(shutdown: tokio::sync::watch::Sender<Option<Shutdown>>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
    else {
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    let _ = shutdown.send(Some(Shutdown::LeavePods));
}

#[cfg(not(unix))]
async fn watch_signals(shutdown: tokio::sync::watch::Sender<Option<Shutdown>>) {
    let _ = tokio::signal::ctrl_c().await;
    let _ = shutdown.send(Some(Shutdown::LeavePods));
}
