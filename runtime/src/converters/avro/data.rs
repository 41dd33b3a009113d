//! Connect values ⇄ Avro values (apache-avro's `types::Value`), guided by the Connect
//! schema and the Avro schema the bytes are written with, as Confluent's `AvroData`.

use std::collections::HashMap;
use std::sync::Arc;

use apache_avro::Schema as Avro;
use apache_avro::types::Value as AV;

use super::schema::{AVRO_TYPE_UNION, decimal_bytes, decimal_from_bytes};
use crate::data::{Schema, SchemaType, Struct, Value, logical};
use crate::errors::{ConnectError, Result};

/// Named Avro types of one schema by full name, to follow `Schema::Ref`s.
#[derive(Debug, Default)]
pub struct Names(HashMap<String, Avro>);

impl Names {
    /// Collects the named types defined in `schema`.
    pub fn of(schema: &Avro) -> Self {
        let mut names = Names::default();
        names.collect(schema);
        names
    }

    fn collect(&mut self, s: &Avro) {
        match s {
            Avro::Record(r) => {
                self.0.insert(r.name.fullname(None), s.clone());
                for f in &r.fields {
                    self.collect(&f.schema);
                }
            }
            Avro::Enum(e) => {
                self.0.insert(e.name.fullname(None), s.clone());
            }
            Avro::Fixed(f) => {
                self.0.insert(f.name.fullname(None), s.clone());
            }
            Avro::Array(a) => self.collect(&a.items),
            Avro::Map(m) => self.collect(&m.types),
            Avro::Union(u) => {
                for v in u.variants() {
                    self.collect(v);
                }
            }
            _ => {}
        }
    }

    fn resolve<'a>(&'a self, s: &'a Avro) -> Result<&'a Avro> {
        match s {
            Avro::Ref { name } => self.0.get(&name.fullname(None)).ok_or_else(|| {
                ConnectError::data(format!("Unknown Avro type {}", name.fullname(None)))
            }),
            other => Ok(other),
        }
    }
}

fn mismatch(path: &str, expected: &str, v: &Value) -> ConnectError {
    ConnectError::data(format!(
        "Invalid value at {path}: expected {expected}, found {v:?}"
    ))
}

fn decimal_scale(schema: &Schema) -> i64 {
    match schema.logical() {
        Some(logical::Logical::Decimal { scale }) => i64::from(scale),
        _ => 0,
    }
}

/// `AvroData.fromConnectData`: a Connect value as an Avro value of `avro`.
pub fn to_avro(
    schema: &Schema,
    value: &Value,
    avro: &Avro,
    names: &Names,
    path: &str,
) -> Result<AV> {
    let avro = names.resolve(avro)?;
    if let Avro::Union(u) = avro {
        let variants = u.variants();
        if value.is_null() {
            let i = variants
                .iter()
                .position(|v| matches!(v, Avro::Null))
                .ok_or_else(|| {
                    ConnectError::data(format!(
                        "Found null value for non-optional schema at {path}"
                    ))
                })?;
            return Ok(AV::Union(i as u32, Box::new(AV::Null)));
        }
        let non_null: Vec<usize> = (0..variants.len())
            .filter(|i| !matches!(variants[*i], Avro::Null))
            .collect();
        if schema.name.as_deref() == Some(AVRO_TYPE_UNION) {
            let Value::Struct(st) = value else {
                return Err(mismatch(path, "a union struct", value));
            };
            for (k, (f, v)) in schema.fields.iter().zip(&st.values).enumerate() {
                if !v.is_null() {
                    let i = *non_null.get(k).ok_or_else(|| {
                        ConnectError::data(format!(
                            "Union member {} has no Avro branch at {path}",
                            f.name
                        ))
                    })?;
                    let inner = to_avro(&f.schema, v, &variants[i], names, path)?;
                    return Ok(AV::Union(i as u32, Box::new(inner)));
                }
            }
            return Err(ConnectError::data(format!(
                "Union struct with no member set at {path}"
            )));
        }
        let i = match non_null.as_slice() {
            [i] => *i,
            _ => {
                return Err(ConnectError::data(format!(
                    "Avro union at {path} has several branches for a Connect {} schema",
                    schema.ty
                )));
            }
        };
        let inner = to_avro(schema, value, &variants[i], names, path)?;
        return Ok(AV::Union(i as u32, Box::new(inner)));
    }
    if value.is_null() {
        return Err(ConnectError::data(format!(
            "Found null value for non-optional schema at {path}"
        )));
    }
    Ok(match (value, avro) {
        (Value::Int8(v), Avro::Int) => AV::Int(i32::from(*v)),
        (Value::Int16(v), Avro::Int) => AV::Int(i32::from(*v)),
        (Value::Int32(v), Avro::Int) => AV::Int(*v),
        (Value::Int64(v), Avro::Long) => AV::Long(*v),
        (Value::Float32(v), Avro::Float) => AV::Float(*v),
        (Value::Float64(v), Avro::Double) => AV::Double(*v),
        (Value::Boolean(v), Avro::Boolean) => AV::Boolean(*v),
        (Value::String(v), Avro::String) => AV::String(v.clone()),
        (Value::String(v), Avro::Enum(e)) => {
            let i = e.symbols.iter().position(|s| s == v).ok_or_else(|| {
                ConnectError::data(format!(
                    "{v:?} is not a symbol of enum {} at {path}",
                    e.name.fullname(None)
                ))
            })?;
            AV::Enum(i as u32, v.clone())
        }
        (Value::Bytes(b), Avro::Bytes) => AV::Bytes(b.to_vec()),
        (Value::Bytes(b), Avro::Fixed(f)) => AV::Fixed(f.size, b.to_vec()),
        (Value::Decimal(d), Avro::Decimal(_) | Avro::Bytes) => {
            let scale = decimal_scale(schema);
            let rescaled = d.with_scale(scale);
            if rescaled != *d {
                return Err(ConnectError::data(format!(
                    "BigDecimal has mismatching scale value for given Decimal schema at {path}: {d} does not fit scale {scale}"
                )));
            }
            let bytes = decimal_bytes(d, scale);
            match avro {
                Avro::Decimal(_) => AV::Decimal(apache_avro::Decimal::from(bytes)),
                _ => AV::Bytes(bytes),
            }
        }
        (Value::Date(v), Avro::Date) => AV::Date(*v),
        (Value::Date(v), Avro::Int) => AV::Int(*v),
        (Value::Time(v), Avro::TimeMillis) => AV::TimeMillis(*v),
        (Value::Time(v), Avro::Int) => AV::Int(*v),
        (Value::Timestamp(v), Avro::TimestampMillis) => AV::TimestampMillis(*v),
        (Value::Timestamp(v), Avro::Long) => AV::Long(*v),
        // A logical schema whose value arrives as its physical type.
        (Value::Int32(v), Avro::Date) => AV::Date(*v),
        (Value::Int32(v), Avro::TimeMillis) => AV::TimeMillis(*v),
        (Value::Int64(v), Avro::TimestampMillis) => AV::TimestampMillis(*v),
        (Value::Array(items), Avro::Array(a)) => {
            let vs = schema
                .value_schema
                .as_ref()
                .ok_or_else(|| mismatch(path, "an array schema", value))?;
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(to_avro(vs, item, &a.items, names, &format!("{path}[{i}]"))?);
            }
            AV::Array(out)
        }
        (Value::Map(entries), Avro::Map(m)) => {
            let vs = schema
                .value_schema
                .as_ref()
                .ok_or_else(|| mismatch(path, "a map schema", value))?;
            let mut out = HashMap::with_capacity(entries.len());
            for (k, v) in entries {
                let Value::String(k) = k else {
                    return Err(mismatch(path, "string map keys", k));
                };
                out.insert(
                    k.clone(),
                    to_avro(vs, v, &m.types, names, &format!("{path}.{k}"))?,
                );
            }
            AV::Map(out)
        }
        (Value::Map(entries), Avro::Array(a)) => {
            let (Some(ks), Some(vs)) = (&schema.key_schema, &schema.value_schema) else {
                return Err(mismatch(path, "a map schema", value));
            };
            let entry = names.resolve(&a.items)?;
            let Avro::Record(r) = entry else {
                return Err(ConnectError::data(format!(
                    "Map at {path} is not an array of MapEntry records"
                )));
            };
            let field = |n: &str| {
                r.fields
                    .iter()
                    .find(|f| f.name == n)
                    .map(|f| &f.schema)
                    .ok_or_else(|| {
                        ConnectError::data(format!("MapEntry at {path} has no {n} field"))
                    })
            };
            let (kf, vf) = (field("key")?, field("value")?);
            let mut out = Vec::with_capacity(entries.len());
            for (i, (k, v)) in entries.iter().enumerate() {
                out.push(AV::Record(vec![
                    (
                        "key".to_owned(),
                        to_avro(ks, k, kf, names, &format!("{path}[{i}].key"))?,
                    ),
                    (
                        "value".to_owned(),
                        to_avro(vs, v, vf, names, &format!("{path}[{i}].value"))?,
                    ),
                ]));
            }
            AV::Array(out)
        }
        (Value::Struct(st), Avro::Record(r)) => {
            let mut out = Vec::with_capacity(r.fields.len());
            for af in &r.fields {
                let f = schema.field(&af.name).ok_or_else(|| {
                    ConnectError::data(format!(
                        "Avro field {} has no Connect field at {path}",
                        af.name
                    ))
                })?;
                let v = st.values.get(f.index).unwrap_or(&Value::Null);
                // A null in a field with a default writes the default, as Connect's Struct.get does.
                let v = match (v, &f.schema.default) {
                    (Value::Null, Some(d)) => d,
                    _ => v,
                };
                out.push((
                    af.name.clone(),
                    to_avro(
                        &f.schema,
                        v,
                        &af.schema,
                        names,
                        &format!("{path}.{}", af.name),
                    )?,
                ));
            }
            AV::Record(out)
        }
        (v, a) => {
            return Err(ConnectError::data(format!(
                "Invalid value at {path}: a {} value {v:?} cannot be written as Avro {a:?}",
                schema.ty
            )));
        }
    })
}

/// `AvroData.toConnectData`: an Avro value read from the wire as a Connect value of `schema`.
pub fn from_avro(schema: &Arc<Schema>, value: AV, path: &str) -> Result<Value> {
    let bad = |v: &AV| {
        ConnectError::data(format!(
            "Invalid Avro value at {path} for a Connect {} schema: {v:?}",
            schema.ty
        ))
    };
    if schema.name.as_deref() == Some(AVRO_TYPE_UNION) {
        // The branch index counts the null branch; the struct fields do not.
        let AV::Union(i, inner) = value else {
            return Err(bad(&value));
        };
        if matches!(*inner, AV::Null) {
            return Ok(Value::Null);
        }
        let k = if schema.optional {
            (i as usize).saturating_sub(1)
        } else {
            i as usize
        };
        let f = schema.fields.get(k).ok_or_else(|| bad(&inner))?;
        let mut st = Struct::new(schema.clone());
        let v = from_avro(&f.schema, *inner, path)?;
        st.put(&f.name.clone(), v);
        return Ok(Value::Struct(st));
    }
    let logical = schema.logical();
    Ok(match value {
        AV::Union(_, inner) => return from_avro(schema, *inner, path),
        AV::Null => Value::Null,
        AV::Boolean(b) => Value::Boolean(b),
        AV::Int(v) | AV::Date(v) | AV::TimeMillis(v) => match (schema.ty, logical) {
            (SchemaType::Int8, _) => Value::Int8(i8::try_from(v).map_err(|_| bad(&AV::Int(v)))?),
            (SchemaType::Int16, _) => Value::Int16(i16::try_from(v).map_err(|_| bad(&AV::Int(v)))?),
            (_, Some(logical::Logical::Date)) => Value::Date(v),
            (_, Some(logical::Logical::Time)) => Value::Time(v),
            (SchemaType::Int32, _) => Value::Int32(v),
            _ => return Err(bad(&AV::Int(v))),
        },
        AV::Long(v)
        | AV::TimestampMillis(v)
        | AV::TimestampMicros(v)
        | AV::TimestampNanos(v)
        | AV::TimeMicros(v)
        | AV::LocalTimestampMillis(v)
        | AV::LocalTimestampMicros(v)
        | AV::LocalTimestampNanos(v) => match logical {
            Some(logical::Logical::Timestamp) => Value::Timestamp(v),
            _ if schema.ty == SchemaType::Int64 => Value::Int64(v),
            _ => return Err(bad(&AV::Long(v))),
        },
        AV::Float(v) => Value::Float32(v),
        AV::Double(v) => Value::Float64(v),
        AV::String(s) | AV::Enum(_, s) => Value::String(s),
        AV::Uuid(u) => Value::String(u.to_string()),
        AV::Bytes(b) | AV::Fixed(_, b) => match logical {
            Some(logical::Logical::Decimal { scale }) => {
                Value::Decimal(decimal_from_bytes(&b, i64::from(scale)))
            }
            _ => Value::Bytes(b.into()),
        },
        AV::Decimal(d) => {
            let bytes = Vec::<u8>::try_from(&d)
                .map_err(|e| ConnectError::data(format!("Invalid Avro decimal at {path}: {e}")))?;
            Value::Decimal(decimal_from_bytes(&bytes, decimal_scale(schema)))
        }
        AV::Array(items) => match schema.ty {
            SchemaType::Array => {
                let vs = schema.value_schema.as_ref().ok_or_else(|| bad(&AV::Null))?;
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.into_iter().enumerate() {
                    out.push(from_avro(vs, item, &format!("{path}[{i}]"))?);
                }
                Value::Array(out)
            }
            SchemaType::Map => {
                let (Some(ks), Some(vs)) = (&schema.key_schema, &schema.value_schema) else {
                    return Err(bad(&AV::Null));
                };
                let mut out = Vec::with_capacity(items.len());
                for (i, entry) in items.into_iter().enumerate() {
                    let AV::Record(fields) = entry else {
                        return Err(bad(&entry));
                    };
                    let mut key = Value::Null;
                    let mut val = Value::Null;
                    for (n, v) in fields {
                        match n.as_str() {
                            "key" => key = from_avro(ks, v, &format!("{path}[{i}].key"))?,
                            "value" => val = from_avro(vs, v, &format!("{path}[{i}].value"))?,
                            _ => {}
                        }
                    }
                    out.push((key, val));
                }
                Value::Map(out)
            }
            _ => return Err(bad(&AV::Array(items))),
        },
        AV::Map(m) => {
            let vs = schema.value_schema.as_ref().ok_or_else(|| bad(&AV::Null))?;
            let mut out = Vec::with_capacity(m.len());
            for (k, v) in m {
                let v = from_avro(vs, v, &format!("{path}.{k}"))?;
                out.push((Value::String(k), v));
            }
            Value::Map(out)
        }
        AV::Record(fields) => {
            if schema.ty != SchemaType::Struct {
                return Err(bad(&AV::Record(fields)));
            }
            let mut st = Struct::new(schema.clone());
            for (n, v) in fields {
                if let Some(f) = schema.field(&n) {
                    let fs = f.schema.clone();
                    let v = from_avro(&fs, v, &format!("{path}.{n}"))?;
                    st.put(&n, v);
                }
            }
            Value::Struct(st)
        }
        other => return Err(bad(&other)),
    })
}
