//! Maven's `settings.xml`, read as Maven reads it, so that jube and Maven share one configuration:
//! local repository, offline mode, mirrors, servers (credentials), proxies and profiles.
//!
//! Passwords never show in `Debug` output or errors. Maven's encrypted passwords (`{...}`) are
//! kept encrypted and decrypted (`maven::encrypted`) only when jube needs that password, so a
//! deploy password elsewhere in the file that does not decrypt does not stop jube from reading
//! images.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use quick_xml::events::Event;
use serde::Deserialize;

use crate::maven::repository::redact_url_text;
use crate::maven::secret::Secret;

/// Maven's `<settings>`, after `${env.X}` and `${user.home}` expansion.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub local_repository: Option<PathBuf>,
    pub offline: bool,
    pub mirrors: Vec<Mirror>,
    pub servers: Vec<Server>,
    pub proxies: Vec<ProxySetting>,
    pub profiles: Vec<Profile>,
    pub active_profiles: Vec<String>,
    /// The file these settings were read from, for messages.
    pub source: PathBuf,
}

#[derive(Clone, PartialEq, Eq)]
pub struct Mirror {
    pub id: String,
    pub url: String,
    /// Maven's pattern of mirrored repository ids: `*`, `external:*`, `external:http:*`, `id`, `!id`.
    pub mirror_of: String,
}

/// A password as settings.xml holds it.
#[derive(Clone, PartialEq, Eq)]
pub enum Password {
    Plain(Secret),
    /// Maven's `{...}` form, encrypted with the master password of settings-security.xml.
    Encrypted(String),
}

/// `<server>`: credentials for the repository (or mirror) with the same id.
#[derive(Clone, PartialEq, Eq)]
pub struct Server {
    pub id: String,
    pub username: Option<String>,
    password: Option<Password>,
}

impl Server {
    pub fn new(id: &str, username: Option<&str>, password: Option<Password>) -> Self {
        Self {
            id: id.to_owned(),
            username: username.map(str::to_owned),
            password,
        }
    }

    pub fn password(&self) -> Option<&Password> {
        self.password.as_ref()
    }
}

/// `<proxy>`: an HTTP proxy for repositories whose URL scheme is `protocol`.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxySetting {
    pub id: Option<String>,
    pub active: bool,
    pub protocol: String,
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    password: Option<Password>,
    /// Host patterns reached directly, `*` a wildcard, compared without regard to case.
    pub non_proxy_hosts: Vec<String>,
}

impl ProxySetting {
    pub fn password(&self) -> Option<&Password> {
        self.password.as_ref()
    }

    /// How this proxy is named in messages: its id, else `host:port`.
    pub fn label(&self) -> String {
        self.id
            .clone()
            .unwrap_or_else(|| format!("{}:{}", self.host, self.port))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub id: String,
    pub active_by_default: bool,
    pub repositories: Vec<ProfileRepository>,
}

#[derive(Clone, PartialEq, Eq)]
pub struct ProfileRepository {
    pub id: String,
    pub url: String,
    pub releases: bool,
    pub snapshots: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read the Maven settings {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error(
        "cannot read the Maven settings {} at line {line}, column {column}: {message}; fix the \
         file or point JUBE_MAVEN_SETTINGS at another one",
        path.display()
    )]
    Malformed {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("the Maven settings {}: {what} {problem}", path.display())]
    Invalid {
        path: PathBuf,
        what: String,
        problem: String,
    },
    #[error(
        "{kind} `{id}` in {} has an encrypted password that jube cannot decrypt: {reason}. jube never \
         sends it encrypted: fix the master password, put the plain password in a settings file only \
         you can read (and point JUBE_MAVEN_SETTINGS at it), or give the repository in \
         JUBE_REMOTE_MAVEN_REPOS as `https://USER:PASSWORD@host/path@id={id}`",
        path.display()
    )]
    EncryptedPassword {
        kind: &'static str,
        id: String,
        path: PathBuf,
        reason: crate::maven::encrypted::DecryptError,
    },
}

const DEFAULT_PROXY_PROTOCOL: &str = "http";
const DEFAULT_PROXY_PORT: u16 = 8080;

/// Reads `path`; `Ok(None)` when there is no such file, as Maven runs without settings then.
pub fn load(path: &Path) -> Result<Option<Settings>, SettingsError> {
    match std::fs::read_to_string(path) {
        Ok(xml) => parse(&xml, path).map(Some),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(SettingsError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Parses settings XML with the process environment and the user's home folder for expansion.
pub fn parse(xml: &str, source: &Path) -> Result<Settings, SettingsError> {
    let env = |name: &str| std::env::var(name).ok();
    parse_with(xml, source, &env, dirs::home_dir().as_deref())
}

/// [`parse`] with the environment and home folder given, for callers (and tests) that must not
/// see the real ones.
pub fn parse_with(
    xml: &str,
    source: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    home: Option<&Path>,
) -> Result<Settings, SettingsError> {
    let xml = xml.strip_prefix('\u{feff}').unwrap_or(xml);
    let raw = deserialize(xml, source)?;
    check_root(xml, source)?;
    let cx = Context {
        expander: Expander { env, home },
        source,
    };
    cx.settings(raw)
}

impl Settings {
    /// An empty configuration, as if `source` did not exist.
    pub fn empty(source: &Path) -> Self {
        Self {
            source: source.to_owned(),
            ..Self::default()
        }
    }

    /// Maven's rule: the profiles listed in `<activeProfiles>`; only when none of this file's
    /// profiles is listed there, those marked `<activeByDefault>true`.
    pub fn active(&self) -> Vec<&Profile> {
        let listed: Vec<&Profile> = self
            .profiles
            .iter()
            .filter(|p| self.active_profiles.contains(&p.id))
            .collect();
        if !listed.is_empty() {
            return listed;
        }
        self.profiles.iter().filter(|p| p.active_by_default).collect()
    }

    /// The repositories of the active profiles, in file order.
    pub fn active_repositories(&self) -> Vec<ProfileRepository> {
        self.active()
            .into_iter()
            .flat_map(|p| p.repositories.iter().cloned())
            .collect()
    }

    pub fn server(&self, id: &str) -> Option<&Server> {
        self.servers.iter().find(|s| s.id == id)
    }

    /// The clear text of a `password` of a `kind` ("server", "proxy") named `id`: an encrypted one
    /// is decrypted with the master password in `security` (settings-security.xml), or refused.
    pub fn clear_password<'a>(
        &self,
        password: &'a Password,
        kind: &'static str,
        id: &str,
        security: &Path,
    ) -> Result<std::borrow::Cow<'a, str>, SettingsError> {
        match password {
            Password::Plain(p) => Ok(std::borrow::Cow::Borrowed(p.expose())),
            Password::Encrypted(value) => crate::maven::encrypted::decrypt_password(value, security)
                .map(std::borrow::Cow::Owned)
                .map_err(|reason| SettingsError::EncryptedPassword {
                    kind,
                    id: id.to_owned(),
                    path: self.source.clone(),
                    reason,
                }),
        }
    }
}

// ---- the XML shape, as serde reads it; every value a string, checked afterwards ----

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct RawSettings {
    local_repository: Option<String>,
    offline: Option<String>,
    mirrors: RawMirrors,
    servers: RawServers,
    proxies: RawProxies,
    profiles: RawProfiles,
    active_profiles: RawActiveProfiles,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawMirrors {
    mirror: Vec<RawMirror>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct RawMirror {
    id: Option<String>,
    url: Option<String>,
    mirror_of: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawServers {
    server: Vec<RawServer>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawServer {
    id: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawProxies {
    proxy: Vec<RawProxy>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct RawProxy {
    id: Option<String>,
    active: Option<String>,
    protocol: Option<String>,
    host: Option<String>,
    port: Option<String>,
    username: Option<String>,
    password: Option<String>,
    non_proxy_hosts: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawProfiles {
    profile: Vec<RawProfile>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawProfile {
    id: Option<String>,
    activation: RawActivation,
    repositories: RawRepositories,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct RawActivation {
    active_by_default: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawRepositories {
    repository: Vec<RawRepository>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawRepository {
    id: Option<String>,
    url: Option<String>,
    releases: RawPolicy,
    snapshots: RawPolicy,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawPolicy {
    enabled: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct RawActiveProfiles {
    active_profile: Vec<String>,
}

fn deserialize(xml: &str, source: &Path) -> Result<RawSettings, SettingsError> {
    let mut de = quick_xml::de::Deserializer::from_str(xml);
    RawSettings::deserialize(&mut de).map_err(|e| {
        let reader = de.get_ref().get_ref();
        // Syntax errors record where the bad markup starts; other errors are near the last event.
        let offset = match reader.error_position() {
            0 => reader.buffer_position(),
            at => at,
        };
        let (line, column) = line_and_column(xml, offset);
        SettingsError::Malformed {
            path: source.to_owned(),
            line,
            column,
            message: e.to_string(),
        }
    })
}

/// serde does not look at the root's name; a file whose root is not `<settings>` is some other file.
fn check_root(xml: &str, source: &Path) -> Result<(), SettingsError> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let root = loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) => {
                break e.local_name().into_inner().to_owned();
            }
            Ok(Event::Eof) | Err(_) => return Ok(()), // deserialize has judged the syntax already
            Ok(_) => {}
        }
    };
    if root == "settings" {
        return Ok(());
    }
    Err(SettingsError::Invalid {
        path: source.to_owned(),
        what: format!("the root element <{root}>"),
        problem: "is not <settings>; is this a Maven settings file?".to_owned(),
    })
}

/// 1-based line and column (in characters) of byte `offset`.
fn line_and_column(text: &str, offset: u64) -> (usize, usize) {
    let offset = usize::try_from(offset).unwrap_or(usize::MAX).min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Replaces `${env.NAME}` and `${user.home}`; anything unknown stays as written, as Maven leaves it.
struct Expander<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    home: Option<&'a Path>,
}

impl Expander<'_> {
    fn expand(&self, value: &str) -> String {
        let mut out = String::with_capacity(value.len());
        let mut rest = value;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                return out;
            };
            let key = &after[..end];
            match self.lookup(key) {
                Some(v) => out.push_str(&v),
                None => out.push_str(&rest[start..start + 2 + end + 1]),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    fn lookup(&self, key: &str) -> Option<String> {
        if key == "user.home" {
            return self.home.map(|h| h.to_string_lossy().into_owned());
        }
        key.strip_prefix("env.").and_then(|name| (self.env)(name))
    }

    /// `~`, `${user.home}` and `${env.X}` expanded; a relative path is taken from the home folder,
    /// so the result does not depend on where jube was started.
    fn local_repository(&self, value: &str) -> PathBuf {
        let expanded = self.expand(value);
        let Some(home) = self.home else {
            return PathBuf::from(expanded);
        };
        let tilde_rest = expanded
            .strip_prefix('~')
            .filter(|rest| rest.is_empty() || rest.starts_with(['/', '\\']));
        match tilde_rest {
            Some(rest) => home.join(rest.trim_start_matches(['/', '\\'])),
            None => home.join(expanded), // `join` keeps an absolute path as it is
        }
    }
}

struct Context<'a> {
    expander: Expander<'a>,
    source: &'a Path,
}

impl Context<'_> {
    fn settings(&self, raw: RawSettings) -> Result<Settings, SettingsError> {
        Ok(Settings {
            local_repository: self
                .text(raw.local_repository)
                .map(|v| self.expander.local_repository(&v)),
            offline: self.flag(raw.offline, "<offline>")?.unwrap_or(false),
            mirrors: (raw.mirrors.mirror.into_iter().enumerate())
                .map(|(i, m)| self.mirror(i + 1, m))
                .collect::<Result<_, _>>()?,
            servers: (raw.servers.server.into_iter().enumerate())
                .map(|(i, s)| self.server(i + 1, s))
                .collect::<Result<_, _>>()?,
            proxies: (raw.proxies.proxy.into_iter().enumerate())
                .map(|(i, p)| self.proxy(i + 1, p))
                .collect::<Result<_, _>>()?,
            profiles: (raw.profiles.profile.into_iter().enumerate())
                .map(|(i, p)| self.profile(i + 1, p))
                .collect::<Result<_, _>>()?,
            active_profiles: (raw.active_profiles.active_profile.into_iter())
                .filter_map(|p| self.text(Some(p)))
                .collect(),
            source: self.source.to_owned(),
        })
    }

    fn mirror(&self, n: usize, raw: RawMirror) -> Result<Mirror, SettingsError> {
        let what = format!("<mirror> number {n}");
        Ok(Mirror {
            id: self.required(raw.id, &what, "<id>")?,
            url: self.required(raw.url, &what, "<url>")?,
            mirror_of: self.required(raw.mirror_of, &what, "<mirrorOf>")?,
        })
    }

    fn server(&self, n: usize, raw: RawServer) -> Result<Server, SettingsError> {
        Ok(Server {
            id: self.required(raw.id, &format!("<server> number {n}"), "<id>")?,
            username: self.text(raw.username),
            password: self.password(raw.password),
        })
    }

    fn proxy(&self, n: usize, raw: RawProxy) -> Result<ProxySetting, SettingsError> {
        let id = self.text(raw.id);
        let what = match &id {
            Some(id) => format!("<proxy> `{id}`"),
            None => format!("<proxy> number {n}"),
        };
        let port = match self.text(raw.port) {
            None => DEFAULT_PROXY_PORT,
            Some(p) => p
                .parse()
                .map_err(|_| self.invalid(&what, format!("has the bad <port> `{p}`")))?,
        };
        Ok(ProxySetting {
            active: self
                .flag(raw.active, &format!("{what} <active>"))?
                .unwrap_or(true),
            protocol: self
                .text(raw.protocol)
                .map_or_else(|| DEFAULT_PROXY_PROTOCOL.to_owned(), |p| p.to_ascii_lowercase()),
            host: self.required(raw.host, &what, "<host>")?,
            port,
            username: self.text(raw.username),
            password: self.password(raw.password),
            non_proxy_hosts: self
                .text(raw.non_proxy_hosts)
                .map(|v| split_non_proxy_hosts(&v))
                .unwrap_or_default(),
            id,
        })
    }

    fn profile(&self, n: usize, raw: RawProfile) -> Result<Profile, SettingsError> {
        let id = self.required(raw.id, &format!("<profile> number {n}"), "<id>")?;
        let what = format!("<profile> `{id}`");
        let repositories = (raw.repositories.repository.into_iter().enumerate())
            .map(|(i, r)| self.repository(&what, i + 1, r))
            .collect::<Result<_, _>>()?;
        Ok(Profile {
            active_by_default: self
                .flag(
                    raw.activation.active_by_default,
                    &format!("{what} <activeByDefault>"),
                )?
                .unwrap_or(false),
            repositories,
            id,
        })
    }

    fn repository(
        &self,
        profile: &str,
        n: usize,
        raw: RawRepository,
    ) -> Result<ProfileRepository, SettingsError> {
        let what = format!("{profile} <repository> number {n}");
        Ok(ProfileRepository {
            id: self.required(raw.id, &what, "<id>")?,
            url: self.required(raw.url, &what, "<url>")?,
            releases: self
                .flag(raw.releases.enabled, &format!("{what} <releases><enabled>"))?
                .unwrap_or(true),
            snapshots: self
                .flag(raw.snapshots.enabled, &format!("{what} <snapshots><enabled>"))?
                .unwrap_or(true),
        })
    }

    /// The expanded, trimmed text; `None` when absent or empty (`<localRepository/>` means unset).
    fn text(&self, raw: Option<String>) -> Option<String> {
        let expanded = self.expander.expand(raw?.trim());
        let trimmed = expanded.trim();
        (!trimmed.is_empty()).then(|| trimmed.to_owned())
    }

    fn required(&self, raw: Option<String>, what: &str, element: &str) -> Result<String, SettingsError> {
        self.text(raw)
            .ok_or_else(|| self.invalid(what, format!("has no {element}")))
    }

    fn flag(&self, raw: Option<String>, what: &str) -> Result<Option<bool>, SettingsError> {
        match self.text(raw) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(self.invalid(what, format!("is `{v}`, but must be `true` or `false`"))),
        }
    }

    /// Passwords keep their inner spaces; only the surrounding whitespace of the element goes.
    fn password(&self, raw: Option<String>) -> Option<Password> {
        self.text(raw).map(|p| {
            if is_encrypted(&p) {
                Password::Encrypted(p)
            } else {
                Password::Plain(Secret::new(p))
            }
        })
    }

    fn invalid(&self, what: &str, problem: String) -> SettingsError {
        SettingsError::Invalid {
            path: self.source.to_owned(),
            what: what.to_owned(),
            problem,
        }
    }
}

/// Maven's settings-security form: the whole value in braces around base64, optionally with a
/// `[name=...,version=...]` header (Maven 4). A `{` elsewhere in a plain password is just a character.
fn is_encrypted(password: &str) -> bool {
    let Some(inner) = password.strip_prefix('{').and_then(|p| p.strip_suffix('}')) else {
        return false;
    };
    let payload = match inner.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((_, payload)) => payload,
            None => return false,
        },
        None => inner,
    };
    !payload.is_empty()
        && payload
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

/// Maven separates `nonProxyHosts` with `|` and also accepts `,`.
fn split_non_proxy_hosts(value: &str) -> Vec<String> {
    value
        .split(['|', ','])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

// ---- Debug that never shows a password ----

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Plain(secret) => fmt::Debug::fmt(secret, f),
            Self::Encrypted(_) => f.write_str("Encrypted"),
        }
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("password", &self.password)
            .finish()
    }
}

impl fmt::Debug for ProxySetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxySetting")
            .field("id", &self.id)
            .field("active", &self.active)
            .field("protocol", &self.protocol)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &self.password)
            .field("non_proxy_hosts", &self.non_proxy_hosts)
            .finish()
    }
}

impl fmt::Debug for Mirror {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mirror")
            .field("id", &self.id)
            .field("url", &redact_url_text(&self.url))
            .field("mirror_of", &self.mirror_of)
            .finish()
    }
}

impl fmt::Debug for ProfileRepository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProfileRepository")
            .field("id", &self.id)
            .field("url", &redact_url_text(&self.url))
            .field("releases", &self.releases)
            .field("snapshots", &self.snapshots)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "/home/u/.m2/settings.xml";

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    fn parse_env(xml: &str, env: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        parse_with(xml, Path::new(SOURCE), &env_of(env), Some(Path::new("/home/u")))
    }

    fn parse_ok(xml: &str) -> Settings {
        match parse_env(xml, &[]) {
            Ok(s) => s,
            Err(e) => panic!("settings should parse: {e}"),
        }
    }

    fn parse_err(xml: &str) -> String {
        match parse_env(xml, &[]) {
            Ok(s) => panic!("settings should not parse, got {s:?}"),
            Err(e) => e.to_string(),
        }
    }

    const FULL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<settings xmlns="http://maven.apache.org/SETTINGS/1.0.0"
          xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
          xsi:schemaLocation="http://maven.apache.org/SETTINGS/1.0.0 https://maven.apache.org/xsd/settings-1.0.0.xsd">
  <localRepository>/data/m2</localRepository>
  <interactiveMode>false</interactiveMode>
  <offline>true</offline>
  <pluginGroups><pluginGroup>org.example</pluginGroup></pluginGroups>
  <mirrors>
    <mirror>
      <id>nexus</id>
      <name>Company Nexus</name>
      <url>https://nexus.example.com/repository/public/</url>
      <mirrorOf>external:*,!local</mirrorOf>
    </mirror>
  </mirrors>
  <servers>
    <server>
      <id>nexus</id>
      <username>deployer</username>
      <password>s3cr&amp;t</password>
      <configuration><httpHeaders><property><name>X</name><value>Y</value></property></httpHeaders></configuration>
    </server>
  </servers>
  <proxies>
    <proxy>
      <id>corp</id>
      <protocol>HTTPS</protocol>
      <host>proxy.example.com</host>
      <port>3128</port>
      <username>pu</username>
      <password>pp</password>
      <nonProxyHosts>*.example.com|localhost, internal</nonProxyHosts>
    </proxy>
    <proxy><host>other</host><active>false</active></proxy>
  </proxies>
  <profiles>
    <profile>
      <id>images</id>
      <repositories>
        <repository>
          <id>snaps</id>
          <url>https://repo.example.com/snapshots</url>
          <releases><enabled>false</enabled></releases>
          <snapshots><enabled>true</enabled><updatePolicy>always</updatePolicy></snapshots>
        </repository>
        <repository><id>plain</id><url>https://repo.example.com/plain</url></repository>
      </repositories>
      <pluginRepositories><pluginRepository><id>p</id><url>https://p</url></pluginRepository></pluginRepositories>
    </profile>
  </profiles>
  <activeProfiles><activeProfile>images</activeProfile></activeProfiles>
</settings>"#;

    #[test]
    fn reads_every_section_and_ignores_unknown_elements() {
        let s = parse_ok(FULL);
        assert_eq!(s.local_repository, Some(PathBuf::from("/data/m2")));
        assert!(s.offline);
        assert_eq!(s.source, Path::new(SOURCE));
        assert_eq!(s.mirrors.len(), 1);
        assert_eq!(s.mirrors[0].id, "nexus");
        assert_eq!(s.mirrors[0].url, "https://nexus.example.com/repository/public/");
        assert_eq!(s.mirrors[0].mirror_of, "external:*,!local");
        let server = s.server("nexus").expect("server nexus");
        assert_eq!(server.username.as_deref(), Some("deployer"));
        assert_eq!(server.password(), Some(&Password::Plain("s3cr&t".into())));
        assert_eq!(s.proxies.len(), 2);
        let corp = &s.proxies[0];
        assert_eq!(corp.id.as_deref(), Some("corp"));
        assert!(corp.active);
        assert_eq!(corp.protocol, "https");
        assert_eq!((corp.host.as_str(), corp.port), ("proxy.example.com", 3128));
        assert_eq!(corp.password(), Some(&Password::Plain("pp".into())));
        assert_eq!(corp.non_proxy_hosts, ["*.example.com", "localhost", "internal"]);
        let other = &s.proxies[1];
        assert!(!other.active);
        assert_eq!(
            (other.protocol.as_str(), other.port, other.id.as_ref()),
            ("http", 8080, None)
        );
        assert_eq!(s.active_profiles, ["images"]);
        assert_eq!(
            s.active_repositories(),
            [
                ProfileRepository {
                    id: "snaps".into(),
                    url: "https://repo.example.com/snapshots".into(),
                    releases: false,
                    snapshots: true,
                },
                ProfileRepository {
                    id: "plain".into(),
                    url: "https://repo.example.com/plain".into(),
                    releases: true,
                    snapshots: true,
                },
            ]
        );
    }

    #[test]
    fn empty_and_minimal_files_give_defaults() {
        for xml in ["<settings/>", "<settings></settings>", "<settings>\n</settings>"] {
            let s = parse_ok(xml);
            assert_eq!(s.local_repository, None);
            assert!(!s.offline);
            assert!(s.mirrors.is_empty() && s.servers.is_empty() && s.proxies.is_empty());
            assert!(s.active_repositories().is_empty());
        }
        let s = parse_ok("<settings><mirrors/><servers></servers><localRepository/></settings>");
        assert!(s.mirrors.is_empty());
        // An empty element means unset, not the working directory (Maven 4 got this wrong: MNG-8311).
        assert_eq!(s.local_repository, None);
    }

    #[test]
    fn byte_order_mark_is_accepted() {
        let s = parse_ok("\u{feff}<settings><offline>true</offline></settings>");
        assert!(s.offline);
    }

    #[test]
    fn local_repository_expands_home_env_and_relative_paths() {
        let cases = [
            ("~/repo", "/home/u/repo"),
            ("~", "/home/u"),
            ("${user.home}/.m2/other", "/home/u/.m2/other"),
            ("${env.DATA}/m2", "/data/m2"),
            ("relative/repo", "/home/u/relative/repo"),
            ("/abs/repo", "/abs/repo"),
            ("~user/repo", "/home/u/~user/repo"),
        ];
        for (value, expected) in cases {
            let xml = format!("<settings><localRepository>{value}</localRepository></settings>");
            let s = parse_env(&xml, &[("DATA", "/data")]).expect("parses");
            assert_eq!(s.local_repository, Some(PathBuf::from(expected)), "for {value}");
        }
    }

    #[test]
    fn local_repository_without_a_home_stays_as_written() {
        let xml = "<settings><localRepository>~/repo</localRepository></settings>";
        let s = parse_with(xml, Path::new(SOURCE), &|_| None, None).expect("parses");
        assert_eq!(s.local_repository, Some(PathBuf::from("~/repo")));
    }

    #[test]
    fn env_references_expand_anywhere_and_unknown_ones_stay() {
        let xml = r#"<settings>
          <mirrors><mirror><id>m</id><url>https://${env.REPO_HOST}/maven/${env.NOPE}</url><mirrorOf>*</mirrorOf></mirror></mirrors>
          <servers><server><id>m</id><username>${env.USER_NAME}</username><password>${env.PASS}</password></server></servers>
          <offline>${env.OFFLINE}</offline>
        </settings>"#;
        let env = [
            ("REPO_HOST", "repo.example"),
            ("USER_NAME", "bob"),
            ("PASS", "pw"),
            ("OFFLINE", "true"),
        ];
        let s = parse_env(xml, &env).expect("parses");
        assert_eq!(s.mirrors[0].url, "https://repo.example/maven/${env.NOPE}");
        assert_eq!(s.servers[0].username.as_deref(), Some("bob"));
        assert_eq!(s.servers[0].password(), Some(&Password::Plain("pw".into())));
        assert!(s.offline);
    }

    #[test]
    fn expansion_handles_unclosed_and_repeated_references() {
        let env = env_of(&[("A", "1"), ("B", "${env.A}")]);
        let x = Expander {
            env: &env,
            home: None,
        };
        assert_eq!(
            x.expand("${env.A}${env.A}-${env.B}"),
            "11-${env.A}",
            "values are not re-expanded"
        );
        assert_eq!(x.expand("a${env.A"), "a${env.A");
        assert_eq!(x.expand("${user.home}"), "${user.home}");
        assert_eq!(x.expand("${}x${env.}"), "${}x${env.}");
        assert_eq!(x.expand("plain"), "plain");
    }

    #[test]
    fn encrypted_passwords_are_recognised_and_never_shown() {
        let xml = r#"<settings><servers>
          <server><id>enc</id><username>u</username><password>{COQLCE6DU6GtcS5P=}</password></server>
          <server><id>enc4</id><password>{[name=master,cipher=AES/GCM/NoPadding,version=4.0]vvq66pZ7rkvz+/=}</password></server>
          <server><id>braces</id><password>pa{ss}word</password></server>
          <server><id>spaced</id><password>{not base64!}</password></server>
          <server><id>empty</id><password>{}</password></server>
        </servers></settings>"#;
        let s = parse_ok(xml);
        let password = |id: &str| s.server(id).and_then(Server::password).cloned();
        assert!(matches!(password("enc"), Some(Password::Encrypted(_))));
        assert!(matches!(password("enc4"), Some(Password::Encrypted(_))));
        assert_eq!(password("braces"), Some(Password::Plain("pa{ss}word".into())));
        assert_eq!(password("spaced"), Some(Password::Plain("{not base64!}".into())));
        assert_eq!(password("empty"), Some(Password::Plain("{}".into())));
        let enc = password("enc").unwrap();
        let no_security = Path::new("/nonexistent/settings-security.xml");
        let err = s
            .clear_password(&enc, "server", "enc", no_security)
            .unwrap_err()
            .to_string();
        assert!(err.contains("server `enc`") && err.contains(SOURCE), "{err}");
        assert!(
            err.contains("cannot decrypt") && err.contains("JUBE_REMOTE_MAVEN_REPOS"),
            "{err}"
        );
        assert!(!err.contains("COQLCE6DU6GtcS5P"), "{err}");
    }

    #[test]
    fn debug_never_shows_passwords_or_url_secrets() {
        let xml = r#"<settings>
          <mirrors><mirror><id>m</id><url>https://mu:mirrorpw@m.example/</url><mirrorOf>*</mirrorOf></mirror></mirrors>
          <servers><server><id>m</id><username>u</username><password>serverpw</password></server></servers>
          <proxies><proxy><host>p</host><username>pu</username><password>proxypw</password></proxy></proxies>
          <profiles><profile><id>x</id><repositories>
            <repository><id>r</id><url>https://ru:repopw@r.example/</url></repository>
          </repositories></profile></profiles>
        </settings>"#;
        let debug = format!("{:?}", parse_ok(xml));
        for secret in ["mirrorpw", "serverpw", "proxypw", "repopw"] {
            assert!(!debug.contains(secret), "{secret} leaked: {debug}");
        }
        assert!(debug.contains(crate::maven::secret::MASK), "{debug}");
    }

    #[test]
    fn active_profiles_follow_maven_rules() {
        let profiles = r#"<profiles>
            <profile><id>default</id><activation><activeByDefault>true</activeByDefault></activation>
              <repositories><repository><id>d</id><url>https://d</url></repository></repositories></profile>
            <profile><id>listed</id>
              <repositories><repository><id>l</id><url>https://l</url></repository></repositories></profile>
            <profile><id>idle</id>
              <repositories><repository><id>i</id><url>https://i</url></repository></repositories></profile>
        </profiles>"#;
        let ids = |active: &str| {
            let s = parse_ok(&format!("<settings>{profiles}{active}</settings>"));
            s.active_repositories()
                .into_iter()
                .map(|r| r.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(""), ["d"], "activeByDefault when nothing is listed");
        assert_eq!(
            ids("<activeProfiles><activeProfile>listed</activeProfile></activeProfiles>"),
            ["l"]
        );
        assert_eq!(
            ids(
                "<activeProfiles><activeProfile>listed</activeProfile><activeProfile>default</activeProfile></activeProfiles>"
            ),
            ["d", "l"],
            "file order"
        );
        assert_eq!(
            ids("<activeProfiles><activeProfile>in-some-pom</activeProfile></activeProfiles>"),
            ["d"],
            "a listed id that is not in this file does not switch activeByDefault off"
        );
    }

    #[test]
    fn broken_xml_names_file_and_position() {
        let err = parse_err("<settings>\n  <mirrors>\n    <mirror><id>x</mirror>\n</settings>");
        assert!(err.contains(SOURCE), "{err}");
        assert!(err.contains("line 3"), "{err}");
        let err = parse_err("<settings><offline>true</offline>");
        assert!(err.contains(SOURCE) && err.contains("line 1, column"), "{err}");
        let err = parse_err("<settings><offline><x/></offline></settings>");
        assert!(err.contains("line 1, column"), "{err}");
        let err = parse_err("not xml at all <");
        assert!(err.contains("line 1"), "{err}");
    }

    #[test]
    fn a_file_of_another_kind_is_refused() {
        let err = parse_err("<?xml version='1.0'?><!-- x --><project><offline>true</offline></project>");
        assert!(
            err.contains("<project>") && err.contains("is not <settings>") && err.contains(SOURCE),
            "{err}"
        );
        let s = parse_ok(
            "<s:settings xmlns:s='http://maven.apache.org/SETTINGS/1.0.0'><s:offline>true</s:offline></s:settings>",
        );
        assert!(s.offline, "a namespace prefix is fine");
    }

    #[test]
    fn bad_values_are_named() {
        let err = parse_err(
            "<settings><proxies><proxy><id>c</id><host>h</host><port>99999</port></proxy></proxies></settings>",
        );
        assert!(
            err.contains("<proxy> `c`") && err.contains("99999") && err.contains(SOURCE),
            "{err}"
        );
        let err = parse_err("<settings><offline>yes</offline></settings>");
        assert!(err.contains("<offline>") && err.contains("`yes`"), "{err}");
        let err = parse_err(
            "<settings><mirrors><mirror><id>m</id><mirrorOf>*</mirrorOf></mirror></mirrors></settings>",
        );
        assert!(
            err.contains("<mirror> number 1") && err.contains("has no <url>"),
            "{err}"
        );
        let err =
            parse_err("<settings><servers><server><username>u</username></server></servers></settings>");
        assert!(
            err.contains("<server> number 1") && err.contains("has no <id>"),
            "{err}"
        );
        let err = parse_err("<settings><proxies><proxy><port>1</port></proxy></proxies></settings>");
        assert!(err.contains("has no <host>"), "{err}");
        let err = parse_err(
            "<settings><profiles><profile><id>p</id><repositories><repository><id>r</id></repository>\
             </repositories></profile></profiles></settings>",
        );
        assert!(
            err.contains("<profile> `p` <repository> number 1") && err.contains("has no <url>"),
            "{err}"
        );
    }

    #[test]
    fn load_returns_none_for_a_missing_file_and_reads_an_existing_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(
            load(&dir.path().join("settings.xml"))
                .expect("missing is fine")
                .is_none()
        );
        let path = dir.path().join("settings.xml");
        std::fs::write(&path, "<settings><offline>true</offline></settings>").expect("write");
        let s = load(&path).expect("reads").expect("exists");
        assert!(s.offline);
        assert_eq!(s.source, path);
        // A folder in the file's place is an error that names the path.
        let err = load(dir.path()).expect_err("a folder is not a file").to_string();
        assert!(err.contains(&dir.path().display().to_string()), "{err}");
    }

    #[test]
    fn line_and_column_count_characters() {
        assert_eq!(line_and_column("ab\ncd", 0), (1, 1));
        assert_eq!(line_and_column("ab\ncd", 4), (2, 2));
        assert_eq!(line_and_column("é\nx", 99), (2, 2));
    }
}
