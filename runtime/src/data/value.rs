//! Connect values: what a schema describes, or a schemaless value.

use std::fmt;

use bigdecimal::BigDecimal;
use bytes::Bytes;

use super::schema::SchemaRef;

/// A Connect value. Logical types have their own variants so code can tell a
/// timestamp from a plain int64 without looking at the schema.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    Int8(i8),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    Float32(f32),
    Float64(f64),
    Boolean(bool),
    String(String),
    Bytes(Bytes),
    Array(Vec<Value>),
    /// Entries in insertion order; keys may be any value, as in Connect.
    Map(Vec<(Value, Value)>),
    Struct(Struct),
    /// `org.apache.kafka.connect.data.Decimal`.
    Decimal(BigDecimal),
    /// `org.apache.kafka.connect.data.Date`: days since the epoch.
    Date(i32),
    /// `org.apache.kafka.connect.data.Time`: milliseconds since midnight.
    Time(i32),
    /// `org.apache.kafka.connect.data.Timestamp`: milliseconds since the epoch.
    Timestamp(i64),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

/// A struct value: one value per field of its schema, in field order.
#[derive(Debug, Clone, PartialEq)]
pub struct Struct {
    pub schema: SchemaRef,
    pub values: Vec<Value>,
}

impl Struct {
    /// An empty struct (every field null) of the given struct schema.
    pub fn new(schema: SchemaRef) -> Self {
        let values = vec![Value::Null; schema.fields.len()];
        Struct { schema, values }
    }

    /// Sets a field by name; `false` when the schema has no such field.
    pub fn put(&mut self, name: &str, value: Value) -> bool {
        match self.schema.field(name) {
            Some(f) => {
                let i = f.index;
                if let Some(slot) = self.values.get_mut(i) {
                    *slot = value;
                    true
                } else {
                    false
                }
            }
            None => false,
        }
    }

    /// Builder-style [`Struct::put`].
    pub fn with(mut self, name: &str, value: Value) -> Self {
        self.put(name, value);
        self
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.schema
            .field(name)
            .and_then(|f| self.values.get(f.index))
    }
}

/// A value and its schema (None for schemaless data), like Connect's `SchemaAndValue`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SchemaAndValue {
    pub schema: Option<SchemaRef>,
    pub value: Value,
}

impl SchemaAndValue {
    pub fn new(schema: Option<SchemaRef>, value: Value) -> Self {
        SchemaAndValue { schema, value }
    }
    /// `SchemaAndValue.NULL`.
    pub fn null() -> Self {
        SchemaAndValue::default()
    }
}

/// Java's `toString()` of the object Connect holds for the value (`String.valueOf`), which
/// FileStreamSink and StringConverter write: `Float.toString`/`Double.toString`,
/// `BigDecimal.toString`, `java.util.Date.toString` (in UTC) for the logical times, Kafka's
/// `Struct.toString` (non-null fields only), `ArrayList.toString`, and `HashMap.toString` in
/// the order a `HashMap` iterates (Connect's converters build `HashMap`s).
///
/// A `byte[]` prints as `[B@` and its identity hash code, which no two JVM runs agree on;
/// Ferry prints `Arrays.hashCode` there instead.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Int8(v) => write!(f, "{v}"),
            Value::Int16(v) => write!(f, "{v}"),
            Value::Int32(v) => write!(f, "{v}"),
            Value::Int64(v) => write!(f, "{v}"),
            Value::Float32(v) => f.write_str(&java_float(*v)),
            Value::Float64(v) => f.write_str(&java_double(*v)),
            Value::Boolean(v) => write!(f, "{v}"),
            Value::String(s) => f.write_str(s),
            Value::Bytes(b) => write!(f, "[B@{:x}", bytes_hash(b) as u32),
            Value::Array(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Map(entries) => {
                f.write_str("{")?;
                for (i, (k, v)) in hash_map_order(entries).into_iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}={v}")?;
                }
                f.write_str("}")
            }
            Value::Struct(s) => {
                f.write_str("Struct{")?;
                let mut first = true;
                for (field, v) in s.schema.fields.iter().zip(&s.values) {
                    if v.is_null() {
                        continue;
                    }
                    if !first {
                        f.write_str(",")?;
                    }
                    first = false;
                    write!(f, "{}={v}", field.name)?;
                }
                f.write_str("}")
            }
            Value::Decimal(d) => {
                let mut out = String::new();
                crate::converters::write_java_bigdecimal(&mut out, d);
                f.write_str(&out)
            }
            Value::Date(days) => f.write_str(&java_date(i64::from(*days) * MILLIS_PER_DAY)),
            Value::Time(ms) => f.write_str(&java_date(i64::from(*ms))),
            Value::Timestamp(ms) => f.write_str(&java_date(*ms)),
        }
    }
}

const MILLIS_PER_DAY: i64 = 86_400_000;

/// `Float.toString`.
fn java_float(v: f32) -> String {
    if !v.is_finite() {
        return java_double(f64::from(v));
    }
    let mut out = String::new();
    crate::converters::write_java_f32(&mut out, v);
    out
}

/// `Double.toString`.
fn java_double(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    let mut out = String::new();
    crate::converters::write_java_f64(&mut out, v);
    out
}

/// `Arrays.hashCode(byte[])`.
fn bytes_hash(bytes: &[u8]) -> i32 {
    bytes.iter().fold(1i32, |h, b| {
        h.wrapping_mul(31).wrapping_add(i32::from(*b as i8))
    })
}

/// `hashCode()` of the Java object Connect holds for the value, where it does not depend on
/// object identity (a `byte[]`'s does, and a `Struct`'s through its schema's enum type).
fn java_hash(v: &Value) -> Option<i32> {
    // `Long.hashCode`, `Double.hashCode` and `Date.hashCode` fold the two halves.
    let fold = |x: i64| (x ^ (x >> 32)) as i32;
    Some(match v {
        Value::Null => 0,
        Value::Int8(x) => i32::from(*x),
        Value::Int16(x) => i32::from(*x),
        Value::Int32(x) => *x,
        Value::Int64(x) => fold(*x),
        // `floatToIntBits`/`doubleToLongBits` have one NaN.
        Value::Float32(x) => (if x.is_nan() { 0x7fc0_0000 } else { x.to_bits() }) as i32,
        Value::Float64(x) => fold(if x.is_nan() {
            0x7ff8_0000_0000_0000
        } else {
            x.to_bits() as i64
        }),
        Value::Boolean(b) => {
            if *b {
                1231
            } else {
                1237
            }
        }
        Value::String(s) => s
            .encode_utf16()
            .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c))),
        Value::Bytes(_) | Value::Struct(_) => return None,
        // `List.hashCode`.
        Value::Array(items) => items.iter().try_fold(1i32, |h, e| {
            Some(h.wrapping_mul(31).wrapping_add(java_hash(e)?))
        })?,
        // `Map.hashCode`: the sum of `key.hashCode() ^ value.hashCode()`.
        Value::Map(entries) => entries.iter().try_fold(0i32, |h, (k, v)| {
            Some(h.wrapping_add(java_hash(k)? ^ java_hash(v)?))
        })?,
        Value::Decimal(d) => decimal_hash(d),
        Value::Date(days) => fold(i64::from(*days) * MILLIS_PER_DAY),
        Value::Time(ms) => fold(i64::from(*ms)),
        Value::Timestamp(ms) => fold(*ms),
    })
}

/// `BigDecimal.hashCode`: `31 * unscaledValue.hashCode() + scale`, where `BigInteger.hashCode`
/// folds the magnitude's big-endian 32-bit words and takes the sign.
fn decimal_hash(d: &BigDecimal) -> i32 {
    use bigdecimal::num_bigint::Sign;
    let (unscaled, scale) = d.as_bigint_and_scale();
    let (sign, words) = unscaled.to_u32_digits();
    let magnitude = words
        .iter()
        .rev()
        .fold(0i32, |h, w| h.wrapping_mul(31).wrapping_add(*w as i32));
    let signed = match sign {
        Sign::Minus => magnitude.wrapping_neg(),
        Sign::NoSign => 0,
        Sign::Plus => magnitude,
    };
    signed.wrapping_mul(31).wrapping_add(scale as i32)
}

/// The entries in the order a `java.util.HashMap` built by inserting them in order iterates:
/// by bucket (`(h ^ h >>> 16) & (capacity - 1)`, the capacity doubling from 16 whenever the map
/// is more than 3/4 full), then by insertion within a bucket. A repeated key keeps its first
/// place and its last value. Keys without a deterministic hash keep insertion order.
/// (Buckets Java turns into trees, at 9 colliding keys in a table of 64 or more, are not
/// modelled.)
fn hash_map_order(entries: &[(Value, Value)]) -> Vec<(&Value, &Value)> {
    let mut unique: Vec<(&Value, &Value)> = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        match unique.iter_mut().find(|(uk, _)| *uk == k) {
            Some(slot) => slot.1 = v,
            None => unique.push((k, v)),
        }
    }
    let Some(hashes) = unique
        .iter()
        .map(|(k, _)| java_hash(k))
        .collect::<Option<Vec<i32>>>()
    else {
        return unique;
    };
    let mut capacity = 16usize;
    while unique.len() > capacity / 4 * 3 {
        capacity *= 2;
    }
    let bucket = |h: i32| {
        let h = h as u32;
        ((h ^ (h >> 16)) as usize) & (capacity - 1)
    };
    let mut order: Vec<usize> = (0..unique.len()).collect();
    order.sort_by_key(|&i| (bucket(hashes[i]), i));
    order.into_iter().map(|i| unique[i]).collect()
}

/// `java.util.Date.toString()` in UTC: `EEE MMM dd HH:mm:ss zzz yyyy`, Julian calendar
/// before the Gregorian cutover of 15 October 1582, years before 1 AD by their era's number.
fn java_date(millis: i64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    const GREGORIAN_CUTOVER: i64 = -12_219_292_800_000;
    let days = millis.div_euclid(MILLIS_PER_DAY);
    let in_day = millis.rem_euclid(MILLIS_PER_DAY) / 1000;
    let (year, month, day) = if millis >= GREGORIAN_CUTOVER {
        gregorian(days)
    } else {
        julian(days)
    };
    // 1970-01-01 was a Thursday.
    let weekday = (days + 4).rem_euclid(7) as usize;
    format!(
        "{} {} {day:02} {:02}:{:02}:{:02} UTC {}",
        DAYS[weekday],
        MONTHS[(month - 1) as usize],
        in_day / 3600,
        in_day / 60 % 60,
        in_day % 60,
        if year <= 0 { 1 - year } else { year },
    )
}

/// Proleptic Gregorian (year, month, day) of days since 1970-01-01 (Hinnant's `civil_from_days`).
fn gregorian(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Proleptic Julian (year, month, day) of days since 1970-01-01; year 0 is 1 BC.
fn julian(days: i64) -> (i64, i64, i64) {
    // From the Julian day number (1970-01-01 is JDN 2440588).
    let c = days + 2_440_588 + 32_082;
    let d = (4 * c + 3).div_euclid(1461);
    let e = c - (1461 * d).div_euclid(4);
    let m = (5 * e + 2).div_euclid(153);
    let day = e - (153 * m + 2).div_euclid(5) + 1;
    let month = m + 3 - 12 * m.div_euclid(10);
    let year = d - 4800 + m.div_euclid(10);
    (year, month, day)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use crate::data::SchemaBuilder;

    fn s(v: Value) -> String {
        v.to_string()
    }

    #[test]
    fn numbers_print_as_java_prints_them() {
        assert_eq!(s(Value::Float32(0.1)), "0.1");
        assert_eq!(s(Value::Float32(1.0)), "1.0");
        assert_eq!(s(Value::Float32(1.0e10)), "1.0E10");
        assert_eq!(s(Value::Float32(1.0e-5)), "1.0E-5");
        assert_eq!(s(Value::Float32(f32::NAN)), "NaN");
        assert_eq!(s(Value::Float32(f32::NEG_INFINITY)), "-Infinity");
        assert_eq!(s(Value::Float64(1.0e-5)), "1.0E-5");
        assert_eq!(s(Value::Float64(1.5e10)), "1.5E10");
        assert_eq!(s(Value::Float64(0.001)), "0.001");
        assert_eq!(s(Value::Float64(1_234_567.0)), "1234567.0");
        assert_eq!(s(Value::Float64(1.0e7)), "1.0E7");
        assert_eq!(s(Value::Float64(-0.0)), "-0.0");
        assert_eq!(s(Value::Float64(0.1 + 0.2)), "0.30000000000000004");
        assert_eq!(s(Value::Float64(f64::INFINITY)), "Infinity");
        assert_eq!(s(Value::Int8(-8)), "-8");
        assert_eq!(s(Value::Int64(i64::MIN)), "-9223372036854775808");
        assert_eq!(s(Value::Boolean(true)), "true");
        assert_eq!(s(Value::Null), "null");
    }

    #[test]
    fn decimals_print_as_big_decimal_to_string() {
        let d = |t: &str| s(Value::Decimal(BigDecimal::from_str(t).unwrap()));
        assert_eq!(d("1.50"), "1.50");
        assert_eq!(d("-0.001"), "-0.001");
        assert_eq!(d("0.00000001"), "1E-8");
        assert_eq!(d("5E+3"), "5E+3");
        assert_eq!(d("12345"), "12345");
    }

    #[test]
    fn logical_times_print_as_java_util_date_in_utc() {
        assert_eq!(s(Value::Date(0)), "Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(s(Value::Date(19_000)), "Sat Jan 08 00:00:00 UTC 2022");
        assert_eq!(s(Value::Time(3_723_000)), "Thu Jan 01 01:02:03 UTC 1970");
        assert_eq!(
            s(Value::Timestamp(1_700_000_000_123)),
            "Tue Nov 14 22:13:20 UTC 2023"
        );
        assert_eq!(s(Value::Timestamp(-1)), "Wed Dec 31 23:59:59 UTC 1969");
        // Gregorian from 15 October 1582, Julian before.
        assert_eq!(s(Value::Date(-141_427)), "Fri Oct 15 00:00:00 UTC 1582");
        assert_eq!(s(Value::Date(-141_428)), "Thu Oct 04 00:00:00 UTC 1582");
        // 1 January 1 BC (Julian), printed by its era's year.
        assert_eq!(s(Value::Date(-719_530)), "Thu Jan 01 00:00:00 UTC 1");
        assert_eq!(
            s(Value::Timestamp(253_402_300_799_000)),
            "Fri Dec 31 23:59:59 UTC 9999"
        );
        assert_eq!(
            s(Value::Timestamp(253_402_300_800_000)),
            "Sat Jan 01 00:00:00 UTC 10000"
        );
    }

    #[test]
    fn structs_lists_and_bytes_print_as_kafka_and_java_do() {
        let inner = SchemaBuilder::struct_()
            .field("x", SchemaBuilder::float64().build())
            .build();
        let schema = SchemaBuilder::struct_()
            .field("a", SchemaBuilder::int32().build())
            .field("b", SchemaBuilder::string().optional().build())
            .field("c", SchemaBuilder::bytes().build())
            .field("d", inner.clone())
            .field(
                "e",
                SchemaBuilder::array(SchemaBuilder::string().build()).build(),
            )
            .build();
        let st = Struct::new(schema)
            .with("a", Value::Int32(1))
            .with("c", Value::Bytes(Bytes::from_static(&[1, 2, 3])))
            .with(
                "d",
                Value::Struct(Struct::new(inner).with("x", Value::Float64(2.0))),
            )
            .with(
                "e",
                Value::Array(vec![Value::from("p"), Value::Null, Value::from("q")]),
            );
        // Struct.toString skips null fields; a byte[] prints as "[B@" and a hash code.
        assert_eq!(
            s(Value::Struct(st)),
            "Struct{a=1,c=[B@7861,d=Struct{x=2.0},e=[p, null, q]}"
        );
        assert_eq!(s(Value::Array(Vec::new())), "[]");
        assert_eq!(s(Value::Bytes(Bytes::new())), "[B@1");
    }

    #[test]
    fn maps_print_in_hash_map_order() {
        let map = |pairs: Vec<(Value, Value)>| s(Value::Map(pairs));
        let str_map = |keys: &[&str]| {
            map(keys
                .iter()
                .enumerate()
                .map(|(i, k)| (Value::from(*k), Value::Int32(i as i32 + 1)))
                .collect())
        };
        // What Java prints for a HashMap filled with apple, banana, cherry.
        assert_eq!(
            str_map(&["apple", "banana", "cherry"]),
            "{banana=2, apple=1, cherry=3}"
        );
        assert_eq!(str_map(&["b", "a"]), "{a=2, b=1}");
        // Same bucket: insertion order; a repeated key keeps its place and its last value.
        assert_eq!(
            map(vec![
                (Value::Int32(17), Value::from("x")),
                (Value::Int32(1), Value::from("y")),
                (Value::Int32(17), Value::from("z")),
            ]),
            "{17=z, 1=y}"
        );
        assert_eq!(
            map(vec![
                (Value::Int32(1), Value::from("a")),
                (Value::Int32(16), Value::from("b")),
            ]),
            "{16=b, 1=a}"
        );
        // Thirteen entries: the table has grown to 32 buckets, so 16 no longer shares 0's.
        let thirteen: Vec<(Value, Value)> = [16, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
            .iter()
            .map(|k| (Value::Int32(*k), Value::Null))
            .collect();
        assert_eq!(
            map(thirteen),
            "{0=null, 1=null, 2=null, 3=null, 4=null, 5=null, 6=null, 7=null, 8=null, 9=null, 10=null, 11=null, 16=null}"
        );
        // Negative and wide keys use Java's hash codes.
        assert_eq!(
            map(vec![
                (Value::Int64(1 << 32), Value::Null),
                (Value::Int64(-1), Value::Null),
                (Value::Boolean(false), Value::Null),
                (Value::Null, Value::Null),
            ]),
            "{-1=null, null=null, 4294967296=null, false=null}"
        );
        assert_eq!(map(Vec::new()), "{}");
    }
}
