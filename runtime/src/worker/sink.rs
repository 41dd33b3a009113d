//! The sink loop: consumer → converters → `SinkTask::put`; every
//! `offset.flush.interval.ms` and at shutdown, `SinkTask::pre_commit` makes the data durable
//! and only then are the consumer offsets (group `connect-NAME`) committed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::FutureExt;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::message::{Headers, Message, OwnedMessage};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tokio::sync::watch;

use super::SeenTopics;
use super::control::TargetState;
use super::errors::{SinkErrors, Stage};
use super::{TaskId, WorkerContext};
use crate::config::Props;
use crate::config::connector::{TOPICS, TOPICS_REGEX};
use crate::connectors::{Offsets, SinkTask, TopicPartition};
use crate::converters::Converter;
use crate::data::{
    ConnectRecord, Header, Schema, SchemaAndValue, SinkRecord, TimestampType, Value,
};
use crate::errors::{ConnectError, Result};
use crate::storage::State;
use crate::transforms::{Applied, TransformChain};

/// The consumer group of a sink connector, as Kafka Connect names it.
pub fn group_id(connector: &str) -> String {
    format!("connect-{connector}")
}

/// Notes partitions taken away by a rebalance, so their offsets are not committed by us, and
/// pauses partitions assigned while the task is paused.
#[derive(Default)]
struct RebalanceContext {
    revoked: Mutex<Vec<TopicPartition>>,
    paused: AtomicBool,
}

impl ClientContext for RebalanceContext {}

impl ConsumerContext for RebalanceContext {
    fn post_rebalance(
        &self,
        base: &rdkafka::consumer::BaseConsumer<Self>,
        rebalance: &Rebalance<'_>,
    ) {
        // A paused task consumes nothing, also from partitions it gets while paused (as
        // Kafka Connect's WorkerSinkTask pauses them in onPartitionsAssigned).
        if let Rebalance::Assign(tpl) = rebalance
            && self.paused.load(Ordering::Acquire)
            && let Err(e) = base.pause(tpl)
        {
            tracing::error!(error = %e, "could not pause the partitions assigned to a paused sink task");
        }
    }

    fn pre_rebalance(
        &self,
        _base: &rdkafka::consumer::BaseConsumer<Self>,
        rebalance: &Rebalance<'_>,
    ) {
        if let Rebalance::Revoke(tpl) = rebalance
            && let Ok(mut revoked) = self.revoked.lock()
        {
            for e in tpl.elements() {
                revoked.push(TopicPartition {
                    topic: e.topic().to_owned(),
                    partition: e.partition(),
                });
            }
        }
    }
}

type SinkConsumer = StreamConsumer<RebalanceContext>;

fn consumer(ctx: &WorkerContext, id: &TaskId, connector: &Props) -> Result<SinkConsumer> {
    let mut cfg = ClientConfig::new();
    cfg.set("group.id", group_id(&id.connector))
        .set("client.id", format!("connector-consumer-{id}"))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false")
        // librdkafka prefetches up to 64 MiB per partition by default; memory should stay
        // small and bounded whatever the backlog (overridable with consumer.* settings).
        .set("queued.max.messages.kbytes", "8192")
        // Each queued message costs a few hundred bytes beyond its payload: 100,000 of them
        // (librdkafka's default) is ~40 MiB. With a smaller queue the fetcher must top it up
        // promptly instead of after its default one-second backoff.
        .set("queued.min.messages", "10000")
        .set("fetch.queue.backoff.ms", "10");
    for (k, v) in ctx.config.consumer_settings() {
        cfg.set(k, v);
    }
    let overrides = crate::config::def::with_prefix(connector, "consumer.override.");
    for (k, v) in crate::config::worker::translate_client_config(&overrides) {
        cfg.set(k, v);
    }
    cfg.create_with_context(RebalanceContext::default())
        .map_err(|e| ConnectError::kafka(format!("could not create the consumer of task {id}"), e))
}

/// `consumer.max.poll.records`: the most records handed to one `put`.
fn max_batch(ctx: &WorkerContext, connector: &Props) -> usize {
    connector
        .get("consumer.override.max.poll.records")
        .or_else(|| ctx.config.originals.get("consumer.max.poll.records"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(500)
}

/// Runs a sink task until it is stopped or fails.
pub async fn run(
    ctx: &WorkerContext,
    id: &TaskId,
    mut task: Box<dyn SinkTask>,
    connector: &Props,
    props: &Props,
    mut control: watch::Receiver<TargetState>,
) -> Result<()> {
    let key_conv = ctx.converter(connector, true)?;
    let value_conv = ctx.converter(connector, false)?;
    let errors = SinkErrors::new(ctx, id, connector).await?;
    let transforms = TransformChain::from_config(&ctx.registry, connector)?;
    let consumer = Arc::new(consumer(ctx, id, connector)?);
    let topics: Vec<String> = props
        .get(TOPICS)
        .map(|t| {
            t.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let regex = props
        .get(TOPICS_REGEX)
        .map(|r| r.trim())
        .filter(|r| !r.is_empty());
    let subscription: Vec<String> = match regex {
        // librdkafka treats a subscription starting with ^ as a regular expression.
        Some(r) if topics.is_empty() => vec![if r.starts_with('^') {
            r.to_owned()
        } else {
            format!("^{r}")
        }],
        _ => topics,
    };
    if subscription.is_empty() {
        return Err(ConnectError::config(
            "Must configure one of topics or topics.regex",
        ));
    }
    let refs: Vec<&str> = subscription.iter().map(String::as_str).collect();
    consumer.subscribe(&refs).map_err(|e| {
        ConnectError::kafka(
            format!("could not subscribe to {}", subscription.join(",")),
            e,
        )
    })?;
    let (status_ctx, status_id) = (ctx.clone(), id.clone());
    task.set_retry_reporter(Arc::new(move |why| {
        // Only a RUNNING task's trace changes: never override PAUSED, FAILED or STOPPED.
        let running = status_ctx
            .status
            .task(&status_id.connector, status_id.task)
            .is_some_and(|s| s.state == State::Running);
        if running {
            status_ctx.report(&status_id, State::Running, why);
        }
    }));
    task.start(props).await?;
    ctx.report_started(id, &control);
    let metrics = ctx.metrics.task(id);
    let _lag = super::lag::spawn(consumer.clone(), metrics.clone(), super::lag::INTERVAL);

    let mut runner = Runner {
        ctx,
        id,
        consumer,
        key_class: ctx.converter_class(connector, true),
        value_class: ctx.converter_class(connector, false),
        key_conv,
        value_conv,
        errors,
        transforms,
        offsets: Offsets::new(),
        topics: SeenTopics::default(),
        max_batch: max_batch(ctx, connector),
        metrics,
    };
    let result = runner.run_loop(&mut *task, &mut control).await;
    let committed = if result.is_ok() {
        runner.commit(&mut *task, CommitMode::Sync).await
    } else {
        Ok(())
    };
    let stopped = task.stop().await;
    result.and(committed).and(stopped)
}

struct Runner<'a> {
    ctx: &'a WorkerContext,
    id: &'a TaskId,
    consumer: Arc<SinkConsumer>,
    key_conv: Arc<dyn Converter>,
    value_conv: Arc<dyn Converter>,
    key_class: String,
    value_class: String,
    errors: SinkErrors,
    /// `transforms=`: applied between the converters and `put`.
    transforms: TransformChain,
    /// The next offset to consume for every partition whose records were `put` or skipped.
    offsets: Offsets,
    topics: SeenTopics,
    max_batch: usize,
    metrics: crate::metrics::TaskMetrics,
}

impl Runner<'_> {
    async fn run_loop(
        &mut self,
        task: &mut dyn SinkTask,
        control: &mut watch::Receiver<TargetState>,
    ) -> Result<()> {
        let interval = self.ctx.config.offset_flush_interval;
        let mut last_commit = Instant::now();
        let mut paused = false;
        loop {
            let target = *control.borrow_and_update();
            match target {
                TargetState::Stopped => return Ok(()),
                TargetState::Paused if !paused => {
                    self.set_paused(true)?;
                    paused = true;
                    self.ctx.report(self.id, State::Paused, None);
                }
                TargetState::Started if paused => {
                    self.set_paused(false)?;
                    paused = false;
                    self.ctx.report(self.id, State::Running, None);
                }
                _ => {}
            }
            let until_commit = interval.saturating_sub(last_commit.elapsed());
            tokio::select! {
                m = self.consumer.recv() => {
                    let first = match m {
                        Ok(m) => m.detach(),
                        Err(e) => {
                            consume_error(self.id, e)?;
                            continue;
                        }
                    };
                    let mut batch = vec![first];
                    // Drain what is already here, up to max.poll.records, into one put.
                    while batch.len() < self.max_batch {
                        match self.consumer.recv().now_or_never() {
                            Some(Ok(m)) => batch.push(m.detach()),
                            Some(Err(e)) => {
                                consume_error(self.id, e)?;
                                break;
                            }
                            None => break,
                        }
                    }
                    self.drop_revoked();
                    self.deliver(task, batch).await?;
                }
                changed = control.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                }
                () = tokio::time::sleep(until_commit) => {}
            }
            if last_commit.elapsed() >= interval {
                self.drop_revoked();
                self.commit(task, CommitMode::Async).await?;
                last_commit = Instant::now();
            }
        }
    }

    fn set_paused(&self, pause: bool) -> Result<()> {
        self.consumer
            .context()
            .paused
            .store(pause, Ordering::Release);
        let assignment = self
            .consumer
            .assignment()
            .map_err(|e| ConnectError::kafka("could not read the assignment", e))?;
        let r = if pause {
            self.consumer.pause(&assignment)
        } else {
            self.consumer.resume(&assignment)
        };
        r.map_err(|e| ConnectError::kafka("could not pause or resume consumption", e))
    }

    fn drop_revoked(&mut self) {
        let revoked: Vec<TopicPartition> = match self.consumer.context().revoked.lock() {
            Ok(mut r) => std::mem::take(&mut *r),
            Err(_) => Vec::new(),
        };
        for tp in revoked {
            self.offsets.remove(&tp);
        }
    }

    async fn deliver(&mut self, task: &mut dyn SinkTask, batch: Vec<OwnedMessage>) -> Result<()> {
        self.metrics.read(batch.len());
        let n = batch.len();
        let mut records = Vec::with_capacity(batch.len());
        for m in batch {
            let topic = m.topic().to_owned();
            let headers = headers_of(&m);
            // A skipped record is done with once reported: the commit that covers it waits
            // for its dead letter queue write (`commit`).
            self.offsets.insert(
                TopicPartition {
                    topic: topic.clone(),
                    partition: m.partition(),
                },
                m.offset() + 1,
            );
            let (conv, t, h, msg) = (&self.key_conv, topic.as_str(), &headers, &m);
            let converted = self
                .errors
                .execute(
                    Stage::KeyConverter,
                    &self.key_class,
                    msg,
                    move || async move {
                        conv.to_connect(t, h, msg.key())
                            .await
                            .map_err(|e| located(e, "key", msg))
                    },
                )
                .await?;
            let Some(key) = converted else { continue };
            let conv = &self.value_conv;
            let converted = self
                .errors
                .execute(
                    Stage::ValueConverter,
                    &self.value_class,
                    msg,
                    move || async move {
                        conv.to_connect(t, h, msg.payload())
                            .await
                            .map_err(|e| located(e, "value", msg))
                    },
                )
                .await?;
            let Some(value) = converted else { continue };
            if self.topics.first_time(&topic) {
                self.ctx.status.add_topic(&self.id.connector, &topic);
            }
            let (timestamp_type, timestamp) = match m.timestamp() {
                rdkafka::Timestamp::NotAvailable => (TimestampType::NoTimestampType, None),
                rdkafka::Timestamp::CreateTime(t) => (TimestampType::CreateTime, Some(t)),
                rdkafka::Timestamp::LogAppendTime(t) => (TimestampType::LogAppendTime, Some(t)),
            };
            // A record a transform drops is skipped; its offset above still counts.
            let mut record = SinkRecord {
                record: ConnectRecord {
                    topic,
                    partition: Some(m.partition()),
                    key,
                    value,
                    timestamp,
                    headers,
                },
                kafka_offset: m.offset(),
                timestamp_type,
                original_key: m.key().map(bytes::Bytes::copy_from_slice),
                original_value: m.payload().map(bytes::Bytes::copy_from_slice),
            };
            match self.transforms.apply(&mut record) {
                Ok(Applied::Kept) => records.push(record),
                Ok(Applied::Dropped) => {}
                // Tolerated (skipped, dead-lettered) or the task fails.
                Err(e) => self.errors.transform_failed(&m, e).await?,
            }
        }
        task.put(records).await?;
        self.metrics.put(n);
        Ok(())
    }

    /// Lets the task make its data durable, then commits what it says is safe.
    async fn commit(&mut self, task: &mut dyn SinkTask, mode: CommitMode) -> Result<()> {
        if self.offsets.is_empty() {
            return Ok(());
        }
        let timeout = self.ctx.config.offset_flush_timeout;
        if !self.errors.flush(timeout).await? {
            tracing::warn!(task = %self.id, ?timeout, "dead letter queue writes not yet acknowledged; offsets will be committed later");
            return Ok(());
        }
        let safe = task.pre_commit(&self.offsets).await?;
        let mut tpl = TopicPartitionList::new();
        for (tp, off) in &safe {
            tpl.add_partition_offset(&tp.topic, tp.partition, Offset::Offset(*off))
                .map_err(|e| ConnectError::kafka("could not build the offset list", e))?;
        }
        if tpl.count() == 0 {
            return Ok(());
        }
        let started = Instant::now();
        let result = match mode {
            // A synchronous commit waits on the network: keep it off the async threads.
            CommitMode::Sync => tokio::task::block_in_place(|| self.consumer.commit(&tpl, mode)),
            CommitMode::Async => self.consumer.commit(&tpl, mode),
        };
        self.metrics
            .offset_commit(result.is_ok(), started.elapsed());
        match result {
            Ok(()) => {
                tracing::debug!(task = %self.id, partitions = tpl.count(), "committed sink offsets");
                let committed: HashMap<_, _> = safe.into_iter().collect();
                self.offsets
                    .retain(|tp, off| committed.get(tp) != Some(off));
                Ok(())
            }
            Err(e) => {
                // Not fatal: the records are durable and will be committed next time.
                tracing::warn!(task = %self.id, error = %e, "offset commit failed; will retry");
                Ok(())
            }
        }
    }
}

/// Consumer errors librdkafka recovers from (a topic not created yet, a broker
/// restarting) are logged; only fatal ones fail the task.
fn consume_error(id: &TaskId, e: rdkafka::error::KafkaError) -> Result<()> {
    use rdkafka::error::KafkaError;
    use rdkafka::types::RDKafkaErrorCode as Code;
    match &e {
        KafkaError::MessageConsumptionFatal(_) => {
            Err(ConnectError::kafka("fatal consumer error", e))
        }
        KafkaError::MessageConsumption(
            Code::TopicAuthorizationFailed | Code::GroupAuthorizationFailed,
        ) => Err(ConnectError::kafka("not authorized to consume", e)),
        _ => {
            tracing::warn!(task = %id, error = %e, "consumer error; retrying");
            Ok(())
        }
    }
}

/// The error with the record's position; a retriable error stays retriable.
fn located(e: ConnectError, what: &str, m: &OwnedMessage) -> ConnectError {
    let message = format!(
        "could not convert the {what} of the record at {}-{} offset {}: {e}",
        m.topic(),
        m.partition(),
        m.offset()
    );
    if e.retriable() {
        ConnectError::external(message, true)
    } else {
        ConnectError::data(message)
    }
}

/// Kafka headers as Connect headers with optional-bytes schemas.
fn headers_of(m: &OwnedMessage) -> Vec<Header> {
    match m.headers() {
        None => Vec::new(),
        Some(hs) => hs
            .iter()
            .map(|h| Header {
                key: h.key.to_owned(),
                value: SchemaAndValue::new(
                    Some(Schema::optional_bytes()),
                    h.value
                        .map(|v| Value::Bytes(bytes::Bytes::copy_from_slice(v)))
                        .unwrap_or(Value::Null),
                ),
            })
            .collect(),
    }
}
