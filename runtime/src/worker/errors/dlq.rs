//! The dead letter queue of a sink connector: Kafka Connect's `DeadLetterQueueReporter`.
//!
//! A skipped record is written with its original key, value, timestamp and headers (plus
//! the `__connect.errors.*` headers when enabled) to the configured topic, created with one
//! partition if missing. Writes are asynchronous; [`DeadLetterQueueReporter::flush`] waits
//! for their acknowledgements, and the sink loop commits the consumer offsets covering a
//! dead-lettered record only after it returned true. A SIGKILL before that re-consumes the
//! record, so it may reach the dead letter queue twice but is never lost.

use std::collections::VecDeque;
use std::time::Duration;

use futures::FutureExt;
use rdkafka::ClientConfig;
use rdkafka::Message;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::KafkaError;
use rdkafka::message::OwnedMessage;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;

use super::config::DeadLetterQueue;
use super::headers::dlq_headers;
use super::operator::Failure;
use crate::config::Props;
use crate::errors::{ConnectError, Result};
use crate::worker::{TaskId, WorkerContext};

/// Kafka Connect creates the dead letter queue topic with one partition.
const PARTITIONS: i32 = 1;

/// Writes failed records of one sink task to its dead letter queue topic.
pub struct DeadLetterQueueReporter {
    task: TaskId,
    config: DeadLetterQueue,
    producer: FutureProducer,
    /// Writes not yet known to be acknowledged, oldest first.
    pending: VecDeque<DeliveryFuture>,
}

impl DeadLetterQueueReporter {
    /// Creates the topic if it is missing and the producer (the worker's producer settings
    /// and the connector's `producer.override.*`, as Kafka Connect does).
    pub async fn create(
        ctx: &WorkerContext,
        task: &TaskId,
        connector: &Props,
        config: &DeadLetterQueue,
    ) -> Result<Self> {
        let mut settings = ClientConfig::new();
        for (k, v) in ctx.config.producer_settings() {
            settings.set(k, v);
        }
        let overrides = crate::config::def::with_prefix(connector, "producer.override.");
        for (k, v) in crate::config::worker::translate_client_config(&overrides) {
            settings.set(k, v);
        }
        ensure_topic(&settings, config).await?;
        settings
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("client.id", format!("connector-dlq-producer-{task}"));
        let producer: FutureProducer = settings.create().map_err(|e| {
            ConnectError::kafka(
                format!("could not create the dead letter queue producer of task {task}"),
                e,
            )
        })?;
        Ok(DeadLetterQueueReporter {
            task: task.clone(),
            config: config.clone(),
            producer,
            pending: VecDeque::new(),
        })
    }

    /// Starts writing `original` to the dead letter queue.
    pub async fn report(&mut self, original: &OwnedMessage, failure: &Failure) -> Result<()> {
        self.reap()?;
        let context = self.config.context_headers.then_some((&self.task, failure));
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&self.config.topic);
        if let Some(k) = original.key() {
            record = record.key(k);
        }
        if let Some(v) = original.payload() {
            record = record.payload(v);
        }
        if let Some(ts) = original.timestamp().to_millis() {
            record = record.timestamp(ts);
        }
        if let Some(h) = dlq_headers(original, context) {
            record = record.headers(h);
        }
        loop {
            match self.producer.send_result(record) {
                Ok(delivery) => {
                    self.pending.push_back(delivery);
                    return Ok(());
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    // The producer's queue is full: wait for deliveries to drain it.
                    record = back;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Err((e, _)) => {
                    return Err(ConnectError::kafka(
                        format!(
                            "could not write a record to the dead letter queue topic {}",
                            self.config.topic
                        ),
                        e,
                    ));
                }
            }
        }
    }

    /// Drops acknowledged writes from the head of the queue; fails on a failed one.
    fn reap(&mut self) -> Result<()> {
        while let Some(front) = self.pending.front_mut() {
            match front.now_or_never() {
                None => break,
                Some(result) => {
                    self.pending.pop_front();
                    self.check(result)?;
                }
            }
        }
        Ok(())
    }

    fn check(
        &self,
        result: std::result::Result<
            rdkafka::producer::future_producer::OwnedDeliveryResult,
            futures::channel::oneshot::Canceled,
        >,
    ) -> Result<()> {
        match result {
            Ok(Ok(_)) => Ok(()),
            // Not tolerated: the record would be lost, and its offset must not be committed.
            Ok(Err((e, _))) => Err(ConnectError::kafka(
                format!(
                    "could not write a record to the dead letter queue topic {}",
                    self.config.topic
                ),
                e,
            )),
            Err(_) => Err(ConnectError::internal(
                "the dead letter queue producer went away before acknowledging a record",
            )),
        }
    }

    /// Waits at most `timeout` for every write so far: true when all were acknowledged,
    /// false when some are still outstanding, an error when one failed.
    pub async fn flush(&mut self, timeout: Duration) -> Result<bool> {
        let deadline = tokio::time::Instant::now() + timeout;
        while let Some(front) = self.pending.front_mut() {
            match tokio::time::timeout_at(deadline, front).await {
                Err(_) => return Ok(false),
                Ok(result) => {
                    self.pending.pop_front();
                    self.check(result)?;
                }
            }
        }
        Ok(true)
    }
}

/// Creates the topic with one partition and the configured replication factor unless it
/// exists. A worker that may not create topics assumes it exists, as Kafka Connect's
/// `listTopics` check would also fail then.
async fn ensure_topic(settings: &ClientConfig, config: &DeadLetterQueue) -> Result<()> {
    let topic = config.topic.as_str();
    let admin: AdminClient<DefaultClientContext> = settings.create().map_err(|e| {
        ConnectError::kafka(
            format!("could not create an admin client for the dead letter queue topic {topic}"),
            e,
        )
    })?;
    let replication = TopicReplication::Fixed(i32::from(config.replication_factor));
    let new = NewTopic::new(topic, PARTITIONS, replication);
    let opts = AdminOptions::new()
        .request_timeout(Some(Duration::from_secs(30)))
        .operation_timeout(Some(Duration::from_secs(30)));
    let fail = |why: String| {
        ConnectError::config(format!(
            "Could not initialize dead letter queue with topic={topic}: {why}"
        ))
    };
    let code = match admin.create_topics([&new], &opts).await {
        Ok(results) => match results.into_iter().next() {
            Some(Ok(_)) => {
                tracing::info!(
                    topic,
                    replication_factor = config.replication_factor,
                    "created the dead letter queue topic"
                );
                return Ok(());
            }
            Some(Err((_, code))) => code,
            None => RDKafkaErrorCode::Unknown,
        },
        Err(e) => {
            return Err(ConnectError::kafka(
                format!("Could not initialize dead letter queue with topic={topic}"),
                e,
            ));
        }
    };
    match code {
        RDKafkaErrorCode::TopicAlreadyExists => Ok(()),
        RDKafkaErrorCode::ClusterAuthorizationFailed
        | RDKafkaErrorCode::TopicAuthorizationFailed => {
            tracing::warn!(topic, error = %code, "not allowed to create the dead letter queue topic; assuming it exists");
            Ok(())
        }
        RDKafkaErrorCode::InvalidReplicationFactor => Err(fail(format!(
            "{code} (errors.deadletterqueue.topic.replication.factor={} is more than the brokers available)",
            config.replication_factor
        ))),
        RDKafkaErrorCode::InvalidConfig
        | RDKafkaErrorCode::InvalidTopic
        | RDKafkaErrorCode::PolicyViolation => Err(fail(code.to_string())),
        other => Err(ConnectError::external(
            format!("Could not initialize dead letter queue with topic={topic}: {other}"),
            true,
        )),
    }
}
