//! Error handling of the task loops: retries, `errors.tolerance`, the error log and the
//! dead letter queue (Kafka Connect's `org.apache.kafka.connect.runtime.errors`).
//!
//! Each step of a record's pipeline (a converter, the transforms) runs through
//! [`SinkErrors::execute`] or [`SourceErrors::execute`] with its [`Stage`]: it is retried
//! while it fails with a retriable error, and what still fails is either skipped and
//! reported (logged; for sinks written to the dead letter queue) or fails the task.

mod config;
mod dlq;
mod headers;
mod log;
mod operator;
mod stage;

pub use config::{DeadLetterQueue, ErrorsConfig, ToleranceType};
pub use dlq::DeadLetterQueueReporter;
pub use headers::{HEADER_PREFIX, context_headers};
pub use log::LogReporter;
pub use operator::{Attempt, Failure, RetryWithToleranceOperator};
pub use stage::Stage;

use std::future::Future;
use std::time::Duration;

use rdkafka::message::OwnedMessage;

use super::{TaskId, WorkerContext};
use crate::config::Props;
use crate::data::SourceRecord;
use crate::errors::{ConnectError, Result};
use crate::metrics::TaskMetrics;

/// The error handling of one sink task.
pub struct SinkErrors {
    operator: RetryWithToleranceOperator,
    log: LogReporter,
    dlq: Option<DeadLetterQueueReporter>,
    metrics: TaskMetrics,
}

impl SinkErrors {
    /// Reads the connector's `errors.*` settings; creates the dead letter queue topic and
    /// producer when one is configured.
    pub async fn new(ctx: &WorkerContext, task: &TaskId, connector: &Props) -> Result<Self> {
        let config = ErrorsConfig::from_props(connector, true)?;
        let dlq = match &config.dead_letter_queue {
            Some(q) => Some(DeadLetterQueueReporter::create(ctx, task, connector, q).await?),
            None => None,
        };
        Ok(SinkErrors {
            operator: RetryWithToleranceOperator::new(&config),
            log: LogReporter::new(task, &config),
            dlq,
            metrics: ctx.metrics.task(task),
        })
    }

    /// Runs one stage of the pipeline of the consumed record `original`. `Ok(None)`: the
    /// record failed, was tolerated and reported, and must be skipped.
    pub async fn execute<T, E, F, Fut>(
        &mut self,
        stage: Stage,
        class: &str,
        original: &OwnedMessage,
        op: F,
    ) -> Result<Option<T>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<T, E>>,
        E: Into<ConnectError>,
    {
        match counted(&self.metrics, self.operator.execute(stage, class, op).await)? {
            Attempt::Done(v) => Ok(Some(v)),
            Attempt::Skipped(failure) => {
                skipped(&self.metrics, &self.log);
                self.log.report_sink(original, &failure);
                if let Some(dlq) = &mut self.dlq {
                    self.metrics.dlq_produce_request();
                    if let Err(e) = dlq.report(original, &failure).await {
                        self.metrics.dlq_produce_failure();
                        return Err(e);
                    }
                }
                Ok(None)
            }
        }
    }

    /// Waits (at most `timeout`) until every dead-lettered record so far is acknowledged:
    /// only then may the offsets covering them be committed. False: not yet.
    pub async fn flush(&mut self, timeout: Duration) -> Result<bool> {
        match &mut self.dlq {
            Some(dlq) => dlq.flush(timeout).await,
            None => Ok(true),
        }
    }
}

/// The error handling of one source task: Kafka Connect has no dead letter queue for
/// sources, so a tolerated failure is only logged.
pub struct SourceErrors {
    operator: RetryWithToleranceOperator,
    log: LogReporter,
    metrics: TaskMetrics,
}

impl SourceErrors {
    pub fn new(ctx: &WorkerContext, task: &TaskId, connector: &Props) -> Result<Self> {
        let config = ErrorsConfig::from_props(connector, false)?;
        Ok(SourceErrors {
            operator: RetryWithToleranceOperator::new(&config),
            log: LogReporter::new(task, &config),
            metrics: ctx.metrics.task(task),
        })
    }

    /// Runs one stage of the pipeline of `original`; `Ok(None)`: skip the record.
    pub async fn execute<T, E, F, Fut>(
        &mut self,
        stage: Stage,
        class: &str,
        original: &SourceRecord,
        op: F,
    ) -> Result<Option<T>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<T, E>>,
        E: Into<ConnectError>,
    {
        match counted(&self.metrics, self.operator.execute(stage, class, op).await)? {
            Attempt::Done(v) => Ok(Some(v)),
            Attempt::Skipped(failure) => {
                skipped(&self.metrics, &self.log);
                self.log.report_source(original, &failure);
                Ok(None)
            }
        }
    }
}

/// Counts a record that failed for good (`kafka_connect_task_error_metrics_*`): a task
/// failing on it here, a skipped one in [`skipped`].
fn counted<T>(metrics: &TaskMetrics, attempt: Result<Attempt<T>>) -> Result<Attempt<T>> {
    if attempt.is_err() {
        metrics.record_error();
        metrics.record_failure();
    }
    attempt
}

/// Counts a record skipped under `errors.tolerance=all` (and its log line).
fn skipped(metrics: &TaskMetrics, log: &LogReporter) {
    metrics.record_error();
    metrics.record_failure();
    metrics.record_skipped();
    if log.enabled() {
        metrics.error_logged();
    }
}
