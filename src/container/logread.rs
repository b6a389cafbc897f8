//! Reading a console log set as one stream of timed lines: what `--since`, `--tail` and
//! `--timestamps` pick and show, and following it across rotations without losing or repeating a
//! byte.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

use crate::container::logset::{Chunked, LogSet, Mark, read_to_end_from};

/// What to show of a console log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// Only lines that came at or after this time (Unix nanoseconds).
    pub since: Option<i64>,
    /// Only the last N lines (of those `since` keeps).
    pub tail: Option<usize>,
    /// Each line after its arrival time, RFC 3339 with nanoseconds, and a space.
    pub timestamps: bool,
}

/// One line of the stream (its newline included when it has one) and when it came.
#[derive(Debug, PartialEq, Eq)]
pub struct Line {
    pub bytes: Vec<u8>,
    pub nanos: i64,
}

/// The time of the byte at `offset`: that of the last mark at or before it (the first mark's,
/// or `fallback`, for bytes before any).
fn time_at(marks: &[Mark], offset: u64, fallback: i64) -> i64 {
    let after = marks.partition_point(|m| m.offset <= offset);
    match after {
        0 => marks.first().map_or(fallback, |m| m.nanos),
        n => marks[n - 1].nanos,
    }
}

/// The lines of a set's files, oldest first; a line cut across two files (longer than a file)
/// is joined again.
pub fn lines(files: &[Chunked]) -> Vec<Line> {
    let mut out: Vec<Line> = Vec::new();
    let mut open = false;
    for file in files {
        let mut start = 0;
        while start < file.bytes.len() {
            let end = file.bytes[start..]
                .iter()
                .position(|b| *b == b'\n')
                .map_or(file.bytes.len(), |i| start + i + 1);
            let piece = &file.bytes[start..end];
            match out.last_mut() {
                Some(last) if open => last.bytes.extend_from_slice(piece),
                _ => out.push(Line {
                    bytes: piece.to_vec(),
                    nanos: time_at(&file.marks, start as u64, file.fallback_nanos),
                }),
            }
            open = !piece.ends_with(b"\n");
            start = end;
        }
    }
    out
}

/// RFC 3339 with as many fractional digits as needed, as Go's `time.RFC3339Nano` (what the
/// kubelet prints) writes it.
pub fn format_time(nanos: i64) -> String {
    jiff::Timestamp::from_nanosecond(i128::from(nanos))
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// Writes the lines `query` picks from `files`.
pub fn render(files: &[Chunked], query: &Query, out: &mut dyn Write) -> io::Result<()> {
    let all = lines(files);
    let kept: Vec<&Line> = all
        .iter()
        .filter(|l| query.since.is_none_or(|since| l.nanos >= since))
        .collect();
    let from = query.tail.map_or(0, |n| kept.len().saturating_sub(n));
    for line in &kept[from..] {
        if query.timestamps {
            write!(out, "{} ", format_time(line.nanos))?;
        }
        out.write_all(&line.bytes)?;
        if !line.bytes.ends_with(b"\n") {
            out.write_all(b"\n")?;
        }
    }
    Ok(())
}

/// Where a follower of a set stands: the file (by sequence number) and the byte in it.
#[derive(Debug)]
pub struct Follower {
    set: LogSet,
    seq: u64,
    offset: u64,
    timestamps: bool,
    marks: Vec<Mark>,
    at_line_start: bool,
}

impl Follower {
    /// A follower that goes on after what `files` (a [`LogSet::read`] of `set`) holds.
    pub fn after(set: LogSet, files: &[Chunked], timestamps: bool) -> Self {
        let last = files.last();
        Self {
            set,
            seq: last.map_or(0, |f| f.seq),
            offset: last.map_or(0, |f| f.bytes.len() as u64),
            timestamps,
            marks: last.map(|f| f.marks.clone()).unwrap_or_default(),
            at_line_start: last.is_none_or(|f| f.bytes.is_empty() || f.bytes.ends_with(b"\n")),
        }
    }

    /// Writes what was added since the last call, through the rotations in between: a file that
    /// was rotated is read to its end from a handle opened before the next rotation could remove
    /// it, then the files after it from their start. Returns whether anything was written.
    pub fn poll(&mut self, out: &mut dyn Write) -> io::Result<bool> {
        let mut wrote = false;
        for (seq, mut file, times) in self.set.open_from(self.seq)? {
            if seq != self.seq {
                self.seq = seq;
                self.offset = 0;
                self.marks.clear();
            }
            let mut bytes = Vec::new();
            let n = read_to_end_from(&mut file, self.offset, &mut bytes)?;
            if n == 0 {
                continue;
            }
            if self.timestamps {
                self.read_marks(times)?;
            }
            self.write(&bytes, out)?;
            self.offset += n;
            wrote = true;
        }
        Ok(wrote)
    }

    fn read_marks(&mut self, times: Option<File>) -> io::Result<()> {
        let Some(mut times) = times else { return Ok(()) };
        times.seek(SeekFrom::Start(16 + 16 * self.marks.len() as u64))?;
        let mut raw = Vec::new();
        times.read_to_end(&mut raw)?;
        self.marks.extend(raw.chunks_exact(16).map(|r| Mark {
            offset: u64::from_le_bytes(r[..8].try_into().unwrap_or_default()),
            nanos: i64::from_le_bytes(r[8..].try_into().unwrap_or_default()),
        }));
        Ok(())
    }

    fn write(&mut self, bytes: &[u8], out: &mut dyn Write) -> io::Result<()> {
        if !self.timestamps {
            return out.write_all(bytes);
        }
        let mut start = 0;
        while start < bytes.len() {
            let end = bytes[start..]
                .iter()
                .position(|b| *b == b'\n')
                .map_or(bytes.len(), |i| start + i + 1);
            if self.at_line_start {
                let now = i64::try_from(jiff::Timestamp::now().as_nanosecond()).unwrap_or(0);
                let nanos = time_at(&self.marks, self.offset + start as u64, now);
                write!(out, "{} ", format_time(nanos))?;
            }
            out.write_all(&bytes[start..end])?;
            self.at_line_start = bytes[end - 1] == b'\n';
            start = end;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::logset::LogWriter;
    use crate::container::logsize::LogLimits;

    const SEC: i64 = 1_000_000_000;

    fn written(chunks: &[(&str, i64)], max_size: u64, max_files: u32) -> (tempfile::TempDir, LogSet) {
        let dir = tempfile::tempdir().unwrap();
        let set = LogSet::new(dir.path().join("console.log"));
        let mut w = LogWriter::new(set.clone(), LogLimits { max_size, max_files });
        for (text, nanos) in chunks {
            w.write(text.as_bytes(), *nanos).unwrap();
        }
        (dir, set)
    }

    fn shown(set: &LogSet, query: Query) -> String {
        let mut out = Vec::new();
        render(&set.read().unwrap(), &query, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn lines_carry_the_time_of_the_chunk_they_start_in_across_rotated_files() {
        let (_dir, set) = written(
            &[
                ("one\ntwo\n", SEC),
                ("thr", 2 * SEC),
                ("ee\nfour\n", 3 * SEC),
                ("five", 4 * SEC),
            ],
            9,
            5,
        );
        let got: Vec<(String, i64)> = lines(&set.read().unwrap())
            .into_iter()
            .map(|l| (String::from_utf8(l.bytes).unwrap(), l.nanos / SEC))
            .collect();
        assert_eq!(
            got,
            [
                ("one\n".into(), 1),
                ("two\n".into(), 1),
                ("three\n".into(), 2),
                ("four\n".into(), 3),
                ("five".into(), 4)
            ]
        );
    }

    #[test]
    fn since_tail_and_timestamps_pick_and_stamp_lines() {
        let (_dir, set) = written(
            &[("a\nb\n", SEC), ("c\n", 2 * SEC + 5), ("d\n", 3 * SEC)],
            1024,
            5,
        );
        assert_eq!(shown(&set, Query::default()), "a\nb\nc\nd\n");
        assert_eq!(
            shown(
                &set,
                Query {
                    since: Some(2 * SEC),
                    ..Query::default()
                }
            ),
            "c\nd\n"
        );
        assert_eq!(
            shown(
                &set,
                Query {
                    tail: Some(3),
                    timestamps: true,
                    ..Query::default()
                }
            ),
            "1970-01-01T00:00:01Z b\n1970-01-01T00:00:02.000000005Z c\n1970-01-01T00:00:03Z d\n"
        );
        assert_eq!(
            shown(
                &set,
                Query {
                    since: Some(SEC),
                    tail: Some(0),
                    ..Query::default()
                }
            ),
            ""
        );
    }

    #[test]
    fn a_follower_sees_every_byte_once_across_many_rotations() {
        let (_dir, set) = written(&[("0\n", 0)], 8, 3);
        let mut follower = Follower::after(set.clone(), &set.read().unwrap(), false);
        let mut w = LogWriter::new(
            set.clone(),
            LogLimits {
                max_size: 8,
                max_files: 3,
            },
        );
        let mut out = Vec::new();
        for i in 1..200 {
            w.write(format!("{i}\n").as_bytes(), i).unwrap();
            // Fewer polls than rotations, but never more than the kept files behind.
            if i % 3 == 0 {
                follower.poll(&mut out).unwrap();
            }
        }
        follower.poll(&mut out).unwrap();
        let expected: String = (1..200).map(|i| format!("{i}\n")).collect();
        assert_eq!(String::from_utf8(out).unwrap(), expected);
        assert!(set.files().len() <= 3);
    }

    #[test]
    fn a_follower_stamps_each_line_once_even_when_it_comes_in_pieces() {
        let (_dir, set) = written(&[], 1024, 2);
        let mut follower = Follower::after(set.clone(), &set.read().unwrap(), true);
        let mut w = LogWriter::new(set.clone(), LogLimits::default());
        let mut out = Vec::new();
        w.write(b"hal", SEC).unwrap();
        follower.poll(&mut out).unwrap();
        w.write(b"f\nnext\n", 2 * SEC).unwrap();
        follower.poll(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "1970-01-01T00:00:01Z half\n1970-01-01T00:00:02Z next\n"
        );
    }
}
