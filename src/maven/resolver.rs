//! Turns an image reference into a verified zip in the local repository: pick the version (from
//! merged metadata when the tag does not name one), then find the file locally or download it.
//! The transfer itself is `download`'s job, reaching repositories `transport`'s.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::fsutil::{self, LockError};
use crate::image::{ImageRef, VersionRequest};
use crate::maven::builtin::{self, BUILTIN_ID};
use crate::maven::checksum::Algorithm;
use crate::maven::coordinates::{Coordinates, UnsafeCoordinate, base_version, is_snapshot_version};
use crate::maven::download::{self, DownloadError};
use crate::maven::http::{FetchError, HttpConfig};
use crate::maven::local::{LOCAL_INSTALL, LocalRepo};
use crate::maven::metadata::{self, Metadata};
use crate::maven::repository::RemoteRepository;
use crate::maven::transport::Transport;
use crate::pathpart::PathPart;
use crate::reporter::Reporter;

/// How long a cached copy of a remote's metadata is trusted (Maven's `daily` update policy).
const METADATA_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);

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

impl Attempt {
    fn new(repo: &RemoteRepository, answer: impl fmt::Display) -> Self {
        Self {
            repository: format!("{} ({})", repo.url, repo.id),
            answer: answer.to_string(),
        }
    }
}

#[derive(Debug)]
pub struct Attempts(pub Vec<Attempt>);

impl fmt::Display for Attempts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str(
                "\n  (no remote repositories are configured: set JUBE_REMOTE_MAVEN_REPOS or add a repository \
                 to settings.xml)",
            );
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
        "jube is offline (--offline, or <offline> in settings.xml) and the local repository {local} has no \
         {what}; run again without offline mode to download it"
    )]
    Offline { what: String, local: PathBuf },
    #[error(
        "{repository} lists a {what} that cannot be used in a path: {problem}; nothing was downloaded. Ask \
         the repository's owner to fix its maven-metadata.xml, or stop using the repository"
    )]
    UnsafeValue {
        /// Which repository (id and URL), or the local repository.
        repository: String,
        what: &'static str,
        problem: UnsafeCoordinate,
    },
    #[error("cannot write to the local repository: {0}{hint}", hint = fsutil::disk_full_hint(.0))]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Lock(#[from] LockError),
}

/// Why a repository's metadata could not be read.
enum NoMetadata {
    NotFound(FetchError),
    NotCachedOffline,
    Failed(String),
}

impl fmt::Display for NoMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound(answer) => fmt::Display::fmt(answer, f),
            Self::NotCachedOffline => f.write_str("not cached, and jube is offline"),
            Self::Failed(answer) => f.write_str(answer),
        }
    }
}

/// Resolves and downloads image zips.
pub struct Resolver<'r> {
    local: LocalRepo,
    remotes: Vec<RemoteRepository>,
    options: ResolveOptions,
    reporter: &'r dyn Reporter,
    transport: Transport<'r>,
}

impl<'r> Resolver<'r> {
    pub fn new(
        local: LocalRepo,
        remotes: Vec<RemoteRepository>,
        options: ResolveOptions,
        reporter: &'r dyn Reporter,
    ) -> Self {
        let transport = Transport::new(&remotes, HttpConfig::from_env(), reporter);
        Self {
            local,
            remotes,
            options,
            reporter,
            transport,
        }
    }

    pub fn local(&self) -> &LocalRepo {
        &self.local
    }

    pub fn remotes(&self) -> &[RemoteRepository] {
        &self.remotes
    }

    /// Resolves `image` to a file in the local repository, downloading it when needed.
    pub fn resolve(&self, image: &ImageRef) -> Result<Resolved, ResolveError> {
        match &image.version {
            VersionRequest::Exact(v) => self.fetch(&image.at(v), None),
            VersionRequest::NewestRelease | VersionRequest::Latest => {
                let version = self.newest_version(image)?;
                if is_snapshot_version(&version) {
                    self.resolve_snapshot(&image.at(&version))
                } else {
                    self.fetch(&image.at(&version), None)
                }
            }
            // A timestamped build (`1.0-20240101.120000-3`) is pinned: that file, not the newest.
            VersionRequest::Snapshot(v) if base_version(v) != **v => self.fetch(&image.at(v), None),
            VersionRequest::Snapshot(v) => self.resolve_snapshot(&image.at(v)),
        }
    }

    /// The newest version `image` asks for, from the merged metadata of the local install, the
    /// built-in images and every remote repository.
    ///
    /// A listed version that cannot be a folder name (`..`, `a/b`, `C:`, ...) never reaches a
    /// path. When it is not the one chosen it is skipped with a warning naming the repository:
    /// one broken entry among many should not stop every pull of the artifact. When it is the
    /// one chosen, the pull is refused rather than quietly falling back to an older version: the
    /// user asked for the newest, and a repository that lists a hostile newest version is not to
    /// be trusted for the next one down either.
    pub fn newest_version(&self, image: &ImageRef) -> Result<PathPart, ResolveError> {
        let probe = image.at(&PathPart::new("0").expect("`0` is a valid name"));
        let snapshots = image.version == VersionRequest::Latest;
        // Each source's metadata, with who it is for messages, and the repository for hints.
        let mut sources: Vec<(String, Option<&RemoteRepository>, Metadata)> = Vec::new();
        if let Some(m) = read_metadata(&self.local.metadata_file(&probe, None, false)) {
            sources.push((self.local_name(), None, m));
        }
        if let Some(m) = self
            .options
            .builtin_prefix
            .as_deref()
            .and_then(|p| builtin::metadata_for(&probe, p))
        {
            sources.push(("the images built into jube".to_owned(), None, m));
        }
        let mut attempts = Vec::new();
        let mut failed = Vec::new();
        let remote_path = format!("{}/maven-metadata.xml", probe.artifact_dir());
        for repo in &self.remotes {
            if !(repo.releases || snapshots && repo.snapshots) {
                attempts.push(Attempt::new(
                    repo,
                    "not asked: releases are off for this repository",
                ));
                continue;
            }
            let cache = self.local.metadata_file(&probe, Some(&repo.id), false);
            match self.remote_metadata(repo, &remote_path, &cache) {
                Ok(m) => sources.push((repo_name(repo), Some(repo), m)),
                Err(answer) => {
                    if matches!(answer, NoMetadata::Failed(_)) && !self.transport.is_unreachable(repo) {
                        failed.push(Attempt::new(repo, &answer));
                    }
                    attempts.push(Attempt::new(repo, answer));
                }
            }
        }
        let mut merged: Option<Metadata> = None;
        for (_, _, m) in &sources {
            match &mut merged {
                Some(all) => all.merge(m),
                None => merged = Some(m.clone()),
            }
        }
        let newest = merged
            .as_ref()
            .and_then(|m| if snapshots { m.newest() } else { m.newest_release() });
        match newest {
            Some(v) => {
                let chosen = PathPart::new(v).map_err(|problem| {
                    let who = sources
                        .iter()
                        .find(|(_, _, m)| m.versioning.versions.iter().any(|listed| listed == v))
                        .map_or_else(|| "a repository".to_owned(), |(who, _, _)| who.clone());
                    ResolveError::UnsafeValue {
                        repository: who,
                        what: "version",
                        problem: UnsafeCoordinate::version(problem),
                    }
                })?;
                for (who, _, m) in &sources {
                    for bad in m
                        .versioning
                        .versions
                        .iter()
                        .filter_map(|v| PathPart::new(v).err())
                    {
                        self.reporter
                            .warn(&format!("{who} lists a version that is skipped: {bad}"));
                    }
                }
                for f in failed {
                    self.reporter.warn(&format!(
                        "could not read the versions in {}: {}; choosing among the other repositories",
                        f.repository, f.answer
                    ));
                }
                Ok(chosen)
            }
            None if self.options.offline => Err(ResolveError::Offline {
                what: format!("version of {}:{}", image.group_id, image.artifact_id),
                local: self.local.root().to_owned(),
            }),
            None => {
                // Say what each source had, so a repository of snapshots only is not a mystery.
                for (who, repo, m) in &sources {
                    let answer = what_it_had(m, *repo);
                    match repo {
                        Some(repo) => attempts.push(Attempt::new(repo, answer)),
                        None => attempts.push(Attempt {
                            repository: who.clone(),
                            answer,
                        }),
                    }
                }
                Err(ResolveError::NoVersions {
                    artifact: format!("{}:{}", image.group_id, image.artifact_id),
                    attempts: Attempts(attempts),
                })
            }
        }
    }

    fn local_name(&self) -> String {
        format!("the local repository {}", self.local.root().display())
    }

    /// A remote's metadata: the cached copy while it is less than a day old (or when offline),
    /// else downloaded and cached as `maven-metadata-<id>.xml`. A failure is never cached; when
    /// the repository fails, a stale copy is better than nothing.
    fn remote_metadata(
        &self,
        repo: &RemoteRepository,
        remote_path: &str,
        cache: &Path,
    ) -> Result<Metadata, NoMetadata> {
        if self.options.offline {
            return read_metadata(cache).ok_or(NoMetadata::NotCachedOffline);
        }
        let age = fs_err::metadata(cache)
            .ok()
            .and_then(|m| m.modified().ok())
            .map(|t| SystemTime::now().duration_since(t).unwrap_or_default());
        let fresh = age.is_some_and(|a| a < METADATA_MAX_AGE) && !self.options.refresh;
        if fresh && let Some(m) = read_metadata(cache) {
            return Ok(m);
        }
        match self.transport.get_bytes(repo, remote_path) {
            Ok(bytes) => {
                let parsed = metadata::parse(&bytes).map_err(|e| {
                    NoMetadata::Failed(format!(
                        "unreadable metadata at {}: {e}",
                        repo.url.join_path(remote_path)
                    ))
                })?;
                // Best effort: without the cache the next run only asks again.
                if let Some(dir) = cache.parent() {
                    let _ = fs_err::create_dir_all(dir);
                }
                let _ = fsutil::write_atomic(cache, &bytes);
                Ok(parsed)
            }
            Err(e) if e.is_not_found() => Err(NoMetadata::NotFound(e)),
            Err(e) => match read_metadata(cache) {
                Some(m) => {
                    if !self.transport.is_unreachable(repo) {
                        self.reporter
                            .warn(&format!("using the cached metadata of {} ({e})", repo.id));
                    }
                    Ok(m)
                }
                None => Err(NoMetadata::Failed(e.to_string())),
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
        for repo in &self.remotes {
            if !repo.snapshots {
                attempts.push(Attempt::new(repo, SNAPSHOTS_OFF));
                continue;
            }
            let cache = self.local.metadata_file(base, Some(&repo.id), true);
            match self.remote_metadata(repo, &remote_path, &cache) {
                Ok(m) => sources.push((m, Some(repo))),
                Err(answer) => attempts.push(Attempt::new(repo, answer)),
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
            // The build chosen must be a valid file name (its timestamp and build number come from
            // the repository); a bad one is refused, never replaced by an older build.
            Some((_, file_version, repo)) => {
                let build =
                    base.with_version(&file_version)
                        .map_err(|problem| ResolveError::UnsafeValue {
                            repository: repo.map_or_else(|| self.local_name(), repo_name),
                            what: "snapshot build",
                            problem,
                        })?;
                self.fetch(&build, repo)
            }
            // No metadata anywhere: a plain `-SNAPSHOT` file may still be there (installed by hand).
            None => self.fetch(base, None).map_err(|e| match e {
                ResolveError::NotFound {
                    coordinates,
                    attempts: Attempts(more),
                } => {
                    // Each repository once: its metadata answer, unless the file answer says more.
                    for a in more {
                        match attempts.iter_mut().find(|old| old.repository == a.repository) {
                            Some(old) => old.answer = format!("metadata: {}; file: {}", old.answer, a.answer),
                            None => attempts.push(a),
                        }
                    }
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
        if let Some(resolved) = self.already_local(c) {
            return Ok(resolved);
        }
        if self.options.offline {
            return self.install_builtin(c)?.ok_or_else(|| ResolveError::Offline {
                what: c.to_string(),
                local: self.local.root().to_owned(),
            });
        }
        let version_dir = self.local.version_dir(c);
        fs_err::create_dir_all(&version_dir)?;
        let lock = match self.local.try_lock(c)? {
            Some(lock) => lock,
            None => {
                self.reporter.info(&format!(
                    "waiting for another jube process to finish downloading {c}"
                ));
                self.local.lock(c)?
            }
        };
        // Someone else may have finished the download while we waited for the lock.
        if let Some(resolved) = self.already_local(c) {
            return Ok(resolved);
        }
        download::remove_partials(&version_dir);
        let mut attempts = Vec::new();
        for repo in self.candidates(c, only, &mut attempts) {
            if self.transport.is_unreachable(repo) {
                attempts.push(Attempt::new(repo, "unreachable (see the warning above)"));
                continue;
            }
            let path = self.local.file(c);
            let strict = self.options.strict_checksums;
            match download::download(&self.transport, repo, c, &path, strict, self.reporter) {
                Ok(_) => {
                    self.local.record_origin(c, &c.file_name(), &repo.id)?;
                    self.fetch_pom(repo, c);
                    return Ok(Resolved {
                        coordinates: c.clone(),
                        path,
                        downloaded_from: Some(repo.id.clone()),
                    });
                }
                Err(DownloadError::Local(e)) => return Err(ResolveError::Io(e)),
                Err(DownloadError::Remote(answer)) => attempts.push(Attempt::new(repo, answer)),
                Err(DownloadError::Checksum(message)) => attempts.push(Attempt::new(repo, message)),
            }
        }
        if let Some(resolved) = self.install_builtin(c)? {
            return Ok(resolved);
        }
        drop(lock);
        prune_empty_dirs(&version_dir, self.local.root());
        Err(ResolveError::NotFound {
            coordinates: c.to_string(),
            attempts: Attempts(attempts),
        })
    }

    fn already_local(&self, c: &Coordinates) -> Option<Resolved> {
        let path = self.local.file(c);
        path.is_file().then(|| Resolved {
            coordinates: c.clone(),
            path,
            downloaded_from: None,
        })
    }

    /// The repositories to download `c` from: `only`, or those whose policy allows a release or a
    /// snapshot. Those skipped by policy are noted in `attempts`, so the error says why.
    fn candidates<'a>(
        &'a self,
        c: &Coordinates,
        only: Option<&'a RemoteRepository>,
        attempts: &mut Vec<Attempt>,
    ) -> Vec<&'a RemoteRepository> {
        if let Some(repo) = only {
            return vec![repo];
        }
        let mut chosen = Vec::new();
        for repo in &self.remotes {
            match (c.is_snapshot(), repo.snapshots, repo.releases) {
                (true, true, _) | (false, _, true) => chosen.push(repo),
                (true, false, _) => attempts.push(Attempt::new(repo, SNAPSHOTS_OFF)),
                (false, _, false) => attempts.push(Attempt::new(
                    repo,
                    "not asked: releases are off for this repository",
                )),
            }
        }
        chosen
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

    /// Best effort: Maven reads the pom beside an artifact, so keep one when the repository has it.
    fn fetch_pom(&self, repo: &RemoteRepository, c: &Coordinates) {
        let pom = c.pom();
        let dest = self.local.file(&pom);
        if dest.exists() {
            return;
        }
        if let Ok(bytes) = self.transport.get_bytes(repo, &pom.path())
            && fsutil::write_atomic(&dest, &bytes).is_ok()
        {
            let _ = self.local.record_origin(c, &pom.file_name(), &repo.id);
        }
    }
}

/// `id (url)`, as errors name a repository.
fn repo_name(repo: &RemoteRepository) -> String {
    format!("repository {} ({})", repo.id, repo.url)
}

/// What a source's metadata offered when none of it would do: `only snapshots: ...` with a hint.
fn what_it_had(m: &Metadata, repo: Option<&RemoteRepository>) -> String {
    const SHOWN: usize = 5;
    let versions = &m.versioning.versions;
    if versions.is_empty() {
        return "its maven-metadata.xml lists no versions".to_owned();
    }
    let mut listed: Vec<&str> = versions.iter().rev().take(SHOWN).map(String::as_str).collect();
    listed.reverse();
    let mut list = listed.join(", ");
    if versions.len() > SHOWN {
        list = format!("{list} and {} more", versions.len() - SHOWN);
    }
    let hint = match repo {
        Some(r) if !r.snapshots => {
            "; use LATEST (or a -SNAPSHOT version), and add @snapshots to its JUBE_REMOTE_MAVEN_REPOS entry \
             (or enable <snapshots> for it in settings.xml)"
        }
        _ => "; use LATEST (or a -SNAPSHOT version) to take a snapshot",
    };
    if versions.iter().all(|v| is_snapshot_version(v)) {
        format!("only snapshots: {list}{hint}")
    } else {
        format!("no version that fits: {list}")
    }
}

fn read_metadata(path: &Path) -> Option<Metadata> {
    let bytes = std::fs::read(path).ok()?;
    metadata::parse(&bytes).ok()
}

/// Removes `dir` and its parents while they are empty, up to (not including) `root`, so a failed
/// pull leaves no empty folders behind.
fn prune_empty_dirs(dir: &Path, root: &Path) {
    let mut current = Some(dir);
    while let Some(d) = current {
        if d == root || !d.starts_with(root) || std::fs::remove_dir(d).is_err() {
            return;
        }
        current = d.parent();
    }
}

const SNAPSHOTS_OFF: &str =
    "not asked: snapshots are off for this repository (add @snapshots to its JUBE_REMOTE_MAVEN_REPOS entry)";
