//! The metric handles one task's loop increments.

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;

use super::{Count, Metrics, PartitionLabels, TaskLabels};

/// One task's series: cheap to clone, each call one atomic operation.
///
/// The error-handling stages call [`record_error`](Self::record_error),
/// [`record_failure`](Self::record_failure), [`record_skipped`](Self::record_skipped),
/// [`error_logged`](Self::error_logged), [`dlq_produce_request`](Self::dlq_produce_request)
/// and [`dlq_produce_failure`](Self::dlq_produce_failure), as Kafka's
/// `ErrorHandlingMetrics` counts.
#[derive(Clone)]
pub struct TaskMetrics {
    poll: Counter,
    write: Counter,
    read: Counter,
    send: Counter,
    batch: Histogram,
    commit_ok: Counter,
    commit_failed: Counter,
    commit_time: Histogram,
    errors: Count,
    failures: Count,
    retries: Count,
    skipped: Count,
    logged: Count,
    dlq: Count,
    dlq_failed: Count,
    lag: Family<PartitionLabels, Gauge>,
    labels: TaskLabels,
}

impl TaskMetrics {
    pub(super) fn new(m: &Metrics, l: TaskLabels) -> Self {
        TaskMetrics {
            poll: m.source_poll.get_or_create(&l).clone(),
            write: m.source_write.get_or_create(&l).clone(),
            read: m.sink_read.get_or_create(&l).clone(),
            send: m.sink_send.get_or_create(&l).clone(),
            batch: m.batch_size.get_or_create(&l).clone(),
            commit_ok: m.commit_success.get_or_create(&l).clone(),
            commit_failed: m.commit_failure.get_or_create(&l).clone(),
            commit_time: m.commit_seconds.get_or_create(&l).clone(),
            errors: m.record_errors.get_or_create(&l).clone(),
            failures: m.record_failures.get_or_create(&l).clone(),
            retries: m.retries.get_or_create(&l).clone(),
            skipped: m.records_skipped.get_or_create(&l).clone(),
            logged: m.errors_logged.get_or_create(&l).clone(),
            dlq: m.dlq_requests.get_or_create(&l).clone(),
            dlq_failed: m.dlq_failures.get_or_create(&l).clone(),
            lag: m.records_lag.clone(),
            labels: l,
        }
    }

    /// A source task's poll returned `n` records.
    pub fn polled(&self, n: usize) {
        self.poll.inc_by(n as u64);
        self.batch.observe(n as f64);
    }

    /// Kafka acknowledged `n` records of a source task.
    pub fn written(&self, n: usize) {
        self.write.inc_by(n as u64);
    }

    /// A sink task read `n` records from Kafka.
    pub fn read(&self, n: usize) {
        self.read.inc_by(n as u64);
    }

    /// A sink task's put took `n` records.
    pub fn put(&self, n: usize) {
        self.send.inc_by(n as u64);
        self.batch.observe(n as f64);
    }

    /// An offset commit finished.
    pub fn offset_commit(&self, ok: bool, took: Duration) {
        if ok {
            self.commit_ok.inc();
        } else {
            self.commit_failed.inc();
        }
        self.commit_time.observe(took.as_secs_f64());
    }

    /// A record failed in a stage (conversion, transform, put); each attempt counts.
    pub fn record_error(&self) {
        self.errors.inc();
    }

    /// A processing attempt failed (Kafka's `total-record-failures`).
    pub fn record_failure(&self) {
        self.failures.inc();
    }

    /// A retriable failure is retried (Kafka's `total-retries`).
    pub fn record_retry(&self) {
        self.retries.inc();
    }

    /// A failed record was skipped under `errors.tolerance=all`.
    pub fn record_skipped(&self) {
        self.skipped.inc();
    }

    /// An error was logged (`errors.log.enable`).
    pub fn error_logged(&self) {
        self.logged.inc();
    }

    /// A record was sent to the dead letter queue.
    pub fn dlq_produce_request(&self) {
        self.dlq.inc();
    }

    /// The dead letter queue could not take a record.
    pub fn dlq_produce_failure(&self) {
        self.dlq_failed.inc();
    }

    fn partition(&self, topic: &str, partition: i32) -> PartitionLabels {
        PartitionLabels {
            connector: self.labels.connector.clone(),
            task: self.labels.task.clone(),
            topic: topic.to_owned(),
            partition: partition.to_string(),
        }
    }

    /// A sink task's consumer lag on one of its partitions.
    pub fn set_lag(&self, topic: &str, partition: i32, lag: i64) {
        self.lag
            .get_or_create(&self.partition(topic, partition))
            .set(lag);
    }

    /// Forgets the lag of a partition the task no longer consumes.
    pub fn remove_lag(&self, topic: &str, partition: i32) {
        self.lag.remove(&self.partition(topic, partition));
    }
}
