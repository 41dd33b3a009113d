//! The headless Service that gives every worker pod a stable DNS name,
//! `<name>-connect-<ordinal>.<name>-connect.<namespace>.svc`: its `rest.advertised.host.name`.

use ferry_crds::ConnectCluster;
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

use super::{REST_PORT_NAME, object_meta, selector_labels, workers_name};
use crate::controller::Error;

/// The headless Service `<name>-connect`, the StatefulSet's `serviceName`.
///
/// `publishNotReadyAddresses` so workers resolve each other while they start: a worker joining
/// the group is not Ready yet, but the leader may already forward requests to it.
pub fn headless_service(cluster: &ConnectCluster) -> Result<Service, Error> {
    Ok(Service {
        metadata: object_meta(cluster, workers_name(&cluster.name_any()))?,
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".into()),
            publish_not_ready_addresses: Some(true),
            selector: Some(selector_labels(cluster)),
            ports: Some(vec![ServicePort {
                name: Some(REST_PORT_NAME.into()),
                port: cluster.spec.rest_port,
                target_port: Some(IntOrString::String(REST_PORT_NAME.into())),
                protocol: Some("TCP".into()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    })
}
