//! The sink task: records become bulk actions in `put`; a background batcher groups them
//! into `_bulk` requests (`batch.size`, `bulk.size.bytes`, `linger.ms`) with at most
//! `max.in.flight.requests` at once. Every buffered or in-flight record holds one of
//! `max.buffered.records` permits, so memory stays bounded whatever the input rate: `put`
//! waits for a permit (up to `flush.timeout.ms`). Offsets are tracked per partition:
//! `pre_commit` hands the worker, without waiting, the offset below which every record was
//! acknowledged by the server, so offsets are committed only after every bulk request
//! holding those records succeeded, and the pipeline never drains at a commit. `flush`
//! waits until everything put so far is acknowledged.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::client::{EsClient, short};
use super::config::EsConfig;
use super::mapping;
use super::request_builder::{self, Action};
use super::service::{self, Retry};
use crate::config::Props;
use crate::connectors::{Offsets, RetryReporter, SinkTask, TopicPartition};
use crate::data::SinkRecord;
use crate::errors::{ConnectError, Result};

/// The first error of a background bulk request; once set the task fails.
#[derive(Default)]
struct Failure {
    error: Option<ConnectError>,
    reported: bool,
}

type SharedFailure = Arc<Mutex<Failure>>;

fn record_failure(shared: &SharedFailure, e: ConnectError) {
    if let Ok(mut f) = shared.lock()
        && f.error.is_none()
        && !f.reported
    {
        f.error = Some(e);
    }
}

fn check_failure(shared: &SharedFailure) -> Result<()> {
    let mut f = shared
        .lock()
        .map_err(|_| ConnectError::internal("the failure lock is poisoned"))?;
    if let Some(e) = f.error.take() {
        f.reported = true;
        return Err(e);
    }
    if f.reported {
        return Err(ConnectError::internal(
            "the Elasticsearch sink task failed earlier",
        ));
    }
    Ok(())
}

/// Per partition: the offsets put and not yet acknowledged, and the offset after the
/// last record put (acknowledged or skipped).
#[derive(Default)]
struct Track {
    pending: BTreeSet<i64>,
    next: i64,
}

type Tracker = Arc<Mutex<HashMap<TopicPartition, Track>>>;

fn lock_tracker(t: &Tracker) -> Result<std::sync::MutexGuard<'_, HashMap<TopicPartition, Track>>> {
    t.lock()
        .map_err(|_| ConnectError::internal("the offset tracker lock is poisoned"))
}

enum Msg {
    Action(Action, TopicPartition, i64),
    /// Send what is pending now, without waiting for `linger.ms`.
    Flush,
}

struct Running {
    config: Arc<EsConfig>,
    client: EsClient,
    retry: Retry,
    tx: mpsc::UnboundedSender<Msg>,
    /// One permit per record that may be buffered or in flight.
    permits: Arc<Semaphore>,
    failure: SharedFailure,
    tracker: Tracker,
    /// Target name per topic, once checked and created on the server.
    indexes: HashMap<String, String>,
    batcher: tokio::task::JoinHandle<()>,
}

/// `io.confluent.connect.elasticsearch.ElasticsearchSinkTask`.
#[derive(Default)]
pub struct ElasticsearchSinkTask {
    running: Option<Running>,
    reporter: Option<RetryReporter>,
}

impl ElasticsearchSinkTask {
    fn running(&mut self) -> Result<&mut Running> {
        self.running
            .as_mut()
            .ok_or_else(|| ConnectError::internal("ElasticsearchSinkTask used before start"))
    }
}

#[async_trait]
impl SinkTask for ElasticsearchSinkTask {
    fn set_retry_reporter(&mut self, reporter: RetryReporter) {
        self.reporter = Some(reporter);
    }

    async fn start(&mut self, props: &Props) -> Result<()> {
        let config = Arc::new(EsConfig::parse(props)?);
        if let Some(t) = &config.type_name {
            tracing::warn!(
                type_name = %t,
                "type.name is ignored: Elasticsearch 7+ and OpenSearch have no mapping types"
            );
        }
        let client = EsClient::new(&config)?;
        let retry = Retry::from(&config);
        // Fails fast on wrong credentials (401 naming the URL) or no reachable host.
        let info = service::send_retrying(&client, retry, Method::GET, "", None).await?;
        if !info.status.is_success() {
            return Err(ConnectError::external(
                format!(
                    "{} answered {}: {}",
                    info.url,
                    info.status,
                    short(&info.body)
                ),
                false,
            ));
        }
        tracing::info!(
            url = %info.url,
            version = %info.body["version"]["number"].as_str().unwrap_or("?"),
            distribution = %info.body["version"]["distribution"].as_str().unwrap_or("elasticsearch"),
            "connected"
        );
        let permits = Arc::new(Semaphore::new(config.max_buffered));
        let failure = SharedFailure::default();
        let tracker = Tracker::default();
        let (tx, rx) = mpsc::unbounded_channel();
        let batcher = tokio::spawn(batcher(
            rx,
            config.clone(),
            client.clone(),
            permits.clone(),
            failure.clone(),
            tracker.clone(),
            self.reporter.clone(),
        ));
        self.running = Some(Running {
            config,
            client,
            retry,
            tx,
            permits,
            failure,
            tracker,
            indexes: HashMap::new(),
            batcher,
        });
        Ok(())
    }

    async fn put(&mut self, records: Vec<SinkRecord>) -> Result<()> {
        let r = self.running()?;
        check_failure(&r.failure)?;
        for record in records {
            let tp = TopicPartition {
                topic: record.record.topic.clone(),
                partition: record.record.partition.unwrap_or(-1),
            };
            let offset = record.kafka_offset;
            let index = r.index_for(&record).await?;
            let action = match request_builder::build(&r.config, &record, &index) {
                Ok(Some(a)) => Some(a),
                Ok(None) => None,
                Err(e @ ConnectError::Data(_)) if r.config.drop_invalid_message => {
                    tracing::error!(error = %e, "dropping a record that cannot be converted");
                    None
                }
                Err(e) => return Err(e),
            };
            if action.is_some() {
                r.reserve(1).await?;
            }
            {
                let mut t = lock_tracker(&r.tracker)?;
                let track = t.entry(tp.clone()).or_default();
                track.next = offset + 1;
                if action.is_some() {
                    track.pending.insert(offset);
                }
            }
            if let Some(a) = action {
                r.tx.send(Msg::Action(a, tp, offset))
                    .map_err(|_| ConnectError::internal("the bulk batcher stopped"))?;
            }
        }
        Ok(())
    }

    async fn flush(&mut self, _offsets: &Offsets) -> Result<()> {
        let r = self.running()?;
        check_failure(&r.failure)?;
        r.tx.send(Msg::Flush)
            .map_err(|_| ConnectError::internal("the bulk batcher stopped"))?;
        // All permits back = nothing buffered or in flight.
        let all = u32::try_from(r.config.max_buffered).unwrap_or(u32::MAX);
        match tokio::time::timeout(r.config.flush_timeout, r.permits.acquire_many(all)).await {
            Ok(Ok(p)) => drop(p),
            Ok(Err(_)) => return Err(ConnectError::internal("the buffer semaphore closed")),
            Err(_) => {
                check_failure(&r.failure)?;
                return Err(ConnectError::external(
                    format!(
                        "flush timed out after {} ms (flush.timeout.ms) with {} records not yet \
                         acknowledged by Elasticsearch",
                        r.config.flush_timeout.as_millis(),
                        r.config.max_buffered - r.permits.available_permits()
                    ),
                    true,
                ));
            }
        }
        check_failure(&r.failure)
    }

    async fn pre_commit(&mut self, offsets: &Offsets) -> Result<Offsets> {
        let r = self.running()?;
        check_failure(&r.failure)?;
        let t = lock_tracker(&r.tracker)?;
        Ok(offsets
            .iter()
            .filter_map(|(tp, off)| {
                let track = t.get(tp)?;
                let acked = track.pending.first().copied().unwrap_or(track.next);
                Some((tp.clone(), acked.min(*off)))
            })
            .collect())
    }

    async fn stop(&mut self) -> Result<()> {
        if let Some(r) = self.running.take() {
            // Aborting the batcher drops its in-flight requests; their records were not
            // flushed, so their offsets were not committed and they will be redelivered.
            r.batcher.abort();
        }
        Ok(())
    }
}

impl Running {
    /// Waits for room for `n` records, at most `flush.timeout.ms`.
    async fn reserve(&mut self, n: u32) -> Result<()> {
        if let Ok(p) = self.permits.try_acquire_many(n) {
            p.forget();
            return Ok(());
        }
        let started = Instant::now();
        loop {
            match tokio::time::timeout(Duration::from_millis(200), self.permits.acquire_many(n))
                .await
            {
                Ok(Ok(p)) => {
                    p.forget();
                    return Ok(());
                }
                Ok(Err(_)) => return Err(ConnectError::internal("the buffer semaphore closed")),
                Err(_) => {
                    // A failed request returns its permits: notice the failure promptly.
                    check_failure(&self.failure)?;
                    if started.elapsed() >= self.config.flush_timeout {
                        return Err(ConnectError::external(
                            format!(
                                "no room for more records after {} ms (flush.timeout.ms): {} \
                                 records (max.buffered.records) are waiting for Elasticsearch",
                                self.config.flush_timeout.as_millis(),
                                self.config.max_buffered
                            ),
                            true,
                        ));
                    }
                }
            }
        }
    }

    /// The checked target of a record's topic, creating the index (with a mapping derived
    /// from the value schema unless schemas are ignored) or data stream at first sight.
    async fn index_for(&mut self, record: &SinkRecord) -> Result<String> {
        let topic = &record.record.topic;
        if let Some(i) = self.indexes.get(topic) {
            return Ok(i.clone());
        }
        let index = self.config.index_for(topic)?;
        let mapping = if self.config.ignore_schema(topic) || self.config.is_data_stream() {
            None
        } else {
            record
                .record
                .value
                .schema
                .as_deref()
                .and_then(mapping::for_schema)
        };
        service::ensure_index(
            &self.client,
            self.retry,
            &index,
            self.config.is_data_stream(),
            mapping,
        )
        .await?;
        self.indexes.insert(topic.clone(), index.clone());
        Ok(index)
    }
}

/// Groups actions into bulk requests and runs them, at most `max.in.flight.requests` at once.
async fn batcher(
    mut rx: mpsc::UnboundedReceiver<Msg>,
    config: Arc<EsConfig>,
    client: EsClient,
    permits: Arc<Semaphore>,
    failure: SharedFailure,
    tracker: Tracker,
    reporter: Option<RetryReporter>,
) {
    let in_flight = Arc::new(Semaphore::new(config.max_in_flight));
    let mut requests = JoinSet::new();
    let retry = Retry::from(&config);
    let mut batch: Vec<Action> = Vec::new();
    let mut keys: Vec<(TopicPartition, i64)> = Vec::new();
    let mut bytes = 0usize;
    let mut linger_until: Option<Instant> = None;
    loop {
        // Reap finished requests so the set does not grow.
        while requests.try_join_next().is_some() {}
        let msg = match linger_until {
            Some(at) => tokio::select! {
                m = rx.recv() => m,
                () = tokio::time::sleep_until(at) => Some(Msg::Flush),
            },
            None => rx.recv().await,
        };
        let send_now = match msg {
            None => return,
            Some(Msg::Flush) => true,
            Some(Msg::Action(a, tp, offset)) => {
                bytes += a.lines.len();
                batch.push(a);
                keys.push((tp, offset));
                linger_until.get_or_insert_with(|| Instant::now() + config.linger);
                batch.len() >= config.batch_size
                    || config.bulk_size_bytes.is_some_and(|max| bytes >= max)
            }
        };
        if !send_now || batch.is_empty() {
            if batch.is_empty() {
                linger_until = None;
            }
            continue;
        }
        let Ok(slot) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let actions = std::mem::take(&mut batch);
        let acked = std::mem::take(&mut keys);
        bytes = 0;
        linger_until = None;
        let n = actions.len();
        let (client, permits, failure) = (client.clone(), permits.clone(), failure.clone());
        let tracker = tracker.clone();
        let reporter = reporter.clone();
        let malformed = config.malformed;
        requests.spawn(async move {
            match service::send_bulk(&client, retry, malformed, actions, reporter.as_ref()).await {
                Ok(o) => {
                    tracing::debug!(
                        written = o.written,
                        dropped = o.dropped,
                        retries = o.retries,
                        "bulk request done"
                    );
                    // Written or dropped per behavior.on.malformed.documents: committable.
                    if let Ok(mut t) = tracker.lock() {
                        for (tp, offset) in &acked {
                            if let Some(track) = t.get_mut(tp) {
                                track.pending.remove(offset);
                            }
                        }
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "bulk request failed");
                    record_failure(&failure, e);
                }
            }
            // After recording a failure, so a flush that gets these permits sees it.
            permits.add_permits(n);
            drop(slot);
        });
    }
}
