//! One service port's listener: accepts connections and splices each to a backend, round-robin.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;

use super::workers;
use crate::kube::daemon::DaemonLog;

/// Per direction. Loopback moves data in large segments; 8 KiB (tokio's default) costs syscalls.
const COPY_BUFFER: usize = 64 * 1024;
/// A backend that neither accepts nor refuses (a dropped SYN) is given up for the next one.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// After we close a connection we could not forward, how long we read what the client still sends,
/// so that unread bytes do not turn our FIN into a reset.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
const DRAIN_LIMIT: usize = 1024 * 1024;
const BACKLOG: u32 = 1024;

/// Binds `ip:port` for a proxy listener. Refuses a port another program holds on the wildcard
/// address too: on BSDs and macOS a loopback bind succeeds beside a wildcard listener and would
/// steal its loopback traffic.
pub(super) fn bind(ip: IpAddr, port: u16) -> io::Result<TcpListener> {
    if !ip.is_unspecified() {
        let wildcard = match ip {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        drop(socket_for(wildcard)?.tap_bind(SocketAddr::new(wildcard, port))?);
    }
    let socket = socket_for(ip)?.tap_bind(SocketAddr::new(ip, port))?;
    socket.listen(BACKLOG)
}

/// Binds exactly `ip:port`, for an address that belongs to one Service alone.
pub(super) fn bind_exact(ip: IpAddr, port: u16) -> io::Result<TcpListener> {
    socket_for(ip)?
        .tap_bind(SocketAddr::new(ip, port))?
        .listen(BACKLOG)
}

fn socket_for(ip: IpAddr) -> io::Result<TcpSocket> {
    let socket = match ip {
        IpAddr::V4(_) => TcpSocket::new_v4()?,
        IpAddr::V6(_) => TcpSocket::new_v6()?,
    };
    // Lets a restarted daemon take its ports back while old connections linger in TIME_WAIT. Not on
    // Windows, where SO_REUSEADDR lets two sockets share a port.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    Ok(socket)
}

trait TapBind: Sized {
    fn tap_bind(self, addr: SocketAddr) -> io::Result<Self>;
}

impl TapBind for TcpSocket {
    fn tap_bind(self, addr: SocketAddr) -> io::Result<Self> {
        self.bind(addr)?;
        Ok(self)
    }
}

/// What the accept loop and its connections share with the manager.
struct Shared {
    backends: RwLock<Arc<[SocketAddr]>>,
    next: AtomicUsize,
    /// Set while connections fail for want of a backend, so the log says so once, not per connection.
    failing: AtomicBool,
    label: String,
    log: DaemonLog,
}

/// A running listener; dropping it stops accepting (connections in flight go on).
pub(super) struct Listener {
    port: u16,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Listener {
    /// Starts accepting on `listener`. `label` names the service port in log lines.
    pub(super) fn start(
        listener: TcpListener,
        backends: Vec<SocketAddr>,
        label: String,
        log: DaemonLog,
    ) -> Self {
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
        let shared = Arc::new(Shared {
            backends: RwLock::new(backends.into()),
            next: AtomicUsize::new(0),
            failing: AtomicBool::new(false),
            label,
            log,
        });
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        Self { port, shared, task }
    }

    pub(super) fn port(&self) -> u16 {
        self.port
    }

    /// Replaces the backends for connections accepted from now on; returns whether they changed.
    pub(super) fn set_backends(&self, backends: &[SocketAddr]) -> bool {
        let mut current = self.shared.backends.write().unwrap_or_else(|e| e.into_inner());
        if **current == *backends {
            return false;
        }
        *current = backends.into();
        true
    }

    /// Stops accepting and waits until the socket is closed, so a connect right after fails.
    pub(super) async fn close(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((client, _)) => {
                let (backends, start) = shared.pick();
                // Handed over as a plain socket: it registers with the worker's own poller there.
                let Ok(client) = client.into_std() else { continue };
                let shared = shared.clone();
                workers::spawn(async move {
                    if let Ok(client) = TcpStream::from_std(client) {
                        forward(client, backends, start, shared).await;
                    }
                });
            }
            // Out of file descriptors and the like: the listener itself is fine, so wait a little
            // rather than spin.
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

impl Shared {
    /// The backends now, and where this connection starts in them.
    fn pick(&self) -> (Arc<[SocketAddr]>, usize) {
        let backends = self.backends.read().unwrap_or_else(|e| e.into_inner()).clone();
        let start = if backends.is_empty() {
            0
        } else {
            self.next.fetch_add(1, Ordering::Relaxed) % backends.len()
        };
        (backends, start)
    }
}

async fn forward(mut client: TcpStream, backends: Arc<[SocketAddr]>, start: usize, shared: Arc<Shared>) {
    let _ = client.set_nodelay(true);
    let Some(mut upstream) = connect_any(&backends, start).await else {
        if !shared.failing.swap(true, Ordering::Relaxed) {
            let why = if backends.is_empty() {
                "no ready backend"
            } else {
                "no backend accepted the connection"
            };
            shared.log.line(&format!(
                "{}: {why}; closing connections until one does",
                shared.label
            ));
        }
        close_cleanly(client).await;
        return;
    };
    if shared.failing.swap(false, Ordering::Relaxed) {
        shared.log.line(&format!("{}: forwarding again", shared.label));
    }
    let _ = upstream.set_nodelay(true);
    let _ =
        tokio::io::copy_bidirectional_with_sizes(&mut client, &mut upstream, COPY_BUFFER, COPY_BUFFER).await;
}

/// Tries every backend once, from `start` on: a refused or silent one is skipped.
async fn connect_any(backends: &[SocketAddr], start: usize) -> Option<TcpStream> {
    for i in 0..backends.len() {
        let addr = backends[(start + i) % backends.len()];
        if let Ok(Ok(stream)) = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            return Some(stream);
        }
    }
    None
}

/// Sends FIN at once, then reads and discards what the client still sends for a while: closing a
/// socket with unread data would send a reset instead, which clients report as an error.
async fn close_cleanly(mut client: TcpStream) {
    let _ = client.shutdown().await;
    let drain = async {
        let mut buf = [0u8; 8192];
        let mut total = 0;
        while total < DRAIN_LIMIT {
            match client.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, drain).await;
}
