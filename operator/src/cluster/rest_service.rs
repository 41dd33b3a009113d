//! The Service through which clients (and the Connector controller) reach the REST API.

use ferry_crds::ConnectCluster;
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

use super::{REST_PORT_NAME, object_meta, rest_service_name, selector_labels};
use crate::controller::Error;

/// The ClusterIP Service `<name>-connect-api` on `spec.restPort`, routing to Ready workers only.
pub fn rest_service(cluster: &ConnectCluster) -> Result<Service, Error> {
    Ok(Service {
        metadata: object_meta(cluster, rest_service_name(&cluster.name_any()))?,
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
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
