//! The distributed herder: workers sharing a `group.id` form one cluster through Kafka's
//! group protocol; connector configs, task configs and target states live in the config
//! topic, which every worker replays.
//!
//! - Reads are answered locally from the replayed config log and the status topic.
//! - Writes are done by the group leader; other workers forward them to the leader's
//!   advertised URL (`?forward=false` marks a forwarded request, which is never forwarded
//!   again).
//! - The member loop keeps this worker in the group (join, sync, heartbeat), applies its
//!   assignment, and makes the local runtime match the config log: a connector's worker
//!   computes its task configs and has the leader write them; tasks start once their
//!   `commit-NAME` record is read.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde_json::Value as Json;
use tokio::sync::{Mutex as AsyncMutex, mpsc, oneshot, watch};

use super::offsets::{alter_offsets, connector_offsets};
use super::runtime::LocalRuntime;
use super::views::{Snapshot, info_of, status_of, validate};
use super::{
    ConfigPatch, Created, Herder, HerderError, InternalRequest, WorkerHealth, apply_patch,
    is_forwarded,
};
use crate::cluster::assignor::{AssignorState, Desired, Member, RoundInfo};
use crate::cluster::membership::{GroupMember, HeartbeatOutcome, MembershipConfig};
use crate::cluster::protocol::{Assignment, ConnectProtocol, TaskRef, WorkerMetadata};
use crate::cluster::signature;
use crate::config::Props;
use crate::config::connector::NAME;
use crate::rest::api::{
    ConnectorInfo, ConnectorOffsets, ConnectorStateInfo, CreateConnectorRequest, InitialState,
    Message,
};
use crate::storage::State;
use crate::storage::kafka::{ClusterConfigState, ConfigLog, RestartRequest};
use crate::worker::{TargetState, TaskId, WorkerContext};

/// How long config changes must be quiet before the leader rebalances, so a burst of
/// new connectors causes one rebalance, not one each.
const REBALANCE_DEBOUNCE: Duration = Duration::from_millis(200);
/// The least time between two rebalances the leader starts itself.
const REBALANCE_BACKOFF: Duration = Duration::from_secs(1);
/// Backoff between failed attempts to join the group.
const JOIN_BACKOFF: Duration = Duration::from_secs(1);
/// Pause after a heartbeat that could not reach the coordinator (Kafka's retry.backoff.ms).
const HEARTBEAT_RETRY_BACKOFF: Duration = Duration::from_millis(100);
/// First and longest pause before publishing a connector's task configs again after a
/// failed attempt (Kafka Connect's reconfiguration backoff: 250 ms, doubling, up to 60 s).
const PUBLISH_BACKOFF_INITIAL: Duration = Duration::from_millis(250);
const PUBLISH_BACKOFF_MAX: Duration = Duration::from_secs(60);

/// The pause before the next attempt after `failures` failed ones (at least one).
fn publish_backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    PUBLISH_BACKOFF_INITIAL
        .saturating_mul(1 << doublings)
        .min(PUBLISH_BACKOFF_MAX)
}

/// How long `GET /health` waits for the member loop to answer before reporting it unhealthy
/// (Kafka's health check waits as long).
const HEALTH_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings of the distributed herder.
#[derive(Debug, Clone)]
pub struct DistributedSettings {
    pub membership: MembershipConfig,
    /// This worker's advertised REST URL (`http://host:port`).
    pub url: String,
    /// `scheduled.rebalance.max.delay.ms`.
    pub max_delay: Duration,
}

/// Who leads the group, as of the last rebalance.
#[derive(Debug, Clone, Default)]
struct LeaderView {
    leader_url: Option<String>,
    is_leader: bool,
    /// The generation speaks the `sessioned` protocol: internal requests are signed.
    sessioned: bool,
}

enum Command {
    RestartTask(TaskId, oneshot::Sender<Result<(), HerderError>>),
    /// Answered as soon as the member loop gets to it: the health check's liveness probe.
    Ping(oneshot::Sender<()>),
    Shutdown(oneshot::Sender<()>),
}

/// A handle on the distributed herder; cheap to clone.
#[derive(Clone)]
pub struct DistributedHerder {
    ctx: WorkerContext,
    config: Arc<ConfigLog>,
    leader: Arc<RwLock<LeaderView>>,
    tx: mpsc::UnboundedSender<Command>,
    http: reqwest::Client,
    /// Set once the worker first joined its group (then `GET /health` stops answering 503).
    started: Arc<AtomicBool>,
}

impl DistributedHerder {
    /// Starts the member loop; the worker joins its group in the background.
    pub fn start(
        ctx: WorkerContext,
        config: Arc<ConfigLog>,
        settings: DistributedSettings,
    ) -> Result<Self, HerderError> {
        let group = GroupMember::new(settings.membership.clone())
            .map_err(|e| HerderError::BadRequest(e.to_string()))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let leader = Arc::new(RwLock::new(LeaderView::default()));
        let started = Arc::new(AtomicBool::new(false));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| HerderError::Internal(format!("could not build the HTTP client: {e}")))?;
        let (forward_done, forward_results) = mpsc::unbounded_channel();
        let member = MemberLoop {
            runtime: LocalRuntime::new(ctx.clone()),
            ctx: ctx.clone(),
            config: config.clone(),
            group: Arc::new(AsyncMutex::new(group)),
            settings,
            assignment: None,
            assignor: AssignorState::default(),
            leader: leader.clone(),
            http: http.clone(),
            need_rejoin: true,
            rebalance_at: None,
            last_rebalance: None,
            retry_at: None,
            desired_at_assignment: None,
            generation: 0,
            key_rotation_at: None,
            forwards_in_flight: BTreeSet::new(),
            unpublished: BTreeMap::new(),
            publish_after_forward: BTreeSet::new(),
            checked_leader: None,
            forward_done,
            started: started.clone(),
        };
        tokio::spawn(member.run(rx, forward_results));
        Ok(DistributedHerder {
            ctx,
            config,
            leader,
            tx,
            http,
            started,
        })
    }

    fn leader_view(&self) -> LeaderView {
        match self.leader.read() {
            Ok(l) => l.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Whether this worker does writes itself; otherwise they go to the leader.
    fn lead(&self) -> Result<bool, HerderError> {
        let view = self.leader_view();
        if view.is_leader {
            Ok(true)
        } else if is_forwarded() || view.leader_url.is_none() {
            Err(HerderError::Conflict(
                "Cannot complete request because of a conflicting operation (e.g. worker rebalance)".into(),
            ))
        } else {
            Ok(false)
        }
    }

    /// Sends a request to the leader and maps its answer.
    async fn forward<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Json>,
    ) -> Result<Option<T>, HerderError> {
        let base = self.leader_view().leader_url.ok_or_else(|| {
            HerderError::Conflict(
                "Cannot complete request because the leader is not known (worker rebalance)".into(),
            )
        })?;
        forward_to(&self.http, &base, method, path, body).await
    }

    /// [`forward`](Self::forward) for requests whose answer has a body.
    async fn forward_expect<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Json>,
    ) -> Result<T, HerderError> {
        self.forward(method, path, body)
            .await?
            .ok_or_else(|| HerderError::Internal("the leader answered no body".into()))
    }

    fn snapshot_of(&self, state: &ClusterConfigState, name: &str) -> Result<Snapshot, HerderError> {
        let config = state
            .connectors
            .get(name)
            .ok_or_else(|| HerderError::not_found_connector(name))?;
        let tasks = state.task_configs.get(name).cloned().unwrap_or_default();
        Snapshot::of(&self.ctx, config, tasks)
            .ok_or_else(|| HerderError::Internal(format!("connector {name} has an unknown class")))
    }

    fn snapshot(&self, name: &str) -> Result<Snapshot, HerderError> {
        self.snapshot_of(&self.config.snapshot(), name)
    }

    fn target_of(&self, name: &str) -> TargetState {
        self.config
            .snapshot()
            .target_states
            .get(name)
            .copied()
            .unwrap_or(TargetState::Started)
    }

    /// Writes a connector config on the leader and waits until it is read back.
    async fn write_config(
        &self,
        name: &str,
        mut config: Props,
        allow_replace: bool,
        initial: Option<TargetState>,
    ) -> Result<Created<ConnectorInfo>, HerderError> {
        self.config.read_to_end().await.map_err(internal)?;
        let exists = self.config.snapshot().connectors.contains_key(name);
        if exists && !allow_replace {
            return Err(HerderError::Conflict(format!(
                "Connector {name} already exists"
            )));
        }
        config.insert(NAME.into(), name.to_owned());
        let (_, _, infos) = validate(&self.ctx, &config).await?;
        if infos.error_count > 0 {
            return Err(HerderError::InvalidConfig(Box::new(infos)));
        }
        self.config
            .put_connector_config(name, &config, if exists { None } else { initial })
            .await
            .map_err(internal)?;
        self.config.read_to_end().await.map_err(internal)?;
        let s = self.snapshot(name)?;
        Ok(Created {
            created: !exists,
            value: info_of(name, &s),
        })
    }

    async fn set_target(&self, name: String, target: TargetState) -> Result<(), HerderError> {
        let path = match target {
            TargetState::Started => "resume",
            TargetState::Paused => "pause",
            TargetState::Stopped => "stop",
        };
        if !self.lead()? {
            self.forward::<Json>(
                reqwest::Method::PUT,
                &format!("/connectors/{}/{path}", enc(&name)),
                None,
            )
            .await?;
            return Ok(());
        }
        self.config.read_to_end().await.map_err(internal)?;
        self.snapshot(&name)?;
        self.config
            .put_target_state(&name, target)
            .await
            .map_err(internal)?;
        if target == TargetState::Stopped {
            // Stopped connectors have no tasks: this fences their tasks everywhere.
            self.config
                .put_task_configs(&name, &[])
                .await
                .map_err(internal)?;
        }
        self.config.read_to_end().await.map_err(internal)
    }
}

fn internal(e: impl std::fmt::Display) -> HerderError {
    HerderError::Internal(e.to_string())
}

/// Percent-encodes a connector name for a URL path.
fn enc(name: &str) -> String {
    crate::rest::encode_path_segment(name)
}

/// Sends a forwarded request (`?forward=false`) to another worker and maps its answer:
/// a body for 2xx with content, `None` for 204, the same error class otherwise.
async fn forward_to<T: DeserializeOwned>(
    http: &reqwest::Client,
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Json>,
) -> Result<Option<T>, HerderError> {
    let body = match body {
        Some(b) => Some(bytes::Bytes::from(
            serde_json::to_vec(&b).map_err(internal)?,
        )),
        None => None,
    };
    forward_bytes(http, base, method, path, body, &[]).await
}

/// [`forward_to`] with the exact body bytes and extra headers (a signed internal request).
async fn forward_bytes<T: DeserializeOwned>(
    http: &reqwest::Client,
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<bytes::Bytes>,
    headers: &[(&str, String)],
) -> Result<Option<T>, HerderError> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let url = format!("{}{path}{sep}forward=false", base.trim_end_matches('/'));
    let mut req = http.request(method, &url);
    if let Some(b) = body {
        req = req
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(b);
    }
    for (name, value) in headers {
        req = req.header(*name, value);
    }
    let resp = req.send().await.map_err(|e| {
        HerderError::Conflict(format!(
            "Could not forward the request to the leader at {base}: {e}"
        ))
    })?;
    let status = resp.status();
    let text = resp
        .text()
        .await
        .map_err(|e| HerderError::Conflict(format!("Lost the leader's answer: {e}")))?;
    if status.is_success() {
        if text.trim().is_empty() {
            return Ok(None);
        }
        return serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| HerderError::Internal(format!("unexpected answer from {base}: {e}")));
    }
    let message = serde_json::from_str::<Json>(&text)
        .ok()
        .and_then(|j| j.get("message").and_then(Json::as_str).map(str::to_owned))
        .unwrap_or(text);
    Err(match status.as_u16() {
        400 => HerderError::BadRequest(message),
        403 => HerderError::Forbidden(message),
        404 => HerderError::NotFound(message),
        409 => HerderError::Conflict(message),
        _ => HerderError::Internal(message),
    })
}

#[async_trait]
impl Herder for DistributedHerder {
    fn context(&self) -> &WorkerContext {
        &self.ctx
    }

    fn connectors(&self) -> Vec<String> {
        self.config.snapshot().connectors.keys().cloned().collect()
    }

    fn view(&self, name: &str) -> Result<Snapshot, HerderError> {
        self.snapshot(name)
    }

    async fn create(
        &self,
        name: String,
        config: Props,
        initial: Option<TargetState>,
    ) -> Result<ConnectorInfo, HerderError> {
        if !self.lead()? {
            let body = CreateConnectorRequest {
                name: name.clone(),
                config: config
                    .into_iter()
                    .map(|(k, v)| (k, Json::String(v)))
                    .collect(),
                initial_state: initial.map(|t| match t {
                    TargetState::Started => InitialState::Running,
                    TargetState::Paused => InitialState::Paused,
                    TargetState::Stopped => InitialState::Stopped,
                }),
            };
            let body = serde_json::to_value(body).map_err(internal)?;
            return self
                .forward_expect(reqwest::Method::POST, "/connectors", Some(body))
                .await;
        }
        self.write_config(&name, config, false, initial)
            .await
            .map(|c| c.value)
    }

    async fn put_config(
        &self,
        name: String,
        config: Props,
    ) -> Result<Created<ConnectorInfo>, HerderError> {
        if !self.lead()? {
            let existed = self.config.snapshot().connectors.contains_key(&name);
            let body = serde_json::to_value(&config).map_err(internal)?;
            let info: ConnectorInfo = self
                .forward_expect(
                    reqwest::Method::PUT,
                    &format!("/connectors/{}/config", enc(&name)),
                    Some(body),
                )
                .await?;
            return Ok(Created {
                created: !existed,
                value: info,
            });
        }
        self.write_config(&name, config, true, None).await
    }

    async fn patch_config(
        &self,
        name: String,
        patch: ConfigPatch,
    ) -> Result<ConnectorInfo, HerderError> {
        if !self.lead()? {
            let body = serde_json::to_value(&patch).map_err(internal)?;
            return self
                .forward_expect(
                    reqwest::Method::PATCH,
                    &format!("/connectors/{}/config", enc(&name)),
                    Some(body),
                )
                .await;
        }
        self.config.read_to_end().await.map_err(internal)?;
        let current = self.snapshot(&name)?.config;
        let config = apply_patch(&current, &patch);
        self.write_config(&name, config, true, None)
            .await
            .map(|c| c.value)
    }

    async fn delete(&self, name: String) -> Result<(), HerderError> {
        if !self.lead()? {
            self.forward::<Json>(
                reqwest::Method::DELETE,
                &format!("/connectors/{}", enc(&name)),
                None,
            )
            .await?;
            return Ok(());
        }
        self.config.read_to_end().await.map_err(internal)?;
        self.snapshot(&name)?;
        self.config
            .remove_connector(&name)
            .await
            .map_err(internal)?;
        self.config.read_to_end().await.map_err(internal)
    }

    async fn pause(&self, name: String) -> Result<(), HerderError> {
        self.set_target(name, TargetState::Paused).await
    }

    async fn resume(&self, name: String) -> Result<(), HerderError> {
        self.set_target(name, TargetState::Started).await
    }

    async fn stop(&self, name: String) -> Result<(), HerderError> {
        self.set_target(name, TargetState::Stopped).await
    }

    async fn restart(
        &self,
        name: String,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<Option<ConnectorStateInfo>, HerderError> {
        if !self.lead()? {
            let path = format!(
                "/connectors/{}/restart?includeTasks={include_tasks}&onlyFailed={only_failed}",
                enc(&name)
            );
            return self.forward(reqwest::Method::POST, &path, None).await;
        }
        self.config.read_to_end().await.map_err(internal)?;
        let snapshot = self.snapshot(&name)?;
        // The plan, as Kafka answers it: what will restart is shown RESTARTING.
        let mut plan = status_of(&self.ctx, &name, &snapshot);
        let failed = |s: State| s == State::Failed;
        let restart_connector = !only_failed || failed(plan.connector.state);
        if restart_connector {
            plan.connector.state = State::Restarting;
        }
        if include_tasks {
            for t in &mut plan.tasks {
                if !only_failed || failed(t.state) {
                    t.state = State::Restarting;
                }
            }
        }
        self.config
            .put_restart_request(&name, include_tasks, only_failed)
            .await
            .map_err(internal)?;
        Ok((include_tasks || only_failed).then_some(plan))
    }

    async fn restart_task(&self, name: String, task: u32) -> Result<(), HerderError> {
        let snapshot = self.snapshot(&name)?;
        if task as usize >= snapshot.task_configs.len() {
            return Err(HerderError::NotFound(format!(
                "Task {name}-{task} not found"
            )));
        }
        // The worker running the task restarts it; its status names that worker.
        let owner = self.ctx.status.task(&name, task).map(|s| s.worker_id);
        if owner.as_deref() == Some(self.ctx.worker_id.as_str()) {
            let (tx, rx) = oneshot::channel();
            self.tx
                .send(Command::RestartTask(
                    TaskId {
                        connector: name,
                        task,
                    },
                    tx,
                ))
                .map_err(|_| HerderError::Internal("the herder has stopped".into()))?;
            return rx
                .await
                .map_err(|_| HerderError::Internal("the herder dropped the request".into()))?;
        }
        match owner {
            Some(worker) if !is_forwarded() => {
                let path = format!("/connectors/{}/tasks/{task}/restart", enc(&name));
                forward_to::<Json>(
                    &self.http,
                    &format!("http://{worker}"),
                    reqwest::Method::POST,
                    &path,
                    None,
                )
                .await?;
                Ok(())
            }
            _ => Err(HerderError::Conflict(format!(
                "Cannot restart task {name}-{task}: it is not assigned to a worker right now"
            ))),
        }
    }

    async fn offsets(&self, name: String) -> Result<ConnectorOffsets, HerderError> {
        let s = self.snapshot(&name)?;
        connector_offsets(&self.ctx, &name, s.ty, &s.config).await
    }

    async fn alter_offsets(
        &self,
        name: String,
        offsets: ConnectorOffsets,
    ) -> Result<Message, HerderError> {
        if !self.lead()? {
            let body = serde_json::to_value(&offsets).map_err(internal)?;
            return self
                .forward_expect(
                    reqwest::Method::PATCH,
                    &format!("/connectors/{}/offsets", enc(&name)),
                    Some(body),
                )
                .await;
        }
        self.offsets_change(name, Some(offsets)).await
    }

    async fn reset_offsets(&self, name: String) -> Result<Message, HerderError> {
        if !self.lead()? {
            return self
                .forward_expect(
                    reqwest::Method::DELETE,
                    &format!("/connectors/{}/offsets", enc(&name)),
                    None,
                )
                .await;
        }
        self.offsets_change(name, None).await
    }

    async fn put_task_configs(
        &self,
        name: String,
        configs: Vec<Props>,
        request: InternalRequest,
    ) -> Result<(), HerderError> {
        if !self.lead()? {
            // Passed on as received: the signature covers these exact bytes.
            let mut headers = Vec::new();
            if let Some(sig) = request.signature {
                headers.push((signature::SIGNATURE_HEADER, sig));
            }
            if let Some(alg) = request.algorithm {
                headers.push((signature::ALGORITHM_HEADER, alg));
            }
            let base = self
                .leader_view()
                .leader_url
                .ok_or_else(|| HerderError::Conflict("no leader".into()))?;
            forward_bytes::<Json>(
                &self.http,
                &base,
                reqwest::Method::POST,
                &format!("/connectors/{}/tasks", enc(&name)),
                Some(request.body),
                &headers,
            )
            .await?;
            return Ok(());
        }
        if self.leader_view().sessioned {
            let key = self.config.snapshot().session_key.ok_or_else(|| {
                HerderError::Conflict(
                    "The session key has not been distributed yet; retry shortly".into(),
                )
            })?;
            signature::verify(
                &key,
                request.signature.as_deref(),
                request.algorithm.as_deref(),
                &request.body,
            )
            .map_err(|refusal| match refusal {
                signature::Refusal::Invalid => HerderError::Forbidden(refusal.to_string()),
                other => HerderError::BadRequest(other.to_string()),
            })?;
        }
        self.config.read_to_end().await.map_err(internal)?;
        self.snapshot(&name)?;
        self.config
            .put_task_configs(&name, &configs)
            .await
            .map_err(internal)
    }

    async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Command::Shutdown(tx)).is_ok() {
            let _ = rx.await;
        }
    }

    /// Starting until the first join; then healthy while the member loop answers a ping within
    /// [`HEALTH_TIMEOUT`] (a loop stuck in a rebalance or a blocking call would leave every
    /// request hanging, which is what Kafka's 500 means).
    async fn health(&self) -> WorkerHealth {
        if !self.started.load(Ordering::Acquire) {
            return WorkerHealth::Starting;
        }
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Command::Ping(tx)).is_err() {
            return WorkerHealth::Unhealthy("the worker's herder has stopped".into());
        }
        match tokio::time::timeout(HEALTH_TIMEOUT, rx).await {
            Ok(Ok(())) => WorkerHealth::Healthy,
            Ok(Err(_)) => WorkerHealth::Unhealthy("the worker's herder has stopped".into()),
            Err(_) => WorkerHealth::Unhealthy(format!(
                "Worker was unable to handle this request within {}s and may be unable to handle other requests.",
                HEALTH_TIMEOUT.as_secs()
            )),
        }
    }
}

impl DistributedHerder {
    async fn offsets_change(
        &self,
        name: String,
        offsets: Option<ConnectorOffsets>,
    ) -> Result<Message, HerderError> {
        self.config.read_to_end().await.map_err(internal)?;
        let s = self.snapshot(&name)?;
        if self.target_of(&name) != TargetState::Stopped || !s.task_configs.is_empty() {
            return Err(HerderError::BadRequest(format!(
                "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/{name}/stop' endpoint"
            )));
        }
        alter_offsets(&self.ctx, &name, s.ty, offsets).await
    }
}

/// The member side: group membership, the assignment, and the local runtime.
struct MemberLoop {
    ctx: WorkerContext,
    config: Arc<ConfigLog>,
    /// Shared with the heartbeat task, so heartbeats go on while the loop stops and starts
    /// work (which can take up to task.shutdown.graceful.timeout.ms).
    group: Arc<AsyncMutex<GroupMember>>,
    settings: DistributedSettings,
    runtime: LocalRuntime,
    /// The current assignment; `None` before the first rebalance.
    assignment: Option<Assignment>,
    assignor: AssignorState,
    leader: Arc<RwLock<LeaderView>>,
    http: reqwest::Client,
    need_rejoin: bool,
    /// When a scheduled rebalance is due (departed workers' delay, or a leader's debounce).
    rebalance_at: Option<Instant>,
    last_rebalance: Option<Instant>,
    /// When to reconcile again after a step failed (e.g. the leader was unreachable).
    retry_at: Option<Instant>,
    /// The work that existed when the leader last assigned.
    desired_at_assignment: Option<(BTreeSet<String>, BTreeSet<TaskRef>)>,
    generation: i32,
    started: Arc<AtomicBool>,
    /// Leader of a sessioned generation: when the session key must be rotated.
    key_rotation_at: Option<Instant>,
    /// Connectors whose task configs are on their way to the leader.
    forwards_in_flight: BTreeSet<String>,
    /// Connectors of this worker whose task configs are not in the config topic yet, with
    /// the failed attempts so far. They are published again until that succeeds: a
    /// connector whose configs were lost once would otherwise never get tasks.
    unpublished: BTreeMap<String, u32>,
    /// Connectors whose configs changed while a forward of older ones was in flight.
    publish_after_forward: BTreeSet<String>,
    /// The leader whose group settings this worker compared with its own.
    checked_leader: Option<String>,
    forward_done: mpsc::UnboundedSender<(String, Result<(), HerderError>)>,
}

/// Heartbeats while the member is in a generation, on its own task so that stopping and
/// starting work never delays them (Kafka Connect has a heartbeat thread for the same
/// reason). Tells the member loop through `rejoin` when the group needs it to join again.
async fn heartbeat_loop(
    group: Arc<AsyncMutex<GroupMember>>,
    interval: Duration,
    rejoin: mpsc::UnboundedSender<()>,
) {
    loop {
        // Not in a generation (joining, or told to rejoin): the member loop is on it.
        let due = group.lock().await.next_heartbeat();
        tokio::time::sleep_until(due.unwrap_or_else(|| Instant::now() + interval).into()).await;
        let outcome = {
            let mut g = group.lock().await;
            // A join may have run meanwhile and moved the schedule.
            match g.next_heartbeat() {
                Some(at) if at <= Instant::now() => g.heartbeat().await,
                _ => continue,
            }
        };
        match outcome {
            Ok(HeartbeatOutcome::Ok) => {}
            Ok(HeartbeatOutcome::RebalanceNeeded(cause)) => {
                tracing::info!(%cause, "rebalance needed");
                if rejoin.send(()).is_err() {
                    return;
                }
            }
            Ok(HeartbeatOutcome::CoordinatorMoved) => {
                tokio::time::sleep(HEARTBEAT_RETRY_BACKOFF).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "heartbeat failed");
                if !e.is_retriable() && rejoin.send(()).is_err() {
                    return;
                }
                tokio::time::sleep(HEARTBEAT_RETRY_BACKOFF).await;
            }
        }
    }
}

/// Compares this worker's internal topics and converters with the leader's (read from the
/// leader's `GET /`) and logs an error naming both values for each that differs.
async fn compare_with_leader(
    http: reqwest::Client,
    leader_url: String,
    ours: BTreeMap<String, String>,
) {
    let url = format!("{}/", leader_url.trim_end_matches('/'));
    let Ok(resp) = http.get(&url).timeout(Duration::from_secs(10)).send().await else {
        return;
    };
    let Some(theirs) = resp
        .headers()
        .get(crate::rest::root::GROUP_SETTINGS_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| serde_json::from_str::<BTreeMap<String, String>>(v).ok())
    else {
        return;
    };
    for (key, mine) in &ours {
        if let Some(leaders) = theirs.get(key).filter(|v| *v != mine) {
            tracing::error!(
                key = %key,
                ours = %mine,
                leader = %leader_url,
                leaders = %leaders,
                "this worker's {key} is '{mine}' but the group leader {leader_url} has '{leaders}': every worker of a group must use the same internal topics and converters"
            );
        }
    }
}

/// Sleeps until `at`, or forever when there is nothing to wait for.
async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

fn desired_of(state: &ClusterConfigState) -> Desired {
    let mut d = Desired::default();
    for name in state.connectors.keys() {
        d.connectors.insert(name.clone());
        for i in 0..state.task_configs.get(name).map_or(0, Vec::len) {
            d.tasks.insert(TaskRef::new(name.clone(), i as u32));
        }
    }
    d
}

impl MemberLoop {
    async fn run(
        mut self,
        mut rx: mpsc::UnboundedReceiver<Command>,
        mut forward_results: mpsc::UnboundedReceiver<(String, Result<(), HerderError>)>,
    ) {
        let mut config_rx: watch::Receiver<i64> = self.config.offsets();
        let mut restarts: mpsc::UnboundedReceiver<RestartRequest> =
            match self.config.take_restart_requests() {
                Some(r) => r,
                None => {
                    tracing::error!("restart requests are already taken by another herder");
                    mpsc::unbounded_channel().1
                }
            };
        let (rejoin_tx, mut rejoin_rx) = mpsc::unbounded_channel();
        let heartbeats = tokio::spawn(heartbeat_loop(
            self.group.clone(),
            self.settings.membership.heartbeat_interval,
            rejoin_tx,
        ));
        loop {
            if self.need_rejoin {
                // Requests from before this join are answered by it.
                while rejoin_rx.try_recv().is_ok() {}
                if let Err(e) = self.rebalance().await {
                    tracing::warn!(error = %e, "rebalance failed; retrying");
                    tokio::time::sleep(JOIN_BACKOFF).await;
                    continue;
                }
                self.started.store(true, Ordering::Release);
                self.ctx.metrics.rebalance_completed();
                if self.need_rejoin {
                    // Revoked work has stopped: the follow-up round starts now, not at the
                    // next heartbeat or config change.
                    continue;
                }
            }
            let rebalance_at = self.rebalance_at;
            let retry_at = self.retry_at;
            let key_rotation_at = self.key_rotation_at;
            tokio::select! {
                () = sleep_until_opt(key_rotation_at) => {
                    self.key_rotation_at = None;
                    let leads = self.leader.read().map(|l| l.is_leader && l.sessioned).unwrap_or(false);
                    if leads {
                        self.ensure_session_key().await;
                    }
                }
                () = sleep_until_opt(retry_at) => {
                    self.retry_at = None;
                    self.reconcile().await;
                    self.republish().await;
                }
                Some(()) = rejoin_rx.recv() => self.need_rejoin = true,
                Some((name, result)) = forward_results.recv() => {
                    self.forwards_in_flight.remove(&name);
                    let newer_waiting = self.publish_after_forward.remove(&name);
                    match result {
                        Err(e) => self.publish_failed(&name, &e.to_string()),
                        Ok(()) => {
                            self.unpublished.remove(&name);
                            if newer_waiting {
                                self.unpublished.insert(name, 0);
                                self.retry_at = Some(Instant::now());
                            }
                        }
                    }
                }
                changed = config_rx.changed() => {
                    if changed.is_err() {
                        tracing::error!("the config log stopped; leaving the group");
                        break;
                    }
                    self.reconcile().await;
                    self.check_work_changed();
                }
                Some(req) = restarts.recv() => self.handle_restart(req).await,
                () = sleep_until_opt(rebalance_at) => {
                    self.rebalance_at = None;
                    self.need_rejoin = true;
                }
                cmd = rx.recv() => match cmd {
                    Some(Command::RestartTask(id, reply)) => {
                        let r = self.restart_task(&id).await;
                        let _ = reply.send(r);
                    }
                    Some(Command::Ping(reply)) => {
                        let _ = reply.send(());
                    }
                    Some(Command::Shutdown(reply)) => {
                        // Heartbeats go on while tasks stop and commit; then leave, so the
                        // others rebalance at once rather than after the session timeout.
                        self.runtime.shutdown().await;
                        heartbeats.abort();
                        let _ = self.group.lock().await.leave().await;
                        let _ = reply.send(());
                        break;
                    }
                    None => break,
                },
            }
        }
        heartbeats.abort();
    }

    /// Joins the group, computes assignments when leading, and applies this worker's.
    async fn rebalance(&mut self) -> Result<(), HerderError> {
        // No read to the end first (it costs up to a second, on every member, in every
        // round): the metadata says how far this worker has read, the leader catches up
        // to the furthest member, and members catch up to the assignment's offset.
        // Evicted (the coordinator forgot this member): the leader's view of its old work is
        // gone, so it joins as a new member with nothing.
        if self.group.lock().await.member_id().is_empty() {
            self.assignment = None;
        }
        let state = self.config.snapshot();
        let metadata = WorkerMetadata {
            url: self.settings.url.clone(),
            config_offset: state.offset,
            allocation: self.assignment.clone(),
        };
        let join = self
            .group
            .lock()
            .await
            .join(&metadata)
            .await
            .map_err(internal)?;
        let assignments: Vec<(String, Assignment)> = if join.is_leader() {
            // The leader must have read at least as far as any member.
            if join
                .members
                .iter()
                .any(|(_, m)| m.config_offset > state.offset)
            {
                self.config.read_to_end().await.map_err(internal)?;
            }
            let state = self.config.snapshot();
            // Still behind a member after reading to the end: that member reads another topic.
            for (_, m) in join
                .members
                .iter()
                .filter(|(_, m)| m.config_offset > state.offset)
            {
                tracing::error!(
                    member = %m.url,
                    member_offset = m.config_offset,
                    config_topic = %self.config.topic(),
                    end_offset = state.offset,
                    "worker {} has read its config topic up to offset {}, but this worker's config.storage.topic '{}' ends at offset {}: every worker of a group must use the same config.storage.topic, offset.storage.topic and status.storage.topic",
                    m.url, m.config_offset, self.config.topic(), state.offset
                );
            }
            let members: Vec<Member> = join
                .members
                .iter()
                .map(|(id, m)| Member {
                    member_id: id.clone(),
                    allocation: m.allocation.clone(),
                })
                .collect();
            let desired = desired_of(&state);
            let round = RoundInfo {
                protocol: join.protocol,
                leader_id: join.leader_id.clone(),
                leader_url: self.settings.url.clone(),
                config_offset: state.offset,
                max_delay: self.settings.max_delay,
            };
            let out = self
                .assignor
                .assign(&members, &desired, &round, Instant::now());
            self.desired_at_assignment = Some((desired.connectors, desired.tasks));
            // Cooperative protocols send each member only what it gains; it keeps the rest
            // until revoked (what Kafka Connect's workers expect).
            out.into_iter()
                .map(|(id, mut a)| {
                    let had = join
                        .members
                        .iter()
                        .find(|(m, _)| *m == id)
                        .and_then(|(_, m)| m.allocation.as_ref());
                    if let (true, Some(had)) = (a.version >= 1, had) {
                        a.connectors.retain(|c| {
                            !had.connectors.contains(c) || a.revoked_connectors.contains(c)
                        });
                        a.tasks
                            .retain(|t| !had.tasks.contains(t) || a.revoked_tasks.contains(t));
                    }
                    (id, a)
                })
                .collect()
        } else {
            Vec::new()
        };
        let mut mine = self
            .group
            .lock()
            .await
            .sync(&assignments)
            .await
            .map_err(internal)?;
        // The cooperative protocols send what changed: what ran before stays, unless revoked
        // (Kafka Connect's WorkerCoordinator accumulates the same way).
        if mine.version >= 1 {
            if let Some(prev) = &self.assignment {
                for c in &prev.connectors {
                    if !mine.revoked_connectors.contains(c) && !mine.connectors.contains(c) {
                        mine.connectors.push(c.clone());
                    }
                }
                for t in &prev.tasks {
                    if !mine.revoked_tasks.contains(t) && !mine.tasks.contains(t) {
                        mine.tasks.push(t.clone());
                    }
                }
            }
        }
        self.generation = join.generation_id;
        self.ctx.status.set_generation(join.generation_id);
        self.last_rebalance = Some(Instant::now());
        let sessioned = join.protocol == ConnectProtocol::Sessioned;
        if let Ok(mut l) = self.leader.write() {
            l.leader_url = Some(mine.leader_url.clone());
            l.is_leader = join.is_leader();
            l.sessioned = sessioned;
        }
        // Read up to what the leader assigned from before taking the work.
        if mine.config_offset > self.config.snapshot().offset {
            self.config.read_to_end().await.map_err(internal)?;
            let end = self.config.snapshot().offset;
            if mine.config_offset > end {
                tracing::error!(
                    leader = %mine.leader_url,
                    "the group leader {} assigned work as of offset {} of its config topic, but this worker's config.storage.topic '{}' ends at offset {}: every worker of a group must use the same config.storage.topic, offset.storage.topic and status.storage.topic",
                    mine.leader_url, mine.config_offset, self.config.topic(), end
                );
            }
        }
        tracing::info!(
            generation = join.generation_id,
            leader = %mine.leader_url,
            connectors = ?mine.connectors,
            tasks = mine.tasks.len(),
            revoked_connectors = ?mine.revoked_connectors,
            revoked_tasks = mine.revoked_tasks.len(),
            "joined group"
        );
        if !join.is_leader() && self.checked_leader.as_deref() != Some(mine.leader_url.as_str()) {
            self.checked_leader = Some(mine.leader_url.clone());
            tokio::spawn(compare_with_leader(
                self.http.clone(),
                mine.leader_url.clone(),
                crate::config::worker::group_settings(&self.ctx.config),
            ));
        }
        let revoked = !mine.revoked_connectors.is_empty() || !mine.revoked_tasks.is_empty();
        self.rebalance_at = (mine.delay_ms > 0).then(|| {
            Instant::now() + Duration::from_millis(u64::try_from(mine.delay_ms).unwrap_or(0))
        });
        self.assignment = Some(mine);
        if join.is_leader() && sessioned {
            self.ensure_session_key().await;
        }
        self.reconcile().await;
        // Revoked work has stopped: rejoin so the leader can hand it out.
        self.need_rejoin = revoked;
        Ok(())
    }

    /// Leader of a sessioned generation: writes a new session key when there is none or it
    /// expired (`inter.worker.key.ttl.ms`), and schedules the next rotation.
    async fn ensure_session_key(&mut self) {
        let ttl = signature::DEFAULT_KEY_TTL;
        let current = self.config.snapshot().session_key;
        let key = match current {
            Some(k) if !signature::is_expired(&k, ttl) => k,
            _ => {
                let Some(fresh) = signature::generate_key(signature::DEFAULT_ALGORITHM) else {
                    tracing::error!("could not generate a session key");
                    return;
                };
                if let Err(e) = self.config.put_session_key(&fresh).await {
                    tracing::warn!(error = %e, "could not write the session key; retrying");
                    self.key_rotation_at = Some(Instant::now() + JOIN_BACKOFF);
                    return;
                }
                tracing::info!("wrote a new session key for internal requests");
                fresh
            }
        };
        let age_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .saturating_sub(key.creation_timestamp);
        let left = ttl.saturating_sub(Duration::from_millis(u64::try_from(age_ms).unwrap_or(0)));
        self.key_rotation_at = Some(Instant::now() + left);
    }

    /// Leader: a change in the set of connectors or tasks calls for a (debounced) rebalance.
    fn check_work_changed(&mut self) {
        let leads = self.leader.read().map(|l| l.is_leader).unwrap_or(false);
        if !leads {
            return;
        }
        let desired = desired_of(&self.config.snapshot());
        let now = (desired.connectors, desired.tasks);
        if self.desired_at_assignment.as_ref() != Some(&now) {
            let earliest = self
                .last_rebalance
                .map_or(Instant::now(), |t| t + REBALANCE_BACKOFF);
            let at = (Instant::now() + REBALANCE_DEBOUNCE).max(earliest);
            self.rebalance_at = Some(
                self.rebalance_at
                    .map_or(at, |r| r.min(at).max(Instant::now() + REBALANCE_DEBOUNCE)),
            );
        }
    }

    /// Makes the local runtime match the assignment and the config log.
    async fn reconcile(&mut self) {
        let Some(assignment) = self.assignment.clone() else {
            return;
        };
        let state = self.config.snapshot();
        let assigned: BTreeSet<&String> = assignment.connectors.iter().collect();
        // Connectors no longer ours or no longer existing.
        for name in self.runtime.connector_names() {
            if !assigned.contains(&name) || !state.connectors.contains_key(&name) {
                self.runtime.stop_connector(&name).await;
            }
        }
        // Tasks no longer ours, no longer existing, or stopped.
        let assigned_tasks: BTreeSet<TaskId> =
            assignment.tasks.iter().cloned().map(Into::into).collect();
        let gone: Vec<TaskId> = self
            .runtime
            .task_ids()
            .into_iter()
            .filter(|id| {
                !assigned_tasks.contains(id)
                    || state
                        .task_configs
                        .get(&id.connector)
                        .is_none_or(|t| t.len() <= id.task as usize)
                    || state.target_states.get(&id.connector) == Some(&TargetState::Stopped)
            })
            .collect();
        self.runtime.stop_tasks(gone).await;

        for name in &assignment.connectors {
            let Some(config) = state.connectors.get(name) else {
                continue;
            };
            let target = state
                .target_states
                .get(name)
                .copied()
                .unwrap_or(TargetState::Started);
            let running = self.runtime.has_connector(name);
            let changed = self.runtime.connector_config(name) != Some(config);
            if target == TargetState::Stopped {
                if running
                    || self
                        .ctx
                        .status
                        .connector(name)
                        .is_none_or(|s| s.state != State::Stopped)
                {
                    self.runtime
                        .start_connector(name, config, TargetState::Stopped)
                        .await;
                }
                continue;
            }
            if !running || changed {
                if self.runtime.start_connector(name, config, target).await {
                    self.publish_task_configs(name, &state).await;
                }
            } else if self.runtime.connector_target(name) != Some(target) {
                self.runtime.set_paused(name, target);
                if target == TargetState::Started {
                    self.publish_task_configs(name, &state).await;
                }
            }
        }

        for task in &assignment.tasks {
            let id: TaskId = task.clone().into();
            let (Some(connector), Some(task_config)) = (
                state.connectors.get(&id.connector),
                state
                    .task_configs
                    .get(&id.connector)
                    .and_then(|t| t.get(id.task as usize)),
            ) else {
                continue;
            };
            let target = state
                .target_states
                .get(&id.connector)
                .copied()
                .unwrap_or(TargetState::Started);
            if target == TargetState::Stopped {
                continue;
            }
            match self.runtime.task_config(&id) {
                Some(current) if current == task_config => {
                    self.runtime.set_task_target(&id, target);
                }
                _ => {
                    self.runtime
                        .start_task(id, connector, task_config, target)
                        .await
                }
            }
        }
    }

    /// Computes a connector's task configs here and has the leader write them if they changed.
    async fn publish_task_configs(&mut self, name: &str, state: &ClusterConfigState) {
        let Some(configs) = self.runtime.task_configs(name) else {
            self.unpublished.remove(name);
            return;
        };
        if state.task_configs.get(name) == Some(&configs) {
            self.unpublished.remove(name);
            return;
        }
        let leads = self.leader.read().map(|l| l.is_leader).unwrap_or(false);
        if leads {
            match self.config.put_task_configs(name, &configs).await {
                Ok(()) => {
                    self.unpublished.remove(name);
                }
                Err(e) => self.publish_failed(name, &e.to_string()),
            }
            return;
        }
        let Some(base) = self.leader.read().ok().and_then(|l| l.leader_url.clone()) else {
            self.publish_failed(name, "the group leader is not known");
            return;
        };
        if !self.forwards_in_flight.insert(name.to_owned()) {
            // Sent once the forward in flight (with older configs) is answered.
            self.publish_after_forward.insert(name.to_owned());
            return;
        }
        let body = bytes::Bytes::from(serde_json::to_vec(&configs).unwrap_or_default());
        let sessioned = self.leader.read().map(|l| l.sessioned).unwrap_or(false);
        let headers: Vec<(&'static str, String)> = match (sessioned, &state.session_key) {
            (true, Some(key)) => signature::sign(key, &body)
                .map(Vec::from)
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        // Off the member loop, as Kafka Connect's forwarding executor: the leader may be in a
        // rebalance that waits for this very worker to rejoin.
        let http = self.http.clone();
        let done = self.forward_done.clone();
        let name = name.to_owned();
        tokio::spawn(async move {
            let result = forward_bytes::<Json>(
                &http,
                &base,
                reqwest::Method::POST,
                &format!("/connectors/{}/tasks", enc(&name)),
                Some(body),
                &headers,
            )
            .await
            .map(|_| ());
            let _ = done.send((name, result));
        });
    }

    /// Records a failed attempt to publish `name`'s task configs and schedules the next.
    fn publish_failed(&mut self, name: &str, error: &str) {
        let failures = self.unpublished.entry(name.to_owned()).or_insert(0);
        *failures = failures.saturating_add(1);
        let backoff = publish_backoff(*failures);
        tracing::warn!(
            connector = name,
            error,
            attempts = *failures,
            retry_in_ms = u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX),
            "could not publish task configs; retrying"
        );
        let at = Instant::now() + backoff;
        self.retry_at = Some(self.retry_at.map_or(at, |r| r.min(at)));
    }

    /// Publishes again the task configs of this worker's running connectors that did not
    /// reach the config topic; those no longer running here are dropped.
    async fn republish(&mut self) {
        let state = self.config.snapshot();
        let names: Vec<String> = self.unpublished.keys().cloned().collect();
        for name in names {
            let started = state
                .target_states
                .get(&name)
                .copied()
                .unwrap_or(TargetState::Started)
                == TargetState::Started;
            if self.owns_connector(&name) && self.runtime.has_connector(&name) && started {
                if !self.forwards_in_flight.contains(&name) {
                    self.publish_task_configs(&name, &state).await;
                }
            } else {
                self.unpublished.remove(&name);
            }
        }
    }

    async fn handle_restart(&mut self, req: RestartRequest) {
        let state = self.config.snapshot();
        let Some(config) = state.connectors.get(&req.connector).cloned() else {
            return;
        };
        let target = state
            .target_states
            .get(&req.connector)
            .copied()
            .unwrap_or(TargetState::Started);
        let failed =
            |s: Option<crate::storage::TaskStatus>| s.is_some_and(|s| s.state == State::Failed);
        let owned = self.owns_connector(&req.connector);
        let wanted = !req.only_failed || failed(self.ctx.status.connector(&req.connector));
        if owned
            && wanted
            && self
                .runtime
                .start_connector(&req.connector, &config, target)
                .await
            && target != TargetState::Stopped
        {
            self.publish_task_configs(&req.connector, &state).await;
        }
        if req.include_tasks {
            let mine: Vec<TaskId> = self.runtime.tasks_of(&req.connector);
            for id in mine {
                if !req.only_failed || failed(self.ctx.status.task(&id.connector, id.task)) {
                    let _ = self.restart_task(&id).await;
                }
            }
        }
    }

    fn owns_connector(&self, name: &str) -> bool {
        self.assignment
            .as_ref()
            .is_some_and(|a| a.connectors.iter().any(|c| c == name))
    }

    async fn restart_task(&mut self, id: &TaskId) -> Result<(), HerderError> {
        let state = self.config.snapshot();
        let connector = state
            .connectors
            .get(&id.connector)
            .ok_or_else(|| HerderError::not_found_connector(&id.connector))?;
        let task_config = state
            .task_configs
            .get(&id.connector)
            .and_then(|t| t.get(id.task as usize))
            .ok_or_else(|| HerderError::NotFound(format!("Task {id} not found")))?;
        let target = state
            .target_states
            .get(&id.connector)
            .copied()
            .unwrap_or(TargetState::Started);
        self.runtime
            .start_task(id.clone(), connector, task_config, target)
            .await;
        Ok(())
    }
}

/// Parses a JSON array of task configs (the internal `POST /connectors/{name}/tasks` body).
pub fn parse_task_configs(body: Json) -> Result<Vec<Props>, HerderError> {
    serde_json::from_value::<Vec<BTreeMap<String, String>>>(body).map_err(|e| {
        HerderError::BadRequest(format!("task configs must be a list of string maps: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_backoff_doubles_from_250_ms_up_to_a_minute() {
        let ms = |n| publish_backoff(n).as_millis();
        assert_eq!(
            (1..=10).map(ms).collect::<Vec<_>>(),
            vec![250, 500, 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]
        );
        assert_eq!(ms(0), 250);
        assert_eq!(ms(u32::MAX), 60000);
    }
}
