//! A secret (a repository or proxy password) that no message can show: its `Debug` and `Display`
//! print `***`, so a `{:?}` of any struct holding one, an error or a log line never leaks it.
//! Only the HTTP layer asks for the value, by name ([`Secret::expose`]).

use std::fmt;

/// What is printed in place of a secret.
pub const MASK: &str = "***";

#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself: for the HTTP client's Authorization header, never for messages.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints_its_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?} {s:#?}"), "*** *** ***");
        #[derive(Debug)]
        #[allow(dead_code)] // read only through Debug
        struct Holder {
            password: Secret,
        }
        let shown = format!("{:?}", Holder { password: s.clone() });
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(s.expose(), "hunter2");
    }
}
