//! A compacted Kafka topic used as a replicated log: Kafka Connect's `KafkaBasedLog`.
//!
//! Every worker reads the whole topic from the beginning with a consumer assigned to
//! all partitions (it never joins a consumer group: each worker needs every record),
//! applies each record through a callback, and keeps tailing it. Writes go through one
//! producer. The consumer reads committed records only (librdkafka's default), as Kafka
//! Connect does when exactly-once support writes the topics in transactions.
//! Before a worker acts on what it read (joins the group, takes a leader decision,
//! serves an offset), it calls [`KafkaBasedLog::read_to_end`]: fetch the end offsets,
//! then wait until the callback has applied everything before them.
//!
//! Positions are tracked per partition as "next offset applied". They advance on every
//! record and, at each end-of-partition event, to the consumer's own position, which
//! librdkafka moves past transaction markers that are never delivered (a config or
//! offsets topic written by an exactly-once Java worker ends with such markers; without
//! this a read-to-end would wait forever).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::consumer::{Consumer, ConsumerContext, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::errors::{ConnectError, Result};

/// How long start-up waits for a (possibly just created) topic's metadata, like Java.
const TOPIC_METADATA_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on each metadata / list-offsets request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The log's consumer reads to the end of each partition over and over, so end-of-partition
/// events are routine; librdkafka's default context would log each one as an error.
pub struct LogContext;

impl rdkafka::ClientContext for LogContext {
    fn error(&self, error: KafkaError, reason: &str) {
        if !matches!(
            error,
            KafkaError::PartitionEOF(_)
                | KafkaError::Global(rdkafka::types::RDKafkaErrorCode::PartitionEOF)
        ) {
            tracing::error!(%error, reason, "Kafka client error");
        }
    }
}

impl ConsumerContext for LogContext {}

type LogConsumer = StreamConsumer<LogContext>;

/// One record read from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub key: Option<Vec<u8>>,
    /// `None` is a tombstone.
    pub value: Option<Vec<u8>>,
    pub partition: i32,
    pub offset: i64,
}

/// Called once per record, in log order per partition, on the log's reader task.
/// It must not block: it runs between polls of the consumer.
pub type RecordHandler = Box<dyn FnMut(LogRecord) + Send + 'static>;

/// Where a write landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteAck {
    pub partition: i32,
    pub offset: i64,
}

/// What a log needs to connect: librdkafka settings for its clients (the worker's,
/// so security settings apply) and the client id Kafka Connect would use.
#[derive(Debug, Clone)]
pub struct LogSettings {
    pub topic: String,
    pub producer: Vec<(String, String)>,
    pub consumer: Vec<(String, String)>,
    pub client_id: String,
    /// librdkafka only allows manual assignment with a group id. Like Kafka Connect,
    /// the worker's group id is used (the consumer never joins or commits), so no
    /// extra group ACL is needed.
    pub group_id: String,
}

type Positions = BTreeMap<i32, i64>;

/// A running log: a producer, and a reader task applying records to a callback.
pub struct KafkaBasedLog {
    topic: String,
    producer: FutureProducer,
    consumer: Arc<LogConsumer>,
    partitions: Vec<i32>,
    applied: watch::Receiver<Positions>,
    stop: watch::Sender<bool>,
    reader: Mutex<Option<JoinHandle<()>>>,
    /// End offsets the initial read went to: records before them existed at start.
    start_ends: BTreeMap<i32, i64>,
}

impl std::fmt::Debug for KafkaBasedLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaBasedLog")
            .field("topic", &self.topic)
            .field("partitions", &self.partitions.len())
            .finish()
    }
}

/// Settings a log's producer always gets: every write acknowledged by all in-sync
/// replicas, no duplicates or reordering on retry, and Java's partitioner, so a key
/// lands on the partition a Java worker would pick (compaction only replaces a record
/// by a later one with the same key on the same partition).
fn producer_config(settings: &LogSettings) -> ClientConfig {
    let mut c = ClientConfig::new();
    for (k, v) in &settings.producer {
        // A transactional id would make every write wait for a transaction.
        if k != "transactional.id" {
            c.set(k, v);
        }
    }
    c.set("client.id", &settings.client_id)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("partitioner", "murmur2_random");
    c
}

/// Settings a log's consumer always gets: assigned every partition rather than joining
/// a group (every worker reads everything), nothing committed, start from the
/// beginning, and end-of-partition events.
fn consumer_config(settings: &LogSettings) -> ClientConfig {
    let mut c = ClientConfig::new();
    for (k, v) in &settings.consumer {
        if !matches!(
            k.as_str(),
            "group.id" | "group.instance.id" | "partition.assignment.strategy"
        ) {
            c.set(k, v);
        }
    }
    c.set("client.id", &settings.client_id)
        .set("group.id", &settings.group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "true");
    c
}

fn kafka(context: impl Into<String>) -> impl FnOnce(KafkaError) -> ConnectError {
    let context = context.into();
    move |e| ConnectError::kafka(context, e)
}

async fn blocking<T: Send + 'static>(
    what: &'static str,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ConnectError::internal(format!("{what} failed: {e}")))?
}

impl KafkaBasedLog {
    /// Creates the clients, assigns every partition of the topic from the beginning,
    /// reads to the end (so `handler` has seen everything that existed at start) and
    /// keeps tailing in a background task. The topic must exist (see `topics.rs`).
    pub async fn start(settings: LogSettings, handler: RecordHandler) -> Result<Self> {
        let topic = settings.topic.clone();
        let producer: FutureProducer = producer_config(&settings).create().map_err(kafka(
            format!("could not create the producer for topic {topic}"),
        ))?;
        let consumer: LogConsumer = consumer_config(&settings)
            .create_with_context(LogContext)
            .map_err(kafka(format!(
                "could not create the consumer for topic {topic}"
            )))?;
        let consumer = Arc::new(consumer);

        let (partitions, low) = {
            let consumer = consumer.clone();
            let topic = topic.clone();
            blocking("reading topic metadata", move || {
                discover_partitions(&consumer, &topic)
            })
            .await?
        };

        let mut tpl = TopicPartitionList::new();
        for p in &partitions {
            tpl.add_partition_offset(&topic, *p, Offset::Beginning)
                .map_err(kafka(format!("could not assign {topic}")))?;
        }
        consumer
            .assign(&tpl)
            .map_err(kafka(format!("could not assign {topic}")))?;

        let (applied_tx, applied) = watch::channel(low);
        let (stop, stop_rx) = watch::channel(false);
        let reader = tokio::spawn(read_loop(
            consumer.clone(),
            topic.clone(),
            handler,
            applied_tx,
            stop_rx,
        ));
        let mut log = KafkaBasedLog {
            topic,
            producer,
            consumer,
            partitions,
            applied,
            stop,
            reader: Mutex::new(Some(reader)),
            start_ends: BTreeMap::new(),
        };
        let ends = log.end_offsets().await?;
        log.wait_applied(&ends).await?;
        log.start_ends = ends;
        tracing::info!(topic = %log.topic, partitions = log.partitions.len(), "finished reading KafkaBasedLog");
        Ok(log)
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The end offsets the initial read (in [`start`](Self::start)) went to.
    pub fn start_end_offsets(&self) -> &BTreeMap<i32, i64> {
        &self.start_ends
    }

    /// The number of partitions the topic had at start.
    pub fn partition_count(&self) -> usize {
        self.partitions.len()
    }

    /// Enqueues a write and returns a future of its acknowledgement. The record is
    /// handed to the producer before this returns, so writes keep the order of calls
    /// even if their futures are awaited later. `value: None` writes a tombstone.
    pub fn send(
        &self,
        key: &[u8],
        value: Option<&[u8]>,
    ) -> impl std::future::Future<Output = Result<WriteAck>> + Send + use<> {
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&self.topic).key(key);
        if let Some(v) = value {
            record = record.payload(v);
        }
        let topic = self.topic.clone();
        let first = self.producer.send_result(record).map_err(|(e, _)| e);
        // Only a full local queue is worth a retry. It needs 100k writes waiting for
        // the broker, and only then can a write retried here land after one queued
        // later; every other write is in the queue, in call order, when this returns.
        let retry = match &first {
            Err(KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull)) => Some((
                self.producer.clone(),
                key.to_vec(),
                value.map(<[u8]>::to_vec),
            )),
            _ => None,
        };
        async move {
            let delivery = match (first, retry) {
                (Ok(d), _) => d,
                (Err(_), Some((producer, key, value))) => {
                    let mut record: FutureRecord<'_, [u8], [u8]> =
                        FutureRecord::to(&topic).key(&key[..]);
                    if let Some(v) = &value {
                        record = record.payload(&v[..]);
                    }
                    // `send` waits for room in the queue, then for the acknowledgement.
                    let d = producer
                        .send(record, rdkafka::util::Timeout::Never)
                        .await
                        .map_err(|(e, _)| {
                            ConnectError::kafka(format!("could not write to topic {topic}"), e)
                        })?;
                    return Ok(WriteAck {
                        partition: d.partition,
                        offset: d.offset,
                    });
                }
                (Err(e), None) => {
                    return Err(ConnectError::kafka(
                        format!("could not write to topic {topic}"),
                        e,
                    ));
                }
            };
            match delivery.await {
                Ok(Ok(d)) => Ok(WriteAck {
                    partition: d.partition,
                    offset: d.offset,
                }),
                Ok(Err((e, _))) => Err(ConnectError::kafka(
                    format!("could not write to topic {topic}"),
                    e,
                )),
                Err(_) => Err(ConnectError::internal(format!(
                    "the producer for topic {topic} was closed before the write was acknowledged"
                ))),
            }
        }
    }

    /// Waits until every write handed to the producer so far was acknowledged (or
    /// failed); `timeout` bounds the wait.
    pub async fn flush(&self, timeout: Duration) -> Result<()> {
        let producer = self.producer.clone();
        let topic = self.topic.clone();
        blocking("flushing the producer", move || {
            producer
                .flush(timeout)
                .map_err(kafka(format!("could not flush writes to topic {topic}")))
        })
        .await
    }

    /// Current end offsets of every partition (what a read-to-end must reach). Uses
    /// the consumer's isolation level, so with `read_committed` open transactions are
    /// not waited for.
    pub async fn end_offsets(&self) -> Result<BTreeMap<i32, i64>> {
        let consumer = self.consumer.clone();
        let topic = self.topic.clone();
        let partitions = self.partitions.clone();
        blocking("fetching end offsets", move || {
            let failed = || kafka(format!("could not fetch the end offsets of topic {topic}"));
            // A ListOffsets for timestamp -1 (`Offset::End`) answers the end offset of
            // every partition in one request per leader.
            let mut query = TopicPartitionList::new();
            for p in partitions {
                query
                    .add_partition_offset(&topic, p, Offset::End)
                    .map_err(failed())?;
            }
            let tpl = consumer
                .offsets_for_times(query, REQUEST_TIMEOUT)
                .map_err(failed())?;
            let mut ends = BTreeMap::new();
            for e in tpl.elements() {
                if e.topic() != topic {
                    continue;
                }
                e.error().map_err(kafka(format!(
                    "could not fetch the end offset of {topic}-{}",
                    e.partition()
                )))?;
                match e.offset() {
                    Offset::Offset(o) => {
                        ends.insert(e.partition(), o);
                    }
                    other => {
                        return Err(ConnectError::external(
                            format!(
                                "unexpected end offset {other:?} for {topic}-{}",
                                e.partition()
                            ),
                            true,
                        ));
                    }
                }
            }
            Ok(ends)
        })
        .await
    }

    /// Waits until everything written to the topic before this call (including this
    /// worker's own writes still in flight) has been applied by the handler.
    pub async fn read_to_end(&self) -> Result<()> {
        self.flush(REQUEST_TIMEOUT).await?;
        let ends = self.end_offsets().await?;
        self.wait_applied(&ends).await
    }

    /// Waits until the handler has applied every partition up to (excluding) the
    /// given offsets. Used after a write to wait for its own record to be read back.
    pub async fn wait_applied(&self, targets: &BTreeMap<i32, i64>) -> Result<()> {
        let mut rx = self.applied.clone();
        loop {
            {
                let applied = rx.borrow_and_update();
                if targets
                    .iter()
                    .all(|(p, end)| applied.get(p).is_some_and(|pos| pos >= end))
                {
                    return Ok(());
                }
            }
            if rx.changed().await.is_err() {
                return Err(ConnectError::internal(format!(
                    "the reader of topic {} stopped",
                    self.topic
                )));
            }
        }
    }

    /// The next offset to be applied, per partition.
    pub fn applied_positions(&self) -> BTreeMap<i32, i64> {
        self.applied.borrow().clone()
    }

    /// Stops the reader task; writes are still possible until the log is dropped.
    pub fn stop(&self) {
        self.stop.send_replace(true);
        if let Ok(mut guard) = self.reader.lock() {
            if let Some(h) = guard.take() {
                h.abort();
            }
        }
    }
}

impl Drop for KafkaBasedLog {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Partition ids of `topic` and their first offsets, waiting (like Java, up to 30 s)
/// for metadata of a topic that was just created: until every partition has a leader
/// and answers an offsets request (right after creation a partition may be listed
/// before its leader is known, and asking it then fails with NotLeaderForPartition).
fn discover_partitions(consumer: &LogConsumer, topic: &str) -> Result<(Vec<i32>, Positions)> {
    let started = std::time::Instant::now();
    let mut sleep = Duration::from_millis(100);
    loop {
        match try_discover(consumer, topic) {
            Ok(Some(found)) => return Ok(found),
            Ok(None) => {}
            Err(e) => tracing::debug!(topic, error = %e, "partition metadata not ready; retrying"),
        }
        if started.elapsed() >= TOPIC_METADATA_TIMEOUT {
            return Err(ConnectError::external(
                format!(
                    "Could not look up partition metadata for topic '{topic}' in the allotted period. \
                     This could indicate a connectivity issue, unavailable topic partitions, or if \
                     this is your first use of the topic it may have taken too long to create."
                ),
                true,
            ));
        }
        std::thread::sleep(sleep);
        sleep = (sleep * 2).min(Duration::from_secs(1));
    }
}

/// One attempt of [`discover_partitions`]: `None` while some partition has no leader yet.
fn try_discover(consumer: &LogConsumer, topic: &str) -> Result<Option<(Vec<i32>, Positions)>> {
    let md = consumer
        .fetch_metadata(Some(topic), REQUEST_TIMEOUT)
        .map_err(kafka(format!("could not read the metadata of {topic}")))?;
    let Some(t) = md
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none())
    else {
        return Ok(None);
    };
    if t.partitions().is_empty() || t.partitions().iter().any(|p| p.leader() < 0) {
        return Ok(None);
    }
    let mut partitions: Vec<i32> = t.partitions().iter().map(|p| p.id()).collect();
    partitions.sort_unstable();
    let mut low = Positions::new();
    for p in &partitions {
        let (lo, _) = consumer
            .fetch_watermarks(topic, *p, REQUEST_TIMEOUT)
            .map_err(kafka(format!("could not fetch the offsets of {topic}-{p}")))?;
        low.insert(*p, lo.max(0));
    }
    Ok(Some((partitions, low)))
}

/// The reader task: applies records in order and publishes positions.
async fn read_loop(
    consumer: Arc<LogConsumer>,
    topic: String,
    mut handler: RecordHandler,
    applied: watch::Sender<Positions>,
    mut stop: watch::Receiver<bool>,
) {
    let mut errors_in_a_row = 0u64;
    loop {
        if *stop.borrow() {
            break;
        }
        let next = tokio::select! {
            biased;
            _ = stop.changed() => break,
            m = consumer.recv() => m.map(|m| LogRecord {
                key: m.key().map(<[u8]>::to_vec),
                value: m.payload().map(<[u8]>::to_vec),
                partition: m.partition(),
                offset: m.offset(),
            }),
        };
        match next {
            Ok(record) => {
                errors_in_a_row = 0;
                let (partition, offset) = (record.partition, record.offset);
                handler(record);
                applied.send_if_modified(|pos| advance(pos, partition, offset + 1));
            }
            Err(KafkaError::PartitionEOF(partition)) => {
                errors_in_a_row = 0;
                // At the end of a partition the consumer's position also covers records
                // that are never delivered (transaction markers).
                if let Some(position) = consumer_position(&consumer, &topic, partition) {
                    applied.send_if_modified(|pos| advance(pos, partition, position));
                }
            }
            Err(e) => {
                // librdkafka reconnects by itself; these are events about it (one per failed
                // connection attempt while a broker is away), queued in front of the records
                // that follow. Sleeping on each would leave the log minutes behind after an
                // outage, so only a streak's first is worth a warning.
                if errors_in_a_row == 0 {
                    tracing::warn!(topic = %topic, error = %e, "error reading from Kafka; librdkafka retries");
                } else {
                    tracing::debug!(topic = %topic, error = %e, "error reading from Kafka");
                }
                errors_in_a_row += 1;
                tokio::task::yield_now().await;
            }
        }
    }
    tracing::debug!(topic = %topic, "KafkaBasedLog reader stopped");
}

fn advance(pos: &mut Positions, partition: i32, next: i64) -> bool {
    let e = pos.entry(partition).or_insert(0);
    if *e < next {
        *e = next;
        true
    } else {
        false
    }
}

fn consumer_position(consumer: &LogConsumer, topic: &str, partition: i32) -> Option<i64> {
    let tpl = consumer.position().ok()?;
    let elem = tpl.find_partition(topic, partition)?;
    match elem.offset() {
        Offset::Offset(o) => Some(o),
        _ => None,
    }
}
