//! Retries and tolerance: Kafka Connect's `RetryWithToleranceOperator`.
//!
//! An operation of a stage is retried while it fails with a retriable error, with
//! exponential backoff (300 ms, 600 ms, ... capped by `errors.retry.delay.max.ms`, past
//! which the wait is a random jitter below the cap) until `errors.retry.timeout` has
//! passed. What then failed is either skipped (`errors.tolerance=all`, for the stages that
//! allow it) or fails the task.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use super::config::{ErrorsConfig, ToleranceType};
use super::stage::Stage;
use crate::errors::{ConnectError, Result};

/// The first wait between two attempts, doubled after each one.
pub const RETRY_DELAY_MIN: Duration = Duration::from_millis(300);

/// An operation that failed and was tolerated: what the reporters need to know.
#[derive(Debug)]
pub struct Failure {
    pub stage: Stage,
    /// The class (or alias) that was executing, for `__connect.errors.class.name`.
    pub class: String,
    pub error: ConnectError,
    pub attempts: u32,
}

/// The result of a tolerated operation.
#[derive(Debug)]
pub enum Attempt<T> {
    Done(T),
    /// The record must be skipped and reported.
    Skipped(Failure),
}

/// Time as the operator sees it: tokio's clock, or a manual one in unit tests.
pub trait Clock: Send + Sync {
    /// Time since an arbitrary origin.
    fn now(&self) -> Duration;
    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()>;
}

/// The runtime's clock.
struct TokioClock(tokio::time::Instant);

impl Clock for TokioClock {
    fn now(&self) -> Duration {
        self.0.elapsed()
    }
    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(d))
    }
}

/// Runs operations with retries and decides what a failure means for the task.
pub struct RetryWithToleranceOperator {
    tolerance: ToleranceType,
    retry_timeout: Option<Duration>,
    delay_max: Duration,
    failures: u64,
    jitter: fn(Duration) -> Duration,
    clock: Arc<dyn Clock>,
    /// Counts each failed attempt that is retried and each retry, as Kafka's
    /// `ErrorHandlingMetrics` does (the last attempt is counted by the caller).
    metrics: Option<crate::metrics::TaskMetrics>,
}

impl std::fmt::Debug for RetryWithToleranceOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetryWithToleranceOperator")
            .field("tolerance", &self.tolerance)
            .field("retry_timeout", &self.retry_timeout)
            .field("delay_max", &self.delay_max)
            .field("failures", &self.failures)
            .finish()
    }
}

/// A random wait below `max` (Kafka: `ThreadLocalRandom.nextLong(max)`).
fn random_below(max: Duration) -> Duration {
    let ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(if ms == 0 { 0 } else { fastrand::u64(0..ms) })
}

impl RetryWithToleranceOperator {
    pub fn new(config: &ErrorsConfig) -> Self {
        RetryWithToleranceOperator {
            tolerance: config.tolerance,
            retry_timeout: config.retry_timeout,
            delay_max: config.retry_delay_max,
            failures: 0,
            jitter: random_below,
            clock: Arc::new(TokioClock(tokio::time::Instant::now())),
            metrics: None,
        }
    }

    /// Counts failed attempts and retries into `metrics`.
    pub fn with_metrics(mut self, metrics: crate::metrics::TaskMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// How many operations failed so far (tolerated or not).
    pub fn failures(&self) -> u64 {
        self.failures
    }

    /// Runs `op`, retrying retriable errors. `Ok(Attempt::Skipped)` means the failure is
    /// tolerated and the record must be dropped (and reported); `Err` means the task must
    /// fail, with the operation's error as the cause.
    pub async fn execute<T, E, F, Fut>(
        &mut self,
        stage: Stage,
        class: &str,
        mut op: F,
    ) -> Result<Attempt<T>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<T, E>>,
        E: Into<ConnectError>,
    {
        // Without retries (the default) the clock is never read: this runs for every record
        // and stage. With retries the window opens at the first attempt, as Kafka's does.
        let retries = self.retry_timeout != Some(Duration::ZERO);
        let deadline = match self.retry_timeout {
            Some(t) if retries => Some(self.clock.now().saturating_add(t)),
            _ => None,
        };
        let mut attempts = 0u32;
        let (error, exhausted) = loop {
            attempts = attempts.saturating_add(1);
            let error: ConnectError = match op().await {
                Ok(v) => return Ok(Attempt::Done(v)),
                Err(e) => e.into(),
            };
            if !error.retriable() {
                break (error, false);
            }
            if !retries {
                break (error, true);
            }
            let now = self.clock.now();
            if deadline.is_some_and(|d| now >= d) {
                break (error, true);
            }
            if let Some(m) = &self.metrics {
                m.record_failure();
                m.record_retry();
            }
            let wait = self.backoff(attempts, now, deadline);
            tracing::debug!(stage = %stage, class, attempts, error = %error, ?wait, "retriable failure; retrying");
            self.clock.sleep(wait).await;
        };
        self.failures += 1;
        // Kafka Connect skips a record whose retries ran out whatever the stage; any other
        // error is skipped only where the stage tolerates it.
        let tolerable = exhausted || stage.tolerates_any_error();
        if self.tolerance == ToleranceType::All && tolerable {
            return Ok(Attempt::Skipped(Failure {
                stage,
                class: class.to_owned(),
                error,
                attempts,
            }));
        }
        let message = if tolerable {
            "Tolerance exceeded in error handler"
        } else {
            "Unhandled exception in error handler"
        };
        Err(ConnectError::Tolerance {
            message: message.to_owned(),
            source: Box::new(error),
        })
    }

    /// The wait after failed attempt number `attempt` (from 1), never past `deadline`.
    fn backoff(&self, attempt: u32, now: Duration, deadline: Option<Duration>) -> Duration {
        let doubled = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .and_then(|f| RETRY_DELAY_MIN.checked_mul(f));
        let delay = match doubled {
            Some(d) if d <= self.delay_max => d,
            _ => (self.jitter)(self.delay_max),
        };
        match deadline {
            Some(d) => delay.min(d.saturating_sub(now)),
            None => delay,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// A clock that only moves when slept on: each test's timeline is exact.
    #[derive(Default)]
    struct ManualClock(Mutex<Duration>);

    impl Clock for ManualClock {
        fn now(&self) -> Duration {
            *self.0.lock().unwrap()
        }
        fn sleep(&self, d: Duration) -> BoxFuture<'static, ()> {
            *self.0.lock().unwrap() += d;
            Box::pin(async {})
        }
    }

    fn operator(
        tolerance: ToleranceType,
        timeout: Option<u64>,
        max: u64,
    ) -> RetryWithToleranceOperator {
        let mut op = RetryWithToleranceOperator::new(&ErrorsConfig {
            tolerance,
            retry_timeout: timeout.map(Duration::from_millis),
            retry_delay_max: Duration::from_millis(max),
            ..ErrorsConfig::default()
        });
        // Deterministic jitter: the cap itself.
        op.jitter = |max| max;
        op.clock = Arc::new(ManualClock::default());
        op
    }

    /// Runs an operation that fails `fail` times with `error()`, recording when (in ms
    /// since the start) each attempt ran.
    async fn run(
        op: &mut RetryWithToleranceOperator,
        stage: Stage,
        fail: usize,
        error: fn() -> ConnectError,
    ) -> (Result<Attempt<&'static str>>, Vec<u128>) {
        let clock = op.clock.clone();
        let start = clock.now();
        let times = Arc::new(Mutex::new(Vec::new()));
        let t = times.clone();
        let result = op
            .execute(stage, "org.example.Converter", move || {
                let t = t.clone();
                let at = (clock.now() - start).as_millis();
                async move {
                    let mut t = t.lock().unwrap();
                    t.push(at);
                    if t.len() <= fail {
                        Err(error())
                    } else {
                        Ok("ok")
                    }
                }
            })
            .await;
        let times = times.lock().unwrap().clone();
        (result, times)
    }

    fn retriable() -> ConnectError {
        ConnectError::external("registry unavailable", true)
    }

    fn bad_data() -> ConnectError {
        ConnectError::data("not JSON")
    }

    #[tokio::test]
    async fn backs_off_exponentially_until_the_timeout() {
        let mut op = operator(ToleranceType::All, Some(5_000), 60_000);
        let (result, times) = run(&mut op, Stage::ValueConverter, usize::MAX, retriable).await;
        // 300, 600, 1200, 2400 ms waits, then the last one is cut at the deadline.
        assert_eq!(times, [0, 300, 900, 2100, 4500, 5000]);
        let f = match result {
            Ok(Attempt::Skipped(f)) => f,
            other => panic!("{other:?}"),
        };
        assert_eq!(f.attempts, 6);
        assert_eq!(f.stage, Stage::ValueConverter);
        assert_eq!(f.class, "org.example.Converter");
        assert!(f.error.retriable());
        assert_eq!(op.failures(), 1);
    }

    #[tokio::test]
    async fn delay_is_capped_by_the_max_with_jitter_below_it() {
        let mut op = operator(ToleranceType::All, Some(4_000), 1_000);
        let (_, times) = run(&mut op, Stage::KeyConverter, usize::MAX, retriable).await;
        // 300, 600, then the cap (this test's jitter returns the cap itself).
        assert_eq!(times, [0, 300, 900, 1900, 2900, 3900, 4000]);
        // The real jitter stays below the cap.
        for _ in 0..100 {
            assert!(random_below(Duration::from_millis(1_000)) < Duration::from_millis(1_000));
        }
        assert_eq!(random_below(Duration::ZERO), Duration::ZERO);
    }

    #[tokio::test]
    async fn a_retried_operation_that_succeeds_is_not_a_failure() {
        let mut op = operator(ToleranceType::None, Some(60_000), 60_000);
        let (result, times) = run(&mut op, Stage::KafkaProduce, 2, retriable).await;
        assert!(matches!(result, Ok(Attempt::Done("ok"))), "{result:?}");
        assert_eq!(times, [0, 300, 900]);
        assert_eq!(op.failures(), 0);
    }

    #[tokio::test]
    async fn zero_timeout_never_retries_and_minus_one_retries_forever() {
        let mut op = operator(ToleranceType::All, Some(0), 60_000);
        let (result, times) = run(&mut op, Stage::ValueConverter, 1, retriable).await;
        assert!(matches!(result, Ok(Attempt::Skipped(_))), "{result:?}");
        assert_eq!(times, [0]);

        let mut op = operator(ToleranceType::None, None, 60_000);
        let (result, times) = run(&mut op, Stage::ValueConverter, 20, retriable).await;
        assert!(matches!(result, Ok(Attempt::Done("ok"))), "{result:?}");
        assert_eq!(times.len(), 21);
        // 300 ms doubled up to the 60 s cap, then the cap.
        assert_eq!(times[8], 300 * 255);
        assert_eq!(times[9] - times[8], 60_000);
        assert_eq!(times[20] - times[19], 60_000);
    }

    #[tokio::test]
    async fn non_retriable_errors_are_not_retried() {
        let mut op = operator(ToleranceType::All, Some(60_000), 60_000);
        let (result, times) = run(&mut op, Stage::ValueConverter, 1, bad_data).await;
        assert_eq!(times, [0]);
        let f = match result {
            Ok(Attempt::Skipped(f)) => f,
            other => panic!("{other:?}"),
        };
        assert_eq!(f.error.to_string(), "not JSON");
        assert_eq!(f.attempts, 1);
    }

    #[tokio::test]
    async fn tolerance_none_fails_with_the_cause() {
        let mut op = operator(ToleranceType::None, Some(0), 60_000);
        let (result, _) = run(&mut op, Stage::ValueConverter, 1, bad_data).await;
        let e = result.unwrap_err();
        assert_eq!(
            e.trace(),
            "org.apache.kafka.connect.errors.ConnectException: Tolerance exceeded in error handler\n\
             Caused by: org.apache.kafka.connect.errors.DataException: not JSON"
        );
        assert_eq!(op.failures(), 1);
    }

    #[tokio::test]
    async fn only_conversion_and_transformation_failures_are_tolerated() {
        for stage in [Stage::Transformation, Stage::HeaderConverter] {
            let mut op = operator(ToleranceType::All, Some(0), 60_000);
            let (result, _) = run(&mut op, stage, 1, bad_data).await;
            assert!(matches!(result, Ok(Attempt::Skipped(_))), "{stage}");
        }
        for stage in [Stage::TaskPut, Stage::KafkaProduce, Stage::TaskPoll] {
            let mut op = operator(ToleranceType::All, Some(0), 60_000);
            let (result, _) = run(&mut op, stage, 1, bad_data).await;
            let e = result.unwrap_err();
            assert_eq!(
                e.to_string(),
                "Unhandled exception in error handler",
                "{stage}"
            );
            // Retriable errors whose retries ran out are skipped at any stage, as in Kafka.
            let (result, _) = run(&mut op, stage, 1, retriable).await;
            assert!(matches!(result, Ok(Attempt::Skipped(_))), "{stage}");
        }
    }
}
