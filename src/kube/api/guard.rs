//! The API's front door. Every request passes here before any route sees it, and is refused,
//! with a Kubernetes `Status` that says why, when it may come from a web page rather than from
//! kubectl or jube:
//!
//! - a `Host` that is not a loopback name or the listen address: DNS rebinding, where a page's
//!   own host name is pointed at 127.0.0.1 so that the browser treats the API as same-origin;
//! - an `Origin` that is not a loopback origin: the browser says which page sent the request
//!   (fetches, form posts, WebSocket upgrades alike), and kubectl sends none;
//! - a state-changing request a browser may send to any site without asking first (a CORS
//!   "simple" request): a body of `text/plain`, a form or multipart, or a POST without a body;
//! - when the daemon has a token, a request without `Authorization: Bearer <token>`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::{Body, HttpBody};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::kube::status::{ApiError, Reason};
use crate::kube::token::Token;

/// Body types a web page may send to any site without a preflight (the Fetch standard's
/// CORS-safelisted `Content-Type` values).
const SIMPLE_TYPES: [&str; 3] = [
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
];

/// Who may talk to the API.
#[derive(Debug, Clone)]
pub struct Guard {
    /// The address the daemon listens on.
    listen: SocketAddr,
    token: Option<Token>,
}

impl Guard {
    pub fn new(listen: SocketAddr, token: Option<Token>) -> Self {
        Self { listen, token }
    }

    /// Checks one request; `body_empty` is whether it certainly has no body.
    pub fn check(&self, method: &Method, headers: &HeaderMap, body_empty: bool) -> Result<(), ApiError> {
        self.check_host(headers)?;
        check_origin(headers)?;
        self.check_token(headers)?;
        check_body(method, headers, body_empty)
    }

    fn check_host(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let hosts: Vec<_> = headers.get_all(header::HOST).iter().collect();
        let [host] = hosts[..] else {
            return Err(ApiError::forbidden_request(
                "the request needs exactly one Host header; jube's API answers only requests to \
                 localhost or its own address",
            ));
        };
        let host = host.to_str().unwrap_or_default();
        if parse_host(host).is_some_and(|h| self.host_allowed(&h)) {
            return Ok(());
        }
        Err(ApiError::forbidden_request(format!(
            "the Host \"{host}\" is not an address of this jube daemon (it answers to localhost, \
             127.0.0.1 and [::1]{}); a web page may be trying to reach it through DNS rebinding",
            if self.listen.ip().is_loopback() {
                String::new()
            } else {
                format!(" and {}", self.listen.ip())
            }
        )))
    }

    fn host_allowed(&self, host: &HostName) -> bool {
        match host {
            HostName::Localhost => true,
            HostName::Ip(ip) if ip.is_loopback() => true,
            // Beyond loopback (which takes a token) the listen address is a name for the daemon
            // too. Listening on every address, any address of this machine is; an IP literal is
            // safe to accept, as rebinding needs a host name the attacker controls.
            HostName::Ip(ip) => {
                let listen = self.listen.ip();
                !listen.is_loopback() && (listen.is_unspecified() || *ip == listen)
            }
        }
    }

    fn check_token(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let Some(token) = &self.token else {
            return Ok(());
        };
        let offered = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim());
        match offered {
            Some(t) if token.matches(t) => Ok(()),
            Some(_) => Err(ApiError::unauthorized(
                "the bearer token is wrong; use the daemon's token file (`jube kubeconfig` prints a \
                 kubeconfig that holds it)",
            )),
            None => Err(ApiError::unauthorized(
                "this jube daemon requires `Authorization: Bearer <token>` with the token of its \
                 --token-file; `jube kubeconfig` prints a kubeconfig that holds it",
            )),
        }
    }
}

/// The middleware: refuses what [`Guard::check`] refuses, passes the rest on.
pub async fn guard(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    let body_empty = body_is_empty(request.body());
    match guard.check(request.method(), request.headers(), body_empty) {
        Ok(()) => next.run(request).await,
        Err(refused) => {
            let unauthorized = refused.reason == Reason::Unauthorized;
            let mut response = refused.into_response();
            if unauthorized {
                // RFC 9110: a 401 names the scheme that would work.
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            response
        }
    }
}

/// Whether the request certainly has no body: hyper knows when neither `Content-Length` nor
/// chunked encoding announces one, or when `Content-Length: 0` does.
fn body_is_empty(body: &Body) -> bool {
    body.size_hint().exact() == Some(0)
}

/// A `Host` header's host, without its port.
#[derive(Debug, PartialEq)]
enum HostName {
    Localhost,
    Ip(IpAddr),
}

/// `localhost[:port]`, `127.0.0.1[:port]`, `[::1][:port]`; `None` for other names and for
/// anything that is not a plain host and port.
fn parse_host(host: &str) -> Option<HostName> {
    let authority: axum::http::uri::Authority = host.parse().ok()?;
    if authority.as_str().contains('@') {
        return None;
    }
    name_or_ip(authority.host())
}

fn name_or_ip(host: &str) -> Option<HostName> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Some(HostName::Ip(ip));
    }
    // `localhost.` is the same name, fully qualified.
    let name = bare.strip_suffix('.').unwrap_or(bare);
    name.eq_ignore_ascii_case("localhost")
        .then_some(HostName::Localhost)
}

/// Browsers send `Origin` with every cross-origin request and every WebSocket upgrade; only
/// pages served from this machine's loopback may talk to the API.
fn check_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    for origin in headers.get_all(header::ORIGIN) {
        let text = origin.to_str().unwrap_or_default();
        if !is_loopback_origin(text) {
            return Err(ApiError::forbidden_request(format!(
                "requests from the web page at Origin \"{text}\" are refused: jube's API accepts \
                 only requests without an Origin (kubectl, jube) or from a loopback origin \
                 (http://localhost, http://127.0.0.1, http://[::1])"
            )));
        }
    }
    Ok(())
}

/// `http(s)://localhost|127.x.x.x|[::1][:port]`, nothing else (not `null`, no path).
fn is_loopback_origin(origin: &str) -> bool {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return false;
    }
    match parse_host(rest) {
        Some(HostName::Localhost) => true,
        Some(HostName::Ip(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The checks on bodies of state-changing requests.
///
/// A browser sends a cross-origin request without asking first only for GET, HEAD and POST, with
/// a safelisted body type (or none). PUT, PATCH and DELETE always get a preflight `OPTIONS`
/// first, which this API never approves (it sends no `Access-Control-Allow-*` headers), so the
/// browser never sends them. That is why a DELETE without a body stays allowed: kubectl sends
/// `DeleteOptions` with some deletes and nothing with others. A simple body type is refused on
/// all four methods all the same, as nothing of jube's or kubectl's sends one.
fn check_body(method: &Method, headers: &HeaderMap, body_empty: bool) -> Result<(), ApiError> {
    if ![Method::POST, Method::PUT, Method::PATCH, Method::DELETE].contains(method) {
        return Ok(());
    }
    // SPDY upgrades (exec, port-forward) are POSTs without a body; a browser cannot send
    // `Connection: Upgrade` itself, and WebSocket upgrades are GETs that carry an Origin.
    if is_upgrade(headers) {
        return Ok(());
    }
    let types: Vec<_> = headers.get_all(header::CONTENT_TYPE).iter().collect();
    for value in &types {
        let Ok(text) = value.to_str() else {
            return Err(ApiError::refused_media_type(
                "the Content-Type header is not readable text",
            ));
        };
        let essence = text
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if SIMPLE_TYPES.contains(&essence.as_str()) {
            return Err(ApiError::refused_media_type(format!(
                "{method} with a body of type {essence} is refused: web pages may send that type to \
                 any site; send application/json, application/yaml or another Kubernetes type"
            )));
        }
    }
    if types.is_empty() && !body_empty {
        return Err(ApiError::refused_media_type(format!(
            "{method} with a body but no Content-Type is refused (web pages may send that to any \
             site); send Content-Type: application/json"
        )));
    }
    if *method == Method::POST && body_empty {
        return Err(ApiError::bad_request(
            "a POST without a body is refused (web pages may send one to any site); send a JSON \
             body, `{}` at least, with Content-Type: application/json",
        ));
    }
    Ok(())
}

/// `Connection: Upgrade` with an `Upgrade` header.
fn is_upgrade(headers: &HeaderMap) -> bool {
    let connection_upgrades = headers.get_all(header::CONNECTION).iter().any(|v| {
        v.to_str()
            .unwrap_or_default()
            .split(',')
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
    });
    connection_upgrades && headers.contains_key(header::UPGRADE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn loopback() -> Guard {
        Guard::new("127.0.0.1:8585".parse().unwrap(), None)
    }

    #[test]
    fn loopback_hosts_with_any_port_pass_and_others_do_not() {
        let g = loopback();
        for host in [
            "localhost",
            "LOCALHOST:8585",
            "localhost.:1",
            "127.0.0.1:8585",
            "127.9.8.7",
            "[::1]:8585",
            "[::1]",
        ] {
            assert!(g.check_host(&headers(&[("host", host)])).is_ok(), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:8585",
            "localhost.evil.example",
            "user@localhost",
            "10.0.0.1:8585",
            "0.0.0.0:8585",
            "",
        ] {
            let refused = g.check_host(&headers(&[("host", host)])).unwrap_err();
            assert_eq!(refused.code(), 403, "{host}");
        }
        assert!(g.check_host(&HeaderMap::new()).is_err(), "no Host");
        let two = headers(&[("host", "localhost"), ("host", "evil.example")]);
        assert!(g.check_host(&two).is_err(), "two Hosts");
    }

    #[test]
    fn beyond_loopback_the_listen_address_is_a_host_too() {
        let token = Some(Token::parse("0123456789abcdef").unwrap());
        let g = Guard::new("192.168.1.5:8585".parse().unwrap(), token.clone());
        assert!(g.check_host(&headers(&[("host", "192.168.1.5:8585")])).is_ok());
        assert!(g.check_host(&headers(&[("host", "192.168.1.6:8585")])).is_err());
        assert!(g.check_host(&headers(&[("host", "evil.example:8585")])).is_err());
        let every = Guard::new("0.0.0.0:8585".parse().unwrap(), token);
        assert!(every.check_host(&headers(&[("host", "10.1.2.3:8585")])).is_ok());
        assert!(every.check_host(&headers(&[("host", "evil.example")])).is_err());
    }

    #[test]
    fn only_loopback_origins_pass() {
        for ok in [
            "http://localhost:3000",
            "https://localhost",
            "http://127.0.0.1:8080",
            "http://[::1]:1",
        ] {
            assert!(check_origin(&headers(&[("origin", ok)])).is_ok(), "{ok}");
        }
        for bad in [
            "null",
            "http://evil.example",
            "http://localhost.evil.example",
            "file://localhost",
            "http://10.0.0.1",
            "http://localhost:3000/path",
        ] {
            assert!(check_origin(&headers(&[("origin", bad)])).is_err(), "{bad}");
        }
        assert!(check_origin(&HeaderMap::new()).is_ok());
    }

    #[test]
    fn simple_body_types_and_bodiless_posts_are_refused() {
        for ct in [
            "text/plain",
            "Text/Plain; charset=utf-8",
            " application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
        ] {
            for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
                let e = check_body(&method, &headers(&[("content-type", ct)]), false).unwrap_err();
                assert_eq!(e.code(), 415, "{method} {ct}");
            }
        }
        let none = HeaderMap::new();
        assert_eq!(check_body(&Method::POST, &none, true).unwrap_err().code(), 400);
        assert_eq!(check_body(&Method::POST, &none, false).unwrap_err().code(), 415);
        let json = headers(&[("content-type", "application/json")]);
        assert_eq!(check_body(&Method::POST, &json, true).unwrap_err().code(), 400);
        assert!(check_body(&Method::DELETE, &none, true).is_ok());
        assert!(check_body(&Method::GET, &headers(&[("content-type", "text/plain")]), false).is_ok());
        let spdy = headers(&[("connection", "Upgrade"), ("upgrade", "SPDY/3.1")]);
        assert!(check_body(&Method::POST, &spdy, true).is_ok());
    }

    #[test]
    fn kubectl_types_pass() {
        for ct in [
            "application/json",
            "application/yaml",
            "application/vnd.kubernetes.protobuf",
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
            "application/json-patch+json",
            "application/apply-patch+yaml",
        ] {
            for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
                assert!(
                    check_body(&method, &headers(&[("content-type", ct)]), false).is_ok(),
                    "{ct}"
                );
            }
        }
    }

    #[test]
    fn a_token_daemon_wants_the_bearer_token() {
        let g = Guard::new(
            "127.0.0.1:8585".parse().unwrap(),
            Some(Token::parse("0123456789abcdef").unwrap()),
        );
        let host = ("host", "127.0.0.1:8585");
        let code = |h: &HeaderMap| g.check(&Method::GET, h, true).map_err(|e| e.code().as_u16());
        assert_eq!(code(&headers(&[host])), Err(401));
        assert_eq!(
            code(&headers(&[host, ("authorization", "Bearer nope")])),
            Err(401)
        );
        assert_eq!(
            code(&headers(&[host, ("authorization", "Basic 0123456789abcdef")])),
            Err(401)
        );
        assert_eq!(
            code(&headers(&[host, ("authorization", "Bearer 0123456789abcdef")])),
            Ok(())
        );
        assert_eq!(
            code(&headers(&[host, ("authorization", "bearer 0123456789abcdef")])),
            Ok(())
        );
        // The Host check comes first: a rebinding page learns nothing about the token.
        let foreign = headers(&[
            ("host", "evil.example"),
            ("authorization", "Bearer 0123456789abcdef"),
        ]);
        assert_eq!(code(&foreign), Err(403));
    }
}
