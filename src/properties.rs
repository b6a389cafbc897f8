//! Java `.properties` files as `Properties.load(InputStream)` reads them: ISO-8859-1 text.
//!
//! java-properties 2.0 panics ("Must not use a decoder that has finished") when its decoder's last
//! call still yields characters, which a hostile image can arrange (a lone 0xFF byte did). So the
//! bytes are decoded here, one character per byte as ISO-8859-1 has it, and the crate gets valid
//! UTF-8, whose decoder never holds anything back at the end.

use java_properties::{Line, PropertiesError, PropertiesIter};

/// The lines of a properties file, or the first syntax error.
pub fn parse(bytes: &[u8]) -> Vec<Result<Line, PropertiesError>> {
    let text: String = bytes.iter().map(|&b| char::from(b)).collect();
    PropertiesIter::new_with_encoding(text.as_bytes(), encoding_rs::UTF_8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use java_properties::LineContent;

    fn pairs(bytes: &[u8]) -> Vec<(String, String)> {
        parse(bytes)
            .into_iter()
            .filter_map(|l| match l.ok()?.consume_content() {
                LineContent::KVPair(k, v) => Some((k, v)),
                LineContent::Comment(_) => None,
            })
            .collect()
    }

    #[test]
    fn bytes_are_iso_8859_1_and_escapes_work() {
        assert_eq!(
            pairs(b"HTTP=8080\n# c\nJOLOKIA : 8778"),
            [("HTTP".into(), "8080".into()), ("JOLOKIA".into(), "8778".into())]
        );
        assert_eq!(pairs(b"caf\xe9=\\u00e9"), [("café".into(), "é".into())]);
    }

    /// Found by `scripts/fuzz` (target ports_properties): it used to panic inside the crate.
    #[test]
    fn regression_a_lone_ff_byte_does_not_panic() {
        assert_eq!(pairs(b"\xff"), [("ÿ".into(), String::new())]);
        for bytes in [&b"\xff\xfe"[..], b"a=\xc3", b"\\", b"a=\\u12"] {
            let _ = parse(bytes);
        }
    }
}
