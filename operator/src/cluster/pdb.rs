//! The PodDisruptionBudget that keeps voluntary evictions (node drains) to one worker at a time.

use ferry_crds::ConnectCluster;
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

use super::{object_meta, selector_labels, workers_name};
use crate::controller::Error;

/// The PodDisruptionBudget `<name>-connect`: `maxUnavailable: 1`, so a drain moves workers one by
/// one and the group keeps the rest running (a count, not a percentage, so it also holds for one
/// replica, where it lets the drain proceed).
pub fn pod_disruption_budget(cluster: &ConnectCluster) -> Result<PodDisruptionBudget, Error> {
    Ok(PodDisruptionBudget {
        metadata: object_meta(cluster, workers_name(&cluster.name_any()))?,
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector {
                match_labels: Some(selector_labels(cluster)),
                ..LabelSelector::default()
            }),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    })
}
