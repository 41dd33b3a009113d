//! Result columns → the record's Connect schema, and rows → Struct values, the way
//! Confluent's connector maps them: DECIMAL/NUMERIC → Decimal (or int/float under
//! `numeric.mapping`), DATE/TIME/DATETIME/TIMESTAMP → the logical types, binary → bytes,
//! nullable → optional. Zone-less date-times are read in `db.timezone`.

use bigdecimal::{BigDecimal, ToPrimitive};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};

use super::config::{NumericMapping, TimestampGranularity};
use super::dialect::{Cell, Column, ColumnMeta, Kind};
use crate::data::{Schema, SchemaBuilder, SchemaRef, SchemaType, Struct, Value, logical};
use crate::errors::{ConnectError, Result};

/// The Connect type a column becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Bool,
    String,
    Bytes,
    Decimal(i32),
    Date,
    Time,
    Timestamp,
    /// `timestamp.granularity=nanos_long`.
    TimestampNanos,
    /// `timestamp.granularity=nanos_string`.
    TimestampNanosString,
    /// `timestamp.granularity=nanos_iso_datetime_string`.
    TimestampIso,
}

/// Integer type for a NUMERIC of this precision (Confluent's thresholds).
fn int_for_precision(p: i64) -> Target {
    if p > 9 {
        Target::Int64
    } else if p > 4 {
        Target::Int32
    } else if p > 2 {
        Target::Int16
    } else {
        Target::Int8
    }
}

/// The target of a DECIMAL/NUMERIC column under `numeric.mapping`.
pub fn numeric_target(mapping: NumericMapping, precision: Option<i64>, scale: i64) -> Target {
    const MAX_INTEGER_PRECISION: i64 = 18;
    let decimal = Target::Decimal(i32::try_from(scale).unwrap_or(0));
    let Some(p) = precision.filter(|p| *p > 0) else {
        return decimal;
    };
    match mapping {
        NumericMapping::None => decimal,
        NumericMapping::PrecisionOnly if scale == 0 && p <= MAX_INTEGER_PRECISION => {
            int_for_precision(p)
        }
        NumericMapping::BestFit if p <= MAX_INTEGER_PRECISION => {
            if scale < 1 {
                int_for_precision(p)
            } else {
                Target::Float64
            }
        }
        NumericMapping::BestFitEagerDouble if scale < 1 && p <= MAX_INTEGER_PRECISION => {
            int_for_precision(p)
        }
        NumericMapping::BestFitEagerDouble if scale > 0 => Target::Float64,
        _ => decimal,
    }
}

fn target_schema(t: Target, optional: bool) -> SchemaRef {
    let b = match t {
        Target::Int8 => SchemaBuilder::int8(),
        Target::Int16 => SchemaBuilder::int16(),
        Target::Int32 => SchemaBuilder::int32(),
        Target::Int64 => SchemaBuilder::int64(),
        Target::Float32 => SchemaBuilder::float32(),
        Target::Float64 => SchemaBuilder::float64(),
        Target::Bool => SchemaBuilder::boolean(),
        Target::String => SchemaBuilder::string(),
        Target::Bytes => SchemaBuilder::bytes(),
        Target::Decimal(scale) => logical::decimal(scale),
        Target::Date => logical::date(),
        Target::Time => logical::time(),
        Target::Timestamp => logical::timestamp(),
        Target::TimestampNanos => SchemaBuilder::int64(),
        Target::TimestampNanosString | Target::TimestampIso => SchemaBuilder::string(),
    };
    if optional { b.optional() } else { b }.build()
}

/// How one row becomes a Struct.
#[derive(Debug, Clone)]
pub struct RecordShape {
    pub schema: SchemaRef,
    targets: Vec<Target>,
    names: Vec<String>,
}

impl RecordShape {
    /// Builds the shape of a result: `meta` (table mode) gives nullability, precision
    /// and scale; without it every field is optional and a decimal's scale is that of
    /// its first value.
    pub fn new(
        name: Option<&str>,
        columns: &[Column],
        meta: Option<&[ColumnMeta]>,
        mapping: NumericMapping,
        granularity: TimestampGranularity,
        first_row: &[Cell],
    ) -> Self {
        let mut b = SchemaBuilder::struct_();
        if let Some(n) = name {
            b = b.name(n);
        }
        let mut targets = Vec::with_capacity(columns.len());
        for (i, c) in columns.iter().enumerate() {
            let m = meta.and_then(|m| m.iter().find(|m| m.name == c.name));
            let optional = m.is_none_or(|m| m.nullable);
            let target = match c.kind {
                Kind::Int8 => Target::Int8,
                Kind::Int16 => Target::Int16,
                Kind::Int32 => Target::Int32,
                Kind::Int64 => Target::Int64,
                Kind::UInt64 => Target::Decimal(0),
                Kind::Float32 => Target::Float32,
                Kind::Float64 => Target::Float64,
                Kind::Bool => Target::Bool,
                Kind::Text => Target::String,
                Kind::Bytes => Target::Bytes,
                Kind::Date => Target::Date,
                Kind::Time => Target::Time,
                Kind::LocalTimestamp | Kind::InstantTimestamp => match granularity {
                    TimestampGranularity::ConnectLogical => Target::Timestamp,
                    TimestampGranularity::NanosLong => Target::TimestampNanos,
                    TimestampGranularity::NanosString => Target::TimestampNanosString,
                    TimestampGranularity::NanosIsoDatetimeString => Target::TimestampIso,
                },
                Kind::Decimal => {
                    let scale = m
                        .and_then(|m| m.scale)
                        .unwrap_or_else(|| match first_row.get(i) {
                            Some(Cell::Decimal(d)) => d.as_bigint_and_scale().1,
                            _ => 0,
                        });
                    numeric_target(mapping, m.and_then(|m| m.precision), scale)
                }
            };
            b = b.field(c.name.clone(), target_schema(target, optional));
            targets.push(target);
        }
        RecordShape {
            schema: b.build(),
            targets,
            names: columns.iter().map(|c| c.name.clone()).collect(),
        }
    }

    /// The struct of one row.
    pub fn value(&self, cells: Vec<Cell>, tz: chrono_tz::Tz) -> Result<Value> {
        let n = self.schema.fields.len();
        let mut values = Vec::with_capacity(n);
        for (i, cell) in cells.into_iter().enumerate().take(n) {
            let (Some(t), Some(name), Some(field)) = (
                self.targets.get(i),
                self.names.get(i),
                self.schema.fields.get(i),
            ) else {
                break;
            };
            let v = convert(cell, *t, tz)
                .map_err(|why| ConnectError::data(format!("column {name}: {why}")))?;
            if v.is_null() && !field.schema.optional {
                return Err(ConnectError::data(format!(
                    "column {name} is declared NOT NULL but the database returned NULL"
                )));
            }
            values.push(v);
        }
        // A short row (never from the drivers) leaves the remaining fields null.
        values.resize(n, Value::Null);
        Ok(Value::Struct(Struct {
            schema: self.schema.clone(),
            values,
        }))
    }
}

/// A zone-less date-time read in `tz` (the earlier instant when a DST fold makes it ambiguous).
pub fn local_to_utc(t: NaiveDateTime, tz: chrono_tz::Tz) -> DateTime<Utc> {
    // The default db.timezone: no zone rules to look up for every row.
    if tz == chrono_tz::UTC {
        return t.and_utc();
    }
    match tz.from_local_datetime(&t).earliest() {
        Some(d) => d.with_timezone(&Utc),
        // In a DST gap: read it as UTC offset of the zone just before.
        None => tz
            .from_local_datetime(&(t + chrono::Duration::hours(1)))
            .earliest()
            .map(|d| d.with_timezone(&Utc) - chrono::Duration::hours(1))
            .unwrap_or_else(|| t.and_utc()),
    }
}

/// The instant a timestamp cell stands for.
pub fn instant(cell: &Cell, tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    match cell {
        Cell::Local(t) => Some(local_to_utc(*t, tz)),
        Cell::Instant(t) => Some(*t),
        Cell::Date(d) => d.and_hms_opt(0, 0, 0).map(|t| local_to_utc(t, tz)),
        _ => None,
    }
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
}

fn int_value(v: i64, t: Target) -> std::result::Result<Value, String> {
    let out_of_range = || format!("value {v} does not fit the column's Connect type {t:?}");
    Ok(match t {
        Target::Int8 => Value::Int8(i8::try_from(v).map_err(|_| out_of_range())?),
        Target::Int16 => Value::Int16(i16::try_from(v).map_err(|_| out_of_range())?),
        Target::Int32 => Value::Int32(i32::try_from(v).map_err(|_| out_of_range())?),
        Target::Int64 => Value::Int64(v),
        Target::Float64 => Value::Float64(v as f64),
        Target::Decimal(scale) => Value::Decimal(BigDecimal::from(v).with_scale(scale.into())),
        _ => return Err(format!("an integer cannot become {t:?}")),
    })
}

fn convert(cell: Cell, t: Target, tz: chrono_tz::Tz) -> std::result::Result<Value, String> {
    Ok(match (cell, t) {
        (Cell::Null, _) => Value::Null,
        (Cell::Int(v), t) => int_value(v, t)?,
        (Cell::UInt(v), Target::Decimal(scale)) => {
            Value::Decimal(BigDecimal::from(v).with_scale(scale.into()))
        }
        (Cell::F32(v), Target::Float32) => Value::Float32(v),
        (Cell::F32(v), _) => Value::Float64(f64::from(v)),
        (Cell::F64(v), _) => Value::Float64(v),
        (Cell::Bool(v), _) => Value::Boolean(v),
        (Cell::Text(v), _) => Value::String(v),
        (Cell::Bytes(v), _) => Value::Bytes(v.into()),
        // The driver usually hands the column's own scale: no rescaling copy then.
        (Cell::Decimal(d), Target::Decimal(scale))
            if d.fractional_digit_count() == i64::from(scale) =>
        {
            Value::Decimal(d)
        }
        (Cell::Decimal(d), Target::Decimal(scale)) => Value::Decimal(d.with_scale(scale.into())),
        (Cell::Decimal(d), Target::Float64) => Value::Float64(
            d.to_f64()
                .ok_or_else(|| format!("{d} is not a finite double"))?,
        ),
        (Cell::Decimal(d), t) => {
            let v = d
                .to_i64()
                .ok_or_else(|| format!("{d} does not fit a 64-bit integer"))?;
            int_value(v, t)?
        }
        (Cell::Date(d), _) => Value::Date(
            i32::try_from((d - epoch()).num_days())
                .map_err(|_| format!("date {d} out of range"))?,
        ),
        (Cell::Time(t), _) => Value::Time(
            i32::try_from(
                u64::from(t.num_seconds_from_midnight()) * 1000
                    + u64::from(t.nanosecond() / 1_000_000) % 1000,
            )
            .map_err(|_| format!("time {t} out of range"))?,
        ),
        (c @ (Cell::Local(_) | Cell::Instant(_)), t) => {
            let at = instant(&c, tz).unwrap_or_default();
            let nanos = || {
                at.timestamp_nanos_opt().ok_or_else(|| {
                    format!("timestamp {at} is out of the range of nanoseconds since the epoch")
                })
            };
            match t {
                Target::TimestampNanos => Value::Int64(nanos()?),
                Target::TimestampNanosString => Value::String(nanos()?.to_string()),
                Target::TimestampIso => Value::String(
                    at.with_timezone(&tz)
                        .format("%Y-%m-%dT%H:%M:%S%.9f")
                        .to_string(),
                ),
                _ => Value::Timestamp(at.timestamp_millis()),
            }
        }
        (c, t) => return Err(format!("cannot represent {c:?} as {t:?}")),
    })
}

/// Field types of a schema, for tests and logs.
pub fn describe(schema: &Schema) -> Vec<(String, SchemaType, Option<String>, bool)> {
    schema
        .fields
        .iter()
        .map(|f| {
            (
                f.name.clone(),
                f.schema.ty,
                f.schema.name.clone(),
                f.schema.optional,
            )
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn numeric_mapping_follows_confluent() {
        use NumericMapping as M;
        assert_eq!(numeric_target(M::None, Some(5), 0), Target::Decimal(0));
        assert_eq!(numeric_target(M::BestFit, Some(2), 0), Target::Int8);
        assert_eq!(numeric_target(M::BestFit, Some(4), 0), Target::Int16);
        assert_eq!(numeric_target(M::BestFit, Some(9), 0), Target::Int32);
        assert_eq!(numeric_target(M::BestFit, Some(18), 0), Target::Int64);
        assert_eq!(numeric_target(M::BestFit, Some(19), 0), Target::Decimal(0));
        assert_eq!(numeric_target(M::BestFit, Some(10), 2), Target::Float64);
        assert_eq!(numeric_target(M::BestFit, Some(30), 2), Target::Decimal(2));
        assert_eq!(
            numeric_target(M::BestFitEagerDouble, Some(30), 2),
            Target::Float64
        );
        assert_eq!(
            numeric_target(M::PrecisionOnly, Some(10), 2),
            Target::Decimal(2)
        );
        assert_eq!(numeric_target(M::PrecisionOnly, Some(10), 0), Target::Int64);
    }

    #[test]
    fn cells_convert_to_connect_values() {
        let tz: chrono_tz::Tz = "Europe/Paris".parse().unwrap();
        let naive = NaiveDate::from_ymd_opt(2024, 1, 15)
            .unwrap()
            .and_hms_micro_opt(12, 0, 0, 250_000)
            .unwrap();
        // 12:00 in Paris (winter) is 11:00 UTC.
        assert_eq!(
            convert(Cell::Local(naive), Target::Timestamp, tz).unwrap(),
            Value::Timestamp(naive.and_utc().timestamp_millis() - 3_600_000)
        );
        assert_eq!(
            convert(
                Cell::Date(NaiveDate::from_ymd_opt(1970, 1, 3).unwrap()),
                Target::Date,
                tz
            )
            .unwrap(),
            Value::Date(2)
        );
        assert_eq!(
            convert(Cell::Time(naive.time()), Target::Time, tz).unwrap(),
            Value::Time(12 * 3_600_000 + 250)
        );
        let d: BigDecimal = "12.5".parse().unwrap();
        assert_eq!(
            convert(Cell::Decimal(d.clone()), Target::Decimal(2), tz).unwrap(),
            Value::Decimal("12.50".parse().unwrap())
        );
        assert_eq!(
            convert(Cell::Decimal(d), Target::Float64, tz).unwrap(),
            Value::Float64(12.5)
        );
        assert!(
            convert(Cell::Int(300), Target::Int8, tz)
                .unwrap_err()
                .contains("300")
        );
    }

    #[test]
    fn timestamp_granularities() {
        let tz: chrono_tz::Tz = "Europe/Paris".parse().unwrap();
        // 12:00:00.123456789 in Paris (winter) is 11:00 UTC.
        let naive = NaiveDate::from_ymd_opt(2024, 1, 15)
            .unwrap()
            .and_hms_nano_opt(12, 0, 0, 123_456_789)
            .unwrap();
        let nanos = naive.and_utc().timestamp_nanos_opt().unwrap() - 3_600_000_000_000;
        let cell = || Cell::Local(naive);
        assert_eq!(
            convert(cell(), Target::Timestamp, tz).unwrap(),
            Value::Timestamp(nanos / 1_000_000)
        );
        assert_eq!(
            convert(cell(), Target::TimestampNanos, tz).unwrap(),
            Value::Int64(nanos)
        );
        assert_eq!(
            convert(cell(), Target::TimestampNanosString, tz).unwrap(),
            Value::String(nanos.to_string())
        );
        // In db.timezone, as it was stored.
        assert_eq!(
            convert(cell(), Target::TimestampIso, tz).unwrap(),
            Value::String("2024-01-15T12:00:00.123456789".into())
        );
        let utc = Cell::Instant(DateTime::from_timestamp(0, 5).unwrap());
        assert_eq!(
            convert(utc, Target::TimestampIso, chrono_tz::UTC).unwrap(),
            Value::String("1970-01-01T00:00:00.000000005".into())
        );
        assert_eq!(
            convert(Cell::Null, Target::TimestampNanos, tz).unwrap(),
            Value::Null
        );
    }
}
