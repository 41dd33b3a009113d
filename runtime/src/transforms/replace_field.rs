//! `ReplaceField`: keeps, drops and renames fields of the key or value.

use crate::config::def::{ConfigKey, Parsed, Validator};
use crate::config::{ConfigDef, ConfigType, Importance, ParsedConfig};
use crate::data::{ConnectRecord, SchemaAndValue, SchemaBuilder, Struct, Value};
use crate::errors::Result;
use crate::plugins::Plugin;
use crate::transforms::util::{
    SchemaCache, copy_schema_basics, field_value, replace_null_with_default_key, require_map,
    require_struct,
};
use crate::transforms::{Applied, RecordContext, Side, Transformation};

const PURPOSE: &str = "field replacement";

fn check_renames(v: &Parsed) -> std::result::Result<(), String> {
    if let Parsed::List(items) = v
        && let Some(bad) = items.iter().find(|m| m.split(':').count() != 2)
    {
        return Err(format!("Invalid rename mapping: {bad}"));
    }
    Ok(())
}

pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new("exclude", ConfigType::List)
                .default_value("")
                .importance(Importance::Medium)
                .doc("Fields to exclude. This takes precedence over the fields to include."),
        )
        .define(
            ConfigKey::new("include", ConfigType::List)
                .default_value("")
                .importance(Importance::Medium)
                .doc("Fields to include. If specified, only these fields will be used."),
        )
        .define(
            ConfigKey::new("renames", ConfigType::List)
                .default_value("")
                .validator(Validator::Custom(check_renames))
                .importance(Importance::Medium)
                .doc("Field rename mappings."),
        )
        .define(replace_null_with_default_key())
}

pub struct ReplaceField {
    side: Side,
    exclude: Vec<String>,
    include: Vec<String>,
    renames: Vec<(String, String)>,
    replace_null_with_default: bool,
    cache: SchemaCache,
}

impl ReplaceField {
    pub fn new(c: &ParsedConfig, side: Side) -> Result<Self> {
        // The deprecated names count when the new ones are not set.
        let list = |new: &str, old: &str| -> Result<Vec<String>> {
            let set = c.originals().contains_key(new);
            match c.originals().get(old) {
                Some(raw) if !set => match ConfigKey::new(old, ConfigType::List).parse(raw) {
                    Ok(Parsed::List(items)) => Ok(items),
                    _ => Ok(Vec::new()),
                },
                _ => c.list(new),
            }
        };
        let renames = c
            .list("renames")?
            .iter()
            .filter_map(|m| m.split_once(':'))
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .collect();
        Ok(ReplaceField {
            side,
            exclude: list("exclude", "blacklist")?,
            include: list("include", "whitelist")?,
            renames,
            replace_null_with_default: c.bool("replace.null.with.default")?,
            cache: SchemaCache::default(),
        })
    }

    fn keep(&self, name: &str) -> bool {
        !self.exclude.iter().any(|e| e == name)
            && (self.include.is_empty() || self.include.iter().any(|i| i == name))
    }

    fn renamed<'a>(&'a self, name: &'a str) -> &'a str {
        self.renames
            .iter()
            .find(|(from, _)| from == name)
            .map_or(name, |(_, to)| to.as_str())
    }
}

impl Transformation for ReplaceField {
    fn apply_mut(&mut self, record: &mut ConnectRecord, _: &RecordContext) -> Result<Applied> {
        let operating = self.side.of(record);
        if operating.value.is_null() {
            return Ok(Applied::Kept);
        }
        let updated = match &operating.schema {
            None => {
                let m = require_map(&operating.value, PURPOSE)?;
                let out = m
                    .iter()
                    .filter_map(|(k, v)| {
                        let name = k.as_str()?;
                        self.keep(name)
                            .then(|| (Value::String(self.renamed(name).to_owned()), v.clone()))
                    })
                    .collect();
                SchemaAndValue::new(None, Value::Map(out))
            }
            Some(_) => {
                let value = require_struct(&operating.value, PURPOSE)?;
                let schema = match self.cache.get(&value.schema) {
                    Some(s) => s,
                    None => {
                        let mut b = copy_schema_basics(&value.schema, SchemaBuilder::struct_());
                        for f in &value.schema.fields {
                            if self.keep(&f.name) {
                                b = b.field(self.renamed(&f.name), f.schema.clone());
                            }
                        }
                        let s = b.build();
                        self.cache.put(value.schema.clone(), s.clone());
                        s
                    }
                };
                let mut s = Struct::new(schema.clone());
                for f in &value.schema.fields {
                    if self.keep(&f.name) {
                        s.put(
                            self.renamed(&f.name),
                            field_value(value, f, self.replace_null_with_default),
                        );
                    }
                }
                SchemaAndValue::new(Some(schema), Value::Struct(s))
            }
        };
        *self.side.of_mut(record) = updated;
        Ok(Applied::Kept)
    }
}

pub fn plugins() -> Vec<Plugin> {
    use crate::transforms::plugins::transform;
    vec![
        transform(
            "org.apache.kafka.connect.transforms.ReplaceField$Key",
            |c| Ok(Box::new(ReplaceField::new(c, Side::Key)?)),
            config_def,
        ),
        transform(
            "org.apache.kafka.connect.transforms.ReplaceField$Value",
            |c| Ok(Box::new(ReplaceField::new(c, Side::Value)?)),
            config_def,
        ),
    ]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::props;
    use crate::data::{Schema, SchemaType};
    use crate::transforms::util::string_map;

    fn t(p: &[(&str, &str)]) -> ReplaceField {
        ReplaceField::new(&config_def().parse(&props(p)).unwrap(), Side::Value).unwrap()
    }

    fn run(t: &mut ReplaceField, v: SchemaAndValue) -> SchemaAndValue {
        let r = ConnectRecord {
            value: v,
            ..Default::default()
        };
        t.apply(r, &RecordContext::default())
            .unwrap()
            .unwrap()
            .value
    }

    #[test]
    fn schemaless() {
        let v = string_map(vec![
            ("dont".into(), Value::from("whatever")),
            ("abc".into(), Value::Int32(42)),
            ("foo".into(), Value::Boolean(true)),
            ("etc".into(), Value::from("etc")),
        ]);
        let mut rf = t(&[("exclude", "dont"), ("renames", "abc:xyz,foo:bar")]);
        assert_eq!(
            run(&mut rf, SchemaAndValue::new(None, v.clone())).value,
            string_map(vec![
                ("xyz".into(), Value::Int32(42)),
                ("bar".into(), Value::Boolean(true)),
                ("etc".into(), Value::from("etc")),
            ])
        );
        let mut inc = t(&[("include", "abc,foo")]);
        assert_eq!(
            run(&mut inc, SchemaAndValue::new(None, v.clone())).value,
            string_map(vec![
                ("abc".into(), Value::Int32(42)),
                ("foo".into(), Value::Boolean(true)),
            ])
        );
        // The deprecated names still work.
        let mut old = t(&[("blacklist", "dont,etc"), ("whitelist", "abc,dont")]);
        assert_eq!(
            run(&mut old, SchemaAndValue::new(None, v)).value,
            string_map(vec![("abc".into(), Value::Int32(42))])
        );
        // Tombstones pass through.
        assert_eq!(run(&mut rf, SchemaAndValue::null()), SchemaAndValue::null());
    }

    #[test]
    fn with_schema() {
        let schema = SchemaBuilder::struct_()
            .name("n")
            .field("dont", Schema::string())
            .field("abc", Schema::primitive(SchemaType::Int32))
            .field("foo", Schema::primitive(SchemaType::Boolean))
            .build();
        let v = Struct::new(schema.clone())
            .with("dont", Value::from("x"))
            .with("abc", Value::Int32(42))
            .with("foo", Value::Boolean(true));
        let mut rf = t(&[("exclude", "dont"), ("renames", "abc:xyz")]);
        let out = run(&mut rf, SchemaAndValue::new(Some(schema), Value::Struct(v)));
        let expected = SchemaBuilder::struct_()
            .name("n")
            .field("xyz", Schema::primitive(SchemaType::Int32))
            .field("foo", Schema::primitive(SchemaType::Boolean))
            .build();
        assert_eq!(out.schema.as_deref(), Some(&*expected));
        assert_eq!(
            out.value,
            Value::Struct(
                Struct::new(expected)
                    .with("xyz", Value::Int32(42))
                    .with("foo", Value::Boolean(true))
            )
        );
        assert_eq!(
            config_def()
                .parse(&props(&[("renames", "a:b,c")]))
                .unwrap_err()
                .to_string(),
            "Invalid value [a:b, c] for configuration renames: Invalid rename mapping: c"
        );
    }
}
