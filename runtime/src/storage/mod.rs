//! Where a worker keeps source offsets and connector/task states.
//!
//! Standalone mode keeps offsets in a file and states in memory; distributed mode
//! (a later step) keeps both in Kafka topics behind the same interfaces.

pub mod kafka;
pub mod offsets;
pub mod status;

pub use offsets::{FileOffsetStore, MemoryOffsetStore, OffsetStore};
pub use status::{State, StatusStore, TaskStatus};
