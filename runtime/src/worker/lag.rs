//! A sink task's consumer lag per partition, for `GET /metrics`: every few seconds the
//! high watermark (asked of the partition's leader) minus the consumer's position.
//!
//! librdkafka's statistics would give the same figure without asking the broker, but turning
//! them on changes how the consumer's event queue is served; a ListOffsets request per
//! partition every few seconds costs less than that risk.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{Consumer, ConsumerContext, StreamConsumer};
use rdkafka::{Offset, TopicPartitionList};

use crate::metrics::TaskMetrics;

/// How often the lag is measured.
pub const INTERVAL: Duration = Duration::from_secs(5);

/// How long one broker request may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Measures while alive; dropping it stops measuring and forgets the task's lag series.
pub struct LagReporter {
    handle: tokio::task::JoinHandle<()>,
    metrics: TaskMetrics,
    reported: Arc<std::sync::Mutex<HashSet<(String, i32)>>>,
}

impl Drop for LagReporter {
    fn drop(&mut self) {
        self.handle.abort();
        if let Ok(reported) = self.reported.lock() {
            for (topic, partition) in reported.iter() {
                self.metrics.remove_lag(topic, *partition);
            }
        }
    }
}

/// Starts measuring `consumer`'s lag every `every` into `metrics`.
pub fn spawn<C>(
    consumer: Arc<StreamConsumer<C>>,
    metrics: TaskMetrics,
    every: Duration,
) -> LagReporter
where
    C: ConsumerContext + 'static,
{
    let reported: Arc<std::sync::Mutex<HashSet<(String, i32)>>> = Arc::default();
    let (m, seen) = (metrics.clone(), reported.clone());
    let handle = tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let c = consumer.clone();
            // Broker requests block: off the runtime's threads.
            let Ok(lags) = tokio::task::spawn_blocking(move || measure(&c)).await else {
                continue;
            };
            let now: HashSet<(String, i32)> =
                lags.iter().map(|(t, p, _)| (t.clone(), *p)).collect();
            for (topic, partition, lag) in &lags {
                m.set_lag(topic, *partition, *lag);
            }
            if let Ok(mut seen) = seen.lock() {
                for (topic, partition) in seen.difference(&now) {
                    m.remove_lag(topic, *partition);
                }
                *seen = now;
            }
        }
    });
    LagReporter {
        handle,
        metrics,
        reported,
    }
}

/// `(topic, partition, lag)` of every assigned partition whose lag could be measured.
fn measure<C: ConsumerContext>(c: &StreamConsumer<C>) -> Vec<(String, i32, i64)> {
    let Ok(positions) = c.position() else {
        return Vec::new();
    };
    // Before its first fetch a partition has no position: it starts at the committed offset.
    let mut unpositioned = TopicPartitionList::new();
    for e in positions.elements() {
        if !matches!(e.offset(), Offset::Offset(_)) {
            unpositioned.add_partition(e.topic(), e.partition());
        }
    }
    let committed = if unpositioned.count() == 0 {
        None
    } else {
        c.committed_offsets(unpositioned, TIMEOUT).ok()
    };
    let start = |topic: &str, partition: i32| -> Option<i64> {
        committed
            .as_ref()?
            .find_partition(topic, partition)
            .and_then(|e| match e.offset() {
                Offset::Offset(o) => Some(o),
                _ => None,
            })
    };
    let mut out = Vec::new();
    for e in positions.elements() {
        let (topic, partition) = (e.topic(), e.partition());
        let Ok((low, high)) = c.fetch_watermarks(topic, partition, TIMEOUT) else {
            tracing::debug!(
                topic,
                partition,
                "could not fetch the watermarks for the lag metric"
            );
            continue;
        };
        // Neither fetched nor committed: consumption starts at the log's start
        // (auto.offset.reset=earliest, Kafka Connect's default for sinks).
        let position = match e.offset() {
            Offset::Offset(o) => o,
            _ => start(topic, partition).unwrap_or(low),
        };
        out.push((topic.to_owned(), partition, (high - position).max(0)));
    }
    out
}
