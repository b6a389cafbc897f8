//! One run's console log as files on disk: `console.log` (written now) and the rotated
//! `console.log.1` (newest) .. `console.log.N`, each with a `.times` index beside it.
//!
//! The log itself stays plain text for anyone who `cat`s it; when each line came in lives in the
//! index, a header (`jubelogt` and the file's sequence number) followed by one 16-byte record per
//! chunk the writer received: the chunk's byte offset in the log and its arrival time in Unix
//! nanoseconds, little endian. A line's time is the time of the chunk it starts in, as the kubelet
//! stamps what it reads from a container's pipe. The sequence number orders the files of a run
//! across renames, so a follower knows which file comes after the one it read.
//!
//! Every writer and reader takes `console.lock` (exclusive to write or rotate, shared to read), so
//! several writers (the app's relay, a stop script's) share one set and a reader never sees a
//! rotation half done.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::container::logsize::LogLimits;

const MAGIC: &[u8; 8] = b"jubelogt";
const RECORD: usize = 16;
/// The folder under the log folder that keeps the previous run's set.
pub const PREVIOUS_DIR: &str = "previous";

/// When a chunk of a log file arrived: its offset in the file, and the time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    pub offset: u64,
    pub nanos: i64,
}

/// One file of a set, read: its sequence number, bytes and time marks.
#[derive(Debug, Default, Clone)]
pub struct Chunked {
    pub seq: u64,
    pub bytes: Vec<u8>,
    pub marks: Vec<Mark>,
    /// The time of bytes no mark covers (a log written before marks were kept): its mtime.
    pub fallback_nanos: i64,
}

/// The files of one console log (`console` names the file written now).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogSet {
    console: PathBuf,
}

impl LogSet {
    pub fn new(console: impl Into<PathBuf>) -> Self {
        Self {
            console: console.into(),
        }
    }

    pub fn console(&self) -> &Path {
        &self.console
    }

    /// The set the previous run left (`logs/previous/console.log...`).
    pub fn previous(&self) -> Self {
        Self::new(self.dir().join(PREVIOUS_DIR).join(self.name()))
    }

    fn dir(&self) -> &Path {
        self.console.parent().unwrap_or(Path::new("."))
    }

    fn name(&self) -> String {
        self.console
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    fn lock_path(&self) -> PathBuf {
        self.dir().join("console.lock")
    }

    /// File `n` of the set: 0 is the one written, 1 the newest rotated one.
    pub fn file(&self, n: u32) -> PathBuf {
        if n == 0 {
            self.console.clone()
        } else {
            self.dir().join(format!("{}.{n}", self.name()))
        }
    }

    fn times(path: &Path) -> PathBuf {
        let mut name = path.as_os_str().to_owned();
        name.push(".times");
        PathBuf::from(name)
    }

    /// The set's files on disk, oldest first.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut n = 1;
        while self.file(n).exists() {
            out.push(self.file(n));
            n += 1;
        }
        out.reverse();
        if self.console.exists() {
            out.push(self.console.clone());
        }
        out
    }

    /// Whether the set has any file (a run that wrote nothing still has its empty file).
    pub fn exists(&self) -> bool {
        !self.files().is_empty()
    }

    fn lock(&self, exclusive: bool) -> io::Result<File> {
        // The folder is never made here: a relay writing after its container was removed must not
        // bring the container's folder back.
        let path = self.lock_path();
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        if exclusive {
            file.lock()?;
        } else {
            file.lock_shared()?;
        }
        Ok(file)
    }

    fn writers_path(&self) -> PathBuf {
        self.dir().join("writers.lock")
    }

    /// Marks a writer (a relay) of this set for as long as the returned file is open, so an
    /// archive waits for the last lines of the run that ended.
    pub fn register_writer(&self) -> io::Result<File> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.writers_path())?;
        file.lock_shared()?;
        Ok(file)
    }

    /// Waits, `most` at the longest, until no writer is registered: the relays of a run that
    /// ended finish once the last of its processes is gone, a moment later. One still held after
    /// that (a process that outlived its container) does not hold up the new run.
    fn wait_for_writers(&self, most: std::time::Duration) {
        let Ok(file) = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.writers_path())
        else {
            return;
        };
        let deadline = std::time::Instant::now() + most;
        while file.try_lock().is_err() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let _ = file.unlock();
    }

    /// Reads every file of the set, oldest first, as one consistent picture.
    pub fn read(&self) -> io::Result<Vec<Chunked>> {
        self.read_back(|_| false)
    }

    /// Reads the files that hold the last `lines` lines, whole (all files when there are fewer):
    /// `--tail` of a large log need not read all of it.
    pub fn read_last(&self, lines: usize) -> io::Result<Vec<Chunked>> {
        let mut seen = 0usize;
        self.read_back(|file| {
            seen += file.bytes.iter().filter(|b| **b == b'\n').count();
            // One more than asked: the oldest file read may begin inside a line.
            seen > lines
        })
    }

    /// Reads the files newest first until `enough` says so after one, and returns them oldest
    /// first, as one consistent picture.
    fn read_back(&self, mut enough: impl FnMut(&Chunked) -> bool) -> io::Result<Vec<Chunked>> {
        if !self.dir().exists() {
            return Ok(Vec::new());
        }
        let _lock = self.lock(false)?;
        let mut out = Vec::new();
        for path in self.files().into_iter().rev() {
            let Ok(bytes) = std::fs::read(&path) else { continue };
            let (seq, marks) = read_times(&path, 0)?;
            let fallback_nanos = path
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| jiff::Timestamp::try_from(t).ok())
                .map_or(0, |t| i64::try_from(t.as_nanosecond()).unwrap_or(0));
            let file = Chunked {
                seq,
                bytes,
                marks,
                fallback_nanos,
            };
            let stop = enough(&file);
            out.push(file);
            if stop {
                break;
            }
        }
        out.reverse();
        Ok(out)
    }

    /// Opens the files whose sequence is `from` or later, oldest first, with their sequence
    /// numbers and indexes: a follower reads them to their end from handles that stay valid
    /// across renames.
    pub fn open_from(&self, from: u64) -> io::Result<Vec<(u64, File, Option<File>)>> {
        if !self.dir().exists() {
            return Ok(Vec::new());
        }
        let _lock = self.lock(false)?;
        let mut out = Vec::new();
        for path in self.files() {
            let seq = read_seq(&path)?;
            if seq >= from
                && let Ok(file) = File::open(&path)
            {
                out.push((seq, file, File::open(Self::times(&path)).ok()));
            }
        }
        Ok(out)
    }

    /// Moves this set to [`LogSet::previous`] (replacing what was there), so a new run starts with
    /// an empty log and `--previous` shows the run that ended.
    pub fn archive(&self) -> io::Result<()> {
        if !self.dir().exists() {
            return Ok(());
        }
        self.wait_for_writers(std::time::Duration::from_secs(2));
        let _lock = self.lock(true)?;
        let previous = self.previous();
        let folder = previous.dir().to_owned();
        match std::fs::remove_dir_all(&folder) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let files = self.files();
        if files.is_empty() {
            return Ok(());
        }
        std::fs::create_dir_all(&folder)?;
        for path in files {
            let name = path.file_name().unwrap_or_default();
            std::fs::rename(&path, folder.join(name))?;
            let times = Self::times(&path);
            if times.exists() {
                std::fs::rename(&times, Self::times(&folder.join(name)))?;
            }
        }
        Ok(())
    }
}

/// The sequence number of a log file, from its index (0 when it has none).
fn read_seq(path: &Path) -> io::Result<u64> {
    let mut header = [0u8; RECORD];
    match File::open(LogSet::times(path)) {
        Ok(mut f) => match f.read_exact(&mut header) {
            Ok(()) if &header[..8] == MAGIC => {
                Ok(u64::from_le_bytes(header[8..].try_into().unwrap_or_default()))
            }
            _ => Ok(0),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e),
    }
}

/// A log file's sequence number and its time marks from the `skip`th on.
pub fn read_times(path: &Path, skip: usize) -> io::Result<(u64, Vec<Mark>)> {
    let bytes = match std::fs::read(LogSet::times(path)) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((0, Vec::new())),
        Err(e) => return Err(e),
    };
    if bytes.len() < RECORD || &bytes[..8] != MAGIC {
        return Ok((0, Vec::new()));
    }
    let seq = u64::from_le_bytes(bytes[8..16].try_into().unwrap_or_default());
    let marks = bytes[RECORD..]
        .chunks_exact(RECORD)
        .skip(skip)
        .map(|r| Mark {
            offset: u64::from_le_bytes(r[..8].try_into().unwrap_or_default()),
            nanos: i64::from_le_bytes(r[8..].try_into().unwrap_or_default()),
        })
        .collect();
    Ok((seq, marks))
}

/// Appends to a set, rotating by size and keeping at most `max_files` files.
pub struct LogWriter {
    set: LogSet,
    limits: LogLimits,
}

impl LogWriter {
    pub fn new(set: LogSet, limits: LogLimits) -> Self {
        Self { set, limits }
    }

    /// Writes `chunk`, received at `nanos`, splitting it at a line end where the file would grow
    /// past its size (at the size itself only for a line longer than a whole file). A full file is
    /// rotated when the next bytes come, so `console.log` is always there to read. A file ends
    /// inside a line only when the bytes received so far ended there and the rest did not fit;
    /// readers join such a line again.
    pub fn write(&mut self, chunk: &[u8], nanos: i64) -> io::Result<()> {
        let _lock = self.set.lock(true)?;
        let max = self.limits.max_size.max(1);
        let mut rest = chunk;
        while !rest.is_empty() {
            let path = self.set.console.clone();
            let mut file = OpenOptions::new()
                .create(true)
                .read(true)
                .append(true)
                .open(&path)?;
            let size = file.metadata()?.len();
            let mut times = self.times_file(&path, size == 0)?;
            let room = max.saturating_sub(size);
            let part = if rest.len() as u64 <= room {
                rest
            } else {
                let fits = &rest[..room as usize];
                match fits.iter().rposition(|b| *b == b'\n') {
                    Some(end) => &rest[..=end],
                    None if size > 0 => {
                        drop(file);
                        self.rotate()?;
                        continue;
                    }
                    None => fits,
                }
            };
            // A mark only where a line starts: a line's time is that of its start, and an app
            // printing a character at a time must not grow the index by a record per character.
            let starts_line = ends_a_line(&mut file, size)? || part[..part.len() - 1].contains(&b'\n');
            file.write_all(part)?;
            if starts_line {
                let mut record = [0u8; RECORD];
                record[..8].copy_from_slice(&size.to_le_bytes());
                record[8..].copy_from_slice(&nanos.to_le_bytes());
                times.write_all(&record)?;
            }
            rest = &rest[part.len()..];
        }
        Ok(())
    }

    /// The index of `path` for appending, started with a header when the log is new (or has none).
    fn times_file(&self, path: &Path, fresh: bool) -> io::Result<File> {
        let times = LogSet::times(path);
        let has_header = !fresh && times.metadata().is_ok_and(|m| m.len() >= RECORD as u64);
        let mut file = OpenOptions::new()
            .create(true)
            .write(true)
            .append(has_header)
            .truncate(!has_header)
            .open(&times)?;
        if !has_header {
            let previous = read_seq(&self.set.file(1))?;
            let now = u64::try_from(jiff::Timestamp::now().as_nanosecond()).unwrap_or(0);
            let seq = now.max(previous + 1);
            let mut header = [0u8; RECORD];
            header[..8].copy_from_slice(MAGIC);
            header[8..].copy_from_slice(&seq.to_le_bytes());
            file.write_all(&header)?;
        }
        Ok(file)
    }

    /// `console.log` becomes `.1`, `.1` becomes `.2`, ..., and what would be past `max_files` goes.
    fn rotate(&self) -> io::Result<()> {
        let keep = self.limits.max_files.max(1);
        // The file that would move past the bound goes, and any left beyond it by a larger setting.
        let mut n = keep - 1;
        remove_with_times(&self.set.file(n))?;
        n += 1;
        while self.set.file(n).exists() {
            remove_with_times(&self.set.file(n))?;
            n += 1;
        }
        if keep == 1 {
            return Ok(());
        }
        for n in (1..keep - 1).rev() {
            rename_with_times(&self.set.file(n), &self.set.file(n + 1))?;
        }
        rename_with_times(&self.set.console, &self.set.file(1))
    }
}

/// Whether the next byte written to `file` (of `size` bytes) begins a line.
fn ends_a_line(file: &mut File, size: u64) -> io::Result<bool> {
    if size == 0 {
        return Ok(true);
    }
    let mut last = [0u8; 1];
    file.seek(SeekFrom::Start(size - 1))?;
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

fn remove_with_times(path: &Path) -> io::Result<()> {
    for p in [path.to_owned(), LogSet::times(path)] {
        match std::fs::remove_file(&p) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

fn rename_with_times(from: &Path, to: &Path) -> io::Result<()> {
    if !from.exists() {
        return Ok(());
    }
    remove_with_times(to)?;
    std::fs::rename(from, to)?;
    match std::fs::rename(LogSet::times(from), LogSet::times(to)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Reads `file` from `offset` to its end into `out`; returns how many bytes.
pub fn read_to_end_from(file: &mut File, offset: u64, out: &mut Vec<u8>) -> io::Result<u64> {
    file.seek(SeekFrom::Start(offset))?;
    Ok(file.read_to_end(out)? as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_size: u64, max_files: u32) -> LogLimits {
        LogLimits { max_size, max_files }
    }

    fn text(set: &LogSet) -> String {
        set.read()
            .unwrap()
            .iter()
            .map(|c| String::from_utf8_lossy(&c.bytes).into_owned())
            .collect()
    }

    #[test]
    fn a_full_file_is_rotated_at_a_line_end_and_the_oldest_files_go() {
        let dir = tempfile::tempdir().unwrap();
        let set = LogSet::new(dir.path().join("console.log"));
        let mut w = LogWriter::new(set.clone(), limits(10, 3));
        for (i, line) in ["aaaa\n", "bbbb\n", "cccc\n", "dd\nee\n", "ffff\n"]
            .iter()
            .enumerate()
        {
            w.write(line.as_bytes(), i as i64).unwrap();
        }
        // aaaa bbbb | cccc dd | ee ffff: the first file went, three are kept.
        let names: Vec<_> = set
            .files()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["console.log.2", "console.log.1", "console.log"]);
        assert_eq!(std::fs::read_to_string(set.file(2)).unwrap(), "aaaa\nbbbb\n");
        assert_eq!(std::fs::read_to_string(set.file(1)).unwrap(), "cccc\ndd\n");
        assert_eq!(std::fs::read_to_string(set.file(0)).unwrap(), "ee\nffff\n");
        w.write(b"gg\n", 9).unwrap();
        assert_eq!(text(&set), "cccc\ndd\nee\nffff\ngg\n");
        assert!(set.files().iter().all(|p| p.metadata().unwrap().len() <= 10));
        let read = set.read().unwrap();
        assert!(read.windows(2).all(|w| w[0].seq < w[1].seq), "{read:?}");
        // The chunk "dd\nee\n" was split: both halves keep its time.
        assert_eq!(
            read[0].marks,
            [Mark { offset: 0, nanos: 2 }, Mark { offset: 5, nanos: 3 }]
        );
        assert_eq!(read[1].marks[0], Mark { offset: 0, nanos: 3 });
    }

    #[test]
    fn only_chunks_that_start_a_line_are_marked() {
        let dir = tempfile::tempdir().unwrap();
        let set = LogSet::new(dir.path().join("console.log"));
        let mut w = LogWriter::new(set.clone(), limits(1024, 2));
        for (i, piece) in ["l", "o", "a", "d", "\n", "x", "y\nz", "\n"].iter().enumerate() {
            w.write(piece.as_bytes(), i as i64).unwrap();
        }
        let read = set.read().unwrap();
        assert_eq!(read[0].bytes, b"load\nxy\nz\n");
        assert_eq!(
            read[0].marks,
            [
                Mark { offset: 0, nanos: 0 },
                Mark { offset: 5, nanos: 5 },
                Mark { offset: 6, nanos: 6 }
            ]
        );
    }

    #[test]
    fn a_line_longer_than_a_file_is_cut_and_one_file_means_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let set = LogSet::new(dir.path().join("console.log"));
        let mut w = LogWriter::new(set.clone(), limits(4, 2));
        w.write(b"0123456789\n", 1).unwrap();
        assert_eq!(text(&set), "456789\n");
        assert!(set.files().len() <= 2);

        std::fs::create_dir(dir.path().join("one")).unwrap();
        let one = LogSet::new(dir.path().join("one/console.log"));
        let mut w = LogWriter::new(one.clone(), limits(6, 1));
        w.write(b"abc\n", 1).unwrap();
        w.write(b"def\n", 2).unwrap();
        assert_eq!(one.files().len(), 1);
        assert_eq!(text(&one), "def\n");
    }

    #[test]
    fn the_last_lines_are_read_from_the_newest_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let set = LogSet::new(dir.path().join("console.log"));
        let mut w = LogWriter::new(set.clone(), limits(8, 9));
        for i in 0..20 {
            w.write(format!("line{i:02}\n").as_bytes(), i).unwrap();
        }
        // A line per file: the last 3 lines are in the 4 newest files (one more than asked).
        assert_eq!(set.files().len(), 9);
        let last = set.read_last(3).unwrap();
        assert_eq!(last.len(), 4);
        assert_eq!(last[3].bytes, b"line19\n");
        assert_eq!(set.read_last(100).unwrap().len(), 9);
    }

    #[test]
    fn a_smaller_file_count_removes_the_files_beyond_it() {
        let dir = tempfile::tempdir().unwrap();
        let set = LogSet::new(dir.path().join("console.log"));
        let mut w = LogWriter::new(set.clone(), limits(3, 5));
        for i in 0..5 {
            w.write(format!("{i}\n").as_bytes(), i).unwrap();
        }
        assert_eq!(set.files().len(), 5);
        let mut w = LogWriter::new(set.clone(), limits(2, 2));
        w.write(b"x\n", 9).unwrap();
        assert_eq!(set.files().len(), 2, "{:?}", set.files());
    }

    #[test]
    fn archiving_moves_the_set_to_previous_and_replaces_the_older_one() {
        let dir = tempfile::tempdir().unwrap();
        let set = LogSet::new(dir.path().join("console.log"));
        let mut w = LogWriter::new(set.clone(), limits(4, 3));
        w.write(b"one\ntwo\n", 1).unwrap();
        set.archive().unwrap();
        assert!(!set.exists());
        assert_eq!(text(&set.previous()), "one\ntwo\n");
        w.write(b"new\n", 2).unwrap();
        set.archive().unwrap();
        assert_eq!(text(&set.previous()), "new\n");
        assert_eq!(set.previous().read().unwrap()[0].marks[0].nanos, 2);
        set.archive().unwrap();
        assert!(
            !set.previous().exists(),
            "a run that wrote nothing leaves no previous log"
        );
    }
}
