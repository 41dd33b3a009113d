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
use crate::data::{ConnectRecord, SourceRecord};
use crate::errors::{ConnectError, Result};
use crate::metrics::TaskMetrics;
use crate::transforms::TransformError;

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
        let metrics = ctx.metrics.task(task);
        Ok(SinkErrors {
            operator: RetryWithToleranceOperator::new(&config).with_metrics(metrics.clone()),
            log: LogReporter::new(task, &config),
            dlq,
            metrics,
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

    /// A transform failed on `original`: the TRANSFORMATION stage under the failing
    /// transform's class. `Ok`: tolerated and reported (dead-lettered); `Err`: the task fails.
    pub async fn transform_failed(
        &mut self,
        original: &OwnedMessage,
        e: Box<TransformError>,
    ) -> Result<()> {
        let class = e.class.to_owned();
        let mut failure = Some(not_retriable(e));
        self.execute(Stage::Transformation, &class, original, move || {
            once(failure.take())
        })
        .await
        .map(|_| ())
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
        let metrics = ctx.metrics.task(task);
        Ok(SourceErrors {
            operator: RetryWithToleranceOperator::new(&config).with_metrics(metrics.clone()),
            log: LogReporter::new(task, &config),
            metrics,
        })
    }

    /// A transform failed on a record bound for `e.topic`: the TRANSFORMATION stage under
    /// the failing transform's class. `Ok`: tolerated and logged; `Err`: the task fails.
    pub async fn transform_failed(&mut self, e: Box<TransformError>) -> Result<()> {
        let class = e.class.to_owned();
        let stand_in = SourceRecord {
            record: ConnectRecord {
                topic: e.topic.clone(),
                ..ConnectRecord::default()
            },
            ..SourceRecord::default()
        };
        let mut failure = Some(not_retriable(e));
        self.execute(Stage::Transformation, &class, &stand_in, move || {
            once(failure.take())
        })
        .await
        .map(|_| ())
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

/// A transform's failure as the error handler sees it. Transforms are functions of the
/// record, so their failures are never retried (the record went into the failed attempt).
fn not_retriable(e: Box<TransformError>) -> ConnectError {
    match ConnectError::from(e) {
        ConnectError::External { message, .. } => ConnectError::External {
            message,
            retriable: false,
        },
        other => other,
    }
}

/// The one attempt at a failed transform: its error. A second attempt cannot happen (the
/// error is not retriable); were it made, it would say so.
fn once(e: Option<ConnectError>) -> std::future::Ready<std::result::Result<(), ConnectError>> {
    std::future::ready(Err(e.unwrap_or_else(|| {
        ConnectError::internal("a failed transformation was retried without its record")
    })))
}
