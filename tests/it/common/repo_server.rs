//! A Maven repository on 127.0.0.1 that serves a temp folder, takes deploys by PUT, and fails on
//! request: errors, slow or truncated bodies, reset or silent connections.
//!
//! ```ignore
//! let server = RepoServer::start();
//! server.publish_image("fabric8/java", "1.0", &fixtures::image_zip(&fixtures::simple_image()));
//! server.set_fault(Some("-image.zip"), Fault::Times(1, Box::new(Fault::Status(500))));
//! env.set_env("JUBE_REMOTE_MAVEN_REPOS", server.url());
//! ```
//!
//! It runs on its own thread with its own tokio runtime and stops when the `RepoServer` drops.
//! Each connection goes through [`FaultyIo`], which lets a request's handler slow down, cut short
//! or reset the connection it arrived on.

use std::future::{Future, IntoFuture};
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, HttpBody};
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use super::lock;

/// How a request that matches a fault is answered instead of normally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 404, whether or not the file exists.
    NotFound,
    /// This status with a short text body.
    Status(u16),
    /// The normal answer, written at this rate.
    Slow { bytes_per_sec: u64 },
    /// The full `Content-Length`, but the connection closes after `after` bytes of the body.
    Truncate { after: u64 },
    /// The connection is closed (with a TCP reset) without any response.
    Reset,
    /// The fault applies to the next N matching requests only, then service is normal again.
    Times(u32, Box<Fault>),
    /// The request is read but never answered, until the server stops.
    Hang,
    /// `302 Found` to this URL.
    Redirect(String),
    /// 200 with this body and content type, whatever was asked (an HTML error page, say).
    Serve {
        content_type: &'static str,
        body: Vec<u8>,
    },
}

/// One logged request: method, path, and the status sent (0 when none was: `Reset`, `Hang`).
pub type Logged = (String, String, u16);

/// A running repository server; dropping it stops the server and deletes its folder.
pub struct RepoServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    // Deleted after `drop` has stopped the server thread.
    _root: tempfile::TempDir,
}

struct Shared {
    root: PathBuf,
    /// The exact `Authorization` header value required, if any.
    authorization: Option<String>,
    faults: Mutex<Vec<FaultRule>>,
    log: Mutex<Vec<Logged>>,
    /// The `Authorization` header of every request, in order (`None` when it had none).
    authorizations: Mutex<Vec<Option<String>>>,
    temp_counter: AtomicU64,
}

struct FaultRule {
    /// `None`: every path.
    suffix: Option<String>,
    fault: Fault,
    /// `None`: forever.
    remaining: Option<u32>,
}

impl RepoServer {
    pub fn start() -> Self {
        Self::launch(None, "127.0.0.1")
    }

    /// Listens on another loopback address (`127.0.0.2`): another host, as a client sees it.
    pub fn start_on(ip: &str) -> Self {
        Self::launch(None, ip)
    }

    /// Requires HTTP Basic credentials on every request; others get 401 with `WWW-Authenticate`.
    pub fn start_with_auth(user: &str, pass: &str) -> Self {
        Self::launch(
            Some(format!("Basic {}", base64(format!("{user}:{pass}").as_bytes()))),
            "127.0.0.1",
        )
    }

    fn launch(authorization: Option<String>, ip: &str) -> Self {
        let root = tempfile::Builder::new()
            .prefix("jube-repo-")
            .tempdir()
            .expect("create the repository folder");
        let shared = Arc::new(Shared {
            root: root.path().to_path_buf(),
            authorization,
            faults: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
            authorizations: Mutex::new(Vec::new()),
            temp_counter: AtomicU64::new(0),
        });
        // Bound here, so the address is known and connectable before `start` returns.
        let listener = std::net::TcpListener::bind((ip, 0)).expect("bind the repository server");
        listener
            .set_nonblocking(true)
            .expect("make the listener non-blocking");
        let addr = listener.local_addr().expect("the repository server's address");
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let thread = std::thread::Builder::new()
            .name(format!("repo-server-{}", addr.port()))
            .spawn(move || serve(listener, app, stopped))
            .expect("start the repository server thread");
        Self {
            addr,
            shared,
            shutdown: Some(shutdown),
            thread: Some(thread),
            _root: root,
        }
    }

    /// `http://127.0.0.1:PORT/`, with the trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The served folder; tests may write files into it directly.
    pub fn root(&self) -> &Path {
        &self.shared.root
    }

    /// Writes a file under the root (path relative, `/`-separated), creating folders. The file
    /// appears whole: it is written beside its place and renamed.
    pub fn put_file(&self, rel: &str, bytes: &[u8]) {
        let target = self.root().join(rel.trim_start_matches('/'));
        let parent = target.parent().expect("a file path has a parent");
        std::fs::create_dir_all(parent).expect("create the file's folder");
        let mut temp = tempfile::NamedTempFile::new_in(parent).expect("create a temp file");
        std::io::Write::write_all(&mut temp, bytes).expect("write the temp file");
        temp.persist(&target).expect("rename the temp file into place");
    }

    /// Publishes an image zip with its pom, checksums and metadata; see [`super::fixtures::publish_image`].
    pub fn publish_image(&self, image: &str, version: &str, zip: &[u8]) -> String {
        super::fixtures::publish_image(self.root(), image, version, zip)
    }

    /// From now on, requests whose path ends with `path_suffix` (every request for `None`) get
    /// `fault`. A fault set again for the same suffix replaces the old one; when several match,
    /// the one set last wins.
    pub fn set_fault(&self, path_suffix: Option<&str>, fault: Fault) {
        let (fault, remaining) = match fault {
            Fault::Times(n, inner) => (innermost(*inner), Some(n)),
            other => (other, None),
        };
        let suffix = path_suffix.map(str::to_owned);
        let mut faults = lock(&self.shared.faults);
        faults.retain(|rule| rule.suffix != suffix);
        if remaining != Some(0) {
            faults.push(FaultRule {
                suffix,
                fault,
                remaining,
            });
        }
    }

    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// Every request so far, in order: (method, path, status; 0 when no response was sent).
    pub fn requests(&self) -> Vec<Logged> {
        lock(&self.shared.log).clone()
    }

    /// How many requests with this method had a path ending with `path_suffix`.
    pub fn count(&self, method: &str, path_suffix: &str) -> usize {
        lock(&self.shared.log)
            .iter()
            .filter(|(m, p, _)| m.eq_ignore_ascii_case(method) && p.ends_with(path_suffix))
            .count()
    }

    /// The `Authorization` header of every request so far (`None` for a request without one).
    pub fn authorizations(&self) -> Vec<Option<String>> {
        lock(&self.shared.authorizations).clone()
    }

    /// Forgets the requests logged so far.
    pub fn clear_requests(&self) {
        lock(&self.shared.log).clear();
    }
}

impl Drop for RepoServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The server thread: serves until told to stop, then drops every connection, hanging ones
/// included, without waiting for them.
fn serve(listener: std::net::TcpListener, app: Router, stopped: tokio::sync::oneshot::Receiver<()>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("repo-server-worker")
        .enable_all()
        .build()
        .expect("build the repository server's runtime");
    runtime.block_on(async move {
        let listener = FaultyListener(TcpListener::from_std(listener).expect("register the listener"));
        let server = axum::serve(listener, app.into_make_service_with_connect_info::<Conn>());
        tokio::select! {
            result = server.into_future() => {
                if let Err(e) = result {
                    eprintln!("repository server stopped: {e}");
                }
            }
            _ = stopped => {}
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    request: Request,
) -> Response {
    // A keep-alive connection's previous response is complete by now; its faults end with it.
    conn.0.bytes_per_sec.store(0, Ordering::Relaxed);
    *lock(&conn.0.truncation) = None;
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let record = |status: u16| lock(&shared.log).push((method.to_string(), path.clone(), status));
    lock(&shared.authorizations).push(
        request
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
    );

    if !shared.authorized(request.headers()) {
        record(401);
        return (
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"jube-it\""),
            )],
            "credentials required\n",
        )
            .into_response();
    }
    let fault = shared.take_fault(&path);
    let truncate_after = match fault {
        Some(Fault::Reset) => {
            record(0);
            conn.0.reset.store(true, Ordering::Relaxed);
            // Never written: FaultyIo fails the write of its head and resets the connection.
            return StatusCode::OK.into_response();
        }
        Some(Fault::Hang) => {
            record(0);
            return std::future::pending::<Response>().await;
        }
        Some(Fault::NotFound) => {
            record(404);
            return (StatusCode::NOT_FOUND, "not found (fault)\n").into_response();
        }
        Some(Fault::Status(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            record(status.as_u16());
            return (status, format!("fault: status {code}\n")).into_response();
        }
        Some(Fault::Redirect(location)) => {
            record(302);
            return (StatusCode::FOUND, [(header::LOCATION, location)], "moved\n").into_response();
        }
        Some(Fault::Serve { content_type, body }) => {
            record(200);
            return (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], body).into_response();
        }
        Some(Fault::Slow { bytes_per_sec }) => {
            conn.0
                .bytes_per_sec
                .store(bytes_per_sec.max(1), Ordering::Relaxed);
            None
        }
        Some(Fault::Truncate { after }) => Some(after),
        Some(Fault::Times(..)) => unreachable!("set_fault unwraps Times"),
        None => None,
    };

    let response = match (request.method(), shared.file_path(&path)) {
        (_, None) => (StatusCode::BAD_REQUEST, "bad path\n").into_response(),
        (&Method::GET | &Method::HEAD, Some(file)) => {
            let head_only = request.method() == Method::HEAD;
            serve_file(&conn, &file, head_only, truncate_after).await
        }
        (&Method::PUT, Some(file)) => receive_file(&shared, &file, request.into_body()).await,
        _ => (StatusCode::METHOD_NOT_ALLOWED, "GET, HEAD and PUT only\n").into_response(),
    };
    record(response.status().as_u16());
    response
}

impl Shared {
    fn authorized(&self, headers: &HeaderMap) -> bool {
        match &self.authorization {
            None => true,
            Some(expected) => headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|given| given.trim() == expected),
        }
    }

    /// The fault for this path, if any, counting it against its `Times`.
    fn take_fault(&self, path: &str) -> Option<Fault> {
        let mut faults = lock(&self.faults);
        let index = faults
            .iter()
            .rposition(|rule| rule.suffix.as_deref().is_none_or(|s| path.ends_with(s)))?;
        let rule = &mut faults[index];
        let fault = rule.fault.clone();
        if let Some(remaining) = rule.remaining.as_mut() {
            *remaining -= 1;
            if *remaining == 0 {
                faults.remove(index);
            }
        }
        Some(fault)
    }

    /// The file a URL path names under the root, or `None` for a path that would leave it.
    fn file_path(&self, url_path: &str) -> Option<PathBuf> {
        let decoded = percent_decode(url_path)?;
        let mut file = self.root.clone();
        for part in decoded.split('/').filter(|p| !p.is_empty()) {
            if part == "." || part == ".." || part.contains(['\\', '\0']) {
                return None;
            }
            file.push(part);
        }
        Some(file)
    }

    fn temp_name(&self, prefix: &str) -> String {
        format!("{prefix}{}", self.temp_counter.fetch_add(1, Ordering::Relaxed))
    }
}

async fn serve_file(conn: &Conn, file: &Path, head_only: bool, truncate_after: Option<u64>) -> Response {
    let Ok(opened) = tokio::fs::File::open(file).await else {
        return not_found();
    };
    let len = match opened.metadata().await {
        Ok(meta) if meta.is_file() => meta.len(),
        _ => return not_found(),
    };
    let headers = [
        (header::CONTENT_LENGTH, HeaderValue::from(len)),
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type(file))),
    ];
    if head_only {
        return (StatusCode::OK, headers, Body::empty()).into_response();
    }
    if let Some(after) = truncate_after.filter(|after| *after < len) {
        *lock(&conn.0.truncation) = Some(Truncation::new(after));
    }
    // Streamed in large pieces, never read whole: benchmarks serve 512 MiB from here.
    let body = Body::from_stream(tokio_util::io::ReaderStream::with_capacity(opened, 256 * 1024));
    (StatusCode::OK, headers, body).into_response()
}

/// Writes a PUT body beside its target, then renames it into place: 201 when new, 204 when it
/// replaced a file.
async fn receive_file(shared: &Shared, file: &Path, mut body: Body) -> Response {
    if file.is_dir() {
        return (StatusCode::CONFLICT, "a folder has that name\n").into_response();
    }
    let Some(parent) = file.parent() else {
        return (StatusCode::BAD_REQUEST, "no file name\n").into_response();
    };
    if let Err(e) = tokio::fs::create_dir_all(parent).await {
        return server_error(format!("cannot create {}: {e}", parent.display()));
    }
    let temp = parent.join(shared.temp_name(".put-"));
    let written = async {
        let mut out = tokio::fs::File::create(&temp).await?;
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            let frame = frame.map_err(io::Error::other)?;
            if let Ok(data) = frame.into_data() {
                out.write_all(&data).await?;
            }
        }
        out.flush().await
    }
    .await;
    if let Err(e) = written {
        let _ = tokio::fs::remove_file(&temp).await;
        return (StatusCode::BAD_REQUEST, format!("reading the body failed: {e}\n")).into_response();
    }
    let existed = file.is_file();
    if let Err(e) = tokio::fs::rename(&temp, file).await {
        return server_error(format!("cannot rename into {}: {e}", file.display()));
    }
    if existed {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::CREATED
    }
    .into_response()
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

fn server_error(message: String) -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, message + "\n").into_response()
}

fn content_type(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()) {
        Some("xml" | "pom") => "application/xml",
        Some("sha1" | "md5" | "sha256" | "sha512") => "text/plain",
        _ => "application/octet-stream",
    }
}

/// Flattens nested `Times` to the fault that finally applies.
fn innermost(fault: Fault) -> Fault {
    match fault {
        Fault::Times(_, inner) => innermost(*inner),
        other => other,
    }
}

/// Decodes `%XX` escapes; `None` for a malformed escape or a result that is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Standard base64 with padding, for the Basic credentials.
pub fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> shift & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// What a handler may do to the connection its request came on.
#[derive(Default)]
struct ConnControl {
    /// Fail every further read and write, and close with a TCP reset.
    reset: AtomicBool,
    /// Pace writes to this rate; 0 for full speed.
    bytes_per_sec: AtomicU64,
    /// Cut the next response's body short.
    truncation: Mutex<Option<Truncation>>,
}

/// Where a response being cut short stands: its head passes whole, then `body_left` bytes of the
/// body, then every write fails and the connection closes.
struct Truncation {
    in_head: bool,
    /// How much of the `\r\n\r\n` that ends the head the last bytes matched.
    matched: usize,
    body_left: u64,
}

impl Truncation {
    const HEAD_END: &[u8; 4] = b"\r\n\r\n";

    fn new(after: u64) -> Self {
        Self {
            in_head: true,
            matched: 0,
            body_left: after,
        }
    }

    /// How many bytes of `buf` may be written next: in the head, up to its end at most (so the
    /// body is counted from a write of its own); in the body, what is left.
    fn allowed(&self, buf: &[u8]) -> usize {
        if !self.in_head {
            return buf
                .len()
                .min(usize::try_from(self.body_left).unwrap_or(usize::MAX));
        }
        let mut matched = self.matched;
        for (i, byte) in buf.iter().enumerate() {
            matched = Self::advance(matched, *byte);
            if matched == Self::HEAD_END.len() {
                return i + 1;
            }
        }
        buf.len()
    }

    /// Accounts for bytes written (never more than `allowed` gave).
    fn wrote(&mut self, written: &[u8]) {
        if !self.in_head {
            self.body_left -= written.len() as u64;
            return;
        }
        for byte in written {
            self.matched = Self::advance(self.matched, *byte);
        }
        self.in_head = self.matched < Self::HEAD_END.len();
    }

    fn advance(matched: usize, byte: u8) -> usize {
        if byte == Self::HEAD_END[matched] {
            matched + 1
        } else if byte == b'\r' {
            1
        } else {
            0
        }
    }
}

/// The per-connection handle handlers receive through `ConnectInfo`.
#[derive(Clone, Default)]
struct Conn(Arc<ConnControl>);

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Conn")
    }
}

impl Connected<IncomingStream<'_, FaultyListener>> for Conn {
    fn connect_info(stream: IncomingStream<'_, FaultyListener>) -> Self {
        stream.remote_addr().clone()
    }
}

struct FaultyListener(TcpListener);

impl Listener for FaultyListener {
    type Io = FaultyIo;
    type Addr = Conn;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let conn = Conn::default();
                    let io = FaultyIo {
                        inner: stream,
                        control: conn.0.clone(),
                        pause: None,
                    };
                    return (io, conn);
                }
                // Out of file descriptors and the like: wait and try again, as axum does.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(Conn::default())
    }
}

/// A TCP stream that obeys its [`ConnControl`]: paced or truncated writes, or a reset.
struct FaultyIo {
    inner: TcpStream,
    control: Arc<ConnControl>,
    /// Pacing: no write before this sleep ends.
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl FaultyIo {
    /// After a reset, every operation fails; the zero linger makes the close send RST.
    fn check_reset(&self) -> io::Result<()> {
        if self.control.reset.load(Ordering::Relaxed) {
            let _ = self.inner.set_zero_linger();
            return Err(io::Error::new(io::ErrorKind::ConnectionReset, "reset by a Fault"));
        }
        Ok(())
    }

    /// Writes (part of) `buf`, obeying the pace and the truncation set for this connection.
    fn poll_controlled_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.check_reset()?;
        let rate = self.control.bytes_per_sec.load(Ordering::Relaxed);
        let mut truncation = lock(&self.control.truncation);
        if rate == 0 && truncation.is_none() {
            drop(truncation);
            return Pin::new(&mut self.inner).poll_write(cx, buf);
        }
        if let Some(pause) = self.pause.as_mut() {
            ready!(pause.as_mut().poll(cx));
            self.pause = None;
        }
        let mut allowed = buf.len();
        if let Some(truncation) = truncation.as_ref() {
            allowed = truncation.allowed(buf);
            if allowed == 0 && !buf.is_empty() {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "truncated by a Fault",
                )));
            }
        }
        if rate > 0 {
            // A tenth of a second's worth per write keeps the pace smooth.
            allowed = allowed.min(usize::try_from(rate / 10).unwrap_or(usize::MAX).max(1));
        }
        let written = ready!(Pin::new(&mut self.inner).poll_write(cx, &buf[..allowed]))?;
        if let Some(truncation) = truncation.as_mut() {
            truncation.wrote(&buf[..written]);
        }
        if rate > 0 {
            let pause = Duration::from_secs_f64(written as f64 / rate as f64);
            self.pause = Some(Box::pin(tokio::time::sleep(pause)));
        }
        Poll::Ready(Ok(written))
    }

    /// Whether writes need [`Self::poll_controlled_write`].
    fn controlled(&self) -> bool {
        self.control.bytes_per_sec.load(Ordering::Relaxed) > 0 || lock(&self.control.truncation).is_some()
    }
}

impl AsyncRead for FaultyIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.check_reset()?;
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for FaultyIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_controlled_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.check_reset()?;
        if !self.controlled() {
            return Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        }
        let first = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| &b[..]);
        self.poll_controlled_write(cx, first)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check_reset()?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check_reset()?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
