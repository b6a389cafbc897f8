//! `jube push`: deploying an artifact from the local repository to a remote one, as
//! maven-deploy-plugin does. The files go first (artifact, pom, each with `.sha1` and `.md5`), the
//! metadata last, fetched, merged and put back, so a repository never lists a version whose files
//! are not all there. A snapshot is deployed as a new timestamped build (`1.0-20240102.030405-4`,
//! its build number one above the repository's) with its own version-level metadata.

use std::io;
use std::path::{Path, PathBuf};

use url::Url;

use crate::env_vars::{self, EnvVars};
use crate::maven::checksum::{self, Algorithm};
use crate::maven::coordinates::{Coordinates, UnsafeCoordinate};
use crate::maven::http::{FetchError, Http, HttpConfig};
use crate::maven::install;
use crate::maven::local::LocalRepo;
use crate::maven::metadata::{self, Metadata, MetadataError, Snapshot};
use crate::maven::repository::{self, RemoteRepository, RepositoryError};
use crate::maven::settings::Settings;
use crate::maven::version::MavenVersion;
use crate::reporter::Reporter;

const METADATA_FILE: &str = "maven-metadata.xml";

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(
        "{what} is not in the local repository {root}; build it with `jube build`, or get it with `jube pull`, \
         first"
    )]
    NotLocal { what: String, root: PathBuf },
    #[error(
        "{path} does not match its checksum file {sidecar}: the local copy is damaged; build or pull it again \
         before pushing"
    )]
    Damaged { path: PathBuf, sidecar: PathBuf },
    #[error(
        "no repository to push to: give --repo URL (or the id of a repository in JUBE_REMOTE_MAVEN_REPOS or \
         the active profiles of settings.xml), or set JUBE_REMOTE_MAVEN_REPOS"
    )]
    NoRepository,
    #[error(
        "no repository with id `{id}` is configured (known: {known}); give its URL with --repo, or add it to \
         JUBE_REMOTE_MAVEN_REPOS (`URL@id={id}`) or to an active profile of settings.xml"
    )]
    UnknownRepository { id: String, known: String },
    #[error("--repo takes one repository, not a list: `{0}`")]
    SeveralRepositories(String),
    #[error(transparent)]
    Repositories(#[from] RepositoryError),
    #[error(
        "{url} already exists: the repository holds release {version}, and releases are not replaced; push a \
         new version, or give --force to overwrite it"
    )]
    ReleaseExists { url: String, version: String },
    #[error("{method} {url} failed: {source}")]
    Transfer {
        method: &'static str,
        url: String,
        #[source]
        source: FetchError,
    },
    #[error(
        "the repository's {url} is unreadable ({source}); jube will not replace the versions it lists: fix or \
         remove it in the repository, then push again"
    )]
    RemoteMetadata {
        url: String,
        #[source]
        source: MetadataError,
    },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot push this snapshot build: {0}")]
    Unsafe(#[from] UnsafeCoordinate),
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
}

// ---- which repository ----

/// The repositories a push may name: `JUBE_REMOTE_MAVEN_REPOS`, then the repositories of the
/// active settings profiles. Unlike downloads, deploys never go through mirrors (Maven applies
/// mirrors to resolution only), and never to Maven Central by default.
pub fn push_candidates(settings: Option<&Settings>) -> Result<Vec<RemoteRepository>, DeployError> {
    let mut repos = match env_vars::var(EnvVars::JUBE_REMOTE_MAVEN_REPOS) {
        Some(spec) => repository::parse_jube_repos(&spec)?,
        None => Vec::new(),
    };
    if let Some(settings) = settings {
        for r in settings.active_repositories() {
            if !repos.iter().any(|known| known.id == r.id) {
                repos.extend(repository::parse_jube_repos(&format!("{}@id={}", r.url, r.id))?);
            }
        }
    }
    Ok(repos)
}

/// The repository `--repo` names (a URL in Jube syntax, or an id), or the first candidate, with
/// credentials (the URL's, else settings.xml `<server>` by id) and proxy as for downloads.
pub fn choose_repository(
    arg: Option<&str>,
    candidates: &[RemoteRepository],
    settings: Option<&Settings>,
) -> Result<RemoteRepository, DeployError> {
    let chosen =
        match arg.map(str::trim) {
            None | Some("") => candidates.first().cloned().ok_or(DeployError::NoRepository)?,
            Some(spec) if spec.contains("://") => repository_from_url(spec, candidates)?,
            Some(id) => candidates.iter().find(|r| r.id == id).cloned().ok_or_else(|| {
                DeployError::UnknownRepository {
                    id: id.to_owned(),
                    known: known_ids(candidates),
                }
            })?,
        };
    complete(chosen, settings)
}

fn known_ids(candidates: &[RemoteRepository]) -> String {
    if candidates.is_empty() {
        return "none".to_owned();
    }
    candidates
        .iter()
        .map(|r| format!("{} ({})", r.id, r.url))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A `--repo` URL; without an explicit `@id=`, a configured repository at the same URL lends its
/// id (and so its settings.xml credentials).
fn repository_from_url(spec: &str, candidates: &[RemoteRepository]) -> Result<RemoteRepository, DeployError> {
    let mut parsed = repository::parse_jube_repos(spec)?;
    if parsed.len() != 1 {
        return Err(DeployError::SeveralRepositories(
            repository::SafeUrl::parse(spec)
                .map_or_else(|_| "(several entries)".to_owned(), |u| u.to_string()),
        ));
    }
    let mut repo = parsed.remove(0);
    if !spec.to_ascii_lowercase().contains("@id=") {
        match candidates.iter().find(|c| c.url == repo.url) {
            Some(known) => {
                repo.id = known.id.clone();
                if repo.credentials.is_none() {
                    repo.credentials = known.credentials.clone();
                }
            }
            None => repo.id = "remote".to_owned(),
        }
    }
    Ok(repo)
}

/// Adds settings.xml server credentials and the proxy by running the download plan over this one
/// repository, with mirrors and profiles left out.
fn complete(repo: RemoteRepository, settings: Option<&Settings>) -> Result<RemoteRepository, DeployError> {
    let spec = format!("{}@id={}", repo.url.without_credentials(), repo.id);
    let bare = settings.map(|s| Settings {
        mirrors: Vec::new(),
        profiles: Vec::new(),
        active_profiles: Vec::new(),
        offline: false,
        ..s.clone()
    });
    let env = |name: &str| match name {
        EnvVars::JUBE_REMOTE_MAVEN_REPOS => Some(spec.clone()),
        EnvVars::JUBE_MAVEN_CENTRAL => Some("off".to_owned()),
        other => env_vars::var(other),
    };
    let plan = repository::plan(bare.as_ref(), &env)?;
    let mut planned = plan.remotes.into_iter().next().unwrap_or_else(|| repo.clone());
    if repo.credentials.is_some() {
        planned.credentials = repo.credentials;
    }
    Ok(planned)
}

// ---- what is uploaded ----

/// What one upload sends: small documents built in memory, or the image zip streamed from the
/// local repository (an image may be hundreds of MiB).
enum Payload {
    Bytes(Vec<u8>),
    /// A file, its length and its sidecar sums, read once when the push starts.
    File {
        path: PathBuf,
        len: u64,
        sums: Vec<(Algorithm, String)>,
    },
}

impl Payload {
    fn file(path: &Path) -> Result<Self, DeployError> {
        let read = |source| DeployError::Read {
            path: path.to_owned(),
            source,
        };
        let mut file = std::fs::File::open(path).map_err(read)?;
        let (sums, len) = checksum::written_digests(&mut file).map_err(read)?;
        Ok(Self::File {
            path: path.to_owned(),
            len,
            sums,
        })
    }

    fn len(&self) -> u64 {
        match self {
            Self::Bytes(bytes) => bytes.len() as u64,
            Self::File { len, .. } => *len,
        }
    }

    fn sums(&self) -> Vec<(Algorithm, String)> {
        match self {
            Self::Bytes(bytes) => Algorithm::WRITTEN
                .iter()
                .map(|a| (*a, a.digest_hex(bytes)))
                .collect(),
            Self::File { sums, .. } => sums.clone(),
        }
    }
}

// ---- where the bytes go ----

/// HTTP(S) with PUT, or a `file:` repository written directly.
enum Transport<'a> {
    Http { http: Http, repo: &'a RemoteRepository },
    File { root: PathBuf },
}

impl<'a> Transport<'a> {
    fn new(repo: &'a RemoteRepository) -> Result<Self, DeployError> {
        if repo.url.scheme() == "file" {
            let root = repo.url.url().to_file_path().map_err(|()| DeployError::Write {
                path: PathBuf::from(repo.url.to_string()),
                source: io::Error::other("not a local folder"),
            })?;
            return Ok(Self::File { root });
        }
        let http = Http::new(HttpConfig::from_env(), std::slice::from_ref(repo)).map_err(|source| {
            DeployError::Transfer {
                method: "connect to",
                url: repo.url.to_string(),
                source,
            }
        })?;
        Ok(Self::Http { http, repo })
    }

    /// The URL of a repository path, for messages: never with credentials.
    fn shown(&self, rel: &str) -> String {
        match self {
            Self::Http { repo, .. } => shown(&repo.url.join_path(rel)),
            Self::File { root } => root.join(rel).display().to_string(),
        }
    }

    /// A small file's bytes; `None` when the repository has no such file.
    fn get(&self, rel: &str) -> Result<Option<Vec<u8>>, DeployError> {
        match self {
            Self::Http { http, repo } => {
                match http.get_bytes(&repo.url.join_path(rel), repo.credentials.as_ref()) {
                    Ok(bytes) => Ok(Some(bytes)),
                    Err(FetchError::NotFound) => Ok(None),
                    Err(source) => Err(self.transfer("GET", rel, source)),
                }
            }
            Self::File { root } => match std::fs::read(root.join(rel)) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(source) => Err(DeployError::Read {
                    path: root.join(rel),
                    source,
                }),
            },
        }
    }

    fn exists(&self, rel: &str) -> Result<bool, DeployError> {
        match self {
            // Only the response head is read: dropping it closes the connection before the body.
            Self::Http { http, repo } => {
                match http.get(&repo.url.join_path(rel), repo.credentials.as_ref()) {
                    Ok(_) => Ok(true),
                    Err(FetchError::NotFound) => Ok(false),
                    Err(source) => Err(self.transfer("GET", rel, source)),
                }
            }
            Self::File { root } => Ok(root.join(rel).is_file()),
        }
    }

    fn put(&self, rel: &str, payload: &Payload) -> Result<(), DeployError> {
        match (self, payload) {
            (Self::Http { http, repo }, Payload::Bytes(bytes)) => http
                .put(&repo.url.join_path(rel), repo.credentials.as_ref(), bytes.clone())
                .map_err(|source| self.transfer("PUT", rel, source)),
            (Self::Http { http, repo }, Payload::File { path, len, .. }) => http
                .put_file(&repo.url.join_path(rel), repo.credentials.as_ref(), path, *len)
                .map_err(|source| self.transfer("PUT", rel, source)),
            (Self::File { root }, _) => {
                let path = root.join(rel);
                let write = |source| DeployError::Write {
                    path: path.clone(),
                    source,
                };
                if let Some(dir) = path.parent() {
                    fs_err::create_dir_all(dir).map_err(write)?;
                }
                match payload {
                    Payload::Bytes(bytes) => crate::fsutil::write_atomic(&path, bytes).map_err(write),
                    Payload::File { path: from, .. } => std::fs::File::open(from)
                        .and_then(|mut file| crate::fsutil::write_atomic_from(&path, &mut file))
                        .map_err(write),
                }
            }
        }
    }

    fn transfer(&self, method: &'static str, rel: &str, source: FetchError) -> DeployError {
        DeployError::Transfer {
            method,
            url: self.shown(rel),
            source,
        }
    }
}

/// A URL for messages, without user or password.
fn shown(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_password(None);
    let _ = u.set_username("");
    u.to_string()
}

// ---- the deploy ----

/// What a push did.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// At the deployed file's version (timestamped for a snapshot).
    pub coordinates: Coordinates,
    /// Where the artifact now is, without credentials.
    pub url: String,
    pub repository: String,
}

/// The local files of the artifact `c` names: for a snapshot, the plain `-SNAPSHOT` file of a
/// local build, else its newest timestamped download.
pub fn local_artifact(local: &LocalRepo, c: &Coordinates) -> Result<(Coordinates, PathBuf), DeployError> {
    let plain = local.file(c);
    if plain.is_file() {
        return Ok((c.clone(), plain));
    }
    let not_local = || DeployError::NotLocal {
        what: c.to_string(),
        root: local.root().to_owned(),
    };
    if !c.is_snapshot() {
        return Err(not_local());
    }
    let base = c.base_version();
    let prefix = format!("{}-", c.artifact_id);
    let suffix = c.file_suffix();
    let dir = local.version_dir(c);
    let builds = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok);
    let found = builds
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let version = name.strip_prefix(&prefix)?.strip_suffix(&suffix)?;
            // A file name that is no valid version is no build of this artifact.
            let build = c.with_version(version).ok()?;
            (build.base_version() == base && build.version != base).then_some(build)
        })
        .max_by_key(|b| MavenVersion::parse(&b.version))
        .ok_or_else(not_local)?;
    let path = local.file(&found);
    Ok((found, path))
}

/// Refuses to upload a local file that no longer matches the `.sha1` recorded beside it.
fn check_local(path: &Path, sums: &[(Algorithm, String)]) -> Result<(), DeployError> {
    let mut sidecar = path.as_os_str().to_owned();
    sidecar.push(".sha1");
    let sidecar = PathBuf::from(sidecar);
    let Ok(text) = std::fs::read_to_string(&sidecar) else {
        return Ok(());
    };
    match checksum::parse_sidecar(&text, Algorithm::Sha1) {
        Some(sum) if checksum::digest_in(sums, Algorithm::Sha1) != Some(sum.as_str()) => {
            Err(DeployError::Damaged {
                path: path.to_owned(),
                sidecar,
            })
        }
        _ => Ok(()),
    }
}

/// Deploys the artifact `c` (a release or `-SNAPSHOT` version) from `local` to `repo`.
pub fn push(
    local: &LocalRepo,
    c: &Coordinates,
    repo: &RemoteRepository,
    force: bool,
    reporter: &dyn Reporter,
) -> Result<Pushed, DeployError> {
    let (found, zip_path) = local_artifact(local, c)?;
    let zip = Payload::file(&zip_path)?;
    check_local(&zip_path, &zip.sums())?;
    let pom_path = local.file(&found.pom());
    let pom = match std::fs::read(&pom_path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => install::pom_xml(c).into_bytes(),
        Err(source) => {
            return Err(DeployError::Read {
                path: pom_path,
                source,
            });
        }
    };
    let transport = Transport::new(repo)?;
    let deploy = Deploy {
        transport: &transport,
        reporter,
        repo,
    };
    let deployed = if c.is_snapshot() {
        deploy.snapshot(c, &zip, pom)?
    } else {
        deploy.release(c, &zip, pom, force)?
    };
    Ok(Pushed {
        url: transport.shown(&deployed.path()),
        coordinates: deployed,
        repository: format!("{} ({})", repo.id, repo.url),
    })
}

struct Deploy<'a> {
    transport: &'a Transport<'a>,
    reporter: &'a dyn Reporter,
    repo: &'a RemoteRepository,
}

impl Deploy<'_> {
    fn release(
        &self,
        c: &Coordinates,
        zip: &Payload,
        pom: Vec<u8>,
        force: bool,
    ) -> Result<Coordinates, DeployError> {
        if self.transport.exists(&c.path())? {
            if !force {
                return Err(DeployError::ReleaseExists {
                    url: self.transport.shown(&c.path()),
                    version: c.version.to_string(),
                });
            }
            self.reporter
                .warn(&format!("replacing release {c} in {} (--force)", self.repo.id));
        }
        self.upload(&c.path(), zip)?;
        self.upload(&c.pom().path(), &Payload::Bytes(pom))?;
        let (last_updated, _) = metadata::timestamp_now();
        let rel = format!("{}/{METADATA_FILE}", c.artifact_dir());
        let mut m = self.remote_metadata(&rel, c)?;
        m.add_release(&c.version, &last_updated);
        self.upload(&rel, &Payload::Bytes(m.to_xml().into_bytes()))?;
        Ok(c.clone())
    }

    fn snapshot(&self, c: &Coordinates, zip: &Payload, pom: Vec<u8>) -> Result<Coordinates, DeployError> {
        let base = c.base_version();
        let (last_updated, timestamp) = metadata::timestamp_now();
        let version_rel = format!("{}/{METADATA_FILE}", c.version_dir());
        let mut version_meta = self.remote_metadata(&version_rel, c)?;
        let build = version_meta
            .versioning
            .snapshot
            .as_ref()
            .and_then(|s| s.build_number)
            .unwrap_or(0)
            + 1;
        let release_part = base.strip_suffix("-SNAPSHOT").unwrap_or(&base);
        let value = format!("{release_part}-{timestamp}-{build}");
        let built = c.with_version(&value)?;
        self.upload(&built.path(), zip)?;
        self.upload(&built.pom().path(), &Payload::Bytes(pom))?;

        version_meta.version = Some(base.to_string());
        let v = &mut version_meta.versioning;
        v.snapshot = Some(Snapshot {
            timestamp: Some(timestamp),
            build_number: Some(build),
            local_copy: false,
        });
        v.last_updated = Some(last_updated.clone());
        v.record_snapshot_files(c, &value, &last_updated);
        self.upload(&version_rel, &Payload::Bytes(version_meta.to_xml().into_bytes()))?;

        let artifact_rel = format!("{}/{METADATA_FILE}", c.artifact_dir());
        let mut artifact_meta = self.remote_metadata(&artifact_rel, c)?;
        artifact_meta.add_release(&base, &last_updated);
        self.upload(
            &artifact_rel,
            &Payload::Bytes(artifact_meta.to_xml().into_bytes()),
        )?;
        Ok(built)
    }

    /// The repository's metadata at `rel`, or new metadata when it has none.
    fn remote_metadata(&self, rel: &str, c: &Coordinates) -> Result<Metadata, DeployError> {
        match self.transport.get(rel)? {
            None => Ok(metadata::artifact_metadata(&c.group_id, &c.artifact_id)),
            Some(bytes) => metadata::parse(&bytes).map_err(|source| DeployError::RemoteMetadata {
                url: self.transport.shown(rel),
                source,
            }),
        }
    }

    /// PUTs a file, then its checksums.
    fn upload(&self, rel: &str, payload: &Payload) -> Result<(), DeployError> {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        let sums = payload.sums();
        let len = payload.len();
        let job = self.reporter.on_start(name, Some(len));
        let result = self.transport.put(rel, payload);
        self.reporter.on_progress(job, len);
        self.reporter.on_finish(job);
        result?;
        for (algorithm, sum) in sums {
            self.transport.put(
                &format!("{rel}.{}", algorithm.extension()),
                &Payload::Bytes(sum.into_bytes()),
            )?;
        }
        self.reporter
            .info(&format!("uploaded {}", self.transport.shown(rel)));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(spec: &str) -> Vec<RemoteRepository> {
        repository::parse_jube_repos(spec).unwrap()
    }

    #[test]
    fn repo_argument_picks_by_url_or_id() {
        let candidates = repo("http://a.example/r@id=alpha,http://u:p@b.example/r@id=beta");
        let first = choose_repository(None, &candidates, None).unwrap();
        assert_eq!(first.id, "alpha");
        let by_id = choose_repository(Some("beta"), &candidates, None).unwrap();
        assert_eq!(by_id.credentials.unwrap().username, "u");
        let by_url = choose_repository(Some("http://b.example/r/"), &candidates, None).unwrap();
        assert_eq!(by_url.id, "beta");
        assert!(by_url.credentials.is_some(), "a known URL lends its credentials");
        let other = choose_repository(Some("http://c.example/r"), &candidates, None).unwrap();
        assert_eq!(other.id, "remote");
        let err = choose_repository(Some("gamma"), &candidates, None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`gamma`") && err.contains("alpha") && !err.contains(":p@"),
            "{err}"
        );
        assert!(matches!(
            choose_repository(None, &[], None),
            Err(DeployError::NoRepository)
        ));
        assert!(matches!(
            choose_repository(Some("http://a/,http://b/"), &candidates, None),
            Err(DeployError::SeveralRepositories(_))
        ));
    }

    #[test]
    fn server_credentials_come_from_settings_by_id() {
        let settings = crate::maven::settings::parse_with(
            "<settings><servers><server><id>alpha</id><username>dep</username><password>pw</password></server></servers></settings>",
            Path::new("settings.xml"),
            &|_| None,
            None,
        )
        .unwrap();
        let candidates = repo("http://a.example/r@id=alpha");
        let chosen = choose_repository(Some("alpha"), &candidates, Some(&settings)).unwrap();
        let creds = chosen.credentials.unwrap();
        assert_eq!((creds.username.as_str(), creds.password()), ("dep", "pw"));
    }

    #[test]
    fn a_file_repository_takes_releases_snapshots_and_merged_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let local = LocalRepo::new(dir.path().join("local"));
        let remote_dir = dir.path().join("remote");
        let target = &repo(&format!(
            "{}@id=files",
            Url::from_directory_path(&remote_dir).unwrap()
        ))[0];
        let c = Coordinates::new("g.team", "app", "1.0", Some("image"), "zip").unwrap();
        let s = c.with_version("2.0-SNAPSHOT").unwrap();
        for coords in [&c, &s] {
            install::install(&local, coords, |f| io::Write::write_all(f, b"zip")).unwrap();
        }
        let silent = crate::reporter::Silent;
        let pushed = push(&local, &c, target, false, &silent).unwrap();
        assert!(
            pushed.url.ends_with("g/team/app/1.0/app-1.0-image.zip"),
            "{}",
            pushed.url
        );
        let err = push(&local, &c, target, false, &silent).unwrap_err();
        assert!(matches!(err, DeployError::ReleaseExists { .. }), "{err}");
        push(&local, &c, target, true, &silent).unwrap();
        let first = push(&local, &s, target, false, &silent).unwrap();
        let second = push(&local, &s, target, false, &silent).unwrap();
        assert!(first.coordinates.version.ends_with("-1"), "{first:?}");
        assert!(second.coordinates.version.ends_with("-2"), "{second:?}");
        let artifact =
            metadata::parse(&std::fs::read(remote_dir.join("g/team/app/maven-metadata.xml")).unwrap())
                .unwrap();
        assert_eq!(artifact.versioning.versions, ["1.0", "2.0-SNAPSHOT"]);
        assert_eq!(artifact.versioning.release.as_deref(), Some("1.0"));
        let version = metadata::parse(
            &std::fs::read(remote_dir.join("g/team/app/2.0-SNAPSHOT/maven-metadata.xml")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            version.snapshot_file_version("2.0-SNAPSHOT", Some("image"), "zip"),
            second.coordinates.version
        );
        let sha1 = std::fs::read_to_string(remote_dir.join(format!(
            "g/team/app/2.0-SNAPSHOT/{}.sha1",
            second.coordinates.file_name()
        )))
        .unwrap();
        assert_eq!(sha1, Algorithm::Sha1.digest_hex(b"zip"));
    }

    #[test]
    fn a_damaged_local_copy_is_not_pushed() {
        let dir = tempfile::tempdir().unwrap();
        let local = LocalRepo::new(dir.path().join("local"));
        let c = Coordinates::new("g.team", "app", "1.0", Some("image"), "zip").unwrap();
        let installed = install::install(&local, &c, |f| io::Write::write_all(f, b"zip")).unwrap();
        std::fs::write(&installed.path, b"zap").unwrap();
        let target = &repo(&format!(
            "{}@id=files",
            Url::from_directory_path(dir.path().join("r")).unwrap()
        ))[0];
        let err = push(&local, &c, target, false, &crate::reporter::Silent).unwrap_err();
        assert!(matches!(err, DeployError::Damaged { .. }), "{err}");
    }
}
