//! Turns an image reference into a verified zip in the local repository: pick the version (from
//! merged metadata when the tag does not name one), then find the file locally or download it.

use std::cell::{OnceCell, RefCell};
use std::collections::HashSet;
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::fsutil::{self, LockError};
use crate::image::{ImageRef, VersionRequest};
use crate::maven::builtin::{self, BUILTIN_ID};
use crate::maven::checksum::{self, Algorithm};
use crate::maven::coordinates::Coordinates;
use crate::maven::http::{FetchError, Http, HttpConfig};
use crate::maven::local::{LOCAL_INSTALL, LocalRepo};
use crate::maven::metadata::{self, Metadata};
use crate::maven::repository::RemoteRepository;
use crate::reporter::Reporter;

/// How long a cached copy of a remote's metadata is trusted (Maven's `daily` update policy).
const METADATA_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// Prefix of download temp files, so a lock holder can recognise leftovers of a killed run.
const PARTIAL_PREFIX: &str = ".jube-partial-";

#[derive(Debug, Clone, Default)]
pub struct ResolveOptions {
    /// Never touch the network (`--offline`, settings.xml `<offline>`).
    pub offline: bool,
    /// Refresh cached metadata even if it is fresh (`--refresh`, `-U`).
    pub refresh: bool,
    /// A missing checksum is an error, not a warning.
    pub strict_checksums: bool,
    /// The image group prefix, under which the built-in images are served; `None` serves none.
    pub builtin_prefix: Option<String>,
}

/// A resolved artifact in the local repository.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The coordinates at the file's own version (timestamped for snapshot builds).
    pub coordinates: Coordinates,
    pub path: PathBuf,
    /// The repository it came from this time, `None` when it was already local.
    pub downloaded_from: Option<String>,
}

/// One repository's answer, kept for the error message when nothing works.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub repository: String,
    pub answer: String,
}

#[derive(Debug)]
pub struct Attempts(pub Vec<Attempt>);

impl fmt::Display for Attempts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("\n  (no remote repositories are configured: set JUBE_REMOTE_MAVEN_REPOS or add a repository to settings.xml)");
        }
        for a in &self.0 {
            write!(f, "\n  {}: {}", a.repository, a.answer)?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("no version of {artifact} found; repositories tried:{attempts}")]
    NoVersions { artifact: String, attempts: Attempts },
    #[error("{coordinates} was not found; repositories tried:{attempts}")]
    NotFound { coordinates: String, attempts: Attempts },
    #[error(
        "{what} is not in the local repository {local} and jube is offline; run again without --offline (or settings.xml <offline>) to download it"
    )]
    Offline { what: String, local: PathBuf },
    #[error("cannot write to the local repository: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Http(FetchError),
}

/// Resolves and downloads image zips.
pub struct Resolver<'r> {
    local: LocalRepo,
    remotes: Vec<RemoteRepository>,
    options: ResolveOptions,
    reporter: &'r dyn Reporter,
    http_config: HttpConfig,
    /// Built on first use: a cached pull of a concrete version never sets up HTTP at all.
    http: OnceCell<Result<Http, FetchError>>,
    /// Repositories that could not be reached: warned about once, then skipped for this run.
    unreachable: RefCell<HashSet<String>>,
}

impl<'r> Resolver<'r> {
    pub fn new(
        local: LocalRepo,
        remotes: Vec<RemoteRepository>,
        options: ResolveOptions,
        reporter: &'r dyn Reporter,
    ) -> Self {
        Self {
            local,
            remotes,
            options,
            reporter,
            http_config: HttpConfig::from_env(),
            http: OnceCell::new(),
            unreachable: RefCell::new(HashSet::new()),
        }
    }

    pub fn local(&self) -> &LocalRepo {
        &self.local
    }

    pub fn remotes(&self) -> &[RemoteRepository] {
        &self.remotes
    }

    fn http(&self) -> Result<&Http, ResolveError> {
        self.http
            .get_or_init(|| Http::new(self.http_config.clone(), &self.remotes))
            .as_ref()
            .map_err(|e| ResolveError::Http(e.clone()))
    }

    /// Resolves `image` to a file in the local repository, downloading it when needed.
    pub fn resolve(&self, image: &ImageRef) -> Result<Resolved, ResolveError> {
        match &image.version {
            VersionRequest::Exact(v) => self.fetch(&image.at(v), None),
            VersionRequest::NewestRelease | VersionRequest::Latest => {
                let version = self.newest_version(image)?;
                if let VersionRequest::Snapshot(_) = VersionRequest::from_tag(Some(&version)) {
                    self.resolve_snapshot(&image.at(&version))
                } else {
                    self.fetch(&image.at(&version), None)
                }
            }
            VersionRequest::Snapshot(v) => self.resolve_snapshot(&image.at(v)),
        }
    }

    /// The newest version `image` asks for, from the merged metadata of every repository.
    pub fn newest_version(&self, image: &ImageRef) -> Result<String, ResolveError> {
        let probe = image.at("0");
        let snapshots = image.version == VersionRequest::Latest;
        let mut merged: Option<Metadata> = None;
        let mut attempts = Vec::new();
        let mut add = |m: Metadata| match &mut merged {
            Some(all) => all.merge(&m),
            None => merged = Some(m),
        };
        if let Some(m) = read_metadata(&self.local.metadata_file(&probe, None, false)) {
            add(m);
        }
        if let Some(m) = self
            .options
            .builtin_prefix
            .as_deref()
            .and_then(|p| builtin::metadata_for(&probe, p))
        {
            add(m);
        }
        for repo in &self.remotes {
            if !(repo.releases || snapshots && repo.snapshots) {
                continue;
            }
            let cache = self.local.metadata_file(&probe, Some(&repo.id), false);
            let remote_path = format!("{}/maven-metadata.xml", probe.artifact_dir());
            match self.cached_remote_metadata(repo, &remote_path, &cache) {
                Ok(m) => add(m),
                Err(answer) => attempts.push(Attempt {
                    repository: repo_label(repo),
                    answer,
                }),
            }
        }
        let newest = merged
            .as_ref()
            .and_then(|m| if snapshots { m.newest() } else { m.newest_release() });
        newest.map(str::to_owned).ok_or_else(|| ResolveError::NoVersions {
            artifact: format!("{}:{}", image.group_id, image.artifact_id),
            attempts: Attempts(attempts),
        })
    }

    /// A remote's metadata, from the local cache when it is fresh (or when offline), else downloaded
    /// and cached. `Err` carries the answer to report.
    fn cached_remote_metadata(
        &self,
        repo: &RemoteRepository,
        remote_path: &str,
        cache: &Path,
    ) -> Result<Metadata, String> {
        let age = fs_err::metadata(cache)
            .ok()
            .and_then(|m| m.modified().ok())
            .map(|t| SystemTime::now().duration_since(t).unwrap_or_default());
        let fresh = age.is_some_and(|a| a < METADATA_MAX_AGE) && !self.options.refresh;
        if fresh || self.options.offline {
            return match read_metadata(cache) {
                Some(m) => Ok(m),
                None if self.options.offline => Err("not cached, and jube is offline".into()),
                None => Err(format!("cached metadata {} is unreadable", cache.display())),
            };
        }
        let url = repo.url.join_path(remote_path);
        let fetched = self.get_small(repo, &url).map_err(|e| e.to_string());
        match fetched {
            Ok(bytes) => {
                let parsed = metadata::parse(&bytes)
                    .map_err(|e| format!("malformed metadata at {}: {e}", redact(&url)))?;
                if let Some(dir) = cache.parent() {
                    let _ = fs_err::create_dir_all(dir);
                }
                let _ = fsutil::write_atomic(cache, &bytes);
                Ok(parsed)
            }
            // A stale copy is better than nothing when the repository is down; never cache a failure.
            Err(answer) => match read_metadata(cache) {
                Some(m) if answer != FetchError::NotFound.to_string() => {
                    self.reporter
                        .warn(&format!("using cached metadata of {} ({answer})", repo.id));
                    Ok(m)
                }
                _ => Err(answer),
            },
        }
    }

    /// Picks the newest build of a snapshot across the local install and remote repositories.
    fn resolve_snapshot(&self, base: &Coordinates) -> Result<Resolved, ResolveError> {
        let classifier = base.classifier.as_deref();
        let remote_path = format!("{}/maven-metadata.xml", base.version_dir());
        let mut sources: Vec<(Metadata, Option<&RemoteRepository>)> = Vec::new();
        let mut attempts = Vec::new();
        if let Some(m) = read_metadata(&self.local.metadata_file(base, None, true)) {
            sources.push((m, None));
        }
        for repo in self.remotes.iter().filter(|r| r.snapshots) {
            let cache = self.local.metadata_file(base, Some(&repo.id), true);
            match self.cached_remote_metadata(repo, &remote_path, &cache) {
                Ok(m) => sources.push((m, Some(repo))),
                Err(answer) => attempts.push(Attempt {
                    repository: repo_label(repo),
                    answer,
                }),
            }
        }
        // The newest build wins; on a tie the earlier source (the local install, then repository order).
        let mut best: Option<(String, String, Option<&RemoteRepository>)> = None;
        for (m, repo) in &sources {
            let file_version = m.snapshot_file_version(&base.version, classifier, &base.extension);
            let updated = m.versioning.last_updated.clone().unwrap_or_default();
            if best.as_ref().is_none_or(|(u, _, _)| updated > *u) {
                best = Some((updated, file_version, *repo));
            }
        }
        match best {
            Some((_, file_version, repo)) => self.fetch(&base.with_version(&file_version), repo),
            // No metadata anywhere: a plain `-SNAPSHOT` file may still be there (installed by hand).
            None => self.fetch(base, None).map_err(|e| match e {
                ResolveError::NotFound {
                    coordinates,
                    attempts: Attempts(mut more),
                } => {
                    attempts.append(&mut more);
                    ResolveError::NotFound {
                        coordinates,
                        attempts: Attempts(attempts),
                    }
                }
                other => other,
            }),
        }
    }

    /// Returns the local file of `c`, downloading it first when it is not there. `only` limits the
    /// download to one repository (the one whose metadata named this snapshot build).
    pub fn fetch(&self, c: &Coordinates, only: Option<&RemoteRepository>) -> Result<Resolved, ResolveError> {
        let path = self.local.file(c);
        if path.is_file() {
            return Ok(Resolved {
                coordinates: c.clone(),
                path,
                downloaded_from: None,
            });
        }
        if self.options.offline {
            return match self.install_builtin(c)? {
                Some(resolved) => Ok(resolved),
                None => Err(ResolveError::Offline {
                    what: c.to_string(),
                    local: self.local.root().to_owned(),
                }),
            };
        }
        let version_dir = self.local.version_dir(c);
        fs_err::create_dir_all(&version_dir)?;
        let _lock = self.local.lock(c)?;
        // Someone else may have finished the download while we waited for the lock.
        if path.is_file() {
            return Ok(Resolved {
                coordinates: c.clone(),
                path,
                downloaded_from: None,
            });
        }
        remove_partials(&version_dir);
        let mut attempts = Vec::new();
        let candidates: Vec<&RemoteRepository> = match only {
            Some(r) => vec![r],
            None => self
                .remotes
                .iter()
                .filter(|r| if c.is_snapshot() { r.snapshots } else { r.releases })
                .collect(),
        };
        for repo in candidates {
            if self.unreachable.borrow().contains(&repo.id) {
                attempts.push(Attempt {
                    repository: repo_label(repo),
                    answer: "unreachable (see above)".into(),
                });
                continue;
            }
            match self.download(repo, c, &path) {
                Ok(()) => {
                    self.local.record_origin(c, &c.file_name(), &repo.id)?;
                    self.fetch_pom(repo, c);
                    return Ok(Resolved {
                        coordinates: c.clone(),
                        path,
                        downloaded_from: Some(repo.id.clone()),
                    });
                }
                Err(DownloadError::Local(e)) => return Err(ResolveError::Io(e)),
                Err(DownloadError::Remote(answer)) => {
                    self.note_unreachable(repo, &answer);
                    attempts.push(Attempt {
                        repository: repo_label(repo),
                        answer: answer.to_string(),
                    })
                }
                Err(DownloadError::Checksum(msg)) => attempts.push(Attempt {
                    repository: repo_label(repo),
                    answer: msg,
                }),
            }
        }
        drop(_lock);
        if let Some(resolved) = self.install_builtin(c)? {
            return Ok(resolved);
        }
        let _ = std::fs::remove_dir(&version_dir); // only if we left it empty
        Err(ResolveError::NotFound {
            coordinates: c.to_string(),
            attempts: Attempts(attempts),
        })
    }

    /// Installs a built-in image into the local repository, recorded as a local install so that
    /// Maven accepts the file too. `None` when no built-in image has these coordinates.
    fn install_builtin(&self, c: &Coordinates) -> Result<Option<Resolved>, ResolveError> {
        let Some(zip) = self
            .options
            .builtin_prefix
            .as_deref()
            .and_then(|p| builtin::zip_for(c, p))
        else {
            return Ok(None);
        };
        let path = self.local.file(c);
        fs_err::create_dir_all(self.local.version_dir(c))?;
        fsutil::write_atomic(&path, zip)?;
        let sha1 = Algorithm::Sha1.digest_hex(zip);
        let _ = fsutil::write_atomic(
            &path.with_file_name(format!("{}.sha1", c.file_name())),
            sha1.as_bytes(),
        );
        self.local.record_origin(c, &c.file_name(), LOCAL_INSTALL)?;
        Ok(Some(Resolved {
            coordinates: c.clone(),
            path,
            downloaded_from: Some(BUILTIN_ID.to_owned()),
        }))
    }

    /// GETs a small file from a repository, unless it was found unreachable earlier in this run.
    fn get_small(&self, repo: &RemoteRepository, url: &url::Url) -> Result<Vec<u8>, FetchError> {
        if self.unreachable.borrow().contains(&repo.id) {
            return Err(FetchError::Other("unreachable (see above)".into()));
        }
        let http = self.http().map_err(|e| FetchError::Other(e.to_string()))?;
        http.get_bytes(url, repo.credentials.as_ref())
            .inspect_err(|e| self.note_unreachable(repo, e))
    }

    /// Warns once about a repository that cannot be reached, and skips it from then on.
    fn note_unreachable(&self, repo: &RemoteRepository, error: &FetchError) {
        if error.is_unreachable() && self.unreachable.borrow_mut().insert(repo.id.clone()) {
            self.reporter.warn(&format!(
                "repository {} ({}) is unreachable: {error}; going on without it",
                repo.id, repo.url
            ));
        }
    }

    /// Downloads the artifact from one repository into place: stream to a temp file beside it while
    /// hashing, compare with the published checksum, rename. A bad checksum is tried once more.
    fn download(&self, repo: &RemoteRepository, c: &Coordinates, dest: &Path) -> Result<(), DownloadError> {
        let http = self.http().map_err(|e| match e {
            ResolveError::Http(f) => DownloadError::Remote(f),
            other => DownloadError::Remote(FetchError::Other(other.to_string())),
        })?;
        let url = repo.url.join_path(&c.path());
        let creds = repo.credentials.as_ref();
        let mut checksum_failures = 0;
        let mut transfer_failures = 0;
        loop {
            let response = http.get(&url, creds).map_err(DownloadError::Remote)?;
            let expected = self.published_checksum(http, repo, &url)?;
            let algorithm = expected.as_ref().map_or(Algorithm::Sha1, |(a, _)| *a);
            match stream_to_temp(response, dest, algorithm, self.reporter, &c.file_name()) {
                Ok((tmp, actual)) => match &expected {
                    Some((_, sum)) if *sum != actual => {
                        drop(tmp);
                        checksum_failures += 1;
                        if checksum_failures > 1 {
                            return Err(DownloadError::Checksum(format!(
                                "checksum mismatch for {}: the repository's {algorithm} is {sum}, the downloaded file's is {actual}",
                                redact(&url)
                            )));
                        }
                    }
                    _ => {
                        tmp.persist(dest)
                            .map_err(|e| DownloadError::Local(fsutil::with_path(e.error, dest)))?;
                        let sidecar =
                            dest.with_file_name(format!("{}.{}", c.file_name(), algorithm.extension()));
                        let _ = fsutil::write_atomic(&sidecar, actual.as_bytes());
                        return Ok(());
                    }
                },
                Err(StreamError::Local(e)) => return Err(DownloadError::Local(e)),
                Err(StreamError::Remote(e))
                    if e.is_transient() && transfer_failures < http.config().retries =>
                {
                    transfer_failures += 1;
                    std::thread::sleep(http.backoff(transfer_failures));
                }
                Err(StreamError::Remote(e)) => return Err(DownloadError::Remote(e)),
            }
        }
    }

    /// The strongest checksum the repository publishes for `url`, or `None` (a warning, or an error
    /// with strict checksums).
    fn published_checksum(
        &self,
        http: &Http,
        repo: &RemoteRepository,
        url: &url::Url,
    ) -> Result<Option<(Algorithm, String)>, DownloadError> {
        for algorithm in Algorithm::STRONGEST_FIRST {
            let Ok(sidecar) = url::Url::parse(&format!("{url}.{}", algorithm.extension())) else {
                continue;
            };
            match http.get_bytes(&sidecar, repo.credentials.as_ref()) {
                Ok(bytes) => {
                    if let Some(sum) = checksum::parse_sidecar(&String::from_utf8_lossy(&bytes), algorithm) {
                        return Ok(Some((algorithm, sum)));
                    }
                    self.reporter
                        .warn(&format!("ignoring unreadable checksum file {}", redact(&sidecar)));
                }
                Err(FetchError::NotFound) => {}
                Err(e) => self
                    .reporter
                    .warn(&format!("could not read checksum {}: {e}", redact(&sidecar))),
            }
        }
        if self.options.strict_checksums {
            return Err(DownloadError::Checksum(format!(
                "no checksum (.sha512/.sha256/.sha1/.md5) published for {} and --strict-checksums is set",
                redact(url)
            )));
        }
        self.reporter.warn(&format!(
            "no checksum published for {}; the download is not verified",
            redact(url)
        ));
        Ok(None)
    }

    /// Best effort: Maven reads the pom beside an artifact, so keep one when the repository has it.
    fn fetch_pom(&self, repo: &RemoteRepository, c: &Coordinates) {
        let pom = c.pom();
        let dest = self.local.file(&pom);
        if dest.exists() {
            return;
        }
        let Ok(http) = self.http() else { return };
        if let Ok(bytes) = http.get_bytes(&repo.url.join_path(&pom.path()), repo.credentials.as_ref())
            && fsutil::write_atomic(&dest, &bytes).is_ok()
        {
            let _ = self.local.record_origin(c, &pom.file_name(), &repo.id);
        }
    }
}

enum DownloadError {
    Remote(FetchError),
    Checksum(String),
    Local(std::io::Error),
}

enum StreamError {
    Remote(FetchError),
    Local(std::io::Error),
}

/// Streams a response body into a temp file beside `dest`, hashing as it goes. Returns the temp
/// file (deleted if dropped) and the digest.
fn stream_to_temp(
    mut response: reqwest::blocking::Response,
    dest: &Path,
    algorithm: Algorithm,
    reporter: &dyn Reporter,
    label: &str,
) -> Result<(tempfile::NamedTempFile, String), StreamError> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    let mut tmp = fsutil::temp_builder(PARTIAL_PREFIX)
        .tempfile_in(dir)
        .map_err(|e| StreamError::Local(fsutil::with_path(e, dir)))?;
    let expected_len = response.content_length();
    let job = reporter.on_start(label, expected_len);
    let mut hasher = algorithm.hasher();
    let mut buf = vec![0u8; 256 * 1024];
    let mut received: u64 = 0;
    let result = loop {
        match response.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                hasher.update(&buf[..n]);
                if let Err(e) = tmp.write_all(&buf[..n]) {
                    break Err(StreamError::Local(fsutil::with_path(e, tmp.path())));
                }
                received += n as u64;
                reporter.on_progress(job, n as u64);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => break Err(StreamError::Remote(FetchError::from_io(&e))),
        }
    };
    reporter.on_finish(job);
    result?;
    if let Some(len) = expected_len
        && received != len
    {
        return Err(StreamError::Remote(FetchError::Transfer(format!(
            "body ended after {received} of {len} bytes"
        ))));
    }
    Ok((tmp, hasher.finish_hex()))
}

/// Deletes temp files a killed download left behind. Only called while holding the artifact lock,
/// when no other process can be writing one.
fn remove_partials(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        if entry.file_name().to_string_lossy().starts_with(PARTIAL_PREFIX) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn read_metadata(path: &Path) -> Option<Metadata> {
    let bytes = std::fs::read(path).ok()?;
    metadata::parse(&bytes).ok()
}

fn repo_label(repo: &RemoteRepository) -> String {
    format!("{} ({})", repo.url, repo.id)
}

/// A URL for messages: without credentials.
fn redact(url: &url::Url) -> String {
    let mut u = url.clone();
    let _ = u.set_password(None);
    let _ = u.set_username("");
    u.to_string()
}
