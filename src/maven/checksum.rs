//! Checksums of repository files: the sidecar algorithms Maven publishes, lenient parsing of their
//! contents, and a hasher that runs while bytes stream.

use sha2::digest::DynDigest;

/// The checksum sidecars jube understands, strongest first: the order they are looked for in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha512,
    Sha256,
    Sha1,
    Md5,
}

impl Algorithm {
    pub const STRONGEST_FIRST: [Algorithm; 4] = [Self::Sha512, Self::Sha256, Self::Sha1, Self::Md5];
    /// The sidecars jube writes beside what it installs or deploys, as Maven does.
    pub const WRITTEN: [Algorithm; 2] = [Self::Sha1, Self::Md5];

    /// The sidecar's file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Sha512 => "sha512",
            Self::Sha256 => "sha256",
            Self::Sha1 => "sha1",
            Self::Md5 => "md5",
        }
    }

    pub fn hex_len(self) -> usize {
        match self {
            Self::Sha512 => 128,
            Self::Sha256 => 64,
            Self::Sha1 => 40,
            Self::Md5 => 32,
        }
    }

    pub fn hasher(self) -> Hasher {
        let inner: Box<dyn DynDigest + Send> = match self {
            Self::Sha512 => Box::new(sha2::Sha512::default()),
            Self::Sha256 => Box::new(sha2::Sha256::default()),
            Self::Sha1 => Box::new(sha1::Sha1::default()),
            Self::Md5 => Box::new(md5::Md5::default()),
        };
        Hasher {
            algorithm: self,
            inner,
        }
    }

    /// Hex digest of a whole buffer.
    pub fn digest_hex(self, bytes: &[u8]) -> String {
        let mut h = self.hasher();
        h.update(bytes);
        h.finish_hex()
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Sha512 => "SHA-512",
            Self::Sha256 => "SHA-256",
            Self::Sha1 => "SHA-1",
            Self::Md5 => "MD5",
        })
    }
}

/// A running digest.
pub struct Hasher {
    algorithm: Algorithm,
    inner: Box<dyn DynDigest + Send>,
}

impl Hasher {
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.inner.update(bytes);
    }

    pub fn finish_hex(self) -> String {
        hex::encode(self.inner.finalize())
    }
}

/// The hex digests of [`Algorithm::WRITTEN`] over everything `reader` yields, and its length,
/// reading a buffer at a time.
pub fn written_digests(reader: &mut impl std::io::Read) -> std::io::Result<(Vec<(Algorithm, String)>, u64)> {
    let mut hashers: Vec<Hasher> = Algorithm::WRITTEN.iter().map(|a| a.hasher()).collect();
    let mut buf = vec![0u8; 256 * 1024];
    let mut len = 0u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        len += n as u64;
        hashers.iter_mut().for_each(|h| h.update(&buf[..n]));
    }
    let digests = hashers
        .into_iter()
        .map(|h| (h.algorithm(), h.finish_hex()))
        .collect();
    Ok((digests, len))
}

/// The digest of `algorithm` among `sums`, as [`written_digests`] gives them.
pub fn digest_in(sums: &[(Algorithm, String)], algorithm: Algorithm) -> Option<&str> {
    sums.iter()
        .find(|(a, _)| *a == algorithm)
        .map(|(_, s)| s.as_str())
}

/// The hex digest in a sidecar file. Repositories write these many ways: the bare digest, the
/// digest followed by a file name (`sha1sum` style), BSD style (`SHA1 (file) = digest`), upper
/// case, trailing newlines. The first token of the right length that is all hex wins.
pub fn parse_sidecar(text: &str, algorithm: Algorithm) -> Option<String> {
    let is_digest = |t: &str| t.len() == algorithm.hex_len() && t.bytes().all(|b| b.is_ascii_hexdigit());
    if let Some((_, after)) = text.rsplit_once(" = ")
        && let Some(t) = after.split_whitespace().next().filter(|t| is_digest(t))
    {
        return Some(t.to_ascii_lowercase());
    }
    text.split_whitespace()
        .find(|t| is_digest(t))
        .map(str::to_ascii_lowercase)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO_SHA1: &str = "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d";

    #[test]
    fn digests_match_known_values() {
        assert_eq!(Algorithm::Sha1.digest_hex(b"hello"), HELLO_SHA1);
        assert_eq!(
            Algorithm::Md5.digest_hex(b"hello"),
            "5d41402abc4b2a76b9719d911017c592"
        );
        assert_eq!(
            Algorithm::Sha256.digest_hex(b"hello"),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(Algorithm::Sha512.digest_hex(b"").len(), 128);
    }

    #[test]
    fn streaming_equals_whole() {
        let mut h = Algorithm::Sha1.hasher();
        h.update(b"hel");
        h.update(b"lo");
        assert_eq!(h.finish_hex(), HELLO_SHA1);
    }

    #[test]
    fn sidecars_are_read_leniently() {
        let a = Algorithm::Sha1;
        for text in [
            HELLO_SHA1.to_string(),
            format!("{HELLO_SHA1}\n"),
            format!("{}  java-1.0-image.zip\n", HELLO_SHA1.to_uppercase()),
            format!("SHA1 (java-1.0-image.zip) = {HELLO_SHA1}"),
            format!("  {HELLO_SHA1}\r\n"),
        ] {
            assert_eq!(parse_sidecar(&text, a).as_deref(), Some(HELLO_SHA1), "{text:?}");
        }
        assert_eq!(parse_sidecar("", a), None);
        assert_eq!(parse_sidecar("<html>not found</html>", a), None);
        assert_eq!(parse_sidecar("abc123", a), None);
        // An MD5 is not mistaken for a SHA-1.
        assert_eq!(parse_sidecar("5d41402abc4b2a76b9719d911017c592", a), None);
    }
}
