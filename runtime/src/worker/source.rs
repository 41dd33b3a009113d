//! The source loop: `SourceTask::poll` → converters → producer; once Kafka acknowledged
//! every record of a batch (and of every batch before it), the batch's source offsets
//! become committable, and they are written to the offset store every
//! `offset.flush.interval.ms` and at shutdown.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::message::{Header as KafkaHeader, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use serde_json::Value as Json;
use tokio::sync::watch;

use super::SeenTopics;
use super::control::{TargetState, stopped};
use super::errors::{SourceErrors, Stage};
use super::{TaskId, WorkerContext, join_error};
use crate::config::Props;
use crate::connectors::{
    OffsetReader, SourceOffset, SourcePartition, SourceTask, SourceTaskContext,
};
use crate::converters::Converter;
use crate::data::SourceRecord;
use crate::errors::{ConnectError, Result};
use crate::storage::{OffsetStore, State};
use crate::transforms::{Applied, TransformChain};

/// Acknowledgement state of one polled batch.
#[derive(Default)]
struct BatchAck {
    remaining: AtomicUsize,
    error: OnceLock<String>,
    metrics: Option<crate::metrics::TaskMetrics>,
}

/// A polled batch waiting for its acknowledgements, with the last offset of each partition.
struct Pending {
    ack: Arc<BatchAck>,
    offsets: Vec<(SourcePartition, SourceOffset)>,
}

/// Routes delivery reports to the batch each record belongs to.
struct AckContext;

impl ClientContext for AckContext {}

impl ProducerContext for AckContext {
    type DeliveryOpaque = Arc<BatchAck>;

    fn delivery(&self, result: &DeliveryResult<'_>, ack: Self::DeliveryOpaque) {
        if let Err((e, msg)) = result {
            use rdkafka::Message;
            let _ = ack.error.set(format!(
                "failed to send a record to topic {}: {e}",
                msg.topic()
            ));
        } else if let Some(m) = &ack.metrics {
            m.written(1);
        }
        ack.remaining.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A connector's view of the offset store.
struct ConnectorOffsets {
    connector: String,
    store: Arc<dyn OffsetStore>,
}

impl OffsetReader for ConnectorOffsets {
    fn offset(&self, partition: &SourcePartition) -> Option<SourceOffset> {
        self.store.get(&self.connector, partition)
    }
}

fn producer(
    ctx: &WorkerContext,
    id: &TaskId,
    connector: &Props,
) -> Result<ThreadedProducer<AckContext>> {
    let mut cfg = ClientConfig::new();
    // Kafka Connect's producer defaults: no data loss, no reordering, never give up.
    cfg.set("acks", "all")
        .set("enable.idempotence", "true")
        .set("message.timeout.ms", "0")
        .set("linger.ms", "5")
        // Java's buffer.memory default (32 MiB) instead of librdkafka's 1 GiB.
        .set("queue.buffering.max.kbytes", "32768")
        // Each queued message costs a few hundred bytes beyond its payload; librdkafka's
        // default of 100,000 queued messages alone would be ~30 MiB.
        .set("queue.buffering.max.messages", "20000")
        .set("client.id", format!("connector-producer-{id}"));
    for (k, v) in ctx.config.producer_settings() {
        cfg.set(k, v);
    }
    let overrides = crate::config::def::with_prefix(connector, "producer.override.");
    for (k, v) in crate::config::worker::translate_client_config(&overrides) {
        cfg.set(k, v);
    }
    cfg.create_with_context(AckContext)
        .map_err(|e| ConnectError::kafka(format!("could not create the producer of task {id}"), e))
}

/// Runs a source task until it is stopped or fails.
pub async fn run(
    ctx: &WorkerContext,
    id: &TaskId,
    mut task: Box<dyn SourceTask>,
    connector: &Props,
    props: &Props,
    mut control: watch::Receiver<TargetState>,
) -> Result<()> {
    let key_conv = ctx.converter(connector, true)?;
    let value_conv = ctx.converter(connector, false)?;
    let errors = SourceErrors::new(ctx, id, connector)?;
    let transforms = TransformChain::from_config(&ctx.registry, connector)?;
    let producer = Arc::new(producer(ctx, id, connector)?);
    let reader = Arc::new(ConnectorOffsets {
        connector: id.connector.clone(),
        store: ctx.offsets.clone(),
    });
    task.start(props, SourceTaskContext { offsets: reader })
        .await?;
    ctx.report_started(id, &control);

    let mut runner = Runner {
        ctx,
        id,
        producer: producer.clone(),
        key_class: ctx.converter_class(connector, true),
        value_class: ctx.converter_class(connector, false),
        key_conv,
        value_conv,
        errors,
        transforms,
        pending: VecDeque::new(),
        topics: SeenTopics::default(),
        last_commit: Instant::now(),
        unwritten: Vec::new(),
        metrics: ctx.metrics.task(id),
    };
    let result = runner.run_loop(&mut *task, &mut control).await;
    // Whatever happened, commit what Kafka acknowledged, then stop the task.
    let flushed = runner.flush_producer().await;
    let committed = runner.commit(&mut *task).await;
    let stopped = task.stop().await;
    result.and(flushed).and(committed).and(stopped)
}

struct Runner<'a> {
    ctx: &'a WorkerContext,
    id: &'a TaskId,
    producer: Arc<ThreadedProducer<AckContext>>,
    key_conv: Arc<dyn Converter>,
    value_conv: Arc<dyn Converter>,
    key_class: String,
    value_class: String,
    errors: SourceErrors,
    /// `transforms=`: applied between `poll` and the converters.
    transforms: TransformChain,
    pending: VecDeque<Pending>,
    topics: SeenTopics,
    last_commit: Instant,
    /// Acknowledged offsets whose write failed; written with the next commit.
    unwritten: Vec<(SourcePartition, Option<SourceOffset>)>,
    metrics: crate::metrics::TaskMetrics,
}

impl Runner<'_> {
    async fn run_loop(
        &mut self,
        task: &mut dyn SourceTask,
        control: &mut watch::Receiver<TargetState>,
    ) -> Result<()> {
        let interval = self.ctx.config.offset_flush_interval;
        loop {
            let target = *control.borrow_and_update();
            match target {
                TargetState::Stopped => return Ok(()),
                TargetState::Paused => {
                    self.ctx.report(self.id, State::Paused, None);
                    self.commit(task).await?;
                    if control.changed().await.is_err() {
                        return Ok(());
                    }
                    if *control.borrow() == TargetState::Started {
                        self.ctx.report(self.id, State::Running, None);
                    }
                    continue;
                }
                TargetState::Started => {}
            }
            // A poll is not cancelled for a pause (tasks may keep state across polls),
            // only for a stop.
            let mut watch_stop = control.clone();
            let records = tokio::select! {
                r = task.poll() => r?,
                () = stopped(&mut watch_stop) => return Ok(()),
            };
            self.metrics.polled(records.len());
            if !records.is_empty() {
                self.send(records).await?;
            }
            self.check_failures()?;
            if self.last_commit.elapsed() >= interval {
                self.commit(task).await?;
            }
        }
    }

    /// Converts and sends a batch; its offsets become committable once all are acknowledged.
    async fn send(&mut self, records: Vec<SourceRecord>) -> Result<()> {
        let ack = Arc::new(BatchAck {
            metrics: Some(self.metrics.clone()),
            ..BatchAck::default()
        });
        ack.remaining.store(records.len(), Ordering::Release);
        let mut offsets: Vec<(SourcePartition, SourceOffset)> = Vec::new();
        for mut rec in records {
            // A record a transform drops, or fails on under errors.tolerance=all, still
            // moves its source on (as in Kafka Connect).
            match self.transforms.apply(&mut rec) {
                Ok(Applied::Kept) => {}
                Ok(Applied::Dropped) => {
                    ack.remaining.fetch_sub(1, Ordering::AcqRel);
                    note_offset(&mut offsets, rec);
                    continue;
                }
                Err(e) => {
                    // Skipped under errors.tolerance=all, else the task fails.
                    self.errors.transform_failed(e).await?;
                    ack.remaining.fetch_sub(1, Ordering::AcqRel);
                    note_offset(&mut offsets, rec);
                    continue;
                }
            }
            let topic = rec.record.topic.as_str();
            let (conv, r) = (&self.key_conv, &rec);
            let converted = self
                .errors
                .execute(
                    Stage::KeyConverter,
                    &self.key_class,
                    r,
                    move || async move {
                        conv.from_connect(topic, &r.record.headers, &r.record.key)
                            .await
                            .map_err(|e| unconvertible(e, "key", topic))
                    },
                )
                .await?;
            let conv = &self.value_conv;
            let converted = match converted {
                Some(key) => self
                    .errors
                    .execute(
                        Stage::ValueConverter,
                        &self.value_class,
                        r,
                        move || async move {
                            conv.from_connect(topic, &r.record.headers, &r.record.value)
                                .await
                                .map_err(|e| unconvertible(e, "value", topic))
                        },
                    )
                    .await?
                    .map(|value| (key, value)),
                None => None,
            };
            let Some((key, value)) = converted else {
                // Skipped (errors.tolerance=all): nothing to acknowledge, and its source
                // offset counts as processed, as in Kafka Connect.
                ack.remaining.fetch_sub(1, Ordering::AcqRel);
                note_offset(&mut offsets, rec);
                continue;
            };
            let headers = kafka_headers(&rec);
            if self.topics.first_time(topic) {
                self.ctx.status.add_topic(&self.id.connector, topic);
            }
            self.produce(
                topic,
                key.as_deref(),
                value.as_deref(),
                &rec,
                headers,
                ack.clone(),
            )
            .await?;
            note_offset(&mut offsets, rec);
        }
        self.pending.push_back(Pending { ack, offsets });
        Ok(())
    }

    async fn produce(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        rec: &SourceRecord,
        headers: Option<OwnedHeaders>,
        ack: Arc<BatchAck>,
    ) -> Result<()> {
        let mut record = BaseRecord::with_opaque_to(topic, ack);
        if let Some(k) = key {
            record = record.key(k);
        }
        if let Some(v) = value {
            record = record.payload(v);
        }
        if let Some(p) = rec.record.partition {
            record = record.partition(p);
        }
        if let Some(ts) = rec.record.timestamp {
            record = record.timestamp(ts);
        }
        if let Some(h) = headers {
            record = record.headers(h);
        }
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    // librdkafka's queue is full: wait for deliveries to drain it.
                    record = back;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Err((e, back)) => {
                    // The record never entered the queue: release its acknowledgement slot.
                    back.delivery_opaque
                        .remaining
                        .fetch_sub(1, Ordering::AcqRel);
                    return Err(ConnectError::kafka(
                        format!("could not send a record to topic {topic}"),
                        e,
                    ));
                }
            }
        }
    }

    /// Fails the task if a delivery failed.
    fn check_failures(&self) -> Result<()> {
        match self.pending.iter().find_map(|p| p.ack.error.get()) {
            Some(e) => Err(ConnectError::external(e.clone(), false)),
            None => Ok(()),
        }
    }

    /// Writes the offsets of every fully acknowledged batch at the head of the queue. A write
    /// that fails or times out (the broker is away) does not fail the task, as in Kafka
    /// Connect: the offsets are kept and written with the next commit, and until then a
    /// restart re-sends from the last written ones (at least once, never a loss).
    async fn commit(&mut self, task: &mut dyn SourceTask) -> Result<()> {
        self.last_commit = Instant::now();
        let mut merged = std::mem::take(&mut self.unwritten);
        while let Some(front) = self.pending.front() {
            if front.ack.remaining.load(Ordering::Acquire) != 0 {
                break;
            }
            if let Some(e) = front.ack.error.get() {
                return Err(ConnectError::external(e.clone(), false));
            }
            if let Some(done) = self.pending.pop_front() {
                for (p, o) in done.offsets {
                    match merged.iter_mut().find(|(mp, _)| *mp == p) {
                        Some(slot) => slot.1 = Some(o),
                        None => merged.push((p, Some(o))),
                    }
                }
            }
        }
        if merged.is_empty() {
            return Ok(());
        }
        let n = merged.len();
        let started = Instant::now();
        let written = tokio::time::timeout(
            self.ctx.config.offset_flush_timeout,
            self.ctx.offsets.put(&self.id.connector, merged.clone()),
        )
        .await;
        let error = match written {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some(format!(
                "timed out after {:?} (offset.flush.timeout.ms)",
                self.ctx.config.offset_flush_timeout
            )),
        };
        self.metrics
            .offset_commit(error.is_none(), started.elapsed());
        if let Some(error) = error {
            tracing::error!(task = %self.id, %error, partitions = n, "could not write source offsets; they will be written with the next commit");
            self.unwritten = merged;
            return Ok(());
        }
        tracing::debug!(task = %self.id, partitions = n, "committed source offsets");
        task.commit().await
    }

    /// Waits (bounded by `offset.flush.timeout.ms`) for outstanding deliveries.
    async fn flush_producer(&self) -> Result<()> {
        let producer = self.producer.clone();
        let timeout = self.ctx.config.offset_flush_timeout;
        tokio::task::spawn_blocking(move || producer.flush(timeout))
            .await
            .map_err(|e| join_error("producer flush thread failed", e))?
            .or_else(|e| {
                tracing::warn!(error = %e, "producer flush incomplete; unacknowledged records will be sent again after restart");
                Ok(())
            })
    }
}

/// Keeps the latest source offset of each source partition of a batch.
fn note_offset(offsets: &mut Vec<(SourcePartition, SourceOffset)>, rec: SourceRecord) {
    if !rec.source_partition.is_empty() || !rec.source_offset.is_empty() {
        match offsets
            .iter_mut()
            .find(|(p, _)| same_partition(p, &rec.source_partition))
        {
            Some(slot) => slot.1 = rec.source_offset,
            None => offsets.push((rec.source_partition, rec.source_offset)),
        }
    }
}

/// Equal partitions. A connector builds a partition's map with its keys in the same order
/// every time, and then comparing in order decides without `IndexMap`'s `==`, which hashes
/// every key (per record, here).
fn same_partition(a: &SourcePartition, b: &SourcePartition) -> bool {
    a.len() == b.len()
        && if a.keys().eq(b.keys()) {
            a.values().eq(b.values())
        } else {
            a == b
        }
}

/// A conversion error naming the topic; a retriable error stays retriable.
fn unconvertible(e: ConnectError, what: &str, topic: &str) -> ConnectError {
    let message = format!("could not convert the {what} of a record for topic {topic}: {e}");
    if e.retriable() {
        ConnectError::external(message, true)
    } else {
        ConnectError::data(message)
    }
}

/// Headers with string or bytes values pass through as their bytes.
fn kafka_headers(rec: &SourceRecord) -> Option<OwnedHeaders> {
    if rec.record.headers.is_empty() {
        return None;
    }
    let mut h = OwnedHeaders::new_with_capacity(rec.record.headers.len());
    for header in &rec.record.headers {
        let bytes: Option<Vec<u8>> = match &header.value.value {
            crate::data::Value::Null => None,
            crate::data::Value::Bytes(b) => Some(b.to_vec()),
            other => Some(other.to_string().into_bytes()),
        };
        h = h.insert(KafkaHeader {
            key: &header.key,
            value: bytes.as_deref(),
        });
    }
    Some(h)
}

/// The JSON shape of a source offset entry for the REST API.
pub fn offset_entry(partition: &SourcePartition, offset: &SourceOffset) -> Json {
    serde_json::json!({ "partition": partition, "offset": offset })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn map(json: &str) -> SourcePartition {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn partitions_are_equal_whatever_the_order_of_their_keys() {
        let a = map(r#"{"protocol":"1","table":"db.t"}"#);
        assert!(same_partition(
            &a,
            &map(r#"{"protocol":"1","table":"db.t"}"#)
        ));
        assert!(same_partition(
            &a,
            &map(r#"{"table":"db.t","protocol":"1"}"#)
        ));
        assert!(!same_partition(
            &a,
            &map(r#"{"protocol":"1","table":"db.u"}"#)
        ));
        assert!(!same_partition(
            &a,
            &map(r#"{"table":"db.u","protocol":"1"}"#)
        ));
        assert!(!same_partition(&a, &map(r#"{"protocol":"1"}"#)));
        assert!(!same_partition(
            &a,
            &map(r#"{"protocol":"1","query":"db.t"}"#)
        ));
    }

    #[test]
    fn a_batch_keeps_the_last_offset_of_each_partition() {
        let rec = |p: &str, o: i64| SourceRecord {
            source_partition: map(p),
            source_offset: map(&format!(r#"{{"position":{o}}}"#)),
            ..SourceRecord::default()
        };
        let mut offsets = Vec::new();
        note_offset(&mut offsets, rec(r#"{"a":1,"b":2}"#, 1));
        note_offset(&mut offsets, rec(r#"{"c":3}"#, 2));
        note_offset(&mut offsets, rec(r#"{"b":2,"a":1}"#, 3));
        note_offset(&mut offsets, SourceRecord::default());
        assert_eq!(
            offsets,
            vec![
                (map(r#"{"a":1,"b":2}"#), map(r#"{"position":3}"#)),
                (map(r#"{"c":3}"#), map(r#"{"position":2}"#)),
            ]
        );
    }
}
