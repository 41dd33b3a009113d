//! Reading and changing a connector's committed offsets (`/connectors/{name}/offsets`):
//! source offsets in the offset store, sink offsets in the consumer group `connect-NAME`.

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value as Json;

use super::HerderError;
use crate::config::Props;
use crate::config::connector::{TOPICS, TOPICS_REGEX};
use crate::connectors::{ConnectorType, SourceOffset, SourcePartition};
use crate::rest::api::{ConnectorOffset, ConnectorOffsets, Message};
use crate::worker::{self, WorkerContext};

/// A consumer in a sink connector's group that never subscribes: used to read and
/// write the group's committed offsets while the connector is stopped.
pub(super) fn group_consumer(
    ctx: &WorkerContext,
    connector: &str,
) -> Result<BaseConsumer, HerderError> {
    let mut cfg = rdkafka::ClientConfig::new();
    for (k, v) in ctx.config.consumer_settings() {
        cfg.set(k, v);
    }
    cfg.set("group.id", worker::sink::group_id(connector))
        .set("enable.auto.commit", "false");
    cfg.create().map_err(|e| {
        HerderError::Internal(format!(
            "could not create a consumer for group connect-{connector}: {e}"
        ))
    })
}

const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

fn partitions_of(
    consumer: &BaseConsumer,
    config: &Props,
) -> Result<TopicPartitionList, HerderError> {
    let md = consumer
        .fetch_metadata(None, ADMIN_TIMEOUT)
        .map_err(|e| HerderError::Internal(format!("could not read topic metadata: {e}")))?;
    let topics: Vec<String> = config
        .get(TOPICS)
        .map(|t| {
            t.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let regex = config
        .get(TOPICS_REGEX)
        .filter(|r| !r.trim().is_empty())
        .and_then(|r| regex::Regex::new(&format!("^(?:{})$", r.trim())).ok());
    let mut tpl = TopicPartitionList::new();
    for t in md.topics() {
        let wanted = topics.iter().any(|x| x == t.name())
            || regex.as_ref().is_some_and(|r| r.is_match(t.name()));
        if wanted {
            for p in t.partitions() {
                tpl.add_partition(t.name(), p.id());
            }
        }
    }
    Ok(tpl)
}

async fn sink_offsets(
    ctx: &WorkerContext,
    name: &str,
    config: &Props,
) -> Result<ConnectorOffsets, HerderError> {
    let consumer = group_consumer(ctx, name)?;
    let config = config.clone();
    tokio::task::spawn_blocking(move || {
        let tpl = partitions_of(&consumer, &config)?;
        let committed = consumer
            .committed_offsets(tpl, ADMIN_TIMEOUT)
            .map_err(|e| HerderError::Internal(format!("could not read committed offsets: {e}")))?;
        let offsets = committed
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) => Some(ConnectorOffset {
                    partition: serde_json::json!({"kafka_topic": e.topic(), "kafka_partition": e.partition()})
                        .as_object()
                        .cloned(),
                    offset: serde_json::json!({ "kafka_offset": o }).as_object().cloned(),
                }),
                _ => None,
            })
            .collect();
        Ok(ConnectorOffsets { offsets })
    })
    .await
    .map_err(|e| HerderError::Internal(format!("offset reader failed: {e}")))?
}

async fn alter_sink_offsets(
    ctx: &WorkerContext,
    name: &str,
    offsets: Option<ConnectorOffsets>,
) -> Result<(), HerderError> {
    let Some(offsets) = offsets else {
        // Reset: drop the consumer group; the next start reads from the beginning.
        let admin: rdkafka::admin::AdminClient<rdkafka::client::DefaultClientContext> = {
            let mut cfg = rdkafka::ClientConfig::new();
            for (k, v) in ctx.config.consumer_settings() {
                cfg.set(k, v);
            }
            cfg.create().map_err(|e| {
                HerderError::Internal(format!("could not create an admin client: {e}"))
            })?
        };
        let group = worker::sink::group_id(name);
        let results = admin
            .delete_groups(&[&group], &rdkafka::admin::AdminOptions::new())
            .await
            .map_err(|e| {
                HerderError::Internal(format!("could not delete consumer group {group}: {e}"))
            })?;
        for r in results {
            if let Err((g, code)) = r
                && code != rdkafka::types::RDKafkaErrorCode::GroupIdNotFound
            {
                return Err(HerderError::Internal(format!(
                    "could not delete consumer group {g}: {code}"
                )));
            }
        }
        return Ok(());
    };
    let mut tpl = TopicPartitionList::new();
    for e in offsets.offsets {
        let p = e
            .partition
            .ok_or_else(|| HerderError::BadRequest("Partition objects cannot be null".into()))?;
        let topic = p.get("kafka_topic").and_then(Json::as_str).ok_or_else(|| {
            HerderError::BadRequest(format!(
                "Kafka topic field must be a string in partition {}",
                Json::Object(p.clone())
            ))
        })?;
        let partition = p
            .get("kafka_partition")
            .and_then(Json::as_i64)
            .and_then(|v| i32::try_from(v).ok())
            .ok_or_else(|| {
                HerderError::BadRequest(format!(
                    "Kafka partition field must be an integer in partition {}",
                    Json::Object(p.clone())
                ))
            })?;
        let offset = match e.offset {
            None => {
                return Err(HerderError::BadRequest(
                    "Resetting a single sink partition (a null offset) is not supported yet; use DELETE /connectors/{name}/offsets".into(),
                ));
            }
            Some(o) => o
                .get("kafka_offset")
                .and_then(Json::as_i64)
                .ok_or_else(|| {
                    HerderError::BadRequest(format!(
                        "Kafka offset field must be an integer in offset {}",
                        Json::Object(o.clone())
                    ))
                })?,
        };
        tpl.add_partition_offset(topic, partition, Offset::Offset(offset))
            .map_err(|e| {
                HerderError::BadRequest(format!("invalid offset for {topic}-{partition}: {e}"))
            })?;
    }
    let consumer = group_consumer(ctx, name)?;
    tokio::task::spawn_blocking(move || consumer.commit(&tpl, CommitMode::Sync))
        .await
        .map_err(|e| HerderError::Internal(format!("offset writer failed: {e}")))?
        .map_err(|e| HerderError::Internal(format!("could not commit offsets: {e}")))
}

/// Changes (`Some`) or resets (`None`) a stopped connector's offsets; the caller checks
/// that it is STOPPED.
pub(super) async fn alter_offsets(
    ctx: &WorkerContext,
    name: &str,
    ty: ConnectorType,
    offsets: Option<ConnectorOffsets>,
) -> Result<Message, HerderError> {
    let reset = offsets.is_none();
    match ty {
        ConnectorType::Source => {
            let changes: Vec<(SourcePartition, Option<SourceOffset>)> = match offsets {
                Some(o) => o
                    .offsets
                    .into_iter()
                    .map(|e| {
                        e.partition.map(|p| (p, e.offset)).ok_or_else(|| {
                            HerderError::BadRequest("Partition objects cannot be null".into())
                        })
                    })
                    .collect::<Result<_, _>>()?,
                None => ctx
                    .offsets
                    .connector_offsets(name)
                    .into_iter()
                    .map(|(p, _)| (p, None))
                    .collect(),
            };
            ctx.offsets.put(name, changes).await?;
        }
        ConnectorType::Sink => alter_sink_offsets(ctx, name, offsets).await?,
    }
    Ok(Message {
        message: if reset {
            "The offsets for this connector have been reset successfully".into()
        } else {
            "The offsets for this connector have been altered successfully".into()
        },
    })
}

/// `GET /connectors/{name}/offsets` for a connector of type `ty`.
pub(super) async fn connector_offsets(
    ctx: &WorkerContext,
    name: &str,
    ty: ConnectorType,
    config: &Props,
) -> Result<ConnectorOffsets, HerderError> {
    match ty {
        ConnectorType::Source => Ok(ConnectorOffsets {
            offsets: ctx
                .offsets
                .connector_offsets(name)
                .into_iter()
                .map(|(p, o)| ConnectorOffset {
                    partition: Some(p),
                    offset: Some(o),
                })
                .collect(),
        }),
        ConnectorType::Sink => sink_offsets(ctx, name, config).await,
    }
}
