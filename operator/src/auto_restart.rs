//! Automatic restarts of failed connectors and tasks (`spec.autoRestart`).
//!
//! The backoff state lives in `status.autoRestart` (`count`, `lastRestartTime`), not in the
//! operator's memory, so a restarted operator neither forgets the backoff nor repeats a restart.
//! The delay before restart `n + 1` is `base × 2ⁿ`, capped at `max` (10 s doubling to 10 min by
//! default), measured from the last restart, or for the first one from when `Ready` turned
//! False. The count goes back to 0 once `Ready` has been True for `healthy_period`.

use std::time::Duration;

use ferry_crds::{AutoRestartSpec, AutoRestartStatus, ConnectorState, ConnectorStatusReport};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::chrono::{DateTime, Utc};

/// The timing of automatic restarts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timing {
    /// Delay before the first restart, doubled for every further one.
    pub base: Duration,
    /// Longest delay between two restarts.
    pub max: Duration,
    /// How long a connector must stay Ready before its restart count goes back to 0.
    pub healthy_period: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(10),
            max: Duration::from_secs(600),
            healthy_period: Duration::from_secs(600),
        }
    }
}

impl Timing {
    /// The delay after `count` restarts: `base × 2^count`, at most `max`.
    pub fn delay(&self, count: i32) -> Duration {
        let exp = u32::try_from(count.clamp(0, 30)).unwrap_or(30);
        self.base
            .checked_mul(1u32 << exp)
            .unwrap_or(self.max)
            .min(self.max)
    }
}

/// What to do about a connector's failures in this reconcile.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Nothing: no failure, auto-restart disabled, or a state other than running wanted.
    Nothing,
    /// Restart now and record `next` as `status.autoRestart`.
    RestartNow { next: AutoRestartStatus },
    /// A restart is due after this long.
    Wait(Duration),
    /// `spec.autoRestart.maxRestarts` restarts were done; no more.
    GaveUp { count: i32 },
    /// Ready for the healthy period: record `next` (count 0).
    Reset { next: AutoRestartStatus },
}

/// Whether the connector or one of its tasks is FAILED.
pub fn failed(report: Option<&ConnectorStatusReport>) -> bool {
    report.is_some_and(|r| {
        r.connector.state == "FAILED" || r.tasks.iter().any(|t| t.state == "FAILED")
    })
}

/// Decides about an automatic restart. `ready` is the `Ready` condition computed for `report`
/// in this reconcile; `state` the restarts done so far.
pub fn decide(
    spec: &AutoRestartSpec,
    desired: ConnectorState,
    report: Option<&ConnectorStatusReport>,
    ready: Option<&Condition>,
    state: Option<&AutoRestartStatus>,
    backoff: &Timing,
    now: DateTime<Utc>,
) -> Decision {
    let current = state.cloned().unwrap_or_default();
    if !failed(report) {
        let healthy_since = ready
            .filter(|c| c.status == ferry_crds::conditions::TRUE)
            .map(|c| c.last_transition_time.0);
        return match healthy_since {
            Some(since) if current.count > 0 && elapsed(since, now) >= backoff.healthy_period => {
                Decision::Reset {
                    next: AutoRestartStatus {
                        count: 0,
                        ..current
                    },
                }
            }
            _ => Decision::Nothing,
        };
    }
    if !spec.enabled || desired != ConnectorState::Running {
        return Decision::Nothing;
    }
    if let Some(max) = spec.max_restarts {
        if current.count >= max {
            return Decision::GaveUp {
                count: current.count,
            };
        }
    }
    let anchor = match (&current.last_restart_time, current.count) {
        (Some(t), n) if n > 0 => t.0,
        // The first restart of a series: measured from when Ready turned False.
        _ => ready
            .filter(|c| c.status != ferry_crds::conditions::TRUE)
            .map_or(now, |c| c.last_transition_time.0),
    };
    let delay = backoff.delay(current.count);
    let waited = elapsed(anchor, now);
    if waited >= delay {
        Decision::RestartNow {
            next: AutoRestartStatus {
                count: current.count.saturating_add(1),
                last_restart_time: Some(Time(now)),
            },
        }
    } else {
        Decision::Wait(delay - waited)
    }
}

/// `now - since`, or zero when `since` is in the future (clock skew).
fn elapsed(since: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    now.signed_duration_since(since)
        .to_std()
        .unwrap_or(Duration::ZERO)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use ferry_crds::{TaskStatusReport, WorkerStatus};
    use k8s_openapi::chrono::TimeDelta;

    use super::*;

    fn report(task: &str) -> ConnectorStatusReport {
        ConnectorStatusReport {
            name: "c".into(),
            connector: WorkerStatus {
                state: "RUNNING".into(),
                worker_id: "w:8083".into(),
                trace: None,
            },
            tasks: vec![TaskStatusReport {
                id: 0,
                state: task.into(),
                worker_id: "w:8083".into(),
                trace: Some("boom".into()),
            }],
            type_: None,
        }
    }

    fn ready(status: &str, since: DateTime<Utc>) -> Condition {
        Condition {
            type_: "Ready".into(),
            status: status.into(),
            reason: "TaskFailed".into(),
            message: String::new(),
            last_transition_time: Time(since),
            observed_generation: None,
        }
    }

    fn restarts(count: i32, at: DateTime<Utc>) -> AutoRestartStatus {
        AutoRestartStatus {
            count,
            last_restart_time: Some(Time(at)),
        }
    }

    fn secs(n: i64) -> TimeDelta {
        TimeDelta::seconds(n)
    }

    #[test]
    fn delays_double_from_ten_seconds_to_ten_minutes() {
        let b = Timing::default();
        let got: Vec<u64> = (0..9).map(|n| b.delay(n).as_secs()).collect();
        assert_eq!(got, [10, 20, 40, 80, 160, 320, 600, 600, 600]);
        assert_eq!(b.delay(i32::MAX).as_secs(), 600);
        assert_eq!(b.delay(-1).as_secs(), 10);
    }

    #[test]
    fn first_restart_comes_base_after_ready_turned_false() {
        let now = Utc::now();
        let spec = AutoRestartSpec::default();
        let b = Timing::default();
        let failed = report("FAILED");
        let cond = ready("False", now - secs(4));
        let d = decide(
            &spec,
            ConnectorState::Running,
            Some(&failed),
            Some(&cond),
            None,
            &b,
            now,
        );
        assert_eq!(d, Decision::Wait(Duration::from_secs(6)));
        let cond = ready("False", now - secs(10));
        let d = decide(
            &spec,
            ConnectorState::Running,
            Some(&failed),
            Some(&cond),
            None,
            &b,
            now,
        );
        assert_eq!(
            d,
            Decision::RestartNow {
                next: restarts(1, now)
            }
        );
    }

    #[test]
    fn later_restarts_wait_the_doubled_delay_after_the_last_one() {
        let now = Utc::now();
        let spec = AutoRestartSpec::default();
        let b = Timing::default();
        let failed = report("FAILED");
        let cond = ready("False", now - secs(3600));
        let state = restarts(2, now - secs(30));
        let d = decide(
            &spec,
            ConnectorState::Running,
            Some(&failed),
            Some(&cond),
            Some(&state),
            &b,
            now,
        );
        assert_eq!(d, Decision::Wait(Duration::from_secs(10)));
        let state = restarts(2, now - secs(40));
        let d = decide(
            &spec,
            ConnectorState::Running,
            Some(&failed),
            Some(&cond),
            Some(&state),
            &b,
            now,
        );
        assert_eq!(
            d,
            Decision::RestartNow {
                next: restarts(3, now)
            }
        );
    }

    #[test]
    fn no_restart_when_disabled_not_running_or_at_the_limit() {
        let now = Utc::now();
        let b = Timing::default();
        let failed = report("FAILED");
        let cond = ready("False", now - secs(3600));
        let off = AutoRestartSpec {
            enabled: false,
            max_restarts: None,
        };
        let run = ConnectorState::Running;
        assert_eq!(
            decide(&off, run, Some(&failed), Some(&cond), None, &b, now),
            Decision::Nothing
        );
        let on = AutoRestartSpec::default();
        assert_eq!(
            decide(
                &on,
                ConnectorState::Paused,
                Some(&failed),
                Some(&cond),
                None,
                &b,
                now
            ),
            Decision::Nothing
        );
        let limited = AutoRestartSpec {
            enabled: true,
            max_restarts: Some(2),
        };
        let state = restarts(2, now - secs(3600));
        assert_eq!(
            decide(
                &limited,
                run,
                Some(&failed),
                Some(&cond),
                Some(&state),
                &b,
                now
            ),
            Decision::GaveUp { count: 2 }
        );
        let zero = AutoRestartSpec {
            enabled: true,
            max_restarts: Some(0),
        };
        assert_eq!(
            decide(&zero, run, Some(&failed), Some(&cond), None, &b, now),
            Decision::GaveUp { count: 0 }
        );
    }

    #[test]
    fn count_resets_after_the_healthy_period() {
        let now = Utc::now();
        let spec = AutoRestartSpec::default();
        let b = Timing::default();
        let running = report("RUNNING");
        let state = restarts(3, now - secs(700));
        let recent = ready("True", now - secs(599));
        assert_eq!(
            decide(
                &spec,
                ConnectorState::Running,
                Some(&running),
                Some(&recent),
                Some(&state),
                &b,
                now
            ),
            Decision::Nothing
        );
        let long = ready("True", now - secs(600));
        assert_eq!(
            decide(
                &spec,
                ConnectorState::Running,
                Some(&running),
                Some(&long),
                Some(&state),
                &b,
                now
            ),
            Decision::Reset {
                next: AutoRestartStatus {
                    count: 0,
                    last_restart_time: state.last_restart_time.clone()
                }
            }
        );
        // Already at 0: nothing to write.
        let zero = restarts(0, now - secs(700));
        assert_eq!(
            decide(
                &spec,
                ConnectorState::Running,
                Some(&running),
                Some(&long),
                Some(&zero),
                &b,
                now
            ),
            Decision::Nothing
        );
    }
}
