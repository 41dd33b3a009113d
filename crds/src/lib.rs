//! Custom resource types for the Ferry operator (`ConnectCluster`, `Connector`).
//!
//! The types arrive with the operator; this crate exists so the workspace has its final shape.
