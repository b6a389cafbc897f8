//! The bearer token that guards the daemon's API: read from the file the user names, recorded
//! for jube's own clients beside `daemon.addr`, and compared without leaking where it differs.

use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Shorter tokens are refused: they can be guessed over the network.
pub const MIN_TOKEN_LEN: usize = 16;

/// How to make a good token, for the error messages.
pub const HOW_TO_MAKE_ONE: &str = "make one with `head -c 32 /dev/urandom | base64 > FILE; chmod 600 FILE`";

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot read the token file {}: {source}; {HOW_TO_MAKE_ONE}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("the token file {} {problem}; {HOW_TO_MAKE_ONE}", path.display())]
    Bad { path: PathBuf, problem: String },
}

/// A bearer token. Its `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    /// Reads a token file: the token is its content without surrounding whitespace (editors add
    /// a final newline).
    pub fn from_file(path: &Path) -> Result<Self, TokenError> {
        let text = std::fs::read_to_string(path).map_err(|source| TokenError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).map_err(|problem| TokenError::Bad {
            path: path.to_owned(),
            problem,
        })
    }

    /// A token from text; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let token = text.trim();
        if token.is_empty() {
            return Err("is empty".into());
        }
        // An HTTP header carries it: visible ASCII only, no spaces.
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(
                "holds characters other than visible ASCII (spaces, control characters or non-ASCII)".into(),
            );
        }
        if token.len() < MIN_TOKEN_LEN {
            return Err(format!(
                "holds a token of {} characters; at least {MIN_TOKEN_LEN} are needed",
                token.len()
            ));
        }
        Ok(Self(token.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `offered` is this token, in time that depends on neither where nor whether they
    /// differ: both are hashed first, so even their lengths stay hidden.
    pub fn matches(&self, offered: &str) -> bool {
        let want = Sha256::digest(self.0.as_bytes());
        let got = Sha256::digest(offered.as_bytes());
        want.as_slice().ct_eq(got.as_slice()).into()
    }
}

/// The token a running daemon of this JUBE_HOME requires, as it recorded it (`daemon.token`,
/// mode 0600); `None` when it requires none.
pub fn recorded(path: &Path) -> Option<Token> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| Token::parse(&t).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_matches_itself_only() {
        let token = Token::parse("0123456789abcdef-secret\n").unwrap();
        assert!(token.matches("0123456789abcdef-secret"));
        assert!(!token.matches("0123456789abcdef-secreT"));
        assert!(!token.matches("0123456789abcdef-secret "));
        assert!(!token.matches(""));
    }

    #[test]
    fn weak_or_unsendable_tokens_are_refused() {
        assert!(Token::parse("  \n").unwrap_err().contains("empty"));
        assert!(Token::parse("short").unwrap_err().contains("at least 16"));
        assert!(
            Token::parse("0123456789 abcdefgh")
                .unwrap_err()
                .contains("visible ASCII")
        );
        assert!(
            Token::parse("0123456789abcdefé")
                .unwrap_err()
                .contains("visible ASCII")
        );
    }

    #[test]
    fn debug_hides_the_secret() {
        let token = Token::parse("0123456789abcdef-secret").unwrap();
        assert!(!format!("{token:?}").contains("secret"));
    }
}
