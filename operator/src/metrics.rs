//! Prometheus metrics of the controllers, served on `/metrics`.

use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Labels of the failure counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// The kind of error (see `Error::metric_label`).
    pub error: String,
}

/// The operator's metrics.
#[derive(Clone)]
pub struct Metrics {
    /// Reconciles started.
    pub reconciliations: Counter,
    /// Reconciles that failed, by error kind.
    pub failures: Family<ErrorLabels, Counter>,
    /// How long reconciles take, in seconds.
    pub reconcile_duration: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            reconciliations: Counter::default(),
            failures: Family::default(),
            reconcile_duration: Histogram::new([
                0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
        }
    }
}

impl Metrics {
    /// Registers every metric of the Connector controller under the `ferry_operator_connector`
    /// prefix.
    pub fn register(self, registry: &mut Registry) -> Self {
        self.register_as(registry, "connector", "Connector")
    }

    /// Registers every metric as `ferry_operator_{prefix}_...`, described for `kind` resources.
    pub fn register_as(self, registry: &mut Registry, prefix: &str, kind: &str) -> Self {
        let sub = registry.sub_registry_with_prefix("ferry_operator");
        sub.register(
            format!("{prefix}_reconciliations"),
            format!("{kind} reconciles started"),
            self.reconciliations.clone(),
        );
        sub.register(
            format!("{prefix}_reconcile_failures"),
            format!("{kind} reconciles that failed, by error kind"),
            self.failures.clone(),
        );
        sub.register(
            format!("{prefix}_reconcile_duration_seconds"),
            format!("Duration of {kind} reconciles"),
            self.reconcile_duration.clone(),
        );
        self
    }

    /// Counts a reconcile and times it until the returned guard drops.
    pub fn count_and_measure(&self) -> ReconcileTimer {
        self.reconciliations.inc();
        ReconcileTimer {
            start: Instant::now(),
            histogram: self.reconcile_duration.clone(),
        }
    }

    /// Counts a failed reconcile.
    pub fn reconcile_failure(&self, error: &str) {
        self.failures
            .get_or_create(&ErrorLabels {
                error: error.to_owned(),
            })
            .inc();
    }
}

/// Observes the elapsed time into the duration histogram on drop.
pub struct ReconcileTimer {
    start: Instant,
    histogram: Histogram,
}

impl Drop for ReconcileTimer {
    fn drop(&mut self) {
        self.histogram.observe(self.start.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_encode() {
        let mut registry = Registry::default();
        let metrics = Metrics::default().register(&mut registry);
        drop(metrics.count_and_measure());
        metrics.reconcile_failure("rest");
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry).expect("encode");
        assert!(
            out.contains("ferry_operator_connector_reconciliations_total 1"),
            "{out}"
        );
        assert!(out.contains("error=\"rest\""), "{out}");
        assert!(
            out.contains("ferry_operator_connector_reconcile_duration_seconds_count 1"),
            "{out}"
        );
    }
}
