//! Label and field selectors as Kubernetes reads them (`app=web,tier!=db`, `env in (dev,qa)`,
//! `!canary`), shared by the API, the CLI's `-l` and the reconciler.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

/// The labels the daemon puts on a pod's jube containers, for selecting them.
pub use crate::container::state::POD_LABEL;
pub use crate::kube::pods::{CONTAINER_LABEL, POD_UID_LABEL};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unable to parse requirement: {problem} in selector \"{selector}\"")]
pub struct SelectorError {
    pub selector: String,
    pub problem: String,
}

/// One condition on a label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
    GreaterThan(String, i64),
    LessThan(String, i64),
}

impl Requirement {
    fn matches(&self, labels: &dyn Fn(&str) -> Option<String>) -> bool {
        match self {
            Requirement::Equals(k, v) => labels(k).as_deref() == Some(v),
            // Kubernetes: `!=` and `notin` also match objects without the label.
            Requirement::NotEquals(k, v) => labels(k).as_deref() != Some(v),
            Requirement::In(k, vs) => labels(k).is_some_and(|l| vs.contains(&l)),
            Requirement::NotIn(k, vs) => labels(k).is_none_or(|l| !vs.contains(&l)),
            Requirement::Exists(k) => labels(k).is_some(),
            Requirement::DoesNotExist(k) => labels(k).is_none(),
            Requirement::GreaterThan(k, n) => labels(k)
                .and_then(|l| l.parse::<i64>().ok())
                .is_some_and(|l| l > *n),
            Requirement::LessThan(k, n) => labels(k)
                .and_then(|l| l.parse::<i64>().ok())
                .is_some_and(|l| l < *n),
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Requirement::Equals(k, v) => write!(f, "{k}={v}"),
            Requirement::NotEquals(k, v) => write!(f, "{k}!={v}"),
            Requirement::In(k, vs) => write!(f, "{k} in ({})", vs.join(",")),
            Requirement::NotIn(k, vs) => write!(f, "{k} notin ({})", vs.join(",")),
            Requirement::Exists(k) => write!(f, "{k}"),
            Requirement::DoesNotExist(k) => write!(f, "!{k}"),
            Requirement::GreaterThan(k, n) => write!(f, "{k}>{n}"),
            Requirement::LessThan(k, n) => write!(f, "{k}<{n}"),
        }
    }
}

/// All requirements must hold; an empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    pub requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// Parses the `labelSelector` syntax.
    pub fn parse(text: &str) -> Result<Self, SelectorError> {
        let fail = |problem: String| SelectorError {
            selector: text.to_owned(),
            problem,
        };
        let tokens = lex(text).map_err(fail)?;
        let mut parser = Parser { tokens, at: 0 };
        let mut requirements = Vec::new();
        if parser.peek().is_none() {
            return Ok(Self { requirements });
        }
        loop {
            requirements.push(parser.requirement().map_err(fail)?);
            match parser.next() {
                None => break,
                Some(Token::Comma) => {}
                Some(t) => return Err(fail(format!("found '{t}', expected: ','"))),
            }
        }
        Ok(Self { requirements })
    }

    /// `key=value` for each entry: what an RC's `spec.selector` or a Service's means.
    pub fn from_map<'a>(map: impl IntoIterator<Item = (&'a String, &'a String)>) -> Self {
        Self {
            requirements: map
                .into_iter()
                .map(|(k, v)| Requirement::Equals(k.clone(), v.clone()))
                .collect(),
        }
    }

    /// From a JSON map of strings (`spec.selector` of an RC or Service); other values never match.
    pub fn from_json_map(map: &serde_json::Map<String, Value>) -> Self {
        Self {
            requirements: map
                .iter()
                .map(|(k, v)| match v.as_str() {
                    Some(v) => Requirement::Equals(k.clone(), v.to_owned()),
                    None => Requirement::In(k.clone(), Vec::new()),
                })
                .collect(),
        }
    }

    /// From a structured `metav1.LabelSelector` (`matchLabels` and `matchExpressions`).
    pub fn from_label_selector(
        selector: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
    ) -> Result<Self, SelectorError> {
        let mut out = Self::from_map(selector.match_labels.iter().flatten());
        for e in selector.match_expressions.iter().flatten() {
            let values = e.values.clone().unwrap_or_default();
            out.requirements.push(match e.operator.as_str() {
                "In" => Requirement::In(e.key.clone(), values),
                "NotIn" => Requirement::NotIn(e.key.clone(), values),
                "Exists" => Requirement::Exists(e.key.clone()),
                "DoesNotExist" => Requirement::DoesNotExist(e.key.clone()),
                other => {
                    return Err(SelectorError {
                        selector: e.key.clone(),
                        problem: format!(
                            "`{other}` is not a valid operator (In, NotIn, Exists, DoesNotExist)"
                        ),
                    });
                }
            });
        }
        Ok(out)
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let get = |k: &str| labels.get(k).cloned();
        self.requirements.iter().all(|r| r.matches(&get))
    }

    /// Whether an object's `metadata.labels` match.
    pub fn matches_object(&self, object: &Value) -> bool {
        let labels = object.pointer("/metadata/labels").and_then(Value::as_object);
        let get = |k: &str| {
            labels
                .and_then(|l| l.get(k))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        self.requirements.iter().all(|r| r.matches(&get))
    }
}

impl fmt::Display for LabelSelector {
    /// The canonical text, as a Scale's `status.selector` shows it: `app=web,tier=front`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Comma,
    Open,
    Close,
    Eq,
    DoubleEq,
    NotEq,
    Not,
    Gt,
    Lt,
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Token::Word(w) => w,
            Token::Comma => ",",
            Token::Open => "(",
            Token::Close => ")",
            Token::Eq => "=",
            Token::DoubleEq => "==",
            Token::NotEq => "!=",
            Token::Not => "!",
            Token::Gt => ">",
            Token::Lt => "<",
        })
    }
}

fn lex(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let token = match c {
            c if c.is_whitespace() => continue,
            ',' => Token::Comma,
            '(' => Token::Open,
            ')' => Token::Close,
            '>' => Token::Gt,
            '<' => Token::Lt,
            '=' if chars.peek() == Some(&'=') => {
                chars.next();
                Token::DoubleEq
            }
            '=' => Token::Eq,
            '!' if chars.peek() == Some(&'=') => {
                chars.next();
                Token::NotEq
            }
            '!' => Token::Not,
            c => {
                let mut word = c.to_string();
                while let Some(&n) = chars.peek() {
                    if n.is_whitespace() || ",()=!<>".contains(n) {
                        break;
                    }
                    word.push(n);
                    chars.next();
                }
                Token::Word(word)
            }
        };
        tokens.push(token);
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn requirement(&mut self) -> Result<Requirement, String> {
        if self.peek() == Some(&Token::Not) {
            self.next();
            return Ok(Requirement::DoesNotExist(self.key()?));
        }
        let key = self.key()?;
        if matches!(self.peek(), None | Some(Token::Comma)) {
            return Ok(Requirement::Exists(key));
        }
        let Some(op) = self.next() else {
            return Ok(Requirement::Exists(key));
        };
        match op {
            Token::Eq | Token::DoubleEq => Ok(Requirement::Equals(key, self.value()?)),
            Token::NotEq => Ok(Requirement::NotEquals(key, self.value()?)),
            Token::Gt | Token::Lt => {
                let v = self.value()?;
                let n = v.parse::<i64>().map_err(|_| {
                    format!("for 'gt', 'lt' operators, the value must be an integer, not '{v}'")
                })?;
                Ok(if op == Token::Gt {
                    Requirement::GreaterThan(key, n)
                } else {
                    Requirement::LessThan(key, n)
                })
            }
            Token::Word(w) if w == "in" => Ok(Requirement::In(key, self.set()?)),
            Token::Word(w) if w == "notin" => Ok(Requirement::NotIn(key, self.set()?)),
            other => Err(format!("found '{other}', expected: in, notin, =, ==, !=, gt, lt")),
        }
    }

    fn key(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Token::Word(k)) => {
                check_key(&k)?;
                Ok(k)
            }
            Some(t) => Err(format!("found '{t}', expected: identifier")),
            None => Err("found end of input, expected: identifier".into()),
        }
    }

    /// A value, which may be empty (`a=` matches an empty label).
    fn value(&mut self) -> Result<String, String> {
        if matches!(self.peek(), None | Some(Token::Comma)) {
            return Ok(String::new());
        }
        match self.next() {
            Some(Token::Word(v)) => {
                check_value(&v)?;
                Ok(v)
            }
            t => Err(format!("found '{}', expected: identifier", show(t))),
        }
    }

    fn set(&mut self) -> Result<Vec<String>, String> {
        if self.next() != Some(Token::Open) {
            return Err("expected: '(' after in or notin".into());
        }
        let mut values = Vec::new();
        loop {
            match self.next() {
                Some(Token::Word(v)) => {
                    check_value(&v)?;
                    values.push(v);
                }
                Some(Token::Close) if values.is_empty() => {
                    return Err("for 'in', 'notin' operators, values set can't be empty".into());
                }
                t => return Err(format!("found '{}', expected: identifier", show(t))),
            }
            match self.next() {
                Some(Token::Comma) => {}
                Some(Token::Close) => return Ok(values),
                t => return Err(format!("found '{}', expected: ',' or ')'", show(t))),
            }
        }
    }
}

fn show(t: Option<Token>) -> String {
    t.map(|t| t.to_string()).unwrap_or_else(|| "end of input".into())
}

/// A label key: an optional DNS-subdomain prefix and `/`, then a name of at most 63 characters.
pub fn check_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix {
        let ok = !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !part.starts_with('-')
                    && !part.ends_with('-')
            });
        if !ok {
            return Err(format!(
                "invalid label key \"{key}\": the prefix must be a DNS subdomain (lower case letters, digits, '-' and '.')"
            ));
        }
    }
    if name.is_empty() || !is_label_word(name) {
        return Err(format!(
            "invalid label key \"{key}\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (at most 63)"
        ));
    }
    Ok(())
}

/// A label value: empty, or at most 63 alphanumerics, `-`, `_` and `.`, starting and ending with an
/// alphanumeric.
pub fn check_value(value: &str) -> Result<(), String> {
    if value.is_empty() || is_label_word(value) {
        return Ok(());
    }
    Err(format!(
        "invalid label value: \"{value}\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (at most 63)"
    ))
}

fn is_label_word(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
}

/// One `fieldSelector` condition: `metadata.name=web` or `status.phase!=Running`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRequirement {
    pub field: String,
    pub value: String,
    pub equal: bool,
}

/// A `fieldSelector`: conditions on fields, all of which must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    pub requirements: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// Parses `a=b,c!=d` (`==` as `=`; `\,` `\=` `\\` escape those characters in values).
    pub fn parse(text: &str) -> Result<Self, SelectorError> {
        let fail = |problem: String| SelectorError {
            selector: text.to_owned(),
            problem,
        };
        let mut requirements = Vec::new();
        for part in split_unescaped(text, ',') {
            if part.trim().is_empty() {
                continue;
            }
            let (field, value, equal) = if let Some((f, v)) = find_unescaped(&part, "!=") {
                (f, v, false)
            } else if let Some((f, v)) = find_unescaped(&part, "==") {
                (f, v, true)
            } else if let Some((f, v)) = find_unescaped(&part, "=") {
                (f, v, true)
            } else {
                return Err(fail(format!(
                    "invalid field selector: '{part}': expected field=value"
                )));
            };
            let field = field.trim();
            if field.is_empty() {
                return Err(fail(format!(
                    "invalid field selector: '{part}': the field is empty"
                )));
            }
            requirements.push(FieldRequirement {
                field: field.to_owned(),
                value: unescape(value.trim()),
                equal,
            });
        }
        Ok(Self { requirements })
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The value `metadata.name=NAME` asks for, if any (a fast path: get instead of list).
    pub fn name(&self) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.equal && r.field == "metadata.name")
            .map(|r| r.value.as_str())
    }

    /// Whether the object's fields match; a field the object lacks counts as empty.
    pub fn matches_object(&self, object: &Value) -> bool {
        self.requirements.iter().all(|r| {
            let pointer = format!("/{}", r.field.replace('.', "/"));
            let actual = match object.pointer(&pointer) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            (actual == r.value) == r.equal
        })
    }
}

fn split_unescaped(text: &str, sep: char) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut escaped = false;
    for c in text.chars() {
        if escaped {
            parts.last_mut().expect("never empty").extend(['\\', c]);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == sep {
            parts.push(String::new());
        } else {
            parts.last_mut().expect("never empty").push(c);
        }
    }
    parts
}

fn find_unescaped<'a>(part: &'a str, op: &str) -> Option<(&'a str, &'a str)> {
    let mut from = 0;
    while let Some(i) = part[from..].find(op) {
        let at = from + i;
        let backslashes = part[..at].chars().rev().take_while(|c| *c == '\\').count();
        if backslashes % 2 == 0 {
            return Some((&part[..at], &part[at + op.len()..]));
        }
        from = at + op.len();
    }
    None
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_operator_matches_as_kubernetes_does() {
        let web = labels(&[("app", "web"), ("tier", "front"), ("rank", "3")]);
        let db = labels(&[("app", "db")]);
        for (selector, on_web, on_db) in [
            ("", true, true),
            ("app=web", true, false),
            ("app==web", true, false),
            ("app!=web", false, true),
            ("tier!=back", true, true),
            ("app in (web,db)", true, true),
            ("app in (web)", true, false),
            ("app notin (web)", false, true),
            ("tier notin (back)", true, true),
            ("tier", true, false),
            ("!tier", false, true),
            ("app=web,tier=front", true, false),
            ("app=web, !tier", false, false),
            ("  app in ( web , db ) , tier  ", true, false),
            ("rank>2", true, false),
            ("rank<2", false, false),
            ("example.com/team", false, false),
            ("app=", false, false),
        ] {
            let s = LabelSelector::parse(selector).unwrap_or_else(|e| panic!("{selector}: {e}"));
            assert_eq!(s.matches(&web), on_web, "{selector} on web");
            assert_eq!(s.matches(&db), on_db, "{selector} on db");
        }
    }

    #[test]
    fn bad_selectors_say_what_is_wrong() {
        for (selector, needle) in [
            ("app in web", "'('"),
            ("app in ()", "can't be empty"),
            ("app in (web", "expected: ',' or ')'"),
            ("app=web=x", "expected: ','"),
            ("=web", "expected: identifier"),
            ("app=we b", "expected: ','"),
            ("app=-web", "invalid label value"),
            ("-app", "invalid label key"),
            ("Bad_Prefix/app", "prefix"),
            ("app>x", "integer"),
            ("app,", "end of input"),
        ] {
            let e = LabelSelector::parse(selector).unwrap_err().to_string();
            assert!(e.contains(needle), "{selector}: {e}");
            assert!(e.contains(selector), "{e}");
        }
    }

    #[test]
    fn selectors_print_canonically_and_read_maps_and_objects() {
        let s = LabelSelector::parse("app = web,tier in (a, b),!x").unwrap();
        assert_eq!(s.to_string(), "app=web,tier in (a,b),!x");
        let map = labels(&[("app", "web"), ("tier", "front")]);
        assert_eq!(LabelSelector::from_map(&map).to_string(), "app=web,tier=front");
        let pod = json!({"metadata": {"name": "p", "labels": {"app": "web"}}});
        assert!(LabelSelector::parse("app=web").unwrap().matches_object(&pod));
        assert!(
            !LabelSelector::parse("app")
                .unwrap()
                .matches_object(&json!({"metadata": {}}))
        );
        let structured: k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector =
            serde_json::from_value(json!({
                "matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]
            }))
            .unwrap();
        let s = LabelSelector::from_label_selector(&structured).unwrap();
        assert_eq!(s.to_string(), "app=web,tier notin (db)");
        let json_map = json!({"app": "web"});
        assert!(LabelSelector::from_json_map(json_map.as_object().unwrap()).matches_object(&pod));
    }

    #[test]
    fn field_selectors_on_names_namespaces_and_escapes() {
        let pod = json!({"metadata": {"name": "web", "namespace": "dev"}, "status": {"phase": "Running"}});
        for (selector, expected) in [
            ("metadata.name=web", true),
            ("metadata.name==web", true),
            ("metadata.name!=web", false),
            ("metadata.namespace=dev,metadata.name=web", true),
            ("metadata.namespace=default", false),
            ("status.phase!=Pending", true),
            ("spec.nodeName=", true),
            ("", true),
        ] {
            let s = FieldSelector::parse(selector).unwrap();
            assert_eq!(s.matches_object(&pod), expected, "{selector}");
        }
        assert_eq!(
            FieldSelector::parse("metadata.name=web").unwrap().name(),
            Some("web")
        );
        let escaped = FieldSelector::parse(r"metadata.name=a\,b,metadata.namespace=x").unwrap();
        assert_eq!(escaped.requirements[0].value, "a,b");
        assert_eq!(escaped.requirements.len(), 2);
        assert!(FieldSelector::parse("metadata.name").is_err());
        assert!(FieldSelector::parse("=x").is_err());
    }
}
