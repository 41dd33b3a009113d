//! `io.confluent.connect.avro.AvroConverter`: Connect data as Avro in Confluent's wire
//! format (magic byte 0, the 4-byte big-endian schema id, the Avro binary encoding), with
//! schemas kept in a Confluent-compatible schema registry.
//!
//! Split by concern: [`config`] (the keys), [`registry`] (the REST client), [`schema`]
//! (Connect ⇄ Avro schemas), [`data`] (Connect ⇄ Avro values), [`wire`] (the framing).

mod config;
mod data;
mod registry;
mod schema;
mod wire;

pub use config::def as config_def;

/// The plugin entry for [`crate::plugins::Registry::builtin`].
pub fn plugin() -> crate::plugins::Plugin {
    crate::plugins::Plugin {
        class: "io.confluent.connect.avro.AvroConverter",
        version: crate::VERSION_COMPAT,
        factory: crate::plugins::Factory::Converter(|c, is_key| {
            Ok(Arc::new(AvroConverter::new(c, is_key)?))
        }),
        config_def: config::def,
    }
}

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use apache_avro::Schema as Avro;
use async_trait::async_trait;

use self::config::AvroConfig;
use self::data::Names;
use self::registry::RegistryClient;
use super::{Converter, ConverterConfig};
use crate::data::{Header, SchemaAndValue, SchemaRef};
use crate::errors::{ConnectError, Result};

/// An Avro schema ready for encoding or decoding.
#[derive(Debug)]
struct Prepared {
    /// The schema's JSON text, as registered.
    text: String,
    avro: Avro,
    names: Names,
    connect: SchemaRef,
    /// Per topic: the id this schema is written with, and the schema to encode with when it
    /// is another one (`use.latest.version`). Looked up by topic, so the hot path allocates
    /// nothing; the subject follows from the topic and this schema.
    ids: Mutex<HashMap<String, WrittenAs>>,
}

/// The schema id a topic's records carry, and the schema to encode with (None: this one).
type WrittenAs = (i32, Option<Arc<Prepared>>);

impl Prepared {
    fn parse(text: String, connect: Option<SchemaRef>, meta: bool) -> Result<Self> {
        let json: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| ConnectError::data(format!("Invalid Avro schema JSON: {e}")))?;
        let avro = Avro::parse_str(&text)
            .map_err(|e| ConnectError::data(format!("Invalid Avro schema {text}: {e}")))?;
        let connect = match connect {
            Some(c) => c,
            None => schema::to_connect(&json, meta)?,
        };
        let names = Names::of(&avro);
        Ok(Prepared {
            text,
            avro,
            names,
            connect,
            ids: Mutex::new(HashMap::new()),
        })
    }

    /// The name a subject strategy uses: the full name of a named type, else the type.
    fn record_name(&self) -> String {
        match &self.avro {
            Avro::Record(r) => r.name.fullname(None),
            Avro::Enum(e) => e.name.fullname(None),
            Avro::Fixed(f) => f.name.fullname(None),
            Avro::Union(_) => "union".to_owned(),
            other => format!("{:?}", apache_avro::schema::SchemaKind::from(other)).to_lowercase(),
        }
    }
}

/// A small bounded cache: cleared when full (schemas rarely change, so it refills fast).
struct Bounded<K, V> {
    cap: usize,
    map: HashMap<K, V>,
}

impl<K: std::hash::Hash + Eq, V: Clone> Bounded<K, V> {
    fn new(cap: usize) -> Self {
        Bounded {
            cap,
            map: HashMap::new(),
        }
    }
    fn get(&self, k: &K) -> Option<V> {
        self.map.get(k).cloned()
    }
    fn put(&mut self, k: K, v: V) {
        if self.cap == 0 {
            return;
        }
        if self.map.len() >= self.cap {
            self.map.clear();
        }
        self.map.insert(k, v);
    }
}

/// Confluent's `AvroConverter`.
pub struct AvroConverter {
    is_key: bool,
    cfg: AvroConfig,
    registry: RegistryClient,
    /// Connect schemas already translated, with their Avro form (compared by equality).
    from_connect: Mutex<Vec<(SchemaRef, Arc<Prepared>)>>,
    /// Schemas by id, as Confluent's client caches id → schema.
    by_id: Mutex<Bounded<i32, Arc<Prepared>>>,
}

impl std::fmt::Debug for AvroConverter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AvroConverter")
            .field("is_key", &self.is_key)
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl AvroConverter {
    /// Configures a converter from its settings (prefix stripped).
    pub fn new(config: &ConverterConfig, is_key: bool) -> Result<Self> {
        let cfg = AvroConfig::parse(config, is_key)?;
        let registry = RegistryClient::new(&cfg)?;
        let cap = cfg.cache_size;
        Ok(AvroConverter {
            is_key,
            registry,
            from_connect: Mutex::new(Vec::new()),
            by_id: Mutex::new(Bounded::new(cap)),
            cfg,
        })
    }

    fn prepared_for(&self, schema: &SchemaRef) -> Result<Arc<Prepared>> {
        {
            let cache = lock(&self.from_connect);
            if let Some((_, p)) = cache
                .iter()
                .find(|(s, _)| Arc::ptr_eq(s, schema) || **s == **schema)
            {
                return Ok(p.clone());
            }
        }
        let json = schema::from_connect(schema, self.cfg.connect_meta_data)?;
        let p = Arc::new(Prepared::parse(
            json.to_string(),
            Some(schema.clone()),
            self.cfg.connect_meta_data,
        )?);
        let mut cache = lock(&self.from_connect);
        if cache.len() >= self.cfg.cache_size.max(1) {
            cache.remove(0);
        }
        cache.push((schema.clone(), p.clone()));
        Ok(p)
    }

    /// The schema id to write `p` with, and the schema to encode with (the latest version's
    /// when `use.latest.version` is set).
    async fn schema_id(&self, topic: &str, p: &Arc<Prepared>) -> Result<(i32, Arc<Prepared>)> {
        if let Some((id, writer)) = lock(&p.ids).get(topic) {
            return Ok((*id, writer.clone().unwrap_or_else(|| p.clone())));
        }
        let subject = self
            .cfg
            .subject_strategy
            .subject(topic, self.is_key, &p.record_name());
        let urls = self.registry.urls();
        let found = if self.cfg.use_latest_version {
            let latest = self.registry.latest(&subject).await.map_err(|e| {
                e.into_connect(&format!(
                    "Failed to serialize Avro data from topic {topic}: Error retrieving latest version of subject {subject} from {urls}"
                ))
            })?;
            let lp = Arc::new(Prepared::parse(
                latest.schema,
                Some(p.connect.clone()),
                self.cfg.connect_meta_data,
            )?);
            (latest.id, lp)
        } else if self.cfg.auto_register {
            let id = self.registry.register(&subject, &p.text).await.map_err(|e| {
                e.into_connect(&format!(
                    "Failed to serialize Avro data from topic {topic}: Error registering Avro schema {} under subject {subject} at {urls}",
                    p.text
                ))
            })?;
            (id, p.clone())
        } else {
            let id = self.registry.lookup(&subject, &p.text).await.map_err(|e| {
                e.into_connect(&format!(
                    "Failed to serialize Avro data from topic {topic}: Error retrieving Avro schema {} of subject {subject} from {urls}",
                    p.text
                ))
            })?;
            (id, p.clone())
        };
        {
            let mut ids = lock(&p.ids);
            if ids.len() >= self.cfg.cache_size.max(1) {
                ids.clear();
            }
            let writer = (!Arc::ptr_eq(&found.1, p)).then(|| found.1.clone());
            ids.insert(topic.to_owned(), (found.0, writer));
        }
        Ok(found)
    }

    async fn schema_by_id(&self, topic: &str, id: i32) -> Result<Arc<Prepared>> {
        if let Some(p) = lock(&self.by_id).get(&id) {
            return Ok(p);
        }
        let text = self.registry.by_id(id).await.map_err(|e| {
            e.into_connect(&format!(
                "Failed to deserialize data for topic {topic} to Avro: Error retrieving Avro schema for id {id} from {}",
                self.registry.urls()
            ))
        })?;
        let p = Arc::new(
            Prepared::parse(text, None, self.cfg.connect_meta_data).map_err(|e| {
                ConnectError::data(format!(
                    "Failed to deserialize data for topic {topic} to Avro: schema id {id}: {e}"
                ))
            })?,
        );
        lock(&self.by_id).put(id, p.clone());
        Ok(p)
    }
}

#[async_trait]
impl Converter for AvroConverter {
    async fn from_connect(
        &self,
        topic: &str,
        _headers: &[Header],
        data: &SchemaAndValue,
    ) -> Result<Option<Vec<u8>>> {
        // A null value is a tombstone, whatever its schema (Confluent's serializer).
        if data.value.is_null() {
            return Ok(None);
        }
        let Some(schema) = &data.schema else {
            return Err(ConnectError::data(format!(
                "Failed to serialize Avro data from topic {topic}: Ferry's AvroConverter needs a schema (schemaless values are not supported)"
            )));
        };
        let p = self.prepared_for(schema)?;
        let (id, writer) = self.schema_id(topic, &p).await?;
        let value =
            data::to_avro(schema, &data.value, &writer.avro, &writer.names, "$").map_err(|e| {
                ConnectError::data(format!(
                    "Failed to serialize Avro data from topic {topic}: {e}"
                ))
            })?;
        let body = apache_avro::to_avro_datum(&writer.avro, value).map_err(|e| {
            ConnectError::data(format!(
                "Failed to serialize Avro data from topic {topic}: {e}"
            ))
        })?;
        Ok(Some(wire::frame(id, &body)))
    }

    async fn to_connect(
        &self,
        topic: &str,
        _headers: &[Header],
        bytes: Option<&[u8]>,
    ) -> Result<SchemaAndValue> {
        let Some(bytes) = bytes else {
            return Ok(SchemaAndValue::null());
        };
        let (id, mut body) = wire::unframe(bytes).map_err(|e| {
            ConnectError::data(format!(
                "Failed to deserialize data for topic {topic} to Avro: {e}"
            ))
        })?;
        let p = self.schema_by_id(topic, id).await?;
        let value = apache_avro::from_avro_datum(&p.avro, &mut body, None).map_err(|e| {
            ConnectError::data(format!(
                "Failed to deserialize data for topic {topic} to Avro: schema id {id}: {e}"
            ))
        })?;
        let value = data::from_avro(&p.connect, value, "$").map_err(|e| {
            ConnectError::data(format!(
                "Failed to deserialize data for topic {topic} to Avro: schema id {id}: {e}"
            ))
        })?;
        Ok(SchemaAndValue::new(Some(p.connect.clone()), value))
    }
}

#[cfg(test)]
mod tests;
