//! Distributed coordination: group membership over the Kafka wire protocol, the Connect
//! group protocol's metadata and assignments, and the assignor.
//!
//! - [`protocol`]: the byte formats Kafka Connect workers exchange through the group
//!   coordinator (member metadata in JoinGroup, assignments in SyncGroup), shared with Java
//!   workers byte for byte.
//! - [`assignor`]: the leader's incremental cooperative assignment of connectors and tasks.
//! - [`membership`]: [`GroupMember`], the async client of the group coordinator that joins,
//!   syncs, heartbeats and leaves.

pub mod assignor;
mod connection;
pub mod membership;
pub mod protocol;
pub mod security;
pub mod signature;

pub use membership::{
    GroupApiVersions, GroupMember, HeartbeatOutcome, JoinOutcome, MembershipConfig,
    MembershipError, RebalanceCause,
};
pub use protocol::{
    Assignment, AssignmentError, CodecError, ConnectProtocol, TaskRef, WorkerMetadata,
};
