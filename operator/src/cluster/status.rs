//! The status of a ConnectCluster: worker counts from its StatefulSet, the REST URL, the plugins
//! its workers offer, and the `Ready` and `Progressing` conditions.

use ferry_crds::{ConnectCluster, ConnectClusterStatus, ConnectorPlugin, conditions};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::chrono::Utc;

use super::{label_selector, rest_url};

/// What the reconcile learned, from which [`status`] is computed.
pub struct Observed<'a> {
    /// The applied StatefulSet (with its status); `None` for an external cluster.
    pub stateful_set: Option<&'a StatefulSet>,
    /// `GET /connector-plugins`: the plugins, an error message, or `None` when not asked (no
    /// worker is ready yet).
    pub plugins: Option<Result<Vec<ConnectorPlugin>, String>>,
}

/// The status `cluster` should have. Plugins are kept from the last success when the REST API
/// cannot be asked or does not answer; `lastTransitionTime` is kept while a condition's status
/// stays the same, so an unchanged cluster yields an identical status (and no write).
pub fn status(cluster: &ConnectCluster, observed: &Observed<'_>) -> ConnectClusterStatus {
    let old = cluster.status.clone().unwrap_or_default();
    let plugins = match &observed.plugins {
        Some(Ok(p)) => p.clone(),
        _ => old.connector_plugins.clone(),
    };
    let mut new = ConnectClusterStatus {
        observed_generation: cluster.metadata.generation,
        rest_url: Some(rest_url(cluster)),
        connector_plugins: plugins,
        ..ConnectClusterStatus::default()
    };
    let mut conds: Vec<(&str, &str, &str, String)> = Vec::new();
    match observed.stateful_set {
        None => {
            let (s, reason, message) = match &observed.plugins {
                Some(Ok(p)) => (
                    conditions::TRUE,
                    "Reachable",
                    format!(
                        "the external cluster answers; {} connector plugins",
                        p.len()
                    ),
                ),
                Some(Err(e)) => (conditions::FALSE, "Unreachable", e.clone()),
                None => (conditions::UNKNOWN, "Pending", "not asked yet".to_owned()),
            };
            conds.push((conditions::READY, s, reason, message));
        }
        Some(sts) => {
            let want = cluster.spec.replicas;
            let st = sts.status.clone().unwrap_or_default();
            let ready = st.ready_replicas.unwrap_or(0);
            let updated = st.updated_replicas.unwrap_or(0);
            new.replicas = Some(st.replicas);
            new.ready_replicas = Some(ready);
            new.label_selector = Some(label_selector(cluster));
            let seen = st.observed_generation.unwrap_or(0) >= sts.metadata.generation.unwrap_or(0);
            let rolled_out = seen
                && st.replicas == want
                && updated == want
                && (st.update_revision.is_none() || st.current_revision == st.update_revision);
            let progress = format!("{updated}/{want} workers updated, {ready}/{want} ready");
            conds.push(if ready >= want && rolled_out {
                (
                    conditions::READY,
                    conditions::TRUE,
                    "Available",
                    format!("{ready}/{want} workers ready"),
                )
            } else if !rolled_out {
                (
                    conditions::READY,
                    conditions::FALSE,
                    "RollingOut",
                    progress.clone(),
                )
            } else {
                (
                    conditions::READY,
                    conditions::FALSE,
                    "WorkersNotReady",
                    format!("{ready}/{want} workers ready"),
                )
            });
            conds.push(if rolled_out {
                (
                    conditions::PROGRESSING,
                    conditions::FALSE,
                    "RolloutComplete",
                    progress,
                )
            } else {
                (
                    conditions::PROGRESSING,
                    conditions::TRUE,
                    "RollingOut",
                    progress,
                )
            });
        }
    }
    for (type_, s, reason, message) in conds {
        let last_transition_time = match old.conditions.iter().find(|c| c.type_ == type_) {
            Some(c) if c.status == s => c.last_transition_time.clone(),
            _ => Time(Utc::now()),
        };
        new.conditions.push(Condition {
            type_: type_.to_owned(),
            status: s.to_owned(),
            reason: reason.to_owned(),
            message,
            last_transition_time,
            observed_generation: cluster.metadata.generation,
        });
    }
    new
}

/// The status after a reconcile that could not apply the owned objects: the last status with
/// `Ready=False` (`reason`, `message`), so `kubectl get` shows why (e.g. the API server refused
/// the pod template built from the spec).
pub fn failed(cluster: &ConnectCluster, reason: &str, message: &str) -> ConnectClusterStatus {
    let mut new = cluster.status.clone().unwrap_or_default();
    new.observed_generation = cluster.metadata.generation;
    let last_transition_time = match new.conditions.iter().find(|c| c.type_ == conditions::READY) {
        Some(c) if c.status == conditions::FALSE => c.last_transition_time.clone(),
        _ => Time(Utc::now()),
    };
    new.conditions.retain(|c| c.type_ != conditions::READY);
    new.conditions.insert(
        0,
        Condition {
            type_: conditions::READY.to_owned(),
            status: conditions::FALSE.to_owned(),
            reason: reason.to_owned(),
            message: message.to_owned(),
            last_transition_time,
            observed_generation: cluster.metadata.generation,
        },
    );
    new
}

/// The `Ready` condition's (status, reason), if any.
pub fn ready_of(status: Option<&ConnectClusterStatus>) -> Option<(String, String, String)> {
    status?
        .conditions
        .iter()
        .find(|c| c.type_ == conditions::READY)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

#[cfg(test)]
mod tests {
    use ferry_crds::fixtures;
    use k8s_openapi::api::apps::v1::StatefulSetStatus;
    use kube::api::ObjectMeta;

    use super::*;

    fn sts(generation: i64, st: StatefulSetStatus) -> StatefulSet {
        StatefulSet {
            metadata: ObjectMeta {
                generation: Some(generation),
                ..ObjectMeta::default()
            },
            spec: None,
            status: Some(st),
        }
    }

    fn rolled(replicas: i32, ready: i32) -> StatefulSetStatus {
        StatefulSetStatus {
            observed_generation: Some(2),
            replicas,
            ready_replicas: Some(ready),
            updated_replicas: Some(replicas),
            current_revision: Some("r2".into()),
            update_revision: Some("r2".into()),
            ..StatefulSetStatus::default()
        }
    }

    #[test]
    fn deployed_cluster_conditions() {
        let cluster = fixtures::connect_cluster("c")
            .namespace("ns")
            .replicas(2)
            .build();
        let s = status(
            &cluster,
            &Observed {
                stateful_set: Some(&sts(2, rolled(2, 2))),
                plugins: None,
            },
        );
        assert_eq!(s.replicas, Some(2));
        assert_eq!(s.ready_replicas, Some(2));
        assert_eq!(s.observed_generation, Some(1));
        assert_eq!(
            s.rest_url.as_deref(),
            Some("http://c-connect-api.ns.svc:8083")
        );
        assert_eq!(
            s.label_selector.as_deref(),
            Some(
                "app.kubernetes.io/component=connect-worker,app.kubernetes.io/instance=c,app.kubernetes.io/name=ferry"
            )
        );
        assert_eq!(
            ready_of(Some(&s)),
            Some((
                "True".into(),
                "Available".into(),
                "2/2 workers ready".into()
            ))
        );

        let half = status(
            &cluster,
            &Observed {
                stateful_set: Some(&sts(2, rolled(2, 1))),
                plugins: None,
            },
        );
        assert_eq!(
            ready_of(Some(&half)).map(|r| r.1),
            Some("WorkersNotReady".into())
        );

        let rolling = StatefulSetStatus {
            updated_replicas: Some(1),
            current_revision: Some("r1".into()),
            ..rolled(2, 2)
        };
        let s = status(
            &cluster,
            &Observed {
                stateful_set: Some(&sts(2, rolling)),
                plugins: None,
            },
        );
        assert_eq!(
            ready_of(Some(&s)),
            Some((
                "False".into(),
                "RollingOut".into(),
                "1/2 workers updated, 2/2 ready".into()
            ))
        );
        let stale = status(
            &cluster,
            &Observed {
                stateful_set: Some(&sts(3, rolled(2, 2))),
                plugins: None,
            },
        );
        assert_eq!(
            ready_of(Some(&stale)).map(|r| r.1),
            Some("RollingOut".into())
        );
    }

    #[test]
    fn failures_keep_the_rest_of_the_status() {
        let mut cluster = fixtures::connect_cluster("c").build();
        let set = sts(2, rolled(1, 1));
        cluster.status = Some(status(
            &cluster,
            &Observed {
                stateful_set: Some(&set),
                plugins: None,
            },
        ));
        let f = failed(&cluster, "ApplyFailed", "StatefulSet refused");
        assert_eq!(f.ready_replicas, Some(1));
        assert_eq!(
            ready_of(Some(&f)),
            Some((
                "False".into(),
                "ApplyFailed".into(),
                "StatefulSet refused".into()
            ))
        );
        assert_eq!(f.conditions.len(), 2);
        cluster.status = Some(f.clone());
        assert_eq!(failed(&cluster, "ApplyFailed", "StatefulSet refused"), f);
    }

    #[test]
    fn unchanged_inputs_give_an_identical_status() {
        let mut cluster = fixtures::connect_cluster("c").build();
        let set = sts(2, rolled(1, 1));
        let observed = Observed {
            stateful_set: Some(&set),
            plugins: None,
        };
        let first = status(&cluster, &observed);
        cluster.status = Some(first.clone());
        assert_eq!(status(&cluster, &observed), first);
    }

    #[test]
    fn external_plugins_are_kept_when_unreachable() {
        let plugin = ConnectorPlugin {
            class: "FileStreamSink".into(),
            type_: "sink".into(),
            version: Some("1".into()),
        };
        let mut cluster = fixtures::connect_cluster("c")
            .external("http://x:8083/")
            .build();
        let ok = status(
            &cluster,
            &Observed {
                stateful_set: None,
                plugins: Some(Ok(vec![plugin.clone()])),
            },
        );
        assert_eq!(ok.rest_url.as_deref(), Some("http://x:8083"));
        assert_eq!(ok.replicas, None);
        assert_eq!(ready_of(Some(&ok)).map(|r| r.0), Some("True".into()));
        cluster.status = Some(ok);
        let down = status(
            &cluster,
            &Observed {
                stateful_set: None,
                plugins: Some(Err("connection refused".into())),
            },
        );
        assert_eq!(down.connector_plugins, vec![plugin]);
        assert_eq!(
            ready_of(Some(&down)),
            Some((
                "False".into(),
                "Unreachable".into(),
                "connection refused".into()
            ))
        );
    }
}
