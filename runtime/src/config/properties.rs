//! A reader for Java `.properties` files with the exact rules of
//! `java.util.Properties.load(Reader)`.
//!
//! Kafka Connect reads worker configs and connector configs given on the
//! `connect-standalone` command line with `Properties.load`, so Ferry must split
//! keys and values, continue lines and decode escapes exactly as Java does:
//!
//! * A *natural line* ends at `\n`, `\r` or `\r\n`. A *logical line* is one or
//!   more natural lines joined by backslash continuations.
//! * Leading whitespace (space, `\t`, `\f`) is skipped. A line that is then empty,
//!   or starts with `#` or `!`, is a comment. A comment is never continued, even
//!   when it ends with a backslash.
//! * A line ending in an odd number of backslashes continues on the next natural
//!   line: the last backslash and the line terminator are dropped, as is the
//!   leading whitespace of the next line. An even number of trailing backslashes
//!   (`\\`) is an escaped backslash and ends the line.
//! * The key runs to the first unescaped `=`, `:` or whitespace. Whitespace after
//!   the key is skipped, then at most one `=` or `:`, then more whitespace; the
//!   rest of the line, trailing whitespace included, is the value. A key with
//!   nothing after it has the empty value; a line `=v` has the empty key.
//! * Escapes in keys and values: `\t`, `\n`, `\r`, `\f`, `\uXXXX` (surrogate
//!   pairs written as two `\u` escapes are joined; a lone surrogate becomes
//!   U+FFFD since Rust strings cannot hold one). A backslash before any other
//!   character is dropped (`\=`, `\:`, `\ `, `\#`, `\\`, and also `\b` gives `b`).
//!   A `\u` not followed by four hex digits is an error, like Java's
//!   `IllegalArgumentException("Malformed \uxxxx encoding.")`, here with the line.
//! * When a key appears twice the later value wins, as in Java. [`parse`] keeps
//!   each key at the position of its first occurrence.
//!
//! Files are read by [`load`]: as UTF-8 when the bytes are valid UTF-8 (a leading
//! byte order mark is dropped), otherwise as ISO-8859-1, one byte per character.
//! Java's `Properties.load(InputStream)`, which Kafka's `Utils.loadProps` uses,
//! always reads ISO-8859-1; but people write UTF-8 today, and an ASCII file (the
//! usual case, with non-ASCII written as `\uXXXX`) reads the same either way.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use crate::errors::ConnectError;

/// Why a properties text or file could not be read.
#[derive(Debug)]
pub enum PropertiesError {
    /// A `\u` escape not followed by four hexadecimal digits.
    MalformedUnicodeEscape {
        /// The file, when the text came from [`load`].
        path: Option<PathBuf>,
        /// The 1-based natural line the escape is on.
        line: usize,
        /// The offending escape as written, e.g. `\u12G4` or `\u12` at line end.
        escape: String,
    },
    /// The file could not be read.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl PropertiesError {
    /// The 1-based line of a malformed escape, if that is the error.
    pub fn line(&self) -> Option<usize> {
        match self {
            PropertiesError::MalformedUnicodeEscape { line, .. } => Some(*line),
            PropertiesError::Io { .. } => None,
        }
    }

    pub(crate) fn with_path(self, file: &Path) -> Self {
        match self {
            PropertiesError::MalformedUnicodeEscape { line, escape, .. } => {
                PropertiesError::MalformedUnicodeEscape {
                    path: Some(file.to_path_buf()),
                    line,
                    escape,
                }
            }
            other => other,
        }
    }
}

impl fmt::Display for PropertiesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PropertiesError::MalformedUnicodeEscape { path, line, escape } => {
                if let Some(path) = path {
                    write!(f, "{}: ", path.display())?;
                }
                write!(
                    f,
                    "line {line}: Malformed \\uxxxx encoding. (found `{escape}`)"
                )
            }
            PropertiesError::Io { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for PropertiesError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PropertiesError::Io { source, .. } => Some(source),
            PropertiesError::MalformedUnicodeEscape { .. } => None,
        }
    }
}

impl From<PropertiesError> for ConnectError {
    /// Every properties error is the user's: a bad or missing file they named.
    fn from(err: PropertiesError) -> Self {
        ConnectError::Config(err.to_string())
    }
}

/// Parses properties text into `(key, value)` pairs without duplicate keys.
///
/// A repeated key takes the later value and keeps its first position.
pub fn parse(text: &str) -> Result<Vec<(String, String)>, PropertiesError> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for_each_pair(text, |key, value| match index.get(&key) {
        Some(&i) => {
            if let Some(slot) = out.get_mut(i) {
                slot.1 = value;
            }
        }
        None => {
            index.insert(key.clone(), out.len());
            out.push((key, value));
        }
    })?;
    Ok(out)
}

/// Parses properties text into a sorted map; a repeated key takes the later value.
pub fn parse_map(text: &str) -> Result<BTreeMap<String, String>, PropertiesError> {
    let mut out = BTreeMap::new();
    for_each_pair(text, |key, value| {
        out.insert(key, value);
    })?;
    Ok(out)
}

/// Reads and parses a properties file (UTF-8, or ISO-8859-1 when not valid UTF-8).
pub fn load(path: &Path) -> Result<Vec<(String, String)>, PropertiesError> {
    let text = read_text(path)?;
    parse(&text).map_err(|e| e.with_path(path))
}

/// Reads and parses a properties file into a sorted map.
pub fn load_map(path: &Path) -> Result<BTreeMap<String, String>, PropertiesError> {
    let text = read_text(path)?;
    parse_map(&text).map_err(|e| e.with_path(path))
}

fn read_text(path: &Path) -> Result<String, PropertiesError> {
    let bytes = std::fs::read(path).map_err(|source| PropertiesError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(decode(bytes).0)
}

/// Decodes file bytes as UTF-8 (dropping a byte order mark) or, when they are
/// not valid UTF-8, as ISO-8859-1. The flag says whether they were UTF-8.
pub(crate) fn decode(bytes: Vec<u8>) -> (String, bool) {
    match String::from_utf8(bytes) {
        Ok(mut text) => {
            if text.starts_with('\u{feff}') {
                text.drain(..'\u{feff}'.len_utf8());
            }
            (text, true)
        }
        Err(err) => (
            err.into_bytes().into_iter().map(char::from).collect(),
            false,
        ),
    }
}

/// Calls `sink` with each key and value in file order, duplicates included.
fn for_each_pair(text: &str, mut sink: impl FnMut(String, String)) -> Result<(), PropertiesError> {
    let chars: Vec<char> = text.chars().collect();
    let mut reader = LineReader::new(&chars);
    let mut line = LogicalLine::default();
    while reader.read_line(&mut line) {
        let (key_end, value_start) = split_key_value(&line.chars);
        let key = unescape(&line, 0, key_end)?;
        let value = unescape(&line, value_start, line.chars.len())?;
        sink(key, value);
    }
    Ok(())
}

/// Whitespace as `Properties` sees it: space, tab and form feed.
fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\u{c}'
}

/// One logical line, and which natural line each stretch of it came from.
#[derive(Default)]
struct LogicalLine {
    chars: Vec<char>,
    /// `(offset in chars, 1-based natural line)` where each stretch begins.
    origins: Vec<(usize, usize)>,
}

impl LogicalLine {
    fn clear(&mut self) {
        self.chars.clear();
        self.origins.clear();
    }

    fn push(&mut self, c: char, natural_line: usize) {
        if self.origins.last().map(|o| o.1) != Some(natural_line) {
            self.origins.push((self.chars.len(), natural_line));
        }
        self.chars.push(c);
    }

    /// The natural line the char at `offset` came from.
    fn line_of(&self, offset: usize) -> usize {
        let i = self.origins.partition_point(|o| o.0 <= offset);
        self.origins
            .get(i.saturating_sub(1))
            .map_or(1, |&(_, line)| line)
    }
}

/// A port of `Properties.LineReader`: yields logical lines with comments and
/// blank lines skipped, continuations joined, and leading whitespace removed.
struct LineReader<'a> {
    chars: &'a [char],
    pos: usize,
    /// The natural line of the next char.
    line: usize,
    /// Whether the last char read was `\r`, so a following `\n` ends no new line.
    after_cr: bool,
}

impl<'a> LineReader<'a> {
    fn new(chars: &'a [char]) -> Self {
        LineReader {
            chars,
            pos: 0,
            line: 1,
            after_cr: false,
        }
    }

    /// The next char and the natural line it is on.
    fn next_char(&mut self) -> Option<(char, usize)> {
        let c = *self.chars.get(self.pos)?;
        self.pos += 1;
        let line = self.line;
        match c {
            '\r' => self.line += 1,
            '\n' if !self.after_cr => self.line += 1,
            _ => {}
        }
        self.after_cr = c == '\r';
        Some((c, line))
    }

    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    /// Reads the next logical line into `out`; false at end of input.
    fn read_line(&mut self, out: &mut LogicalLine) -> bool {
        out.clear();
        let mut skip_white_space = true;
        let mut appended_line_begin = false;
        let mut preceding_backslash = false;
        loop {
            let Some((c, natural_line)) = self.next_char() else {
                if out.chars.is_empty() {
                    return false;
                }
                if preceding_backslash {
                    out.chars.pop();
                }
                return true;
            };
            if skip_white_space {
                if is_blank(c) {
                    continue;
                }
                if !appended_line_begin && (c == '\r' || c == '\n') {
                    continue;
                }
                skip_white_space = false;
                appended_line_begin = false;
            }
            if out.chars.is_empty() && (c == '#' || c == '!') {
                // A comment: drop the rest of the natural line, whatever it ends with.
                while let Some((c, _)) = self.next_char() {
                    if c == '\r' || c == '\n' {
                        break;
                    }
                }
                skip_white_space = true;
                continue;
            }
            if c != '\n' && c != '\r' {
                out.push(c, natural_line);
                preceding_backslash = c == '\\' && !preceding_backslash;
                continue;
            }
            // End of a natural line.
            if out.chars.is_empty() {
                skip_white_space = true;
                continue;
            }
            if self.at_end() {
                if preceding_backslash {
                    out.chars.pop();
                }
                return true;
            }
            if !preceding_backslash {
                return true;
            }
            // A continuation: drop the backslash, join the next natural line.
            out.chars.pop();
            skip_white_space = true;
            appended_line_begin = true;
            preceding_backslash = false;
            if c == '\r' && self.chars.get(self.pos) == Some(&'\n') {
                self.next_char();
            }
        }
    }
}

/// Where the key ends and the value begins in a logical line (`Properties.load0`).
fn split_key_value(line: &[char]) -> (usize, usize) {
    let limit = line.len();
    let mut key_len = 0;
    let mut value_start = limit;
    let mut has_sep = false;
    let mut preceding_backslash = false;
    while let Some(&c) = line.get(key_len) {
        if (c == '=' || c == ':') && !preceding_backslash {
            value_start = key_len + 1;
            has_sep = true;
            break;
        }
        if is_blank(c) && !preceding_backslash {
            value_start = key_len + 1;
            break;
        }
        preceding_backslash = c == '\\' && !preceding_backslash;
        key_len += 1;
    }
    while let Some(&c) = line.get(value_start) {
        if !is_blank(c) {
            if !has_sep && (c == '=' || c == ':') {
                has_sep = true;
            } else {
                break;
            }
        }
        value_start += 1;
    }
    (key_len, value_start)
}

/// Decodes the escapes in `line.chars[start..end]` (`Properties.loadConvert`).
fn unescape(line: &LogicalLine, start: usize, end: usize) -> Result<String, PropertiesError> {
    let chars = line.chars.get(start..end).unwrap_or_default();
    let mut out = String::with_capacity(chars.len());
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        i += 1;
        if c != '\\' {
            out.push(c);
            continue;
        }
        // The line reader never leaves an unescaped backslash at the end, so
        // there is always a next char; if not, the backslash is dropped.
        let Some(&escaped) = chars.get(i) else {
            break;
        };
        i += 1;
        match escaped {
            'u' => {
                let Some(unit) = hex4(chars.get(i..i + 4)) else {
                    let shown: String = chars.iter().skip(i).take(4).collect();
                    return Err(PropertiesError::MalformedUnicodeEscape {
                        path: None,
                        line: line.line_of(start + i - 2),
                        escape: format!("\\u{shown}"),
                    });
                };
                i += 4;
                if (0xD800..0xDC00).contains(&unit) {
                    // A high surrogate: join it with a `\uDC00`..`\uDFFF` right after.
                    let low = match chars.get(i..i + 6) {
                        Some(['\\', 'u', rest @ ..]) => {
                            hex4(Some(rest)).filter(|u| (0xDC00..0xE000).contains(u))
                        }
                        _ => None,
                    };
                    if let Some(low) = low {
                        i += 6;
                        let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                        out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
                        continue;
                    }
                }
                out.push(char::from_u32(unit).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'n' => out.push('\n'),
            'f' => out.push('\u{c}'),
            other => out.push(other),
        }
    }
    Ok(out)
}

/// The value of exactly four hex digits.
fn hex4(digits: Option<&[char]>) -> Option<u32> {
    let digits = digits?;
    if digits.len() != 4 {
        return None;
    }
    digits
        .iter()
        .try_fold(0u32, |acc, c| Some((acc << 4) | c.to_digit(16)?))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse(text).unwrap()
    }

    fn p(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn seed_elasticsearch_sink() {
        let text = include_str!("../../tests/fixtures/config/elasticsearch-sink.properties");
        assert_eq!(
            pairs(text),
            p(&[
                ("name", "elasticsearch-sink"),
                (
                    "connector.class",
                    "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector"
                ),
                ("tasks.max", "1"),
                ("topics", "logs"),
                ("topic.index.map", "logs:logs_index"),
                ("key.ignore", "true"),
                ("schema.ignore", "true"),
                ("connection.url", "http://localhost:9200"),
                ("type.name", "log"),
            ])
        );
    }

    #[test]
    fn separators() {
        assert_eq!(pairs("a=b"), p(&[("a", "b")]));
        assert_eq!(pairs("a:b"), p(&[("a", "b")]));
        assert_eq!(pairs("a b"), p(&[("a", "b")]));
        assert_eq!(pairs("a\tb"), p(&[("a", "b")]));
        assert_eq!(pairs("a\u{c}b"), p(&[("a", "b")]));
        assert_eq!(pairs("a  =  b  "), p(&[("a", "b  ")]));
        assert_eq!(pairs("a : b"), p(&[("a", "b")]));
        // Whitespace, then one `=` or `:` is still part of the separator...
        assert_eq!(pairs("a = = b"), p(&[("a", "= b")]));
        assert_eq!(pairs("a :=b"), p(&[("a", "=b")]));
        // ...but only one.
        assert_eq!(pairs("a==b"), p(&[("a", "=b")]));
        assert_eq!(pairs("a=:b"), p(&[("a", ":b")]));
        assert_eq!(pairs("a b=c"), p(&[("a", "b=c")]));
        assert_eq!(
            pairs("url=http://h:1/x?a=b"),
            p(&[("url", "http://h:1/x?a=b")])
        );
    }

    #[test]
    fn trailing_whitespace_kept_in_value_not_key() {
        assert_eq!(pairs("k=v \t"), p(&[("k", "v \t")]));
        assert_eq!(pairs("k   "), p(&[("k", "")]));
        assert_eq!(pairs("   k=v"), p(&[("k", "v")]));
    }

    #[test]
    fn empty_key_and_empty_value() {
        assert_eq!(pairs("=value"), p(&[("", "value")]));
        assert_eq!(pairs(":value"), p(&[("", "value")]));
        assert_eq!(pairs("key"), p(&[("key", "")]));
        assert_eq!(pairs("key="), p(&[("key", "")]));
        assert_eq!(pairs("key = "), p(&[("key", "")]));
        assert_eq!(pairs("="), p(&[("", "")]));
    }

    #[test]
    fn escaped_separators_in_keys() {
        assert_eq!(
            pairs("key\\ with\\ spaces = value"),
            p(&[("key with spaces", "value")])
        );
        assert_eq!(pairs("a\\=b=c"), p(&[("a=b", "c")]));
        assert_eq!(pairs("a\\:b:c"), p(&[("a:b", "c")]));
        assert_eq!(pairs("\\#not-a-comment=1"), p(&[("#not-a-comment", "1")]));
        assert_eq!(pairs("\\!x=1"), p(&[("!x", "1")]));
        // `\\` is an escaped backslash, so the `=` after it separates.
        assert_eq!(pairs("a\\\\=b"), p(&[("a\\", "b")]));
        assert_eq!(pairs("a\\\\\\=b=c"), p(&[("a\\=b", "c")]));
    }

    #[test]
    fn escapes() {
        assert_eq!(pairs("k=\\u0041"), p(&[("k", "A")]));
        assert_eq!(pairs("\\u0041=x"), p(&[("A", "x")]));
        assert_eq!(pairs("k=\\u00e9\\u00E9"), p(&[("k", "éé")]));
        assert_eq!(
            pairs("k=a\\tb\\nc\\rd\\fe"),
            p(&[("k", "a\tb\nc\rd\u{c}e")])
        );
        // Any other escaped char is itself.
        assert_eq!(pairs("k=\\a\\b\\\\\\=\\:\\ \\\""), p(&[("k", "ab\\=: \"")]));
        // Escaped leading whitespace in a value is kept.
        assert_eq!(pairs("k=\\  v"), p(&[("k", "  v")]));
        assert_eq!(pairs("k=C:\\\\temp"), p(&[("k", "C:\\temp")]));
        // `\t` is a tab even in a Windows path: write `\\` for a backslash.
        assert_eq!(pairs("k=C:\\temp"), p(&[("k", "C:\temp")]));
        assert_eq!(pairs("k=C:\\xyz"), p(&[("k", "C:xyz")]));
        assert_eq!(pairs("k=\\u0000"), p(&[("k", "\0")]));
    }

    #[test]
    fn surrogates() {
        assert_eq!(pairs("k=\\uD83D\\uDE00"), p(&[("k", "😀")]));
        assert_eq!(pairs("k=\\ud83d\\ude00!"), p(&[("k", "😀!")]));
        assert_eq!(pairs("k=\\uD83Dx"), p(&[("k", "\u{fffd}x")]));
        assert_eq!(pairs("k=\\uDE00"), p(&[("k", "\u{fffd}")]));
        assert_eq!(pairs("k=\\uD83D\\u0041"), p(&[("k", "\u{fffd}A")]));
        assert_eq!(pairs("k=\\uD83D\\uD83D\\uDE00"), p(&[("k", "\u{fffd}😀")]));
    }

    #[test]
    fn malformed_unicode_escape() {
        for (text, line, escape) in [
            ("k=\\u004", 1, "\\u004"),
            ("k=\\u", 1, "\\u"),
            ("k=\\u00G1", 1, "\\u00G1"),
            ("a=1\nb=2\n\n# c\nk=x\\u12", 5, "\\u12"),
            ("a=1\r\nk=x\\\r\n  \\u12zz", 3, "\\u12zz"),
            ("a=1\rk\\u=x", 2, "\\u"),
            ("k=\\uD83D\\uDZ00", 1, "\\uDZ00"),
        ] {
            let err = parse(text).unwrap_err();
            assert_eq!(err.line(), Some(line), "{text:?}");
            match &err {
                PropertiesError::MalformedUnicodeEscape { escape: e, .. } => {
                    assert_eq!(e, escape, "{text:?}")
                }
                other => panic!("{other:?}"),
            }
            let msg = err.to_string();
            assert!(msg.contains("Malformed \\uxxxx encoding."), "{msg}");
            assert!(msg.contains(&format!("line {line}")), "{msg}");
        }
        // A `\\u` is an escaped backslash followed by a plain `u`.
        assert_eq!(pairs("k=\\\\u12"), p(&[("k", "\\u12")]));
    }

    #[test]
    fn comments_and_blank_lines() {
        let text = "# comment\n! bang comment\n   # indented\n\n \t \nk=v # not a comment\n";
        assert_eq!(pairs(text), p(&[("k", "v # not a comment")]));
        // A comment char after a key is part of the key.
        assert_eq!(pairs("a#b=c"), p(&[("a#b", "c")]));
        assert_eq!(pairs("#only"), p(&[]));
        assert_eq!(pairs(""), p(&[]));
        assert_eq!(pairs("\n\r\n\r"), p(&[]));
    }

    #[test]
    fn comment_with_trailing_backslash_is_not_continued() {
        assert_eq!(pairs("# comment \\\nk=v"), p(&[("k", "v")]));
        assert_eq!(pairs("! comment \\\r\nk=v"), p(&[("k", "v")]));
    }

    #[test]
    fn continuation_lines() {
        let text = "fruits = apple, banana, \\\n         pear, \\\n\t\tcantaloupe\nnext=1\n";
        assert_eq!(
            pairs(text),
            p(&[("fruits", "apple, banana, pear, cantaloupe"), ("next", "1")])
        );
        // The key can continue too.
        assert_eq!(pairs("ke\\\n  y=v"), p(&[("key", "v")]));
        // Continued, then an empty natural line ends the logical line.
        assert_eq!(pairs("k=a\\\n\nb=c"), p(&[("k", "a"), ("b", "c")]));
        // A line of whitespace after a continuation adds nothing.
        assert_eq!(pairs("k=a\\\n   \nb=c"), p(&[("k", "a"), ("b", "c")]));
        // A `#` at the start of a continuation line is text, not a comment.
        assert_eq!(pairs("k=a\\\n  #b"), p(&[("k", "a#b")]));
        // Backslash at the very end of input is dropped.
        assert_eq!(pairs("k=a\\"), p(&[("k", "a")]));
        assert_eq!(pairs("k=a\\\n"), p(&[("k", "a")]));
    }

    #[test]
    fn even_backslashes_do_not_continue() {
        assert_eq!(pairs("k=a\\\\\nb=c"), p(&[("k", "a\\"), ("b", "c")]));
        assert_eq!(pairs("k=a\\\\\\\nb=c"), p(&[("k", "a\\b=c")]));
        assert_eq!(pairs("k=a\\\\\\\\\nb=c"), p(&[("k", "a\\\\"), ("b", "c")]));
    }

    #[test]
    fn line_terminators() {
        let expected = p(&[("a", "1"), ("b", "2"), ("c", "3")]);
        assert_eq!(pairs("a=1\nb=2\nc=3"), expected);
        assert_eq!(pairs("a=1\r\nb=2\r\nc=3\r\n"), expected);
        assert_eq!(pairs("a=1\rb=2\rc=3\r"), expected);
        assert_eq!(pairs("a=1\r\n\r\nb=2\n\rc=3"), expected);
        // CRLF continuation.
        assert_eq!(pairs("k=x\\\r\n   y\r\nz=1"), p(&[("k", "xy"), ("z", "1")]));
        // CR continuation followed by a blank-free line.
        assert_eq!(pairs("k=x\\\ry\rz=1"), p(&[("k", "xy"), ("z", "1")]));
        // A value keeps no `\r` from CRLF.
        assert_eq!(pairs("k=v \r\n"), p(&[("k", "v ")]));
    }

    #[test]
    fn duplicates_last_wins_first_position() {
        assert_eq!(pairs("a=1\nb=2\na=3"), p(&[("a", "3"), ("b", "2")]));
        let map = parse_map("b=2\na=1\nb=3").unwrap();
        assert_eq!(map.get("a").map(String::as_str), Some("1"));
        assert_eq!(map.get("b").map(String::as_str), Some("3"));
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn unicode_text() {
        assert_eq!(
            pairs("名前 = 値\nclé=été\nemoji=😀 ok"),
            p(&[("名前", "値"), ("clé", "été"), ("emoji", "😀 ok")])
        );
        // U+3000 (ideographic space) is not whitespace to Properties.
        assert_eq!(pairs("a\u{3000}b=c"), p(&[("a\u{3000}b", "c")]));
    }

    #[test]
    fn lone_backslash_lines() {
        // Java gives the empty key here: the line is just a dropped continuation.
        assert_eq!(pairs("\\"), p(&[("", "")]));
        // The continuation joins across the empty natural line.
        assert_eq!(pairs("\\\n\nk=v"), p(&[("k", "v")]));
        // After a lone-backslash line, `#` starts the logical line: a comment.
        assert_eq!(pairs("\\\n#c\nk=v"), p(&[("k", "v")]));
    }

    #[test]
    fn decode_utf8_and_latin1() {
        assert_eq!(decode("é=1".as_bytes().to_vec()), ("é=1".to_string(), true));
        assert_eq!(
            decode(b"\xef\xbb\xbfk=v".to_vec()),
            ("k=v".to_string(), true)
        );
        assert_eq!(
            decode(b"k=\xe9t\xe9".to_vec()),
            ("k=été".to_string(), false)
        );
    }

    #[test]
    fn load_files() {
        let dir = std::env::temp_dir().join(format!("ferry-props-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("latin1.properties");
        std::fs::write(&file, b"k=caf\xe9\n").unwrap();
        assert_eq!(load(&file).unwrap(), p(&[("k", "café")]));
        assert_eq!(load_map(&file).unwrap().get("k").unwrap(), "café");

        let bad = dir.join("bad.properties");
        std::fs::write(&bad, "a=1\nb=\\uZZZZ\n").unwrap();
        let err = load(&bad).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("bad.properties"), "{msg}");
        assert!(msg.contains("line 2"), "{msg}");
        let connect: ConnectError = err.into();
        assert!(matches!(connect, ConnectError::Config(_)));

        let missing = dir.join("missing.properties");
        let err = load(&missing).unwrap_err();
        assert!(matches!(err, PropertiesError::Io { .. }));
        assert!(err.to_string().contains("missing.properties"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A tiny xorshift generator so the fuzz test needs no extra crates.
    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn never_panics() {
        const ALPHABET: &[char] = &[
            '\\', '\\', '\\', 'u', 'u', '0', 'a', 'F', 'D', '8', 'g', '=', ':', ' ', '\t', '\u{c}',
            '\n', '\r', '#', '!', 'k', 'é', '😀', '\u{feff}',
        ];
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            let len = (xorshift(&mut state) % 24) as usize;
            let text: String = (0..len)
                .map(|_| ALPHABET[(xorshift(&mut state) % ALPHABET.len() as u64) as usize])
                .collect();
            let _ = parse(&text);
            let _ = parse_map(&text);
        }
        for _ in 0..2_000 {
            let len = (xorshift(&mut state) % 64) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| xorshift(&mut state) as u8).collect();
            let (text, _) = decode(bytes);
            let _ = parse(&text);
        }
        let tricky = "k\\ e\\=y = \\uD83D\\uDE00 \\u00e9 \\t\\\r\n  more\\\\\n# c \\\n!x\nz";
        for end in 0..=tricky.len() {
            if let Some(prefix) = tricky.get(..end) {
                let _ = parse(prefix);
            }
        }
    }
}
