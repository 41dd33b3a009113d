//! JSON text exactly as Kafka Connect's internal `JsonConverter` (Jackson, compact,
//! `schemas.enable=false`) writes it.
//!
//! Byte equality matters in two places: offset keys are looked up by their bytes (a
//! Java worker reads Ferry's offsets only if Ferry wrote the same key bytes), and log
//! compaction only drops an old record when the new one has the same key bytes. Values
//! are compared by content on read, but writing them like Jackson keeps the topics
//! indistinguishable from what a Java worker writes.
//!
//! Differences from `serde_json::to_string`: control characters are escaped with
//! upper-case hex (`\u001F`, Jackson's default), and floating-point numbers use Java's
//! `Double.toString` layout (`1.0E7`, `1.0E-4`, `100.0`).

use serde_json::{Map, Value as Json};

/// Compact JSON text of `value`, as Jackson writes it.
pub fn to_java_json(value: &Json) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

/// The same as [`to_java_json`], as bytes for a Kafka record.
pub fn to_java_json_bytes(value: &Json) -> Vec<u8> {
    to_java_json(value).into_bytes()
}

/// A copy of `value` with every object's keys sorted, recursively: two offset
/// partitions that differ only in key order are the same partition to Kafka Connect
/// (it compares them as Java maps), so lookups go through this form.
pub fn canonical(value: &Json) -> Json {
    match value {
        Json::Object(m) => {
            let mut entries: Vec<(&String, &Json)> = m.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let mut out = Map::new();
            for (k, v) in entries {
                out.insert(k.clone(), canonical(v));
            }
            Json::Object(out)
        }
        Json::Array(a) => Json::Array(a.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

fn write_value(out: &mut String, value: &Json) {
    match value {
        Json::Null => out.push_str("null"),
        Json::Bool(true) => out.push_str("true"),
        Json::Bool(false) => out.push_str("false"),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else if let Some(f) = n.as_f64() {
                out.push_str(&java_double(f));
            } else {
                // Arbitrary-precision numbers are not enabled; keep serde's text.
                out.push_str(&n.to_string());
            }
        }
        Json::String(s) => write_string(out, s),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Json::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k);
                out.push(':');
                write_value(out, v);
            }
            out.push('}');
        }
    }
}

/// Jackson's default escaping: `"` and `\`, the five short escapes, every other
/// control character as `\u00XX` with upper-case hex; everything else raw UTF-8.
fn write_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{09}' => out.push_str("\\t"),
            '\u{0A}' => out.push_str("\\n"),
            '\u{0C}' => out.push_str("\\f"),
            '\u{0D}' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => {
                let b = c as u32 as usize;
                out.push_str("\\u00");
                out.push(char::from(HEX[b >> 4]));
                out.push(char::from(HEX[b & 0xF]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Java's `Double.toString`: plain decimal for 1e-3 <= |d| < 1e7 (always with a
/// fractional digit), otherwise `d.dddE[-]n`. The digits are the shortest that
/// round-trip, which is what Rust's float formatting produces as well.
pub fn java_double(d: f64) -> String {
    if d.is_nan() {
        return "NaN".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if d == 0.0 {
        return if d.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // `{:e}` gives the shortest round-trip digits: "-1.2345e-7".
    let sci = format!("{d:e}");
    let (mantissa, exp) = match sci.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (sci.as_str(), 0),
    };
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = if digits.is_empty() {
        "0".to_owned()
    } else {
        digits
    };
    let mut out = String::from(sign);
    if (-3..7).contains(&exp) {
        if exp >= 0 {
            let int_len = usize::try_from(exp).unwrap_or(0) + 1;
            if digits.len() <= int_len {
                out.push_str(&digits);
                out.push_str(&"0".repeat(int_len - digits.len()));
                out.push_str(".0");
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        } else {
            out.push_str("0.");
            out.push_str(&"0".repeat(usize::try_from(-exp - 1).unwrap_or(0)));
            out.push_str(&digits);
        }
    } else {
        out.push_str(&digits[..1]);
        out.push('.');
        if digits.len() > 1 {
            out.push_str(&digits[1..]);
        } else {
            out.push('0');
        }
        out.push('E');
        out.push_str(&exp.to_string());
    }
    out
}

/// Java's `String.split(regex)` for a one-character separator: trailing empty
/// strings are dropped. Kafka parses `task-NAME-N` keys this way, so a connector
/// name with a trailing `-` round-trips the same way it does in Java.
pub fn java_split(s: &str, sep: char) -> Vec<&str> {
    let mut parts: Vec<&str> = s.split(sep).collect();
    while parts.len() > 1 && parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    if parts.len() == 1 && parts[0].is_empty() && !s.is_empty() {
        parts.clear();
    }
    parts
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn doubles_like_java() {
        for (d, want) in [
            (1.0, "1.0"),
            (100.0, "100.0"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (1234567.0, "1234567.0"),
            (1.0e7, "1.0E7"),
            (12345678.9, "1.23456789E7"),
            (-2.5, "-2.5"),
            (0.1, "0.1"),
            (1.0e-10, "1.0E-10"),
            (-0.0, "-0.0"),
            (123.456, "123.456"),
        ] {
            assert_eq!(java_double(d), want, "{d}");
        }
    }

    #[test]
    fn strings_and_order_like_jackson() {
        let v = json!({"b": "x\u{1f}\n\"é", "a": [1, -2, true, null, 1.5]});
        assert_eq!(
            to_java_json(&v),
            "{\"b\":\"x\\u001F\\n\\\"é\",\"a\":[1,-2,true,null,1.5]}"
        );
        assert_eq!(
            to_java_json(&canonical(&v)),
            "{\"a\":[1,-2,true,null,1.5],\"b\":\"x\\u001F\\n\\\"é\"}"
        );
    }

    #[test]
    fn split_drops_trailing_empties() {
        assert_eq!(java_split("task-a-b-0", '-'), vec!["task", "a", "b", "0"]);
        assert_eq!(java_split("task-foo-", '-'), vec!["task", "foo"]);
        assert_eq!(java_split("task--0", '-'), vec!["task", "", "0"]);
        assert!(java_split("--", '-').is_empty());
    }
}
