//! The worker's Prometheus metrics (`GET /metrics`), under the names Strimzi's JMX exporter
//! rules give Kafka Connect's MBeans (`kafka.connect<type=source-task-metrics, ...>
//! source-record-poll-total` → `kafka_connect_source_task_metrics_source_record_poll_total`),
//! so dashboards and alerts written for Kafka Connect on Strimzi keep working. Averages,
//! maxima and percentages Kafka computes in the JVM are exposed as histograms and counters
//! for PromQL to derive instead.

mod task;

pub use task::TaskMetrics;

use std::sync::Mutex;
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::storage::{State, StatusStore};
use crate::worker::TaskId;

/// The content type of `GET /metrics` (prometheus-client writes OpenMetrics text, which
/// Prometheus prefers when offered).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `connector` and `task` labels of per-task series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TaskLabels {
    pub connector: String,
    pub task: String,
}

impl From<&TaskId> for TaskLabels {
    fn from(id: &TaskId) -> Self {
        TaskLabels {
            connector: id.connector.clone(),
            task: id.task.to_string(),
        }
    }
}

/// A sink task's partition: the labels of its consumer lag.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PartitionLabels {
    pub connector: String,
    pub task: String,
    pub topic: String,
    pub partition: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnectorStatusLabels {
    connector: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskStatusLabels {
    connector: String,
    task: String,
    status: String,
}

/// A histogram constructor (`Family` needs one for non-default buckets).
#[derive(Clone, Debug)]
pub(crate) struct Buckets(fn() -> Histogram);

impl MetricConstructor<Histogram> for Buckets {
    fn new_metric(&self) -> Histogram {
        (self.0)()
    }
}

fn batch_buckets() -> Histogram {
    Histogram::new([1.0, 10.0, 100.0, 500.0, 1000.0, 5000.0, 10000.0])
}

fn seconds_buckets() -> Histogram {
    Histogram::new([0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0])
}

/// A monotonic count exposed without the `_total` suffix prometheus-client gives counters,
/// for Kafka metric names that have none (`total-record-errors`).
pub(crate) type Count = Gauge<u64, std::sync::atomic::AtomicU64>;

/// Every metric of a worker.
pub struct Metrics {
    registry: Registry,
    pub(crate) source_poll: Family<TaskLabels, Counter>,
    pub(crate) source_write: Family<TaskLabels, Counter>,
    pub(crate) sink_read: Family<TaskLabels, Counter>,
    pub(crate) sink_send: Family<TaskLabels, Counter>,
    pub(crate) batch_size: Family<TaskLabels, Histogram, Buckets>,
    pub(crate) commit_success: Family<TaskLabels, Counter>,
    pub(crate) commit_failure: Family<TaskLabels, Counter>,
    pub(crate) commit_seconds: Family<TaskLabels, Histogram, Buckets>,
    pub(crate) record_errors: Family<TaskLabels, Count>,
    pub(crate) record_failures: Family<TaskLabels, Count>,
    pub(crate) retries: Family<TaskLabels, Count>,
    pub(crate) records_skipped: Family<TaskLabels, Count>,
    pub(crate) errors_logged: Family<TaskLabels, Count>,
    pub(crate) dlq_requests: Family<TaskLabels, Count>,
    pub(crate) dlq_failures: Family<TaskLabels, Count>,
    pub(crate) records_lag: Family<PartitionLabels, Gauge>,
    connector_status: Family<ConnectorStatusLabels, Gauge>,
    task_status: Family<TaskStatusLabels, Gauge>,
    connector_count: Gauge,
    task_count: Gauge,
    rebalances: Counter,
    since_rebalance_ms: Gauge,
    last_rebalance: Mutex<Option<Instant>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let buckets = |f: fn() -> Histogram| Family::new_with_constructor(Buckets(f));
        let mut m = Metrics {
            registry: Registry::default(),
            source_poll: Family::default(),
            source_write: Family::default(),
            sink_read: Family::default(),
            sink_send: Family::default(),
            batch_size: buckets(batch_buckets),
            commit_success: Family::default(),
            commit_failure: Family::default(),
            commit_seconds: buckets(seconds_buckets),
            record_errors: Family::default(),
            record_failures: Family::default(),
            retries: Family::default(),
            records_skipped: Family::default(),
            errors_logged: Family::default(),
            dlq_requests: Family::default(),
            dlq_failures: Family::default(),
            records_lag: Family::default(),
            connector_status: Family::default(),
            task_status: Family::default(),
            connector_count: Gauge::default(),
            task_count: Gauge::default(),
            rebalances: Counter::default(),
            since_rebalance_ms: Gauge::default(),
            last_rebalance: Mutex::new(None),
        };
        let r = &mut m.registry;
        let src = "kafka_connect_source_task_metrics_";
        let sink = "kafka_connect_sink_task_metrics_";
        let task = "kafka_connect_connector_task_metrics_";
        let err = "kafka_connect_task_error_metrics_";
        r.register(
            format!("{src}source_record_poll"),
            "Records polled from the source task (before transforms)",
            m.source_poll.clone(),
        );
        r.register(
            format!("{src}source_record_write"),
            "Records written to Kafka (acknowledged by the broker)",
            m.source_write.clone(),
        );
        r.register(
            // The consumer metric Strimzi's exporter rules produce, with the task's labels.
            "kafka_consumer_consumer_fetch_manager_metrics_records_lag",
            "Records of a sink task's partition not consumed yet: its high watermark minus the consumer's position (or committed offset before the first fetch)",
            m.records_lag.clone(),
        );
        r.register(
            format!("{sink}sink_record_read"),
            "Records read from Kafka by the sink task",
            m.sink_read.clone(),
        );
        r.register(
            format!("{sink}sink_record_send"),
            "Records handed to the sink task's put",
            m.sink_send.clone(),
        );
        r.register(
            format!("{task}batch_size"),
            "Records per batch (source poll or sink put)",
            m.batch_size.clone(),
        );
        r.register(
            format!("{task}offset_commit_success"),
            "Offset commits that succeeded",
            m.commit_success.clone(),
        );
        r.register(
            format!("{task}offset_commit_failure"),
            "Offset commits that failed",
            m.commit_failure.clone(),
        );
        r.register(
            format!("{task}offset_commit_seconds"),
            "Time an offset commit took",
            m.commit_seconds.clone(),
        );
        r.register(
            format!("{err}total_record_errors"),
            "Records that failed in a stage for good (skipped, or failing the task)",
            m.record_errors.clone(),
        );
        r.register(
            format!("{err}total_record_failures"),
            "Record processing attempts that failed (each retried attempt counted)",
            m.record_failures.clone(),
        );
        r.register(
            format!("{err}total_retries"),
            "Retries of retriable failures (errors.retry.timeout)",
            m.retries.clone(),
        );
        r.register(
            format!("{err}total_records_skipped"),
            "Records skipped under errors.tolerance=all",
            m.records_skipped.clone(),
        );
        r.register(
            format!("{err}total_errors_logged"),
            "Errors logged (errors.log.enable)",
            m.errors_logged.clone(),
        );
        r.register(
            format!("{err}deadletterqueue_produce_requests"),
            "Records sent to the dead letter queue",
            m.dlq_requests.clone(),
        );
        r.register(
            format!("{err}deadletterqueue_produce_failures"),
            "Records the dead letter queue could not take",
            m.dlq_failures.clone(),
        );
        r.register(
            "kafka_connect_connector_status",
            "1 for the state of each connector running on this worker",
            m.connector_status.clone(),
        );
        r.register(
            "kafka_connect_connector_task_status",
            "1 for the state of each task running on this worker",
            m.task_status.clone(),
        );
        r.register(
            "kafka_connect_worker_metrics_connector_count",
            "Connectors running on this worker",
            m.connector_count.clone(),
        );
        r.register(
            "kafka_connect_worker_metrics_task_count",
            "Tasks running on this worker",
            m.task_count.clone(),
        );
        r.register(
            "kafka_connect_worker_rebalance_metrics_completed_rebalances",
            "Rebalances this worker completed",
            m.rebalances.clone(),
        );
        r.register(
            "kafka_connect_worker_rebalance_metrics_time_since_last_rebalance_ms",
            "Milliseconds since this worker completed a rebalance (-1 before the first)",
            m.since_rebalance_ms.clone(),
        );
        m
    }

    /// The handles a task's loop increments (created on first use, shared afterwards).
    pub fn task(&self, id: &TaskId) -> TaskMetrics {
        TaskMetrics::new(self, TaskLabels::from(id))
    }

    /// Forgets a task's series (it stopped here; another worker may run it now).
    pub fn remove_task(&self, id: &TaskId) {
        let l = TaskLabels::from(id);
        for f in [
            &self.source_poll,
            &self.source_write,
            &self.sink_read,
            &self.sink_send,
            &self.commit_success,
            &self.commit_failure,
        ] {
            f.remove(&l);
        }
        self.batch_size.remove(&l);
        self.commit_seconds.remove(&l);
        for f in [
            &self.record_errors,
            &self.record_failures,
            &self.retries,
            &self.records_skipped,
            &self.errors_logged,
            &self.dlq_requests,
            &self.dlq_failures,
        ] {
            f.remove(&l);
        }
    }

    /// Counts a completed group rebalance (distributed mode).
    pub fn rebalance_completed(&self) {
        self.rebalances.inc();
        if let Ok(mut at) = self.last_rebalance.lock() {
            *at = Some(Instant::now());
        }
    }

    /// The text exposition, with state and count gauges taken from `status` for what runs
    /// on worker `worker_id`.
    pub fn render(&self, status: &StatusStore, worker_id: &str) -> Result<String, std::fmt::Error> {
        self.connector_status.clear();
        self.task_status.clear();
        let (mut connectors, mut tasks) = (0, 0);
        let here = |s: &crate::storage::TaskStatus| {
            s.worker_id == worker_id && !matches!(s.state, State::Unassigned)
        };
        for name in status.connector_names() {
            if let Some(s) = status.connector(&name).filter(here) {
                connectors += 1;
                self.connector_status
                    .get_or_create(&ConnectorStatusLabels {
                        connector: name.clone(),
                        status: state_label(s.state).to_owned(),
                    })
                    .set(1);
            }
            for (task, s) in status.tasks(&name) {
                if here(&s) {
                    tasks += 1;
                    self.task_status
                        .get_or_create(&TaskStatusLabels {
                            connector: name.clone(),
                            task: task.to_string(),
                            status: state_label(s.state).to_owned(),
                        })
                        .set(1);
                }
            }
        }
        self.connector_count.set(connectors);
        self.task_count.set(tasks);
        let since = self
            .last_rebalance
            .lock()
            .ok()
            .and_then(|at| *at)
            .map(|at| i64::try_from(at.elapsed().as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(-1);
        self.since_rebalance_ms.set(since);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// Kafka's status metric values: the state in lower case.
fn state_label(state: State) -> &'static str {
    match state {
        State::Unassigned => "unassigned",
        State::Running => "running",
        State::Paused => "paused",
        State::Stopped => "stopped",
        State::Failed => "failed",
        State::Restarting => "restarting",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::storage::TaskStatus;

    #[test]
    fn exposes_kafka_connect_names_for_this_workers_tasks() {
        let m = Metrics::new();
        let id = TaskId {
            connector: "c".into(),
            task: 0,
        };
        let t = m.task(&id);
        t.polled(3);
        t.written(2);
        t.dlq_produce_request();
        t.offset_commit(true, std::time::Duration::from_millis(3));
        let status = StatusStore::default();
        let running = |w: &str| TaskStatus {
            state: State::Running,
            trace: None,
            worker_id: w.into(),
            generation: 1,
        };
        status.put_connector("c", running("me:8083"));
        status.put_task("c", 0, running("me:8083"));
        status.put_task("c", 1, running("other:8083"));
        let text = m.render(&status, "me:8083").unwrap();
        for line in [
            "kafka_connect_source_task_metrics_source_record_poll_total{connector=\"c\",task=\"0\"} 3",
            "kafka_connect_source_task_metrics_source_record_write_total{connector=\"c\",task=\"0\"} 2",
            "kafka_connect_task_error_metrics_deadletterqueue_produce_requests{connector=\"c\",task=\"0\"} 1",
            "kafka_connect_connector_task_metrics_offset_commit_success_total{connector=\"c\",task=\"0\"} 1",
            "kafka_connect_connector_task_metrics_batch_size_count{connector=\"c\",task=\"0\"} 1",
            "kafka_connect_connector_status{connector=\"c\",status=\"running\"} 1",
            "kafka_connect_connector_task_status{connector=\"c\",task=\"0\",status=\"running\"} 1",
            "kafka_connect_worker_metrics_connector_count 1",
            "kafka_connect_worker_metrics_task_count 1",
            "kafka_connect_worker_rebalance_metrics_time_since_last_rebalance_ms -1",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
        }
        assert!(!text.contains("task=\"1\""), "{text}");
        m.remove_task(&id);
        let text = m.render(&status, "me:8083").unwrap();
        assert!(!text.contains("source_record_poll_total{"), "{text}");
    }
}
