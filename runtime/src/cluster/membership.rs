//! Group membership: a distributed worker's client of the Kafka group coordinator, speaking the
//! classic group protocol (FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup) with
//! protocol type `connect`, the way Kafka Connect's `WorkerGroupMember` and `AbstractCoordinator`
//! do. librdkafka cannot carry a custom group protocol, so this speaks the wire protocol itself.
//!
//! # Driving a member
//! A rebalance is [`GroupMember::join`] then [`GroupMember::sync`]: the leader (see
//! [`JoinOutcome::is_leader`]) receives every member's [`WorkerMetadata`], computes assignments
//! and passes them to `sync`; followers call `sync(&[])`. Between rebalances the owner must call
//! [`GroupMember::heartbeat`] every `heartbeat.interval.ms` ([`GroupMember::next_heartbeat`] says
//! when): the coordinator evicts a member it has not heard from within `session.timeout.ms`, and
//! heartbeats are how a member learns that the group is rebalancing. Nothing runs in the
//! background, so a herder that spends longer than the session timeout between calls (reading the
//! config topic, starting connectors) must heartbeat in between.
//!
//! While `join` or `sync` is waiting at the coordinator no heartbeat can be sent (the broker
//! handles one request per connection at a time, as for Java's client), and none is needed: the
//! coordinator keeps members that are waiting in JoinGroup or SyncGroup alive. The leader, between
//! its `join` returning and its `sync`, may heartbeat if computing the assignment takes long; the
//! coordinator's REBALANCE_IN_PROGRESS answer during that phase is treated as success, as in Java.
//!
//! The futures are cancellation-safe in the sense that matters: dropping one half-way (say, in
//! a `select!`) leaves no stray response to be read; the connection is replaced on the next call
//! and, if a `join` or `sync` was cut short, the member reports that it must join again.
//!
//! # Errors
//! Every method returns [`MembershipError`]; [`MembershipError::is_retriable`] separates what may
//! pass (coordinator moved or loading, connection lost, rebalance needed: re-find and rejoin)
//! from what will not (authorization, invalid configuration, incompatible protocol). `join`
//! retries retriable failures itself with exponential backoff (`retry.backoff.ms` up to
//! `retry.backoff.max.ms`) for up to `rebalance.timeout.ms`; `sync`, `heartbeat` and `leave` make
//! one attempt and say what happened, since their remedy is a new `join`.
//!
//! Only PLAINTEXT connections are implemented; other `security.protocol` values are refused at
//! configuration time.

use std::hash::BuildHasher;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    FindCoordinatorRequest, GroupId, HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest,
    SyncGroupRequest,
};
use kafka_protocol::protocol::StrBytes;
use tracing::{debug, info, warn};

use super::connection::{Connection, ConnectionSecurity};
use super::protocol::{Assignment, CodecError, ConnectProtocol, PROTOCOL_TYPE, WorkerMetadata};
use super::security::Security;
use crate::config::Props;
use crate::errors::ConnectError;

/// Highest request versions whose fields Ferry fills in; each is kafka-protocol 0.18's maximum.
const MAX_FIND_COORDINATOR: i16 = 6;
const MAX_JOIN_GROUP: i16 = 9;
const MAX_SYNC_GROUP: i16 = 5;
const MAX_HEARTBEAT: i16 = 4;
const MAX_LEAVE_GROUP: i16 = 5;

/// Extra time a JoinGroup may take beyond the rebalance timeout (Java's JOIN_GROUP_TIMEOUT_LAPSE).
const JOIN_GROUP_TIMEOUT_LAPSE: Duration = Duration::from_secs(5);

/// The coordinator truncates longer JoinGroup/LeaveGroup reasons; so does Java's client.
const MAX_REASON_CHARS: usize = 255;

/// Worker config keys this module reads (Kafka Connect's names).
pub const GROUP_ID_CONFIG: &str = "group.id";
pub const CLIENT_ID_CONFIG: &str = "client.id";
pub const SESSION_TIMEOUT_MS_CONFIG: &str = "session.timeout.ms";
pub const HEARTBEAT_INTERVAL_MS_CONFIG: &str = "heartbeat.interval.ms";
pub const REBALANCE_TIMEOUT_MS_CONFIG: &str = "rebalance.timeout.ms";
pub const REQUEST_TIMEOUT_MS_CONFIG: &str = "request.timeout.ms";
pub const RETRY_BACKOFF_MS_CONFIG: &str = "retry.backoff.ms";
pub const RETRY_BACKOFF_MAX_MS_CONFIG: &str = "retry.backoff.max.ms";
pub const SECURITY_PROTOCOL_CONFIG: &str = "security.protocol";
pub const BOOTSTRAP_SERVERS_CONFIG: &str = "bootstrap.servers";

/// How a worker takes part in its Connect group. Defaults are Kafka Connect's
/// (`DistributedConfig`), so a properties file means the same to Ferry as to Java.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipConfig {
    /// `host:port` of brokers to ask for the group coordinator, tried in order.
    pub bootstrap_servers: Vec<String>,
    /// The Connect cluster's group; every worker of a cluster shares it.
    pub group_id: String,
    /// Sent in every request header, to tell workers apart in broker logs and quotas.
    pub client_id: String,
    /// `session.timeout.ms` (10 s): the coordinator evicts a member silent for this long.
    pub session_timeout: Duration,
    /// `heartbeat.interval.ms` (3 s): how often to heartbeat; below the session timeout.
    pub heartbeat_interval: Duration,
    /// `rebalance.timeout.ms` (60 s): how long the coordinator waits for members to rejoin, and
    /// how long `join` keeps retrying.
    pub rebalance_timeout: Duration,
    /// `request.timeout.ms` (40 s): the longest wait for an ordinary response.
    pub request_timeout: Duration,
    /// `retry.backoff.ms` (100 ms): the first pause before retrying.
    pub retry_backoff: Duration,
    /// `retry.backoff.max.ms` (1 s): the longest pause between retries.
    pub retry_backoff_max: Duration,
    /// `connect.protocol` (sessioned): which Connect sub-protocols to offer.
    pub protocol: ConnectProtocol,
    /// `security.protocol`, SASL and TLS settings of the membership connection.
    pub security: Security,
}

impl MembershipConfig {
    /// A configuration with Kafka Connect's defaults.
    pub fn new(bootstrap_servers: Vec<String>, group_id: impl Into<String>) -> Self {
        MembershipConfig {
            bootstrap_servers,
            group_id: group_id.into(),
            client_id: "connect-ferry".to_string(),
            session_timeout: Duration::from_millis(10_000),
            heartbeat_interval: Duration::from_millis(3_000),
            rebalance_timeout: Duration::from_millis(60_000),
            request_timeout: Duration::from_millis(40_000),
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_millis(1_000),
            protocol: ConnectProtocol::Sessioned,
            security: Security::default(),
        }
    }

    /// Reads the distributed worker's settings (Kafka Connect's keys). `group.id` is required;
    /// errors name the offending key. An empty `client.id` keeps Ferry's default, which the
    /// herder may replace with `connect-<worker id>` as Java does.
    pub fn from_worker(props: &Props) -> Result<Self, MembershipError> {
        let get = |key: &str| props.get(key).map(|v| v.trim());

        let security = Security::from_worker(props)?;

        let bootstrap = get(BOOTSTRAP_SERVERS_CONFIG).unwrap_or("localhost:9092");
        let bootstrap_servers: Vec<String> = bootstrap
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();

        let group_id = match get(GROUP_ID_CONFIG) {
            Some(g) if !g.is_empty() => g.to_string(),
            _ => {
                return Err(MembershipError::Config(format!(
                    "Missing required configuration \"{GROUP_ID_CONFIG}\" which has no default value: \
                     distributed workers need the group id of their Connect cluster"
                )));
            }
        };

        let mut config = MembershipConfig::new(bootstrap_servers, group_id);
        config.security = security;
        if let Some(client_id) = get(CLIENT_ID_CONFIG).filter(|c| !c.is_empty()) {
            config.client_id = client_id.to_string();
        }
        let millis = |key: &str, default: Duration| -> Result<Duration, MembershipError> {
            match get(key) {
                None => Ok(default),
                Some(raw) => raw
                    .parse::<i64>()
                    .ok()
                    .filter(|ms| *ms >= 0)
                    .map(|ms| Duration::from_millis(ms.unsigned_abs()))
                    .ok_or_else(|| {
                        MembershipError::Config(format!(
                            "Invalid value {raw} for configuration {key}: not a non-negative number of milliseconds"
                        ))
                    }),
            }
        };
        config.session_timeout = millis(SESSION_TIMEOUT_MS_CONFIG, config.session_timeout)?;
        config.heartbeat_interval =
            millis(HEARTBEAT_INTERVAL_MS_CONFIG, config.heartbeat_interval)?;
        config.rebalance_timeout = millis(REBALANCE_TIMEOUT_MS_CONFIG, config.rebalance_timeout)?;
        config.request_timeout = millis(REQUEST_TIMEOUT_MS_CONFIG, config.request_timeout)?;
        config.retry_backoff = millis(RETRY_BACKOFF_MS_CONFIG, config.retry_backoff)?;
        config.retry_backoff_max = millis(RETRY_BACKOFF_MAX_MS_CONFIG, config.retry_backoff_max)?;
        if let Some(raw) = get(super::protocol::CONNECT_PROTOCOL_CONFIG) {
            config.protocol = raw
                .parse()
                .map_err(|e: super::protocol::UnknownProtocolMode| {
                    MembershipError::Config(e.to_string())
                })?;
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks what the broker would otherwise reject later, or what cannot work.
    pub fn validate(&self) -> Result<(), MembershipError> {
        let bad = |msg: String| Err(MembershipError::Config(msg));
        if self.bootstrap_servers.is_empty() {
            return bad(format!("{BOOTSTRAP_SERVERS_CONFIG} lists no broker"));
        }
        for server in &self.bootstrap_servers {
            let port_ok = server
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !port_ok {
                return bad(format!(
                    "Invalid url in {BOOTSTRAP_SERVERS_CONFIG}: {server} (expected host:port)"
                ));
            }
        }
        if self.group_id.is_empty() {
            return bad(format!("{GROUP_ID_CONFIG} must not be empty"));
        }
        for (key, value) in [
            (SESSION_TIMEOUT_MS_CONFIG, self.session_timeout),
            (HEARTBEAT_INTERVAL_MS_CONFIG, self.heartbeat_interval),
            (REBALANCE_TIMEOUT_MS_CONFIG, self.rebalance_timeout),
            (REQUEST_TIMEOUT_MS_CONFIG, self.request_timeout),
        ] {
            if value.is_zero() || i32::try_from(value.as_millis()).is_err() {
                return bad(format!(
                    "Invalid value {} for configuration {key}: must be between 1 and 2147483647 ms",
                    value.as_millis()
                ));
            }
        }
        if self.heartbeat_interval >= self.session_timeout {
            return bad(format!(
                "{HEARTBEAT_INTERVAL_MS_CONFIG} ({} ms) must be lower than {SESSION_TIMEOUT_MS_CONFIG} ({} ms)",
                self.heartbeat_interval.as_millis(),
                self.session_timeout.as_millis()
            ));
        }
        Ok(())
    }
}

/// Why a member has to join again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RebalanceCause {
    /// The coordinator started a rebalance: a member joined, left or was evicted, or metadata
    /// changed.
    RebalanceInProgress,
    /// The member's generation is no longer the group's.
    IllegalGeneration,
    /// The coordinator does not know the member (evicted after the session timeout); the next
    /// join starts with a fresh member id.
    UnknownMemberId,
    /// The member has not completed a join, or its last join or sync failed.
    NotJoined,
}

impl std::fmt::Display for RebalanceCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RebalanceCause::RebalanceInProgress => "the group is rebalancing",
            RebalanceCause::IllegalGeneration => "the member's generation is stale",
            RebalanceCause::UnknownMemberId => "the coordinator does not know the member",
            RebalanceCause::NotJoined => "the member has not joined the group",
        })
    }
}

/// What a heartbeat learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeartbeatOutcome {
    /// The member is in the group's current generation.
    Ok,
    /// The member must [`GroupMember::join`] again (cooperative protocols keep running their work
    /// until an assignment revokes it; eager ones stop everything first).
    RebalanceNeeded(RebalanceCause),
    /// The coordinator moved or its connection broke; the next heartbeat looks it up again.
    /// The membership itself may still be valid.
    CoordinatorMoved,
}

/// A completed JoinGroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinOutcome {
    pub generation_id: i32,
    /// This member's id in the group.
    pub member_id: String,
    /// The leader's member id; the leader computes everyone's assignment.
    pub leader_id: String,
    /// The Connect sub-protocol the coordinator chose (the most preferred one all members offer).
    pub protocol: ConnectProtocol,
    /// Every member's id and metadata, in the coordinator's order; empty unless this member leads.
    pub members: Vec<(String, WorkerMetadata)>,
}

impl JoinOutcome {
    /// Whether this member must compute the assignments.
    pub fn is_leader(&self) -> bool {
        self.member_id == self.leader_id
    }
}

/// The API versions used with the coordinator, for logs and diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupApiVersions {
    pub find_coordinator: i16,
    pub join_group: i16,
    pub sync_group: i16,
    pub heartbeat: i16,
    pub leave_group: i16,
}

/// Group membership failures.
#[derive(Debug, thiserror::Error)]
pub enum MembershipError {
    /// The worker configuration cannot work; the message names the key.
    #[error("invalid distributed worker configuration: {0}")]
    Config(String),
    /// A broker could not be reached or the connection broke.
    #[error("cannot talk to Kafka broker {broker}: {detail}")]
    Connection { broker: String, detail: String },
    /// No answer in time.
    #[error("{what} timed out after {} ms", timeout.as_millis())]
    Timeout { what: String, timeout: Duration },
    /// The group's coordinator is unknown, moving or loading; look it up again and retry.
    #[error("the group coordinator of group '{group}' is not available: {detail}")]
    CoordinatorNotAvailable { group: String, detail: String },
    /// The generation ended before the call completed; call `join` again.
    #[error("group '{group}' is rebalancing and this member must join again: {cause}")]
    RebalanceNeeded {
        group: String,
        cause: RebalanceCause,
    },
    /// The broker refused the request.
    #[error("{api} for group '{group}' failed: {error} (Kafka error code {code}){detail}",
        code = error.code(),
        detail = message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Broker {
        api: &'static str,
        group: String,
        error: ResponseError,
        message: Option<String>,
    },
    /// The broker and Ferry share no version of an API.
    #[error(
        "Kafka broker {broker} supports {api} versions {broker_versions} but Ferry speaks {ferry_versions}"
    )]
    UnsupportedVersion {
        api: &'static str,
        broker: String,
        broker_versions: String,
        ferry_versions: String,
    },
    /// The broker or the group sent something that is not what the protocol allows.
    #[error("unexpected {api} response from broker {broker}: {detail}")]
    MalformedResponse {
        api: &'static str,
        broker: String,
        detail: String,
    },
    /// Connect metadata or an assignment could not be encoded or decoded.
    #[error("{context}: {source}")]
    Codec {
        context: String,
        #[source]
        source: CodecError,
    },
    /// The broker refused this worker's credentials, or the TLS handshake failed.
    #[error("cannot authenticate with Kafka broker {broker}: {detail}")]
    Authentication { broker: String, detail: String },
    /// A bug in Ferry.
    #[error("internal error in group membership: {0}")]
    Internal(String),
}

impl MembershipError {
    /// Whether trying again (after re-finding the coordinator, or rejoining) may succeed.
    pub fn is_retriable(&self) -> bool {
        match self {
            MembershipError::Connection { .. }
            | MembershipError::Timeout { .. }
            | MembershipError::CoordinatorNotAvailable { .. }
            | MembershipError::RebalanceNeeded { .. } => true,
            MembershipError::Broker { error, .. } => error.is_retriable(),
            MembershipError::Config(_)
            | MembershipError::Authentication { .. }
            | MembershipError::UnsupportedVersion { .. }
            | MembershipError::MalformedResponse { .. }
            | MembershipError::Codec { .. }
            | MembershipError::Internal(_) => false,
        }
    }
}

impl From<MembershipError> for ConnectError {
    fn from(e: MembershipError) -> Self {
        match e {
            MembershipError::Config(msg) => ConnectError::Config(msg),
            MembershipError::Internal(msg) => ConnectError::Internal(msg),
            other => {
                let retriable = other.is_retriable();
                ConnectError::External {
                    message: other.to_string(),
                    retriable,
                }
            }
        }
    }
}

/// Where a member stands in the rebalance cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not in a generation: must join.
    Unjoined,
    /// Joined a generation, waiting for its assignment (SyncGroup).
    AwaitingSync,
    /// Has its assignment for the current generation.
    Stable,
}

struct Coordinator {
    node_id: i32,
    conn: Connection,
    versions: GroupApiVersions,
}

/// A worker's membership in its Connect group. See the module docs for how to drive it.
pub struct GroupMember {
    config: MembershipConfig,
    coordinator: Option<Coordinator>,
    member_id: String,
    generation_id: i32,
    protocol: Option<ConnectProtocol>,
    state: State,
    /// Why the member is (or will be) rejoining; told to the coordinator in JoinGroup.
    rejoin_cause: Option<RebalanceCause>,
    last_heartbeat: Option<Instant>,
    /// TLS client and SASL login for every connection, built once.
    secure: ConnectionSecurity,
}

impl GroupMember {
    /// A member that has not contacted Kafka yet; the first call finds the coordinator.
    pub fn new(config: MembershipConfig) -> Result<Self, MembershipError> {
        config.validate()?;
        let secure = ConnectionSecurity {
            tls: config.security.tls_connector()?,
            sasl: config.security.sasl.clone(),
        };
        Ok(GroupMember {
            secure,
            config,
            coordinator: None,
            member_id: String::new(),
            generation_id: -1,
            protocol: None,
            state: State::Unjoined,
            rejoin_cause: None,
            last_heartbeat: None,
        })
    }

    /// The settings this member runs with (the herder paces heartbeats by them).
    pub fn config(&self) -> &MembershipConfig {
        &self.config
    }

    /// The member id the coordinator gave this member; empty before the first join and after
    /// leaving or being evicted.
    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    /// The generation this member is in, if it has joined one and not been told to rejoin.
    pub fn generation_id(&self) -> Option<i32> {
        (self.state != State::Unjoined).then_some(self.generation_id)
    }

    /// The sub-protocol of the current generation.
    pub fn protocol(&self) -> Option<ConnectProtocol> {
        self.protocol.filter(|_| self.state != State::Unjoined)
    }

    /// Whether the member has its assignment for the current generation.
    pub fn is_stable(&self) -> bool {
        self.state == State::Stable
    }

    /// When the next heartbeat is due, while in a generation.
    pub fn next_heartbeat(&self) -> Option<Instant> {
        if self.state == State::Unjoined {
            return None;
        }
        self.last_heartbeat
            .map(|t| t + self.config.heartbeat_interval)
    }

    /// The API versions in use with the current coordinator.
    pub fn api_versions(&self) -> Option<GroupApiVersions> {
        self.coordinator.as_ref().map(|c| c.versions)
    }

    /// The current coordinator: broker node id and `host:port`.
    pub fn coordinator(&self) -> Option<(i32, &str)> {
        self.coordinator
            .as_ref()
            .map(|c| (c.node_id, c.conn.broker()))
    }

    /// Finds and connects to the group coordinator now (otherwise the first call does), retrying
    /// for up to `request.timeout.ms`; useful to fail fast at startup.
    pub async fn ensure_coordinator(&mut self) -> Result<(), MembershipError> {
        let deadline = Instant::now() + self.config.request_timeout;
        self.find_coordinator(deadline).await
    }

    /// Joins the group's next generation (JoinGroup), offering `metadata` in every sub-protocol
    /// of the configured mode. Returns when the coordinator has formed the generation, which can
    /// take until every other member has rejoined (up to `rebalance.timeout.ms`). Handles
    /// MEMBER_ID_REQUIRED (KIP-394) and retries coordinator moves and connection failures.
    pub async fn join(
        &mut self,
        metadata: &WorkerMetadata,
    ) -> Result<JoinOutcome, MembershipError> {
        let protocols: Vec<JoinGroupRequestProtocol> = metadata
            .join_protocols(self.config.protocol)
            .map_err(|source| MembershipError::Codec {
                context: "cannot encode this worker's JoinGroup metadata".to_string(),
                source,
            })?
            .into_iter()
            .map(|(p, bytes)| {
                JoinGroupRequestProtocol::default()
                    .with_name(StrBytes::from_static_str(p.protocol_name()))
                    .with_metadata(Bytes::from(bytes))
            })
            .collect();

        if self.state != State::Unjoined {
            // A rejoin the owner asked for (e.g. new connector configs): the old generation ends.
            self.rejoin_cause
                .get_or_insert(RebalanceCause::RebalanceInProgress);
        }
        self.state = State::Unjoined;
        let deadline = Instant::now() + self.config.rebalance_timeout;
        let mut attempt = 0u32;
        loop {
            match self.join_once(&protocols, deadline).await {
                Ok(Some(outcome)) => return Ok(outcome),
                Ok(None) if Instant::now() < deadline => {}
                Ok(None) => {
                    return Err(MembershipError::Timeout {
                        what: format!("joining group '{}'", self.config.group_id),
                        timeout: self.config.rebalance_timeout,
                    });
                }
                Err(e) if e.is_retriable() && Instant::now() < deadline => {
                    let pause = self.backoff(attempt).min(deadline - Instant::now());
                    info!(group = %self.config.group_id, error = %e, "JoinGroup failed; retrying in {} ms", pause.as_millis());
                    tokio::time::sleep(pause).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// One JoinGroup exchange. `Ok(None)`: the coordinator asked for an immediate retry.
    async fn join_once(
        &mut self,
        protocols: &[JoinGroupRequestProtocol],
        deadline: Instant,
    ) -> Result<Option<JoinOutcome>, MembershipError> {
        self.find_coordinator(deadline).await?;
        let version = self.versions()?.join_group;
        let reason = self.rejoin_cause.map(|c| c.to_string()).unwrap_or_default();
        let request = JoinGroupRequest::default()
            .with_group_id(GroupId(StrBytes::from_string(self.config.group_id.clone())))
            .with_session_timeout_ms(millis_i32(self.config.session_timeout))
            .with_rebalance_timeout_ms(millis_i32(self.config.rebalance_timeout))
            .with_member_id(StrBytes::from_string(self.member_id.clone()))
            .with_protocol_type(StrBytes::from_static_str(PROTOCOL_TYPE))
            .with_protocols(protocols.to_vec())
            .with_reason((version >= 8).then(|| StrBytes::from_string(truncate(&reason))));
        let timeout = self
            .config
            .request_timeout
            .max(self.config.rebalance_timeout + JOIN_GROUP_TIMEOUT_LAPSE);
        info!(group = %self.config.group_id, member = %self.member_id, "(Re-)joining group");
        let response = self.coordinator_request(&request, version, timeout).await?;

        let error = ResponseError::try_from_code(response.error_code);
        match error {
            None => {}
            Some(ResponseError::MemberIdRequired) => {
                // KIP-394: the coordinator hands out the id and expects the member to come back
                // with it, so that members that never return do not linger in the group.
                debug!(group = %self.config.group_id, member = %response.member_id, "JoinGroup: member id assigned; joining again with it");
                self.member_id = response.member_id.to_string();
                return Ok(None);
            }
            Some(ResponseError::UnknownMemberId) => {
                info!(group = %self.config.group_id, member = %self.member_id, "JoinGroup: unknown member id; joining again with a new one");
                self.member_id.clear();
                return Ok(None);
            }
            Some(ResponseError::RebalanceInProgress) => {
                // Can indicate a replication timeout on the broker; Java retries at once.
                return Ok(None);
            }
            Some(e @ (ResponseError::NotCoordinator | ResponseError::CoordinatorNotAvailable)) => {
                self.coordinator = None;
                return Err(self.coordinator_lost(e));
            }
            Some(e) => return Err(self.broker_error("JoinGroup", e, None)),
        }

        if let Some(protocol_type) = response.protocol_type.as_deref() {
            if protocol_type != PROTOCOL_TYPE {
                return Err(
                    self.inconsistent("JoinGroup", format!("protocol type '{protocol_type}'"))
                );
            }
        }
        let protocol_name = response.protocol_name.as_deref().unwrap_or_default();
        let Some(protocol) = ConnectProtocol::from_protocol_name(protocol_name) else {
            return Err(self.inconsistent(
                "JoinGroup",
                format!("protocol '{protocol_name}', which this worker did not offer"),
            ));
        };
        if response.skip_assignment {
            return Err(self.inconsistent(
                "JoinGroup",
                "skip_assignment, which only static members get and Connect has none".to_string(),
            ));
        }
        let mut members = Vec::with_capacity(response.members.len());
        for member in &response.members {
            let metadata = WorkerMetadata::decode(&member.metadata).map_err(|source| {
                MembershipError::Codec {
                    context: format!(
                        "group '{}': the JoinGroup metadata of member '{}' ({} protocol)",
                        self.config.group_id, member.member_id, protocol_name
                    ),
                    source,
                }
            })?;
            members.push((member.member_id.to_string(), metadata));
        }

        self.member_id = response.member_id.to_string();
        self.generation_id = response.generation_id;
        self.protocol = Some(protocol);
        self.state = State::AwaitingSync;
        self.rejoin_cause = None;
        self.last_heartbeat = Some(Instant::now());
        let outcome = JoinOutcome {
            generation_id: response.generation_id,
            member_id: self.member_id.clone(),
            leader_id: response.leader.to_string(),
            protocol,
            members,
        };
        info!(
            group = %self.config.group_id,
            generation = outcome.generation_id,
            member = %outcome.member_id,
            leader = %outcome.leader_id,
            protocol = %protocol.protocol_name(),
            "Successfully joined group"
        );
        Ok(Some(outcome))
    }

    /// Completes the rebalance (SyncGroup) and returns this member's assignment. The leader passes
    /// every member's assignment, keyed by member id; followers pass none. A retriable error
    /// means the generation is over: call [`GroupMember::join`] again.
    pub async fn sync(
        &mut self,
        assignments: &[(String, Assignment)],
    ) -> Result<Assignment, MembershipError> {
        if self.state != State::AwaitingSync {
            return Err(MembershipError::RebalanceNeeded {
                group: self.config.group_id.clone(),
                cause: self.rejoin_cause.unwrap_or(RebalanceCause::NotJoined),
            });
        }
        let Some(protocol) = self.protocol else {
            return Err(MembershipError::Internal(
                "joined a generation without a protocol".to_string(),
            ));
        };
        let mut encoded = Vec::with_capacity(assignments.len());
        for (member, assignment) in assignments {
            let bytes = assignment
                .encode()
                .map_err(|source| MembershipError::Codec {
                    context: format!("cannot encode the assignment of member '{member}'"),
                    source,
                })?;
            encoded.push(
                SyncGroupRequestAssignment::default()
                    .with_member_id(StrBytes::from_string(member.clone()))
                    .with_assignment(Bytes::from(bytes)),
            );
        }
        let Ok(versions) = self.versions() else {
            self.state = State::Unjoined;
            return Err(self.coordinator_lost(ResponseError::CoordinatorNotAvailable));
        };
        let version = versions.sync_group;
        let request = SyncGroupRequest::default()
            .with_group_id(GroupId(StrBytes::from_string(self.config.group_id.clone())))
            .with_generation_id(self.generation_id)
            .with_member_id(StrBytes::from_string(self.member_id.clone()))
            .with_protocol_type((version >= 5).then_some(StrBytes::from_static_str(PROTOCOL_TYPE)))
            .with_protocol_name(
                (version >= 5).then_some(StrBytes::from_static_str(protocol.protocol_name())),
            )
            .with_assignments(encoded);
        // Until the assignment is in hand the member is not in a usable generation; if this call
        // fails or is cancelled, the owner has to join again.
        self.state = State::Unjoined;
        self.rejoin_cause = Some(RebalanceCause::NotJoined);
        let response = self
            .coordinator_request(&request, version, self.config.request_timeout)
            .await?;

        match ResponseError::try_from_code(response.error_code) {
            None => {}
            Some(e) => {
                let cause = match e {
                    ResponseError::RebalanceInProgress => RebalanceCause::RebalanceInProgress,
                    ResponseError::IllegalGeneration => {
                        // The member id stays valid; only the generation is stale.
                        self.generation_id = -1;
                        RebalanceCause::IllegalGeneration
                    }
                    ResponseError::UnknownMemberId => {
                        self.reset_member();
                        RebalanceCause::UnknownMemberId
                    }
                    ResponseError::NotCoordinator | ResponseError::CoordinatorNotAvailable => {
                        self.coordinator = None;
                        return Err(self.coordinator_lost(e));
                    }
                    other => return Err(self.broker_error("SyncGroup", other, None)),
                };
                info!(group = %self.config.group_id, error = %e, "SyncGroup failed; the member must join again");
                self.rejoin_cause = Some(cause);
                return Err(MembershipError::RebalanceNeeded {
                    group: self.config.group_id.clone(),
                    cause,
                });
            }
        }
        let inconsistency = match (
            response.protocol_type.as_deref(),
            response.protocol_name.as_deref(),
        ) {
            (Some(t), _) if t != PROTOCOL_TYPE => Some(format!("protocol type '{t}'")),
            (_, Some(name)) if name != protocol.protocol_name() => Some(format!(
                "protocol '{name}' but JoinGroup chose '{}'",
                protocol.protocol_name()
            )),
            _ => None,
        };
        if let Some(what) = inconsistency {
            return Err(self.inconsistent("SyncGroup", what));
        }
        let assignment = match Assignment::decode(&response.assignment) {
            Ok(a) => a,
            Err(source) => {
                return Err(MembershipError::Codec {
                    context: format!(
                        "group '{}' generation {}: the leader's assignment for this member",
                        self.config.group_id, self.generation_id
                    ),
                    source,
                });
            }
        };
        self.state = State::Stable;
        self.rejoin_cause = None;
        self.last_heartbeat = Some(Instant::now());
        info!(group = %self.config.group_id, generation = self.generation_id, "Successfully synced group");
        Ok(assignment)
    }

    /// Tells the coordinator this member is alive, and learns whether the group is rebalancing.
    /// Call it every `heartbeat.interval.ms` while in a generation (see the module docs). Looks
    /// up a moved coordinator for up to one heartbeat interval first; an `Err` means that failed
    /// (retriable) or the coordinator refused the member for good (not retriable).
    pub async fn heartbeat(&mut self) -> Result<HeartbeatOutcome, MembershipError> {
        if self.state == State::Unjoined {
            return Ok(HeartbeatOutcome::RebalanceNeeded(
                self.rejoin_cause.unwrap_or(RebalanceCause::NotJoined),
            ));
        }
        let deadline = Instant::now() + self.config.heartbeat_interval;
        self.find_coordinator(deadline).await?;
        let version = self.versions()?.heartbeat;
        let request = HeartbeatRequest::default()
            .with_group_id(GroupId(StrBytes::from_string(self.config.group_id.clone())))
            .with_generation_id(self.generation_id)
            .with_member_id(StrBytes::from_string(self.member_id.clone()));
        let timeout = self.config.request_timeout.min(self.config.session_timeout);
        let response = match self.coordinator_request(&request, version, timeout).await {
            Ok(r) => r,
            Err(e) if e.is_retriable() => {
                info!(group = %self.config.group_id, error = %e, "Heartbeat failed; the coordinator will be looked up again");
                return Ok(HeartbeatOutcome::CoordinatorMoved);
            }
            Err(e) => return Err(e),
        };
        let cause = match ResponseError::try_from_code(response.error_code) {
            None => {
                self.last_heartbeat = Some(Instant::now());
                return Ok(HeartbeatOutcome::Ok);
            }
            Some(ResponseError::NotCoordinator | ResponseError::CoordinatorNotAvailable) => {
                info!(group = %self.config.group_id, "Heartbeat: the coordinator moved; it will be looked up again");
                self.coordinator = None;
                return Ok(HeartbeatOutcome::CoordinatorMoved);
            }
            Some(ResponseError::RebalanceInProgress) if self.state == State::AwaitingSync => {
                // Between JoinGroup and SyncGroup the group is still "rebalancing"; Java ignores
                // this answer then, and so does Ferry.
                self.last_heartbeat = Some(Instant::now());
                return Ok(HeartbeatOutcome::Ok);
            }
            Some(ResponseError::RebalanceInProgress) => RebalanceCause::RebalanceInProgress,
            Some(ResponseError::IllegalGeneration) => {
                self.generation_id = -1;
                RebalanceCause::IllegalGeneration
            }
            Some(ResponseError::UnknownMemberId) => {
                self.reset_member();
                RebalanceCause::UnknownMemberId
            }
            Some(other) => return Err(self.broker_error("Heartbeat", other, None)),
        };
        info!(group = %self.config.group_id, %cause, "Heartbeat: the member must rejoin the group");
        self.state = State::Unjoined;
        self.rejoin_cause = Some(cause);
        Ok(HeartbeatOutcome::RebalanceNeeded(cause))
    }

    /// Leaves the group (LeaveGroup), so the others rebalance now instead of after the session
    /// timeout. The member forgets its id and generation whatever the outcome; errors only say
    /// the coordinator may not have heard (it then evicts the member after the session timeout).
    pub async fn leave(&mut self) -> Result<(), MembershipError> {
        let member_id = std::mem::take(&mut self.member_id);
        self.reset_member();
        self.rejoin_cause = Some(RebalanceCause::NotJoined);
        if member_id.is_empty() {
            return Ok(());
        }
        let deadline = Instant::now() + self.config.heartbeat_interval;
        self.find_coordinator(deadline).await?;
        let version = self.versions()?.leave_group;
        let mut request = LeaveGroupRequest::default()
            .with_group_id(GroupId(StrBytes::from_string(self.config.group_id.clone())));
        if version <= 2 {
            request = request.with_member_id(StrBytes::from_string(member_id.clone()));
        } else {
            request = request.with_members(vec![
                MemberIdentity::default()
                    .with_member_id(StrBytes::from_string(member_id.clone()))
                    .with_reason(
                        (version >= 5)
                            .then_some(StrBytes::from_static_str("the worker is shutting down")),
                    ),
            ]);
        }
        info!(group = %self.config.group_id, member = %member_id, "Leaving group");
        let response = self
            .coordinator_request(&request, version, self.config.request_timeout)
            .await?;
        let member_error = response
            .members
            .iter()
            .map(|m| m.error_code)
            .find(|c| *c != 0);
        match ResponseError::try_from_code(response.error_code)
            .or_else(|| member_error.and_then(ResponseError::try_from_code))
        {
            None => Ok(()),
            Some(e) => Err(self.broker_error("LeaveGroup", e, None)),
        }
    }

    /// Sends a request to the coordinator; any transport failure forgets the connection, so the
    /// next call looks the coordinator up again.
    async fn coordinator_request<R: super::connection::ClientRequest>(
        &mut self,
        request: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<R::Response, MembershipError> {
        let Some(coordinator) = self.coordinator.as_mut() else {
            return Err(self.coordinator_lost(ResponseError::CoordinatorNotAvailable));
        };
        let result = coordinator.conn.request(request, version, timeout).await;
        if result.is_err() {
            self.coordinator = None;
        }
        result
    }

    fn versions(&self) -> Result<GroupApiVersions, MembershipError> {
        self.coordinator
            .as_ref()
            .map(|c| c.versions)
            .ok_or_else(|| self.coordinator_lost(ResponseError::CoordinatorNotAvailable))
    }

    /// Makes sure a usable coordinator connection exists, looking it up (with backoff) until
    /// `deadline` if not. The deadline bounds the start of new attempts, and each attempt's
    /// network waits are capped at `request.timeout.ms`.
    async fn find_coordinator(&mut self, deadline: Instant) -> Result<(), MembershipError> {
        if self
            .coordinator
            .as_ref()
            .is_some_and(|c| c.conn.is_usable())
        {
            return Ok(());
        }
        self.coordinator = None;
        let mut attempt = 0u32;
        loop {
            match self.find_coordinator_once(deadline).await {
                Ok(coordinator) => {
                    info!(
                        group = %self.config.group_id,
                        node = coordinator.node_id,
                        broker = %coordinator.conn.broker(),
                        versions = ?coordinator.versions,
                        "Discovered group coordinator"
                    );
                    self.coordinator = Some(coordinator);
                    return Ok(());
                }
                Err(e) if e.is_retriable() => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(e);
                    }
                    let pause = self.backoff(attempt).min(deadline - now);
                    debug!(group = %self.config.group_id, error = %e, "Group coordinator lookup failed; retrying in {} ms", pause.as_millis());
                    tokio::time::sleep(pause).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Asks the bootstrap brokers in turn for the coordinator and connects to it.
    async fn find_coordinator_once(
        &self,
        deadline: Instant,
    ) -> Result<Coordinator, MembershipError> {
        let group = &self.config.group_id;
        let mut last_error = None;
        for broker in &self.config.bootstrap_servers {
            let timeout = self.attempt_timeout(deadline);
            let mut conn =
                match Connection::open(broker, &self.config.client_id, &self.secure, timeout).await
                {
                    Ok(conn) => conn,
                    Err(e) if e.is_retriable() => {
                        debug!(%broker, error = %e, "Bootstrap broker unavailable");
                        last_error = Some(e);
                        continue;
                    }
                    Err(e) => return Err(e),
                };
            let version = conn.pick_version::<FindCoordinatorRequest>(MAX_FIND_COORDINATOR)?;
            let request = if version >= 4 {
                FindCoordinatorRequest::default()
                    .with_coordinator_keys(vec![StrBytes::from_string(group.clone())])
            } else {
                FindCoordinatorRequest::default().with_key(StrBytes::from_string(group.clone()))
            };
            let response = match conn.request(&request, version, timeout).await {
                Ok(r) => r,
                Err(e) if e.is_retriable() => {
                    last_error = Some(e);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let (error_code, message, node_id, host, port) = if version >= 4 {
                let Some(c) = response
                    .coordinators
                    .iter()
                    .find(|c| c.key.as_str() == group.as_str())
                else {
                    return Err(MembershipError::MalformedResponse {
                        api: "FindCoordinator",
                        broker: broker.clone(),
                        detail: format!("no coordinator for group '{group}' in the response"),
                    });
                };
                (
                    c.error_code,
                    c.error_message.clone(),
                    c.node_id.0,
                    c.host.clone(),
                    c.port,
                )
            } else {
                (
                    response.error_code,
                    response.error_message.clone(),
                    response.node_id.0,
                    response.host.clone(),
                    response.port,
                )
            };
            if let Some(error) = ResponseError::try_from_code(error_code) {
                let message = message.map(|m| m.to_string());
                if error.is_retriable() {
                    // Another bootstrap broker would give the same answer: back off instead.
                    return Err(MembershipError::CoordinatorNotAvailable {
                        group: group.clone(),
                        detail: format!(
                            "FindCoordinator: {error}{}",
                            message.map(|m| format!(": {m}")).unwrap_or_default()
                        ),
                    });
                }
                return Err(self.broker_error("FindCoordinator", error, message));
            }
            let address = if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            };
            let coordinator_conn =
                Connection::open(&address, &self.config.client_id, &self.secure, timeout)
                    .await
                    .map_err(|e| match e {
                        e if e.is_retriable() => MembershipError::CoordinatorNotAvailable {
                            group: group.clone(),
                            detail: format!("coordinator {address} (node {node_id}): {e}"),
                        },
                        e => e,
                    })?;
            let versions = GroupApiVersions {
                find_coordinator: version,
                join_group: coordinator_conn.pick_version::<JoinGroupRequest>(MAX_JOIN_GROUP)?,
                sync_group: coordinator_conn.pick_version::<SyncGroupRequest>(MAX_SYNC_GROUP)?,
                heartbeat: coordinator_conn.pick_version::<HeartbeatRequest>(MAX_HEARTBEAT)?,
                leave_group: coordinator_conn.pick_version::<LeaveGroupRequest>(MAX_LEAVE_GROUP)?,
            };
            return Ok(Coordinator {
                node_id,
                conn: coordinator_conn,
                versions,
            });
        }
        Err(last_error.unwrap_or_else(|| {
            MembershipError::Config(format!("{BOOTSTRAP_SERVERS_CONFIG} lists no broker"))
        }))
    }

    /// The network budget of one attempt: what is left before `deadline`, at least one second
    /// (so a late attempt can still succeed) and at most `request.timeout.ms`.
    fn attempt_timeout(&self, deadline: Instant) -> Duration {
        let left = deadline.saturating_duration_since(Instant::now());
        left.max(Duration::from_secs(1))
            .min(self.config.request_timeout)
    }

    /// Exponential backoff with ±20% jitter, as Kafka's clients do, so that workers that failed
    /// together do not retry in lockstep.
    fn backoff(&self, attempt: u32) -> Duration {
        let base = self.config.retry_backoff.as_secs_f64();
        let max = self.config.retry_backoff_max.as_secs_f64().max(base);
        let exp = (base * 2f64.powi(attempt.min(30) as i32)).min(max);
        let random = std::collections::hash_map::RandomState::new().hash_one(attempt);
        let jitter = 0.8 + 0.4 * (random as f64 / u64::MAX as f64);
        Duration::from_secs_f64(exp * jitter)
    }

    fn reset_member(&mut self) {
        self.member_id.clear();
        self.generation_id = -1;
        self.protocol = None;
        self.state = State::Unjoined;
    }

    fn coordinator_lost(&self, error: ResponseError) -> MembershipError {
        MembershipError::CoordinatorNotAvailable {
            group: self.config.group_id.clone(),
            detail: error.to_string(),
        }
    }

    fn broker_error(
        &self,
        api: &'static str,
        error: ResponseError,
        message: Option<String>,
    ) -> MembershipError {
        warn!(group = %self.config.group_id, %api, %error, "Group coordinator refused the request");
        MembershipError::Broker {
            api,
            group: self.config.group_id.clone(),
            error,
            message,
        }
    }

    fn inconsistent(&self, api: &'static str, what: String) -> MembershipError {
        MembershipError::Broker {
            api,
            group: self.config.group_id.clone(),
            error: ResponseError::InconsistentGroupProtocol,
            message: Some(format!(
                "the coordinator answered with {what}; this worker speaks protocol type '{PROTOCOL_TYPE}' ({})",
                self.config
                    .protocol
                    .join_preference()
                    .iter()
                    .map(|p| p.protocol_name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
}

/// Milliseconds as the protocol's int32; `validate` has checked they fit.
fn millis_i32(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

fn truncate(reason: &str) -> String {
    reason.chars().take(MAX_REASON_CHARS).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Props {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn from_worker_reads_connect_keys_with_java_defaults() {
        let c = MembershipConfig::from_worker(&props(&[("group.id", "cluster-a")])).unwrap();
        assert_eq!(c.bootstrap_servers, ["localhost:9092"]);
        assert_eq!(c.group_id, "cluster-a");
        assert_eq!(c.session_timeout, Duration::from_secs(10));
        assert_eq!(c.heartbeat_interval, Duration::from_secs(3));
        assert_eq!(c.rebalance_timeout, Duration::from_secs(60));
        assert_eq!(c.request_timeout, Duration::from_secs(40));
        assert_eq!(c.protocol, ConnectProtocol::Sessioned);

        let c = MembershipConfig::from_worker(&props(&[
            ("group.id", "g"),
            ("bootstrap.servers", "a:1, b:2 ,"),
            ("client.id", "w1"),
            ("session.timeout.ms", "6000"),
            ("heartbeat.interval.ms", "1000"),
            ("rebalance.timeout.ms", "20000"),
            ("connect.protocol", "compatible"),
            ("security.protocol", "plaintext"),
        ]))
        .unwrap();
        assert_eq!(c.bootstrap_servers, ["a:1", "b:2"]);
        assert_eq!(c.client_id, "w1");
        assert_eq!(c.session_timeout, Duration::from_secs(6));
        assert_eq!(c.heartbeat_interval, Duration::from_secs(1));
        assert_eq!(c.rebalance_timeout, Duration::from_secs(20));
        assert_eq!(c.protocol, ConnectProtocol::Compatible);
    }

    #[test]
    fn from_worker_errors_name_the_key() {
        let err = |pairs: &[(&str, &str)]| {
            MembershipConfig::from_worker(&props(pairs))
                .unwrap_err()
                .to_string()
        };
        assert!(err(&[]).contains("\"group.id\""));
        assert!(err(&[("group.id", " ")]).contains("group.id"));
        assert!(
            err(&[("group.id", "g"), ("session.timeout.ms", "ten")]).contains("session.timeout.ms")
        );
        assert!(
            err(&[("group.id", "g"), ("heartbeat.interval.ms", "-1")])
                .contains("heartbeat.interval.ms")
        );
        assert!(
            err(&[("group.id", "g"), ("connect.protocol", "default")]).contains("connect.protocol")
        );
        assert!(
            err(&[("group.id", "g"), ("bootstrap.servers", "nohost")])
                .contains("bootstrap.servers")
        );
        assert!(
            err(&[("group.id", "g"), ("rebalance.timeout.ms", "3000000000")])
                .contains("rebalance.timeout.ms")
        );
        let e = err(&[("group.id", "g"), ("heartbeat.interval.ms", "10000")]);
        assert!(
            e.contains("heartbeat.interval.ms") && e.contains("session.timeout.ms"),
            "{e}"
        );
        let e = err(&[("group.id", "g"), ("security.protocol", "SASL_SSL")]);
        assert!(e.contains("sasl.mechanism=GSSAPI is not supported"), "{e}");
    }

    #[test]
    fn retriable_classification() {
        let broker = |error| MembershipError::Broker {
            api: "JoinGroup",
            group: "g".into(),
            error,
            message: None,
        };
        assert!(broker(ResponseError::CoordinatorLoadInProgress).is_retriable());
        assert!(!broker(ResponseError::GroupAuthorizationFailed).is_retriable());
        assert!(!broker(ResponseError::InvalidSessionTimeout).is_retriable());
        assert!(!MembershipError::Config("x".into()).is_retriable());
        assert!(
            MembershipError::Connection {
                broker: "b".into(),
                detail: "reset".into()
            }
            .is_retriable()
        );
        let text = broker(ResponseError::GroupAuthorizationFailed).to_string();
        assert!(
            text.contains("GroupAuthorizationFailed") && text.contains("30"),
            "{text}"
        );
        let ce: ConnectError = broker(ResponseError::CoordinatorLoadInProgress).into();
        assert!(ce.retriable());
    }

    #[tokio::test]
    async fn unreachable_bootstrap_is_a_retriable_error() {
        // Port 9 on loopback: nothing listens there, the connection is refused at once.
        let mut config = MembershipConfig::new(vec!["127.0.0.1:9".into()], "g");
        config.request_timeout = Duration::from_millis(300);
        config.retry_backoff = Duration::from_millis(10);
        config.retry_backoff_max = Duration::from_millis(20);
        let mut member = GroupMember::new(config).unwrap();
        let err = member.ensure_coordinator().await.unwrap_err();
        assert!(err.is_retriable(), "{err}");
        assert!(err.to_string().contains("127.0.0.1:9"), "{err}");
        assert_eq!(
            member.heartbeat().await.unwrap(),
            HeartbeatOutcome::RebalanceNeeded(RebalanceCause::NotJoined)
        );
        assert!(matches!(
            member.sync(&[]).await,
            Err(MembershipError::RebalanceNeeded { .. })
        ));
        member.leave().await.unwrap();
    }
}
