//! The Connect group protocol: what a worker puts in its JoinGroup metadata and what the leader
//! hands each worker in SyncGroup, byte for byte as Kafka Connect's `ConnectProtocol` and
//! `IncrementalCooperativeConnectProtocol` write them, so Ferry and Java workers can share a group.
//!
//! The encoding is Kafka's old `Struct`/`Schema` serialisation: big-endian integers, a string is an
//! int16 byte length and UTF-8, nullable bytes are an int32 length (-1 for null) and the bytes, an
//! array is an int32 count and the items. Every message starts with an int16 version header.
//!
//! Member metadata (one per offered protocol in JoinGroup):
//! ```text
//! v0 ("default"):                    version int16, url string, config_offset int64
//! v1 ("compatible") / v2 ("sessioned"): the same, then allocation nullable-bytes
//! ```
//! `allocation` is the worker's previous assignment, itself a complete versioned assignment.
//!
//! Assignment (SyncGroup):
//! ```text
//! version int16, error int16, leader string, leader_url string, config_offset int64,
//! assignment [connector string, tasks [int32]]            (v0 stops here)
//! revoked    [connector string, tasks [int32]], delay int32 (v1+)
//! ```
//! Task id -1 ([`CONNECTOR_TASK`]) in a connector's list stands for the connector itself.
//!
//! Decoding mirrors Java: any version ≥ 0 is read with the v1 layout, the trailing optional
//! fields (`allocation`, `assignment`, `revoked`, `delay`) take their defaults when the buffer
//! ends before them, and bytes after the last known field are ignored (a newer worker may append
//! fields). Anything else that is short or inconsistent is a [`CodecError`] naming the field.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

/// The JoinGroup `protocol_type` every Connect worker uses; the broker only groups members that agree.
pub const PROTOCOL_TYPE: &str = "connect";

/// Eager rebalancing: every rebalance revokes everything ("default").
pub const CONNECT_PROTOCOL_V0: i16 = 0;
/// Incremental cooperative rebalancing (KIP-415, "compatible").
pub const CONNECT_PROTOCOL_V1: i16 = 1;
/// Incremental cooperative rebalancing with session keys for internal REST requests (KIP-507,
/// "sessioned"); the same layout as v1.
pub const CONNECT_PROTOCOL_V2: i16 = 2;

/// The sentinel task id that, in a connector's task list, means "the connector instance itself".
pub const CONNECTOR_TASK: i32 = -1;

/// The worker config key that chooses the protocol mode.
pub const CONNECT_PROTOCOL_CONFIG: &str = "connect.protocol";

/// The Connect protocol mode of a worker (Java's `ConnectProtocolCompatibility`): which
/// sub-protocols it offers in JoinGroup. The broker picks the most preferred protocol that every
/// member offers, so a mixed group falls back to what all of its workers understand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ConnectProtocol {
    /// Protocol "default", version 0: stop everything on every rebalance.
    Eager,
    /// Protocol "compatible", version 1: incremental cooperative rebalancing.
    Compatible,
    /// Protocol "sessioned", version 2: cooperative, plus signed internal REST requests.
    /// Kafka Connect's default since 2.4.
    #[default]
    Sessioned,
}

impl ConnectProtocol {
    /// Every mode, oldest first.
    pub const ALL: [ConnectProtocol; 3] = [
        ConnectProtocol::Eager,
        ConnectProtocol::Compatible,
        ConnectProtocol::Sessioned,
    ];

    /// The protocol name on the wire (JoinGroup protocol list, `protocol_name` in responses).
    pub fn protocol_name(self) -> &'static str {
        match self {
            ConnectProtocol::Eager => "default",
            ConnectProtocol::Compatible => "compatible",
            ConnectProtocol::Sessioned => "sessioned",
        }
    }

    /// The value of `connect.protocol` that selects this mode (Java's enum name, lower case).
    pub fn config_name(self) -> &'static str {
        match self {
            ConnectProtocol::Eager => "eager",
            ConnectProtocol::Compatible => "compatible",
            ConnectProtocol::Sessioned => "sessioned",
        }
    }

    /// The version written in the header of this protocol's metadata and assignments.
    pub fn version(self) -> i16 {
        match self {
            ConnectProtocol::Eager => CONNECT_PROTOCOL_V0,
            ConnectProtocol::Compatible => CONNECT_PROTOCOL_V1,
            ConnectProtocol::Sessioned => CONNECT_PROTOCOL_V2,
        }
    }

    /// Whether this mode rebalances incrementally (keeps work running until told to revoke it).
    pub fn is_cooperative(self) -> bool {
        self != ConnectProtocol::Eager
    }

    /// The mode for a wire protocol name (case-insensitive, as Java compares it), e.g. the
    /// `protocol_name` the coordinator selected.
    pub fn from_protocol_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.protocol_name().eq_ignore_ascii_case(name))
    }

    /// The mode whose header version this is.
    pub fn from_version(version: i16) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.version() == version)
    }

    /// The protocols this mode offers in JoinGroup, most preferred first, exactly as Java lists
    /// them: sessioned → [sessioned, compatible, default]; compatible → [compatible, default];
    /// eager → [default].
    pub fn join_preference(self) -> &'static [ConnectProtocol] {
        match self {
            ConnectProtocol::Eager => &[ConnectProtocol::Eager],
            ConnectProtocol::Compatible => &[ConnectProtocol::Compatible, ConnectProtocol::Eager],
            ConnectProtocol::Sessioned => &[
                ConnectProtocol::Sessioned,
                ConnectProtocol::Compatible,
                ConnectProtocol::Eager,
            ],
        }
    }
}

impl fmt::Display for ConnectProtocol {
    /// Shows the config value (`eager`, `compatible`, `sessioned`), as Java's `toString` does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.config_name())
    }
}

/// `connect.protocol` held a value that names no mode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "Invalid value {0} for configuration connect.protocol: Invalid Connect protocol compatibility (valid values: [eager, compatible, sessioned])"
)]
pub struct UnknownProtocolMode(pub String);

impl FromStr for ConnectProtocol {
    type Err = UnknownProtocolMode;

    /// Parses a `connect.protocol` value: `eager`, `compatible` or `sessioned`, in any case,
    /// surrounding blanks ignored (Java matches the enum name case-insensitively).
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let trimmed = value.trim();
        Self::ALL
            .into_iter()
            .find(|p| p.config_name().eq_ignore_ascii_case(trimmed))
            .ok_or_else(|| UnknownProtocolMode(value.to_string()))
    }
}

/// A connector task named by connector and task number, as assignments carry it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskRef {
    pub connector: String,
    pub task: u32,
}

impl TaskRef {
    /// Task `task` of `connector`, as the assignor builds them.
    pub fn new(connector: impl Into<String>, task: u32) -> Self {
        TaskRef {
            connector: connector.into(),
            task,
        }
    }
}

impl fmt::Display for TaskRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.connector, self.task)
    }
}

impl From<crate::worker::TaskId> for TaskRef {
    fn from(id: crate::worker::TaskId) -> Self {
        TaskRef {
            connector: id.connector,
            task: id.task,
        }
    }
}

impl From<TaskRef> for crate::worker::TaskId {
    fn from(task: TaskRef) -> Self {
        crate::worker::TaskId {
            connector: task.connector,
            task: task.task,
        }
    }
}

/// The error code of an assignment: whether the leader could make one at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AssignmentError {
    /// `NO_ERROR` (0): the assignment is valid.
    #[default]
    NoError,
    /// `CONFIG_MISMATCH` (1): the leader could not reconcile config offsets; the worker should
    /// read the config topic to the end and rejoin.
    ConfigMismatch,
    /// A code this version does not know; kept so it survives a round trip.
    Unknown(i16),
}

impl AssignmentError {
    /// The int16 written on the wire.
    pub fn code(self) -> i16 {
        match self {
            AssignmentError::NoError => 0,
            AssignmentError::ConfigMismatch => 1,
            AssignmentError::Unknown(code) => code,
        }
    }

    /// The variant for a wire code.
    pub fn from_code(code: i16) -> Self {
        match code {
            0 => AssignmentError::NoError,
            1 => AssignmentError::ConfigMismatch,
            other => AssignmentError::Unknown(other),
        }
    }
}

/// What the group leader tells one worker to run (and, cooperatively, to stop).
///
/// On the wire connectors and tasks are grouped per connector: first one entry per distinct
/// connector in `connectors` (task list starting with [`CONNECTOR_TASK`]), then each task is
/// appended to its connector's entry, creating entries in order of first appearance. Decoding
/// lists connectors and tasks in wire order, so `decode(encode(a)) == a` whenever `tasks` is
/// already grouped that way (what an assignor naturally produces). Java iterates the assigned
/// connectors through a `HashSet`, so a Java leader may order the entries differently; no reader
/// depends on that order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Assignment {
    /// Header version: 0 (eager), 1 (compatible) or 2 (sessioned). Version 0 has no `revoked`
    /// and `delay` on the wire.
    pub version: i16,
    pub error: AssignmentError,
    /// The leader's member id.
    pub leader: String,
    /// The leader's REST URL, where followers forward requests.
    pub leader_url: String,
    /// The config topic offset the assignment was computed at.
    pub config_offset: i64,
    /// Connectors (the `Connector` instances) this worker runs.
    pub connectors: Vec<String>,
    /// Tasks this worker runs.
    pub tasks: Vec<TaskRef>,
    /// Connectors this worker must stop (cooperative protocols only).
    pub revoked_connectors: Vec<String>,
    /// Tasks this worker must stop (cooperative protocols only).
    pub revoked_tasks: Vec<TaskRef>,
    /// Cooperative protocols: milliseconds after which the worker should rejoin to let a
    /// scheduled rebalance happen (0: none scheduled).
    pub delay_ms: i32,
}

impl Assignment {
    /// An error-free, empty assignment for the given protocol, to fill in.
    pub fn new(
        protocol: ConnectProtocol,
        leader: impl Into<String>,
        leader_url: impl Into<String>,
        config_offset: i64,
    ) -> Self {
        Assignment {
            version: protocol.version(),
            leader: leader.into(),
            leader_url: leader_url.into(),
            config_offset,
            ..Assignment::default()
        }
    }

    /// Whether the leader failed to make an assignment (any error code but `NO_ERROR`).
    pub fn failed(&self) -> bool {
        self.error != AssignmentError::NoError
    }

    /// The SyncGroup bytes of this assignment, in the layout of `self.version`.
    pub fn encode(&self) -> Result<Vec<u8>, CodecError> {
        let mut w = Writer::new(ASSIGNMENT);
        self.write(&mut w, self.version, self.version >= CONNECT_PROTOCOL_V1)?;
        Ok(w.finish())
    }

    /// Reads an assignment as a Java worker does (see the module docs on tolerance).
    pub fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(bytes, ASSIGNMENT);
        Self::read(&mut r)
    }

    /// Writes header and body. `extended` selects the v1 body (with revoked and delay).
    fn write(&self, w: &mut Writer, header: i16, extended: bool) -> Result<(), CodecError> {
        if header < 0 {
            return Err(w.unencodable(
                "version",
                format!("version {header} is negative; Connect versions start at 0"),
            ));
        }
        if !extended
            && (!self.revoked_connectors.is_empty()
                || !self.revoked_tasks.is_empty()
                || self.delay_ms != 0)
        {
            return Err(w.unencodable(
                "revoked/delay",
                "revocations and a scheduled delay need Connect protocol version 1 or later; \
                 a version 0 (eager) assignment cannot carry them"
                    .to_string(),
            ));
        }
        w.i16(header);
        w.i16(self.error.code());
        w.string("leader", &self.leader)?;
        w.string("leader_url", &self.leader_url)?;
        w.i64(self.config_offset);
        write_connector_entries(w, "assignment", &self.connectors, &self.tasks)?;
        if extended {
            write_connector_entries(w, "revoked", &self.revoked_connectors, &self.revoked_tasks)?;
            w.i32(self.delay_ms);
        }
        Ok(())
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let version = r.version()?;
        let error = AssignmentError::from_code(r.i16("error")?);
        let leader = r.string("leader")?;
        let leader_url = r.string("leader_url")?;
        let config_offset = r.i64("config_offset")?;
        // The v1 schema tolerates missing trailing fields: a v0 assignment simply ends here.
        let (connectors, tasks) = if r.at_end() {
            (Vec::new(), Vec::new())
        } else {
            read_connector_entries(r, "assignment")?
        };
        let (revoked_connectors, revoked_tasks) = if r.at_end() {
            (Vec::new(), Vec::new())
        } else {
            read_connector_entries(r, "revoked")?
        };
        let delay_ms = if r.at_end() { 0 } else { r.i32("delay")? };
        Ok(Assignment {
            version,
            error,
            leader,
            leader_url,
            config_offset,
            connectors,
            tasks,
            revoked_connectors,
            revoked_tasks,
            delay_ms,
        })
    }
}

/// What a worker tells the group when it joins: where its REST API is, how far it has read the
/// config topic and (cooperative protocols) what it was running.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WorkerMetadata {
    /// The worker's advertised REST URL.
    pub url: String,
    /// The latest config topic offset this worker has read.
    pub config_offset: i64,
    /// The worker's current assignment; `None` before its first (or after a failed) rebalance.
    /// Eager metadata has no such field and always decodes to `None`.
    pub allocation: Option<Assignment>,
}

impl WorkerMetadata {
    /// The metadata bytes offered for `protocol`. As in Java, the allocation is written with the
    /// protocol's version in its header and the v1 layout, whatever `allocation.version` says.
    pub fn encode(&self, protocol: ConnectProtocol) -> Result<Vec<u8>, CodecError> {
        let mut w = Writer::new(METADATA);
        w.i16(protocol.version());
        w.string("url", &self.url)?;
        w.i64(self.config_offset);
        if protocol.is_cooperative() {
            match &self.allocation {
                None => w.i32(-1),
                Some(allocation) => {
                    let mut inner = Writer::new(ALLOCATION);
                    allocation.write(&mut inner, protocol.version(), true)?;
                    w.bytes("allocation", &inner.finish())?;
                }
            }
        }
        Ok(w.finish())
    }

    /// Reads the metadata of any Connect protocol version, as Java's
    /// `IncrementalCooperativeConnectProtocol.deserializeMetadata` does.
    pub fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(bytes, METADATA);
        r.version()?;
        let url = r.string("url")?;
        let config_offset = r.i64("config_offset")?;
        let allocation = if r.at_end() {
            None
        } else {
            match r.nullable_bytes("allocation")? {
                None => None,
                Some(inner) => {
                    let mut inner = Reader::new(inner, ALLOCATION);
                    Some(Assignment::read(&mut inner)?)
                }
            }
        };
        Ok(WorkerMetadata {
            url,
            config_offset,
            allocation,
        })
    }

    /// The JoinGroup protocol list for a worker in `mode`: each protocol name with this metadata
    /// encoded for it, most preferred first.
    pub fn join_protocols(
        &self,
        mode: ConnectProtocol,
    ) -> Result<Vec<(ConnectProtocol, Vec<u8>)>, CodecError> {
        mode.join_preference()
            .iter()
            .map(|&p| Ok((p, self.encode(p)?)))
            .collect()
    }
}

/// Connect group-protocol bytes that cannot be read, or values that cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The bytes end early or hold an impossible value.
    #[error("malformed Connect {message}: field '{field}' at byte {offset}: {problem}")]
    Malformed {
        /// Which message: "member metadata", "assignment" or "allocation".
        message: &'static str,
        field: &'static str,
        offset: usize,
        problem: String,
    },
    /// A value does not fit the wire format (a string over 32767 bytes, a task number over
    /// 2^31-1, a negative version, revocations in a v0 assignment).
    #[error("cannot encode Connect {message}: field '{field}': {problem}")]
    Unencodable {
        message: &'static str,
        field: &'static str,
        problem: String,
    },
}

const METADATA: &str = "member metadata";
const ASSIGNMENT: &str = "assignment";
const ALLOCATION: &str = "allocation (previous assignment in member metadata)";

/// One wire entry per connector: its name and task ids (`CONNECTOR_TASK` for the connector).
fn group_by_connector<'a>(
    connectors: &'a [String],
    tasks: &'a [TaskRef],
) -> Vec<(&'a str, Vec<u32>, bool)> {
    // (name, task numbers, has connector) in order of first appearance.
    let mut entries: Vec<(&'a str, Vec<u32>, bool)> = Vec::new();
    let mut index: HashMap<&'a str, usize> = HashMap::new();
    for connector in connectors {
        if !index.contains_key(connector.as_str()) {
            index.insert(connector, entries.len());
            entries.push((connector, Vec::new(), true));
        }
    }
    for task in tasks {
        let i = *index.entry(&task.connector).or_insert_with(|| {
            entries.push((&task.connector, Vec::new(), false));
            entries.len() - 1
        });
        if let Some(entry) = entries.get_mut(i) {
            entry.1.push(task.task);
        }
    }
    entries
}

fn write_connector_entries(
    w: &mut Writer,
    field: &'static str,
    connectors: &[String],
    tasks: &[TaskRef],
) -> Result<(), CodecError> {
    let entries = group_by_connector(connectors, tasks);
    w.count(field, entries.len())?;
    for (connector, task_numbers, has_connector) in entries {
        w.string(field, connector)?;
        w.count(field, task_numbers.len() + usize::from(has_connector))?;
        if has_connector {
            w.i32(CONNECTOR_TASK);
        }
        for task in task_numbers {
            let id = i32::try_from(task).map_err(|_| {
                w.unencodable(
                    field,
                    format!("task {connector}-{task}: task numbers above 2147483647 do not fit"),
                )
            })?;
            w.i32(id);
        }
    }
    Ok(())
}

fn read_connector_entries(
    r: &mut Reader<'_>,
    field: &'static str,
) -> Result<(Vec<String>, Vec<TaskRef>), CodecError> {
    let mut connectors = Vec::new();
    let mut tasks = Vec::new();
    // Nullable in the v1 schema: null reads as empty.
    let Some(count) = r.array_len(field, true)? else {
        return Ok((connectors, tasks));
    };
    for _ in 0..count {
        let connector = r.string(field)?;
        let Some(task_count) = r.array_len(field, false)? else {
            return Err(r.malformed(field, "task list is null".to_string()));
        };
        for _ in 0..task_count {
            let offset = r.pos;
            let id = r.i32(field)?;
            if id == CONNECTOR_TASK {
                connectors.push(connector.clone());
            } else {
                let task = u32::try_from(id).map_err(|_| CodecError::Malformed {
                    message: r.message,
                    field,
                    offset,
                    problem: format!(
                        "task id {id} of connector '{connector}' is negative and not -1 (the connector itself)"
                    ),
                })?;
                tasks.push(TaskRef {
                    connector: connector.clone(),
                    task,
                });
            }
        }
    }
    Ok((connectors, tasks))
}

/// A cursor over untrusted bytes; every read checks the length first.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    message: &'static str,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], message: &'static str) -> Self {
        Reader {
            buf,
            pos: 0,
            message,
        }
    }

    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn at_end(&self) -> bool {
        self.remaining() == 0
    }

    fn malformed(&self, field: &'static str, problem: String) -> CodecError {
        CodecError::Malformed {
            message: self.message,
            field,
            offset: self.pos,
            problem,
        }
    }

    fn take(&mut self, field: &'static str, n: usize) -> Result<&'a [u8], CodecError> {
        if self.remaining() < n {
            return Err(self.malformed(
                field,
                format!(
                    "needs {n} byte(s) but only {} remain (the data ends early)",
                    self.remaining()
                ),
            ));
        }
        let bytes = self.buf.get(self.pos..self.pos + n).unwrap_or_default();
        self.pos += n;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], CodecError> {
        let bytes = self.take(field, N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    fn i16(&mut self, field: &'static str) -> Result<i16, CodecError> {
        Ok(i16::from_be_bytes(self.array(field)?))
    }

    fn i32(&mut self, field: &'static str) -> Result<i32, CodecError> {
        Ok(i32::from_be_bytes(self.array(field)?))
    }

    fn i64(&mut self, field: &'static str) -> Result<i64, CodecError> {
        Ok(i64::from_be_bytes(self.array(field)?))
    }

    /// The int16 header every Connect message starts with; negative versions are invalid.
    fn version(&mut self) -> Result<i16, CodecError> {
        let offset = self.pos;
        let version = self.i16("version")?;
        if version < CONNECT_PROTOCOL_V0 {
            return Err(CodecError::Malformed {
                message: self.message,
                field: "version",
                offset,
                problem: format!("unsupported Connect protocol version {version}"),
            });
        }
        Ok(version)
    }

    fn string(&mut self, field: &'static str) -> Result<String, CodecError> {
        let offset = self.pos;
        let len = self.i16(field)?;
        let len = usize::try_from(len).map_err(|_| CodecError::Malformed {
            message: self.message,
            field,
            offset,
            problem: format!("string length {len} is negative (strings here are not nullable)"),
        })?;
        let bytes = self.take(field, len)?;
        String::from_utf8(bytes.to_vec()).map_err(|e| CodecError::Malformed {
            message: self.message,
            field,
            offset,
            problem: format!("string is not valid UTF-8: {e}"),
        })
    }

    fn nullable_bytes(&mut self, field: &'static str) -> Result<Option<&'a [u8]>, CodecError> {
        let len = self.i32(field)?;
        match usize::try_from(len) {
            // Java treats every negative length as null.
            Err(_) => Ok(None),
            Ok(len) => self.take(field, len).map(Some),
        }
    }

    /// An array's count. `None` for a null array (negative count) when `nullable`.
    fn array_len(
        &mut self,
        field: &'static str,
        nullable: bool,
    ) -> Result<Option<usize>, CodecError> {
        let offset = self.pos;
        let count = self.i32(field)?;
        let Ok(count) = usize::try_from(count) else {
            if nullable {
                return Ok(None);
            }
            return Err(CodecError::Malformed {
                message: self.message,
                field,
                offset,
                problem: format!("array size {count} cannot be negative"),
            });
        };
        // Every item takes at least one byte; a larger count cannot be honest, and checking it
        // up front keeps a hostile count from driving a long loop.
        if count > self.remaining() {
            return Err(CodecError::Malformed {
                message: self.message,
                field,
                offset,
                problem: format!(
                    "array of {count} item(s) but only {} byte(s) remain",
                    self.remaining()
                ),
            });
        }
        Ok(Some(count))
    }
}

/// Builds wire bytes, refusing values the format cannot carry.
struct Writer {
    buf: Vec<u8>,
    message: &'static str,
}

impl Writer {
    fn new(message: &'static str) -> Self {
        Writer {
            buf: Vec::with_capacity(64),
            message,
        }
    }

    fn finish(self) -> Vec<u8> {
        self.buf
    }

    fn unencodable(&self, field: &'static str, problem: String) -> CodecError {
        CodecError::Unencodable {
            message: self.message,
            field,
            problem,
        }
    }

    fn i16(&mut self, v: i16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    fn i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    fn string(&mut self, field: &'static str, s: &str) -> Result<(), CodecError> {
        let len = i16::try_from(s.len()).map_err(|_| {
            self.unencodable(
                field,
                format!(
                    "string of {} bytes is longer than the 32767 bytes the format allows",
                    s.len()
                ),
            )
        })?;
        self.i16(len);
        self.buf.extend_from_slice(s.as_bytes());
        Ok(())
    }

    fn bytes(&mut self, field: &'static str, b: &[u8]) -> Result<(), CodecError> {
        let len = i32::try_from(b.len()).map_err(|_| {
            self.unencodable(
                field,
                format!("{} bytes do not fit an int32 length", b.len()),
            )
        })?;
        self.i32(len);
        self.buf.extend_from_slice(b);
        Ok(())
    }

    fn count(&mut self, field: &'static str, n: usize) -> Result<(), CodecError> {
        let n = i32::try_from(n)
            .map_err(|_| self.unencodable(field, format!("{n} items do not fit an int32 count")))?;
        self.i32(n);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// Hand-assembled wire bytes, following Kafka's `Type` rules.
    #[derive(Default)]
    struct Bytes(Vec<u8>);

    impl Bytes {
        fn i16(mut self, v: i16) -> Self {
            self.0.extend_from_slice(&v.to_be_bytes());
            self
        }
        fn i32(mut self, v: i32) -> Self {
            self.0.extend_from_slice(&v.to_be_bytes());
            self
        }
        fn i64(mut self, v: i64) -> Self {
            self.0.extend_from_slice(&v.to_be_bytes());
            self
        }
        fn str(self, s: &str) -> Self {
            let mut b = self.i16(s.len() as i16);
            b.0.extend_from_slice(s.as_bytes());
            b
        }
        fn nullable_bytes(self, v: Option<&[u8]>) -> Self {
            match v {
                None => self.i32(-1),
                Some(v) => {
                    let mut b = self.i32(v.len() as i32);
                    b.0.extend_from_slice(v);
                    b
                }
            }
        }
        /// An array of (connector, task ids) entries.
        fn entries(self, entries: &[(&str, &[i32])]) -> Self {
            let mut b = self.i32(entries.len() as i32);
            for (connector, ids) in entries {
                b = b.str(connector).i32(ids.len() as i32);
                for id in *ids {
                    b = b.i32(*id);
                }
            }
            b
        }
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn sample_assignment(version: i16) -> Assignment {
        Assignment {
            version,
            error: AssignmentError::NoError,
            leader: "leader-1".into(),
            leader_url: "http://w1:8083/".into(),
            config_offset: 42,
            connectors: vec!["a".into(), "b".into()],
            tasks: vec![
                TaskRef::new("a", 0),
                TaskRef::new("a", 1),
                TaskRef::new("c", 3),
            ],
            revoked_connectors: if version > 0 {
                vec!["d".into()]
            } else {
                vec![]
            },
            revoked_tasks: if version > 0 {
                vec![TaskRef::new("e", 2)]
            } else {
                vec![]
            },
            delay_ms: if version > 0 { 1500 } else { 0 },
        }
    }

    #[test]
    fn eager_metadata_golden_bytes() {
        let meta = WorkerMetadata {
            url: "http://w1:8083/".into(),
            config_offset: 7,
            allocation: None,
        };
        let golden = Bytes::default().i16(0).str("http://w1:8083/").i64(7).0;
        assert_eq!(
            hex(&meta.encode(ConnectProtocol::Eager).unwrap()),
            hex(&golden)
        );
        assert_eq!(WorkerMetadata::decode(&golden).unwrap(), meta);
    }

    #[test]
    fn cooperative_metadata_without_allocation_golden_bytes() {
        let meta = WorkerMetadata {
            url: "http://w1:8083/".into(),
            config_offset: -1,
            allocation: None,
        };
        for (protocol, version) in [
            (ConnectProtocol::Compatible, 1),
            (ConnectProtocol::Sessioned, 2),
        ] {
            let golden = Bytes::default()
                .i16(version)
                .str("http://w1:8083/")
                .i64(-1)
                .nullable_bytes(None)
                .0;
            assert_eq!(hex(&meta.encode(protocol).unwrap()), hex(&golden));
            assert_eq!(WorkerMetadata::decode(&golden).unwrap(), meta);
        }
    }

    #[test]
    fn sessioned_metadata_with_allocation_golden_bytes() {
        // The allocation is written with the protocol's header version (2), not its own.
        let mut previous = sample_assignment(1);
        let meta = WorkerMetadata {
            url: "http://w2:8083/".into(),
            config_offset: 42,
            allocation: Some(previous.clone()),
        };
        let allocation = Bytes::default()
            .i16(2)
            .i16(0)
            .str("leader-1")
            .str("http://w1:8083/")
            .i64(42)
            .entries(&[("a", &[-1, 0, 1]), ("b", &[-1]), ("c", &[3])])
            .entries(&[("d", &[-1]), ("e", &[2])])
            .i32(1500)
            .0;
        let golden = Bytes::default()
            .i16(2)
            .str("http://w2:8083/")
            .i64(42)
            .nullable_bytes(Some(&allocation))
            .0;
        assert_eq!(
            hex(&meta.encode(ConnectProtocol::Sessioned).unwrap()),
            hex(&golden)
        );
        previous.version = 2;
        let decoded = WorkerMetadata::decode(&golden).unwrap();
        assert_eq!(decoded.allocation, Some(previous));
        assert_eq!(decoded.url, "http://w2:8083/");
        assert_eq!(decoded.config_offset, 42);
    }

    /// Bytes written by Kafka Connect 4.3.1's own serializers (`ConnectProtocol`,
    /// `IncrementalCooperativeConnectProtocol`) for the same values, captured with jshell
    /// against `connect-runtime-4.3.1.jar`.
    #[test]
    fn matches_bytes_written_by_kafka_connect_4_3_1() {
        const ASSIGN_V2: &str = "0002000000086c65616465722d31000f687474703a2f2f77313a383038332f000000000000002a0000000300016100000003ffffffff000000000000000100016200000001ffffffff00016300000001000000030000000200016400000001ffffffff0001650000000100000002000005dc";
        const ASSIGN_V0: &str = "0000000000086c65616465722d31000f687474703a2f2f77313a383038332f000000000000002a0000000300016100000003ffffffff000000000000000100016200000001ffffffff0001630000000100000003";
        const META_V2_ALLOC: &str = "0002000f687474703a2f2f77323a383038332f000000000000002a000000720002000000086c65616465722d31000f687474703a2f2f77313a383038332f000000000000002a0000000300016100000003ffffffff000000000000000100016200000001ffffffff00016300000001000000030000000200016400000001ffffffff0001650000000100000002000005dc";
        const META_V1_ALLOC: &str = "0001000f687474703a2f2f77323a383038332f000000000000002a000000720001000000086c65616465722d31000f687474703a2f2f77313a383038332f000000000000002a0000000300016100000003ffffffff000000000000000100016200000001ffffffff00016300000001000000030000000200016400000001ffffffff0001650000000100000002000005dc";
        const META_V0: &str = "0000000f687474703a2f2f77313a383038332f0000000000000007";
        const META_V2_NULL: &str = "0002000f687474703a2f2f77313a383038332fffffffffffffffffffffffff";
        const ASSIGN_CONFIG_MISMATCH: &str =
            "0002000100016c0009687474703a2f2f6c2f0000000000000009000000000000000000000000";

        assert_eq!(hex(&sample_assignment(2).encode().unwrap()), ASSIGN_V2);
        assert_eq!(hex(&sample_assignment(0).encode().unwrap()), ASSIGN_V0);
        let with_allocation = WorkerMetadata {
            url: "http://w2:8083/".into(),
            config_offset: 42,
            allocation: Some(sample_assignment(1)),
        };
        assert_eq!(
            hex(&with_allocation.encode(ConnectProtocol::Sessioned).unwrap()),
            META_V2_ALLOC
        );
        assert_eq!(
            hex(&with_allocation.encode(ConnectProtocol::Compatible).unwrap()),
            META_V1_ALLOC
        );
        let eager = WorkerMetadata {
            url: "http://w1:8083/".into(),
            config_offset: 7,
            allocation: None,
        };
        assert_eq!(hex(&eager.encode(ConnectProtocol::Eager).unwrap()), META_V0);
        let fresh = WorkerMetadata {
            url: "http://w1:8083/".into(),
            config_offset: -1,
            allocation: None,
        };
        assert_eq!(
            hex(&fresh.encode(ConnectProtocol::Sessioned).unwrap()),
            META_V2_NULL
        );
        let mut mismatch = Assignment::new(ConnectProtocol::Sessioned, "l", "http://l/", 9);
        mismatch.error = AssignmentError::ConfigMismatch;
        assert_eq!(hex(&mismatch.encode().unwrap()), ASSIGN_CONFIG_MISMATCH);

        let unhex = |s: &str| -> Vec<u8> {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        };
        assert_eq!(
            Assignment::decode(&unhex(ASSIGN_V2)).unwrap(),
            sample_assignment(2)
        );
        assert_eq!(
            Assignment::decode(&unhex(ASSIGN_V0)).unwrap(),
            sample_assignment(0)
        );
        let mut expected = with_allocation.clone();
        if let Some(a) = expected.allocation.as_mut() {
            a.version = 2;
        }
        assert_eq!(
            WorkerMetadata::decode(&unhex(META_V2_ALLOC)).unwrap(),
            expected
        );
        assert_eq!(WorkerMetadata::decode(&unhex(META_V0)).unwrap(), eager);
        assert_eq!(WorkerMetadata::decode(&unhex(META_V2_NULL)).unwrap(), fresh);
    }

    #[test]
    fn eager_metadata_drops_the_allocation() {
        let meta = WorkerMetadata {
            url: "u".into(),
            config_offset: 1,
            allocation: Some(sample_assignment(1)),
        };
        let bytes = meta.encode(ConnectProtocol::Eager).unwrap();
        assert_eq!(bytes, Bytes::default().i16(0).str("u").i64(1).0);
        assert_eq!(WorkerMetadata::decode(&bytes).unwrap().allocation, None);
    }

    #[test]
    fn v0_assignment_golden_bytes() {
        let a = sample_assignment(0);
        let golden = Bytes::default()
            .i16(0)
            .i16(0)
            .str("leader-1")
            .str("http://w1:8083/")
            .i64(42)
            .entries(&[("a", &[-1, 0, 1]), ("b", &[-1]), ("c", &[3])])
            .0;
        assert_eq!(hex(&a.encode().unwrap()), hex(&golden));
        // A v0 assignment read with the v1 layout: revoked and delay take their defaults.
        assert_eq!(Assignment::decode(&golden).unwrap(), a);
    }

    #[test]
    fn v1_and_v2_assignment_golden_bytes() {
        for version in [1, 2] {
            let a = sample_assignment(version);
            let golden = Bytes::default()
                .i16(version)
                .i16(0)
                .str("leader-1")
                .str("http://w1:8083/")
                .i64(42)
                .entries(&[("a", &[-1, 0, 1]), ("b", &[-1]), ("c", &[3])])
                .entries(&[("d", &[-1]), ("e", &[2])])
                .i32(1500)
                .0;
            assert_eq!(hex(&a.encode().unwrap()), hex(&golden));
            assert_eq!(Assignment::decode(&golden).unwrap(), a);
        }
    }

    #[test]
    fn config_mismatch_and_unknown_error_codes_round_trip() {
        let mut a = Assignment::new(ConnectProtocol::Sessioned, "l", "http://l/", 9);
        a.error = AssignmentError::ConfigMismatch;
        let golden = Bytes::default()
            .i16(2)
            .i16(1)
            .str("l")
            .str("http://l/")
            .i64(9)
            .entries(&[])
            .entries(&[])
            .i32(0)
            .0;
        assert_eq!(a.encode().unwrap(), golden);
        assert_eq!(Assignment::decode(&golden).unwrap(), a);
        assert!(a.failed());
        a.error = AssignmentError::Unknown(77);
        assert_eq!(
            Assignment::decode(&a.encode().unwrap())
                .unwrap()
                .error
                .code(),
            77
        );
    }

    #[test]
    fn grouping_follows_java_order() {
        // Connectors first (deduplicated), then tasks appended in order; a task of a connector
        // that is not assigned gets its own entry after the earlier ones.
        let mut a = Assignment::new(ConnectProtocol::Compatible, "l", "u", 0);
        a.connectors = vec!["x".into(), "y".into(), "x".into()];
        a.tasks = vec![
            TaskRef::new("z", 0),
            TaskRef::new("y", 5),
            TaskRef::new("z", 1),
        ];
        let golden = Bytes::default()
            .i16(1)
            .i16(0)
            .str("l")
            .str("u")
            .i64(0)
            .entries(&[("x", &[-1]), ("y", &[-1, 5]), ("z", &[0, 1])])
            .entries(&[])
            .i32(0)
            .0;
        assert_eq!(hex(&a.encode().unwrap()), hex(&golden));
        let back = Assignment::decode(&golden).unwrap();
        assert_eq!(back.connectors, vec!["x", "y"]);
        assert_eq!(
            back.tasks,
            vec![
                TaskRef::new("y", 5),
                TaskRef::new("z", 0),
                TaskRef::new("z", 1)
            ]
        );
    }

    #[test]
    fn null_arrays_and_missing_trailing_fields_take_defaults() {
        let golden = Bytes::default()
            .i16(1)
            .i16(0)
            .str("l")
            .str("u")
            .i64(3)
            .i32(-1) // null assignment
            .i32(-1) // null revoked
            .0; // no delay
        let a = Assignment::decode(&golden).unwrap();
        assert_eq!(a, Assignment::new(ConnectProtocol::Compatible, "l", "u", 3));

        // Metadata that ends before the allocation field.
        let meta = Bytes::default().i16(1).str("u").i64(3).0;
        assert_eq!(WorkerMetadata::decode(&meta).unwrap().allocation, None);
    }

    #[test]
    fn trailing_bytes_from_newer_versions_are_ignored() {
        let mut bytes = sample_assignment(2).encode().unwrap();
        bytes[1] = 3; // a future version 3 ...
        bytes.extend_from_slice(&[1, 2, 3, 4]); // ... with a field we don't know
        let a = Assignment::decode(&bytes).unwrap();
        assert_eq!(a.version, 3);
        assert_eq!(a.delay_ms, 1500);
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let meta = WorkerMetadata {
            url: "http://w2:8083/".into(),
            config_offset: 42,
            allocation: Some(sample_assignment(2)),
        }
        .encode(ConnectProtocol::Sessioned)
        .unwrap();
        let assignment = sample_assignment(2).encode().unwrap();
        for cut in 0..meta.len() {
            // Cutting exactly before the allocation leaves valid (tolerated) metadata.
            let result = WorkerMetadata::decode(&meta[..cut]);
            if cut == 2 + 2 + 15 + 8 {
                assert!(result.is_ok());
            } else {
                assert!(result.is_err(), "metadata cut at {cut} decoded");
            }
        }
        for cut in 0..assignment.len() {
            // Trailing optional fields may be missing as a whole, never in part.
            let _ = Assignment::decode(&assignment[..cut]);
        }
        let err = Assignment::decode(&assignment[..5]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "malformed Connect assignment: field 'leader' at byte 4: needs 2 byte(s) but only 1 remain (the data ends early)"
        );
    }

    #[test]
    fn malformed_values_name_the_field() {
        let negative_version = Bytes::default().i16(-1).str("u").i64(0).0;
        let err = WorkerMetadata::decode(&negative_version).unwrap_err();
        assert!(err.to_string().contains("field 'version'"), "{err}");
        assert!(
            err.to_string()
                .contains("unsupported Connect protocol version -1")
        );

        let bad_task = Bytes::default()
            .i16(1)
            .i16(0)
            .str("l")
            .str("u")
            .i64(0)
            .entries(&[("c", &[-2])])
            .0;
        let err = Assignment::decode(&bad_task).unwrap_err();
        assert!(
            err.to_string().contains("task id -2 of connector 'c'"),
            "{err}"
        );

        let negative_string = Bytes::default().i16(0).i16(-3).0;
        let err = WorkerMetadata::decode(&negative_string).unwrap_err();
        assert!(err.to_string().contains("field 'url'"), "{err}");

        let huge_array = Bytes::default()
            .i16(1)
            .i16(0)
            .str("l")
            .str("u")
            .i64(0)
            .i32(i32::MAX)
            .0;
        let err = Assignment::decode(&huge_array).unwrap_err();
        assert!(err.to_string().contains("field 'assignment'"), "{err}");

        let null_task_list = Bytes::default()
            .i16(1)
            .i16(0)
            .str("l")
            .str("u")
            .i64(0)
            .i32(1)
            .str("c")
            .i32(-1)
            .0;
        assert!(Assignment::decode(&null_task_list).is_err());

        let bad_utf8 = Bytes::default().i16(0).i16(2).0;
        let mut bad_utf8 = bad_utf8;
        bad_utf8.extend_from_slice(&[0xff, 0xfe]);
        bad_utf8.extend_from_slice(&0i64.to_be_bytes());
        let err = WorkerMetadata::decode(&bad_utf8).unwrap_err();
        assert!(err.to_string().contains("UTF-8"), "{err}");

        // A malformed allocation is reported as such.
        let meta = Bytes::default()
            .i16(2)
            .str("u")
            .i64(0)
            .nullable_bytes(Some(&[0, 1]))
            .0;
        let err = WorkerMetadata::decode(&meta).unwrap_err();
        assert!(err.to_string().contains("allocation"), "{err}");
    }

    #[test]
    fn unencodable_values_are_errors() {
        let mut a = sample_assignment(0);
        a.revoked_tasks.push(TaskRef::new("x", 1));
        assert!(matches!(
            a.encode(),
            Err(CodecError::Unencodable {
                field: "revoked/delay",
                ..
            })
        ));
        let mut a = sample_assignment(1);
        a.tasks.push(TaskRef::new("x", u32::MAX));
        assert!(a.encode().unwrap_err().to_string().contains("x-4294967295"));
        let mut a = sample_assignment(1);
        a.leader = "x".repeat(40_000);
        assert!(a.encode().unwrap_err().to_string().contains("'leader'"));
        let mut a = sample_assignment(1);
        a.version = -1;
        assert!(a.encode().is_err());
    }

    #[test]
    fn random_bytes_never_panic() {
        // A small deterministic generator: the decoders must return, whatever the input.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let seed = sample_assignment(2).encode().unwrap();
        for _ in 0..20_000 {
            let mut bytes = seed.clone();
            let flips = (next() % 4) as usize + 1;
            for _ in 0..flips {
                let i = (next() as usize) % bytes.len();
                bytes[i] = next() as u8;
            }
            let cut = (next() as usize) % (bytes.len() + 1);
            let _ = Assignment::decode(&bytes[..cut]);
            let _ = WorkerMetadata::decode(&bytes[..cut]);
        }
    }

    #[test]
    fn protocol_names_versions_and_preference() {
        assert_eq!(ConnectProtocol::default(), ConnectProtocol::Sessioned);
        assert_eq!(
            "EAGER".parse::<ConnectProtocol>().unwrap(),
            ConnectProtocol::Eager
        );
        assert_eq!(
            " compatible ".parse::<ConnectProtocol>().unwrap(),
            ConnectProtocol::Compatible
        );
        let err = "default".parse::<ConnectProtocol>().unwrap_err();
        assert!(err.to_string().contains("connect.protocol"));
        assert_eq!(
            ConnectProtocol::from_protocol_name("Default"),
            Some(ConnectProtocol::Eager)
        );
        assert_eq!(ConnectProtocol::from_protocol_name("eager"), None);
        assert_eq!(
            ConnectProtocol::from_version(2),
            Some(ConnectProtocol::Sessioned)
        );
        let names = |p: ConnectProtocol| {
            p.join_preference()
                .iter()
                .map(|p| p.protocol_name())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(ConnectProtocol::Sessioned),
            ["sessioned", "compatible", "default"]
        );
        assert_eq!(
            names(ConnectProtocol::Compatible),
            ["compatible", "default"]
        );
        assert_eq!(names(ConnectProtocol::Eager), ["default"]);

        let meta = WorkerMetadata {
            url: "u".into(),
            config_offset: 0,
            allocation: None,
        };
        let list = meta.join_protocols(ConnectProtocol::Sessioned).unwrap();
        let headers: Vec<_> = list
            .iter()
            .map(|(_, b)| i16::from_be_bytes([b[0], b[1]]))
            .collect();
        assert_eq!(headers, [2, 1, 0]);
    }
}
