//! jube's variables in an image's env.sh and env.bat. jube's lines sit in one marked block, so
//! they can be replaced on the next start and removed again by `jube commit`, while every line
//! the image wrote stays as it was.

use std::ops::RangeInclusive;

/// Why variables could not be written or an env file not read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvError {
    #[error(
        "`{name}` is not a valid environment variable name: use letters, digits and `_`, not starting \
         with a digit"
    )]
    BadName { name: String },
    #[error("the value of {name} contains a NUL byte, which no environment variable can hold")]
    Nul { name: String },
    #[error("the value of {name} contains a line break, which env.bat cannot hold; use a value on one line")]
    LineBreakInBat { name: String },
    #[error("line {line}: {detail}")]
    EnvFileLine { line: usize, detail: String },
}

const SH_BEGIN: &str = "# jube: begin";
const SH_END: &str = "# jube: end";
const BAT_BEGIN: &str = "rem jube: begin";
const BAT_END: &str = "rem jube: end";

/// Checks `name` against `[A-Za-z_][A-Za-z0-9_]*`, what every shell accepts.
pub fn check_name(name: &str) -> Result<(), EnvError> {
    let mut chars = name.chars();
    let valid_start = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if valid_start && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(())
    } else {
        Err(EnvError::BadName {
            name: name.to_owned(),
        })
    }
}

/// The variable that carries a port's host number: `http` -> `HTTP_PORT`,
/// `jolokia-agent` -> `JOLOKIA_AGENT_PORT`. A name starting with a digit gets a leading `_`, so
/// the result is always a valid variable name.
pub fn port_variable(port_name: &str) -> String {
    let mut variable: String = port_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if variable.starts_with(|c: char| c.is_ascii_digit()) {
        variable.insert(0, '_');
    }
    variable.push_str("_PORT");
    variable
}

/// Quotes `value` for POSIX sh: single quotes keep `$`, backticks, `"`, `\` and newlines literal,
/// and a `'` becomes `'\''`.
pub fn sh_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// Puts jube's block of `export NAME='value'` lines into env.sh: in place of an earlier jube block,
/// else before the image's first `export`, else at the end.
pub fn insert_sh(original: &str, vars: &[(String, String)]) -> Result<String, EnvError> {
    let mut block = vec![SH_BEGIN.to_owned()];
    for (name, value) in vars {
        check_name(name)?;
        check_no_nul(name, value)?;
        block.push(format!("export {name}={}", sh_quote(value)));
    }
    block.push(SH_END.to_owned());
    let eol = line_ending_of(original);
    Ok(insert_block(original, &block, &SH_MARKERS, eol, starts_export))
}

/// Removes jube's block from env.sh, giving back the image's own text.
pub fn strip_sh(text: &str) -> String {
    strip_block(text, &SH_MARKERS)
}

/// One `set "NAME=value"` line for env.bat, escaped for cmd.exe: `%` doubles, and `^ & | < > ( )`
/// are escaped with `^` wherever a `"` in the value has closed the quotes.
pub fn bat_line(name: &str, value: &str) -> Result<String, EnvError> {
    check_name(name)?;
    check_no_nul(name, value)?;
    if value.contains(['\n', '\r']) {
        return Err(EnvError::LineBreakInBat {
            name: name.to_owned(),
        });
    }
    let mut line = format!("set \"{name}=");
    let mut quoted = true;
    for c in value.chars() {
        match c {
            '%' => line.push_str("%%"),
            '"' => {
                quoted = !quoted;
                line.push(c);
            }
            '^' | '&' | '|' | '<' | '>' | '(' | ')' if !quoted => {
                line.push('^');
                line.push(c);
            }
            _ => line.push(c),
        }
    }
    // `set "..."` takes the value up to the line's last quote.
    line.push('"');
    Ok(line)
}

/// Skips jube's `set` lines when jube runs the script: jube has put the same values in the
/// environment already, where no cmd parsing touches them. `set` lines cannot carry `!` and `^`
/// literally to a caller that has delayed expansion on, so they serve only scripts run by hand.
const BAT_SKIP: &str = "if defined JUBE_CONTAINER_ID goto jube_env_set";
const BAT_SKIP_LABEL: &str = ":jube_env_set";

/// Puts jube's block of `set` lines into env.bat, with CRLF line ends: in place of an earlier jube
/// block, else before the image's first `set`, else at the end.
pub fn insert_bat(original: &str, vars: &[(String, String)]) -> Result<String, EnvError> {
    let mut block = vec![BAT_BEGIN.to_owned(), BAT_SKIP.to_owned()];
    for (name, value) in vars {
        block.push(bat_line(name, value)?);
    }
    block.push(BAT_SKIP_LABEL.to_owned());
    block.push(BAT_END.to_owned());
    Ok(insert_block(original, &block, &BAT_MARKERS, "\r\n", starts_set))
}

/// Removes jube's block from env.bat.
pub fn strip_bat(text: &str) -> String {
    strip_block(text, &BAT_MARKERS)
}

/// Reads docker's `--env-file` format: `KEY=VALUE` lines taken literally (no quote processing),
/// `#` comments and blank lines skipped; a bare `KEY` takes jube's own value of `KEY`, or is
/// skipped when jube has none.
pub fn parse_env_file(text: &str) -> Result<Vec<(String, String)>, EnvError> {
    parse_env_file_with(text, &|name| std::env::var(name).ok())
}

/// [`parse_env_file`] with the lookup for bare `KEY` lines given.
pub fn parse_env_file_with(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, EnvError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut vars = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad_line = |detail: String| EnvError::EnvFileLine {
            line: index + 1,
            detail,
        };
        let (name, value) = match line.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (line, None),
        };
        if name.is_empty() {
            return Err(bad_line("no variable name before `=`".to_owned()));
        }
        if name.contains(char::is_whitespace) {
            return Err(bad_line(format!(
                "the variable name `{name}` contains whitespace"
            )));
        }
        check_name(name).map_err(|e| bad_line(e.to_string()))?;
        let value = match value {
            Some(value) => Some(value.to_owned()),
            None => lookup(name),
        };
        if let Some(value) = value {
            vars.push((name.to_owned(), value));
        }
    }
    Ok(vars)
}

fn check_no_nul(name: &str, value: &str) -> Result<(), EnvError> {
    if value.contains('\0') {
        return Err(EnvError::Nul {
            name: name.to_owned(),
        });
    }
    Ok(())
}

struct Markers {
    begin: &'static str,
    end: &'static str,
    /// sh values may span lines inside single quotes; the end marker only counts outside them.
    quoted_values: bool,
}

const SH_MARKERS: Markers = Markers {
    begin: SH_BEGIN,
    end: SH_END,
    quoted_values: true,
};

const BAT_MARKERS: Markers = Markers {
    begin: BAT_BEGIN,
    end: BAT_END,
    quoted_values: false,
};

fn line_ending_of(text: &str) -> &'static str {
    match text.find('\n') {
        Some(i) if text[..i].ends_with('\r') => "\r\n",
        _ => "\n",
    }
}

/// A line without its line end.
fn body(line: &str) -> &str {
    let line = line.strip_suffix('\n').unwrap_or(line);
    line.strip_suffix('\r').unwrap_or(line)
}

fn starts_export(line: &str) -> bool {
    starts_word(line.trim_start(), "export", false)
}

fn starts_set(line: &str) -> bool {
    let line = line.trim_start();
    starts_word(line.strip_prefix('@').unwrap_or(line), "set", true)
}

fn starts_word(line: &str, word: &str, ignore_case: bool) -> bool {
    let Some(head) = line.get(..word.len()) else {
        return false;
    };
    let same = if ignore_case {
        head.eq_ignore_ascii_case(word)
    } else {
        head == word
    };
    same && line[word.len()..].chars().next().is_none_or(char::is_whitespace)
}

/// The lines of jube's block (first and last are the markers), if the text holds a complete one.
fn find_block(lines: &[&str], markers: &Markers) -> Option<RangeInclusive<usize>> {
    let is_marker = |line: &str, marker: &str| body(line).trim_end() == marker;
    let begins = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| is_marker(l, markers.begin));
    for (begin, _) in begins {
        let mut in_quote = false;
        for (offset, line) in lines[begin + 1..].iter().enumerate() {
            if !in_quote && is_marker(line, markers.end) {
                return Some(begin..=begin + 1 + offset);
            }
            if markers.quoted_values {
                in_quote = sh_quote_state_after(line, in_quote);
            }
        }
    }
    None
}

/// Whether a single-quoted string is still open after `line`, given it was open before.
fn sh_quote_state_after(line: &str, mut in_quote: bool) -> bool {
    let mut escaped = false;
    for c in line.chars() {
        if in_quote {
            in_quote = c != '\'';
        } else if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '\'' {
            in_quote = true;
        }
    }
    in_quote
}

fn render_block(block: &[String], eol: &str, end_with_eol: bool) -> String {
    let mut text = block.join(eol);
    if end_with_eol {
        text.push_str(eol);
    }
    text
}

fn insert_block(
    original: &str,
    block: &[String],
    markers: &Markers,
    eol: &str,
    is_anchor: fn(&str) -> bool,
) -> String {
    let lines: Vec<&str> = original.split_inclusive('\n').collect();
    if let Some(range) = find_block(&lines, markers) {
        let end_with_eol = lines[*range.end()].ends_with('\n');
        return [
            lines[..*range.start()].concat(),
            render_block(block, eol, end_with_eol),
            lines[range.end() + 1..].concat(),
        ]
        .concat();
    }
    if let Some(at) = lines.iter().position(|l| is_anchor(body(l))) {
        return [
            lines[..at].concat(),
            render_block(block, eol, true),
            lines[at..].concat(),
        ]
        .concat();
    }
    if original.is_empty() || original.ends_with('\n') {
        return format!("{original}{}", render_block(block, eol, true));
    }
    // The file had no final line end: add one before the block and leave the block without,
    // so that stripping the block gives the file back byte for byte.
    format!("{original}{eol}{}", render_block(block, eol, false))
}

fn strip_block(text: &str, markers: &Markers) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let Some(range) = find_block(&lines, markers) else {
        return text.to_owned();
    };
    let mut before = lines[..*range.start()].concat();
    let after = lines[range.end() + 1..].concat();
    if after.is_empty() && !lines[*range.end()].ends_with('\n') {
        let trimmed = body(&before).len();
        before.truncate(trimmed);
    }
    before + &after
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn names_are_checked() {
        for good in ["A", "_", "_x1", "HTTP_PORT", "a_B_9"] {
            assert_eq!(check_name(good), Ok(()), "{good}");
        }
        for bad in ["", "1A", "A-B", "A B", "É", "A=B", "$A"] {
            assert!(matches!(check_name(bad), Err(EnvError::BadName { .. })), "{bad}");
        }
    }

    #[test]
    fn port_variables_are_upper_case_with_underscores() {
        assert_eq!(port_variable("http"), "HTTP_PORT");
        assert_eq!(port_variable("jolokia-agent"), "JOLOKIA_AGENT_PORT");
        assert_eq!(port_variable("a.b c"), "A_B_C_PORT");
        assert_eq!(port_variable("8080"), "_8080_PORT");
        assert_eq!(port_variable("ünï"), "_N__PORT");
        for name in ["http", "8080", "ünï", "", "-"] {
            assert_eq!(check_name(&port_variable(name)), Ok(()), "{name}");
        }
    }

    #[test]
    fn sh_quote_wraps_in_single_quotes() {
        assert_eq!(sh_quote(""), "''");
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
        assert_eq!(sh_quote("$HOME `x` \"q\" \\"), "'$HOME `x` \"q\" \\'");
    }

    const NASTY: &[&str] = &[
        "$HOME",
        "`id`",
        "$(id)",
        "'",
        "''",
        "it's",
        "\"",
        "\\",
        "\\'",
        "line1\nline2",
        "\n# jube: end\n",
        "trailing\n",
        "ünïcødé ✓ 日本",
        "",
        " spaced  out ",
        "a;b&&c|d>e<f",
        "*",
        "~",
        "!!",
        "${X:-y}",
        "\t",
    ];

    /// Sources the env.sh text in a real bash and prints the variable back.
    fn bash_value(env_sh: &str, name: &str) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("env.sh"), env_sh).unwrap();
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!(". ./env.sh; printf %s \"${name}\""))
            .current_dir(dir.path())
            .env_clear()
            .env("HOME", "/home-should-not-appear")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "bash failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "bash complained: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    #[cfg(unix)]
    #[test]
    fn nasty_values_come_back_byte_exact_from_bash() {
        let image = "#!/bin/sh\nexport IMAGE_OWN=1\n";
        for value in NASTY {
            let text = insert_sh(image, &vars(&[("NASTY", value)])).unwrap();
            assert_eq!(
                bash_value(&text, "NASTY"),
                value.as_bytes(),
                "value {value:?} in\n{text}"
            );
            assert_eq!(strip_sh(&text), image, "value {value:?}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn all_nasty_values_in_one_block_survive() {
        let pairs: Vec<(String, String)> = NASTY
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("V{i}"), (*v).to_owned()))
            .collect();
        let text = insert_sh("", &pairs).unwrap();
        for (name, value) in &pairs {
            assert_eq!(bash_value(&text, name), value.as_bytes(), "{name}");
        }
        assert_eq!(strip_sh(&text), "");
        assert_eq!(
            insert_sh(&text, &pairs).unwrap(),
            text,
            "idempotent with multi-line values"
        );
    }

    #[cfg(unix)]
    #[test]
    fn image_exports_can_use_jube_variables() {
        let image = "#!/bin/sh\nexport URL=\"http://localhost:$HTTP_PORT/\"\n";
        let text = insert_sh(image, &vars(&[("HTTP_PORT", "48000")])).unwrap();
        assert_eq!(bash_value(&text, "URL"), b"http://localhost:48000/");
    }

    #[test]
    fn block_goes_before_the_first_export() {
        let image = "#!/bin/sh\n# settings\nFOO=1\n  export A=1\nexport B=2\n";
        let text = insert_sh(image, &vars(&[("X", "1"), ("Y", "2")])).unwrap();
        assert_eq!(
            text,
            "#!/bin/sh\n# settings\nFOO=1\n# jube: begin\nexport X='1'\nexport Y='2'\n# jube: end\n  export A=1\nexport B=2\n"
        );
    }

    #[test]
    fn exported_prefix_is_not_an_export() {
        let image = "exported=1\nexport\tA=1\n";
        let text = insert_sh(image, &vars(&[("X", "1")])).unwrap();
        assert_eq!(
            text,
            "exported=1\n# jube: begin\nexport X='1'\n# jube: end\nexport\tA=1\n"
        );
    }

    #[test]
    fn block_goes_at_the_end_without_exports() {
        assert_eq!(
            insert_sh("A=1\n", &vars(&[("X", "1")])).unwrap(),
            "A=1\n# jube: begin\nexport X='1'\n# jube: end\n"
        );
        assert_eq!(
            insert_sh("", &vars(&[("X", "1")])).unwrap(),
            "# jube: begin\nexport X='1'\n# jube: end\n"
        );
    }

    #[test]
    fn missing_final_newline_is_kept() {
        let image = "A=1";
        let text = insert_sh(image, &vars(&[("X", "1")])).unwrap();
        assert_eq!(text, "A=1\n# jube: begin\nexport X='1'\n# jube: end");
        assert_eq!(strip_sh(&text), image);
        assert_eq!(insert_sh(&text, &vars(&[("X", "1")])).unwrap(), text);
    }

    #[test]
    fn crlf_env_files_lose_the_cr() {
        let vars = parse_env_file_with("# from Windows\r\nA=1\r\nB=two words\r\n", &|_| None).unwrap();
        assert_eq!(
            vars,
            [
                ("A".to_owned(), "1".to_owned()),
                ("B".to_owned(), "two words".to_owned())
            ]
        );
    }

    #[test]
    fn crlf_files_keep_crlf() {
        let image = "@rem x\r\nexport A=1\r\n";
        let text = insert_sh(image, &vars(&[("X", "1")])).unwrap();
        assert_eq!(
            text,
            "@rem x\r\n# jube: begin\r\nexport X='1'\r\n# jube: end\r\nexport A=1\r\n"
        );
        assert_eq!(strip_sh(&text), image);
    }

    #[test]
    fn insert_replaces_an_earlier_block_in_place() {
        let image = "#!/bin/sh\nexport A=1\necho done\n";
        let first = insert_sh(image, &vars(&[("X", "1"), ("Y", "2")])).unwrap();
        assert_eq!(
            insert_sh(&first, &vars(&[("X", "1"), ("Y", "2")])).unwrap(),
            first
        );
        let second = insert_sh(&first, &vars(&[("Z", "3")])).unwrap();
        assert_eq!(second, insert_sh(image, &vars(&[("Z", "3")])).unwrap());
        assert_eq!(second.matches(SH_BEGIN).count(), 1);
        // A block the user moved stays where it is.
        let moved = "echo hi\n# jube: begin\nexport X='old'\n# jube: end\nexport A=1\n";
        assert_eq!(
            insert_sh(moved, &vars(&[("X", "new")])).unwrap(),
            "echo hi\n# jube: begin\nexport X='new'\n# jube: end\nexport A=1\n"
        );
    }

    #[test]
    fn strip_undoes_insert() {
        let images = [
            "",
            "\n",
            "A=1",
            "A=1\n",
            "#!/bin/sh\nexport A=1\n",
            "export A=1",
            "x\r\ny\r\n",
            "x\r\ny",
            "  export A='# jube: end'\n",
        ];
        for image in images {
            for pairs in [vars(&[]), vars(&[("X", "a\nb")]), vars(&[("X", "1"), ("Y", "'")])] {
                let text = insert_sh(image, &pairs).unwrap();
                assert_eq!(strip_sh(&text), image, "{image:?} with {pairs:?}");
                assert_eq!(
                    insert_sh(&text, &pairs).unwrap(),
                    text,
                    "{image:?} with {pairs:?}"
                );
            }
        }
        assert_eq!(strip_sh("no block\n"), "no block\n");
        let unterminated = "# jube: begin\nexport X='1'\n";
        assert_eq!(
            strip_sh(unterminated),
            unterminated,
            "an unfinished block is not jube's"
        );
    }

    #[test]
    fn bad_names_and_nul_values_are_refused() {
        assert!(matches!(
            insert_sh("", &vars(&[("1X", "v")])),
            Err(EnvError::BadName { .. })
        ));
        assert!(matches!(
            insert_sh("", &vars(&[("X", "a\0b")])),
            Err(EnvError::Nul { .. })
        ));
        assert!(matches!(
            insert_bat("", &vars(&[("X Y", "v")])),
            Err(EnvError::BadName { .. })
        ));
    }

    #[test]
    fn bat_lines_escape_for_cmd() {
        let line = |v: &str| bat_line("A", v).unwrap();
        assert_eq!(line("plain"), r#"set "A=plain""#);
        assert_eq!(line(""), r#"set "A=""#);
        assert_eq!(line("100%"), r#"set "A=100%%""#);
        assert_eq!(line("%PATH%"), r#"set "A=%%PATH%%""#);
        assert_eq!(
            line("a&b|c<d>e^f"),
            r#"set "A=a&b|c<d>e^f""#,
            "quoted specials stay literal"
        );
        assert_eq!(
            line(r#"a"&b"#),
            r#"set "A=a"^&b""#,
            "after an odd quote specials are escaped"
        );
        assert_eq!(
            line(r#"a"b"&c"#),
            r#"set "A=a"b"&c""#,
            "an even quote reopens the quotes"
        );
        assert_eq!(line(r#""^(x)""#), r#"set "A="^^^(x^)"""#);
        assert!(matches!(
            bat_line("A", "a\nb"),
            Err(EnvError::LineBreakInBat { .. })
        ));
        assert!(matches!(
            bat_line("A", "a\rb"),
            Err(EnvError::LineBreakInBat { .. })
        ));
        assert!(matches!(bat_line("A-B", "x"), Err(EnvError::BadName { .. })));
    }

    #[test]
    fn bat_block_goes_before_the_first_set_with_crlf() {
        let image = "@echo off\r\nrem settings\r\n  SET JAVA_OPTS=-Xmx1g\r\n";
        let text = insert_bat(image, &vars(&[("HTTP_PORT", "48000")])).unwrap();
        assert_eq!(
            text,
            "@echo off\r\nrem settings\r\nrem jube: begin\r\nif defined JUBE_CONTAINER_ID goto jube_env_set\r\nset \"HTTP_PORT=48000\"\r\n:jube_env_set\r\nrem jube: end\r\n  SET JAVA_OPTS=-Xmx1g\r\n"
        );
        assert_eq!(strip_bat(&text), image);
        assert_eq!(insert_bat(&text, &vars(&[("HTTP_PORT", "48000")])).unwrap(), text);
        let at_set = insert_bat("@set A=1\r\n", &vars(&[])).unwrap();
        assert_eq!(
            at_set,
            "rem jube: begin\r\nif defined JUBE_CONTAINER_ID goto jube_env_set\r\n:jube_env_set\r\nrem jube: end\r\n@set A=1\r\n"
        );
        let no_set = insert_bat("@echo off\r\nsetlocal\r\n", &vars(&[("X", "1")])).unwrap();
        assert_eq!(
            no_set,
            "@echo off\r\nsetlocal\r\nrem jube: begin\r\nif defined JUBE_CONTAINER_ID goto jube_env_set\r\nset \"X=1\"\r\n:jube_env_set\r\nrem jube: end\r\n"
        );
        for image in ["", "@echo off", "echo x\n", "set A=1\n"] {
            let text = insert_bat(image, &vars(&[("X", "%1")])).unwrap();
            assert_eq!(strip_bat(&text), image, "{image:?}");
        }
    }

    #[test]
    fn env_file_reads_docker_format() {
        let text = "\u{feff}# comment\n\nA=1\n  B = 2\nC=with spaces  \nD=\"quoted\"\r\nE=\nF=a=b\n   # indented comment\nG\nMISSING\n";
        let lookup = |name: &str| (name == "G").then(|| "from env".to_owned());
        let err = parse_env_file_with(text, &lookup).unwrap_err();
        assert_eq!(
            err,
            EnvError::EnvFileLine {
                line: 4,
                detail: "the variable name `B ` contains whitespace".to_owned()
            }
        );
        let text = text.replace("  B = 2", "  B= 2");
        let parsed = parse_env_file_with(&text, &lookup).unwrap();
        assert_eq!(
            parsed,
            vars(&[
                ("A", "1"),
                ("B", " 2"),
                ("C", "with spaces  "),
                ("D", "\"quoted\""),
                ("E", ""),
                ("F", "a=b"),
                ("G", "from env"),
            ])
        );
    }

    #[test]
    fn env_file_errors_name_the_line() {
        let none = |_: &str| None;
        let err = parse_env_file_with("A=1\n=2\n", &none).unwrap_err();
        assert!(matches!(err, EnvError::EnvFileLine { line: 2, .. }), "{err}");
        let err = parse_env_file_with("A=1\n\n1X=2\n", &none).unwrap_err();
        assert!(matches!(err, EnvError::EnvFileLine { line: 3, .. }), "{err}");
        assert!(
            err.to_string().starts_with("line 3: `1X` is not a valid"),
            "{err}"
        );
        assert_eq!(parse_env_file_with("", &none).unwrap(), vars(&[]));
    }
}
