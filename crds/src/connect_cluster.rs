//! The `ConnectCluster` kind: a group of Ferry workers sharing one Connect group id.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, EnvFromSource, EnvVar, PodSecurityContext, ResourceRequirements, Toleration,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema, ResourceExt};
use serde::{Deserialize, Serialize};

/// The image repository used when `spec.image` is unset.
pub const DEFAULT_IMAGE_REPOSITORY: &str = "ghcr.io/ferry-dev/ferry";

/// The image used when `spec.image` is unset: [`DEFAULT_IMAGE_REPOSITORY`] tagged with this
/// crate's version, so an operator runs workers of its own release unless told otherwise.
pub const DEFAULT_IMAGE: &str = concat!("ghcr.io/ferry-dev/ferry:", env!("CARGO_PKG_VERSION"));

/// The default port of the Connect REST API (`spec.restPort`).
pub const DEFAULT_REST_PORT: i32 = 8083;

/// Where a secret listed in `spec.secrets` is mounted when it has no `mountPath`:
/// `/opt/ferry/secrets/<name>`.
pub const DEFAULT_SECRETS_DIR: &str = "/opt/ferry/secrets";

/// Where a config map listed in `spec.configMaps` is mounted when it has no `mountPath`:
/// `/opt/ferry/configmaps/<name>`.
pub const DEFAULT_CONFIG_MAPS_DIR: &str = "/opt/ferry/configmaps";

/// Desired state of a ConnectCluster: a group of Ferry workers in distributed mode (a StatefulSet
/// owned by the operator), or, with `external`, an existing Connect-compatible cluster the operator
/// only talks to.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "ferry.dev",
    version = "v1alpha1",
    kind = "ConnectCluster",
    namespaced,
    status = "ConnectClusterStatus",
    derive = "PartialEq",
    shortname = "kcc",
    category = "ferry",
    doc = "A Kafka Connect-compatible cluster of Ferry workers (or an external one) that Connectors run on.",
    scale(
        spec_replicas_path = ".spec.replicas",
        status_replicas_path = ".status.replicas",
        label_selector_path = ".status.labelSelector"
    ),
    printcolumn = r#"{"name":"Desired","type":"integer","description":"Desired number of workers","jsonPath":".spec.replicas"}"#,
    printcolumn = r#"{"name":"Ready","type":"integer","description":"Workers ready","jsonPath":".status.readyReplicas"}"#,
    printcolumn = r#"{"name":"Bootstrap","type":"string","description":"Kafka bootstrap servers","jsonPath":".spec.bootstrapServers"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ConnectClusterSpec {
    /// Number of workers.
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 1))]
    pub replicas: i32,

    /// Worker container image. Unset: the operator uses the Ferry image of its own release
    /// (`ghcr.io/ferry-dev/ferry:<operator version>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,

    /// Kafka bootstrap servers (`bootstrap.servers`), e.g. `kafka:9092`.
    #[schemars(length(min = 1))]
    pub bootstrap_servers: String,

    /// Connect group id (`group.id`). Unset: the resource's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,

    /// Further worker properties (e.g. `config.storage.topic`, `key.converter`). Values may
    /// reference config providers, e.g. `${file:/opt/ferry/secrets/db/creds.properties:password}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,

    /// Compute resources of the worker container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,

    /// Extra environment variables of the worker container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,

    /// Extra environment variable sources of the worker container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_from: Vec<EnvFromSource>,

    /// Secrets mounted read-only into every worker, for config providers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<MountedSource>,

    /// Config maps mounted read-only into every worker, for config providers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config_maps: Vec<MountedSource>,

    /// Worker log level (e.g. `info`, `debug`, or a tracing filter such as
    /// `info,ferry_runtime::worker=debug`). Unset: the image's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,

    /// Overrides for the worker pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<PodTemplate>,

    /// Port of the Connect REST API (`listeners`).
    #[serde(default = "default_rest_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub rest_port: i32,

    /// URL of an existing Connect-compatible cluster's REST API (e.g. `http://connect:8083`). When
    /// set, the operator deploys nothing and manages Connectors on that cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    #[x_kube(validation = Rule::new("self.startsWith('http://') || self.startsWith('https://')").message("external must be an http:// or https:// URL"))]
    pub external: Option<String>,

    /// Namespaces whose Connectors may use this cluster. Unset: only the cluster's own namespace.
    /// `*` allows every namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_namespaces: Option<Vec<String>>,
}

fn default_replicas() -> i32 {
    1
}

fn default_rest_port() -> i32 {
    DEFAULT_REST_PORT
}

impl Default for ConnectClusterSpec {
    fn default() -> Self {
        Self {
            replicas: default_replicas(),
            image: None,
            bootstrap_servers: String::new(),
            group_id: None,
            config: BTreeMap::new(),
            resources: None,
            env: Vec::new(),
            env_from: Vec::new(),
            secrets: Vec::new(),
            config_maps: Vec::new(),
            log_level: None,
            template: None,
            rest_port: default_rest_port(),
            external: None,
            allowed_namespaces: None,
        }
    }
}

impl ConnectClusterSpec {
    /// `spec.image`, or [`DEFAULT_IMAGE`].
    pub fn image_or_default(&self) -> &str {
        self.image.as_deref().unwrap_or(DEFAULT_IMAGE)
    }
}

impl ConnectCluster {
    /// The Connect group id: `spec.groupId`, or the resource's name.
    pub fn group_id(&self) -> String {
        self.spec
            .group_id
            .clone()
            .unwrap_or_else(|| self.name_any())
    }

    /// Whether a Connector in `namespace` may use this cluster (see `spec.allowedNamespaces`).
    pub fn allows_namespace(&self, namespace: &str) -> bool {
        match &self.spec.allowed_namespaces {
            None => self.namespace().as_deref() == Some(namespace),
            Some(allowed) => allowed.iter().any(|n| n == "*" || n == namespace),
        }
    }
}

/// A Secret or ConfigMap mounted into the workers.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MountedSource {
    /// Name of the Secret or ConfigMap, in the cluster's namespace.
    #[schemars(length(min = 1))]
    pub name: String,

    /// Absolute directory to mount it at. Unset: `/opt/ferry/secrets/<name>` for secrets,
    /// `/opt/ferry/configmaps/<name>` for config maps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    #[x_kube(validation = Rule::new("self.startsWith('/')").message("mountPath must be absolute"))]
    pub mount_path: Option<String>,
}

impl MountedSource {
    /// `mountPath`, or `<default_dir>/<name>` (see [`DEFAULT_SECRETS_DIR`] and
    /// [`DEFAULT_CONFIG_MAPS_DIR`]).
    pub fn mount_path_or(&self, default_dir: &str) -> String {
        self.mount_path
            .clone()
            .unwrap_or_else(|| format!("{default_dir}/{}", self.name))
    }
}

/// Overrides for the worker pods.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PodTemplate {
    /// Extra labels on the worker pods (the operator's own selector labels win).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_labels: BTreeMap<String, String>,

    /// Extra annotations on the worker pods.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_annotations: BTreeMap<String, String>,

    /// Node selector of the worker pods.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,

    /// Tolerations of the worker pods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,

    /// Affinity of the worker pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,

    /// Pod-level security context of the worker pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<PodSecurityContext>,

    /// Service account of the worker pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
}

/// Observed state of a ConnectCluster.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ConnectClusterStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// Number of worker pods (scale subresource).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,

    /// Number of worker pods ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,

    /// Label selector of the worker pods, in string form (scale subresource, for autoscalers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<String>,

    /// URL of the cluster's REST API as the operator reaches it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rest_url: Option<String>,

    /// Connector plugins the workers offer (`GET /connector-plugins`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connector_plugins: Vec<ConnectorPlugin>,

    /// Standard conditions (`Ready`, `Progressing`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
}

/// One entry of `GET /connector-plugins`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct ConnectorPlugin {
    /// Fully qualified class name, e.g. `org.apache.kafka.connect.file.FileStreamSinkConnector`.
    pub class: String,

    /// `source` or `sink` (or another plugin type the cluster reports).
    #[serde(rename = "type")]
    pub type_: String,

    /// Plugin version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::fixtures;

    #[test]
    fn defaults_apply_when_fields_are_missing() {
        let spec: ConnectClusterSpec =
            serde_json::from_value(json!({"bootstrapServers": "kafka:9092"})).unwrap();
        assert_eq!(spec.replicas, 1);
        assert_eq!(spec.rest_port, DEFAULT_REST_PORT);
        assert_eq!(spec.image, None);
        assert_eq!(
            spec.image_or_default(),
            format!("ghcr.io/ferry-dev/ferry:{}", env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(
            spec,
            ConnectClusterSpec {
                bootstrap_servers: "kafka:9092".into(),
                ..ConnectClusterSpec::default()
            }
        );
        assert!(serde_json::from_value::<ConnectClusterSpec>(json!({})).is_err());
    }

    #[test]
    fn group_id_defaults_to_the_name() {
        let cluster = fixtures::connect_cluster("analytics").build();
        assert_eq!(cluster.group_id(), "analytics");
        let cluster = fixtures::connect_cluster("analytics")
            .group_id("connect-analytics")
            .build();
        assert_eq!(cluster.group_id(), "connect-analytics");
    }

    #[test]
    fn allowed_namespaces() {
        let own = fixtures::connect_cluster("c").namespace("platform").build();
        assert!(own.allows_namespace("platform"));
        assert!(!own.allows_namespace("team-a"));
        let listed = fixtures::connect_cluster("c")
            .namespace("platform")
            .allowed_namespaces(&["team-a"])
            .build();
        assert!(listed.allows_namespace("team-a"));
        assert!(!listed.allows_namespace("platform"));
        let all = fixtures::connect_cluster("c")
            .allowed_namespaces(&["*"])
            .build();
        assert!(all.allows_namespace("anything"));
    }

    #[test]
    fn mount_paths() {
        let s = MountedSource {
            name: "db".into(),
            mount_path: None,
        };
        assert_eq!(
            s.mount_path_or(DEFAULT_SECRETS_DIR),
            "/opt/ferry/secrets/db"
        );
        let s = MountedSource {
            name: "db".into(),
            mount_path: Some("/etc/db".into()),
        };
        assert_eq!(s.mount_path_or(DEFAULT_SECRETS_DIR), "/etc/db");
    }

    #[test]
    fn connect_cluster_round_trips_through_yaml_and_json() {
        let manifest = r#"
apiVersion: ferry.dev/v1alpha1
kind: ConnectCluster
metadata:
  name: connect
  namespace: platform
spec:
  replicas: 3
  image: ghcr.io/ferry-dev/ferry:0.1.0
  bootstrapServers: kafka-0:9092,kafka-1:9092
  groupId: connect-platform
  config:
    config.storage.topic: connect-configs
  resources:
    requests: {cpu: 500m, memory: 512Mi}
    limits: {memory: 1Gi}
  env:
    - name: RUST_BACKTRACE
      value: "1"
  envFrom:
    - secretRef: {name: kafka-credentials}
  secrets:
    - name: db
  configMaps:
    - name: settings
      mountPath: /etc/settings
  logLevel: debug
  template:
    podLabels: {team: platform}
    podAnnotations: {prometheus.io/scrape: "true"}
    nodeSelector: {kubernetes.io/os: linux}
    tolerations:
      - key: dedicated
        operator: Equal
        value: connect
        effect: NoSchedule
    securityContext:
      runAsNonRoot: true
      fsGroup: 1000
    serviceAccountName: connect
  restPort: 8084
  allowedNamespaces: [team-a, team-b]
status:
  observedGeneration: 4
  replicas: 3
  readyReplicas: 2
  labelSelector: app.kubernetes.io/instance=connect
  restUrl: http://connect-api.platform.svc:8084
  connectorPlugins:
    - class: org.apache.kafka.connect.file.FileStreamSinkConnector
      type: sink
      version: 0.1.0
  conditions:
    - type: Ready
      status: "True"
      reason: Available
      message: ""
      lastTransitionTime: "2024-01-01T00:00:00Z"
"#;
        let cluster: ConnectCluster = serde_yaml::from_str(manifest).unwrap();
        assert_eq!(cluster.spec.replicas, 3);
        assert_eq!(cluster.spec.rest_port, 8084);
        let template = cluster.spec.template.as_ref().unwrap();
        assert_eq!(template.tolerations.len(), 1);
        assert_eq!(
            template.security_context.as_ref().unwrap().fs_group,
            Some(1000)
        );
        assert_eq!(
            cluster.spec.config_maps[0].mount_path_or(DEFAULT_CONFIG_MAPS_DIR),
            "/etc/settings"
        );
        let status = cluster.status.as_ref().unwrap();
        assert_eq!(status.connector_plugins[0].type_, "sink");
        assert_eq!(status.conditions[0].type_, "Ready");

        let value = serde_json::to_value(&cluster).unwrap();
        assert_eq!(
            value["spec"]["bootstrapServers"],
            "kafka-0:9092,kafka-1:9092"
        );
        assert_eq!(value["status"]["connectorPlugins"][0]["type"], "sink");
        let back: ConnectCluster = serde_json::from_value(value).unwrap();
        assert_eq!(back, cluster);
    }

    #[test]
    fn absent_optionals_are_not_serialised() {
        let cluster = fixtures::connect_cluster("c").build();
        assert_eq!(
            serde_json::to_value(&cluster.spec).unwrap(),
            json!({"replicas": 1, "bootstrapServers": "kafka:9092", "restPort": 8083})
        );
        assert_eq!(
            serde_json::to_value(ConnectClusterStatus::default()).unwrap(),
            json!({})
        );
    }
}
