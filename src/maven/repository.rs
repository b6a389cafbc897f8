//! Remote Maven repositories: the Jube syntax of `JUBE_REMOTE_MAVEN_REPOS`, URLs that never show
//! their password, and the plan that turns that variable, settings.xml and Maven Central into the
//! list of repositories to ask, with mirrors, credentials and proxies applied as Maven applies them.

use std::collections::HashSet;
use std::fmt;
use std::net::IpAddr;

use url::{Host, Url};

use crate::env_vars::EnvVars;
use crate::maven::settings::{Mirror, ProxySetting, Settings, SettingsError};
use std::path::Path;

pub const MAVEN_CENTRAL_URL: &str = "https://repo.maven.apache.org/maven2/";
pub const MAVEN_CENTRAL_ID: &str = "central";

const JUBE_MAVEN_CENTRAL: &str = EnvVars::JUBE_MAVEN_CENTRAL;

/// Proxy variables as curl reads them, lower case first; those `EnvVars` lacks are named here.
const HTTPS_PROXY_VARS: [&str; 2] = ["https_proxy", EnvVars::HTTPS_PROXY];
const HTTP_PROXY_VARS: [&str; 2] = ["http_proxy", EnvVars::HTTP_PROXY];
const ALL_PROXY_VARS: [&str; 2] = ["all_proxy", "ALL_PROXY"];
const NO_PROXY_VARS: [&str; 2] = ["no_proxy", EnvVars::NO_PROXY];

use crate::maven::secret::{MASK, Secret};
const SUPPORTED_SCHEMES: [&str; 3] = ["http", "https", "file"];
const JUBE_SYNTAX: &str =
    "`[USER:PASSWORD@]URL[@id=ID][@snapshots][@noreleases]`, entries separated by commas";

// ---- URLs and credentials that never show a secret ----

/// A URL whose `Display` and `Debug` mask the password (`https://user:***@host/path`); the
/// real URL is there for the HTTP client through [`SafeUrl::url`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SafeUrl(Url);

/// A URL that does not parse. The text it holds is already redacted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{url}` is not a valid URL: {reason}")]
pub struct UrlError {
    url: String,
    reason: String,
}

impl SafeUrl {
    pub fn parse(text: &str) -> Result<Self, UrlError> {
        Url::parse(text.trim()).map(Self).map_err(|e| UrlError {
            url: redact_url_text(text.trim()),
            reason: e.to_string(),
        })
    }

    pub fn from_url(url: Url) -> Self {
        Self(url)
    }

    /// The real URL, password included: for the HTTP client only, never for messages.
    pub fn url(&self) -> &Url {
        &self.0
    }

    /// `rel` (a repository path such as `g/a/1.0/a-1.0.zip`) below this URL's path, which gains a
    /// trailing slash first so its last segment is kept. Empty, `.` and `..` segments of `rel` are
    /// skipped, so the result never leaves the base path.
    pub fn join_path(&self, rel: &str) -> Url {
        let mut url = self.0.clone();
        let parts: Vec<&str> = rel.split('/').filter(|s| !s.is_empty()).collect();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().extend(&parts);
            if parts.is_empty() || rel.ends_with('/') {
                segments.push("");
            }
        }
        url
    }

    pub fn without_credentials(&self) -> Url {
        let mut url = self.0.clone();
        // Only URLs without a host (file:) refuse these, and they carry no credentials anyway.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        url
    }

    /// Credentials written in the URL, percent-decoded.
    pub fn credentials(&self) -> Option<Credentials> {
        let username = decode(self.0.username());
        let password = self.0.password().map(decode);
        if username.is_empty() && password.is_none() {
            return None;
        }
        Some(Credentials::new(username, password.unwrap_or_default()))
    }

    pub fn is_loopback(&self) -> bool {
        match self.0.host() {
            Some(Host::Domain(d)) => is_loopback_host(d),
            Some(Host::Ipv4(ip)) => ip.is_loopback(),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip).to_canonical().is_loopback(),
            None => false,
        }
    }

    pub fn scheme(&self) -> &str {
        self.0.scheme()
    }

    /// The host without IPv6 brackets, lower case as the URL parser left it.
    fn host_name(&self) -> Option<String> {
        match self.0.host()? {
            Host::Domain(d) => Some(d.to_ascii_lowercase()),
            Host::Ipv4(ip) => Some(ip.to_string()),
            Host::Ipv6(ip) => Some(ip.to_string()),
        }
    }

    /// The URL shown to people: the password (or a lone username, which is often a token) masked.
    fn masked(&self) -> Url {
        let mut url = self.0.clone();
        if url.password().is_some() {
            let _ = url.set_password(Some(MASK));
        } else if !url.username().is_empty() {
            let _ = url.set_username(MASK);
        }
        url
    }

    /// Splits credentials off: the URL without them, and them.
    fn into_parts(self) -> (SafeUrl, Option<Credentials>) {
        let credentials = self.credentials();
        let bare = Self(self.without_credentials());
        (bare, credentials)
    }

    /// A repository base URL ends in `/`, so that relative paths resolve below it.
    fn with_trailing_slash(mut self) -> Self {
        if !self.0.path().ends_with('/') && !self.0.cannot_be_a_base() {
            let path = format!("{}/", self.0.path());
            self.0.set_path(&path);
        }
        self
    }
}

impl fmt::Display for SafeUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.masked(), f)
    }
}

impl fmt::Debug for SafeUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SafeUrl({:?})", self.masked().as_str())
    }
}

fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// Masks the password (or lone username) in URL-like text that may not parse, for messages
/// about bad input: what lies between the first `:` of the userinfo and the last `@` of the
/// authority. Text without `://` is taken as starting with its authority (`user:pass@host/...`).
pub(crate) fn redact_url_text(text: &str) -> String {
    let authority_start = text.find("://").map_or(0, |i| i + 3);
    let authority_len = text[authority_start..]
        .find(['/', '?', '#'])
        .unwrap_or(text.len() - authority_start);
    let authority = &text[authority_start..authority_start + authority_len];
    let Some(at) = authority.rfind('@') else {
        return text.to_owned();
    };
    let userinfo = &authority[..at];
    let shown = match userinfo.split_once(':') {
        Some((user, _)) => format!("{user}:{MASK}"),
        None => MASK.to_owned(),
    };
    format!(
        "{}{shown}{}",
        &text[..authority_start],
        &text[authority_start + at..]
    )
}

/// `localhost` (and `*.localhost`), `127.0.0.0/8` and `::1`.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = host.strip_suffix('.').unwrap_or(host);
    if let Ok(ip) = host.parse::<IpAddr>() {
        return ip.to_canonical().is_loopback();
    }
    let host = host.to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost")
}

/// A username and a password that `Debug` never shows.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    password: Secret,
}

impl Credentials {
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: Secret::new(password),
        }
    }

    /// The password itself: for the HTTP client only, never for messages.
    pub fn password(&self) -> &str {
        self.password.expose()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &self.password)
            .finish()
    }
}

// ---- repositories ----

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteRepository {
    pub id: String,
    /// Without credentials: those are in `credentials`.
    pub url: SafeUrl,
    pub credentials: Option<Credentials>,
    pub releases: bool,
    pub snapshots: bool,
    pub proxy: Option<Proxy>,
}

impl fmt::Display for RemoteRepository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.id, self.url)
    }
}

/// An HTTP proxy, `http://host:port`, and the credentials it asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    pub url: SafeUrl,
    pub credentials: Option<Credentials>,
}

#[derive(Debug, thiserror::Error)]
pub enum RepositoryError {
    #[error("JUBE_REMOTE_MAVEN_REPOS entry {position} `{entry}`: {problem}; the syntax is {JUBE_SYNTAX}")]
    BadEntry {
        position: usize,
        /// Redacted.
        entry: String,
        problem: String,
    },
    #[error("{origin}: {source}")]
    BadUrl {
        origin: String,
        #[source]
        source: UrlError,
    },
    #[error(
        "{origin}: `{url}` uses the scheme `{scheme}`, but jube reads only http, https and file repositories"
    )]
    UnsupportedScheme {
        origin: String,
        /// Redacted.
        url: String,
        scheme: String,
    },
    #[error(
        "{origin}: the proxy `{url}` uses the scheme `{scheme}`, but jube talks only to http and https \
         proxies; point it at an HTTP proxy or unset it"
    )]
    UnsupportedProxy {
        origin: String,
        /// Redacted.
        url: String,
        scheme: String,
    },
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(
        "the repository id {problem}; jube keeps each repository's metadata as `maven-metadata-<id>.xml`, \
         so give it an id such as `company` (`URL@id=company`, or <id> in settings.xml)"
    )]
    UnsafeId {
        problem: crate::pathpart::UnsafePathPart,
    },
}

/// Parses the Jube/pax-url syntax: comma-separated `[USER:PASSWORD@]URL[@id=ID][@snapshots]
/// [@noreleases]`. Credentials move from the URL into `credentials`. Entries without an id get
/// `repo1`, `repo2`, ... by position.
pub fn parse_jube_repos(spec: &str) -> Result<Vec<RemoteRepository>, RepositoryError> {
    let entries: Vec<&str> = spec.split(',').map(str::trim).filter(|e| !e.is_empty()).collect();
    let parsed = entries
        .iter()
        .enumerate()
        .map(|(i, entry)| parse_entry(i + 1, entry))
        .collect::<Result<Vec<_>, _>>()?;
    let mut taken: HashSet<String> = parsed.iter().filter_map(|(_, id)| id.clone()).collect();
    Ok(parsed
        .into_iter()
        .enumerate()
        .map(|(i, (mut repo, id))| {
            repo.id = id.unwrap_or_else(|| unused_id(i + 1, &mut taken));
            repo
        })
        .collect())
}

/// `repoN`, or `repoN-2`, ... when an explicit id already took it.
fn unused_id(position: usize, taken: &mut HashSet<String>) -> String {
    let base = format!("repo{position}");
    let mut id = base.clone();
    let mut n = 2;
    while taken.contains(&id) {
        id = format!("{base}-{n}");
        n += 1;
    }
    taken.insert(id.clone());
    id
}

enum EntryOption {
    Id(String),
    Snapshots,
    NoReleases,
    Ignored,
}

/// One entry, its id still to be chosen when it names none.
fn parse_entry(position: usize, entry: &str) -> Result<(RemoteRepository, Option<String>), RepositoryError> {
    let bad = |problem: String| RepositoryError::BadEntry {
        position,
        entry: redact_url_text(entry),
        problem,
    };
    let (url_text, options) = split_entry(entry).map_err(bad)?;
    let mut id = None;
    let (mut releases, mut snapshots) = (true, false);
    for option in options {
        match option {
            EntryOption::Id(value) => id = Some(value),
            EntryOption::Snapshots => snapshots = true,
            EntryOption::NoReleases => releases = false,
            EntryOption::Ignored => {}
        }
    }
    let url = SafeUrl::parse(&url_text).map_err(|e| bad(format!("{} ({})", e.reason, e.url)))?;
    if !SUPPORTED_SCHEMES.contains(&url.scheme()) {
        return Err(bad(format!(
            "the scheme `{}` is not supported; use http, https or file",
            url.scheme()
        )));
    }
    if url.scheme() != "file" && url.url().host().is_none() {
        return Err(bad("the URL has no host".to_owned()));
    }
    let (url, credentials) = url.with_trailing_slash().into_parts();
    let repo = RemoteRepository {
        id: String::new(),
        url,
        credentials,
        releases,
        snapshots,
        proxy: None,
    };
    Ok((repo, id))
}

/// Splits `URL@opt@opt` into the URL and its options. An `@` inside the URL's authority that is
/// not followed by an option belongs to the userinfo (`https://user:pass@host/...`).
fn split_entry(entry: &str) -> Result<(String, Vec<EntryOption>), String> {
    let mut parts = entry.split('@');
    let mut url = parts.next().unwrap_or_default().trim().to_owned();
    let mut options = Vec::new();
    for part in parts {
        match parse_option(part) {
            Some(option) => options.push(option?),
            None if options.is_empty() && in_authority(&url) => {
                url.push('@');
                url.push_str(part);
            }
            None => return Err(format!("unknown option `@{}`", part.trim())),
        }
    }
    Ok((url, options))
}

/// Whether text ending here is still inside `scheme://authority`, before any path.
fn in_authority(url: &str) -> bool {
    url.split_once("://")
        .is_some_and(|(_, rest)| !rest.contains(['/', '?', '#']))
}

/// `None` when `part` is no option; option names are case-insensitive.
fn parse_option(part: &str) -> Option<Result<EntryOption, String>> {
    let (name, value) = match part.split_once('=') {
        Some((n, v)) => (n.trim(), Some(v.trim())),
        None => (part.trim(), None),
    };
    let name = name.to_ascii_lowercase();
    let option = match (name.as_str(), value) {
        ("id", Some(v)) if !v.is_empty() => Ok(EntryOption::Id(v.to_owned())),
        ("id", _) => Err("`@id` needs a value, as in `@id=NAME`".to_owned()),
        ("snapshots", None) => Ok(EntryOption::Snapshots),
        ("noreleases", None) => Ok(EntryOption::NoReleases),
        ("multi", None) => Ok(EntryOption::Ignored),
        (
            "update" | "releasesupdate" | "snapshotsupdate" | "checksum" | "releaseschecksum"
            | "snapshotschecksum",
            Some(_),
        ) => Ok(EntryOption::Ignored),
        _ => return None,
    };
    Some(option)
}

// ---- the plan ----

/// The repositories to ask, in order, with mirrors, credentials and proxies applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryPlan {
    pub remotes: Vec<RemoteRepository>,
    pub offline: bool,
}

/// Builds the list: `JUBE_REMOTE_MAVEN_REPOS`, then the settings' active profile repositories,
/// then Maven Central (unless listed already or `JUBE_MAVEN_CENTRAL=off`); first id wins. Then
/// Maven's mirror rules, `<server>` credentials for the final ids, and a proxy per repository.
/// `env` reads variables; empty values count as unset.
pub fn plan(
    settings: Option<&Settings>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<RepositoryPlan, RepositoryError> {
    let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let mut repos = Vec::new();
    if let Some(spec) = env(EnvVars::JUBE_REMOTE_MAVEN_REPOS) {
        repos.extend(parse_jube_repos(&spec)?);
    }
    if let Some(settings) = settings {
        repos.extend(profile_repositories(settings)?);
    }
    if !repos.iter().any(|r| r.id == MAVEN_CENTRAL_ID)
        && let Some(central) = central(env(JUBE_MAVEN_CENTRAL).as_deref())?
    {
        repos.push(central);
    }
    let repos = first_id_wins(repos);
    let mut repos = apply_mirrors(repos, settings)?;
    let security = crate::maven::encrypted::security_file(&env);
    for repo in &mut repos {
        // The id names a file in the local repository (`maven-metadata-<id>.xml`).
        crate::pathpart::PathPart::new(&repo.id).map_err(|problem| RepositoryError::UnsafeId { problem })?;
        if repo.credentials.is_none()
            && let Some(settings) = settings
        {
            repo.credentials = server_credentials(settings, &repo.id, &security)?;
        }
        repo.proxy = choose_proxy(&repo.url, settings, &env)?;
    }
    Ok(RepositoryPlan {
        remotes: repos,
        offline: settings.is_some_and(|s| s.offline),
    })
}

fn profile_repositories(settings: &Settings) -> Result<Vec<RemoteRepository>, RepositoryError> {
    settings
        .active_repositories()
        .into_iter()
        .map(|r| {
            let origin = format!(
                "repository `{}` of the active profiles in {}",
                r.id,
                settings.source.display()
            );
            let (url, credentials) = repository_url(&r.url, &origin)?;
            Ok(RemoteRepository {
                id: r.id,
                url,
                credentials,
                releases: r.releases,
                snapshots: r.snapshots,
                proxy: None,
            })
        })
        .collect()
}

/// Maven Central at its usual URL, another URL, or nothing (`off`). Central has no snapshots.
fn central(setting: Option<&str>) -> Result<Option<RemoteRepository>, RepositoryError> {
    let text = match setting.map(str::trim) {
        Some(v) if v.eq_ignore_ascii_case("off") => return Ok(None),
        Some(v) => v,
        None => MAVEN_CENTRAL_URL,
    };
    let (url, credentials) = repository_url(text, JUBE_MAVEN_CENTRAL)?;
    Ok(Some(RemoteRepository {
        id: MAVEN_CENTRAL_ID.to_owned(),
        url,
        credentials,
        releases: true,
        snapshots: false,
        proxy: None,
    }))
}

/// A repository URL checked for its scheme, with a trailing slash, its credentials split off.
fn repository_url(text: &str, origin: &str) -> Result<(SafeUrl, Option<Credentials>), RepositoryError> {
    let url = SafeUrl::parse(text).map_err(|source| RepositoryError::BadUrl {
        origin: origin.to_owned(),
        source,
    })?;
    if !SUPPORTED_SCHEMES.contains(&url.scheme()) {
        return Err(RepositoryError::UnsupportedScheme {
            origin: origin.to_owned(),
            url: url.to_string(),
            scheme: url.scheme().to_owned(),
        });
    }
    Ok(url.with_trailing_slash().into_parts())
}

fn first_id_wins(repos: Vec<RemoteRepository>) -> Vec<RemoteRepository> {
    let mut seen = HashSet::new();
    repos.into_iter().filter(|r| seen.insert(r.id.clone())).collect()
}

/// Replaces each repository by its mirror, if any. Repositories behind one mirror become one
/// entry, at the place of the first, allowing releases or snapshots if any of them did.
fn apply_mirrors(
    repos: Vec<RemoteRepository>,
    settings: Option<&Settings>,
) -> Result<Vec<RemoteRepository>, RepositoryError> {
    let Some(settings) = settings.filter(|s| !s.mirrors.is_empty()) else {
        return Ok(repos);
    };
    let mirrors = &settings.mirrors[..];
    let mut out: Vec<RemoteRepository> = Vec::new();
    let mut mirror_ids: HashSet<&str> = HashSet::new();
    for repo in repos {
        let Some(mirror) = find_mirror(&repo, mirrors) else {
            if !out.iter().any(|r| r.id == repo.id) {
                out.push(repo);
            }
            continue;
        };
        if let Some(existing) = out.iter_mut().find(|r| r.id == mirror.id) {
            if mirror_ids.contains(mirror.id.as_str()) {
                existing.releases |= repo.releases;
                existing.snapshots |= repo.snapshots;
            }
            continue;
        }
        let origin = format!("mirror `{}` in {}", mirror.id, settings.source.display());
        let (url, credentials) = repository_url(&mirror.url, &origin)?;
        mirror_ids.insert(&mirror.id);
        out.push(RemoteRepository {
            id: mirror.id.clone(),
            url,
            credentials,
            releases: repo.releases,
            snapshots: repo.snapshots,
            proxy: None,
        });
    }
    Ok(out)
}

/// Maven's choice: a mirror whose `mirrorOf` is exactly the repository id, else the first
/// whose pattern matches.
fn find_mirror<'a>(repo: &RemoteRepository, mirrors: &'a [Mirror]) -> Option<&'a Mirror> {
    mirrors
        .iter()
        .find(|m| m.mirror_of == repo.id)
        .or_else(|| mirrors.iter().find(|m| mirror_of_matches(&m.mirror_of, repo)))
}

/// Maven's `mirrorOf` patterns: a comma list of `*`, `external:*`, `external:http:*`, ids and
/// `!id`. An id or `!id` decides at once; wildcards match unless a later `!id` excludes. Like
/// Maven, no spaces are trimmed around the parts.
fn mirror_of_matches(pattern: &str, repo: &RemoteRepository) -> bool {
    if pattern == "*" || pattern == repo.id {
        return true;
    }
    let mut matched = false;
    for part in pattern.split(',') {
        if let Some(excluded) = part.strip_prefix('!').filter(|id| !id.is_empty()) {
            if excluded == repo.id {
                return false;
            }
        } else if part == repo.id {
            return true;
        } else if part == "*"
            || (part == "external:*" && is_external(&repo.url))
            || (part == "external:http:*" && is_external(&repo.url) && repo.url.scheme() == "http")
        {
            matched = true;
        }
    }
    matched
}

/// Not on this machine: neither a loopback host nor a file.
fn is_external(url: &SafeUrl) -> bool {
    url.scheme() != "file" && !url.is_loopback()
}

/// `<server>` credentials for `id`; an encrypted password is decrypted only here, when it is
/// needed, and one that does not decrypt is an error (never sent as it is).
fn server_credentials(
    settings: &Settings,
    id: &str,
    security: &Path,
) -> Result<Option<Credentials>, RepositoryError> {
    let Some(server) = settings.server(id) else {
        return Ok(None);
    };
    let password = server
        .password()
        .map(|p| settings.clear_password(p, "server", id, security))
        .transpose()?;
    Ok(login(server.username.as_deref(), password.as_deref()))
}

fn login(username: Option<&str>, password: Option<&str>) -> Option<Credentials> {
    if username.is_none() && password.is_none() {
        return None;
    }
    Some(Credentials::new(
        username.unwrap_or_default(),
        password.unwrap_or_default(),
    ))
}

// ---- proxies ----

/// Loopback and file repositories go direct. With active settings proxies, Maven's rule decides;
/// otherwise the proxy variables, as curl reads them.
fn choose_proxy(
    url: &SafeUrl,
    settings: Option<&Settings>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Proxy>, RepositoryError> {
    if url.is_loopback() || !matches!(url.scheme(), "http" | "https") {
        return Ok(None);
    }
    let host = url.host_name().unwrap_or_default();
    let active: Vec<&ProxySetting> =
        settings.map_or_else(Vec::new, |s| s.proxies.iter().filter(|p| p.active).collect());
    match settings {
        Some(settings) if !active.is_empty() => {
            let security = crate::maven::encrypted::security_file(env);
            settings_proxy(&active, url.scheme(), &host, settings, &security)
        }
        _ => env_proxy(url.scheme(), &host, env),
    }
}

/// Maven resolver's rule: among active proxies that do not exempt the host, the first for the
/// URL's scheme; an https URL falls back to the first `http` one, as most settings declare only that.
fn settings_proxy(
    active: &[&ProxySetting],
    scheme: &str,
    host: &str,
    settings: &Settings,
    security: &Path,
) -> Result<Option<Proxy>, RepositoryError> {
    let usable = |protocol: &str| {
        active
            .iter()
            .find(|p| p.protocol == protocol && !p.non_proxy_hosts.iter().any(|h| wildcard_match(h, host)))
    };
    let chosen = usable(scheme).or_else(|| if scheme == "https" { usable("http") } else { None });
    let Some(proxy) = chosen else {
        return Ok(None);
    };
    let password = proxy
        .password()
        .map(|p| settings.clear_password(p, "proxy", &proxy.label(), security))
        .transpose()?;
    let origin = format!("proxy `{}` in {}", proxy.label(), settings.source.display());
    let host_part = if proxy.host.contains(':') && !proxy.host.starts_with('[') {
        format!("[{}]", proxy.host)
    } else {
        proxy.host.clone()
    };
    let url = SafeUrl::parse(&format!("http://{host_part}:{}", proxy.port))
        .map_err(|source| RepositoryError::BadUrl { origin, source })?;
    Ok(Some(Proxy {
        url,
        credentials: login(proxy.username.as_deref(), password.as_deref()),
    }))
}

/// `https_proxy`/`HTTPS_PROXY` for https, `http_proxy`/`HTTP_PROXY` for http, then `all_proxy`/
/// `ALL_PROXY`, unless `no_proxy`/`NO_PROXY` exempts the host. A value without a scheme is http.
fn env_proxy(
    scheme: &str,
    host: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Proxy>, RepositoryError> {
    let first = |names: &[&'static str]| names.iter().find_map(|&n| env(n).map(|v| (n, v)));
    let specific = if scheme == "https" {
        first(&HTTPS_PROXY_VARS)
    } else {
        first(&HTTP_PROXY_VARS)
    };
    let Some((name, value)) = specific.or_else(|| first(&ALL_PROXY_VARS)) else {
        return Ok(None);
    };
    if let Some((_, no_proxy)) = first(&NO_PROXY_VARS)
        && no_proxy_matches(&no_proxy, host)
    {
        return Ok(None);
    }
    let value = value.trim();
    let text = if value.contains("://") {
        value.to_owned()
    } else {
        format!("http://{value}")
    };
    let origin = format!("the proxy variable {name}");
    let url = SafeUrl::parse(&text).map_err(|source| RepositoryError::BadUrl {
        origin: origin.clone(),
        source,
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(RepositoryError::UnsupportedProxy {
            origin,
            url: url.to_string(),
            scheme: url.scheme().to_owned(),
        });
    }
    let (url, credentials) = url.into_parts();
    Ok(Some(Proxy { url, credentials }))
}

/// curl's `NO_PROXY`: a comma list of host names (each also covering its subdomains, a leading
/// dot optional), IP addresses, CIDR ranges, or `*` for all.
fn no_proxy_matches(list: &str, host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let host_ip = host.parse::<IpAddr>().ok();
    list.split([',', ' '])
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            if let Some(ip) = host_ip {
                return ip_matches(entry, ip);
            }
            let name = entry.trim_start_matches('.').to_ascii_lowercase();
            !name.is_empty() && (host == name || host.ends_with(&format!(".{name}")))
        })
}

fn ip_matches(entry: &str, ip: IpAddr) -> bool {
    let entry = entry.trim_start_matches('[').trim_end_matches(']');
    let (network, bits) = match entry.split_once('/') {
        Some((n, b)) => match b.parse::<u32>() {
            Ok(bits) => (n, Some(bits)),
            Err(_) => return false,
        },
        None => (entry, None),
    };
    let Ok(network) = network.parse::<IpAddr>() else {
        return false;
    };
    match (network, ip) {
        (IpAddr::V4(n), IpAddr::V4(h)) => {
            prefix_equal(u128::from(u32::from(n)), u128::from(u32::from(h)), 32, bits)
        }
        (IpAddr::V6(n), IpAddr::V6(h)) => prefix_equal(u128::from(n), u128::from(h), 128, bits),
        _ => false,
    }
}

fn prefix_equal(network: u128, host: u128, width: u32, bits: Option<u32>) -> bool {
    let bits = bits.unwrap_or(width);
    if bits > width {
        return false;
    }
    let shift = width - bits;
    shift >= 128 || (network >> shift) == (host >> shift)
}

/// Maven's `nonProxyHosts` match: the whole host, `*` standing for any run of characters,
/// without regard to case.
fn wildcard_match(pattern: &str, host: &str) -> bool {
    let pattern: Vec<char> = pattern.to_lowercase().chars().collect();
    let host: Vec<char> = host.to_lowercase().chars().collect();
    let (mut p, mut h) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while h < host.len() {
        if p < pattern.len() && pattern[p] == '*' {
            backtrack = Some((p, h));
            p += 1;
        } else if p < pattern.len() && pattern[p] == host[h] {
            p += 1;
            h += 1;
        } else if let Some((star, matched)) = backtrack {
            p = star + 1;
            h = matched + 1;
            backtrack = Some((star, matched + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::maven::settings::{self, Server};

    const SECRET: &str = "s3cr3tPa55";

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    fn settings_xml(body: &str) -> Settings {
        let xml = format!("<settings>{body}</settings>");
        settings::parse_with(
            &xml,
            Path::new("/u/.m2/settings.xml"),
            &|_| None,
            Some(Path::new("/u")),
        )
        .unwrap_or_else(|e| panic!("test settings should parse: {e}"))
    }

    fn plan_of(settings: Option<&Settings>, env: &[(&str, &str)]) -> RepositoryPlan {
        plan(settings, &env_of(env)).unwrap_or_else(|e| panic!("plan should succeed: {e}"))
    }

    fn ids(plan: &RepositoryPlan) -> Vec<&str> {
        plan.remotes.iter().map(|r| r.id.as_str()).collect()
    }

    fn repos(spec: &str) -> Vec<RemoteRepository> {
        parse_jube_repos(spec).unwrap_or_else(|e| panic!("{spec} should parse: {e}"))
    }

    fn repos_err(spec: &str) -> String {
        match parse_jube_repos(spec) {
            Ok(r) => panic!("{spec} should not parse, got {r:?}"),
            Err(e) => e.to_string(),
        }
    }

    // ---- SafeUrl ----

    #[test]
    fn safe_url_masks_the_password_but_keeps_it_for_the_client() {
        let url = SafeUrl::parse(&format!("https://user:{SECRET}@host.example/path")).expect("parses");
        assert_eq!(url.to_string(), "https://user:***@host.example/path");
        assert_eq!(
            format!("{url:?}"),
            "SafeUrl(\"https://user:***@host.example/path\")"
        );
        assert_eq!(url.url().password(), Some(SECRET));
        assert_eq!(url.without_credentials().as_str(), "https://host.example/path");
        let creds = url.credentials().expect("credentials");
        assert_eq!((creds.username.as_str(), creds.password()), ("user", SECRET));
    }

    #[test]
    fn safe_url_masks_a_lone_username_token() {
        let url = SafeUrl::parse(&format!("https://{SECRET}@host.example/")).expect("parses");
        assert!(!url.to_string().contains(SECRET), "{url}");
        assert!(!format!("{url:?}").contains(SECRET));
    }

    #[test]
    fn safe_url_errors_do_not_leak_the_password() {
        let err = SafeUrl::parse(&format!("https://user:{SECRET}@bad host/x")).expect_err("bad host");
        assert!(!err.to_string().contains(SECRET), "{err}");
        assert!(err.to_string().contains("user:***@bad host"), "{err}");
    }

    #[test]
    fn credentials_are_percent_decoded() {
        let url = SafeUrl::parse("https://us%40er:p%3Ass+w@h/").expect("parses");
        let creds = url.credentials().expect("credentials");
        assert_eq!((creds.username.as_str(), creds.password()), ("us@er", "p:ss+w"));
        assert!(
            SafeUrl::parse("https://h/")
                .expect("parses")
                .credentials()
                .is_none()
        );
    }

    #[test]
    fn join_path_keeps_the_base_path() {
        let base = SafeUrl::parse("https://h/nexus/repository/public").expect("parses");
        assert_eq!(
            base.join_path("g/a/1.0/a-1.0.zip").as_str(),
            "https://h/nexus/repository/public/g/a/1.0/a-1.0.zip"
        );
        let slash = SafeUrl::parse("https://h/maven2/").expect("parses");
        assert_eq!(slash.join_path("/g/a").as_str(), "https://h/maven2/g/a");
        assert_eq!(slash.join_path("g/a/").as_str(), "https://h/maven2/g/a/");
        assert_eq!(slash.join_path("").as_str(), "https://h/maven2/");
        assert_eq!(base.join_path("").as_str(), "https://h/nexus/repository/public/");
        assert_eq!(
            slash.join_path("../../etc/passwd").as_str(),
            "https://h/maven2/etc/passwd"
        );
        let root = SafeUrl::parse("https://h").expect("parses");
        assert_eq!(root.join_path("g/a").as_str(), "https://h/g/a");
        let file = SafeUrl::parse("file:///tmp/repo").expect("parses");
        assert_eq!(file.join_path("g/a.zip").as_str(), "file:///tmp/repo/g/a.zip");
        let query = SafeUrl::parse("https://h/r?token=x").expect("parses");
        assert_eq!(query.join_path("g").as_str(), "https://h/r/g?token=x");
    }

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "LOCALHOST",
            "a.localhost",
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
            "localhost.",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "example.com",
            "10.0.0.1",
            "::2",
            "localhost.example.com",
            "128.0.0.1",
            "",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
        for (url, loopback) in [
            ("http://localhost:8081/r", true),
            ("http://127.0.0.1/", true),
            ("http://[::1]:80/", true),
            ("https://repo.example/", false),
            ("file:///tmp/r", false),
        ] {
            assert_eq!(
                SafeUrl::parse(url).expect("parses").is_loopback(),
                loopback,
                "{url}"
            );
        }
    }

    #[test]
    fn redact_url_text_handles_odd_input() {
        assert_eq!(redact_url_text("no scheme at all"), "no scheme at all");
        assert_eq!(redact_url_text("u:p@h/x"), "u:***@h/x");
        assert_eq!(redact_url_text("https://host/p@x"), "https://host/p@x");
        assert_eq!(redact_url_text("https://u:p@h"), "https://u:***@h");
        assert_eq!(redact_url_text("https://tok@h/x"), "https://***@h/x");
        assert_eq!(
            redact_url_text("https://u:p@ss@h/x@id=y"),
            "https://u:***@h/x@id=y"
        );
    }

    #[test]
    fn credentials_debug_hides_the_password() {
        let c = Credentials::new("me", SECRET);
        assert_eq!(c.password(), SECRET);
        let debug = format!("{c:?}");
        assert!(!debug.contains(SECRET) && debug.contains("me"), "{debug}");
    }

    // ---- Jube syntax ----

    #[test]
    fn jube_syntax_with_options_and_default_ids() {
        let r = repos(
            " https://a.example/maven@id=a@snapshots@noreleases , ,http://b.example/r, file:///tmp/local-repo@Snapshots ",
        );
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].id, "a");
        assert_eq!(r[0].url.to_string(), "https://a.example/maven/");
        assert!(r[0].snapshots && !r[0].releases);
        assert_eq!(r[1].id, "repo2");
        assert_eq!(r[1].url.to_string(), "http://b.example/r/");
        assert!(r[1].releases && !r[1].snapshots);
        assert_eq!(r[2].id, "repo3");
        assert_eq!(r[2].url.to_string(), "file:///tmp/local-repo/");
        assert!(r[2].snapshots);
        assert!(r.iter().all(|r| r.credentials.is_none() && r.proxy.is_none()));
        assert!(repos("").is_empty());
        assert!(repos(" , ").is_empty());
    }

    #[test]
    fn jube_syntax_ignores_pax_options() {
        let r = repos(
            "https://h/r@multi@update=always@CHECKSUM=warn@releasesUpdate=never@snapshotsChecksum=fail@ID=x",
        );
        assert_eq!(r[0].id, "x");
        assert_eq!(r[0].url.to_string(), "https://h/r/");
    }

    #[test]
    fn jube_syntax_moves_credentials_out_of_the_url() {
        let r = repos(&format!("https://bob:{SECRET}@h.example/repo@id=x"));
        assert_eq!(r[0].url.url().as_str(), "https://h.example/repo/");
        let creds = r[0].credentials.as_ref().expect("credentials");
        assert_eq!((creds.username.as_str(), creds.password()), ("bob", SECRET));
        // An `@` in the password: only the last one in the authority ends the userinfo.
        let r = repos("https://bob:p@ss@h.example/repo@snapshots");
        assert_eq!(r[0].url.url().as_str(), "https://h.example/repo/");
        assert_eq!(r[0].credentials.as_ref().map(Credentials::password), Some("p@ss"));
        assert!(r[0].snapshots);
        // No path, options straight after the host.
        let r = repos("https://bob:pw@h.example@id=y");
        assert_eq!(
            (r[0].id.as_str(), r[0].url.url().as_str()),
            ("y", "https://h.example/")
        );
        let debug = format!("{:?}", repos(&format!("https://bob:{SECRET}@h/r")));
        assert!(!debug.contains(SECRET), "{debug}");
    }

    #[test]
    fn generated_ids_avoid_explicit_ones() {
        let r = repos("https://a/@id=repo2, https://b/");
        assert_eq!(r[0].id, "repo2");
        assert_eq!(r[1].id, "repo2-2");
    }

    #[test]
    fn jube_syntax_errors_name_the_entry_and_the_problem() {
        let err = repos_err("https://ok/, ftp://files.example/repo");
        assert!(
            err.contains("entry 2") && err.contains("ftp://files.example/repo") && err.contains("`ftp`"),
            "{err}"
        );
        let err = repos_err("https://h/r@bogus");
        assert!(err.contains("unknown option `@bogus`"), "{err}");
        let err = repos_err("https://h/r@id=x@nope=1");
        assert!(err.contains("unknown option `@nope=1`"), "{err}");
        let err = repos_err("https://h/r@id=");
        assert!(err.contains("`@id` needs a value"), "{err}");
        let err = repos_err("not a url");
        assert!(err.contains("entry 1") && err.contains("not a url"), "{err}");
        let err = repos_err(&format!("https://u:{SECRET}@bad host/r@id=x"));
        assert!(!err.contains(SECRET) && err.contains("u:***@"), "{err}");
        let err = repos_err(&format!("mailto:u:{SECRET}@h"));
        assert!(!err.contains(SECRET), "{err}");
        let err = repos_err(&format!("bob:{SECRET}@h.example/repo"));
        assert!(
            !err.contains(SECRET) && err.contains("bob:***@h.example/repo"),
            "{err}"
        );
        let err = repos_err("localhost:8081/repo");
        assert!(
            err.contains("`localhost`") && err.contains("use http, https or file"),
            "{err}"
        );
        assert!(err.contains("syntax is"), "{err}");
    }

    // ---- plan: order, central, duplicates ----

    #[test]
    fn plan_orders_env_then_profiles_then_central() {
        let s = settings_xml(
            "<profiles><profile><id>p</id><activation><activeByDefault>true</activeByDefault></activation>\
             <repositories><repository><id>corp</id><url>https://corp.example/maven</url>\
             <snapshots><enabled>false</enabled></snapshots></repository></repositories></profile></profiles>",
        );
        let plan = plan_of(
            Some(&s),
            &[("JUBE_REMOTE_MAVEN_REPOS", "https://env.example/r@id=env")],
        );
        assert_eq!(ids(&plan), ["env", "corp", "central"]);
        let central = &plan.remotes[2];
        assert_eq!(central.url.to_string(), MAVEN_CENTRAL_URL);
        assert!(central.releases && !central.snapshots);
        assert!(!plan.remotes[1].snapshots && plan.remotes[1].releases);
        assert!(!plan.offline);
        assert_eq!(ids(&plan_of(None, &[])), ["central"]);
    }

    #[test]
    fn central_can_be_replaced_turned_off_or_already_listed() {
        let plan = plan_of(None, &[(JUBE_MAVEN_CENTRAL, "https://mirror.example/central")]);
        assert_eq!(plan.remotes[0].url.to_string(), "https://mirror.example/central/");
        assert_eq!(plan.remotes[0].id, "central");
        assert!(plan_of(None, &[(JUBE_MAVEN_CENTRAL, "off")]).remotes.is_empty());
        assert!(plan_of(None, &[(JUBE_MAVEN_CENTRAL, "OFF")]).remotes.is_empty());
        let plan = plan_of(
            None,
            &[("JUBE_REMOTE_MAVEN_REPOS", "https://own.example/c@id=central")],
        );
        assert_eq!(plan.remotes.len(), 1);
        assert_eq!(plan.remotes[0].url.to_string(), "https://own.example/c/");
        // Empty values count as unset.
        let plan = plan_of(
            None,
            &[(JUBE_MAVEN_CENTRAL, ""), ("JUBE_REMOTE_MAVEN_REPOS", " ")],
        );
        assert_eq!(ids(&plan), ["central"]);
        let err = super::plan(None, &env_of(&[(JUBE_MAVEN_CENTRAL, "ftp://x/")])).expect_err("ftp");
        assert!(err.to_string().contains(JUBE_MAVEN_CENTRAL), "{err}");
    }

    #[test]
    fn duplicate_ids_first_wins() {
        let s = settings_xml(
            "<profiles><profile><id>p</id><repositories>\
             <repository><id>dup</id><url>https://settings.example/</url></repository>\
             </repositories></profile></profiles><activeProfiles><activeProfile>p</activeProfile></activeProfiles>",
        );
        let plan = plan_of(
            Some(&s),
            &[(
                "JUBE_REMOTE_MAVEN_REPOS",
                "https://env.example/@id=dup,https://second.example/@id=dup",
            )],
        );
        assert_eq!(ids(&plan), ["dup", "central"]);
        assert_eq!(plan.remotes[0].url.to_string(), "https://env.example/");
    }

    #[test]
    fn offline_comes_from_settings() {
        let s = settings_xml("<offline>true</offline>");
        assert!(plan_of(Some(&s), &[]).offline);
    }

    #[test]
    fn plan_reports_bad_settings_urls_with_their_origin() {
        let s = settings_xml(
            "<profiles><profile><id>p</id><activation><activeByDefault>true</activeByDefault></activation>\
             <repositories><repository><id>r</id><url>not a url</url></repository></repositories></profile></profiles>",
        );
        let err = plan(Some(&s), &env_of(&[])).expect_err("bad url").to_string();
        assert!(
            err.contains("repository `r`") && err.contains("/u/.m2/settings.xml"),
            "{err}"
        );
        let s = settings_xml(
            "<mirrors><mirror><id>m</id><url>dav:https://x/</url><mirrorOf>*</mirrorOf></mirror></mirrors>",
        );
        let err = plan(Some(&s), &env_of(&[])).expect_err("bad scheme").to_string();
        assert!(err.contains("mirror `m`") && err.contains("`dav`"), "{err}");
        let err = plan(None, &env_of(&[("JUBE_REMOTE_MAVEN_REPOS", "gopher://x/")])).expect_err("scheme");
        assert!(
            err.to_string().contains("JUBE_REMOTE_MAVEN_REPOS entry 1"),
            "{err}"
        );
    }

    // ---- mirrors ----

    fn repo(id: &str, url: &str) -> RemoteRepository {
        RemoteRepository {
            id: id.into(),
            url: SafeUrl::parse(url).expect("test url"),
            credentials: None,
            releases: true,
            snapshots: false,
            proxy: None,
        }
    }

    #[test]
    fn mirror_of_patterns_follow_maven() {
        let central = repo("central", "https://repo.maven.apache.org/maven2/");
        let local = repo("local", "http://localhost:8081/r/");
        let file = repo("files", "file:///tmp/r/");
        let plain_http = repo("old", "http://old.example/r/");
        let cases: [(&str, &RemoteRepository, bool); 17] = [
            ("*", &local, true),
            ("central", &central, true),
            ("other", &central, false),
            ("other,central", &central, true),
            ("*,!central", &central, false),
            ("!central,*", &central, false),
            ("external:*", &central, true),
            ("external:*", &local, false),
            ("external:*", &file, false),
            ("external:http:*", &plain_http, true),
            ("external:http:*", &central, false),
            ("external:http:*", &local, false),
            ("external:*,!old", &plain_http, false),
            ("!old,old", &plain_http, false),
            ("old,!old", &plain_http, true),
            ("!central, *", &central, false), // Maven trims nothing: ` *` is no wildcard
            ("!", &central, false),
        ];
        for (pattern, repo, expected) in cases {
            assert_eq!(
                mirror_of_matches(pattern, repo),
                expected,
                "{pattern} vs {}",
                repo.id
            );
        }
    }

    #[test]
    fn exact_mirror_of_beats_an_earlier_wildcard() {
        let s = settings_xml(
            "<mirrors>\
             <mirror><id>all</id><url>https://all.example/</url><mirrorOf>*</mirrorOf></mirror>\
             <mirror><id>just-central</id><url>https://central-mirror.example/</url><mirrorOf>central</mirrorOf></mirror>\
             </mirrors>",
        );
        let plan = plan_of(
            Some(&s),
            &[("JUBE_REMOTE_MAVEN_REPOS", "https://a.example/@id=a")],
        );
        assert_eq!(ids(&plan), ["all", "just-central"]);
        assert_eq!(plan.remotes[1].url.to_string(), "https://central-mirror.example/");
    }

    #[test]
    fn repositories_behind_one_mirror_collapse_and_merge_policies() {
        let s = settings_xml(
            "<mirrors><mirror><id>nexus</id><url>https://nexus.example/group</url><mirrorOf>external:*</mirrorOf></mirror></mirrors>",
        );
        let plan = plan_of(
            Some(&s),
            &[(
                "JUBE_REMOTE_MAVEN_REPOS",
                "https://snap.example/@id=snaps@snapshots@noreleases,http://localhost:9/@id=local",
            )],
        );
        assert_eq!(ids(&plan), ["nexus", "local"]);
        let nexus = &plan.remotes[0];
        assert_eq!(nexus.url.to_string(), "https://nexus.example/group/");
        assert!(
            nexus.releases && nexus.snapshots,
            "central's releases OR snaps' snapshots"
        );
    }

    #[test]
    fn a_mirror_id_equal_to_a_direct_repository_keeps_the_first() {
        let s = settings_xml(
            "<mirrors><mirror><id>a</id><url>https://m.example/</url><mirrorOf>central</mirrorOf></mirror></mirrors>",
        );
        let plan = plan_of(
            Some(&s),
            &[("JUBE_REMOTE_MAVEN_REPOS", "https://a.example/@id=a")],
        );
        assert_eq!(ids(&plan), ["a"]);
        assert_eq!(plan.remotes[0].url.to_string(), "https://a.example/");
    }

    // ---- credentials ----

    #[test]
    fn server_credentials_apply_to_the_final_id() {
        let s = settings_xml(&format!(
            "<mirrors><mirror><id>nexus</id><url>https://nexus.example/</url><mirrorOf>central</mirrorOf></mirror></mirrors>\
             <servers>\
               <server><id>nexus</id><username>nu</username><password>{SECRET}</password></server>\
               <server><id>central</id><username>cu</username><password>cp</password></server>\
               <server><id>withurl</id><username>ignored</username><password>ignored</password></server>\
               <server><id>tokenonly</id><password>tok</password></server>\
             </servers>"
        ));
        let plan = plan_of(
            Some(&s),
            &[(
                "JUBE_REMOTE_MAVEN_REPOS",
                "https://own:pw@w.example/@id=withurl,https://t.example/@id=tokenonly",
            )],
        );
        assert_eq!(ids(&plan), ["withurl", "tokenonly", "nexus"]);
        let creds = |i: usize| plan.remotes[i].credentials.clone().expect("credentials");
        assert_eq!(
            (creds(0).username, creds(0).password().to_owned()),
            ("own".into(), "pw".into())
        );
        assert_eq!(
            (creds(1).username, creds(1).password().to_owned()),
            (String::new(), "tok".into())
        );
        assert_eq!(
            (creds(2).username, creds(2).password().to_owned()),
            ("nu".into(), SECRET.into())
        );
        let text = format!(
            "{plan:?} {}",
            plan.remotes
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        );
        assert!(!text.contains(SECRET), "{text}");
    }

    #[test]
    fn an_encrypted_password_fails_only_when_it_is_needed() {
        let s = settings_xml(
            "<servers>\
               <server><id>deploy</id><username>d</username><password>{COQLCE6DU6GtcS5P=}</password></server>\
               <server><id>used</id><username>u</username><password>{jSMOWnoPFgsHVpMvz5VrIt5kRbzGpI8u+9EF1iFQyJQ=}</password></server>\
             </servers>",
        );
        assert_eq!(
            ids(&plan_of(Some(&s), &[])),
            ["central"],
            "an unused encrypted password is harmless"
        );
        let err = plan(
            Some(&s),
            &env_of(&[("JUBE_REMOTE_MAVEN_REPOS", "https://x.example/@id=used")]),
        )
        .expect_err("encrypted")
        .to_string();
        assert!(
            err.contains("server `used`") && err.contains("/u/.m2/settings.xml"),
            "{err}"
        );
        assert!(err.contains("cannot decrypt"), "{err}");
        assert!(!err.contains("jSMOWnoPFgsHVpMvz5VrIt5kRbzGpI8u"), "{err}");
    }

    // ---- proxies ----

    const PROXIES: &str = "<proxies>\
        <proxy><id>off</id><active>false</active><protocol>https</protocol><host>inactive</host></proxy>\
        <proxy><id>plain</id><protocol>http</protocol><host>proxy.corp</host><port>3128</port>\
          <username>pu</username><password>PROXYPW</password><nonProxyHosts>*.corp.example|Internal</nonProxyHosts></proxy>\
        </proxies>";

    fn proxy_of(plan: &RepositoryPlan, id: &str) -> Option<String> {
        let repo = plan
            .remotes
            .iter()
            .find(|r| r.id == id)
            .expect("repository in plan");
        repo.proxy.as_ref().map(|p| p.url.to_string())
    }

    #[test]
    fn settings_proxy_applies_by_scheme_with_exceptions() {
        let s = settings_xml(PROXIES);
        let spec = "https://repo.example/@id=https,http://repo.example/@id=http,\
                    https://a.corp.example/@id=exempt,https://INTERNAL/@id=exempt2,\
                    http://127.0.0.1:9/@id=loop,file:///tmp/r@id=file";
        let plan = plan_of(
            Some(&s),
            &[("JUBE_REMOTE_MAVEN_REPOS", spec), ("HTTPS_PROXY", "http://env:1")],
        );
        // An https repository falls back to the http proxy, as in Maven; env variables are not read.
        assert_eq!(
            proxy_of(&plan, "https").as_deref(),
            Some("http://proxy.corp:3128/")
        );
        assert_eq!(
            proxy_of(&plan, "http").as_deref(),
            Some("http://proxy.corp:3128/")
        );
        let proxy = plan.remotes[0].proxy.as_ref().expect("proxy");
        let creds = proxy.credentials.as_ref().expect("proxy credentials");
        assert_eq!((creds.username.as_str(), creds.password()), ("pu", "PROXYPW"));
        assert_eq!(proxy_of(&plan, "exempt"), None);
        assert_eq!(proxy_of(&plan, "exempt2"), None);
        assert_eq!(proxy_of(&plan, "loop"), None);
        assert_eq!(proxy_of(&plan, "file"), None);
        assert!(!format!("{plan:?}").contains("PROXYPW"));
    }

    #[test]
    fn https_proxy_is_preferred_over_http_for_https_urls() {
        let s = settings_xml(
            "<proxies><proxy><protocol>http</protocol><host>h1</host></proxy>\
             <proxy><protocol>https</protocol><host>h2</host><port>443</port></proxy></proxies>",
        );
        let plan = plan_of(Some(&s), &[]);
        assert_eq!(proxy_of(&plan, "central").as_deref(), Some("http://h2:443/"));
    }

    #[test]
    fn an_exempting_https_proxy_lets_the_http_one_serve() {
        let s = settings_xml(
            "<proxies><proxy><protocol>https</protocol><host>h2</host><nonProxyHosts>repo.maven.apache.org</nonProxyHosts></proxy>\
             <proxy><protocol>http</protocol><host>h1</host><port>1</port></proxy></proxies>",
        );
        assert_eq!(
            proxy_of(&plan_of(Some(&s), &[]), "central").as_deref(),
            Some("http://h1:1/")
        );
    }

    #[test]
    fn ipv6_proxy_host_gets_brackets() {
        let s = settings_xml("<proxies><proxy><host>fd00::1</host><port>3128</port></proxy></proxies>");
        assert_eq!(
            proxy_of(&plan_of(Some(&s), &[]), "central").as_deref(),
            Some("http://[fd00::1]:3128/")
        );
    }

    #[test]
    fn encrypted_proxy_password_is_an_error_when_the_proxy_is_used() {
        let s = settings_xml(
            "<proxies><proxy><id>p</id><host>h</host><username>u</username><password>{COQLCE6DU6GtcS5P=}</password></proxy></proxies>",
        );
        let err = plan(Some(&s), &env_of(&[])).expect_err("encrypted").to_string();
        assert!(
            err.contains("proxy `p`") && err.contains("cannot decrypt"),
            "{err}"
        );
        let only_local = [
            ("JUBE_REMOTE_MAVEN_REPOS", "http://localhost/@id=l"),
            (JUBE_MAVEN_CENTRAL, "off"),
        ];
        assert!(
            plan(Some(&s), &env_of(&only_local)).is_ok(),
            "loopback needs no proxy"
        );
    }

    #[test]
    fn env_proxies_apply_without_settings_proxies() {
        let spec = "https://s.example/@id=s,http://p.example/@id=p,http://localhost:1/@id=l";
        let env = [
            ("JUBE_REMOTE_MAVEN_REPOS", spec),
            (JUBE_MAVEN_CENTRAL, "off"),
            ("HTTPS_PROXY", &format!("http://u:{SECRET}@secure-proxy:8443")),
            ("http_proxy", "plain-proxy:3128"),
        ];
        let plan = plan_of(None, &env);
        assert_eq!(proxy_of(&plan, "s").as_deref(), Some("http://secure-proxy:8443/"));
        assert_eq!(proxy_of(&plan, "p").as_deref(), Some("http://plain-proxy:3128/"));
        assert_eq!(proxy_of(&plan, "l"), None);
        let creds = plan.remotes[0]
            .proxy
            .as_ref()
            .and_then(|p| p.credentials.clone())
            .expect("creds");
        assert_eq!(creds.password(), SECRET);
        assert!(!format!("{plan:?}").contains(SECRET));
        // An inactive settings proxy counts as none.
        let s = settings_xml("<proxies><proxy><active>false</active><host>x</host></proxy></proxies>");
        assert_eq!(
            proxy_of(&plan_of(Some(&s), &env), "p").as_deref(),
            Some("http://plain-proxy:3128/")
        );
    }

    #[test]
    fn lower_case_proxy_variables_win_and_all_proxy_is_the_fallback() {
        let env = [
            ("https_proxy", "http://lower:1"),
            ("HTTPS_PROXY", "http://upper:2"),
        ];
        assert_eq!(
            proxy_of(&plan_of(None, &env), "central").as_deref(),
            Some("http://lower:1/")
        );
        let env = [("ALL_PROXY", "all:1080"), ("HTTP_PROXY", "http://only-http:1")];
        assert_eq!(
            proxy_of(&plan_of(None, &env), "central").as_deref(),
            Some("http://all:1080/")
        );
        let env = [("all_proxy", format!("socks5://u:{SECRET}@s:1080"))];
        let err = plan(None, &|n| {
            env.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone())
        })
        .expect_err("socks is not supported")
        .to_string();
        assert!(
            err.contains("all_proxy") && err.contains("`socks5`") && !err.contains(SECRET),
            "{err}"
        );
        assert_eq!(proxy_of(&plan_of(None, &[]), "central"), None);
    }

    #[test]
    fn no_proxy_exempts_hosts_like_curl() {
        let proxied = |no_proxy: &str| {
            let env = [("HTTPS_PROXY", "http://p:1"), ("NO_PROXY", no_proxy)];
            proxy_of(&plan_of(None, &env), "central").is_some()
        };
        assert!(!proxied("*"));
        assert!(!proxied("maven.apache.org"));
        assert!(!proxied(".apache.org"));
        assert!(!proxied("other.example, REPO.maven.apache.org"));
        assert!(proxied("pache.org"));
        assert!(proxied("other.example"));
        assert!(proxied(""));
        assert!(no_proxy_matches("10.0.0.0/8", "10.1.2.3"));
        assert!(!no_proxy_matches("10.0.0.0/8", "11.1.2.3"));
        assert!(no_proxy_matches("192.168.1.7", "192.168.1.7"));
        assert!(no_proxy_matches("fd00::/8", "fd12::1"));
        assert!(no_proxy_matches("0.0.0.0/0", "8.8.8.8"));
        assert!(!no_proxy_matches("10.0.0.0/99", "10.0.0.1"));
        assert!(!no_proxy_matches("example.com", "10.0.0.1"));
        let env = [
            ("no_proxy", "repo.maven.apache.org"),
            ("NO_PROXY", ""),
            ("HTTPS_PROXY", "http://p:1"),
        ];
        assert_eq!(proxy_of(&plan_of(None, &env), "central"), None);
    }

    #[test]
    fn bad_proxy_variable_is_named_without_its_password() {
        let err = plan(
            None,
            &env_of(&[("HTTPS_PROXY", &format!("http://u:{SECRET}@bad host:1"))]),
        )
        .expect_err("bad proxy")
        .to_string();
        assert!(err.contains("HTTPS_PROXY") && !err.contains(SECRET), "{err}");
    }

    #[test]
    fn wildcard_matching() {
        assert!(wildcard_match("*.example.com", "a.b.EXAMPLE.com"));
        assert!(!wildcard_match("*.example.com", "example.com"));
        assert!(wildcard_match("10.0.*", "10.0.3.4"));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("a*b*c", "aXXbYYc"));
        assert!(!wildcard_match("a*b*c", "aXXbYY"));
        assert!(!wildcard_match("host", "host2"));
    }

    #[test]
    fn no_display_or_debug_of_a_plan_leaks_any_password() {
        let s = settings_xml(&format!(
            "<mirrors><mirror><id>m</id><url>https://mu:{SECRET}1@m.example/</url><mirrorOf>central</mirrorOf></mirror></mirrors>\
             <servers><server><id>a</id><username>u</username><password>{SECRET}2</password></server></servers>\
             <proxies><proxy><host>p</host><username>u</username><password>{SECRET}3</password></proxy></proxies>"
        ));
        let spec = format!("https://x.example/@id=a,https://u:{SECRET}4@y.example/");
        let env = [("JUBE_REMOTE_MAVEN_REPOS", spec.as_str())];
        let plan = plan_of(Some(&s), &env);
        let mut shown = format!("{plan:?}\n{s:?}");
        for r in &plan.remotes {
            shown.push_str(&format!("\n{r}\n{}\n{:?}", r.url, r.credentials));
            if let Some(p) = &r.proxy {
                shown.push_str(&format!("\n{}\n{p:?}", p.url));
            }
        }
        assert!(!shown.contains(SECRET), "{shown}");
        assert_eq!(plan.remotes.len(), 3);
        let server = Server::new(
            "x",
            Some("u"),
            Some(crate::maven::settings::Password::Plain(SECRET.into())),
        );
        assert!(!format!("{server:?}").contains(SECRET));
    }
}
