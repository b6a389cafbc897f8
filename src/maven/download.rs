//! One artifact from one repository into the local repository: stream to a temp file beside the
//! target while hashing, compare with the checksum the repository publishes, then rename into
//! place. Nothing but a verified file ever appears under the artifact's own name.

use std::io::{Read, Write};
use std::path::Path;

use crate::fsutil;
use crate::maven::checksum::{self, Algorithm};
use crate::maven::coordinates::Coordinates;
use crate::maven::http::FetchError;
use crate::maven::repository::RemoteRepository;
use crate::maven::transport::{Body, Transport};
use crate::reporter::Reporter;

/// Prefix of download temp files, so a lock holder can recognise leftovers of a killed run.
pub const PARTIAL_PREFIX: &str = ".jube-partial-";

pub enum DownloadError {
    /// What the repository answered (or that it could not be reached).
    Remote(FetchError),
    /// A checksum that does not match, or none with strict checksums.
    Checksum(String),
    /// The local repository could not be written.
    Local(std::io::Error),
}

/// Downloads `c` from `repo` to `dest`. A transfer cut short is retried (with backoff), a checksum
/// mismatch once. Returns the algorithm the file was checked with (SHA-1 when none was published).
pub fn download(
    transport: &Transport,
    repo: &RemoteRepository,
    c: &Coordinates,
    dest: &Path,
    strict_checksums: bool,
    reporter: &dyn Reporter,
) -> Result<Algorithm, DownloadError> {
    let rel = c.path();
    let mut checksum_failures = 0;
    let mut transfer_failures = 0;
    let mut expected: Option<Option<(Algorithm, String)>> = None;
    loop {
        let body = transport.open(repo, &rel).map_err(DownloadError::Remote)?;
        // Asked only once the artifact exists, so a missing artifact costs no checksum requests.
        let published = match &expected {
            Some(known) => known.clone(),
            None => published_checksum(transport, repo, &rel, strict_checksums, reporter)?,
        };
        expected = Some(published.clone());
        let algorithm = published.as_ref().map_or(Algorithm::Sha1, |(a, _)| *a);
        match stream_to_temp(body, dest, algorithm, reporter, &c.file_name()) {
            Ok((tmp, actual)) => match &published {
                Some((_, sum)) if *sum != actual => {
                    drop(tmp);
                    checksum_failures += 1;
                    if checksum_failures > 1 {
                        return Err(DownloadError::Checksum(format!(
                            "checksum mismatch for {}: the repository's {algorithm} is {sum}, the downloaded \
                             file's is {actual}; nothing was kept",
                            repo.url.join_path(&rel)
                        )));
                    }
                    // The repository may have been mid-deploy: read its checksum again too.
                    expected = None;
                }
                _ => {
                    tmp.persist(dest)
                        .map_err(|e| DownloadError::Local(fsutil::with_path(e.error, dest)))?;
                    let sidecar = dest.with_file_name(format!("{}.{}", c.file_name(), algorithm.extension()));
                    let _ = fsutil::write_atomic(&sidecar, actual.as_bytes());
                    return Ok(algorithm);
                }
            },
            Err(StreamError::Local(e)) => return Err(DownloadError::Local(e)),
            Err(StreamError::Remote(e))
                if e.is_transient() && transfer_failures < transport.config().retries =>
            {
                transfer_failures += 1;
                std::thread::sleep(transport.backoff(transfer_failures));
            }
            Err(StreamError::Remote(e)) => return Err(DownloadError::Remote(e)),
        }
    }
}

/// The strongest checksum the repository publishes for the file at `rel`, or `None` (a warning,
/// or an error with strict checksums).
fn published_checksum(
    transport: &Transport,
    repo: &RemoteRepository,
    rel: &str,
    strict: bool,
    reporter: &dyn Reporter,
) -> Result<Option<(Algorithm, String)>, DownloadError> {
    let url = repo.url.join_path(rel);
    for algorithm in Algorithm::STRONGEST_FIRST {
        let sidecar = format!("{rel}.{}", algorithm.extension());
        match transport.get_bytes(repo, &sidecar) {
            Ok(bytes) => {
                if let Some(sum) = checksum::parse_sidecar(&String::from_utf8_lossy(&bytes), algorithm) {
                    return Ok(Some((algorithm, sum)));
                }
                reporter.warn(&format!(
                    "ignoring the unreadable checksum file {}",
                    repo.url.join_path(&sidecar)
                ));
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => reporter.warn(&format!(
                "could not read the checksum {}: {e}",
                repo.url.join_path(&sidecar)
            )),
        }
    }
    if strict {
        return Err(DownloadError::Checksum(format!(
            "no checksum (.sha512, .sha256, .sha1 or .md5) is published for {url} and --strict-checksums \
             is set; nothing was kept"
        )));
    }
    reporter.warn(&format!(
        "no checksum is published for {url}; the download is not verified (--strict-checksums makes this an error)"
    ));
    Ok(None)
}

enum StreamError {
    Remote(FetchError),
    Local(std::io::Error),
}

/// Streams a body into a temp file beside `dest`, hashing as it goes. Returns the temp file
/// (deleted if dropped) and the digest.
fn stream_to_temp(
    mut body: Body,
    dest: &Path,
    algorithm: Algorithm,
    reporter: &dyn Reporter,
    label: &str,
) -> Result<(tempfile::NamedTempFile, String), StreamError> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    let mut tmp = fsutil::temp_builder(PARTIAL_PREFIX)
        .tempfile_in(dir)
        .map_err(|e| StreamError::Local(fsutil::with_path(e, dir)))?;
    let expected_len = body.announced_len();
    let job = reporter.on_start(label, expected_len);
    let mut hasher = algorithm.hasher();
    let mut buf = vec![0u8; 256 * 1024];
    let mut received: u64 = 0;
    let result = loop {
        match body.read(&mut buf) {
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
            Err(e) => break Err(StreamError::Remote(body.read_error(&e))),
        }
    };
    reporter.on_finish(job);
    result?;
    if let Some(len) = expected_len
        && received != len
    {
        return Err(StreamError::Remote(FetchError::Transfer(format!(
            "the body ended after {received} of {len} bytes"
        ))));
    }
    Ok((tmp, hasher.finish_hex()))
}

/// Deletes temp files a killed download left behind. Only called while holding the artifact lock,
/// when no other process can be writing one.
pub fn remove_partials(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        if entry.file_name().to_string_lossy().starts_with(PARTIAL_PREFIX) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
