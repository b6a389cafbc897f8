//! How the resolver reaches the files of one remote repository: over HTTP(S) through one shared
//! client, or straight from a folder for `file:` repositories. A repository that cannot be reached
//! is warned about once and skipped for the rest of the run, so a dead one costs one attempt.

use std::cell::{OnceCell, RefCell};
use std::collections::HashSet;
use std::io::{self, Read};
use std::path::PathBuf;

use crate::maven::http::{FetchError, Http, HttpConfig, MAX_SMALL_FILE};
use crate::maven::repository::RemoteRepository;
use crate::reporter::Reporter;

/// The body of a file being downloaded.
pub enum Body {
    Http(reqwest::blocking::Response),
    File { file: fs_err::File, len: u64 },
}

impl Body {
    /// The size announced before the first byte, when known.
    pub fn announced_len(&self) -> Option<u64> {
        match self {
            Self::Http(response) => response.content_length(),
            Self::File { len, .. } => Some(*len),
        }
    }

    /// What a failed read means: for HTTP, a transfer problem worth a retry; for a file, an error
    /// of the folder being read.
    pub fn read_error(&self, err: &io::Error) -> FetchError {
        match self {
            Self::Http(_) => FetchError::from_io(err),
            Self::File { file, .. } => {
                FetchError::Other(format!("cannot read {}: {err}", file.path().display()))
            }
        }
    }
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Http(response) => response.read(buf),
            Self::File { file, .. } => file.read(buf),
        }
    }
}

pub struct Transport<'r> {
    remotes: Vec<RemoteRepository>,
    config: HttpConfig,
    reporter: &'r dyn Reporter,
    /// Built on first use: a cached pull of a concrete version never sets up HTTP at all.
    http: OnceCell<Result<Http, FetchError>>,
    /// Repositories found unreachable in this run, by id.
    unreachable: RefCell<HashSet<String>>,
}

impl<'r> Transport<'r> {
    pub fn new(remotes: &[RemoteRepository], config: HttpConfig, reporter: &'r dyn Reporter) -> Self {
        Self {
            remotes: remotes.to_vec(),
            config,
            reporter,
            http: OnceCell::new(),
            unreachable: RefCell::new(HashSet::new()),
        }
    }

    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    /// Whether `repo` was found unreachable earlier in this run (and warned about then).
    pub fn is_unreachable(&self, repo: &RemoteRepository) -> bool {
        self.unreachable.borrow().contains(&repo.id)
    }

    /// A whole small file (metadata, checksums, a pom) at `rel` below the repository's URL.
    /// Over HTTP a body cut short is retried like a failed request.
    pub fn get_bytes(&self, repo: &RemoteRepository, rel: &str) -> Result<Vec<u8>, FetchError> {
        if repo.url.scheme() != "file" {
            return self.reach(repo, || {
                self.http()?
                    .get_bytes(&repo.url.join_path(rel), repo.credentials.as_ref())
            });
        }
        let body = self.open(repo, rel)?;
        if body.announced_len().is_some_and(|len| len > MAX_SMALL_FILE) {
            return Err(FetchError::TooLarge);
        }
        crate::maven::http::read_capped(body)
    }

    /// Opens the file at `rel` for streaming. HTTP failures before the body are retried when
    /// transient; an unreachable repository is warned about once.
    pub fn open(&self, repo: &RemoteRepository, rel: &str) -> Result<Body, FetchError> {
        if repo.url.scheme() == "file" {
            return self.reach(repo, || open_file(repo, rel));
        }
        self.reach(repo, || {
            self.http()?
                .get(&repo.url.join_path(rel), repo.credentials.as_ref())
                .map(Body::Http)
        })
    }

    /// Runs `request` unless the repository was found unreachable, and notes when it is.
    fn reach<T>(
        &self,
        repo: &RemoteRepository,
        request: impl FnOnce() -> Result<T, FetchError>,
    ) -> Result<T, FetchError> {
        if self.is_unreachable(repo) {
            return Err(FetchError::Other("unreachable (see the warning above)".into()));
        }
        request().inspect_err(|e| self.note_unreachable(repo, e))
    }

    /// The pause before retry number `attempt` of a broken transfer.
    pub fn backoff(&self, attempt: u32) -> std::time::Duration {
        match self.http() {
            Ok(http) => http.backoff(attempt),
            Err(_) => std::time::Duration::ZERO,
        }
    }

    fn http(&self) -> Result<&Http, FetchError> {
        self.http
            .get_or_init(|| Http::new(self.config.clone(), &self.remotes))
            .as_ref()
            .map_err(Clone::clone)
    }

    fn note_unreachable(&self, repo: &RemoteRepository, error: &FetchError) {
        if error.is_unreachable() && self.unreachable.borrow_mut().insert(repo.id.clone()) {
            self.reporter.warn(&format!(
                "repository {} ({}) is unreachable: {error}; going on without it",
                repo.id, repo.url
            ));
        }
    }
}

/// A file of a `file:` repository. A missing repository folder makes the whole repository
/// unreachable; a missing file in it is an ordinary "not found".
fn open_file(repo: &RemoteRepository, rel: &str) -> Result<Body, FetchError> {
    let root = folder_of(repo)?;
    if !root.is_dir() {
        return Err(FetchError::NoFolder(root.display().to_string()));
    }
    let path = folder_of_url(&repo.url.join_path(rel))?;
    let file = match fs_err::File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(FetchError::NoFile),
        Err(e) => return Err(FetchError::Other(e.to_string())),
    };
    match file.metadata() {
        Ok(meta) if meta.is_file() => Ok(Body::File {
            len: meta.len(),
            file,
        }),
        Ok(_) => Err(FetchError::NoFile),
        Err(e) => Err(FetchError::Other(e.to_string())),
    }
}

fn folder_of(repo: &RemoteRepository) -> Result<PathBuf, FetchError> {
    folder_of_url(repo.url.url())
}

fn folder_of_url(url: &url::Url) -> Result<PathBuf, FetchError> {
    url.to_file_path()
        .map_err(|()| FetchError::Other(format!("`{url}` is not a local path")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maven::repository::SafeUrl;
    use crate::reporter::Silent;

    fn file_repo(dir: &std::path::Path) -> RemoteRepository {
        RemoteRepository {
            id: "folder".into(),
            url: SafeUrl::from_url(url::Url::from_directory_path(dir).unwrap()),
            credentials: None,
            releases: true,
            snapshots: true,
            proxy: None,
        }
    }

    #[test]
    fn file_repositories_are_read_from_their_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("g/a/1")).unwrap();
        std::fs::write(dir.path().join("g/a/1/a-1.zip"), b"zip bytes").unwrap();
        let repo = file_repo(dir.path());
        let transport = Transport::new(std::slice::from_ref(&repo), HttpConfig::from_env(), &Silent);
        assert_eq!(transport.get_bytes(&repo, "g/a/1/a-1.zip").unwrap(), b"zip bytes");
        let body = transport.open(&repo, "g/a/1/a-1.zip").unwrap();
        assert_eq!(body.announced_len(), Some(9));
        assert_eq!(
            transport.get_bytes(&repo, "g/a/1/a-2.zip").unwrap_err(),
            FetchError::NoFile
        );
        assert_eq!(
            transport.get_bytes(&repo, "g/a/1").unwrap_err(),
            FetchError::NoFile,
            "a folder is no file"
        );
        // `..` never leaves the repository's folder.
        assert_eq!(
            transport
                .get_bytes(&repo, "../outside/g/a/1/a-1.zip")
                .unwrap_err(),
            FetchError::NoFile
        );
        assert!(!transport.is_unreachable(&repo));
    }

    #[test]
    fn a_missing_repository_folder_is_unreachable_once() {
        let dir = tempfile::tempdir().unwrap();
        let repo = file_repo(&dir.path().join("gone"));
        let transport = Transport::new(std::slice::from_ref(&repo), HttpConfig::from_env(), &Silent);
        let first = transport.get_bytes(&repo, "g/a/1/a-1.zip").unwrap_err();
        assert!(matches!(first, FetchError::NoFolder(_)), "{first:?}");
        assert!(transport.is_unreachable(&repo));
        assert!(
            transport
                .get_bytes(&repo, "x")
                .unwrap_err()
                .to_string()
                .contains("unreachable")
        );
    }
}
