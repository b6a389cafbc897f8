//! A container's logs: what jube captured from its scripts and app (`logs/console.log`, a rotated
//! set with time marks, see `logset`) and the image's own log files (`APP_BASE/logs/*.log`), read
//! whole, by their last lines, or followed.

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::container::logread::{self, Follower, Query};
use crate::container::logset::LogSet;

/// One log file of a container, with the name `--file` matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFile {
    pub name: String,
    pub path: PathBuf,
    /// The console log: a rotated set with a time for each line.
    pub console: bool,
}

impl LogFile {
    /// The console log at `path` (the current run's, or the previous run's).
    pub fn console(path: &Path) -> Self {
        Self {
            name: "console.log".into(),
            path: path.to_owned(),
            console: true,
        }
    }
}

/// Where a follower stands in one file.
#[derive(Debug)]
pub enum Position {
    Console(Follower),
    File(u64),
}

/// The container's log files: console.log first, then the app's own, by name.
pub fn files(console_log: &Path, app_base: &Path) -> Vec<LogFile> {
    let mut out = vec![LogFile::console(console_log)];
    if let Ok(entries) = std::fs::read_dir(app_base.join("logs")) {
        let mut own: Vec<LogFile> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
            .map(|e| LogFile {
                name: e.file_name().to_string_lossy().into_owned(),
                path: e.path(),
                console: false,
            })
            .collect();
        own.sort_by(|a, b| a.name.cmp(&b.name));
        out.extend(own);
    }
    out
}

/// The files `--file NAME` selects (by file name, with or without `.log`), or all of them.
pub fn select(all: Vec<LogFile>, wanted: Option<&str>) -> Result<Vec<LogFile>, String> {
    let Some(wanted) = wanted else { return Ok(all) };
    let found: Vec<LogFile> = all
        .iter()
        .filter(|f| f.name == wanted || f.name.trim_end_matches(".log") == wanted)
        .cloned()
        .collect();
    if found.is_empty() {
        let names = all.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ");
        return Err(format!("no log file `{wanted}`; this container has: {names}"));
    }
    Ok(found)
}

/// The files a request shows: the previous run's console log; the console log alone when lines
/// are picked or stamped by time (`timed`: the app's own files have no times); else all of them,
/// or the one `--file` names.
pub fn choose(
    console: &Path,
    app_base: &Path,
    previous: bool,
    timed: bool,
    file: Option<&str>,
) -> Result<Vec<LogFile>, String> {
    let chosen = select(files(console, app_base), file)?;
    if timed && chosen.iter().any(|f| !f.console) {
        if file.is_some() {
            return Err(format!(
                "`{}` is the app's own log file: only console.log has a time for each line \
                 (drop --since/--timestamps, or pick --file console.log)",
                file.unwrap_or_default()
            ));
        }
        return Ok(vec![LogFile::console(console)]);
    }
    if previous {
        if chosen.iter().any(|f| !f.console) && file.is_some() {
            return Err("--previous shows console.log: the app's own log files are not kept per run".into());
        }
        return Ok(vec![LogFile::console(LogSet::new(console).previous().console())]);
    }
    Ok(chosen)
}

/// Whether the container's previous run left a console log.
pub fn has_previous(console: &Path) -> bool {
    LogSet::new(console).previous().exists()
}

/// The last `n` lines of `bytes` (all of them when `n` is `None`).
pub fn tail(bytes: &[u8], n: Option<usize>) -> &[u8] {
    let Some(n) = n else { return bytes };
    if n == 0 {
        return &bytes[bytes.len()..];
    }
    // A final newline ends the last line; it does not start an empty one.
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let mut seen = 0;
    for (i, b) in body.iter().enumerate().rev() {
        if *b == b'\n' {
            seen += 1;
            if seen == n {
                return &bytes[i + 1..];
            }
        }
    }
    bytes
}

/// Writes what `query` picks of each file (`since` and `timestamps` apply to the console log,
/// the only one with times), with a `==> name <==` header before each when several files have
/// something to show, as `tail` does. Returns where each file ends, to follow from there.
pub fn print(files: &[LogFile], query: &Query, out: &mut dyn Write) -> io::Result<Vec<(PathBuf, Position)>> {
    let mut contents = Vec::new();
    let mut positions = Vec::new();
    for file in files {
        if file.console {
            let set = LogSet::new(&file.path);
            let read = match (query.tail, query.since) {
                (Some(n), None) => set.read_last(n)?,
                _ => set.read()?,
            };
            let mut text = Vec::new();
            logread::render(&read, query, &mut text)?;
            contents.push(text);
            positions.push((
                file.path.clone(),
                Position::Console(Follower::after(set, &read, query.timestamps)),
            ));
        } else {
            let bytes = std::fs::read(&file.path).unwrap_or_default();
            positions.push((file.path.clone(), Position::File(bytes.len() as u64)));
            let mut part = tail(&bytes, query.tail).to_vec();
            if !part.is_empty() && !part.ends_with(b"\n") {
                part.push(b'\n');
            }
            contents.push(part);
        }
    }
    let shown = contents.iter().filter(|c| !c.is_empty()).count();
    let mut first = true;
    for (file, part) in files.iter().zip(&contents) {
        if part.is_empty() {
            continue;
        }
        if shown > 1 {
            if !first {
                out.write_all(b"\n")?;
            }
            writeln!(out, "==> {} <==", file.name)?;
        }
        first = false;
        out.write_all(part)?;
    }
    out.flush()?;
    Ok(positions)
}

/// Follows files from the given positions until `keep_going` says stop: new bytes are written as
/// they come, the console log through its rotations, files that appear are picked up from their
/// start, and a file that shrank (recreated) is read again from its start.
pub fn follow(
    mut list: impl FnMut() -> Vec<LogFile>,
    mut positions: Vec<(PathBuf, Position)>,
    out: &mut dyn Write,
    mut keep_going: impl FnMut() -> bool,
) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let mut wrote = false;
        for file in list() {
            let position = match positions.iter_mut().find(|(p, _)| *p == file.path) {
                Some((_, o)) => o,
                None => {
                    let start = if file.console {
                        Position::Console(Follower::after(LogSet::new(&file.path), &[], false))
                    } else {
                        Position::File(0)
                    };
                    positions.push((file.path.clone(), start));
                    &mut positions.last_mut().expect("just pushed").1
                }
            };
            let offset = match position {
                Position::Console(follower) => {
                    wrote |= follower.poll(out)?;
                    continue;
                }
                Position::File(offset) => offset,
            };
            let Ok(mut f) = std::fs::File::open(&file.path) else {
                continue;
            };
            let len = f.metadata().map(|m| m.len()).unwrap_or(0);
            if len < *offset {
                *offset = 0;
            }
            if len == *offset {
                continue;
            }
            f.seek(SeekFrom::Start(*offset))?;
            loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                out.write_all(&buf[..n])?;
                *offset += n as u64;
                wrote = true;
            }
        }
        if wrote {
            out.flush()?;
        }
        if !keep_going() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_counts_lines_from_the_end() {
        assert_eq!(tail(b"a\nb\nc\n", Some(2)), b"b\nc\n");
        assert_eq!(tail(b"a\nb\nc", Some(2)), b"b\nc");
        assert_eq!(tail(b"a\nb\n", Some(5)), b"a\nb\n");
        assert_eq!(tail(b"a\nb\n", Some(0)), b"");
        assert_eq!(tail(b"a\nb\n", None), b"a\nb\n");
    }

    #[test]
    fn files_lists_console_then_app_logs_and_select_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let app = dir.path().join("root");
        std::fs::create_dir_all(app.join("logs")).unwrap();
        std::fs::write(app.join("logs/zeta.log"), "z\n").unwrap();
        std::fs::write(app.join("logs/app.log"), "a\n").unwrap();
        std::fs::write(app.join("logs/notes.txt"), "n\n").unwrap();
        let console = dir.path().join("console.log");
        std::fs::write(&console, "c\n").unwrap();
        let all = files(&console, &app);
        let names: Vec<_> = all.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["console.log", "app.log", "zeta.log"]);
        assert_eq!(select(all.clone(), Some("app")).unwrap().len(), 1);
        assert!(
            select(all.clone(), Some("nope"))
                .unwrap_err()
                .contains("console.log, app.log")
        );
        let mut out = Vec::new();
        let query = Query {
            tail: Some(1),
            ..Query::default()
        };
        print(&all, &query, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("==> console.log <==\nc\n\n==> app.log <==\na\n"),
            "{text}"
        );
    }

    #[test]
    fn follow_picks_up_growth_new_files_and_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.log");
        std::fs::write(&a, "old\n").unwrap();
        let b = dir.path().join("b.log");
        let listed = {
            let (a, b) = (a.clone(), b.clone());
            move || {
                let mut v = vec![LogFile {
                    name: "a".into(),
                    path: a.clone(),
                    console: false,
                }];
                if b.exists() {
                    v.push(LogFile {
                        name: "b".into(),
                        path: b.clone(),
                        console: false,
                    });
                }
                v
            }
        };
        let mut out = Vec::new();
        let mut round = 0;
        follow(listed, vec![(a.clone(), Position::File(4))], &mut out, || {
            round += 1;
            match round {
                1 => std::fs::write(&a, "old\nnew\n").unwrap(),
                2 => std::fs::write(&b, "bee\n").unwrap(),
                3 => std::fs::write(&a, "x\n").unwrap(),
                _ => return false,
            }
            true
        })
        .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "new\nbee\nx\n");
    }
}
