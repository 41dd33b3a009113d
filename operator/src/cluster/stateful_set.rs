//! The StatefulSet of `ferry distributed` workers.

use ferry_crds::connect_cluster::{DEFAULT_CONFIG_MAPS_DIR, DEFAULT_SECRETS_DIR};
use ferry_crds::{ConnectCluster, PodTemplate};
use k8s_openapi::api::apps::v1::{
    RollingUpdateStatefulSetStrategy, StatefulSet, StatefulSetSpec, StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource, EnvVar,
    EnvVarSource, HTTPGetAction, ObjectFieldSelector, PodSecurityContext, PodSpec, PodTemplateSpec,
    Probe, SeccompProfile, SecretVolumeSource, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

use super::config_map::WORKER_PROPERTIES;
use super::{
    CONFIG_HASH_ANNOTATION, REST_PORT_NAME, config_map_name, object_meta, selector_labels,
    workers_name,
};
use crate::controller::Error;

/// Where the worker ConfigMap is mounted.
pub const CONFIG_DIR: &str = "/etc/ferry";

/// The uid and gid the workers run as unless `spec.template.securityContext` says otherwise.
pub const DEFAULT_USER: i64 = 65532;

/// Seconds a stopping worker gets: enough to stop its tasks, commit offsets and leave the group.
pub const TERMINATION_GRACE_SECONDS: i64 = 60;

/// The name of the worker container.
pub const CONTAINER: &str = "ferry";

/// The StatefulSet `<name>-connect`: `spec.replicas` workers running
/// `ferry distributed /etc/ferry/worker.properties`, each advertising its own stable DNS name
/// under the headless Service, so a restarted pod is the same worker and takes its tasks back.
///
/// `config_hash` goes into a pod annotation: a changed worker config rolls the pods.
pub fn stateful_set(cluster: &ConnectCluster, config_hash: &str) -> Result<StatefulSet, Error> {
    let name = cluster.name_any();
    let workers = workers_name(&name);
    let template = cluster.spec.template.clone().unwrap_or_default();
    let selector = selector_labels(cluster);

    let mut pod_labels = template.pod_labels.clone();
    pod_labels.extend(selector.clone());
    let mut pod_annotations = template.pod_annotations.clone();
    pod_annotations.insert(CONFIG_HASH_ANNOTATION.into(), config_hash.to_owned());

    let (volumes, mounts) = volumes(cluster);
    let spec = PodSpec {
        containers: vec![container(cluster, &workers, mounts)],
        volumes: Some(volumes),
        security_context: Some(pod_security_context(&template)),
        service_account_name: template.service_account_name.clone(),
        node_selector: (!template.node_selector.is_empty()).then(|| template.node_selector.clone()),
        tolerations: (!template.tolerations.is_empty()).then(|| template.tolerations.clone()),
        affinity: template.affinity.clone(),
        termination_grace_period_seconds: Some(TERMINATION_GRACE_SECONDS),
        // Workers talk to Kafka and to each other; the Kubernetes API only to read Secrets
        // through the Kubernetes Secret config provider, and then they need the token.
        automount_service_account_token: Some(uses_kubernetes_secret_provider(cluster)),
        ..PodSpec::default()
    };
    Ok(StatefulSet {
        metadata: object_meta(cluster, workers.clone())?,
        spec: Some(StatefulSetSpec {
            replicas: Some(cluster.spec.replicas),
            service_name: Some(workers),
            // Workers need no start order: start and replace them all at once.
            pod_management_policy: Some("Parallel".into()),
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateStatefulSetStrategy {
                    max_unavailable: None,
                    partition: Some(0),
                }),
            }),
            selector: LabelSelector {
                match_labels: Some(selector),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: Some(pod_annotations),
                    ..ObjectMeta::default()
                }),
                spec: Some(spec),
            },
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    })
}

fn container(cluster: &ConnectCluster, workers: &str, mounts: Vec<VolumeMount>) -> Container {
    let probe = |period: i32, failures: i32| Probe {
        http_get: Some(HTTPGetAction {
            path: Some("/health".into()),
            port: IntOrString::String(REST_PORT_NAME.into()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        timeout_seconds: Some(5),
        failure_threshold: Some(failures),
        ..Probe::default()
    };
    Container {
        name: CONTAINER.into(),
        image: Some(cluster.spec.image_or_default().to_owned()),
        command: Some(vec!["ferry".into()]),
        // Kubernetes expands $(POD_NAME) and $(POD_NAMESPACE) from the env below.
        args: Some(vec![
            "distributed".into(),
            format!("{CONFIG_DIR}/{WORKER_PROPERTIES}"),
            "--override".into(),
            format!("rest.advertised.host.name=$(POD_NAME).{workers}.$(POD_NAMESPACE).svc"),
        ]),
        ports: Some(vec![ContainerPort {
            name: Some(REST_PORT_NAME.into()),
            container_port: cluster.spec.rest_port,
            protocol: Some("TCP".into()),
            ..ContainerPort::default()
        }]),
        env: Some(env(cluster)),
        env_from: (!cluster.spec.env_from.is_empty()).then(|| cluster.spec.env_from.clone()),
        resources: cluster.spec.resources.clone(),
        volume_mounts: Some(mounts),
        // /health answers 503 while the worker starts (reading the internal topics, joining the
        // group): the startup probe gives that five minutes before liveness may restart it.
        startup_probe: Some(probe(5, 60)),
        readiness_probe: Some(probe(10, 3)),
        liveness_probe: Some(probe(10, 6)),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                add: None,
            }),
            ..SecurityContext::default()
        }),
        ..Container::default()
    }
}

/// The operator's variables, then `spec.env` (which wins on a name clash: the API server
/// refuses duplicate names in a server-side apply).
fn env(cluster: &ConnectCluster) -> Vec<EnvVar> {
    let field = |path: &str| EnvVarSource {
        field_ref: Some(ObjectFieldSelector {
            field_path: path.into(),
            api_version: None,
        }),
        ..EnvVarSource::default()
    };
    let mut out = vec![
        EnvVar {
            name: "POD_NAME".into(),
            value_from: Some(field("metadata.name")),
            value: None,
        },
        EnvVar {
            name: "POD_NAMESPACE".into(),
            value_from: Some(field("metadata.namespace")),
            value: None,
        },
    ];
    if let Some(level) = &cluster.spec.log_level {
        out.push(EnvVar {
            name: "FERRY_LOG".into(),
            value: Some(level.clone()),
            value_from: None,
        });
    }
    out.retain(|e| !cluster.spec.env.iter().any(|u| u.name == e.name));
    out.extend(cluster.spec.env.iter().cloned());
    out
}

/// Strimzi's class name, which Ferry's worker implements (`${secrets:NAMESPACE/NAME:KEY}`).
pub const KUBERNETES_SECRET_PROVIDER: &str = "io.strimzi.kafka.KubernetesSecretConfigProvider";

/// Whether the worker config declares the Kubernetes Secret config provider, which reads
/// Secrets from the API server with the pod's service account token.
fn uses_kubernetes_secret_provider(cluster: &ConnectCluster) -> bool {
    cluster.spec.config.iter().any(|(k, v)| {
        k.starts_with("config.providers.")
            && k.ends_with(".class")
            && v.trim() == KUBERNETES_SECRET_PROVIDER
    })
}

fn volumes(cluster: &ConnectCluster) -> (Vec<Volume>, Vec<VolumeMount>) {
    let mount = |name: &str, path: String| VolumeMount {
        name: name.into(),
        mount_path: path,
        read_only: Some(true),
        ..VolumeMount::default()
    };
    let mut volumes = vec![
        Volume {
            name: "config".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: config_map_name(&cluster.name_any()),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        },
        Volume {
            name: "tmp".into(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        },
        Volume {
            name: "data".into(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        },
    ];
    let mut mounts = vec![
        mount("config", CONFIG_DIR.into()),
        VolumeMount {
            read_only: None,
            ..mount("tmp", "/tmp".into())
        },
        VolumeMount {
            read_only: None,
            ..mount("data", "/var/lib/ferry".into())
        },
    ];
    // Volume names by position: Secret and ConfigMap names may hold dots, volume names may not.
    for (i, s) in cluster.spec.secrets.iter().enumerate() {
        let name = format!("secret-{i}");
        volumes.push(Volume {
            name: name.clone(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(s.name.clone()),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        });
        mounts.push(mount(&name, s.mount_path_or(DEFAULT_SECRETS_DIR)));
    }
    for (i, c) in cluster.spec.config_maps.iter().enumerate() {
        let name = format!("configmap-{i}");
        volumes.push(Volume {
            name: name.clone(),
            config_map: Some(ConfigMapVolumeSource {
                name: c.name.clone(),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        });
        mounts.push(mount(&name, c.mount_path_or(DEFAULT_CONFIG_MAPS_DIR)));
    }
    (volumes, mounts)
}

/// `spec.template.securityContext`, or non-root as [`DEFAULT_USER`] with the runtime's default
/// seccomp profile.
fn pod_security_context(template: &PodTemplate) -> PodSecurityContext {
    template
        .security_context
        .clone()
        .unwrap_or_else(|| PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(DEFAULT_USER),
            run_as_group: Some(DEFAULT_USER),
            fs_group: Some(DEFAULT_USER),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".into(),
                localhost_profile: None,
            }),
            ..PodSecurityContext::default()
        })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use ferry_crds::{MountedSource, fixtures};
    use k8s_openapi::api::core::v1::Toleration;

    use super::*;

    fn pod(sts: &StatefulSet) -> &PodSpec {
        sts.spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .expect("pod spec")
    }

    #[test]
    fn env_user_values_win_and_log_level_is_passed() {
        let mut cluster = fixtures::connect_cluster("c").build();
        cluster.spec.log_level = Some("debug".into());
        cluster.spec.env = vec![EnvVar {
            name: "POD_NAME".into(),
            value: Some("mine".into()),
            value_from: None,
        }];
        let names: Vec<(String, Option<String>)> = env(&cluster)
            .into_iter()
            .map(|e| (e.name, e.value))
            .collect();
        assert_eq!(
            names,
            [
                ("POD_NAMESPACE".to_owned(), None),
                ("FERRY_LOG".to_owned(), Some("debug".to_owned())),
                ("POD_NAME".to_owned(), Some("mine".to_owned())),
            ]
        );
    }

    #[test]
    fn the_token_is_mounted_only_for_the_kubernetes_secret_provider() {
        let mut cluster = fixtures::connect_cluster("c").build();
        let automount = |c: &ConnectCluster| {
            pod(&stateful_set(c, "abc").expect("sts")).automount_service_account_token
        };
        assert_eq!(automount(&cluster), Some(false));
        cluster.spec.config = BTreeMap::from([
            ("config.providers".to_owned(), "secrets".to_owned()),
            (
                "config.providers.secrets.class".to_owned(),
                KUBERNETES_SECRET_PROVIDER.to_owned(),
            ),
        ]);
        assert_eq!(automount(&cluster), Some(true));
    }

    #[test]
    fn template_overrides_and_mounts() {
        let mut cluster = fixtures::connect_cluster("c").build();
        cluster.spec.secrets = vec![MountedSource {
            name: "db.creds".into(),
            mount_path: None,
        }];
        cluster.spec.config_maps = vec![MountedSource {
            name: "settings".into(),
            mount_path: Some("/etc/settings".into()),
        }];
        cluster.spec.template = Some(PodTemplate {
            pod_labels: BTreeMap::from([
                ("team".to_owned(), "a".to_owned()),
                ("app.kubernetes.io/instance".to_owned(), "hijack".to_owned()),
            ]),
            tolerations: vec![Toleration {
                key: Some("dedicated".into()),
                ..Toleration::default()
            }],
            service_account_name: Some("connect".into()),
            ..PodTemplate::default()
        });
        let sts = stateful_set(&cluster, "abc").expect("sts");
        let labels = sts
            .spec
            .as_ref()
            .and_then(|s| s.template.metadata.as_ref())
            .and_then(|m| m.labels.clone())
            .expect("labels");
        assert_eq!(labels["team"], "a");
        assert_eq!(labels["app.kubernetes.io/instance"], "c");
        let p = pod(&sts);
        assert_eq!(p.service_account_name.as_deref(), Some("connect"));
        assert_eq!(p.tolerations.as_ref().map(Vec::len), Some(1));
        assert_eq!(
            p.security_context.as_ref().and_then(|s| s.run_as_user),
            Some(DEFAULT_USER)
        );
        let mounts: Vec<(String, String)> = p.containers[0]
            .volume_mounts
            .iter()
            .flatten()
            .map(|m| (m.name.clone(), m.mount_path.clone()))
            .collect();
        assert_eq!(
            mounts,
            [
                ("config".to_owned(), "/etc/ferry".to_owned()),
                ("tmp".to_owned(), "/tmp".to_owned()),
                ("data".to_owned(), "/var/lib/ferry".to_owned()),
                (
                    "secret-0".to_owned(),
                    "/opt/ferry/secrets/db.creds".to_owned()
                ),
                ("configmap-0".to_owned(), "/etc/settings".to_owned()),
            ]
        );
    }
}
