//! Maven version ordering: a port of Maven 3.9's `ComparableVersion`.
//!
//! A version is parsed into a list of items: integers, qualifiers (strings), combinations of a
//! qualifier and a number (`rc1`, `alpha-2`), and sub-lists. `.` separates items, `-` starts a
//! sub-list, and a switch between digits and letters splits an item. Qualifiers order as
//! `alpha < beta < milestone < rc = cr < snapshot < "" = ga = final = release < sp`, then any other
//! string, lexically. Trailing null items (`0`, `""`, empty lists) are dropped, so `1.0.0 == 1`.
//!
//! Deliberate differences from the Java class, where it is inconsistent:
//! - Numbers compare by value. Java compares by how many digits the number had after stripping
//!   leading zeros, so there a zero written with 10 or more digits outranks `1`.
//! - Only ASCII `0`-`9` are digits (Java's `Character.isDigit` also takes other scripts' digits).
//! - Equality is "compares equal", as Rust's `Ord` requires: `1-ga == 1` here, where Java calls them
//!   the same order but not `equals`.
//! - The order is total, which Java's is not for some mixed layouts (MNG-6568 and kin): a
//!   qualifier against a sub-list compares as a list of itself, `1-ga1 > 1`, and a null item
//!   before a qualifier is dropped at any depth (`1.0.rc1 == 1-rc1`), as newer Maven does.

use std::cmp::Ordering;
use std::fmt;

/// A Maven version, kept with the text it was parsed from.
#[derive(Clone, Debug)]
pub struct MavenVersion {
    original: String,
    items: Vec<Item>,
}

impl MavenVersion {
    /// Parses any string; every string is a valid Maven version.
    pub fn parse(s: &str) -> Self {
        Self {
            original: s.to_owned(),
            items: parse_items(&s.to_lowercase()),
        }
    }

    /// The text this version was parsed from.
    pub fn as_str(&self) -> &str {
        &self.original
    }

    /// Maven's canonical form (`1.0.0-GA` → `1-ga`, `1.0RC1` → `1-rc1`), for diagnostics.
    pub fn canonical(&self) -> String {
        let mut out = String::new();
        write_list(&self.items, &mut out);
        out
    }
}

/// Compares two version strings the way Maven does.
pub fn compare(a: &str, b: &str) -> Ordering {
    MavenVersion::parse(a).cmp(&MavenVersion::parse(b))
}

impl Ord for MavenVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_lists(&self.items, &other.items)
    }
}

impl PartialOrd for MavenVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for MavenVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for MavenVersion {}

impl fmt::Display for MavenVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

#[derive(Clone, Debug)]
enum Item {
    Int(Int),
    Str(Qualifier),
    /// A qualifier directly followed by a number (`rc1`, `alpha-2`): Maven's `CombinationItem`.
    Combination(Qualifier, Int),
    List(Vec<Item>),
}

/// An integer item: `u64` when it fits, else its digits without leading zeros.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Int {
    Small(u64),
    Big(Box<str>),
}

/// A lower-cased qualifier with Maven's aliases applied (`cr` → `rc`, `a1` → `alpha1`).
#[derive(Clone, Debug)]
struct Qualifier(Box<str>);

/// Where a qualifier sorts: the known ones by their index, then the rest lexically.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Rank<'a> {
    Known(u8),
    Other(&'a str),
}

const KNOWN_QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];
const RELEASE_RANK: Rank<'static> = Rank::Known(5);

impl Int {
    /// `digits` are ASCII digits, possibly with leading zeros.
    fn parse(digits: &str) -> Self {
        let trimmed = digits.trim_start_matches('0');
        match trimmed.parse::<u64>() {
            Ok(n) => Int::Small(n),
            Err(_) if trimmed.is_empty() => Int::Small(0),
            Err(_) => Int::Big(trimmed.into()),
        }
    }

    fn is_zero(&self) -> bool {
        matches!(self, Int::Small(0))
    }

    fn cmp(&self, other: &Int) -> Ordering {
        match (self, other) {
            (Int::Small(a), Int::Small(b)) => a.cmp(b),
            (Int::Small(_), Int::Big(_)) => Ordering::Less,
            (Int::Big(_), Int::Small(_)) => Ordering::Greater,
            // No leading zeros, so more digits means bigger.
            (Int::Big(a), Int::Big(b)) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
        }
    }

    fn write(&self, out: &mut String) {
        match self {
            Int::Small(n) => out.push_str(&n.to_string()),
            Int::Big(digits) => out.push_str(digits),
        }
    }
}

impl Qualifier {
    fn new(value: &str, followed_by_digit: bool) -> Self {
        let value = match value {
            "a" if followed_by_digit => "alpha",
            "b" if followed_by_digit => "beta",
            "m" if followed_by_digit => "milestone",
            "cr" => "rc",
            other => other,
        };
        Qualifier(value.into())
    }

    fn rank(&self) -> Rank<'_> {
        match &*self.0 {
            "ga" | "final" | "release" => RELEASE_RANK,
            q => match KNOWN_QUALIFIERS.iter().position(|k| *k == q) {
                Some(i) => Rank::Known(i as u8),
                None => Rank::Other(q),
            },
        }
    }

    fn cmp(&self, other: &Qualifier) -> Ordering {
        self.rank().cmp(&other.rank())
    }

    /// Against a missing item: `1-rc < 1`, `1-sp > 1`.
    fn cmp_missing(&self) -> Ordering {
        self.rank().cmp(&RELEASE_RANK)
    }
}

impl Item {
    fn is_null(&self) -> bool {
        match self {
            Item::Int(n) => n.is_zero(),
            Item::Str(q) => q.0.is_empty(),
            Item::Combination(..) => false,
            Item::List(items) => items.is_empty(),
        }
    }

    /// Whether a qualifier comes first, at any depth of sub-lists: a null item before one is
    /// dropped, as Maven drops it before a qualifier or a list that starts with one. Looking only
    /// one list deep left `-0rc` above `a` by type while below the release.
    fn starts_with_qualifier(&self) -> bool {
        match self {
            Item::Str(_) | Item::Combination(..) => true,
            Item::List(items) => items.first().is_some_and(Item::starts_with_qualifier),
            Item::Int(_) => false,
        }
    }

    /// Compares with the item at the same place in a shorter version (`None`).
    fn cmp_missing(&self) -> Ordering {
        match self {
            Item::Int(n) if n.is_zero() => Ordering::Equal,
            Item::Int(_) => Ordering::Greater,
            Item::Str(q) => q.cmp_missing(),
            // `1-ga1 > 1-ga == 1`, so `1-ga1 > 1` too; Java's answer "equal" was not transitive.
            Item::Combination(q, _) => q.cmp_missing().then(Ordering::Greater),
            // The whole list decides, not only its first item (MNG-6964).
            Item::List(items) => items
                .iter()
                .map(Item::cmp_missing)
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal),
        }
    }

    fn cmp(&self, other: &Item) -> Ordering {
        use Item::{Combination, Int, List, Str};
        use Ordering::{Greater, Less};
        match (self, other) {
            (Int(a), Int(b)) => a.cmp(b),
            (Int(_), _) => Greater,
            (_, Int(_)) => Less,
            (Str(a), Str(b)) => a.cmp(b),
            // A qualifier alone sorts before the same qualifier with a number: `rc < rc1`.
            (Str(a), Combination(b, _)) => a.cmp(b).then(Less),
            (Combination(a, _), Str(b)) => a.cmp(b).then(Greater),
            (Combination(a, x), Combination(b, y)) => a.cmp(b).then_with(|| x.cmp(y)),
            // A qualifier against a sub-list compares as a list of itself: by type alone
            // (`x < 0-alpha`) it formed a cycle with the release (`0-alpha < 0 < x`).
            (Str(_) | Combination(..), List(b)) => compare_lists(std::slice::from_ref(self), b),
            (List(a), Str(_) | Combination(..)) => compare_lists(a, std::slice::from_ref(other)),
            (List(a), List(b)) => compare_lists(a, b),
        }
    }

    fn write(&self, out: &mut String) {
        match self {
            Item::Int(n) => n.write(out),
            Item::Str(q) => out.push_str(&q.0),
            Item::Combination(q, n) => {
                out.push_str(&q.0);
                n.write(out);
            }
            Item::List(items) => write_list(items, out),
        }
    }
}

/// Item by item; where one list is shorter its missing items compare as null.
fn compare_lists(a: &[Item], b: &[Item]) -> Ordering {
    for i in 0..a.len().max(b.len()) {
        let order = match (a.get(i), b.get(i)) {
            (Some(x), Some(y)) => x.cmp(y),
            (Some(x), None) => x.cmp_missing(),
            (None, Some(y)) => y.cmp_missing().reverse(),
            (None, None) => Ordering::Equal,
        };
        if order.is_ne() {
            return order;
        }
    }
    Ordering::Equal
}

fn write_list(items: &[Item], out: &mut String) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(if matches!(item, Item::List(_)) { '-' } else { '.' });
        }
        item.write(out);
    }
}

/// The parser's nested lists: each new list is the last item of the one before it, and items are
/// only ever added to the innermost one.
#[derive(Default)]
struct ListStack {
    outer: Vec<Vec<Item>>,
    current: Vec<Item>,
}

impl ListStack {
    fn push_item(&mut self, item: Item) {
        self.current.push(item);
    }

    fn open_sublist(&mut self) {
        self.outer.push(std::mem::take(&mut self.current));
    }

    fn open_sublist_unless_empty(&mut self) {
        if !self.current.is_empty() {
            self.open_sublist();
        }
    }

    /// Normalises from the innermost list outwards, nesting each into its parent.
    fn finish(mut self) -> Vec<Item> {
        let mut inner = normalize(self.current);
        while let Some(mut parent) = self.outer.pop() {
            parent.push(Item::List(inner));
            inner = normalize(parent);
        }
        inner
    }
}

/// `lower` is the lower-cased version. Mirrors `ComparableVersion.parseVersion` step by step.
fn parse_items(lower: &str) -> Vec<Item> {
    let mut lists = ListStack::default();
    let mut is_digit = false;
    let mut is_combination = false;
    let mut start = 0;
    for (i, c) in lower.char_indices() {
        match c {
            '.' => {
                let item = if i == start {
                    Item::Int(Int::Small(0))
                } else {
                    parse_item(is_combination, is_digit, &lower[start..i])
                };
                lists.push_item(item);
                is_combination = false;
                start = i + 1;
            }
            '-' => {
                if i == start {
                    lists.push_item(Item::Int(Int::Small(0)));
                } else {
                    // `X-1` reads as `X1`: keep the dash inside the pending combination.
                    if !is_digit && lower[i + 1..].starts_with(|n: char| n.is_ascii_digit()) {
                        is_combination = true;
                        continue;
                    }
                    lists.push_item(parse_item(is_combination, is_digit, &lower[start..i]));
                }
                start = i + 1;
                lists.open_sublist_unless_empty();
                is_combination = false;
            }
            d if d.is_ascii_digit() => {
                if !is_digit && i > start {
                    is_combination = true;
                    lists.open_sublist_unless_empty();
                }
                is_digit = true;
            }
            _ => {
                if is_digit && i > start {
                    lists.push_item(parse_item(is_combination, true, &lower[start..i]));
                    start = i;
                    lists.open_sublist();
                    is_combination = false;
                }
                is_digit = false;
            }
        }
    }
    if lower.len() > start {
        // A trailing `.X` reads as `-X`, so `1.0.0.RC1 < 1.0.0-RC2` (MNG-7644).
        if !is_digit {
            lists.open_sublist_unless_empty();
        }
        lists.push_item(parse_item(is_combination, is_digit, &lower[start..]));
    }
    lists.finish()
}

fn parse_item(is_combination: bool, is_digit: bool, text: &str) -> Item {
    if is_combination {
        parse_combination(&text.replace('-', ""))
    } else if is_digit {
        Item::Int(Int::parse(text))
    } else {
        Item::Str(Qualifier::new(text, false))
    }
}

/// `rc1` → (`rc`, 1). The parser only marks text as a combination when letters precede digits.
fn parse_combination(text: &str) -> Item {
    match text.find(|c: char| c.is_ascii_digit()) {
        Some(at) if at > 0 => Item::Combination(Qualifier::new(&text[..at], true), Int::parse(&text[at..])),
        _ => Item::Str(Qualifier::new(text, false)),
    }
}

/// Drops null items (`0`, `""`, empty lists) that change nothing: trailing ones, and those right
/// before a qualifier or a sub-list starting with one (Maven 3.9's `ListItem.normalize`).
fn normalize(items: Vec<Item>) -> Vec<Item> {
    let mut kept_reversed: Vec<Item> = Vec::with_capacity(items.len());
    for item in items.into_iter().rev() {
        let droppable = item.is_null()
            && match kept_reversed.last() {
                None => true,
                Some(next) => next.starts_with_qualifier(),
            };
        if !droppable {
            kept_reversed.push(item);
        }
    }
    kept_reversed.reverse();
    kept_reversed
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses and checks that the canonical form is stable, as Maven's test helper does.
    fn version(s: &str) -> MavenVersion {
        let v = MavenVersion::parse(s);
        let canonical = v.canonical();
        assert_eq!(
            MavenVersion::parse(&canonical).canonical(),
            canonical,
            "canonical form of {s} is not stable"
        );
        v
    }

    /// Every pair in the chain, both ways, not only neighbours.
    #[track_caller]
    fn assert_ascending(chain: &[&str]) {
        let parsed: Vec<_> = chain.iter().map(|s| version(s)).collect();
        for (i, low) in parsed.iter().enumerate() {
            for high in &parsed[i + 1..] {
                assert_eq!(low.cmp(high), Ordering::Less, "expected {low} < {high}");
                assert_eq!(high.cmp(low), Ordering::Greater, "expected {high} > {low}");
                assert_ne!(low, high);
            }
        }
    }

    #[track_caller]
    fn assert_same(a: &str, b: &str) {
        let (x, y) = (version(a), version(b));
        assert_eq!(x.cmp(&y), Ordering::Equal, "expected {a} == {b}");
        assert_eq!(y.cmp(&x), Ordering::Equal, "expected {b} == {a}");
        assert_eq!(x, y);
    }

    #[track_caller]
    fn assert_less(a: &str, b: &str) {
        assert_ascending(&[a, b]);
    }

    #[test]
    fn qualifiers_order_like_maven() {
        assert_ascending(&[
            "1-alpha2snapshot",
            "1-alpha2",
            "1-alpha-123",
            "1-beta-2",
            "1-beta123",
            "1-m2",
            "1-m11",
            "1-rc",
            "1-cr2",
            "1-rc123",
            "1-SNAPSHOT",
            "1",
            "1-sp",
            "1-sp2",
            "1-sp123",
            "1-abc",
            "1-def",
            "1-pom-1",
            "1-1-snapshot",
            "1-1",
            "1-2",
            "1-123",
        ]);
    }

    #[test]
    fn numbers_order_like_maven() {
        assert_ascending(&[
            "2.0", "2.0.a", "2-1", "2.0.2", "2.0.123", "2.1.0", "2.1-a", "2.1b", "2.1-c", "2.1-1", "2.1.0.1",
            "2.2", "2.123", "11.a2", "11.a11", "11.b2", "11.b11", "11.m2", "11.m11", "11", "11.a", "11b",
            "11c", "11m",
        ]);
    }

    #[test]
    fn trailing_zeros_and_separators_do_not_matter() {
        for (a, b) in [
            ("1", "1"),
            ("1", "1.0"),
            ("1", "1.0.0"),
            ("1.0", "1.0.0"),
            ("1", "1-0"),
            ("1", "1.0-0"),
            ("1.0", "1.0-0"),
            ("1a", "1-a"),
            ("1a", "1.0-a"),
            ("1a", "1.0.0-a"),
            ("1.0a", "1-a"),
            ("1.0.0a", "1-a"),
            ("1x", "1-x"),
            ("1x", "1.0-x"),
            ("1x", "1.0.0-x"),
            ("1.0x", "1-x"),
            ("1.0.0x", "1-x"),
            ("0000001", "1"),
        ] {
            assert_same(a, b);
        }
    }

    #[test]
    fn aliases_are_equal() {
        assert_same("1cr", "1rc");
        assert_same("1a1", "1-alpha-1");
        assert_same("1b2", "1-beta-2");
        assert_same("1m3", "1-milestone-3");
        for release in [
            "1.0",
            "1.0.0",
            "1-ga",
            "1-final",
            "1-release",
            "1ga",
            "1.0.final",
            "1RELeaSE",
        ] {
            assert_same("1", release);
        }
    }

    #[test]
    fn single_letters_are_aliases_only_before_a_digit() {
        // `a` alone is an unknown qualifier, so it sorts after the release; `a1` is alpha-1.
        assert_less("1-a1", "1");
        assert_less("1", "1-a");
        assert_eq!(version("1-a1").canonical(), "1-alpha1");
        assert_eq!(version("1-a").canonical(), "1-a");
    }

    #[test]
    fn comparison_ignores_case() {
        for (a, b) in [
            ("1X", "1x"),
            ("1A", "1a"),
            ("1B", "1b"),
            ("1M", "1m"),
            ("1Cr", "1Rc"),
            ("1cR", "1rC"),
            ("1m3", "1Milestone3"),
            ("1m3", "1MileStone3"),
            ("1m3", "1MILESTONE3"),
            ("1.0.0-alpha1", "1.0.0-ALPHA1"),
            ("1.a", "1.A"),
            ("1.é", "1.É"),
            ("1-abcdefghijklmnopqrstuvwxyz", "1-ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
        ] {
            assert_same(a, b);
        }
    }

    #[test]
    fn common_version_comparisons() {
        for (a, b) in [
            ("1", "2"),
            ("1.5", "2"),
            ("1", "2.5"),
            ("1.0", "1.1"),
            ("1.1", "1.2"),
            ("1.0.0", "1.1"),
            ("1.0.1", "1.1"),
            ("1.1", "1.2.0"),
            ("1.0-alpha-1", "1.0"),
            ("1.0-alpha-1", "1.0-alpha-2"),
            ("1.0-alpha-1", "1.0-beta-1"),
            ("1.0-beta-1", "1.0-SNAPSHOT"),
            ("1.0-SNAPSHOT", "1.0"),
            ("1.0-alpha-1-SNAPSHOT", "1.0-alpha-1"),
            ("1.0", "1.0-1"),
            ("1.0-1", "1.0-2"),
            ("1.0.0", "1.0-1"),
            ("2.0-1", "2.0.1"),
            ("2.0.1-klm", "2.0.1-lmn"),
            ("2.0.1", "2.0.1-xyz"),
            ("2.0.1", "2.0.1-123"),
            ("2.0.1-xyz", "2.0.1-123"),
            ("0.7", "2"),
            ("0.2", "1.0.7"),
        ] {
            assert_less(a, b);
        }
    }

    #[test]
    fn digits_outrank_letters_and_only_ascii_digits_count() {
        assert_less("J", "7");
        assert_less("c", "7");
        assert_less("é", "1");
        assert_less("\u{1D7E4}", "1"); // MATHEMATICAL SANS-SERIF DIGIT TWO
        assert_less("\u{0668}", "1"); // ARABIC-INDIC DIGIT EIGHT
        assert_less("\u{0668}", "9");
        assert_less("aardvark", "zebra");
        assert_less("zebra", "ζέβρα");
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(version("0.x").canonical(), "x");
        assert_eq!(version("0.2").canonical(), "0.2");
        assert_eq!(version("1.0.0").canonical(), "1");
        assert_eq!(version("1.0RC1").canonical(), "1-rc1");
        assert_eq!(version("1-alpha2snapshot").canonical(), "1-alpha2-snapshot");
        for s in ["0-x", "0.rc", "0-1", "1-", "-1", ".", "-", "", "1..2", "a-"] {
            version(s);
        }
        // As in Maven, `a--1` (`a-0-1`) re-reads as `alpha0-1`: canonical forms are for display.
        assert_eq!(MavenVersion::parse("a--1").canonical(), "a-0-1");
    }

    /// MNG-5568: a transitive order even with odd strings, so sorting never misbehaves.
    #[test]
    fn unusual_strings_stay_transitive() {
        assert_ascending(&["6.1.0rc3", "6.1.0", "6.1H.5-beta"]);
    }

    /// MNG-6572: numbers of every size, compared by value.
    #[test]
    fn numbers_of_every_size() {
        assert_ascending(&[
            "20190126.230843",
            "1234567890.12345",
            "123456789012345.1H.5-beta",
            "12345678901234567890.1H.5-beta",
        ]);
        assert_less("1.9999999999", "1.99999999999999999999");
        assert_less("18446744073709551615", "18446744073709551616");
        assert_less("99999999999999999999", "100000000000000000000");
        assert_same(
            "000000000000000000000000018446744073709551616",
            "18446744073709551616",
        );
    }

    #[test]
    fn leading_zeros_are_ignored_at_every_length() {
        let ones: Vec<String> = (1..=19).map(|n| format!("{}1", "0".repeat(n - 1))).collect();
        let zeros: Vec<String> = (1..=19).map(|n| "0".repeat(n)).collect();
        for set in [&ones, &zeros] {
            for a in set.iter() {
                for b in set.iter() {
                    assert_same(a, b);
                }
            }
        }
        assert_same("0", "");
    }

    /// MNG-6964: a qualifier after `-0.` still sorts before the release.
    #[test]
    fn qualifiers_after_a_zero_sublist() {
        assert_ascending(&["1-0.alpha", "1-0.beta", "1"]);
    }

    /// MNG-7644: `1.0.0.X1 < 1.0.0-X2`, and `2-X == 2.0.X == 2.0.0.X`, for any qualifier X.
    #[test]
    fn dot_qualifier_reads_as_dash_qualifier() {
        for x in ["abc", "alpha", "a", "beta", "b", "def", "milestone", "m", "RC"] {
            assert_less(&format!("1.0.0.{x}1"), &format!("1.0.0-{x}2"));
            assert_same(&format!("2-{x}"), &format!("2.0.{x}"));
            assert_same(&format!("2-{x}"), &format!("2.0.0.{x}"));
            assert_same(&format!("2.0.{x}"), &format!("2.0.0.{x}"));
        }
    }

    /// MNG-7714: service packs come after the release they patch.
    #[test]
    fn service_packs_follow_final() {
        for sp in ["1.0-sp1-redhat", "1.0-sp-1-redhat", "1.0-sp.1-redhat"] {
            assert_less("1.0.final-redhat", sp);
        }
    }

    #[test]
    fn sorting_a_list_uses_maven_order() {
        let mut versions: Vec<MavenVersion> =
            ["1.10", "1.2-SNAPSHOT", "1.2", "1.9", "1.2-rc1", "1.10.1-beta"]
                .into_iter()
                .map(MavenVersion::parse)
                .collect();
        versions.sort();
        let sorted: Vec<&str> = versions.iter().map(MavenVersion::as_str).collect();
        assert_eq!(
            sorted,
            ["1.2-rc1", "1.2-SNAPSHOT", "1.2", "1.9", "1.10", "1.10.1-beta"]
        );
    }

    #[test]
    fn display_and_as_str_keep_the_original_text() {
        let v = MavenVersion::parse("1.0.0-GA");
        assert_eq!(v.as_str(), "1.0.0-GA");
        assert_eq!(v.to_string(), "1.0.0-GA");
        assert_eq!(compare("1.0.0-GA", "1"), Ordering::Equal);
        assert_eq!(compare("1.0", "1.0.1"), Ordering::Less);
        assert_eq!(compare("2", "1.999"), Ordering::Greater);
    }

    /// Cycles Java's class has (MNG-6568 and its kin) and that fuzzing found here, each now
    /// ordered one way: `0-alpha < 0 < x`, `1 < 1-ga1`, and `-0rc` below the release like `rc`.
    #[test]
    fn regression_former_cycles_are_ordered() {
        assert_ascending(&["0-alpha", "0", "x"]);
        assert_ascending(&["1-ga", "1-ga1", "1-ga2"]);
        assert_same("1-ga", "1");
        assert_ascending(&["-0rc", "", "a"]);
        assert_ascending(&["0.alpha1", "0", "0-sp"]);
        assert_same("1.0.rc1", "1-rc1");
    }

    /// Every string of up to three pieces from a set that mixes numbers, separators, known and
    /// unknown qualifiers: the order is antisymmetric and transitive over all of them.
    #[test]
    fn the_order_is_total_over_every_short_version() {
        let pieces = [
            "1", "0", "-", ".", "a", "rc", "sp", "ga", "x", "2", "m", "final", "00", "_",
        ];
        let mut texts = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..3 {
            last = last
                .iter()
                .flat_map(|t| pieces.iter().map(move |p| format!("{t}{p}")))
                .collect();
            texts.extend(last.iter().cloned());
        }
        let versions: Vec<MavenVersion> = texts.iter().map(|t| MavenVersion::parse(t)).collect();
        let n = versions.len();
        // at_most[a] holds, as bits, every x with x <= a; transitivity is then a subset test.
        let words = n.div_ceil(64);
        let mut at_most = vec![vec![0u64; words]; n];
        for (a, va) in versions.iter().enumerate() {
            for (x, vx) in versions.iter().enumerate() {
                let order = vx.cmp(va);
                assert_eq!(order, va.cmp(vx).reverse(), "antisymmetry: {vx:?} vs {va:?}");
                if order.is_le() {
                    at_most[a][x / 64] |= 1 << (x % 64);
                }
            }
        }
        for c in 0..n {
            for b in (0..n).filter(|b| at_most[c][b / 64] >> (b % 64) & 1 == 1) {
                if let Some(w) = (0..words).find(|&w| at_most[b][w] & !at_most[c][w] != 0) {
                    let a = w * 64 + (at_most[b][w] & !at_most[c][w]).trailing_zeros() as usize;
                    panic!(
                        "not transitive: {:?} <= {:?} <= {:?}",
                        texts[a], texts[b], texts[c]
                    );
                }
            }
        }
    }
}
