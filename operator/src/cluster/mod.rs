//! The ConnectCluster controller: deploys each non-external `ConnectCluster` as a StatefulSet of
//! `ferry distributed` workers with its ConfigMap, Services and PodDisruptionBudget, and reports
//! the workers' state (and, for every cluster, its REST URL and plugins) in the status.
//!
//! Every owned object is written with server-side apply under [`FIELD_MANAGER`] and carries a
//! controller owner reference, so deleting the ConnectCluster deletes them (Kubernetes' garbage
//! collector does it; the controller needs no finalizer). An external cluster owns nothing.

mod config_map;
mod headless_service;
mod pdb;
mod rest_service;
mod stateful_set;
mod status;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use ferry_crds::{ConnectCluster, ConnectClusterStatus};
use futures::StreamExt;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{ListParams, ObjectMeta, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType};
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::{debug, info, warn};

pub use config_map::{
    DEFAULT_CONVERTER, OPERATOR_KEYS, WORKER_PROPERTIES, config_hash, config_map, render,
    worker_properties,
};
pub use headless_service::headless_service;
pub use pdb::pod_disruption_budget;
pub use rest_service::rest_service;
pub use stateful_set::{CONFIG_DIR, CONTAINER, DEFAULT_USER, stateful_set};
pub use status::{Observed, failed, ready_of, status};

use crate::Context;
use crate::controller::{Error, keep_transition_times, patch_status, truncate};
use crate::rest::ConnectRest;

/// The field manager of every server-side apply the controller makes.
pub const FIELD_MANAGER: &str = "ferry-operator";

/// The pod annotation holding [`config_hash`] of the worker properties.
pub const CONFIG_HASH_ANNOTATION: &str = "ferry.dev/config-hash";

/// The name of the REST port on the container and the Services.
pub const REST_PORT_NAME: &str = "rest";

/// The label every owned object carries (and the owned-object watches select on).
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "ferry-operator");

/// How often a healthy deployed cluster's status is refreshed when nothing it watches changes
/// (external clusters are polled every `Settings::requeue_after`).
pub const HEALTHY_REQUEUE: Duration = Duration::from_secs(300);

/// Name of the StatefulSet, the headless Service and the PodDisruptionBudget of cluster `name`.
pub fn workers_name(name: &str) -> String {
    format!("{name}-connect")
}

/// Name of the REST Service of cluster `name`.
pub fn rest_service_name(name: &str) -> String {
    format!("{name}-connect-api")
}

/// Name of the worker ConfigMap of cluster `name`.
pub fn config_map_name(name: &str) -> String {
    format!("{name}-connect-config")
}

/// The labels that select the worker pods of `cluster`.
pub fn selector_labels(cluster: &ConnectCluster) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), "ferry".to_owned()),
        ("app.kubernetes.io/instance".to_owned(), cluster.name_any()),
        (
            "app.kubernetes.io/component".to_owned(),
            "connect-worker".to_owned(),
        ),
    ])
}

/// [`selector_labels`] as a label selector string (`status.labelSelector`, for autoscalers).
pub fn label_selector(cluster: &ConnectCluster) -> String {
    selector_labels(cluster)
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The REST URL of `cluster`: `spec.external` without a trailing slash, else its REST Service,
/// `http://<name>-connect-api.<namespace>.svc:<restPort>`.
pub fn rest_url(cluster: &ConnectCluster) -> String {
    match &cluster.spec.external {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => format!(
            "http://{}.{}.svc:{}",
            rest_service_name(&cluster.name_any()),
            cluster.namespace().unwrap_or_default(),
            cluster.spec.rest_port
        ),
    }
}

/// Metadata of an owned object: name, namespace, labels and the controller owner reference.
fn object_meta(cluster: &ConnectCluster, name: String) -> Result<ObjectMeta, Error> {
    let owner = cluster
        .controller_owner_ref(&())
        .ok_or(Error::Missing("metadata.uid"))?;
    let mut labels = selector_labels(cluster);
    labels.insert(MANAGED_BY.0.to_owned(), MANAGED_BY.1.to_owned());
    Ok(ObjectMeta {
        name: Some(name),
        namespace: cluster.namespace(),
        labels: Some(labels),
        owner_references: Some(vec![owner]),
        ..ObjectMeta::default()
    })
}

fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Runs the ConnectCluster controller until the watch stream ends (i.e. forever, or until
/// shutdown).
pub async fn run(ctx: Arc<Context>) {
    let client = ctx.client.clone();
    let ns = ctx.settings.namespace.as_deref();
    let clusters: Api<ConnectCluster> = api(&client, ns);
    if let Err(e) = clusters.list(&ListParams::default().limit(1)).await {
        warn!("cannot list ConnectClusters (are the CRDs installed?): {e}");
    }
    info!(namespace = ?ns, "starting the ConnectCluster controller");
    let owned = watcher::Config::default().labels(&format!("{}={}", MANAGED_BY.0, MANAGED_BY.1));
    Controller::new(clusters, watcher::Config::default().any_semantic())
        .owns(api::<StatefulSet>(&client, ns), owned.clone())
        .owns(api::<Service>(&client, ns), owned.clone())
        .owns(api::<ConfigMap>(&client, ns), owned.clone())
        .owns(api::<PodDisruptionBudget>(&client, ns), owned)
        .shutdown_on_signal()
        .run(reconcile, error_policy, ctx)
        .for_each(|res| async move {
            match res {
                Ok((obj, _)) => debug!("reconciled {obj}"),
                Err(e) => debug!("reconcile failed: {e}"),
            }
        })
        .await;
}

fn key(cluster: &ConnectCluster) -> String {
    format!(
        "ConnectCluster/{}/{}",
        cluster.namespace().unwrap_or_default(),
        cluster.name_any()
    )
}

/// Reconciles one ConnectCluster: applies its owned objects (unless external), then its status.
pub async fn reconcile(cluster: Arc<ConnectCluster>, ctx: Arc<Context>) -> Result<Action, Error> {
    let _timer = ctx.cluster_metrics.count_and_measure();
    let limit = ctx.settings.reconcile_timeout();
    let out = match tokio::time::timeout(limit, apply(&cluster, &ctx)).await {
        Err(_) => Err(Error::Timeout(limit)),
        Ok(r) => r,
    };
    if out.is_ok() {
        ctx.reset_backoff(&key(&cluster));
    }
    out
}

/// Requeues a failed reconcile with exponential backoff per object (1 s doubling to 60 s).
pub fn error_policy(cluster: Arc<ConnectCluster>, err: &Error, ctx: Arc<Context>) -> Action {
    warn!(cluster = %key(&cluster), "reconcile failed: {err}");
    ctx.cluster_metrics.reconcile_failure(err.metric_label());
    let attempt = ctx.bump_backoff(&key(&cluster));
    let delay = Duration::from_secs(1).saturating_mul(1 << attempt.min(6));
    Action::requeue(delay.min(Duration::from_secs(60)))
}

async fn apply(cluster: &ConnectCluster, ctx: &Context) -> Result<Action, Error> {
    if cluster.meta().deletion_timestamp.is_some() {
        // The garbage collector deletes the owned objects.
        return Ok(Action::await_change());
    }
    let ns = cluster.namespace().ok_or(Error::Missing("namespace"))?;
    let sts = if cluster.spec.external.is_some() {
        None
    } else {
        match apply_owned(cluster, ctx, &ns).await {
            Ok(sts) => Some(sts),
            Err(e) => {
                // Say why in the status: typically the API server refused an object built
                // from the spec (a bad template, resources, env...).
                let new = failed(cluster, "ApplyFailed", &truncate(&e.to_string(), 1024));
                if let Err(we) = write_status(ctx, cluster, new).await {
                    warn!(cluster = %key(cluster), "cannot write status: {we}");
                }
                return Err(e);
            }
        }
    };
    // Ask the workers only when one can answer: a deployed cluster with no Ready worker would
    // only cost a timeout.
    let ask = sts.as_ref().is_none_or(|s| {
        s.status
            .as_ref()
            .and_then(|st| st.ready_replicas)
            .unwrap_or(0)
            > 0
    });
    let plugins = if ask {
        let url = rest_url(cluster);
        Some(
            ConnectRest::new(&ctx.http, &url)
                .connector_plugins()
                .await
                .map_err(|e| e.to_string()),
        )
    } else {
        None
    };
    if let Some(Err(e)) = &plugins {
        debug!(cluster = %key(cluster), "GET /connector-plugins failed: {e}");
    }
    let new = status(
        cluster,
        &Observed {
            stateful_set: sts.as_ref(),
            plugins,
        },
    );
    let healthy = ready_of(Some(&new)).is_some_and(|r| r.0 == ferry_crds::conditions::TRUE);
    write_status(ctx, cluster, new).await?;
    // Nothing notifies the operator when an external cluster goes away: poll it. A deployed
    // cluster's StatefulSet is watched.
    Ok(Action::requeue(
        if healthy && cluster.spec.external.is_none() {
            HEALTHY_REQUEUE
        } else {
            ctx.settings.requeue_after
        },
    ))
}

/// Applies the ConfigMap, Services, PodDisruptionBudget and StatefulSet; returns the
/// StatefulSet as the API server has it (with its status).
async fn apply_owned(
    cluster: &ConnectCluster,
    ctx: &Context,
    ns: &str,
) -> Result<StatefulSet, Error> {
    let props = render(cluster, &worker_properties(cluster));
    let hash = config_hash(&props);
    let client = &ctx.client;
    // The ConfigMap before the StatefulSet, so new pods mount the new properties.
    ssa(client, ns, &config_map(cluster, &props)?).await?;
    ssa(client, ns, &headless_service(cluster)?).await?;
    ssa(client, ns, &rest_service(cluster)?).await?;
    ssa(client, ns, &pod_disruption_budget(cluster)?).await?;
    ssa(client, ns, &stateful_set(cluster, &hash)?).await
}

/// Server-side apply of `obj` under [`FIELD_MANAGER`], taking over conflicting fields.
async fn ssa<K>(client: &Client, ns: &str, obj: &K) -> Result<K, Error>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Clone
        + Debug
        + Serialize
        + DeserializeOwned,
{
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    Ok(api
        .patch(
            &obj.name_any(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(obj),
        )
        .await?)
}

/// Writes `status` through the status subresource, unless the object has it already, and
/// publishes the Event of a `Ready` transition it makes.
async fn write_status(
    ctx: &Context,
    cluster: &ConnectCluster,
    mut status: ConnectClusterStatus,
) -> Result<(), Error> {
    if cluster.status.as_ref() == Some(&status) {
        return Ok(());
    }
    // The cached object can lag behind this operator's own last write; compare with the
    // server's copy so a stale cache does not rewrite a status (and its transition times).
    let api: Api<ConnectCluster> =
        Api::namespaced(ctx.client.clone(), &cluster.namespace().unwrap_or_default());
    let current = api.get(&cluster.name_any()).await?.status;
    if let Some(current) = &current {
        keep_transition_times(&current.conditions, &mut status.conditions);
    }
    if current.as_ref() == Some(&status) {
        return Ok(());
    }
    report_transition(ctx, cluster, current.as_ref(), &status).await;
    let fields = [
        "observedGeneration",
        "replicas",
        "readyReplicas",
        "labelSelector",
        "restUrl",
        "connectorPlugins",
        "conditions",
    ];
    patch_status(&ctx.client, cluster, &status, &fields).await
}

/// Publishes an Event when `Ready` changes: Normal when it turns True, Warning otherwise.
/// `before` is the status the API server holds (the informer's copy can lag behind this
/// operator's own last write and so repeat an Event).
async fn report_transition(
    ctx: &Context,
    cluster: &ConnectCluster,
    before: Option<&ConnectClusterStatus>,
    new: &ConnectClusterStatus,
) {
    let before = ready_of(before).map(|r| (r.0, r.1));
    let Some((s, reason, message)) = ready_of(Some(new)) else {
        return;
    };
    if before.as_ref() == Some(&(s.clone(), reason.clone())) {
        return;
    }
    let type_ = if s == ferry_crds::conditions::TRUE {
        EventType::Normal
    } else if matches!(reason.as_str(), "RollingOut" | "Pending") {
        // A rollout is routine, not a warning.
        EventType::Normal
    } else {
        EventType::Warning
    };
    let ev = Event {
        type_,
        reason: reason.clone(),
        note: Some(truncate(&message, 1000)),
        action: "Reconcile".into(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&ev, &cluster.object_ref(&())).await {
        warn!(cluster = %key(cluster), "cannot publish event {reason}: {e}");
    }
}

#[cfg(test)]
mod tests {
    use ferry_crds::fixtures;

    use super::*;

    #[test]
    fn names_and_urls() {
        let c = fixtures::connect_cluster("sync")
            .namespace("data")
            .rest_port(8084)
            .build();
        assert_eq!(workers_name("sync"), "sync-connect");
        assert_eq!(rest_url(&c), "http://sync-connect-api.data.svc:8084");
        let meta = object_meta(&c, "x".into()).expect("meta");
        let owner = &meta.owner_references.expect("owner")[0];
        assert_eq!(
            (
                owner.kind.as_str(),
                owner.name.as_str(),
                owner.uid.as_str(),
                owner.controller
            ),
            ("ConnectCluster", "sync", "uid-sync", Some(true))
        );
        assert_eq!(
            meta.labels.expect("labels")["app.kubernetes.io/managed-by"],
            "ferry-operator"
        );
    }
}
