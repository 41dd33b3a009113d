//! Builders of `ConnectCluster` and `Connector` objects for tests.
//!
//! ```
//! use ferry_crds::{fixtures, ConnectorState};
//!
//! let connector = fixtures::connector("sink")
//!     .namespace("team-a")
//!     .cluster("connect")
//!     .class("FileStreamSink")
//!     .tasks_max(2)
//!     .config("topics", "orders")
//!     .state(ConnectorState::Paused)
//!     .build();
//! assert_eq!(connector.spec.tasks_max, 2);
//! ```
//!
//! Objects get namespace [`DEFAULT_NAMESPACE`], a uid derived from the name and generation 1, as
//! if the API server had stored them; a `Connector` references the cluster
//! [`DEFAULT_CLUSTER`] unless told otherwise.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::ObjectMeta;

use crate::connect_cluster::{ConnectCluster, ConnectClusterSpec, ConnectClusterStatus};
use crate::connector::{
    AutoRestartSpec, ClusterRef, Connector, ConnectorSpec, ConnectorState, ConnectorStatus,
};

/// Namespace of built objects unless set.
pub const DEFAULT_NAMESPACE: &str = "default";

/// `spec.clusterRef.name` of built Connectors unless set.
pub const DEFAULT_CLUSTER: &str = "connect";

/// `spec.bootstrapServers` of built ConnectClusters unless set.
pub const DEFAULT_BOOTSTRAP_SERVERS: &str = "kafka:9092";

fn meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(DEFAULT_NAMESPACE.to_owned()),
        uid: Some(format!("uid-{name}")),
        generation: Some(1),
        ..ObjectMeta::default()
    }
}

/// A condition with the given type, status and reason, observed at generation 1.
pub fn condition(type_: &str, status: &str, reason: &str, message: &str) -> Condition {
    Condition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: reason.to_owned(),
        message: message.to_owned(),
        last_transition_time: Time(k8s_openapi::chrono::DateTime::UNIX_EPOCH),
        observed_generation: Some(1),
    }
}

/// Starts a [`Connector`] named `name`.
pub fn connector(name: &str) -> ConnectorBuilder {
    ConnectorBuilder {
        inner: Connector {
            metadata: meta(name),
            spec: ConnectorSpec {
                cluster_ref: ClusterRef {
                    name: DEFAULT_CLUSTER.to_owned(),
                    namespace: None,
                },
                class: "FileStreamSink".to_owned(),
                ..ConnectorSpec::default()
            },
            status: None,
        },
    }
}

/// Starts a [`ConnectCluster`] named `name`.
pub fn connect_cluster(name: &str) -> ConnectClusterBuilder {
    ConnectClusterBuilder {
        inner: ConnectCluster {
            metadata: meta(name),
            spec: ConnectClusterSpec {
                bootstrap_servers: DEFAULT_BOOTSTRAP_SERVERS.to_owned(),
                ..ConnectClusterSpec::default()
            },
            status: None,
        },
    }
}

/// Builder returned by [`connector`].
#[derive(Clone, Debug)]
#[must_use]
pub struct ConnectorBuilder {
    inner: Connector,
}

impl ConnectorBuilder {
    /// Sets `metadata.namespace`.
    pub fn namespace(mut self, namespace: &str) -> Self {
        self.inner.metadata.namespace = Some(namespace.to_owned());
        self
    }

    /// Sets `metadata.generation`.
    pub fn generation(mut self, generation: i64) -> Self {
        self.inner.metadata.generation = Some(generation);
        self
    }

    /// Adds an annotation.
    pub fn annotation(mut self, key: &str, value: &str) -> Self {
        self.inner
            .metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(key.to_owned(), value.to_owned());
        self
    }

    /// Sets `spec.clusterRef.name`.
    pub fn cluster(mut self, name: &str) -> Self {
        self.inner.spec.cluster_ref.name = name.to_owned();
        self
    }

    /// Sets `spec.clusterRef.namespace`.
    pub fn cluster_namespace(mut self, namespace: &str) -> Self {
        self.inner.spec.cluster_ref.namespace = Some(namespace.to_owned());
        self
    }

    /// Sets `spec.class`.
    pub fn class(mut self, class: &str) -> Self {
        self.inner.spec.class = class.to_owned();
        self
    }

    /// Sets `spec.tasksMax`.
    pub fn tasks_max(mut self, tasks_max: i32) -> Self {
        self.inner.spec.tasks_max = tasks_max;
        self
    }

    /// Sets one `spec.config` entry.
    pub fn config(mut self, key: &str, value: &str) -> Self {
        self.inner
            .spec
            .config
            .insert(key.to_owned(), value.to_owned());
        self
    }

    /// Sets `spec.state`.
    pub fn state(mut self, state: ConnectorState) -> Self {
        self.inner.spec.state = state;
        self
    }

    /// Sets `spec.autoRestart`.
    pub fn auto_restart(mut self, enabled: bool, max_restarts: Option<i32>) -> Self {
        self.inner.spec.auto_restart = Some(AutoRestartSpec {
            enabled,
            max_restarts,
        });
        self
    }

    /// Sets `status`.
    pub fn status(mut self, status: ConnectorStatus) -> Self {
        self.inner.status = Some(status);
        self
    }

    /// The built object.
    pub fn build(self) -> Connector {
        self.inner
    }
}

impl From<ConnectorBuilder> for Connector {
    fn from(builder: ConnectorBuilder) -> Self {
        builder.build()
    }
}

/// Builder returned by [`connect_cluster`].
#[derive(Clone, Debug)]
#[must_use]
pub struct ConnectClusterBuilder {
    inner: ConnectCluster,
}

impl ConnectClusterBuilder {
    /// Sets `metadata.namespace`.
    pub fn namespace(mut self, namespace: &str) -> Self {
        self.inner.metadata.namespace = Some(namespace.to_owned());
        self
    }

    /// Sets `metadata.generation`.
    pub fn generation(mut self, generation: i64) -> Self {
        self.inner.metadata.generation = Some(generation);
        self
    }

    /// Sets `spec.replicas`.
    pub fn replicas(mut self, replicas: i32) -> Self {
        self.inner.spec.replicas = replicas;
        self
    }

    /// Sets `spec.image`.
    pub fn image(mut self, image: &str) -> Self {
        self.inner.spec.image = Some(image.to_owned());
        self
    }

    /// Sets `spec.bootstrapServers`.
    pub fn bootstrap_servers(mut self, servers: &str) -> Self {
        self.inner.spec.bootstrap_servers = servers.to_owned();
        self
    }

    /// Sets `spec.groupId`.
    pub fn group_id(mut self, group_id: &str) -> Self {
        self.inner.spec.group_id = Some(group_id.to_owned());
        self
    }

    /// Sets one `spec.config` entry (a worker property).
    pub fn config(mut self, key: &str, value: &str) -> Self {
        self.inner
            .spec
            .config
            .insert(key.to_owned(), value.to_owned());
        self
    }

    /// Sets `spec.restPort`.
    pub fn rest_port(mut self, port: i32) -> Self {
        self.inner.spec.rest_port = port;
        self
    }

    /// Sets `spec.external`.
    pub fn external(mut self, url: &str) -> Self {
        self.inner.spec.external = Some(url.to_owned());
        self
    }

    /// Sets `spec.allowedNamespaces`.
    pub fn allowed_namespaces(mut self, namespaces: &[&str]) -> Self {
        self.inner.spec.allowed_namespaces =
            Some(namespaces.iter().map(|n| (*n).to_owned()).collect());
        self
    }

    /// Sets `status`.
    pub fn status(mut self, status: ConnectClusterStatus) -> Self {
        self.inner.status = Some(status);
        self
    }

    /// The built object.
    pub fn build(self) -> ConnectCluster {
        self.inner
    }
}

impl From<ConnectClusterBuilder> for ConnectCluster {
    fn from(builder: ConnectClusterBuilder) -> Self {
        builder.build()
    }
}
