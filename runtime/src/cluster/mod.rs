//! Distributed coordination: group membership over the Kafka wire protocol, the Connect
//! group protocol's metadata and assignments, and the assignor.
pub mod assignor;
pub mod protocol;
