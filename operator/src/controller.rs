//! The Connector controller: keeps each `Connector` in step with the connector of the same name on
//! its `ConnectCluster`, over the cluster's REST API.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_crds::{
    AutoRestartStatus, ConnectCluster, Connector, ConnectorState, ConnectorStatus,
    ConnectorStatusReport, annotations, conditions,
};
use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::chrono::Utc;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::{Value, json};
use tracing::{debug, info, warn};

use crate::Context;
use crate::auto_restart::{self, Decision, Timing};
use crate::rest::{ConnectRest, RestError};

/// The finalizer the operator puts on every Connector, so it can delete the connector from its
/// cluster before the object goes away.
pub const FINALIZER: &str = "ferry.dev/connector";

/// Why a reconcile failed (then `error_policy` retries it with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Kubernetes API call failed.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// A call to the Connect cluster failed.
    #[error(transparent)]
    Rest(#[from] RestError),
    /// Adding or removing the finalizer failed, or the apply/cleanup inside it.
    #[error("{0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
    /// The reconcile took longer than its bound.
    #[error("reconcile did not finish within {0:?}")]
    Timeout(Duration),
    /// The status could not be serialised.
    #[error("cannot serialise status: {0}")]
    Serialize(#[from] serde_json::Error),
    /// The object lacks a field the API server always sets.
    #[error("object has no {0}")]
    Missing(&'static str),
}

impl Error {
    /// The error behind the finalizer wrapper.
    pub fn inner(&self) -> &Error {
        use kube::runtime::finalizer::Error as F;
        match self {
            Self::Finalizer(f) => match f.as_ref() {
                F::ApplyFailed(e) | F::CleanupFailed(e) => e.inner(),
                _ => self,
            },
            _ => self,
        }
    }

    /// A short label for the failure metric.
    pub fn metric_label(&self) -> &'static str {
        match self.inner() {
            Self::Kube(_) => "kube",
            Self::Rest(RestError::Unreachable { .. }) => "unreachable",
            Self::Rest(e) if e.is_conflict() => "rebalance",
            Self::Rest(_) => "rest",
            Self::Finalizer(_) => "finalizer",
            Self::Timeout(_) => "timeout",
            Self::Missing(_) | Self::Serialize(_) => "invalid_object",
        }
    }

    /// Whether the workers answered 409 (a rebalance is in progress).
    pub fn is_conflict(&self) -> bool {
        matches!(self.inner(), Self::Rest(e) if e.is_conflict())
    }
}

/// How the controller behaves; [`Settings::default`] suits production.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Watch only this namespace (`None`: all namespaces).
    pub namespace: Option<String>,
    /// Requeue period of a healthy Connector, to refresh its status.
    pub requeue_after: Duration,
    /// Timeout of every REST call to a Connect cluster.
    pub rest_timeout: Duration,
    /// How long a deletion keeps retrying a cluster that answers 409 before the finalizer is
    /// removed anyway.
    pub cleanup_grace: Duration,
    /// Timing of automatic restarts (`spec.autoRestart`).
    pub auto_restart: Timing,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            namespace: None,
            requeue_after: Duration::from_secs(10),
            rest_timeout: Duration::from_secs(10),
            cleanup_grace: Duration::from_secs(60),
            auto_restart: Timing::default(),
        }
    }
}

impl Settings {
    /// The bound of one whole reconcile: a handful of REST calls plus Kubernetes calls.
    pub fn reconcile_timeout(&self) -> Duration {
        self.rest_timeout * 8
    }
}

/// Runs the Connector controller until the watch stream ends (i.e. forever, or until shutdown).
pub async fn run(ctx: Arc<Context>) {
    let client = ctx.client.clone();
    let connectors: Api<Connector> = match &ctx.settings.namespace {
        Some(ns) => Api::namespaced(client, ns),
        None => Api::all(client),
    };
    if let Err(e) = connectors
        .list(&kube::api::ListParams::default().limit(1))
        .await
    {
        warn!("cannot list Connectors (are the CRDs installed?): {e}");
    }
    let clusters: Api<ConnectCluster> = match &ctx.settings.namespace {
        Some(ns) => Api::namespaced(ctx.client.clone(), ns),
        None => Api::all(ctx.client.clone()),
    };
    info!(namespace = ?ctx.settings.namespace, "starting the Connector controller");
    let controller = Controller::new(connectors, watcher::Config::default().any_semantic());
    let store = controller.store();
    // A changed ConnectCluster (e.g. a new external URL or allowedNamespaces) reconciles the
    // Connectors that reference it at once, rather than at their next periodic requeue.
    controller
        .watches(clusters, watcher::Config::default(), move |cluster| {
            let name = cluster.name_any();
            let ns = cluster.namespace().unwrap_or_default();
            store
                .state()
                .into_iter()
                .filter(|c| references(c, &ns, &name))
                .map(|c| ObjectRef::from_obj(c.as_ref()))
                .collect::<Vec<_>>()
        })
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

/// Whether `conn` references the ConnectCluster `ns/name`.
fn references(conn: &Connector, ns: &str, name: &str) -> bool {
    let r = &conn.spec.cluster_ref;
    let ref_ns = r.namespace.clone().or_else(|| conn.namespace());
    r.name == name && ref_ns.as_deref() == Some(ns)
}

fn key(conn: &Connector) -> String {
    format!(
        "{}/{}",
        conn.namespace().unwrap_or_default(),
        conn.name_any()
    )
}

/// Reconciles one Connector: adds the finalizer, then applies it (or cleans it up when deleted).
pub async fn reconcile(conn: Arc<Connector>, ctx: Arc<Context>) -> Result<Action, Error> {
    let _timer = ctx.metrics.count_and_measure();
    let ns = conn.namespace().ok_or(Error::Missing("namespace"))?;
    let api: Api<Connector> = Api::namespaced(ctx.client.clone(), &ns);
    let key = key(&conn);
    let limit = ctx.settings.reconcile_timeout();
    let run = finalizer(&api, FINALIZER, conn, |event| async {
        match event {
            Finalizer::Apply(c) => apply(c, ctx.clone()).await,
            Finalizer::Cleanup(c) => cleanup(c, ctx.clone()).await,
        }
    });
    let out = match tokio::time::timeout(limit, run).await {
        Err(_) => Err(Error::Timeout(limit)),
        Ok(r) => r.map_err(|e| Error::Finalizer(Box::new(e))),
    };
    if out.is_ok() {
        ctx.reset_backoff(&key);
    }
    out
}

/// Requeues a failed reconcile with exponential backoff per object (faster for 409 rebalances).
pub fn error_policy(conn: Arc<Connector>, err: &Error, ctx: Arc<Context>) -> Action {
    warn!(connector = %key(&conn), "reconcile failed: {err}");
    ctx.metrics.reconcile_failure(err.metric_label());
    let attempt = ctx.bump_backoff(&key(&conn));
    let base = if err.is_conflict() {
        Duration::from_millis(500)
    } else {
        Duration::from_secs(1)
    };
    let delay = base.saturating_mul(1 << attempt.min(8));
    Action::requeue(delay.min(Duration::from_secs(60)))
}

/// Per-object retry counters for [`error_policy`].
#[derive(Default)]
pub(crate) struct Backoff(Mutex<HashMap<String, u32>>);

impl Context {
    pub(crate) fn bump_backoff(&self, key: &str) -> u32 {
        let mut map = self.backoff.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(key.to_owned()).or_insert(0);
        let attempt = *n;
        *n = n.saturating_add(1);
        attempt
    }

    pub(crate) fn reset_backoff(&self, key: &str) {
        let mut map = self.backoff.0.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(key);
    }

    /// The automatic restarts done for `key`: `status.autoRestart`, unless this process restarted
    /// it later than that says (its status write may not have reached the watch cache yet).
    pub(crate) fn restarts_done(
        &self,
        key: &str,
        status: Option<&AutoRestartStatus>,
    ) -> Option<AutoRestartStatus> {
        let map = self.restarts.lock().unwrap_or_else(|p| p.into_inner());
        let time = |s: &AutoRestartStatus| s.last_restart_time.as_ref().map(|t| t.0);
        match (map.get(key), status) {
            (Some(mem), Some(st)) if time(mem) > time(st) => Some(mem.clone()),
            (Some(mem), None) => Some(mem.clone()),
            (_, st) => st.cloned(),
        }
    }

    pub(crate) fn remember_restart(&self, key: &str, done: &AutoRestartStatus) {
        let mut map = self.restarts.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(key.to_owned(), done.clone());
    }

    fn forget_restarts(&self, key: &str) {
        let mut map = self.restarts.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(key);
        let mut handled = self.handled.lock().unwrap_or_else(|p| p.into_inner());
        handled.remove(key);
    }

    /// Whether this process already acted on the restart annotations of this very version
    /// of the object. The annotations are removed by a patch after the restart; until the
    /// watch delivers that patch, a reconcile (e.g. woken by the status write) still sees
    /// the old version, and must not restart a second time. A user setting the annotation
    /// again makes a new version.
    pub(crate) fn restart_annotations_handled(&self, key: &str, version: Option<&str>) -> bool {
        let map = self.handled.lock().unwrap_or_else(|p| p.into_inner());
        version.is_some() && map.get(key).map(String::as_str) == version
    }

    pub(crate) fn remember_restart_annotations(&self, key: &str, version: Option<&str>) {
        if let Some(v) = version {
            let mut map = self.handled.lock().unwrap_or_else(|p| p.into_inner());
            map.insert(key.to_owned(), v.to_owned());
        }
    }

    pub(crate) async fn publish(
        &self,
        conn: &Connector,
        type_: EventType,
        reason: &str,
        note: String,
    ) {
        self.publish_as(conn, type_, reason, reason, note).await;
    }

    /// [`Self::publish`] with an `action` other than the reason. kube's recorder folds events
    /// with the same reason and action into one series that keeps the first note; a distinct
    /// action makes a distinct Event.
    pub(crate) async fn publish_as(
        &self,
        conn: &Connector,
        type_: EventType,
        reason: &str,
        action: &str,
        note: String,
    ) {
        let ev = Event {
            type_,
            reason: reason.to_owned(),
            note: Some(truncate(&note, 1000)),
            action: action.to_owned(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&ev, &conn.object_ref(&())).await {
            warn!(connector = %key(conn), "cannot publish event {reason}: {e}");
        }
    }
}

/// Where a Connector's cluster is, or why it cannot be used.
#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    /// The REST URL of the cluster.
    Url(String),
    /// The reference does not resolve: a `Ready=False` reason and message.
    Unresolved {
        reason: &'static str,
        message: String,
    },
}

/// Resolves `spec.clusterRef` of `conn` to the REST URL of its ConnectCluster.
pub async fn resolve_cluster(client: &Client, conn: &Connector) -> Result<Target, Error> {
    let own_ns = conn.namespace().ok_or(Error::Missing("namespace"))?;
    let r = &conn.spec.cluster_ref;
    let ns = r.namespace.clone().unwrap_or_else(|| own_ns.clone());
    let api: Api<ConnectCluster> = Api::namespaced(client.clone(), &ns);
    let Some(cluster) = api.get_opt(&r.name).await? else {
        return Ok(Target::Unresolved {
            reason: "ClusterNotFound",
            message: format!("ConnectCluster {ns}/{} does not exist", r.name),
        });
    };
    Ok(target_of(&cluster, &own_ns))
}

/// The REST URL of `cluster` for a Connector in `connector_ns`, or why it may not use it.
pub fn target_of(cluster: &ConnectCluster, connector_ns: &str) -> Target {
    let name = cluster.name_any();
    let ns = cluster.namespace().unwrap_or_default();
    if ns != connector_ns && !cluster.allows_namespace(connector_ns) {
        return Target::Unresolved {
            reason: "NamespaceNotAllowed",
            message: format!(
                "ConnectCluster {ns}/{name} does not allow Connectors from namespace {connector_ns} (spec.allowedNamespaces)"
            ),
        };
    }
    Target::Url(crate::cluster::rest_url(cluster))
}

async fn apply(conn: Arc<Connector>, ctx: Arc<Context>) -> Result<Action, Error> {
    let mut status = conn.status.clone().unwrap_or_default();
    status.observed_generation = conn.metadata.generation;
    let url = match resolve_cluster(&ctx.client, &conn).await? {
        Target::Url(url) => url,
        Target::Unresolved { reason, message } => {
            set_ready(&mut status, &conn, conditions::FALSE, reason, &message);
            write_status(&ctx, &conn, status).await?;
            return Ok(Action::requeue(ctx.settings.requeue_after));
        }
    };
    status.rest_url = Some(url.clone());
    let rest = ConnectRest::new(&ctx.http, &url);
    match sync(&conn, &ctx, &rest, &mut status).await {
        Ok((next_restart, offsets_done)) => {
            write_status(&ctx, &conn, status).await?;
            if offsets_done {
                remove_annotations(&ctx, &conn, &[annotations::OFFSETS]).await?;
            }
            let requeue = next_restart.map_or(ctx.settings.requeue_after, |d| {
                // A little after the restart is due, so it is not found a moment early.
                (d + Duration::from_millis(100)).min(ctx.settings.requeue_after)
            });
            Ok(Action::requeue(requeue))
        }
        Err(e) => {
            let reason = match &e {
                Error::Rest(RestError::Unreachable { .. }) => "ClusterUnreachable",
                Error::Rest(r) if r.is_conflict() => "Rebalancing",
                Error::Rest(_) => "RestError",
                _ => "ReconcileError",
            };
            let message = mask_secrets(&e.to_string(), &conn.spec.config);
            set_ready(&mut status, &conn, conditions::FALSE, reason, &message);
            if let Err(we) = write_status(&ctx, &conn, status).await {
                warn!(connector = %key(&conn), "cannot write status: {we}");
            }
            Err(e)
        }
    }
}

/// The REST work of one reconcile; fills `status` (the caller writes it). Returns how long until
/// an automatic restart is due, if one is, and whether the offsets annotation is done with (to be
/// removed once the status is written).
async fn sync(
    conn: &Connector,
    ctx: &Context,
    rest: &ConnectRest<'_>,
    status: &mut ConnectorStatus,
) -> Result<(Option<Duration>, bool), Error> {
    let name = conn.name_any();
    let desired = conn.spec.rest_config(&name);
    let current = rest.config(&name).await?;
    if current.as_ref() != Some(&desired) {
        // Validate only what is about to be written: an unchanged config was accepted already,
        // and validation may be expensive for some connectors.
        let errors = match rest.validate(&conn.spec.class, &desired).await {
            Ok(v) => v.errors,
            Err(e @ RestError::Status { .. }) if !e.is_conflict() => {
                vec![("connector.class".to_owned(), e.to_string())]
            }
            Err(e) => return Err(e.into()),
        };
        if !errors.is_empty() {
            let message = errors
                .iter()
                .map(|(k, m)| format!("{k}: {m}"))
                .collect::<Vec<_>>()
                .join("; ");
            let message = mask_secrets(&message, &desired);
            set_ready(status, conn, conditions::FALSE, "InvalidConfig", &message);
            return Ok((None, false));
        }
        rest.put_config(&name, &desired).await?;
        let (reason, note) = match current {
            None => (
                "Created",
                format!("created connector {name} on {}", rest.base()),
            ),
            Some(_) => ("Updated", format!("updated the config of connector {name}")),
        };
        info!(connector = %key(conn), "{note}");
        ctx.publish(conn, EventType::Normal, reason, note).await;
    }

    let mut report = rest.status(&name).await?;
    let mut changed = false;
    if let Some(r) = &report {
        if let Some(action) = state_action(conn.spec.state, &r.connector.state) {
            rest.set_state(&name, action).await?;
            changed = true;
            let note = format!(
                "{action} connector {name} (was {}, want {})",
                r.connector.state,
                conn.spec.state.as_rest_state()
            );
            ctx.publish(conn, EventType::Normal, &capitalize(action), note)
                .await;
        }
    }
    changed |= restarts(conn, ctx, rest).await?;
    if changed {
        report = rest.status(&name).await?;
    }
    let actual = report.as_ref().map(|r| r.connector.state.as_str());
    let offsets_done = crate::offsets::handle(conn, ctx, rest, status, actual).await?;
    let topics = match rest.topics(&name).await {
        Ok(t) => t,
        Err(e @ RestError::Unreachable { .. }) => return Err(e.into()),
        Err(e) => {
            debug!(connector = %key(conn), "no topics: {e}");
            Vec::new()
        }
    };
    status.topics = topics;
    status.tasks_max = report
        .as_ref()
        .map(|r| i32::try_from(r.tasks.len()).unwrap_or(i32::MAX));
    let (ready, reason, message) = readiness(conn.spec.state, report.as_ref());
    set_ready(status, conn, ready, reason, &message);
    let next_restart = auto_restart(conn, ctx, rest, status, &mut report).await?;
    status.connector_status = report;
    Ok((next_restart, offsets_done))
}

/// Restarts a failed connector or task when `spec.autoRestart` says so and its backoff has
/// passed; keeps `status.autoRestart`, the `Ready` condition and `report` up to date. Returns
/// how long until the next restart is due, if one is.
async fn auto_restart(
    conn: &Connector,
    ctx: &Context,
    rest: &ConnectRest<'_>,
    status: &mut ConnectorStatus,
    report: &mut Option<ConnectorStatusReport>,
) -> Result<Option<Duration>, Error> {
    let name = conn.name_any();
    let spec = conn.spec.auto_restart_or_default();
    let key = key(conn);
    let recorded = ctx.restarts_done(&key, status.auto_restart.as_ref());
    // A cached object older than this process's last restart must not write its count back.
    status.auto_restart.clone_from(&recorded);
    let decision = auto_restart::decide(
        &spec,
        conn.spec.state,
        report.as_ref(),
        ready_condition(status),
        recorded.as_ref(),
        &ctx.settings.auto_restart,
        Utc::now(),
    );
    match decision {
        Decision::Nothing => Ok(None),
        Decision::Wait(d) => Ok(Some(d)),
        Decision::Reset { next } => {
            info!(connector = %key, "healthy for {:?}: restart count back to 0", ctx.settings.auto_restart.healthy_period);
            status.auto_restart = Some(next);
            Ok(None)
        }
        Decision::GaveUp { count } => {
            let gave_up = format!(
                "auto-restart gave up after {count} restart(s) (spec.autoRestart.maxRestarts)"
            );
            let before =
                ready_condition(conn.status.as_ref().unwrap_or(&ConnectorStatus::default()))
                    .is_some_and(|c| c.message.contains(&gave_up));
            if let Some(c) = ready_condition(status) {
                let (ready, reason, message) =
                    (c.status.clone(), c.reason.clone(), c.message.clone());
                set_ready(
                    status,
                    conn,
                    &ready,
                    &reason,
                    &format!("{message}; {gave_up}"),
                );
            }
            if !before {
                ctx.publish(
                    conn,
                    EventType::Warning,
                    "AutoRestartGaveUp",
                    format!("connector {name}: {gave_up}"),
                )
                .await;
            }
            Ok(None)
        }
        Decision::RestartNow { next } => {
            // Recorded before the restart is asked for: a crash in between skips one restart
            // (the next comes after the backoff) but never repeats one.
            patch_auto_restart(ctx, conn, &next).await?;
            ctx.remember_restart(&key, &next);
            status.auto_restart = Some(next.clone());
            rest.restart_failed(&name).await?;
            let failing = ready_condition(status)
                .map(|c| c.message.clone())
                .unwrap_or_default();
            let note = format!(
                "auto-restart {} of connector {name} ({failing}); next one no sooner than {}s",
                next.count,
                ctx.settings.auto_restart.delay(next.count).as_secs()
            );
            info!(connector = %key, "{note}");
            // One Event per restart, each with its own note.
            let action = format!("AutoRestart-{}", next.count);
            ctx.publish_as(conn, EventType::Normal, "AutoRestarted", &action, note)
                .await;
            *report = rest.status(&name).await?;
            let (ready, reason, message) = readiness(conn.spec.state, report.as_ref());
            set_ready(status, conn, ready, reason, &message);
            Ok(Some(ctx.settings.auto_restart.delay(next.count)))
        }
    }
}

/// Merge-patches `status.autoRestart` alone.
async fn patch_auto_restart(
    ctx: &Context,
    conn: &Connector,
    next: &ferry_crds::AutoRestartStatus,
) -> Result<(), Error> {
    let api: Api<Connector> =
        Api::namespaced(ctx.client.clone(), &conn.namespace().unwrap_or_default());
    api.patch_status(
        &conn.name_any(),
        &PatchParams::default(),
        &Patch::Merge(json!({ "status": { "autoRestart": next } })),
    )
    .await?;
    Ok(())
}

fn ready_condition(status: &ConnectorStatus) -> Option<&Condition> {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == conditions::READY)
}

/// Handles the restart annotations; removes each after its restart succeeded.
async fn restarts(conn: &Connector, ctx: &Context, rest: &ConnectRest<'_>) -> Result<bool, Error> {
    let name = conn.name_any();
    let version = conn.resource_version();
    let handled = ctx.restart_annotations_handled(&key(conn), version.as_deref());
    let mut done = Vec::new();
    if handled {
        // Only the removal is left to do (it may have failed last time).
        done.extend(
            [annotations::RESTART, annotations::RESTART_TASK]
                .into_iter()
                .filter(|a| conn.annotations().contains_key(*a)),
        );
    } else if conn.annotations().contains_key(annotations::RESTART) {
        rest.restart(&name).await?;
        ctx.publish(
            conn,
            EventType::Normal,
            "Restarted",
            format!("restarted connector {name} and its tasks"),
        )
        .await;
        done.push(annotations::RESTART);
    }
    if let Some(task) = conn
        .annotations()
        .get(annotations::RESTART_TASK)
        .filter(|_| !handled)
    {
        match task.trim().parse::<i32>() {
            Ok(id) if id >= 0 => {
                rest.restart_task(&name, id).await?;
                ctx.publish(
                    conn,
                    EventType::Normal,
                    "TaskRestarted",
                    format!("restarted task {id} of connector {name}"),
                )
                .await;
            }
            _ => {
                ctx.publish(
                    conn,
                    EventType::Warning,
                    "InvalidAnnotation",
                    format!(
                        "{}: {task:?} is not a task id; ignored",
                        annotations::RESTART_TASK
                    ),
                )
                .await;
            }
        }
        done.push(annotations::RESTART_TASK);
    }
    if done.is_empty() {
        return Ok(false);
    }
    ctx.remember_restart_annotations(&key(conn), version.as_deref());
    remove_annotations(ctx, conn, &done).await?;
    Ok(true)
}

/// Removes `keys` from the Connector's annotations (once what they asked for is done).
pub(crate) async fn remove_annotations(
    ctx: &Context,
    conn: &Connector,
    keys: &[&str],
) -> Result<(), Error> {
    let remove: serde_json::Map<String, Value> = keys
        .iter()
        .map(|k| ((*k).to_owned(), Value::Null))
        .collect();
    let api: Api<Connector> =
        Api::namespaced(ctx.client.clone(), &conn.namespace().unwrap_or_default());
    api.patch(
        &conn.name_any(),
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": remove}})),
    )
    .await?;
    Ok(())
}

/// The REST action that moves a connector from `actual` to `desired`, if one is needed.
pub fn state_action(desired: ConnectorState, actual: &str) -> Option<&'static str> {
    match desired {
        ConnectorState::Running if matches!(actual, "PAUSED" | "STOPPED") => Some("resume"),
        ConnectorState::Paused if actual != "PAUSED" => Some("pause"),
        ConnectorState::Stopped if actual != "STOPPED" => Some("stop"),
        _ => None,
    }
}

/// The `Ready` condition (status, reason, message) for a status report.
pub fn readiness(
    desired: ConnectorState,
    report: Option<&ConnectorStatusReport>,
) -> (&'static str, &'static str, String) {
    let Some(r) = report else {
        return (
            conditions::FALSE,
            "Pending",
            "the cluster has no status for the connector yet".to_owned(),
        );
    };
    let first_line = |t: &Option<String>| {
        t.as_deref()
            .and_then(|t| t.lines().next())
            .unwrap_or("no trace")
            .to_owned()
    };
    if r.connector.state == "FAILED" {
        return (
            conditions::FALSE,
            "ConnectorFailed",
            format!("connector failed: {}", first_line(&r.connector.trace)),
        );
    }
    if let Some(t) = r.tasks.iter().find(|t| t.state == "FAILED") {
        return (
            conditions::FALSE,
            "TaskFailed",
            format!("task {} failed: {}", t.id, first_line(&t.trace)),
        );
    }
    if desired != ConnectorState::Running {
        return (
            conditions::FALSE,
            if desired == ConnectorState::Paused {
                "Paused"
            } else {
                "Stopped"
            },
            format!(
                "connector is {} as requested (spec.state)",
                r.connector.state
            ),
        );
    }
    if r.connector.state != "RUNNING" {
        return (
            conditions::FALSE,
            "NotRunning",
            format!("connector is {}", r.connector.state),
        );
    }
    if r.tasks.is_empty() {
        return (
            conditions::FALSE,
            "NoTasks",
            "connector is RUNNING but has no tasks yet".to_owned(),
        );
    }
    if let Some(t) = r.tasks.iter().find(|t| t.state != "RUNNING") {
        return (
            conditions::FALSE,
            "TaskNotRunning",
            format!("task {} is {}", t.id, t.state),
        );
    }
    (
        conditions::TRUE,
        "Running",
        format!("connector and {} task(s) RUNNING", r.tasks.len()),
    )
}

/// Sets the `Ready` condition, keeping `lastTransitionTime` when its status did not change.
fn set_ready(
    status: &mut ConnectorStatus,
    conn: &Connector,
    ready: &str,
    reason: &str,
    message: &str,
) {
    set_condition(status, conn, conditions::READY, ready, reason, message);
}

/// Sets the condition `type_`, keeping `lastTransitionTime` when its status did not change.
pub(crate) fn set_condition(
    status: &mut ConnectorStatus,
    conn: &Connector,
    type_: &str,
    flag: &str,
    reason: &str,
    message: &str,
) {
    let message = truncate(message, 1024);
    let old = status.conditions.iter().find(|c| c.type_ == type_);
    let last_transition_time = match old {
        Some(c) if c.status == flag => c.last_transition_time.clone(),
        _ => Time(Utc::now()),
    };
    let cond = Condition {
        type_: type_.to_owned(),
        status: flag.to_owned(),
        reason: reason.to_owned(),
        message,
        last_transition_time,
        observed_generation: conn.metadata.generation,
    };
    // In place, so the order of the conditions (and the written status) stays put.
    match status.conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(c) => *c = cond,
        None => status.conditions.push(cond),
    }
}

fn ready_of(status: Option<&ConnectorStatus>) -> Option<(&str, &str)> {
    status?
        .conditions
        .iter()
        .find(|c| c.type_ == conditions::READY)
        .map(|c| (c.status.as_str(), c.reason.as_str()))
}

/// Publishes a Warning event when `Ready` turns False for a new reason: `before` is the
/// status the API server holds (not the informer's copy, which can lag behind this
/// operator's own last write and so repeat an event).
async fn report_transition(
    ctx: &Context,
    conn: &Connector,
    before: Option<&ConnectorStatus>,
    new: &ConnectorStatus,
) {
    let before = ready_of(before);
    let Some((status, reason)) = ready_of(Some(new)) else {
        return;
    };
    if before == Some((status, reason)) || status == conditions::TRUE {
        return;
    }
    if matches!(reason, "Paused" | "Stopped" | "Pending" | "NoTasks") {
        return;
    }
    let message = new
        .conditions
        .iter()
        .find(|c| c.type_ == conditions::READY)
        .map(|c| c.message.clone())
        .unwrap_or_default();
    ctx.publish(conn, EventType::Warning, reason, message).await;
}

/// Writes `status` through the status subresource, unless the object has it already, and
/// publishes the Warning event of a `Ready` transition it makes.
async fn write_status(
    ctx: &Context,
    conn: &Connector,
    mut status: ConnectorStatus,
) -> Result<(), Error> {
    if conn.status.as_ref() == Some(&status) {
        return Ok(());
    }
    // The cached object can lag behind this operator's own last write; compare with the
    // server's copy so a stale cache does not rewrite a status (and its transition times).
    let api: Api<Connector> =
        Api::namespaced(ctx.client.clone(), &conn.namespace().unwrap_or_default());
    let current = api.get(&conn.name_any()).await?.status;
    if let Some(current) = &current {
        keep_transition_times(&current.conditions, &mut status.conditions);
    }
    if current.as_ref() == Some(&status) {
        return Ok(());
    }
    report_transition(ctx, conn, current.as_ref(), &status).await;
    let fields = [
        "observedGeneration",
        "connectorStatus",
        "tasksMax",
        "topics",
        "conditions",
        "restUrl",
    ];
    patch_status(&ctx.client, conn, &status, &fields).await
}

/// Gives each condition in `new` the `lastTransitionTime` of the same-typed condition in `old`
/// when its status did not change, so an unchanged condition compares equal.
pub(crate) fn keep_transition_times(old: &[Condition], new: &mut [Condition]) {
    for c in new.iter_mut() {
        if let Some(o) = old
            .iter()
            .find(|o| o.type_ == c.type_ && o.status == c.status)
        {
            c.last_transition_time = o.last_transition_time.clone();
        }
    }
}

/// Writes `status` into `obj`'s status subresource with a merge patch. A merge patch leaves
/// absent fields alone, so each of `fields` missing from the serialised status is sent as
/// null: stale values go away.
pub(crate) async fn patch_status<K>(
    client: &kube::Client,
    obj: &K,
    status: &impl serde::Serialize,
    fields: &[&str],
) -> Result<(), Error>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let mut value = serde_json::to_value(status)?;
    if let Some(map) = value.as_object_mut() {
        for k in fields {
            map.entry(*k).or_insert(Value::Null);
        }
    }
    let ns = obj.namespace().ok_or(Error::Missing("namespace"))?;
    let api: Api<K> = Api::namespaced(client.clone(), &ns);
    api.patch_status(
        &obj.name_any(),
        &PatchParams::default(),
        &Patch::Merge(json!({ "status": value })),
    )
    .await?;
    Ok(())
}

async fn cleanup(conn: Arc<Connector>, ctx: Arc<Context>) -> Result<Action, Error> {
    let name = conn.name_any();
    ctx.forget_restarts(&key(&conn));
    let last_url = conn.status.as_ref().and_then(|s| s.rest_url.clone());
    let url = match (resolve_cluster(&ctx.client, &conn).await?, last_url) {
        (Target::Url(url), _) => url,
        // The ConnectCluster went first (or no longer admits this namespace): the connector
        // is deleted from where it was applied, which matters for an external cluster that
        // outlives its resource.
        (Target::Unresolved { message, .. }, Some(url)) => {
            info!(connector = %key(&conn), %url, "{message}; deleting the connector from the cluster it was applied to");
            url
        }
        (Target::Unresolved { message, .. }, None) => {
            ctx.publish(
                &conn,
                EventType::Warning,
                "DeleteSkipped",
                format!("{message}; removing the finalizer without deleting the connector"),
            )
            .await;
            return Ok(Action::await_change());
        }
    };
    let rest = ConnectRest::new(&ctx.http, &url);
    match rest.delete(&name).await {
        Ok(true) => {
            ctx.publish(
                &conn,
                EventType::Normal,
                "Deleted",
                format!("deleted connector {name} from {url}"),
            )
            .await;
        }
        Ok(false) => {
            debug!(connector = %key(&conn), "connector already absent from {url}");
        }
        Err(e) if e.is_conflict() && !deletion_overdue(&conn, ctx.settings.cleanup_grace) => {
            return Err(e.into());
        }
        Err(e) => {
            ctx.publish(
                &conn,
                EventType::Warning,
                "DeleteFailed",
                format!("{e}; removing the finalizer anyway: the connector may still exist on the cluster"),
            )
            .await;
        }
    }
    Ok(Action::await_change())
}

fn deletion_overdue(conn: &Connector, grace: Duration) -> bool {
    let Some(ts) = &conn.meta().deletion_timestamp else {
        return true;
    };
    let elapsed = Utc::now().signed_duration_since(ts.0);
    elapsed.to_std().map(|e| e > grace).unwrap_or(false)
}

/// Whether a config key probably holds a secret.
pub fn looks_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "password",
        "passwd",
        "secret",
        "token",
        "credential",
        "apikey",
        "api.key",
        "api_key",
        "private.key",
        "jaas",
        "passphrase",
    ]
    .iter()
    .any(|p| k.contains(p))
}

/// `message` with the values of secret-looking keys of `config` replaced by `[hidden]`.
pub fn mask_secrets(message: &str, config: &BTreeMap<String, String>) -> String {
    let mut out = message.to_owned();
    for (k, v) in config {
        if looks_secret(k) && !v.is_empty() {
            out = out.replace(v.as_str(), "[hidden]");
        }
    }
    out
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use ferry_crds::{TaskStatusReport, WorkerStatus, fixtures};

    use super::*;

    fn cond(type_: &str, status: &str, secs: i64) -> Condition {
        Condition {
            type_: type_.into(),
            status: status.into(),
            reason: "R".into(),
            message: "m".into(),
            last_transition_time: Time(
                k8s_openapi::chrono::DateTime::from_timestamp(secs, 0).expect("time"),
            ),
            observed_generation: Some(1),
        }
    }

    #[test]
    fn transition_times_are_kept_only_for_an_unchanged_status() {
        let old = [cond("Ready", "True", 10), cond("Progressing", "True", 20)];
        let mut new = [
            cond("Ready", "True", 99),
            cond("Progressing", "False", 99),
            cond("Paused", "True", 99),
        ];
        keep_transition_times(&old, &mut new);
        assert_eq!(new[0], cond("Ready", "True", 10));
        assert_eq!(new[1], cond("Progressing", "False", 99));
        assert_eq!(new[2], cond("Paused", "True", 99));
    }

    fn report(connector: &str, tasks: &[(&str, Option<&str>)]) -> ConnectorStatusReport {
        ConnectorStatusReport {
            name: "c".into(),
            connector: WorkerStatus {
                state: connector.into(),
                worker_id: "w:8083".into(),
                trace: None,
            },
            tasks: tasks
                .iter()
                .enumerate()
                .map(|(i, (s, t))| TaskStatusReport {
                    id: i as i32,
                    state: (*s).into(),
                    worker_id: "w:8083".into(),
                    trace: t.map(str::to_owned),
                })
                .collect(),
            type_: Some("source".into()),
        }
    }

    #[test]
    fn ready_only_when_everything_runs() {
        let ok = report("RUNNING", &[("RUNNING", None), ("RUNNING", None)]);
        assert_eq!(readiness(ConnectorState::Running, Some(&ok)).0, "True");
        let failed = report(
            "RUNNING",
            &[
                ("RUNNING", None),
                ("FAILED", Some("java.lang.Boom: no\n\tat x.y")),
            ],
        );
        let (s, reason, msg) = readiness(ConnectorState::Running, Some(&failed));
        assert_eq!((s, reason), ("False", "TaskFailed"));
        assert_eq!(msg, "task 1 failed: java.lang.Boom: no");
        assert_eq!(
            readiness(
                ConnectorState::Paused,
                Some(&report("PAUSED", &[("PAUSED", None)]))
            )
            .1,
            "Paused"
        );
        assert_eq!(readiness(ConnectorState::Running, None).1, "Pending");
        assert_eq!(
            readiness(ConnectorState::Running, Some(&report("RUNNING", &[]))).1,
            "NoTasks"
        );
    }

    #[test]
    fn state_actions_only_when_state_differs() {
        use ConnectorState::*;
        assert_eq!(state_action(Running, "RUNNING"), None);
        assert_eq!(state_action(Running, "FAILED"), None);
        assert_eq!(state_action(Running, "PAUSED"), Some("resume"));
        assert_eq!(state_action(Running, "STOPPED"), Some("resume"));
        assert_eq!(state_action(Paused, "RUNNING"), Some("pause"));
        assert_eq!(state_action(Paused, "PAUSED"), None);
        assert_eq!(state_action(Stopped, "PAUSED"), Some("stop"));
        assert_eq!(state_action(Stopped, "STOPPED"), None);
    }

    #[test]
    fn secrets_are_masked() {
        let config: BTreeMap<String, String> = [
            ("connection.password", "hunter2"),
            ("topic", "orders"),
            ("sasl.jaas.config", "user=\"a\" password=\"b\""),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let msg = "connection.password: Invalid value hunter2; topic orders";
        assert_eq!(
            mask_secrets(msg, &config),
            "connection.password: Invalid value [hidden]; topic orders"
        );
        assert!(looks_secret("ssl.keystore.password"));
        assert!(!looks_secret("key.converter"));
    }

    #[test]
    fn cluster_reference_resolution() {
        let mut local = fixtures::connect_cluster("connect").build();
        local.metadata.namespace = Some("team-a".into());
        assert_eq!(
            target_of(&local, "team-a"),
            Target::Url("http://connect-connect-api.team-a.svc:8083".into())
        );
        assert!(matches!(
            target_of(&local, "team-b"),
            Target::Unresolved {
                reason: "NamespaceNotAllowed",
                ..
            }
        ));
        local.spec.allowed_namespaces = Some(vec!["team-b".into()]);
        local.spec.external = Some("http://connect.example:8083/".into());
        assert_eq!(
            target_of(&local, "team-b"),
            Target::Url("http://connect.example:8083".into())
        );
    }

    #[test]
    fn cluster_references_default_to_the_connector_namespace() {
        let local = fixtures::connector("a")
            .namespace("team-a")
            .cluster("connect")
            .build();
        assert!(references(&local, "team-a", "connect"));
        assert!(!references(&local, "team-b", "connect"));
        assert!(!references(&local, "team-a", "other"));
        let remote = fixtures::connector("b")
            .namespace("team-a")
            .cluster("connect")
            .cluster_namespace("platform")
            .build();
        assert!(references(&remote, "platform", "connect"));
        assert!(!references(&remote, "team-a", "connect"));
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h…");
        assert_eq!(truncate("abc", 5), "abc");
    }
}
