//! Unpacks an image zip into a new folder: every name is checked before anything is written, sizes
//! are bounded by the declared headers and by the bytes really written, unix modes are kept, the
//! image's scripts are made executable, and files are written by several threads at once.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use regex::Regex;
use zip::ZipArchive;
use zip::read::ZipFileEntry;
use zip::result::ZipError;

use crate::env_vars::{self, EnvVars};
use crate::reporter::Reporter;

/// Names at an image's root that mark it as one (APP_BASE detection).
const ROOT_SCRIPTS: [&str; 4] = ["start.sh", "run.sh", "start.bat", "run.bat"];
/// The extension of the scripts jube runs on this platform.
pub const SCRIPT_EXTENSION: &str = if cfg!(windows) { "bat" } else { "sh" };
/// Lists extra executables as `folder=regex`, at APP_BASE.
const EXECUTABLES_FILE: &str = "executables.properties";
/// Extensions made executable at APP_BASE's root.
const SCRIPT_EXTENSIONS: [&str; 3] = ["sh", "bat", "cmd"];
/// Longest symlink target read from a zip; real targets are far shorter.
const MAX_LINK_TARGET: u64 = 4096;
/// Largest executables.properties read from a zip.
const MAX_EXECUTABLES_FILE: u64 = 1 << 20;
const COPY_BUFFER: usize = 256 * 1024;
/// Fewer files than this per thread are not worth a thread.
const FILES_PER_THREAD: usize = 16;
const DEFAULT_FILE_MODE: u32 = 0o644;
const DEFAULT_DIR_MODE: u32 = 0o755;
const S_IFMT: u32 = 0o170_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFLNK: u32 = 0o120_000;

/// Bounds on what an image may unpack to, so a hostile zip cannot fill the disk.
#[derive(Debug, Clone)]
pub struct UnpackLimits {
    pub max_total_bytes: u64,
    pub max_entries: usize,
    /// Most bytes unpacked per byte of zip, checked once the total passes [`RATIO_FLOOR`].
    pub max_ratio: u64,
}

/// Below this many bytes unpacked, any compression ratio is fine: a few MiB of zeros or logs
/// compress a thousandfold and harm nobody.
pub const RATIO_FLOOR: u64 = 64 << 20;

impl UnpackLimits {
    /// The defaults, or `JUBE_UNPACK_MAX_BYTES` and `JUBE_UNPACK_MAX_ENTRIES`.
    pub fn from_env() -> Result<Self, InstallError> {
        let mut limits = Self::from_values(
            env_vars::var(EnvVars::JUBE_UNPACK_MAX_BYTES).as_deref(),
            env_vars::var(EnvVars::JUBE_UNPACK_MAX_ENTRIES).as_deref(),
        )?;
        if let Some(value) = env_vars::var(EnvVars::JUBE_UNPACK_MAX_RATIO) {
            limits.max_ratio = value.trim().parse::<u64>().map_err(|_| InstallError::BadLimit {
                var: EnvVars::JUBE_UNPACK_MAX_RATIO,
                value: value.clone(),
            })?;
        }
        Ok(limits)
    }

    /// The limits from the two variables' values, as [`UnpackLimits::from_env`] reads them.
    pub fn from_values(bytes: Option<&str>, entries: Option<&str>) -> Result<Self, InstallError> {
        let defaults = Self::default();
        let read = |value: Option<&str>, var: &'static str, default: u64| match value {
            None => Ok(default),
            Some(value) => value.trim().parse::<u64>().map_err(|_| InstallError::BadLimit {
                var,
                value: value.to_owned(),
            }),
        };
        let entries = read(
            entries,
            EnvVars::JUBE_UNPACK_MAX_ENTRIES,
            defaults.max_entries as u64,
        )?;
        Ok(Self {
            max_total_bytes: read(bytes, EnvVars::JUBE_UNPACK_MAX_BYTES, defaults.max_total_bytes)?,
            max_entries: usize::try_from(entries).unwrap_or(usize::MAX),
            max_ratio: defaults.max_ratio,
        })
    }
}

impl Default for UnpackLimits {
    fn default() -> Self {
        Self {
            max_total_bytes: 4 << 30,
            max_entries: 200_000,
            max_ratio: 200,
        }
    }
}

/// What [`unpack`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpacked {
    /// The folder holding the image's scripts: `dest`, or the zip's single top-level folder.
    pub app_base: PathBuf,
    /// Regular files written.
    pub files: usize,
    /// Bytes written to them.
    pub bytes: u64,
}

/// Why an image could not be unpacked or is not an image.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error(
        "{zip} is damaged or not a zip{}: {detail}; remove it so that it is downloaded again",
        in_entry(entry)
    )]
    Corrupt {
        zip: PathBuf,
        entry: Option<String>,
        detail: String,
    },
    #[error("{zip}: entry `{entry}` {reason}; refusing to unpack this image")]
    UnsafePath {
        zip: PathBuf,
        entry: String,
        reason: String,
    },
    #[error(
        "{zip} unpacks to more than {limit} bytes{} ({how}); refusing to unpack it (raise {} for an \
         image you trust)",
        in_entry(entry),
        EnvVars::JUBE_UNPACK_MAX_BYTES
    )]
    TooLarge {
        zip: PathBuf,
        entry: Option<String>,
        limit: u64,
        how: &'static str,
    },
    #[error(
        "{zip} holds {count} entries, more than the limit of {limit}; refusing to unpack it (raise {} \
         for an image you trust)",
        EnvVars::JUBE_UNPACK_MAX_ENTRIES
    )]
    TooManyEntries {
        zip: PathBuf,
        count: usize,
        limit: usize,
    },
    #[error(
        "{zip} unpacks to {declared} bytes from {size}, more than {limit} times its size (a zip \
         bomb); refusing to unpack it (raise {} for an image you trust)",
        EnvVars::JUBE_UNPACK_MAX_RATIO
    )]
    TooCompressed {
        zip: PathBuf,
        declared: u64,
        size: u64,
        limit: u64,
    },
    #[error(
        "{image} is not a jube image: it has neither {wanted} at its root (it holds: {found}); \
         an image zip needs its scripts at the root or in one top-level folder"
    )]
    NotAnImage {
        /// The zip, or the folder checked.
        image: PathBuf,
        wanted: String,
        found: String,
    },
    #[error("{var}=`{value}` is not a whole number; unset it or give a number")]
    BadLimit { var: &'static str, value: String },
    #[error("{zip}: {EXECUTABLES_FILE} rule `{folder}={pattern}` is invalid: {detail}")]
    BadExecutablesRule {
        zip: PathBuf,
        folder: String,
        pattern: String,
        detail: String,
    },
    #[error("{path}: {source}{hint}", hint = crate::fsutil::disk_full_hint(.source))]
    Io { path: PathBuf, source: io::Error },
}

fn in_entry(entry: &Option<String>) -> String {
    entry
        .as_ref()
        .map(|e| format!(" (entry `{e}`)"))
        .unwrap_or_default()
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> InstallError + '_ {
    move |source| InstallError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Unpacks the image zip `zip` into `dest`, which must not exist yet. Nothing is written before
/// every entry's name, kind and declared size passed the checks; on any error `dest` is removed.
pub fn unpack(
    zip: &Path,
    dest: &Path,
    limits: &UnpackLimits,
    reporter: &dyn Reporter,
) -> Result<Unpacked, InstallError> {
    let mut archive = open_archive(zip)?;
    let plan = Plan::build(&mut archive, zip, limits)?;
    drop(archive);
    create_dest(dest)?;
    let job = reporter.on_start("unpacking", Some(plan.entries as u64));
    let result = extract(zip, dest, &plan, limits, reporter, job);
    reporter.on_finish(job);
    match result {
        Ok(bytes) => Ok(Unpacked {
            app_base: dest.join(&plan.app_base),
            files: plan.files.len(),
            bytes,
        }),
        Err(err) => {
            remove_tree(dest);
            Err(err)
        }
    }
}

/// Checks that `app_base` holds this platform's start or run script.
pub fn check_image(app_base: &Path) -> Result<(), InstallError> {
    check_image_for(app_base, SCRIPT_EXTENSION)
}

/// Checks that an image unpacked from `zip` has this platform's start or run script. The error
/// names the zip, not the unpacked copy, which is removed on failure.
pub fn check_unpacked(zip: &Path, app_base: &Path) -> Result<(), InstallError> {
    check_image_for(app_base, SCRIPT_EXTENSION).map_err(|err| match err {
        InstallError::NotAnImage { wanted, found, .. } => InstallError::NotAnImage {
            image: zip.to_owned(),
            wanted,
            found,
        },
        other => other,
    })
}

/// Checks that `app_base` holds `start.<extension>` or `run.<extension>`.
pub fn check_image_for(app_base: &Path, extension: &str) -> Result<(), InstallError> {
    let wanted = [format!("start.{extension}"), format!("run.{extension}")];
    if wanted.iter().any(|name| app_base.join(name).is_file()) {
        return Ok(());
    }
    Err(InstallError::NotAnImage {
        image: app_base.to_owned(),
        wanted: wanted.join(" nor "),
        found: describe_root(app_base)?,
    })
}

fn describe_root(dir: &Path) -> Result<String, InstallError> {
    crate::fsutil::describe_folder(dir).map_err(io_error(dir))
}

fn open_archive(zip: &Path) -> Result<ZipArchive<BufReader<File>>, InstallError> {
    let file = File::open(zip).map_err(io_error(zip))?;
    ZipArchive::new(BufReader::new(file)).map_err(|e| zip_error(zip, None, e))
}

fn zip_error(zip: &Path, entry: Option<&str>, err: ZipError) -> InstallError {
    match err {
        ZipError::Io(source) => read_error(zip, entry, source),
        other => InstallError::Corrupt {
            zip: zip.to_owned(),
            entry: entry.map(str::to_owned),
            detail: other.to_string(),
        },
    }
}

/// A failed read from the zip: bad data (CRC, truncation, lying sizes) means a damaged zip,
/// anything else is the disk's fault.
fn read_error(zip: &Path, entry: Option<&str>, source: io::Error) -> InstallError {
    match source.kind() {
        io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidInput => {
            InstallError::Corrupt {
                zip: zip.to_owned(),
                entry: entry.map(str::to_owned),
                detail: source.to_string(),
            }
        }
        _ => InstallError::Io {
            path: zip.to_owned(),
            source,
        },
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
    Link,
}

struct FileJob {
    index: usize,
    name: String,
    rel: PathBuf,
    mode: u32,
}

struct LinkJob {
    rel: PathBuf,
    target: PathBuf,
}

/// Everything [`unpack`] will write, decided and checked before the first byte is written.
struct Plan {
    entries: usize,
    /// Every folder to create (explicit or implied by a deeper entry), parents first, with its mode.
    dirs: BTreeMap<PathBuf, u32>,
    files: Vec<FileJob>,
    links: Vec<LinkJob>,
    /// Relative to `dest`; empty when the scripts sit at the zip's root.
    app_base: PathBuf,
}

struct Entry {
    index: usize,
    name: String,
    rel: PathBuf,
    kind: Kind,
    mode: Option<u32>,
    /// As the headers declare it.
    size: u64,
}

impl Plan {
    fn build(
        archive: &mut ZipArchive<BufReader<File>>,
        zip: &Path,
        limits: &UnpackLimits,
    ) -> Result<Self, InstallError> {
        let count = archive.len();
        if count > limits.max_entries {
            return Err(InstallError::TooManyEntries {
                zip: zip.to_owned(),
                count,
                limit: limits.max_entries,
            });
        }
        // The zip crate keeps one entry per name; which one would be unpacked is anyone's guess.
        if archive.has_duplicate_names() {
            return Err(InstallError::Corrupt {
                zip: zip.to_owned(),
                entry: None,
                detail: "two entries have the same name".to_owned(),
            });
        }
        let entries = read_entries(archive, zip, limits)?;
        check_ratio(&entries, zip, limits)?;
        check_tree(&entries, zip)?;
        let app_base = find_app_base(&entries);
        let rules = read_executable_rules(archive, zip, &entries, &app_base)?;

        let mut dirs = BTreeMap::new();
        let mut files = Vec::new();
        let mut links = Vec::new();
        for entry in entries {
            for ancestor in entry.rel.ancestors().skip(1) {
                if !ancestor.as_os_str().is_empty() {
                    dirs.entry(ancestor.to_owned()).or_insert(DEFAULT_DIR_MODE);
                }
            }
            match entry.kind {
                Kind::Dir => {
                    dirs.insert(entry.rel, entry.mode.unwrap_or(DEFAULT_DIR_MODE));
                }
                Kind::File => {
                    let mut mode = entry.mode.unwrap_or(DEFAULT_FILE_MODE);
                    if is_executable(&entry.rel, &app_base, &rules) {
                        mode = with_execute_bits(mode);
                    }
                    files.push(FileJob {
                        index: entry.index,
                        name: entry.name,
                        rel: entry.rel,
                        mode,
                    });
                }
                Kind::Link => {
                    let target = read_link_target(archive, zip, &entry)?;
                    links.push(LinkJob {
                        rel: entry.rel,
                        target,
                    });
                }
            }
        }
        Ok(Self {
            entries: count,
            dirs,
            files,
            links,
            app_base,
        })
    }
}

fn read_entries(
    archive: &ZipArchive<BufReader<File>>,
    zip: &Path,
    limits: &UnpackLimits,
) -> Result<Vec<Entry>, InstallError> {
    let mut entries = Vec::with_capacity(archive.len());
    let mut declared: u64 = 0;
    for index in 0..archive.len() {
        let data = archive
            .by_index_data(index)
            .map_err(|e| zip_error(zip, None, e))?;
        let name = entry_name(&data, zip)?;
        let unsafe_path = |reason: String| InstallError::UnsafePath {
            zip: zip.to_owned(),
            entry: name.clone(),
            reason,
        };
        if data.encrypted() {
            return Err(InstallError::Corrupt {
                zip: zip.to_owned(),
                entry: Some(name),
                detail: "the entry is encrypted, which images may not be".to_owned(),
            });
        }
        let rel = safe_relative_path(&name).map_err(unsafe_path)?;
        let mode = stored_mode(&data);
        let kind = entry_kind(&name, mode);
        declared = declared.saturating_add(data.size());
        if declared > limits.max_total_bytes {
            return Err(InstallError::TooLarge {
                zip: zip.to_owned(),
                entry: Some(name),
                limit: limits.max_total_bytes,
                how: "by the sizes its headers declare",
            });
        }
        if rel.as_os_str().is_empty() {
            if kind == Kind::Dir {
                continue; // `./`: the destination itself
            }
            return Err(unsafe_path("has no file name".to_owned()));
        }
        entries.push(Entry {
            index,
            name,
            rel,
            kind,
            mode: mode.map(|m| m & 0o777).filter(|m| *m != 0),
            size: data.size(),
        });
    }
    Ok(entries)
}

fn entry_name(data: &ZipFileEntry<'_>, zip: &Path) -> Result<String, InstallError> {
    let raw = data.name_raw();
    if raw.contains(&0) {
        return Err(InstallError::UnsafePath {
            zip: zip.to_owned(),
            entry: String::from_utf8_lossy(raw).replace('\0', "\\0"),
            reason: "contains a NUL byte".to_owned(),
        });
    }
    // The zip format reads a name that is not UTF-8 as CP437, which is rarely what its author
    // meant (and what they see in their tools): such names are refused, not guessed at.
    if std::str::from_utf8(raw).is_err() {
        return Err(InstallError::UnsafePath {
            zip: zip.to_owned(),
            entry: String::from_utf8_lossy(raw).into_owned(),
            reason: "is not valid UTF-8; rebuild the image with UTF-8 file names".to_owned(),
        });
    }
    data.name()
        .map(|n| n.into_owned())
        .map_err(|e| zip_error(zip, None, e))
}

/// The unix mode stored with an entry. DOS attributes carry no permissions worth keeping.
fn stored_mode(data: &ZipFileEntry<'_>) -> Option<u32> {
    if data.system() == zip::System::Dos {
        return None;
    }
    data.unix_mode()
}

fn entry_kind(name: &str, mode: Option<u32>) -> Kind {
    if name.ends_with('/') {
        return Kind::Dir;
    }
    match mode.map(|m| m & S_IFMT) {
        Some(S_IFLNK) => Kind::Link,
        Some(S_IFDIR) => Kind::Dir,
        _ => Kind::File,
    }
}

/// Turns an entry name into a path below the destination, or says why it would not stay there.
/// `.` and empty components are dropped; `..`, roots, drive prefixes, backslashes and NULs refused.
fn safe_relative_path(name: &str) -> Result<PathBuf, String> {
    if name.contains('\0') {
        return Err("contains a NUL byte".to_owned());
    }
    if name.contains('\\') {
        return Err("contains a backslash, which Windows reads as a folder separator".to_owned());
    }
    if name.starts_with('/') {
        return Err("is an absolute path".to_owned());
    }
    let mut rel = PathBuf::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err("climbs out with `..`".to_owned()),
            _ if part.contains(':') => {
                return Err("contains `:` (a drive prefix or stream name on Windows)".to_owned());
            }
            _ => rel.push(part),
        }
    }
    Ok(rel)
}

/// Refuses a zip that declares far more bytes than it holds: deflate alone cannot pass about
/// 1000:1, and real images (jars, already compressed) stay near 1:1, so a large total at a high
/// ratio means entries that share their data, or a bomb made to fill the disk.
fn check_ratio(entries: &[Entry], zip: &Path, limits: &UnpackLimits) -> Result<(), InstallError> {
    let declared: u64 = entries.iter().map(|e| e.size).fold(0, u64::saturating_add);
    if declared <= RATIO_FLOOR {
        return Ok(());
    }
    let size = std::fs::metadata(zip).map_err(io_error(zip))?.len().max(1);
    if declared / size > limits.max_ratio {
        return Err(InstallError::TooCompressed {
            zip: zip.to_owned(),
            declared,
            size,
            limit: limits.max_ratio,
        });
    }
    Ok(())
}

/// Refuses duplicate names and entries beneath a symlink or a file: writing through a symlink
/// could land outside the destination, and it makes symlink targets impossible to check.
fn check_tree(entries: &[Entry], zip: &Path) -> Result<(), InstallError> {
    let mut kinds: BTreeMap<PathBuf, Kind> = BTreeMap::new();
    for entry in entries {
        if let Some(previous) = kinds.insert(entry.rel.clone(), entry.kind)
            && (previous != Kind::Dir || entry.kind != Kind::Dir)
        {
            return Err(InstallError::UnsafePath {
                zip: zip.to_owned(),
                entry: entry.name.clone(),
                reason: "appears twice in the zip".to_owned(),
            });
        }
    }
    for entry in entries {
        for ancestor in entry.rel.ancestors().skip(1) {
            let reason = match kinds.get(ancestor) {
                Some(Kind::Link) => "lies beneath a symlink in the same zip",
                Some(Kind::File) => "lies beneath a file in the same zip",
                _ => continue,
            };
            return Err(InstallError::UnsafePath {
                zip: zip.to_owned(),
                entry: entry.name.clone(),
                reason: format!("{reason} (`{}`)", ancestor.display()),
            });
        }
    }
    Ok(())
}

/// APP_BASE is the zip's single top-level folder when the root holds no start or run script
/// and every entry sits in that folder.
fn find_app_base(entries: &[Entry]) -> PathBuf {
    let root_has_script = entries
        .iter()
        .any(|e| e.kind != Kind::Dir && ROOT_SCRIPTS.iter().any(|s| e.rel.as_os_str() == *s));
    if root_has_script {
        return PathBuf::new();
    }
    let tops: BTreeSet<Component<'_>> = entries.iter().filter_map(|e| e.rel.components().next()).collect();
    let mut tops = tops.into_iter();
    let (Some(top), None) = (tops.next(), tops.next()) else {
        return PathBuf::new();
    };
    let top = Path::new(top.as_os_str());
    let is_folder = entries.iter().all(|e| e.rel != top || e.kind == Kind::Dir);
    if is_folder { top.to_owned() } else { PathBuf::new() }
}

struct ExecutableRule {
    folder: PathBuf,
    pattern: Regex,
}

fn read_executable_rules(
    archive: &mut ZipArchive<BufReader<File>>,
    zip: &Path,
    entries: &[Entry],
    app_base: &Path,
) -> Result<Vec<ExecutableRule>, InstallError> {
    let path = app_base.join(EXECUTABLES_FILE);
    let Some(entry) = entries.iter().find(|e| e.kind == Kind::File && e.rel == path) else {
        return Ok(Vec::new());
    };
    let text = read_small_entry(archive, zip, entry, MAX_EXECUTABLES_FILE)?;
    let bad_rule = |folder: &str, pattern: &str, detail: String| InstallError::BadExecutablesRule {
        zip: zip.to_owned(),
        folder: folder.to_owned(),
        pattern: pattern.to_owned(),
        detail,
    };
    let mut rules = Vec::new();
    for line in crate::properties::parse(&text) {
        let line = line.map_err(|e| bad_rule("?", "?", e.to_string()))?;
        let java_properties::LineContent::KVPair(folder, pattern) = line.consume_content() else {
            continue;
        };
        let rel = safe_relative_path(&folder)
            .map_err(|reason| bad_rule(&folder, &pattern, format!("the folder {reason}")))?;
        let regex = Regex::new(&format!("^(?:{pattern})$"))
            .map_err(|e| bad_rule(&folder, &pattern, e.to_string()))?;
        rules.push(ExecutableRule {
            folder: app_base.join(rel),
            pattern: regex,
        });
    }
    Ok(rules)
}

/// Jube images expect their scripts at APP_BASE, everything in `bin/`, and what
/// executables.properties lists to be executable.
fn is_executable(rel: &Path, app_base: &Path, rules: &[ExecutableRule]) -> bool {
    let (Some(folder), Some(name)) = (rel.parent(), rel.file_name()) else {
        return false;
    };
    let name = name.to_string_lossy();
    if folder == app_base {
        let extension = Path::new(name.as_ref()).extension().and_then(|e| e.to_str());
        if extension.is_some_and(|e| SCRIPT_EXTENSIONS.contains(&e)) {
            return true;
        }
    }
    if folder == app_base.join("bin") {
        return true;
    }
    rules
        .iter()
        .any(|rule| folder == rule.folder && rule.pattern.is_match(&name))
}

/// `chmod +x` for whoever may read the file, and always for its owner.
fn with_execute_bits(mode: u32) -> u32 {
    mode | 0o100 | ((mode & 0o444) >> 2)
}

fn read_small_entry(
    archive: &mut ZipArchive<BufReader<File>>,
    zip: &Path,
    entry: &Entry,
    limit: u64,
) -> Result<Vec<u8>, InstallError> {
    let mut file = archive
        .by_index(entry.index)
        .map_err(|e| zip_error(zip, Some(&entry.name), e))?;
    if file.size() > limit {
        return Err(InstallError::UnsafePath {
            zip: zip.to_owned(),
            entry: entry.name.clone(),
            reason: format!("is larger than the {limit} bytes allowed for it"),
        });
    }
    let mut bytes = Vec::new();
    (&mut file)
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| read_error(zip, Some(&entry.name), e))?;
    Ok(bytes)
}

fn read_link_target(
    archive: &mut ZipArchive<BufReader<File>>,
    zip: &Path,
    entry: &Entry,
) -> Result<PathBuf, InstallError> {
    let bytes = read_small_entry(archive, zip, entry, MAX_LINK_TARGET)?;
    let unsafe_link = |reason: String| InstallError::UnsafePath {
        zip: zip.to_owned(),
        entry: entry.name.clone(),
        reason,
    };
    let target = String::from_utf8(bytes)
        .map_err(|_| unsafe_link("is a symlink whose target is not UTF-8".to_owned()))?;
    let depth = entry.rel.components().count().saturating_sub(1);
    crate::image::link::target_inside(&target, depth)
        .map_err(|reason| unsafe_link(format!("is a symlink to `{target}`, which {reason}")))
}

fn create_dest(dest: &Path) -> Result<(), InstallError> {
    if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io_error(parent))?;
    }
    // create_dir, not create_dir_all: an existing folder is an error, never written into.
    std::fs::create_dir(dest).map_err(io_error(dest))
}

/// Writes the plan below `dest`; returns the bytes written.
fn extract(
    zip: &Path,
    dest: &Path,
    plan: &Plan,
    limits: &UnpackLimits,
    reporter: &dyn Reporter,
    job: usize,
) -> Result<u64, InstallError> {
    for dir in plan.dirs.keys() {
        let path = dest.join(dir);
        std::fs::create_dir(&path).map_err(io_error(&path))?;
    }
    reporter.on_progress(job, (plan.entries - plan.files.len() - plan.links.len()) as u64);
    let umask = current_umask();
    let bytes = write_files(zip, dest, &plan.files, limits, reporter, job, umask)?;
    for link in &plan.links {
        create_symlink(dest, link, reporter)?;
        reporter.on_progress(job, 1);
    }
    // Last and deepest first, so a read-only folder never stops the writes into it.
    let created_mode = umask.map(|umask| 0o777 & !umask);
    for (dir, mode) in plan.dirs.iter().rev() {
        if created_mode != Some(*mode) {
            set_mode(&dest.join(dir), *mode)?;
        }
    }
    Ok(bytes)
}

/// Shared by the writer threads: the next job to take, the byte budget, the first error.
struct Progress<'a> {
    next: AtomicUsize,
    written: AtomicU64,
    failed: AtomicBool,
    error: Mutex<Option<InstallError>>,
    reporter: &'a dyn Reporter,
    job: usize,
    umask: Option<u32>,
}

impl Progress<'_> {
    fn fail(&self, err: InstallError) {
        self.failed.store(true, Ordering::SeqCst);
        if let Ok(mut slot) = self.error.lock()
            && slot.is_none()
        {
            *slot = Some(err);
        }
    }
}

fn write_files(
    zip: &Path,
    dest: &Path,
    files: &[FileJob],
    limits: &UnpackLimits,
    reporter: &dyn Reporter,
    job: usize,
    umask: Option<u32>,
) -> Result<u64, InstallError> {
    let progress = Progress {
        next: AtomicUsize::new(0),
        written: AtomicU64::new(0),
        failed: AtomicBool::new(false),
        error: Mutex::new(None),
        reporter,
        job,
        umask,
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len().div_ceil(FILES_PER_THREAD))
        .max(1);
    std::thread::scope(|scope| {
        for _ in 1..threads {
            scope.spawn(|| write_share(zip, dest, files, limits, &progress));
        }
        write_share(zip, dest, files, limits, &progress);
    });
    if let Some(err) = progress.error.into_inner().ok().flatten() {
        return Err(err);
    }
    Ok(progress.written.into_inner())
}

/// One thread's work: its own archive handle, taking jobs until none are left or one failed.
fn write_share(zip: &Path, dest: &Path, files: &[FileJob], limits: &UnpackLimits, progress: &Progress<'_>) {
    let mut archive = match open_archive(zip) {
        Ok(archive) => archive,
        Err(err) => return progress.fail(err),
    };
    let mut buffer = vec![0; COPY_BUFFER];
    while !progress.failed.load(Ordering::SeqCst) {
        let Some(file) = files.get(progress.next.fetch_add(1, Ordering::SeqCst)) else {
            return;
        };
        if let Err(err) = write_file(&mut archive, zip, dest, file, limits, progress, &mut buffer) {
            return progress.fail(err);
        }
        progress.reporter.on_progress(progress.job, 1);
    }
}

fn write_file(
    archive: &mut ZipArchive<BufReader<File>>,
    zip: &Path,
    dest: &Path,
    job: &FileJob,
    limits: &UnpackLimits,
    progress: &Progress<'_>,
    buffer: &mut [u8],
) -> Result<(), InstallError> {
    let mut entry = archive
        .by_index(job.index)
        .map_err(|e| zip_error(zip, Some(&job.name), e))?;
    let path = dest.join(&job.rel);
    let mut out = create_new_file(&path, job.mode)?;
    copy_within_budget(
        &mut entry,
        &mut out,
        buffer,
        &progress.written,
        limits.max_total_bytes,
    )
    .map_err(|err| match err {
        CopyError::Read(e) => read_error(zip, Some(&job.name), e),
        CopyError::Write(source) => InstallError::Io {
            path: path.clone(),
            source,
        },
        CopyError::OverBudget => InstallError::TooLarge {
            zip: zip.to_owned(),
            entry: Some(job.name.clone()),
            limit: limits.max_total_bytes,
            how: "by the bytes it really holds",
        },
    })?;
    // The umask may have taken bits the zip asked for; put them back only then.
    if progress.umask.is_none_or(|umask| job.mode & umask != 0) {
        set_file_mode(&out, &path, job.mode)?;
    }
    Ok(())
}

enum CopyError {
    Read(io::Error),
    Write(io::Error),
    OverBudget,
}

/// Copies `reader` to `out`, counting every byte against `limit` in `written`, which all the
/// writer threads share: headers may lie about sizes, the bytes cannot.
fn copy_within_budget(
    reader: &mut impl Read,
    out: &mut impl Write,
    buffer: &mut [u8],
    written: &AtomicU64,
    limit: u64,
) -> Result<(), CopyError> {
    loop {
        let n = fill(reader, buffer).map_err(CopyError::Read)?;
        if n == 0 {
            return Ok(());
        }
        let total = written.fetch_add(n as u64, Ordering::SeqCst) + n as u64;
        if total > limit {
            return Err(CopyError::OverBudget);
        }
        out.write_all(&buffer[..n]).map_err(CopyError::Write)?;
    }
}

/// Reads until `buffer` is full or the entry ends, so small files take one write. Reading to the
/// end is what makes the zip crate check the CRC and the declared size.
fn fill(reader: &mut impl Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Opens a new file, never one that exists (not even a symlink planted there).
fn create_new_file(path: &Path, mode: u32) -> Result<File, InstallError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    options.open(path).map_err(io_error(path))
}

#[cfg(unix)]
fn set_file_mode(file: &File, path: &Path, mode: u32) -> Result<(), InstallError> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(io_error(path))
}

#[cfg(not(unix))]
fn set_file_mode(_file: &File, _path: &Path, _mode: u32) -> Result<(), InstallError> {
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> Result<(), InstallError> {
    crate::fsutil::set_mode(path, mode).map_err(|source| InstallError::Io {
        path: path.to_owned(),
        source,
    })
}

/// The process umask, read without changing it (umask(2) would race with other threads).
/// `None` where it cannot be read, and modes are then always set explicitly.
fn current_umask() -> Option<u32> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("Umask:"))?;
    u32::from_str_radix(line.trim(), 8).ok()
}

#[cfg(unix)]
fn create_symlink(dest: &Path, link: &LinkJob, _reporter: &dyn Reporter) -> Result<(), InstallError> {
    let path = dest.join(&link.rel);
    std::os::unix::fs::symlink(&link.target, &path).map_err(io_error(&path))
}

#[cfg(not(unix))]
fn create_symlink(_dest: &Path, link: &LinkJob, reporter: &dyn Reporter) -> Result<(), InstallError> {
    reporter.warn(&format!(
        "symlink {} -> {} was not created: symlinks from image zips are only made on unix",
        link.rel.display(),
        link.target.display()
    ));
    Ok(())
}

/// Removes a half-written destination, making read-only folders writable if that is what
/// stopped the first attempt.
fn remove_tree(dest: &Path) {
    if std::fs::remove_dir_all(dest).is_ok() || !dest.exists() {
        return;
    }
    make_writable(dest);
    let _ = std::fs::remove_dir_all(dest);
}

fn make_writable(dir: &Path) {
    let _ = crate::fsutil::set_mode(dir, 0o700);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            make_writable(&entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use zip::write::SimpleFileOptions;
    use zip::{CompressionMethod, ZipWriter};

    use super::*;
    use crate::reporter::Silent;

    enum E<'a> {
        File(&'a str, &'a [u8], Option<u32>),
        Dir(&'a str, Option<u32>),
        Link(&'a str, &'a str),
    }

    fn build_zip(path: &Path, entries: &[E<'_>]) {
        let mut zip = ZipWriter::new(File::create(path).unwrap());
        for entry in entries {
            let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
            let with_mode = |mode: &Option<u32>| match mode {
                Some(mode) => options.unix_permissions(*mode),
                None => options,
            };
            match entry {
                E::File(name, bytes, mode) => {
                    zip.start_file(*name, with_mode(mode)).unwrap();
                    zip.write_all(bytes).unwrap();
                }
                E::Dir(name, mode) => zip.add_directory(*name, with_mode(mode)).unwrap(),
                E::Link(name, target) => zip.add_symlink(*name, *target, options).unwrap(),
            }
        }
        zip.finish().unwrap();
    }

    struct Fixture {
        dir: tempfile::TempDir,
    }

    impl Fixture {
        fn new() -> Self {
            Self {
                dir: tempfile::tempdir().unwrap(),
            }
        }

        fn zip(&self, entries: &[E<'_>]) -> PathBuf {
            let path = self.dir.path().join("image.zip");
            build_zip(&path, entries);
            path
        }

        fn dest(&self) -> PathBuf {
            self.dir.path().join("containers").join("c1").join("root")
        }

        fn unpack(&self, zip: &Path) -> Result<Unpacked, InstallError> {
            unpack(zip, &self.dest(), &UnpackLimits::default(), &Silent)
        }

        /// Unpacking must fail, leave no destination behind and nothing beside it.
        fn refused(&self, zip: &Path, limits: &UnpackLimits) -> InstallError {
            let err = unpack(zip, &self.dest(), limits, &Silent).unwrap_err();
            assert!(!self.dest().exists(), "{err}: the destination is removed");
            let mut written = Vec::new();
            list_files(self.dir.path(), &mut written);
            assert_eq!(
                written,
                [self.dir.path().join("image.zip")],
                "{err}: nothing written outside"
            );
            err
        }
    }

    fn list_files(dir: &Path, files: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                list_files(&path, files);
            } else {
                files.push(path);
            }
        }
    }

    const START: E<'static> = E::File("start.sh", b"#!/bin/sh\necho start\n", Some(0o644));

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[derive(Default)]
    struct Recorder {
        calls: Mutex<Vec<String>>,
        progress: AtomicU64,
    }

    impl Reporter for Recorder {
        fn on_start(&self, what: &str, total: Option<u64>) -> usize {
            self.calls.lock().unwrap().push(format!("start {what} {total:?}"));
            7
        }
        fn on_progress(&self, id: usize, done: u64) {
            assert_eq!(id, 7);
            self.progress.fetch_add(done, Ordering::SeqCst);
        }
        fn on_finish(&self, id: usize) {
            self.calls.lock().unwrap().push(format!("finish {id}"));
        }
    }

    #[test]
    fn normal_image_is_unpacked_at_the_root() {
        let f = Fixture::new();
        let zip = f.zip(&[
            START,
            E::File("stop.sh", b"echo stop", None),
            E::Dir("lib/", None),
            E::File("lib/app.jar", &[7; 3000], Some(0o644)),
            E::File("conf/app.conf", b"x=1", None),
            E::File("env.sh", b"", Some(0o644)),
        ]);
        let recorder = Recorder::default();
        let unpacked = unpack(&zip, &f.dest(), &UnpackLimits::default(), &recorder).unwrap();
        assert_eq!(
            unpacked,
            Unpacked {
                app_base: f.dest(),
                files: 5,
                bytes: 21 + 9 + 3000 + 3,
            }
        );
        assert_eq!(
            std::fs::read(f.dest().join("lib/app.jar")).unwrap(),
            vec![7; 3000]
        );
        assert_eq!(
            std::fs::read_to_string(f.dest().join("conf/app.conf")).unwrap(),
            "x=1"
        );
        assert_eq!(
            *recorder.calls.lock().unwrap(),
            ["start unpacking Some(6)", "finish 7"]
        );
        assert_eq!(recorder.progress.load(Ordering::SeqCst), 6);
        check_image_for(&unpacked.app_base, "sh").unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn scripts_bin_and_listed_files_become_executable() {
        let f = Fixture::new();
        let zip = f.zip(&[
            START,
            E::File("run.bat", b"", None),
            E::File("tool.cmd", b"", Some(0o600)),
            E::File("readme.txt", b"", None),
            E::File("launch-me", b"", None),
            E::File("bin/anything", b"", Some(0o640)),
            E::File("bin/deeper/not-this", b"", None),
            E::File("conf/not.sh", b"", None),
            E::File("lib/libx.so", b"", None),
            E::File("lib/x.jar", b"", None),
            E::File("tools/sub/run", b"", None),
            E::File("tools/sub/runner", b"", None),
            E::File(
                EXECUTABLES_FILE,
                b"# extra\nlib=.*[.]so\n.=launch-.*\ntools/sub : run\n",
                None,
            ),
        ]);
        f.unpack(&zip).unwrap();
        let root = f.dest();
        for (name, expected) in [
            ("start.sh", 0o755),
            ("run.bat", 0o755),
            ("tool.cmd", 0o700),
            ("readme.txt", 0o644),
            ("launch-me", 0o755),
            ("bin/anything", 0o750),
            ("bin/deeper/not-this", 0o644),
            ("conf/not.sh", 0o644),
            ("lib/libx.so", 0o755),
            ("lib/x.jar", 0o644),
            ("tools/sub/run", 0o755),
            ("tools/sub/runner", 0o644),
        ] {
            assert_eq!(mode(&root.join(name)), expected, "{name}");
        }
    }

    #[test]
    fn a_bad_executables_rule_is_an_error() {
        let f = Fixture::new();
        let zip = f.zip(&[START, E::File(EXECUTABLES_FILE, b"lib=(unclosed\n", None)]);
        let err = f.refused(&zip, &UnpackLimits::default());
        assert!(matches!(err, InstallError::BadExecutablesRule { .. }), "{err}");
        assert!(err.to_string().contains("lib=(unclosed"), "{err}");
        let zip = f.zip(&[START, E::File(EXECUTABLES_FILE, b"../outside=.*\n", None)]);
        let err = f.refused(&zip, &UnpackLimits::default());
        assert!(matches!(err, InstallError::BadExecutablesRule { .. }), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn modes_are_kept() {
        let f = Fixture::new();
        let zip = f.zip(&[
            START,
            E::File("private", b"secret", Some(0o600)),
            E::File("group", b"", Some(0o640)),
            E::File("open", b"", Some(0o777)),
            E::File("setuid", b"", Some(0o4755)),
            E::File("plain", b"", None),
            E::Dir("closed/", Some(0o700)),
            E::Dir("readonly/", Some(0o555)),
            E::File(
                "readonly/inside",
                b"written before the folder closed",
                Some(0o444),
            ),
            E::File("implicit/child", b"", None),
        ]);
        f.unpack(&zip).unwrap();
        let root = f.dest();
        for (name, expected) in [
            ("private", 0o600),
            ("group", 0o640),
            ("open", 0o777),
            ("setuid", 0o755),
            ("plain", 0o644),
            ("closed", 0o700),
            ("readonly", 0o555),
            ("readonly/inside", 0o444),
            ("implicit", 0o755),
        ] {
            assert_eq!(mode(&root.join(name)), expected, "{name}");
        }
        crate::fsutil::set_mode(&root.join("readonly"), 0o755).unwrap();
    }

    #[test]
    fn single_top_folder_is_app_base() {
        let f = Fixture::new();
        let zip = f.zip(&[
            E::Dir("app-1.0/", None),
            E::File("app-1.0/start.sh", b"", None),
            E::File("app-1.0/bin/tool", b"", None),
            E::File("app-1.0/lib/a.jar", b"", None),
        ]);
        let unpacked = f.unpack(&zip).unwrap();
        assert_eq!(unpacked.app_base, f.dest().join("app-1.0"));
        check_image_for(&unpacked.app_base, "sh").unwrap();
        #[cfg(unix)]
        {
            assert_eq!(mode(&unpacked.app_base.join("start.sh")), 0o755);
            assert_eq!(mode(&unpacked.app_base.join("bin/tool")), 0o755);
        }
    }

    #[test]
    fn app_base_stays_at_the_root_otherwise() {
        let f = Fixture::new();
        let zip = f.zip(&[E::File("app/start.sh", b"", None), E::File("other/x", b"", None)]);
        let unpacked = f.unpack(&zip).unwrap();
        assert_eq!(unpacked.app_base, f.dest());
        let err = check_image(&unpacked.app_base).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, InstallError::NotAnImage { .. }), "{message}");
        assert!(
            message.contains("start.sh nor run.sh") || message.contains("start.bat"),
            "{message}"
        );
        assert!(message.contains("app, other"), "{message}");

        let f = Fixture::new();
        let zip = f.zip(&[START, E::File("app/start.sh", b"", None)]);
        assert_eq!(f.unpack(&zip).unwrap().app_base, f.dest());
    }

    #[test]
    fn limits_come_from_the_variables_or_the_defaults() {
        let limits = UnpackLimits::from_values(Some("1000"), Some(" 7 ")).unwrap();
        assert_eq!((limits.max_total_bytes, limits.max_entries), (1000, 7));
        let defaults = UnpackLimits::from_values(None, None).unwrap();
        assert_eq!(defaults.max_total_bytes, UnpackLimits::default().max_total_bytes);
        let err = UnpackLimits::from_values(Some("4G"), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("JUBE_UNPACK_MAX_BYTES=`4G`"), "{err}");
    }

    #[test]
    fn check_unpacked_names_the_zip() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("readme.txt"), "").unwrap();
        let zip = Path::new("/repo/app-1.0-image.zip");
        let err = check_unpacked(zip, dir.path()).unwrap_err().to_string();
        assert!(
            err.starts_with("/repo/app-1.0-image.zip is not a jube image"),
            "{err}"
        );
        assert!(err.contains("(it holds: readme.txt)"), "{err}");
    }

    #[test]
    fn not_an_image_lists_the_first_names() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..25 {
            std::fs::write(dir.path().join(format!("f{i:02}")), "").unwrap();
        }
        let err = check_image_for(dir.path(), "sh").unwrap_err().to_string();
        assert!(
            err.contains("f00, f01") && err.contains("f19 and 5 more"),
            "{err}"
        );
        assert!(!err.contains("f20"), "{err}");
        std::fs::write(dir.path().join("run.bat"), "").unwrap();
        check_image_for(dir.path(), "bat").unwrap();
        assert!(check_image_for(dir.path(), "sh").is_err());
        std::fs::create_dir(dir.path().join("start.sh")).unwrap();
        assert!(
            check_image_for(dir.path(), "sh").is_err(),
            "a folder is no script"
        );
    }

    #[test]
    fn unsafe_names_are_refused() {
        for name in [
            "../evil",
            "/abs",
            "a/../../evil",
            "a/../b",
            "..",
            "C:/evil",
            "c:evil",
            "a\\..\\..\\evil",
            "\\abs",
            "file:stream",
        ] {
            let f = Fixture::new();
            let zip = f.zip(&[START, E::File(name, b"evil", None)]);
            let err = f.refused(&zip, &UnpackLimits::default());
            assert!(
                matches!(&err, InstallError::UnsafePath { entry, .. } if entry == name),
                "{name}: {err}"
            );
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn names_are_normalised_or_refused() {
        assert_eq!(safe_relative_path("./a//b/./c").unwrap(), Path::new("a/b/c"));
        assert_eq!(safe_relative_path("./").unwrap(), Path::new(""));
        assert!(safe_relative_path("a\0b").unwrap_err().contains("NUL"));
        assert!(safe_relative_path("a/..").is_err());
    }

    #[test]
    fn a_nul_byte_in_a_name_is_refused() {
        let f = Fixture::new();
        let zip = f.zip(&[START, E::File("evil", b"x", None)]);
        // The writer will not store a NUL; patch one into both copies of the name.
        let mut bytes = std::fs::read(&zip).unwrap();
        let mut patched = 0;
        for i in 0..bytes.len() - 4 {
            if &bytes[i..i + 4] == b"evil" {
                bytes[i + 2] = 0;
                patched += 1;
            }
        }
        assert_eq!(patched, 2);
        std::fs::write(&zip, bytes).unwrap();
        let err = f.refused(&zip, &UnpackLimits::default());
        assert!(
            matches!(&err, InstallError::UnsafePath { reason, .. } if reason.contains("NUL")),
            "{err}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn safe_symlinks_are_created() {
        let f = Fixture::new();
        let zip = f.zip(&[
            START,
            E::File("lib/app-1.0.jar", b"jar", None),
            E::Link("lib/app.jar", "app-1.0.jar"),
            E::Link("bin/app", "../lib/./app.jar"),
            E::Link("here", "."),
        ]);
        let unpacked = f.unpack(&zip).unwrap();
        assert_eq!(unpacked.files, 2);
        let root = f.dest();
        assert_eq!(
            std::fs::read_link(root.join("bin/app")).unwrap(),
            Path::new("../lib/app.jar")
        );
        assert_eq!(std::fs::read(root.join("bin/app")).unwrap(), b"jar");
        assert_eq!(std::fs::read_link(root.join("here")).unwrap(), Path::new("."));
    }

    #[test]
    fn escaping_symlinks_are_refused() {
        let cases: &[&[E<'_>]] = &[
            &[E::Link("passwd", "/etc/passwd")],
            &[E::Link("x", "../../..")],
            &[E::Link("a/b/x", "../../../etc")],
            &[E::Link("x", "..")],
            &[E::Link("x", "")],
            &[E::Link("x", "C:/Windows")],
            &[E::Link("x", "..\\..")],
            // `y` is the root itself, so `y/..` would be the folder above it.
            &[E::Link("y", "."), E::Link("x", "y/..")],
            // Writing through a symlink could land anywhere it points.
            &[
                E::Dir("sub/", None),
                E::Link("a", "sub"),
                E::File("a/x", b"", None),
            ],
        ];
        for entries in cases {
            let f = Fixture::new();
            let mut all = vec![START];
            all.extend(entries.iter().map(|e| match e {
                E::File(n, b, m) => E::File(n, b, *m),
                E::Dir(n, m) => E::Dir(n, *m),
                E::Link(n, t) => E::Link(n, t),
            }));
            let zip = f.zip(&all);
            let err = f.refused(&zip, &UnpackLimits::default());
            assert!(matches!(err, InstallError::UnsafePath { .. }), "{err}");
        }
    }

    #[test]
    fn duplicate_entries_are_refused() {
        let f = Fixture::new();
        let zip = f.zip(&[START, E::File("a", b"1", None), E::File("b", b"", None)]);
        // Rename `b` to `a` in both headers: the writer refuses duplicates itself.
        let mut bytes = std::fs::read(&zip).unwrap();
        let name_offsets: Vec<usize> = (0..bytes.len() - 3)
            .filter(|&i| bytes[i..i + 4] == *b"PK\x03\x04" || bytes[i..i + 4] == *b"PK\x01\x02")
            .collect();
        for offset in name_offsets {
            let (len_at, name_at) = if bytes[offset + 2] == 3 {
                (26, 30)
            } else {
                (28, 46)
            };
            let len = u16::from_le_bytes([bytes[offset + len_at], bytes[offset + len_at + 1]]) as usize;
            if len == 1 && bytes[offset + name_at] == b'b' {
                bytes[offset + name_at] = b'a';
            }
        }
        std::fs::write(&zip, bytes).unwrap();
        let err = f.refused(&zip, &UnpackLimits::default());
        assert!(
            matches!(&err, InstallError::Corrupt { detail, .. } if detail.contains("same name")),
            "{err}"
        );

        for (first, second) in [("a", "./a"), ("a/", "a"), ("b", "b/")] {
            let f = Fixture::new();
            let entry = |name: &'static str| {
                if name.ends_with('/') {
                    E::Dir(name, None)
                } else {
                    E::File(name, b"", None)
                }
            };
            let zip = f.zip(&[START, entry(first), entry(second)]);
            let err = f.refused(&zip, &UnpackLimits::default());
            assert!(
                matches!(&err, InstallError::UnsafePath { entry, reason, .. } if entry == second && reason.contains("twice")),
                "{first} {second}: {err}"
            );
        }
    }

    #[test]
    fn a_large_total_at_a_high_ratio_is_refused_and_a_small_one_never() {
        let f = Fixture::new();
        let zip = f.zip(&[START]);
        let size = std::fs::metadata(&zip).unwrap().len();
        let entry = |size: u64| Entry {
            index: 0,
            name: "big".into(),
            rel: "big".into(),
            kind: Kind::File,
            mode: None,
            size,
        };
        let limits = UnpackLimits::default();
        // Any ratio below the floor.
        check_ratio(&[entry(RATIO_FLOOR)], &zip, &limits).unwrap();
        // Above it, the ratio counts: entries sharing their data add up too.
        let err = check_ratio(&[entry(RATIO_FLOOR), entry(1)], &zip, &limits).unwrap_err();
        assert!(
            matches!(err, InstallError::TooCompressed { limit: 200, .. }),
            "{err}"
        );
        let trusting = UnpackLimits {
            max_ratio: (RATIO_FLOOR + 1) / size + 1,
            ..UnpackLimits::default()
        };
        check_ratio(&[entry(RATIO_FLOOR), entry(1)], &zip, &trusting).unwrap();
    }

    #[test]
    fn too_many_entries_are_refused() {
        let f = Fixture::new();
        let names: Vec<String> = (0..11).map(|i| format!("f{i}")).collect();
        let mut entries = vec![START];
        entries.extend(names.iter().map(|n| E::File(n, b"", None)));
        let zip = f.zip(&entries);
        let limits = UnpackLimits {
            max_entries: 10,
            ..UnpackLimits::default()
        };
        let err = f.refused(&zip, &limits);
        assert!(
            matches!(
                err,
                InstallError::TooManyEntries {
                    count: 12,
                    limit: 10,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn declared_size_over_the_limit_is_refused() {
        let f = Fixture::new();
        let zip = f.zip(&[
            START,
            E::File("a", &[0; 600], None),
            E::File("b", &[0; 600], None),
        ]);
        let limits = UnpackLimits {
            max_total_bytes: 1000,
            ..UnpackLimits::default()
        };
        let err = f.refused(&zip, &limits);
        assert!(
            matches!(&err, InstallError::TooLarge { entry: Some(e), .. } if e == "b"),
            "{err}"
        );
    }

    /// A zip bomb: the headers declare 10 bytes, the data inflates to 1 MiB.
    #[test]
    fn lying_sizes_do_not_get_past_the_limit() {
        let f = Fixture::new();
        let zip = f.zip(&[E::File("bomb", &vec![0; 1 << 20], None)]);
        let mut bytes = std::fs::read(&zip).unwrap();
        patch_u32(&mut bytes, b"PK\x03\x04", 22, 10);
        patch_u32(&mut bytes, b"PK\x01\x02", 24, 10);
        std::fs::write(&zip, bytes).unwrap();
        let limits = UnpackLimits {
            max_total_bytes: 100_000,
            ..UnpackLimits::default()
        };
        let err = f.refused(&zip, &limits);
        assert!(
            matches!(err, InstallError::Corrupt { .. } | InstallError::TooLarge { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("bomb"), "{err}");
    }

    fn patch_u32(bytes: &mut [u8], signature: &[u8; 4], offset: usize, value: u32) {
        let at = (0..bytes.len() - 4)
            .find(|&i| bytes[i..i + 4] == *signature)
            .unwrap();
        bytes[at + offset..at + offset + 4].copy_from_slice(&value.to_le_bytes());
    }

    #[test]
    fn the_byte_budget_counts_what_is_really_written() {
        let written = AtomicU64::new(0);
        let mut out = Vec::new();
        let mut buffer = vec![0; 1000];
        let mut small = io::repeat(1).take(2500);
        assert!(copy_within_budget(&mut small, &mut out, &mut buffer, &written, 4000).is_ok());
        assert_eq!(out.len(), 2500);
        let mut big = io::repeat(1).take(1 << 20);
        let result = copy_within_budget(&mut big, &mut out, &mut buffer, &written, 4000);
        assert!(matches!(result, Err(CopyError::OverBudget)));
        assert!(out.len() <= 4000, "stopped at the limit, wrote {}", out.len());
    }

    #[test]
    fn corrupt_zips_are_refused() {
        let f = Fixture::new();
        let zip = f.zip(&[START, E::File("lib/a.jar", &[1; 5000], None)]);
        let good = std::fs::read(&zip).unwrap();

        std::fs::write(&zip, &good[..good.len() / 2]).unwrap();
        let err = f.refused(&zip, &UnpackLimits::default());
        assert!(matches!(err, InstallError::Corrupt { .. }), "truncated: {err}");
        assert!(err.to_string().contains("image.zip"), "{err}");

        std::fs::write(&zip, b"<html>not found</html>").unwrap();
        let err = f.refused(&zip, &UnpackLimits::default());
        assert!(matches!(err, InstallError::Corrupt { .. }), "not a zip: {err}");

        std::fs::remove_file(&zip).unwrap();
        let err = unpack(&zip, &f.dest(), &UnpackLimits::default(), &Silent).unwrap_err();
        assert!(matches!(err, InstallError::Io { .. }), "missing: {err}");
        assert!(!f.dest().exists());
    }

    #[test]
    fn a_bad_crc_is_refused() {
        let f = Fixture::new();
        let path = f.dir.path().join("image.zip");
        let mut zip = ZipWriter::new(File::create(&path).unwrap());
        let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
        zip.start_file("start.sh", stored).unwrap();
        zip.write_all(b"echo original content").unwrap();
        zip.finish().unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        let at = (0..bytes.len() - 8)
            .find(|&i| &bytes[i..i + 8] == b"original")
            .unwrap();
        bytes[at] = b'O';
        std::fs::write(&path, bytes).unwrap();
        let err = f.refused(&path, &UnpackLimits::default());
        assert!(
            matches!(&err, InstallError::Corrupt { entry: Some(e), detail, .. } if e == "start.sh" && detail.contains("checksum")),
            "{err}"
        );
    }

    #[test]
    fn an_existing_destination_is_never_touched() {
        let f = Fixture::new();
        let zip = f.zip(&[START]);
        std::fs::create_dir_all(f.dest()).unwrap();
        std::fs::write(f.dest().join("mine"), "keep").unwrap();
        let err = f.unpack(&zip).unwrap_err();
        assert!(
            matches!(&err, InstallError::Io { source, .. } if source.kind() == io::ErrorKind::AlreadyExists),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(f.dest().join("mine")).unwrap(), "keep");
    }

    #[test]
    fn many_files_are_written_by_several_threads() {
        let f = Fixture::new();
        let contents: Vec<(String, Vec<u8>)> = (0..300)
            .map(|i| {
                (
                    format!("d{}/f{i}", i % 7),
                    format!("file {i} ").repeat(i + 1).into_bytes(),
                )
            })
            .collect();
        let mut entries = vec![START];
        entries.extend(contents.iter().map(|(n, b)| E::File(n, b, None)));
        let zip = f.zip(&entries);
        let recorder = Recorder::default();
        let unpacked = unpack(&zip, &f.dest(), &UnpackLimits::default(), &recorder).unwrap();
        assert_eq!(unpacked.files, 301);
        assert_eq!(recorder.progress.load(Ordering::SeqCst), 301);
        for (name, bytes) in &contents {
            assert_eq!(&std::fs::read(f.dest().join(name)).unwrap(), bytes, "{name}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_failure_after_read_only_folders_still_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("ro/deeper")).unwrap();
        std::fs::write(root.join("ro/deeper/file"), "x").unwrap();
        crate::fsutil::set_mode(&root.join("ro/deeper"), 0o555).unwrap();
        crate::fsutil::set_mode(&root.join("ro"), 0o555).unwrap();
        remove_tree(&root);
        assert!(!root.exists());
    }
}
