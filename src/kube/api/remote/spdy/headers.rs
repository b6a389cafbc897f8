//! SPDY/3 header blocks: a count, then length-prefixed names and values, compressed with zlib
//! and the SPDY dictionary. Each direction of a connection is one zlib stream that every header
//! block of that direction continues, each block ending with a sync flush.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::SpdyError;
use super::dictionary::DICTIONARY;

/// Header names and values; names are lower case, several values of one name are joined by NUL.
pub type Headers = Vec<(String, String)>;

/// The most a header block may expand to: the few headers of exec and port-forward are far below.
const MAX_BLOCK: usize = 256 * 1024;

/// The value of header `name` in `headers`.
pub fn get<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Compresses the header blocks this side sends.
pub struct Deflater {
    zlib: Compress,
}

impl Deflater {
    pub fn new() -> Self {
        let mut zlib = Compress::new(Compression::default(), true);
        // A fresh stream takes a dictionary before its first byte; it cannot fail then.
        let _ = zlib.set_dictionary(DICTIONARY);
        Self { zlib }
    }

    /// The compressed block for `headers`, appended to `out`.
    pub fn block(&mut self, headers: &Headers, out: &mut Vec<u8>) -> Result<(), SpdyError> {
        let plain = encode(headers);
        let start = self.zlib.total_in();
        loop {
            let consumed = (self.zlib.total_in() - start) as usize;
            out.reserve(plain.len() - consumed + 64);
            self.zlib
                .compress_vec(&plain[consumed..], out, FlushCompress::Sync)
                .map_err(|e| SpdyError::Protocol(format!("cannot compress headers: {e}")))?;
            // The flush is complete once all input is in and the output was not filled up.
            if (self.zlib.total_in() - start) as usize == plain.len() && out.len() < out.capacity() {
                return Ok(());
            }
        }
    }
}

/// Expands the header blocks the peer sends.
pub struct Inflater {
    zlib: Decompress,
}

impl Inflater {
    pub fn new() -> Self {
        Self {
            zlib: Decompress::new(true),
        }
    }

    /// The headers in one compressed block.
    pub fn block(&mut self, compressed: &[u8]) -> Result<Headers, SpdyError> {
        let bad = |e: String| SpdyError::Protocol(format!("bad header block: {e}"));
        let mut plain = Vec::with_capacity(compressed.len() * 4 + 64);
        let start = self.zlib.total_in();
        loop {
            let consumed = (self.zlib.total_in() - start) as usize;
            if plain.len() == plain.capacity() {
                plain.reserve(plain.capacity().max(256));
            }
            let (in_before, out_before) = (self.zlib.total_in(), self.zlib.total_out());
            match self
                .zlib
                .decompress_vec(&compressed[consumed..], &mut plain, FlushDecompress::Sync)
            {
                Ok(Status::StreamEnd) => return Err(bad("the zlib stream ended".into())),
                Ok(_) => {}
                Err(e) if e.needs_dictionary().is_some() => {
                    self.zlib
                        .set_dictionary(DICTIONARY)
                        .map_err(|e| bad(format!("the peer's dictionary is not SPDY/3's: {e}")))?;
                    continue;
                }
                Err(e) => return Err(bad(e.to_string())),
            }
            if plain.len() > MAX_BLOCK {
                return Err(bad(format!("it expands past {MAX_BLOCK} bytes")));
            }
            let room_left = plain.len() < plain.capacity();
            if (self.zlib.total_in() - start) as usize == compressed.len() && room_left {
                break;
            }
            let stuck = self.zlib.total_in() == in_before && self.zlib.total_out() == out_before;
            if stuck && room_left {
                return Err(bad("zlib made no progress".into()));
            }
        }
        decode(&plain)
    }
}

fn encode(headers: &Headers) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(headers.len() as u32).to_be_bytes());
    for (name, value) in headers {
        for part in [name.as_bytes(), value.as_bytes()] {
            out.extend_from_slice(&(part.len() as u32).to_be_bytes());
            out.extend_from_slice(part);
        }
    }
    out
}

fn decode(plain: &[u8]) -> Result<Headers, SpdyError> {
    let mut rest = plain;
    let mut take = |n: usize| -> Result<&[u8], SpdyError> {
        if rest.len() < n {
            return Err(SpdyError::Protocol("a header block ends early".into()));
        }
        let (part, after) = rest.split_at(n);
        rest = after;
        Ok(part)
    };
    fn length(part: &[u8]) -> usize {
        u32::from_be_bytes([part[0], part[1], part[2], part[3]]) as usize
    }
    let count = length(take(4)?);
    let mut headers = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        let n = length(take(4)?);
        let name = String::from_utf8_lossy(take(n)?).to_ascii_lowercase();
        let n = length(take(4)?);
        let value = String::from_utf8_lossy(take(n)?).into_owned();
        headers.push((name, value));
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    fn headers(pairs: &[(&str, &str)]) -> Headers {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// Two blocks of one stream as another zlib (Python's, level 9, SPDY dictionary, sync
    /// flushes) wrote them: port-forward's error and data streams of one request.
    #[test]
    fn reads_blocks_another_zlib_wrote_with_the_dictionary() {
        let mut inflater = Inflater::new();
        let first = inflater
            .block(&hex(
                "78f9e3c6a7c202253a48f95b044eea16061606409ab308125f99a074cc68004e892545a989b9d0c2863515141500000000ffff",
            ))
            .unwrap();
        assert_eq!(
            first,
            headers(&[("port", "8080"), ("requestid", "0"), ("streamtype", "error")])
        );
        let second = inflater.block(&hex("225333a8a44a04000000ffff")).unwrap();
        assert_eq!(
            second,
            headers(&[("port", "8080"), ("requestid", "0"), ("streamtype", "data")])
        );
    }

    #[test]
    fn blocks_it_writes_read_back_in_order() {
        let mut deflater = Deflater::new();
        let mut inflater = Inflater::new();
        let blocks = [
            headers(&[]),
            headers(&[("streamtype", "data"), ("port", "80")]),
            headers(&[("x-long", &"v".repeat(100_000))]),
            headers(&[("a", "1\u{0}2")]),
        ];
        for block in &blocks {
            let mut out = Vec::new();
            deflater.block(block, &mut out).unwrap();
            assert_eq!(&inflater.block(&out).unwrap(), block);
        }
    }

    #[test]
    fn a_block_without_the_dictionary_or_truncated_is_an_error() {
        assert!(Inflater::new().block(b"not zlib at all").is_err());
        let mut out = Vec::new();
        Deflater::new()
            .block(&headers(&[("port", "8080")]), &mut out)
            .unwrap();
        assert!(Inflater::new().block(&out[..out.len() / 2]).is_err());
    }

    #[test]
    fn names_come_out_lower_case_and_get_ignores_case() {
        let h = decode(&encode(&headers(&[("StreamType", "error")]))).unwrap();
        assert_eq!(h, headers(&[("streamtype", "error")]));
        assert_eq!(get(&h, "STREAMTYPE"), Some("error"));
    }
}
