//! Java `SimpleDateFormat` patterns (as TimestampRouter and TimestampConverter take them),
//! translated to chrono's, always in UTC as Kafka's transforms use them.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// A compiled `SimpleDateFormat` pattern.
#[derive(Debug, Clone)]
pub struct JavaDateFormat {
    chrono: String,
}

impl JavaDateFormat {
    /// Translates a pattern; the error names the first letter chrono cannot express.
    pub fn new(pattern: &str) -> Result<Self, String> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut out = String::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '\'' {
                // Quoted literal; '' is a quote.
                if chars.get(i + 1) == Some(&'\'') {
                    out.push('\'');
                    i += 2;
                    continue;
                }
                let mut j = i + 1;
                while j < chars.len() {
                    if chars[j] == '\'' {
                        if chars.get(j + 1) == Some(&'\'') {
                            out.push('\'');
                            j += 2;
                            continue;
                        }
                        break;
                    }
                    push_literal(&mut out, chars[j]);
                    j += 1;
                }
                if j >= chars.len() {
                    return Err(format!("Unterminated quote in pattern {pattern}"));
                }
                i = j + 1;
                continue;
            }
            if !c.is_ascii_alphabetic() {
                push_literal(&mut out, c);
                i += 1;
                continue;
            }
            let mut n = 1;
            while chars.get(i + n) == Some(&c) {
                n += 1;
            }
            let spec = match (c, n) {
                ('y', 2) => "%y",
                ('y', _) => "%Y",
                ('M', 1) => "%-m",
                ('M', 2) => "%m",
                ('M', 3) => "%b",
                ('M', _) => "%B",
                ('d', 1) => "%-d",
                ('d', _) => "%d",
                ('D', _) => "%j",
                ('H', 1) => "%-H",
                ('H', _) => "%H",
                ('h', 1) => "%-I",
                ('h', _) => "%I",
                ('m', 1) => "%-M",
                ('m', _) => "%M",
                ('s', 1) => "%-S",
                ('s', _) => "%S",
                ('S', 3) => "%3f",
                ('a', _) => "%p",
                ('E', 1..=3) => "%a",
                ('E', _) => "%A",
                ('Z', _) => "%z",
                ('X', 1) => "%#z",
                ('X', _) => "%:z",
                ('z', _) => "UTC",
                _ => {
                    return Err(format!(
                        "Illegal or unsupported pattern character '{c}' (x{n}) in {pattern}"
                    ));
                }
            };
            out.push_str(spec);
            i += n;
        }
        Ok(JavaDateFormat { chrono: out })
    }

    /// Formats milliseconds since the epoch in UTC.
    pub fn format(&self, millis: i64) -> String {
        match DateTime::<Utc>::from_timestamp_millis(millis) {
            Some(t) => t.format(&self.chrono).to_string(),
            None => millis.to_string(),
        }
    }

    /// Parses a date-time (or a date, at midnight) in UTC to milliseconds since the epoch.
    pub fn parse(&self, s: &str) -> Option<i64> {
        if let Ok(t) = DateTime::parse_from_str(s, &self.chrono) {
            return Some(t.timestamp_millis());
        }
        if let Ok(t) = NaiveDateTime::parse_from_str(s, &self.chrono) {
            return Some(t.and_utc().timestamp_millis());
        }
        NaiveDate::parse_from_str(s, &self.chrono)
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc().timestamp_millis())
    }
}

fn push_literal(out: &mut String, c: char) {
    if c == '%' {
        out.push_str("%%");
    } else {
        out.push(c);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_java_patterns() {
        let f = JavaDateFormat::new("yyyyMMdd").unwrap();
        assert_eq!(f.format(1_700_000_000_123), "20231114");
        let f = JavaDateFormat::new("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").unwrap();
        assert_eq!(f.format(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(f.parse("2023-11-14T22:13:20.123Z"), Some(1_700_000_000_123));
        let d = JavaDateFormat::new("yyyy-MM-dd").unwrap();
        assert_eq!(d.parse("1970-01-02"), Some(86_400_000));
        assert_eq!(d.parse("nope"), None);
        assert!(JavaDateFormat::new("yyyy-QQ").is_err());
        assert!(JavaDateFormat::new("'open").is_err());
    }
}
