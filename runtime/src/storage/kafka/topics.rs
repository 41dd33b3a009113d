//! Kafka Connect's three internal topics: their names and creation settings from the
//! worker configuration (`DistributedConfig`), and creating them when missing.
//!
//! Like Kafka Connect, an existing topic is never changed: it is only checked to be
//! compacted (a topic that deletes old records would eventually lose connector
//! configurations and offsets). The config topic's single partition is checked once
//! its log is started (`config_log.rs`), because it is the log that learns the count.

use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

use crate::config::Props;
use crate::errors::{ConnectError, Result};

pub const CONFIG_TOPIC: &str = "config.storage.topic";
pub const CONFIG_REPLICATION_FACTOR: &str = "config.storage.replication.factor";
pub const OFFSET_TOPIC: &str = "offset.storage.topic";
pub const OFFSET_PARTITIONS: &str = "offset.storage.partitions";
pub const OFFSET_REPLICATION_FACTOR: &str = "offset.storage.replication.factor";
pub const STATUS_TOPIC: &str = "status.storage.topic";
pub const STATUS_PARTITIONS: &str = "status.storage.partitions";
pub const STATUS_REPLICATION_FACTOR: &str = "status.storage.replication.factor";

/// How long topic creation is retried on retriable errors (Java: the admin client's
/// `default.api.timeout.ms`, 60 s).
const CREATE_TIMEOUT: Duration = Duration::from_secs(60);

/// One internal topic: what to create if it is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    pub name: String,
    /// `-1` lets the broker choose (`num.partitions`).
    pub partitions: i32,
    /// `-1` lets the broker choose (`default.replication.factor`).
    pub replication_factor: i32,
    /// Topic configs; always ends with `cleanup.policy=compact`.
    pub configs: Vec<(String, String)>,
    /// The worker setting that names the topic, for error messages.
    pub name_key: &'static str,
    /// What the topic keeps, for error messages ("connector configurations").
    pub purpose: &'static str,
}

/// The config, offset and status topics of a distributed worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InternalTopics {
    pub config: TopicSpec,
    pub offsets: TopicSpec,
    pub status: TopicSpec,
}

impl InternalTopics {
    /// Reads the `*.storage.*` settings of a worker configuration with Kafka's
    /// defaults (replication factor 3, 25 offset partitions, 5 status partitions).
    /// Other `PREFIX.*` settings (e.g. `config.storage.min.insync.replicas`) become
    /// topic configs, as in Kafka. Every problem is reported at once.
    pub fn from_props(props: &Props) -> Result<Self> {
        let mut errors = Vec::new();
        let config = spec(
            props,
            "config.storage.",
            CONFIG_TOPIC,
            None,
            CONFIG_REPLICATION_FACTOR,
            "connector configurations",
            &mut errors,
        );
        let offsets = spec(
            props,
            "offset.storage.",
            OFFSET_TOPIC,
            Some((OFFSET_PARTITIONS, 25)),
            OFFSET_REPLICATION_FACTOR,
            "source connector offsets",
            &mut errors,
        );
        let status = spec(
            props,
            "status.storage.",
            STATUS_TOPIC,
            Some((STATUS_PARTITIONS, 5)),
            STATUS_REPLICATION_FACTOR,
            "connector and task statuses",
            &mut errors,
        );
        if !errors.is_empty() {
            return Err(ConnectError::config(errors.join("\n")));
        }
        Ok(InternalTopics {
            config,
            offsets,
            status,
        })
    }
}

fn spec(
    props: &Props,
    prefix: &str,
    name_key: &'static str,
    partitions: Option<(&'static str, i32)>,
    rf_key: &'static str,
    purpose: &'static str,
    errors: &mut Vec<String>,
) -> TopicSpec {
    let name = match props.get(name_key).map(|s| s.trim()) {
        Some(n) if !n.is_empty() => n.to_owned(),
        _ => {
            errors.push(format!(
                "Missing required configuration \"{name_key}\" which has no default value."
            ));
            String::new()
        }
    };
    let mut number = |key: &str, default: i32, positive_doc: &str| -> i32 {
        match props.get(key) {
            None => default,
            Some(v) => match v.trim().parse::<i32>() {
                Ok(n) if n == -1 || n >= 1 => n,
                _ => {
                    errors.push(format!(
                        "Invalid value {v} for configuration {key}: {positive_doc}"
                    ));
                    default
                }
            },
        }
    };
    let partitions = match partitions {
        Some((key, default)) => number(
            key,
            default,
            "Positive number, or -1 to use the broker's default",
        ),
        None => {
            if let Some(v) = props.get(&format!("{prefix}partitions")) {
                tracing::warn!(
                    "Ignoring '{prefix}partitions={v}' setting, since config topic partitions is always 1"
                );
            }
            1
        }
    };
    let replication_factor = number(
        rf_key,
        3,
        "Positive number not larger than the number of brokers in the Kafka cluster, or -1 to use the broker's default",
    );
    let mut configs = Vec::new();
    for (k, v) in props {
        let Some(setting) = k.strip_prefix(prefix) else {
            continue;
        };
        match setting {
            "topic" | "replication.factor" | "partitions" => {}
            // Standalone mode's offsets file shares the prefix; it is no topic config.
            "file.filename" => {}
            "cleanup.policy" => tracing::warn!(
                "Ignoring '{prefix}cleanup.policy={v}' setting, since compaction is always used"
            ),
            _ => configs.push((setting.to_owned(), v.clone())),
        }
    }
    configs.push(("cleanup.policy".to_owned(), "compact".to_owned()));
    TopicSpec {
        name,
        partitions,
        replication_factor,
        configs,
        name_key,
        purpose,
    }
}

/// Whether [`ensure_topic`] created the topic or found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicOutcome {
    Created,
    Existed,
    /// The broker would not let this worker create or describe topics; the topic is
    /// assumed to exist or to be auto-created (Kafka does the same).
    Unverified,
}

/// Creates the topic if it does not exist; an existing topic must be compacted only.
/// `admin` is librdkafka settings for an admin client (the worker's, with security).
pub async fn ensure_topic(admin: &[(String, String)], spec: &TopicSpec) -> Result<TopicOutcome> {
    let mut config = ClientConfig::new();
    for (k, v) in admin {
        config.set(k, v);
    }
    let client: AdminClient<DefaultClientContext> = config.create().map_err(|e| {
        ConnectError::kafka(
            format!("could not create an admin client for topic '{}'", spec.name),
            e,
        )
    })?;
    let name = spec.name.as_str();
    let opts = AdminOptions::new()
        .request_timeout(Some(Duration::from_secs(30)))
        .operation_timeout(Some(Duration::from_secs(30)));
    let started = Instant::now();
    let mut backoff = Duration::from_millis(100);
    loop {
        let mut topic = NewTopic::new(
            name,
            spec.partitions,
            TopicReplication::Fixed(spec.replication_factor),
        );
        for (k, v) in &spec.configs {
            topic = topic.set(k, v);
        }
        let result = client.create_topics([&topic], &opts).await;
        let code = match result {
            Ok(results) => match results.into_iter().next() {
                Some(Ok(_)) => {
                    tracing::info!(
                        topic = name,
                        partitions = spec.partitions,
                        replication_factor = spec.replication_factor,
                        "created Connect internal topic for {}",
                        spec.purpose
                    );
                    return Ok(TopicOutcome::Created);
                }
                Some(Err((_, code))) => code,
                None => RDKafkaErrorCode::Unknown,
            },
            Err(e) => e.rdkafka_error_code().unwrap_or(RDKafkaErrorCode::Unknown),
        };
        match code {
            RDKafkaErrorCode::TopicAlreadyExists => {
                tracing::debug!(topic = name, "found existing topic");
                return verify_compacted(&client, &opts, spec).await;
            }
            RDKafkaErrorCode::ClusterAuthorizationFailed
            | RDKafkaErrorCode::TopicAuthorizationFailed
            | RDKafkaErrorCode::UnsupportedVersion => {
                tracing::debug!(
                    topic = name,
                    error = %code,
                    "not allowed to create topics; assuming the topic exists or will be auto-created"
                );
                return Ok(TopicOutcome::Unverified);
            }
            RDKafkaErrorCode::InvalidConfig
            | RDKafkaErrorCode::InvalidPartitions
            | RDKafkaErrorCode::InvalidReplicationFactor
            | RDKafkaErrorCode::InvalidReplicaAssignment
            | RDKafkaErrorCode::PolicyViolation
            | RDKafkaErrorCode::InvalidTopic => {
                return Err(ConnectError::config(format!(
                    "Unable to create topic(s) '{name}': {code}"
                )));
            }
            _ if started.elapsed() < CREATE_TIMEOUT => {
                tracing::info!(
                    topic = name,
                    error = %code,
                    "'{name}' topic creation failed due to '{code}', retrying, {}ms remaining",
                    CREATE_TIMEOUT.saturating_sub(started.elapsed()).as_millis()
                );
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
            _ => {
                return Err(ConnectError::external(
                    format!(
                        "Timed out while checking for or creating topic(s) '{name}'. This could \
                         indicate a connectivity issue, unavailable topic partitions, or if this is \
                         your first use of the topic it may have taken too long to create. Last error: {code}"
                    ),
                    true,
                ));
            }
        }
    }
}

/// Kafka's check of an existing topic: `cleanup.policy` must be exactly `compact`.
async fn verify_compacted(
    client: &AdminClient<DefaultClientContext>,
    opts: &AdminOptions,
    spec: &TopicSpec,
) -> Result<TopicOutcome> {
    let name = spec.name.as_str();
    let policy = match client
        .describe_configs([&ResourceSpecifier::Topic(name)], opts)
        .await
    {
        Ok(results) => match results.into_iter().next() {
            Some(Ok(resource)) => resource.get("cleanup.policy").and_then(|e| e.value.clone()),
            Some(Err(code)) => {
                tracing::debug!(topic = name, error = %code, "could not describe topic configs");
                None
            }
            None => None,
        },
        Err(e) => {
            tracing::debug!(topic = name, error = %e, "could not describe topic configs");
            None
        }
    };
    let Some(policy) = policy else {
        tracing::info!(
            "Unable to use admin client to verify the cleanup policy of '{name}' topic is \
             'compact', either because the broker is an older version or because the Kafka \
             principal used for Connect internal topics does not have the required permission \
             to describe topic configurations."
        );
        return Ok(TopicOutcome::Unverified);
    };
    let mut policies: Vec<String> = policy
        .split(',')
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    policies.sort();
    policies.dedup();
    if policies.is_empty() {
        return Ok(TopicOutcome::Unverified);
    }
    if policies != ["compact"] {
        let found = policies.join(",");
        let (key, purpose) = (spec.name_key, spec.purpose);
        return Err(ConnectError::config(format!(
            "Topic '{name}' supplied via the '{key}' property is required to have \
             'cleanup.policy=compact' to guarantee consistency and durability of {purpose}, but \
             found the topic currently has 'cleanup.policy={found}'. Continuing would likely \
             result in eventually losing {purpose} and problems restarting this Connect cluster \
             in the future. Change the '{key}' property in the Connect worker configurations to \
             use a topic with 'cleanup.policy=compact'."
        )));
    }
    Ok(TopicOutcome::Existed)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    use crate::config::props;

    #[test]
    fn defaults_and_extra_topic_settings() {
        let t = InternalTopics::from_props(&props(&[
            (CONFIG_TOPIC, "c"),
            (OFFSET_TOPIC, "o"),
            (STATUS_TOPIC, "s"),
            ("config.storage.partitions", "7"),
            ("config.storage.min.insync.replicas", "2"),
            ("status.storage.cleanup.policy", "delete"),
            (OFFSET_REPLICATION_FACTOR, "-1"),
        ]))
        .unwrap();
        assert_eq!((t.config.partitions, t.config.replication_factor), (1, 3));
        assert_eq!(
            t.config.configs,
            vec![
                ("min.insync.replicas".to_owned(), "2".to_owned()),
                ("cleanup.policy".to_owned(), "compact".to_owned())
            ]
        );
        assert_eq!(
            (t.offsets.partitions, t.offsets.replication_factor),
            (25, -1)
        );
        assert_eq!((t.status.partitions, t.status.replication_factor), (5, 3));
        assert_eq!(
            t.status.configs,
            vec![("cleanup.policy".to_owned(), "compact".to_owned())]
        );
    }

    #[test]
    fn every_problem_reported() {
        let err = InternalTopics::from_props(&props(&[
            (OFFSET_TOPIC, "o"),
            (STATUS_PARTITIONS, "0"),
            (CONFIG_REPLICATION_FACTOR, "x"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(err.contains("\"config.storage.topic\""), "{err}");
        assert!(err.contains("\"status.storage.topic\""), "{err}");
        assert!(
            err.contains("Invalid value 0 for configuration status.storage.partitions"),
            "{err}"
        );
        assert!(
            err.contains("Invalid value x for configuration config.storage.replication.factor"),
            "{err}"
        );
    }
}
