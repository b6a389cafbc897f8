//! HTTPS for a daemon that requires a bearer token. kubectl sends a kubeconfig's credentials only
//! over TLS (and a token sent in clear text beyond loopback could be read on the way), so such a
//! daemon serves HTTPS with a certificate it makes at each start. It records the certificate in
//! `JUBE_HOME/daemon.crt`, which jube's clients trust and `jube kubeconfig` hands to kubectl.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// A client that has not finished its handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Finished handshakes waiting for the server to take them.
const ACCEPTED_BACKLOG: usize = 64;

/// A server certificate and the TLS configuration that presents it.
pub struct Tls {
    /// The certificate, PEM: what clients trust.
    pub cert_pem: String,
    config: Arc<rustls::ServerConfig>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot set up HTTPS for the API: {0}")]
pub struct TlsError(String);

impl Tls {
    /// A self-signed certificate for localhost, 127.0.0.1 and [::1], and for `listen`'s address
    /// when that is a single address beyond loopback.
    pub fn self_signed(listen: SocketAddr) -> Result<Self, TlsError> {
        let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
        let ip = listen.ip();
        if !ip.is_loopback() && !ip.is_unspecified() {
            names.push(ip.to_string());
        }
        let made = rcgen::generate_simple_self_signed(names).map_err(|e| TlsError(e.to_string()))?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.signing_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(vec![made.cert.der().clone()], key)
            .map_err(|e| TlsError(e.to_string()))?;
        // The server speaks HTTP/1.1 only; saying so keeps clients from trying HTTP/2.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            cert_pem: made.cert.pem(),
            config: Arc::new(config),
        })
    }
}

/// A listener whose connections have finished their TLS handshake. Handshakes run side by side,
/// so a client that connects and says nothing holds up no one.
pub struct TlsListener {
    accepted: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    acceptor: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    pub fn new(tcp: TcpListener, tls: &Tls) -> std::io::Result<Self> {
        let local = tcp.local_addr()?;
        let acceptor = TlsAcceptor::from(tls.config.clone());
        let (tx, accepted) = mpsc::channel(ACCEPTED_BACKLOG);
        let acceptor = tokio::spawn(async move {
            while !tx.is_closed() {
                let (stream, peer) = match tcp.accept().await {
                    Ok(accepted) => accepted,
                    // Out of file descriptors and the like: wait for some to be freed.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    if let Ok(Ok(stream)) =
                        tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
                    {
                        let _ = tx.send((stream, peer)).await;
                    }
                });
            }
        });
        Ok(Self {
            accepted,
            local,
            acceptor,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.accepted.recv().await {
            Some(connection) => connection,
            // The accepting task only ends when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
