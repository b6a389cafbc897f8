//! Names that become one file or folder name: checked once, then trusted.
//!
//! Versions, classifiers, extensions, artifactIds and groupIds come from places jube does not
//! control (a remote `maven-metadata.xml`, settings.xml, the command line, a manifest, a state file
//! read back) and end up in paths under the local repository. A [`PathPart`] can only be built by
//! [`PathPart::new`], which refuses anything that could leave its folder or that some platform
//! would read differently from what was written (Windows strips trailing dots and spaces, reserves
//! device names and reads `:` as a drive or a stream), so code that joins one onto a folder needs
//! no check of its own.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

/// The longest name accepted, in bytes: file systems allow 255, and Maven adds to a version
/// (`-<classifier>.<extension>`, `.sha512`, `.lastUpdated`) to make file names.
pub const MAX_LEN: usize = 200;

/// Characters Windows does not allow in a name (besides `/`, `\`, `:` and control characters,
/// which are refused for their own reasons).
const WINDOWS_FORBIDDEN: &[char] = &['<', '>', '"', '|', '?', '*'];

/// Device names Windows reserves, whatever the case and with any extension (`con.txt` too).
const RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9",
    "COM¹", "COM²", "COM³", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9", "LPT¹",
    "LPT²", "LPT³",
];

/// One checked file or folder name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct PathPart(String);

/// Why a value cannot be a file or folder name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Empty,
    DotOrDotDot,
    Separator(char),
    Control(char),
    Colon,
    WindowsForbidden(char),
    TrailingDotOrSpace,
    Reserved(String),
    TooLong(usize),
    /// A groupId with an empty part (`a..b`, `.a`, `a.`).
    EmptyGroupPart,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("it is empty"),
            Self::DotOrDotDot => f.write_str("`.` and `..` name the folder itself or its parent"),
            Self::Separator(c) => write!(f, "it contains the path separator `{c}`"),
            Self::Control(c) => write!(f, "it contains the control character {:?}", c),
            Self::Colon => f.write_str("it contains `:` (a drive letter or a stream on Windows)"),
            Self::WindowsForbidden(c) => {
                write!(f, "it contains `{c}`, which Windows does not allow in names")
            }
            Self::TrailingDotOrSpace => f.write_str("it ends with a dot or a space, which Windows drops"),
            Self::Reserved(name) => write!(f, "`{name}` is a device name on Windows"),
            Self::TooLong(len) => write!(f, "it is {len} bytes long, more than the {MAX_LEN} allowed"),
            Self::EmptyGroupPart => f.write_str("a groupId part between dots is empty"),
        }
    }
}

/// A value refused as a file or folder name, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{}` cannot be a file or folder name: {problem}", shown(value))]
pub struct UnsafePathPart {
    pub value: String,
    pub problem: Problem,
}

/// The value for messages: control characters escaped, and a long value cut short.
fn shown(value: &str) -> String {
    const SHOWN: usize = 80;
    let escaped: String = value.escape_debug().collect();
    if escaped.chars().count() <= SHOWN {
        return escaped;
    }
    let head: String = escaped.chars().take(SHOWN).collect();
    format!("{head}… ({} bytes)", value.len())
}

impl PathPart {
    pub fn new(value: &str) -> Result<Self, UnsafePathPart> {
        match problem(value) {
            None => Ok(Self(value.to_owned())),
            Some(problem) => Err(UnsafePathPart {
                value: value.to_owned(),
                problem,
            }),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn problem(value: &str) -> Option<Problem> {
    if value.is_empty() {
        return Some(Problem::Empty);
    }
    if value == "." || value == ".." {
        return Some(Problem::DotOrDotDot);
    }
    for c in value.chars() {
        match c {
            '/' | '\\' => return Some(Problem::Separator(c)),
            ':' => return Some(Problem::Colon),
            c if c.is_control() => return Some(Problem::Control(c)),
            c if WINDOWS_FORBIDDEN.contains(&c) => return Some(Problem::WindowsForbidden(c)),
            _ => {}
        }
    }
    if value.ends_with(['.', ' ']) {
        return Some(Problem::TrailingDotOrSpace);
    }
    // Windows reads `CON`, `con.txt` and `CON .txt` all as the console device.
    let stem = value.split('.').next().unwrap_or(value).trim_end_matches(' ');
    if let Some(reserved) = RESERVED.iter().find(|r| r.eq_ignore_ascii_case(stem)) {
        return Some(Problem::Reserved((*reserved).to_owned()));
    }
    if value.len() > MAX_LEN {
        return Some(Problem::TooLong(value.len()));
    }
    None
}

impl Deref for PathPart {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for PathPart {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl AsRef<std::path::Path> for PathPart {
    fn as_ref(&self) -> &std::path::Path {
        std::path::Path::new(&self.0)
    }
}

impl Borrow<str> for PathPart {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PathPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for PathPart {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for PathPart {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for PathPart {
    fn eq(&self, other: &String) -> bool {
        self.0 == *other
    }
}

impl PartialEq<PathPart> for str {
    fn eq(&self, other: &PathPart) -> bool {
        self == other.0
    }
}

impl PartialEq<PathPart> for &str {
    fn eq(&self, other: &PathPart) -> bool {
        *self == other.0
    }
}

impl PartialEq<PathPart> for String {
    fn eq(&self, other: &PathPart) -> bool {
        *self == other.0
    }
}

impl TryFrom<&str> for PathPart {
    type Error = UnsafePathPart;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl std::str::FromStr for PathPart {
    type Err = UnsafePathPart;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::new(value)
    }
}

/// Reading a state file or record checks its values again: a file edited by hand, or written by
/// another program, is no more trusted than a remote repository.
impl<'de> serde::Deserialize<'de> for PathPart {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::new(&s).map_err(serde::de::Error::custom)
    }
}

/// A groupId: dot-separated parts, each a [`PathPart`], none empty. Its path is the parts as
/// nested folders (`io.fabric8` → `io/fabric8`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct GroupId(String);

impl GroupId {
    pub fn new(value: &str) -> Result<Self, UnsafePathPart> {
        if value.is_empty() {
            return Err(UnsafePathPart {
                value: value.to_owned(),
                problem: Problem::Empty,
            });
        }
        for part in value.split('.') {
            if part.is_empty() {
                return Err(UnsafePathPart {
                    value: value.to_owned(),
                    problem: Problem::EmptyGroupPart,
                });
            }
            if let Some(problem) = problem(part) {
                return Err(UnsafePathPart {
                    value: value.to_owned(),
                    problem,
                });
            }
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `io/fabric8/jube`: the folders, `/`-separated (also how repository URLs spell them).
    pub fn path(&self) -> String {
        self.0.replace('.', "/")
    }
}

impl Deref for GroupId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for GroupId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for GroupId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for GroupId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for GroupId {
    fn eq(&self, other: &String) -> bool {
        self.0 == *other
    }
}

impl std::str::FromStr for GroupId {
    type Err = UnsafePathPart;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::new(value)
    }
}

impl<'de> serde::Deserialize<'de> for GroupId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::new(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(value: &str) -> Problem {
        PathPart::new(value).expect_err(value).problem
    }

    #[test]
    fn ordinary_maven_names_pass() {
        for ok in [
            "1.0",
            "1.0-SNAPSHOT",
            "1.0-20240101.120000-3",
            "image",
            "zip",
            "tar.gz",
            "my_app-2",
            "1..2",
            ".hidden",
            "CONSOLE",
            "COM10",
            "LPT0",
            "versión",
        ] {
            assert_eq!(PathPart::new(ok).unwrap().as_str(), ok);
        }
        assert_eq!(PathPart::new(&"a".repeat(MAX_LEN)).unwrap().len(), MAX_LEN);
    }

    #[test]
    fn empty_is_refused() {
        assert_eq!(refused(""), Problem::Empty);
    }

    #[test]
    fn dot_and_dot_dot_are_refused() {
        assert_eq!(refused("."), Problem::DotOrDotDot);
        assert_eq!(refused(".."), Problem::DotOrDotDot);
    }

    #[test]
    fn separators_are_refused() {
        assert_eq!(refused("../../x"), Problem::Separator('/'));
        assert_eq!(refused("/"), Problem::Separator('/'));
        assert_eq!(refused("/etc"), Problem::Separator('/'));
        assert_eq!(refused("..\\x"), Problem::Separator('\\'));
    }

    #[test]
    fn nul_and_control_characters_are_refused() {
        assert_eq!(refused("a\0b"), Problem::Control('\0'));
        assert_eq!(refused("a\nb"), Problem::Control('\n'));
        assert_eq!(refused("\u{1}"), Problem::Control('\u{1}'));
        assert_eq!(refused("a\u{7f}"), Problem::Control('\u{7f}'));
        assert_eq!(refused("a\u{85}"), Problem::Control('\u{85}'));
    }

    #[test]
    fn colons_are_refused() {
        assert_eq!(refused("C:"), Problem::Colon);
        assert_eq!(refused("file:stream"), Problem::Colon);
    }

    #[test]
    fn characters_windows_forbids_are_refused() {
        for c in ['<', '>', '"', '|', '?', '*'] {
            assert_eq!(refused(&format!("a{c}b")), Problem::WindowsForbidden(c));
        }
    }

    #[test]
    fn trailing_dots_and_spaces_are_refused() {
        assert_eq!(refused("1.0."), Problem::TrailingDotOrSpace);
        assert_eq!(refused("1.0 "), Problem::TrailingDotOrSpace);
        assert_eq!(refused("..."), Problem::TrailingDotOrSpace);
    }

    #[test]
    fn windows_device_names_are_refused_in_any_case_and_with_an_extension() {
        for name in [
            "CON",
            "con",
            "Prn",
            "aux",
            "NUL",
            "nul.txt",
            "COM1",
            "com9.zip",
            "LPT1",
            "lpt5.tar.gz",
            "CON .x",
        ] {
            assert!(matches!(refused(name), Problem::Reserved(_)), "{name}");
        }
    }

    #[test]
    fn long_names_are_refused() {
        assert_eq!(refused(&"a".repeat(MAX_LEN + 1)), Problem::TooLong(MAX_LEN + 1));
        // Counted in bytes: 101 two-byte characters are too many.
        assert_eq!(refused(&"é".repeat(101)), Problem::TooLong(202));
    }

    #[test]
    fn messages_show_the_value_escaped_and_cut_short() {
        let e = PathPart::new("a\0b").unwrap_err().to_string();
        assert!(e.contains("a\\0b") && e.contains("control character"), "{e}");
        let e = PathPart::new(&"x".repeat(5000)).unwrap_err().to_string();
        assert!(e.len() < 300 && e.contains("5000 bytes"), "{e}");
    }

    #[test]
    fn group_ids_are_dotted_parts() {
        let g = GroupId::new("io.fabric8.jube").unwrap();
        assert_eq!(g.path(), "io/fabric8/jube");
        for (bad, problem) in [
            ("", Problem::Empty),
            ("a..b", Problem::EmptyGroupPart),
            (".a", Problem::EmptyGroupPart),
            ("a.", Problem::EmptyGroupPart),
            ("a/b", Problem::Separator('/')),
            ("com.C:", Problem::Colon),
            ("org.con", Problem::Reserved("CON".into())),
        ] {
            assert_eq!(GroupId::new(bad).unwrap_err().problem, problem, "{bad}");
        }
    }

    #[test]
    fn deserializing_checks_again() {
        let ok: PathPart = serde_json::from_str("\"1.0\"").unwrap();
        assert_eq!(ok, "1.0");
        let e = serde_json::from_str::<PathPart>("\"../x\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("path separator"), "{e}");
        assert!(serde_json::from_str::<GroupId>("\"a..b\"").is_err());
        assert_eq!(serde_json::to_string(&ok).unwrap(), "\"1.0\"");
    }
}
