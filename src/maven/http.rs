//! HTTP access to remote repositories: one blocking client with timeouts, per-repository
//! credentials and proxies, and a retry policy that retries only what is transient.

use std::error::Error as _;
use std::io::{self, Read as _};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder, Response};

use crate::env_vars::{self, EnvVars};
use crate::maven::repository::{Credentials, RemoteRepository};

/// The largest metadata, checksum or pom file read: real ones are a few KiB (metadata of an
/// artifact with thousands of versions some hundreds), and each is held in memory and parsed.
pub const MAX_SMALL_FILE: u64 = 8 << 20;

/// Whether a body is a web page rather than a Maven file: by its declared type, or, for servers
/// that declare none or a wrong one, by how it begins.
pub fn looks_like_html(content_type: Option<&str>, start: &[u8]) -> Option<String> {
    if let Some(t) = content_type
        && t.trim().to_ascii_lowercase().starts_with("text/html")
    {
        return Some(format!("Content-Type {}", t.trim()));
    }
    let text = String::from_utf8_lossy(&start[..start.len().min(512)]);
    let text = text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .to_ascii_lowercase();
    (text.starts_with("<!doctype html") || text.starts_with("<html"))
        .then(|| "it begins with an HTML tag".to_owned())
}

fn content_type(resp: &Response) -> Option<&str> {
    resp.headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
}

/// Timeouts and retries, from the environment.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub connect_timeout: Duration,
    /// Longest silence while waiting for a response head or body bytes.
    pub read_timeout: Duration,
    /// Extra attempts after a transient failure.
    pub retries: u32,
    /// Zero in tests, so fault tests stay fast.
    pub retry_base_delay: Duration,
}

impl HttpConfig {
    pub fn from_env() -> Self {
        let secs = |name: &str, default: f64| {
            let v = env_vars::var(name)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(default);
            Duration::from_secs_f64(v.max(0.001))
        };
        Self {
            connect_timeout: secs(EnvVars::JUBE_CONNECT_TIMEOUT, 5.0),
            read_timeout: secs(EnvVars::JUBE_READ_TIMEOUT, 60.0),
            retries: env_vars::var(EnvVars::JUBE_HTTP_RETRIES)
                .and_then(|v| v.parse().ok())
                .unwrap_or(3),
            retry_base_delay: if env_vars::var(EnvVars::JUBE_TEST_NO_RETRY_DELAY).is_some() {
                Duration::ZERO
            } else {
                Duration::from_millis(250)
            },
        }
    }
}

/// What a remote repository answered, reduced to what the resolver branches on.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum FetchError {
    #[error("not found (404)")]
    NotFound,
    /// A `file:` repository lacks the file: its "404".
    #[error("no such file")]
    NoFile,
    #[error(
        "{0} (check the credentials for this repository: settings.xml <server> or user:pass@ in JUBE_REMOTE_MAVEN_REPOS)"
    )]
    Unauthorized(String),
    #[error("HTTP {0}")]
    Status(String),
    #[error("connection refused")]
    Refused,
    /// A `file:` repository whose folder does not exist.
    #[error("the folder {0} does not exist")]
    NoFolder(String),
    #[error("host not found ({0})")]
    Dns(String),
    #[error("timed out ({0})")]
    Timeout(String),
    #[error("TLS error: {0}")]
    Tls(String),
    #[error("transfer failed: {0}")]
    Transfer(String),
    /// A small file (metadata, checksum, pom) larger than any real one.
    #[error(
        "the file is larger than the {} MiB allowed for metadata, checksums and poms; refusing it",
        MAX_SMALL_FILE >> 20
    )]
    TooLarge,
    /// 200 with a web page: a login page, a proxy's error page, a repository manager's "not
    /// found" page.
    #[error(
        "the server returned an HTML page ({0}) instead of the file; the repository URL may point at a \
         web page, or a proxy or login page answered instead"
    )]
    Html(String),
    #[error("{0}")]
    Other(String),
}

impl FetchError {
    /// Whether trying again may help: resets, truncated bodies, timeouts while reading, 5xx, 408, 429.
    /// Refused connections and unknown hosts fail fast, so an unreachable repository costs little.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Transfer(_) => true,
            Self::Timeout(what) => what != "connect",
            Self::Status(s) => {
                let code: u16 = s
                    .split_whitespace()
                    .next()
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(0);
                code >= 500 || code == 408 || code == 429
            }
            _ => false,
        }
    }

    /// Whether the repository answered that it has no such file (404, 410, or a missing file).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound | Self::NoFile)
    }

    /// Whether the repository cannot be reached at all (as opposed to answering).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::Refused | Self::Dns(_) | Self::NoFolder(_))
            || matches!(self, Self::Timeout(w) if w == "connect")
    }

    pub fn from_status(status: StatusCode) -> Self {
        let text = match status.canonical_reason() {
            Some(r) => format!("{} {r}", status.as_u16()),
            None => status.as_u16().to_string(),
        };
        match status.as_u16() {
            404 | 410 => Self::NotFound,
            401 | 403 => Self::Unauthorized(text),
            _ => Self::Status(text),
        }
    }

    /// Classifies an error of the client by walking its whole source chain.
    pub fn from_reqwest(err: &reqwest::Error) -> Self {
        let chain = error_chain(err);
        let lower = chain.to_ascii_lowercase();
        if let Some(kind) = io_kind(err) {
            match kind {
                io::ErrorKind::ConnectionRefused => return Self::Refused,
                io::ErrorKind::TimedOut => {
                    return Self::Timeout(if err.is_connect() { "connect" } else { "read" }.into());
                }
                _ => {}
            }
        }
        if lower.contains("dns error") || lower.contains("failed to lookup address") {
            return Self::Dns(last_cause(err));
        }
        if err.is_timeout() {
            return Self::Timeout(if err.is_connect() { "connect" } else { "read" }.into());
        }
        if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
            return Self::Tls(last_cause(err));
        }
        if lower.contains("connection refused") {
            return Self::Refused;
        }
        // Past TCP but not connected, on https: the TLS handshake failed (rustls words its errors
        // without saying "TLS", e.g. "received corrupt message" from a plain-HTTP server).
        let https = err.url().is_some_and(|u| u.scheme() == "https");
        if err.is_connect() && https {
            return Self::Tls(last_cause(err));
        }
        if err.is_connect() {
            return Self::Other(format!("could not connect: {}", last_cause(err)));
        }
        Self::Transfer(last_cause(err))
    }

    /// Classifies an error met while reading a response body.
    pub fn from_io(err: &io::Error) -> Self {
        let inner = err.get_ref().and_then(|e| e.downcast_ref::<reqwest::Error>());
        match inner {
            Some(e) if e.is_timeout() => Self::Timeout("read".into()),
            Some(e) => Self::from_reqwest(e),
            None if err.kind() == io::ErrorKind::TimedOut => Self::Timeout("read".into()),
            None => Self::Transfer(err.to_string()),
        }
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn last_cause(err: &dyn std::error::Error) -> String {
    let mut last = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        last = s.to_string();
        source = s.source();
    }
    last
}

fn io_kind(err: &reqwest::Error) -> Option<io::ErrorKind> {
    let mut source = err.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<io::Error>() {
            return Some(io.kind());
        }
        source = s.source();
    }
    None
}

/// Reads a body of at most [`MAX_SMALL_FILE`] bytes; a server that sends more (whatever its
/// Content-Length said) is cut off there.
pub fn read_capped(mut body: impl io::Read) -> Result<Vec<u8>, FetchError> {
    let mut bytes = Vec::new();
    io::Read::take(&mut body, MAX_SMALL_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| FetchError::from_io(&e))?;
    if bytes.len() as u64 > MAX_SMALL_FILE {
        return Err(FetchError::TooLarge);
    }
    Ok(bytes)
}

/// The HTTP client shared by every repository of one jube run.
pub struct Http {
    client: Client,
    config: HttpConfig,
}

impl Http {
    pub fn new(config: HttpConfig, repositories: &[RemoteRepository]) -> Result<Self, FetchError> {
        let proxies: Vec<(String, String)> = repositories
            .iter()
            .filter_map(|r| {
                let proxy = r.proxy.as_ref()?;
                let mut url = proxy.url.url().clone();
                if let Some(c) = &proxy.credentials {
                    let _ = url.set_username(&c.username);
                    let _ = url.set_password(Some(c.password()));
                }
                Some((r.url.without_credentials().to_string(), url.to_string()))
            })
            .collect();
        let mut builder = Client::builder()
            .user_agent(concat!("jube/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(config.connect_timeout)
            .timeout(config.read_timeout)
            .no_proxy()
            .tcp_nodelay(true);
        if !proxies.is_empty() {
            // Proxies are chosen per repository (settings.xml, NO_PROXY), so match on the URL prefix.
            builder = builder.proxy(reqwest::Proxy::custom(move |url| {
                let url = url.as_str();
                proxies
                    .iter()
                    .find(|(prefix, _)| url.starts_with(prefix.as_str()))
                    .and_then(|(_, proxy)| reqwest::Url::parse(proxy).ok())
            }));
        }
        let client = builder
            .build()
            .map_err(|e| FetchError::Other(format!("cannot set up HTTP: {e}")))?;
        Ok(Self { client, config })
    }

    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    fn request(
        &self,
        method: reqwest::Method,
        url: &url::Url,
        creds: Option<&Credentials>,
    ) -> RequestBuilder {
        let req = self.client.request(method, url.as_str());
        match creds {
            Some(c) => req.basic_auth(&c.username, Some(c.password())),
            None => req,
        }
    }

    /// GETs `url` and returns the response once its head says 2xx, retrying transient failures.
    pub fn get(&self, url: &url::Url, creds: Option<&Credentials>) -> Result<Response, FetchError> {
        self.with_retries(|| {
            let resp = self
                .request(reqwest::Method::GET, url, creds)
                .send()
                .map_err(|e| FetchError::from_reqwest(&e))?;
            if !resp.status().is_success() {
                return Err(FetchError::from_status(resp.status()));
            }
            // Artifacts are binary (zips, jars) or XML: a declared web page is never one.
            if let Some(why) = looks_like_html(content_type(&resp), b"") {
                return Err(FetchError::Html(why));
            }
            Ok(resp)
        })
    }

    /// GETs a small file (metadata, checksums) whole, at most [`MAX_SMALL_FILE`] bytes of it.
    pub fn get_bytes(&self, url: &url::Url, creds: Option<&Credentials>) -> Result<Vec<u8>, FetchError> {
        self.with_retries(|| {
            let resp = self
                .request(reqwest::Method::GET, url, creds)
                .send()
                .map_err(|e| FetchError::from_reqwest(&e))?;
            if !resp.status().is_success() {
                return Err(FetchError::from_status(resp.status()));
            }
            if resp.content_length().is_some_and(|len| len > MAX_SMALL_FILE) {
                return Err(FetchError::TooLarge);
            }
            let declared = content_type(&resp).map(str::to_owned);
            let bytes = read_capped(resp)?;
            if let Some(why) = looks_like_html(declared.as_deref(), &bytes) {
                return Err(FetchError::Html(why));
            }
            Ok(bytes)
        })
    }

    /// PUTs `body` (with a Content-Length, as maven-deploy-plugin does).
    pub fn put(&self, url: &url::Url, creds: Option<&Credentials>, body: Vec<u8>) -> Result<(), FetchError> {
        let len = body.len() as u64;
        self.put_with(url, creds, len, || {
            Ok(reqwest::blocking::Body::from(body.clone()))
        })
    }

    /// PUTs a file as it is read, so that a large image is never held in memory; each attempt
    /// opens it again.
    pub fn put_file(
        &self,
        url: &url::Url,
        creds: Option<&Credentials>,
        path: &std::path::Path,
        len: u64,
    ) -> Result<(), FetchError> {
        self.put_with(url, creds, len, || {
            let file = std::fs::File::open(path)
                .map_err(|e| FetchError::Other(format!("cannot read {}: {e}", path.display())))?;
            Ok(reqwest::blocking::Body::sized(file, len))
        })
    }

    fn put_with(
        &self,
        url: &url::Url,
        creds: Option<&Credentials>,
        len: u64,
        body: impl Fn() -> Result<reqwest::blocking::Body, FetchError>,
    ) -> Result<(), FetchError> {
        self.with_retries(|| {
            let resp = self
                .request(reqwest::Method::PUT, url, creds)
                .header(reqwest::header::CONTENT_LENGTH, len)
                .body(body()?)
                .send()
                .map_err(|e| FetchError::from_reqwest(&e))?;
            if resp.status().is_success() {
                Ok(())
            } else {
                Err(FetchError::from_status(resp.status()))
            }
        })
    }

    /// Runs `attempt` until it succeeds, fails for good, or the retries are used up.
    pub fn with_retries<T>(
        &self,
        mut attempt: impl FnMut() -> Result<T, FetchError>,
    ) -> Result<T, FetchError> {
        let mut tries = 0;
        loop {
            match attempt() {
                Err(e) if e.is_transient() && tries < self.config.retries => {
                    tries += 1;
                    std::thread::sleep(self.backoff(tries));
                }
                other => return other,
            }
        }
    }

    /// Exponential backoff with jitter, bounded, so that many clients don't retry in lockstep.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let base = self.config.retry_base_delay;
        if base.is_zero() {
            return base;
        }
        let exp = base
            .saturating_mul(1 << attempt.min(5))
            .min(Duration::from_secs(5));
        let jitter = rand::random_range(0.5..1.0);
        exp.mul_f64(jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_failures_are_retried() {
        assert!(FetchError::Status("503 Service Unavailable".into()).is_transient());
        assert!(FetchError::Status("429".into()).is_transient());
        assert!(FetchError::Status("408 Request Timeout".into()).is_transient());
        assert!(FetchError::Transfer("connection reset".into()).is_transient());
        assert!(FetchError::Timeout("read".into()).is_transient());
        assert!(!FetchError::NotFound.is_transient());
        assert!(!FetchError::Status("400 Bad Request".into()).is_transient());
        assert!(!FetchError::Refused.is_transient());
        assert!(!FetchError::Timeout("connect".into()).is_transient());
        assert!(!FetchError::Tls("bad certificate".into()).is_transient());
        assert!(!FetchError::Unauthorized("401 Unauthorized".into()).is_transient());
    }

    #[test]
    fn web_pages_are_told_by_their_type_or_their_first_tag() {
        assert!(looks_like_html(Some("text/html; charset=UTF-8"), b"").is_some());
        assert!(looks_like_html(Some("TEXT/HTML"), b"PK\x03\x04").is_some());
        assert!(looks_like_html(Some("application/xml"), b"\xef\xbb\xbf  <!DOCTYPE HTML>").is_some());
        assert!(looks_like_html(None, b"\n<html lang=en>").is_some());
        assert!(looks_like_html(Some("application/xml"), b"<?xml version=\"1.0\"?><metadata/>").is_none());
        assert!(looks_like_html(None, b"PK\x03\x04").is_none());
    }

    #[test]
    fn small_files_are_read_up_to_the_cap_and_no_further() {
        let exact = vec![b'x'; MAX_SMALL_FILE as usize];
        assert_eq!(read_capped(exact.as_slice()).unwrap().len(), exact.len());
        let over = std::io::Read::chain(exact.as_slice(), &b"y"[..]);
        assert_eq!(read_capped(over).unwrap_err(), FetchError::TooLarge);
        assert!(!FetchError::TooLarge.is_transient());
        assert!(!FetchError::Html("x".into()).is_transient());
    }

    #[test]
    fn statuses_map_to_what_the_resolver_needs() {
        assert_eq!(
            FetchError::from_status(StatusCode::NOT_FOUND),
            FetchError::NotFound
        );
        assert!(matches!(
            FetchError::from_status(StatusCode::UNAUTHORIZED),
            FetchError::Unauthorized(_)
        ));
        assert_eq!(
            FetchError::from_status(StatusCode::INTERNAL_SERVER_ERROR).to_string(),
            "HTTP 500 Internal Server Error"
        );
    }
}
