//! The worker's own configuration (`connect-standalone.properties`), Kafka's
//! `WorkerConfig`/`StandaloneConfig`, and the mapping of Java client settings
//! (`producer.*`, `consumer.*`) onto librdkafka's names.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::Props;
use super::def::{ConfigDef, ConfigKey, ConfigType as T, Importance as I, Validator};
use crate::errors::{ConnectError, Result};

pub const BOOTSTRAP_SERVERS: &str = "bootstrap.servers";
pub const OFFSET_FILE: &str = "offset.storage.file.filename";
pub const OFFSET_FLUSH_INTERVAL: &str = "offset.flush.interval.ms";
pub const OFFSET_FLUSH_TIMEOUT: &str = "offset.flush.timeout.ms";
pub const LISTENERS: &str = "listeners";
pub const REST_HOST: &str = "rest.host.name";
pub const REST_PORT: &str = "rest.port";

/// Keys that belong to clients (`producer.`, `consumer.`, `admin.` and security settings).
const CLIENT_PREFIXES: &[&str] = &[
    "producer.",
    "consumer.",
    "admin.",
    "key.converter.",
    "value.converter.",
    "header.converter.",
    "ssl.",
    "sasl.",
    "config.providers.",
    "listeners.https.",
    "admin.listeners.https.",
];

/// Declares every key the standalone worker understands.
pub fn standalone_def() -> ConfigDef {
    common_def().define(
        ConfigKey::new(OFFSET_FILE, T::String)
            .validator(Validator::NonEmptyString)
            .importance(I::High)
            .doc("File to store source connector offsets in."),
    )
}

/// Declares every key the distributed worker understands (Kafka's `DistributedConfig`).
pub fn distributed_def() -> ConfigDef {
    let topic = |name: &str, doc: &str| {
        ConfigKey::new(name, T::String)
            .validator(Validator::NonEmptyString)
            .importance(I::High)
            .doc(doc)
    };
    let factor = |name: &str, what: &str| {
        ConfigKey::new(name, T::Short)
            .default_value("3")
            .importance(I::Low)
            .doc(format!("Replication factor used when creating the {what} storage topic; -1 uses the broker's default."))
    };
    let millis = |name: &str, default: &str, doc: &str| {
        ConfigKey::new(name, T::Int)
            .default_value(default)
            .validator(Validator::AtLeast(0))
            .importance(I::Medium)
            .doc(doc)
    };
    common_def()
        .define(
            ConfigKey::new("group.id", T::String)
                .validator(Validator::NonEmptyString)
                .importance(I::High)
                .doc("A unique string that identifies the Connect cluster group this worker belongs to."),
        )
        .define(topic("config.storage.topic", "The name of the Kafka topic where connector configurations are stored"))
        .define(topic("offset.storage.topic", "The name of the Kafka topic where source connector offsets are stored"))
        .define(topic("status.storage.topic", "The name of the Kafka topic where connector and task status are stored"))
        .define(factor("config.storage.replication.factor", "configuration"))
        .define(factor("offset.storage.replication.factor", "offset"))
        .define(factor("status.storage.replication.factor", "status"))
        .define(
            ConfigKey::new("offset.storage.partitions", T::Int)
                .default_value("25")
                .importance(I::Low)
                .doc("The number of partitions used when creating the offset storage topic; -1 uses the broker's default."),
        )
        .define(
            ConfigKey::new("status.storage.partitions", T::Int)
                .default_value("5")
                .importance(I::Low)
                .doc("The number of partitions used when creating the status storage topic; -1 uses the broker's default."),
        )
        .define(millis("session.timeout.ms", "10000", "The timeout used to detect worker failures."))
        .define(millis("heartbeat.interval.ms", "3000", "The expected time between heartbeats to the group coordinator."))
        .define(millis("rebalance.timeout.ms", "60000", "The maximum allowed time for each worker to join the group once a rebalance has begun."))
        .define(millis(
            "scheduled.rebalance.max.delay.ms",
            "300000",
            "The maximum delay that is scheduled in order to wait for the return of one or more departed workers before rebalancing and reassigning their connectors and tasks to the group.",
        ))
        .define(millis("worker.sync.timeout.ms", "3000", "How long to wait for this worker to catch up with the config log before it gives up its work and rejoins."))
        .define(millis("worker.unsync.backoff.ms", "300000", "How long to wait before rejoining after failing to catch up with the config log."))
        .define(
            ConfigKey::new("connect.protocol", T::String)
                .default_value("sessioned")
                .validator(Validator::OneOf(&["eager", "compatible", "sessioned"]))
                .importance(I::Low)
                .doc("Compatibility mode for Kafka Connect Protocol"),
        )
        .define(ConfigKey::new("inter.worker.key.generation.algorithm", T::String).default_value("HmacSHA256").importance(I::Low).doc("The algorithm to use for generating internal request keys."))
        .define(ConfigKey::new("inter.worker.key.size", T::Int).default_null().importance(I::Low).doc("The size of the key to use for signing internal requests, in bits."))
        .define(ConfigKey::new("inter.worker.key.ttl.ms", T::Int).default_value("3600000").importance(I::Low).doc("The TTL of generated session keys used for internal request validation (in milliseconds)."))
        .define(ConfigKey::new("inter.worker.signature.algorithm", T::String).default_value("HmacSHA256").importance(I::Low).doc("The algorithm used to sign internal requests."))
        .define(ConfigKey::new("inter.worker.verification.algorithms", T::List).default_value("HmacSHA256").importance(I::Low).doc("A list of permitted algorithms for verifying internal requests."))
        .define(
            ConfigKey::new("exactly.once.source.support", T::String)
                .default_value("disabled")
                .validator(Validator::OneOf(&["disabled", "preparing", "enabled"]))
                .importance(I::High)
                .doc("Whether to enable exactly-once support for source connectors in the cluster. Ferry supports `disabled` only for now."),
        )
}

/// The keys both kinds of worker understand.
fn common_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(BOOTSTRAP_SERVERS, T::List)
                .default_value("localhost:9092")
                .importance(I::High)
                .doc("A list of host/port pairs used to establish the initial connection to the Kafka cluster."),
        )
        .define(
            ConfigKey::new("key.converter", T::Class)
                .default_value("org.apache.kafka.connect.json.JsonConverter")
                .importance(I::High)
                .doc("Converter class used to convert between Kafka Connect format and the serialized form that is written to Kafka (keys)."),
        )
        .define(
            ConfigKey::new("value.converter", T::Class)
                .default_value("org.apache.kafka.connect.json.JsonConverter")
                .importance(I::High)
                .doc("Converter class used to convert between Kafka Connect format and the serialized form that is written to Kafka (values)."),
        )
        .define(
            ConfigKey::new("header.converter", T::Class)
                .default_value("org.apache.kafka.connect.storage.SimpleHeaderConverter")
                .importance(I::Low)
                .doc("HeaderConverter class used to convert between Kafka Connect format and the serialized form that is written to Kafka."),
        )
        .define(
            ConfigKey::new(OFFSET_FLUSH_INTERVAL, T::Long)
                .default_value("60000")
                .validator(Validator::AtLeast(1))
                .importance(I::Low)
                .doc("Interval at which to try committing offsets for tasks."),
        )
        .define(
            ConfigKey::new(OFFSET_FLUSH_TIMEOUT, T::Long)
                .default_value("5000")
                .validator(Validator::AtLeast(1))
                .importance(I::Low)
                .doc("Maximum number of milliseconds to wait for records to flush and partition offset data to be committed to offset storage before cancelling the process and restoring the offset data to be committed in a future attempt."),
        )
        .define(
            ConfigKey::new(LISTENERS, T::List)
                .default_value("http://:8083")
                .importance(I::Low)
                .doc("List of comma-separated URIs the REST API will listen on. The supported protocols are HTTP."),
        )
        .define(
            ConfigKey::new(REST_HOST, T::String)
                .default_null()
                .importance(I::Low)
                .doc("Hostname for the REST API (deprecated in Kafka; used when listeners is not set)."),
        )
        .define(
            ConfigKey::new(REST_PORT, T::Int)
                .default_null()
                .validator(Validator::Between(0, 65535))
                .importance(I::Low)
                .doc("Port for the REST API to listen on (deprecated in Kafka; used when listeners is not set)."),
        )
        .define(ConfigKey::new("rest.advertised.host.name", T::String).default_null().importance(I::Low).doc("Hostname given out to other workers."))
        .define(ConfigKey::new("rest.advertised.port", T::Int).default_null().importance(I::Low).doc("Port given out to other workers."))
        .define(ConfigKey::new("rest.advertised.listener", T::String).default_null().importance(I::Low).doc("Listener given out to other workers."))
        .define(
            ConfigKey::new("plugin.path", T::List)
                .default_null()
                .importance(I::Low)
                .doc("Accepted for compatibility and ignored: Ferry's connectors are built in."),
        )
        .define(ConfigKey::new("plugin.discovery", T::String).default_value("hybrid_warn").importance(I::Low).doc("Accepted for compatibility and ignored."))
        .define(
            ConfigKey::new("task.shutdown.graceful.timeout.ms", T::Long)
                .default_value("5000")
                .importance(I::Low)
                .doc("Amount of time to wait for tasks to shutdown gracefully."),
        )
        .define(ConfigKey::new("client.id", T::String).default_value("").importance(I::Low).doc("An id string to pass to the server when making requests."))
        .define(ConfigKey::new("security.protocol", T::String).default_value("PLAINTEXT").importance(I::Medium).doc("Protocol used to communicate with brokers."))
        .define(ConfigKey::new("access.control.allow.origin", T::String).default_value("").importance(I::Low).doc("Value to set the Access-Control-Allow-Origin header to for REST API requests."))
        .define(ConfigKey::new("access.control.allow.methods", T::String).default_value("").importance(I::Low).doc("Sets the methods supported for cross origin requests."))
        .define(ConfigKey::new("connector.client.config.override.policy", T::String).default_value("All").importance(I::Medium).doc("Which client config overrides connectors may set (producer.override.*, consumer.override.*)."))
        .define(ConfigKey::new("config.providers", T::List).default_value("").importance(I::Low).doc("Names of ConfigProviders to use."))
        .define(ConfigKey::new("metrics.recording.level", T::String).default_value("INFO").importance(I::Low).doc("The highest recording level for metrics."))
}

/// A parsed standalone worker configuration.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub bootstrap_servers: String,
    pub key_converter: String,
    pub value_converter: String,
    pub offset_file: Option<PathBuf>,
    pub offset_flush_interval: Duration,
    pub offset_flush_timeout: Duration,
    pub task_shutdown_timeout: Duration,
    /// Where the REST API listens.
    pub rest_addr: SocketAddr,
    /// Every setting as given, for prefixed lookups.
    pub originals: Props,
}

fn millis(v: i64) -> Duration {
    Duration::from_millis(u64::try_from(v).unwrap_or(0))
}

/// Parses `http://host:port` (host may be empty for all interfaces).
fn parse_listener(listener: &str) -> Result<SocketAddr> {
    let bad = |why: &str| {
        ConnectError::config(format!(
            "Invalid value {listener} for configuration {LISTENERS}: {why}"
        ))
    };
    let rest = listener
        .strip_prefix("http://")
        .ok_or_else(|| bad("only http:// listeners are supported"))?;
    let (host, port) = rest
        .rsplit_once(':')
        .ok_or_else(|| bad("expected http://HOST:PORT"))?;
    let port: u16 = port
        .trim_end_matches('/')
        .parse()
        .map_err(|_| bad("the port is not a number"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip = match host {
        "" | "0.0.0.0" => std::net::IpAddr::from([0, 0, 0, 0]),
        "localhost" => std::net::IpAddr::from([127, 0, 0, 1]),
        h => h
            .parse()
            .map_err(|_| bad("the host must be an IP address, localhost or empty"))?,
    };
    Ok(SocketAddr::new(ip, port))
}

impl WorkerConfig {
    /// Parses and checks a standalone worker's settings; every error is reported at once.
    /// Unknown keys are logged as warnings.
    pub fn standalone(props: &Props) -> Result<Self> {
        Self::parse(props, &standalone_def())
    }

    /// Parses and checks a distributed worker's settings; every error is reported at once.
    pub fn distributed(props: &Props) -> Result<Self> {
        Self::parse(props, &distributed_def())
    }

    fn parse(props: &Props, def: &ConfigDef) -> Result<Self> {
        let parsed = def.parse(props)?;
        for key in def.unknown_keys(props) {
            if !CLIENT_PREFIXES.iter().any(|p| key.starts_with(p)) && !is_client_key(key) {
                tracing::warn!(key, "unknown worker configuration key; ignored");
            }
        }
        if props.contains_key("plugin.path") {
            tracing::info!("plugin.path is ignored: Ferry's connectors are built in");
        }
        let rest_addr = if props.contains_key(LISTENERS)
            || !(props.contains_key(REST_PORT) || props.contains_key(REST_HOST))
        {
            let listeners = parsed.list(LISTENERS)?;
            let first = listeners
                .first()
                .map(String::as_str)
                .unwrap_or("http://:8083");
            parse_listener(first)?
        } else {
            let host = parsed.string(REST_HOST)?.unwrap_or("");
            let port = match props.get(REST_PORT) {
                Some(_) => parsed.int(REST_PORT)?,
                None => 8083,
            };
            parse_listener(&format!("http://{host}:{port}"))?
        };
        Ok(WorkerConfig {
            bootstrap_servers: parsed.list(BOOTSTRAP_SERVERS)?.join(","),
            key_converter: parsed
                .string("key.converter")?
                .unwrap_or_default()
                .to_owned(),
            value_converter: parsed
                .string("value.converter")?
                .unwrap_or_default()
                .to_owned(),
            offset_file: match def.key(OFFSET_FILE) {
                Some(_) => parsed.string(OFFSET_FILE)?.map(PathBuf::from),
                None => None,
            },
            offset_flush_interval: millis(parsed.int(OFFSET_FLUSH_INTERVAL)?),
            offset_flush_timeout: millis(parsed.int(OFFSET_FLUSH_TIMEOUT)?),
            task_shutdown_timeout: millis(parsed.int("task.shutdown.graceful.timeout.ms")?),
            rest_addr,
            originals: props.clone(),
        })
    }

    /// Settings under a prefix, prefix stripped (`key.converter.` → `schemas.enable`...).
    pub fn with_prefix(&self, prefix: &str) -> Props {
        super::def::with_prefix(&self.originals, prefix)
    }

    /// librdkafka settings for a producer: worker-level client settings, then `producer.*`.
    pub fn producer_settings(&self) -> Vec<(String, String)> {
        self.client_settings("producer.")
    }

    /// librdkafka settings for a consumer: worker-level client settings, then `consumer.*`.
    pub fn consumer_settings(&self) -> Vec<(String, String)> {
        self.client_settings("consumer.")
    }

    fn client_settings(&self, prefix: &str) -> Vec<(String, String)> {
        let mut java: Props = Props::new();
        java.insert(BOOTSTRAP_SERVERS.into(), self.bootstrap_servers.clone());
        for (k, v) in &self.originals {
            if is_client_key(k) || k.starts_with("ssl.") || k.starts_with("sasl.") {
                java.insert(k.clone(), v.clone());
            }
        }
        java.extend(self.with_prefix(prefix));
        translate_client_config(&java)
    }
}

/// Top-level keys that apply to every Kafka client of the worker.
fn is_client_key(key: &str) -> bool {
    matches!(
        key,
        "security.protocol"
            | "client.dns.lookup"
            | "metadata.max.age.ms"
            | "request.timeout.ms"
            | "retry.backoff.ms"
            | "reconnect.backoff.ms"
            | "reconnect.backoff.max.ms"
            | "socket.connection.setup.timeout.ms"
            | "socket.connection.setup.timeout.max.ms"
            | "connections.max.idle.ms"
            | "receive.buffer.bytes"
            | "send.buffer.bytes"
    ) || key.starts_with("ssl.")
        || key.starts_with("sasl.")
}

/// Maps Java Kafka client settings onto librdkafka's; settings with no librdkafka
/// equivalent are dropped with a debug log, because Connect configs carry many of them.
pub fn translate_client_config(java: &Props) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (k, v) in java {
        let mapped: Option<(String, String)> = match k.as_str() {
            // Same name, same meaning.
            "bootstrap.servers"
            | "client.id"
            | "acks"
            | "linger.ms"
            | "batch.size"
            | "compression.type"
            | "security.protocol"
            | "enable.idempotence"
            | "retries"
            | "retry.backoff.ms"
            | "request.timeout.ms"
            | "session.timeout.ms"
            | "heartbeat.interval.ms"
            | "max.poll.interval.ms"
            | "auto.offset.reset"
            | "fetch.min.bytes"
            | "fetch.max.bytes"
            | "isolation.level"
            | "group.instance.id"
            | "reconnect.backoff.ms"
            | "reconnect.backoff.max.ms"
            | "socket.connection.setup.timeout.ms"
            | "connections.max.idle.ms"
            | "transactional.id"
            | "transaction.timeout.ms"
            | "client.rack"
            | "ssl.keystore.password"
            | "ssl.key.password"
            | "ssl.cipher.suites"
            | "sasl.kerberos.service.name"
            | "partition.assignment.strategy" => Some((k.clone(), v.clone())),
            // Java refreshes metadata this often (which is how a topics.regex subscription
            // finds new topics); librdkafka's metadata.max.age.ms is only a cache age.
            "metadata.max.age.ms" => Some(("topic.metadata.refresh.interval.ms".into(), v.clone())),
            "delivery.timeout.ms" => Some(("message.timeout.ms".into(), v.clone())),
            "max.in.flight.requests.per.connection" => Some(("max.in.flight".into(), v.clone())),
            "max.request.size" => Some(("message.max.bytes".into(), v.clone())),
            "max.partition.fetch.bytes" => Some(("max.partition.fetch.bytes".into(), v.clone())),
            "fetch.max.wait.ms" => Some(("fetch.wait.max.ms".into(), v.clone())),
            "buffer.memory" => v.parse::<u64>().ok().map(|b| {
                (
                    "queue.buffering.max.kbytes".into(),
                    (b / 1024).max(1).to_string(),
                )
            }),
            "sasl.mechanism" => Some(("sasl.mechanisms".into(), v.clone())),
            // Java's empty value turns host name checks off; librdkafka spells it "none".
            "ssl.endpoint.identification.algorithm" => Some((
                k.clone(),
                if v.trim().is_empty() {
                    "none".into()
                } else {
                    v.clone()
                },
            )),
            // librdkafka reads PEM CA files and PKCS#12 keystores, never JKS.
            "ssl.truststore.location" if store_type(java, "ssl.truststore.type") == "PEM" => {
                Some(("ssl.ca.location".into(), v.clone()))
            }
            "ssl.keystore.location" => match store_type(java, "ssl.keystore.type").as_str() {
                "PEM" => {
                    // One PEM file holds the key and the certificate chain.
                    out.push(("ssl.certificate.location".into(), v.clone()));
                    Some(("ssl.key.location".into(), v.clone()))
                }
                "PKCS12" => Some((k.clone(), v.clone())),
                other => {
                    tracing::warn!(key = %k, store_type = other, "only PEM and PKCS12 keystores can be used by Ferry's Kafka clients; set ssl.keystore.type");
                    None
                }
            },
            "ssl.truststore.location" => {
                tracing::warn!(key = %k, "only PEM truststores can be used by Ferry's Kafka clients; set ssl.truststore.type=PEM");
                None
            }
            "ssl.truststore.certificates" => Some(("ssl.ca.pem".into(), v.clone())),
            "ssl.keystore.certificate.chain" => Some(("ssl.certificate.pem".into(), v.clone())),
            "ssl.keystore.key" => Some(("ssl.key.pem".into(), v.clone())),
            "sasl.jaas.config" => {
                // PLAIN and SCRAM logins carry username and password; librdkafka wants them apart.
                let user = crate::cluster::security::jaas_option(v, "username");
                let pass = crate::cluster::security::jaas_option(v, "password");
                if let (Some(u), Some(p)) = (user, pass) {
                    out.push(("sasl.username".into(), u));
                    Some(("sasl.password".into(), p))
                } else {
                    None
                }
            }
            _ => None,
        };
        match mapped {
            Some(kv) => out.push(kv),
            None => {
                tracing::debug!(key = %k, "Kafka client setting has no librdkafka equivalent; ignored")
            }
        }
    }
    out
}

/// The settings every worker of one distributed group must share, as `key → value`: the
/// internal topics and the converters. Workers compare theirs with the leader's.
pub fn group_settings(config: &WorkerConfig) -> std::collections::BTreeMap<String, String> {
    let mut m = std::collections::BTreeMap::new();
    for key in [
        "config.storage.topic",
        "offset.storage.topic",
        "status.storage.topic",
    ] {
        if let Some(v) = config.originals.get(key) {
            m.insert(key.to_owned(), v.trim().to_owned());
        }
    }
    m.insert("key.converter".into(), config.key_converter.clone());
    m.insert("value.converter".into(), config.value_converter.clone());
    m
}

/// `ssl.keystore.type` / `ssl.truststore.type`, upper-cased; Java's default is JKS.
fn store_type(java: &Props, key: &str) -> String {
    java.get(key)
        .map(|t| t.trim().to_ascii_uppercase())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "JKS".into())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    use crate::config::props;

    #[test]
    fn standalone_defaults_and_listener() {
        let c = WorkerConfig::standalone(&props(&[
            (OFFSET_FILE, "/tmp/o"),
            ("listeners", "http://127.0.0.1:18083"),
        ]))
        .unwrap();
        assert_eq!(c.rest_addr, "127.0.0.1:18083".parse().unwrap());
        assert_eq!(c.bootstrap_servers, "localhost:9092");
        assert_eq!(c.offset_flush_interval, Duration::from_secs(60));
        assert_eq!(
            c.key_converter,
            "org.apache.kafka.connect.json.JsonConverter"
        );
        let c = WorkerConfig::standalone(&props(&[(OFFSET_FILE, "/tmp/o"), ("rest.port", "9999")]))
            .unwrap();
        assert_eq!(c.rest_addr, "0.0.0.0:9999".parse().unwrap());
    }

    #[test]
    fn every_error_is_reported() {
        let err = WorkerConfig::standalone(&props(&[("offset.flush.interval.ms", "soon")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("Missing required configuration \"offset.storage.file.filename\""),
            "{err}"
        );
        assert!(
            err.contains("Invalid value soon for configuration offset.flush.interval.ms"),
            "{err}"
        );
        let err = WorkerConfig::standalone(&props(&[
            (OFFSET_FILE, "/o"),
            ("listeners", "https://:8443"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(err.contains("only http://"), "{err}");
    }

    #[test]
    fn ssl_stores_map_to_what_librdkafka_reads() {
        let t = |pairs: &[(&str, &str)]| translate_client_config(&props(pairs));
        let pem = t(&[
            ("ssl.truststore.type", "PEM"),
            ("ssl.truststore.location", "/ca.pem"),
            ("ssl.keystore.type", "pem"),
            ("ssl.keystore.location", "/me.pem"),
            ("ssl.endpoint.identification.algorithm", ""),
        ]);
        for kv in [
            ("ssl.ca.location", "/ca.pem"),
            ("ssl.certificate.location", "/me.pem"),
            ("ssl.key.location", "/me.pem"),
            ("ssl.endpoint.identification.algorithm", "none"),
        ] {
            assert!(
                pem.contains(&(kv.0.into(), kv.1.into())),
                "{kv:?} in {pem:?}"
            );
        }
        // JKS (Java's default) cannot be read: dropped rather than passed on as an unknown key.
        let jks = t(&[("ssl.truststore.location", "/ts.jks")]);
        assert!(jks.is_empty(), "{jks:?}");
        let p12 = t(&[
            ("ssl.keystore.type", "PKCS12"),
            ("ssl.keystore.location", "/ks.p12"),
        ]);
        assert_eq!(
            p12,
            vec![("ssl.keystore.location".into(), "/ks.p12".into())]
        );
    }

    #[test]
    fn client_settings_map_to_librdkafka() {
        let c = WorkerConfig::standalone(&props(&[
            (OFFSET_FILE, "/o"),
            ("bootstrap.servers", "a:1,b:2"),
            ("producer.max.in.flight.requests.per.connection", "1"),
            ("producer.key.serializer", "x"),
            ("consumer.max.poll.records", "10"),
            ("sasl.mechanism", "PLAIN"),
            ("sasl.jaas.config", r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";"#),
        ]))
        .unwrap();
        let p = c.producer_settings();
        assert!(p.contains(&("bootstrap.servers".into(), "a:1,b:2".into())));
        assert!(p.contains(&("max.in.flight".into(), "1".into())));
        assert!(p.contains(&("sasl.mechanisms".into(), "PLAIN".into())));
        assert!(p.contains(&("sasl.username".into(), "u".into())));
        assert!(p.contains(&("sasl.password".into(), "p".into())));
        assert!(!p.iter().any(|(k, _)| k.contains("serializer")));
        let consumer = c.consumer_settings();
        assert!(!consumer.iter().any(|(k, _)| k == "max.in.flight"));
    }
}
