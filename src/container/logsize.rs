//! How big a container's console log may grow: `JUBE_LOG_MAX_SIZE` per file and
//! `JUBE_LOG_MAX_FILES` files, 20 MiB × 5 by default as Docker's `local` log driver keeps.

use crate::env_vars::{self, EnvVars};

/// The bounds of one run's console log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogLimits {
    /// Most bytes in one file; a full file is rotated.
    pub max_size: u64,
    /// Most files kept, the one written included.
    pub max_files: u32,
}

impl Default for LogLimits {
    fn default() -> Self {
        Self {
            max_size: 20 << 20,
            max_files: 5,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LogLimitError {
    #[error(
        "{var}={value:?} is not a log size: {why}; write bytes (1048576) or a number with k, m or g \
         (512k, 20m, 1g)"
    )]
    BadSize {
        var: &'static str,
        value: String,
        why: String,
    },
    #[error("{var}={value:?} is not a number of log files; write a whole number from 1 (default 5)")]
    BadCount { var: &'static str, value: String },
}

impl LogLimits {
    /// The defaults, or `JUBE_LOG_MAX_SIZE` and `JUBE_LOG_MAX_FILES`.
    pub fn from_env() -> Result<Self, LogLimitError> {
        Self::from_values(
            env_vars::var(EnvVars::JUBE_LOG_MAX_SIZE).as_deref(),
            env_vars::var(EnvVars::JUBE_LOG_MAX_FILES).as_deref(),
        )
    }

    /// The limits from the two variables' values, as [`LogLimits::from_env`] reads them.
    pub fn from_values(size: Option<&str>, files: Option<&str>) -> Result<Self, LogLimitError> {
        let defaults = Self::default();
        let max_size = match size {
            None => defaults.max_size,
            Some(value) => parse_size(value).map_err(|why| LogLimitError::BadSize {
                var: EnvVars::JUBE_LOG_MAX_SIZE,
                value: value.to_owned(),
                why,
            })?,
        };
        let max_files = match files {
            None => defaults.max_files,
            Some(value) => value
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| LogLimitError::BadCount {
                    var: EnvVars::JUBE_LOG_MAX_FILES,
                    value: value.to_owned(),
                })?,
        };
        Ok(Self { max_size, max_files })
    }
}

/// A size as Docker's `--log-opt max-size` takes it: bytes, or a whole number with a binary unit
/// (`k`/`kb`/`kib`, `m`..., `g`...; case does not matter). Zero is refused: a log must hold a line.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() {
        return Err("it does not start with a number".to_owned());
    }
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        other => return Err(format!("unknown unit `{other}`")),
    };
    let number: u64 = digits.parse().map_err(|_| "the number is too large".to_owned())?;
    let bytes = number
        .checked_mul(1 << shift)
        .ok_or_else(|| "the size is too large".to_owned())?;
    if bytes == 0 {
        return Err("it must be more than zero".to_owned());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_bytes_or_binary_units() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("20m"), Ok(20 << 20));
        assert_eq!(parse_size("20M"), Ok(20 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("2KiB"), Ok(2048));
        assert_eq!(parse_size(" 3 mb "), Ok(3 << 20));
        assert_eq!(parse_size("100b"), Ok(100));
        for bad in [
            "",
            "m",
            "-1",
            "1.5m",
            "20x",
            "0",
            "0k",
            "99999999999999999999",
            "17179869184g",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?} was taken");
        }
    }

    #[test]
    fn limits_default_to_twenty_mebibytes_times_five_and_bad_values_name_the_variable() {
        assert_eq!(
            LogLimits::from_values(None, None).unwrap(),
            LogLimits {
                max_size: 20 << 20,
                max_files: 5
            }
        );
        assert_eq!(
            LogLimits::from_values(Some("1k"), Some("2")).unwrap(),
            LogLimits {
                max_size: 1024,
                max_files: 2
            }
        );
        let e = LogLimits::from_values(Some("lots"), None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("JUBE_LOG_MAX_SIZE=\"lots\"") && e.contains("20m"),
            "{e}"
        );
        let e = LogLimits::from_values(None, Some("0")).unwrap_err().to_string();
        assert!(e.contains("JUBE_LOG_MAX_FILES=\"0\""), "{e}");
        assert!(LogLimits::from_values(None, Some("many")).is_err());
    }
}
