//! Leader election over a `coordination.k8s.io` Lease (with `kube-lease-manager`), so two
//! operator replicas are safe: only the holder of the Lease runs the controllers.

use std::future::Future;
use std::time::Duration;

use kube::Client;
use kube_lease_manager::{LeaseManagerBuilder, LeaseManagerError};
use tracing::{info, warn};

/// Where and as whom to take part in the election.
#[derive(Clone, Debug)]
pub struct LeaderElection {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Name of the Lease; every replica of one operator must use the same.
    pub lease_name: String,
    /// This replica's identity (its pod name, say); unique among the replicas.
    pub identity: String,
    /// How long the Lease is valid after its holder last renewed it: how long a crashed
    /// leader's replacement waits.
    pub lease_duration: Duration,
    /// How long before expiry the holder renews: the clock skew between nodes it tolerates.
    pub renew_grace: Duration,
}

impl LeaderElection {
    /// The Lease `ferry-operator` in `namespace`, valid 15 s, renewed 5 s before it expires.
    pub fn new(namespace: impl Into<String>, identity: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            lease_name: "ferry-operator".into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            renew_grace: Duration::from_secs(5),
        }
    }
}

/// Why [`while_leading`] returned without the work finishing.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    /// The durations are unusable (whole seconds, grace at least 1 s and shorter than the lease).
    #[error(
        "invalid leader election timing: lease duration {duration:?}, renew grace {grace:?} \
         (both whole seconds, 0 < grace < duration)"
    )]
    Timing { duration: Duration, grace: Duration },
    /// The Lease could not be created or read.
    #[error("leader election: {0}")]
    Lease(#[from] LeaseManagerError),
    /// Another replica holds the Lease now: this one must stop acting at once.
    #[error("lost the leader lease")]
    Lost,
}

/// Waits until this replica holds the Lease, then runs `work` while it keeps it.
///
/// Returns `work`'s output when it ends (the Lease is released, so a standby takes over at
/// once), or [`LeaderError::Lost`] when the Lease is lost first; `work` is dropped then, and a
/// caller should exit rather than start it again, as client-go's leader election does, so that
/// nothing this replica began goes on beside the new leader.
pub async fn while_leading<F: Future>(
    client: Client,
    election: &LeaderElection,
    work: F,
) -> Result<F::Output, LeaderError> {
    let (duration, grace) = (election.lease_duration, election.renew_grace);
    if grace.as_secs() == 0
        || grace >= duration
        || duration.subsec_nanos() != 0
        || grace.subsec_nanos() != 0
    {
        return Err(LeaderError::Timing { duration, grace });
    }
    let manager = LeaseManagerBuilder::new(client, &election.lease_name)
        .with_namespace(&election.namespace)
        .with_identity(&election.identity)
        .with_duration(duration.as_secs())
        .with_grace(grace.as_secs())
        .with_field_manager(format!("ferry-operator-{}", election.identity))
        .build()
        .await?;
    let (mut leading, watcher) = manager.watch().await;
    info!(
        lease = %format!("{}/{}", election.namespace, election.lease_name),
        identity = %election.identity,
        "waiting to become the leader"
    );
    while !*leading.borrow_and_update() {
        if leading.changed().await.is_err() {
            return Err(watcher_ended(watcher).await);
        }
    }
    info!(identity = %election.identity, "became the leader; starting the controllers");
    let out = {
        let lost = async {
            loop {
                if leading.changed().await.is_err() || !*leading.borrow_and_update() {
                    return;
                }
            }
        };
        tokio::select! {
            v = work => Ok(v),
            () = lost => Err(LeaderError::Lost),
        }
    };
    // Closing the channel makes the watcher release the Lease (if still ours) and end.
    drop(leading);
    match tokio::time::timeout(Duration::from_secs(5), watcher).await {
        Ok(Ok(Ok(_))) => {}
        Ok(Ok(Err(e))) => warn!("releasing the leader lease failed: {e}"),
        Ok(Err(e)) => warn!("the leader election task failed: {e}"),
        Err(_) => warn!("releasing the leader lease timed out"),
    }
    out
}

async fn watcher_ended(
    watcher: tokio::task::JoinHandle<kube_lease_manager::Result<kube_lease_manager::LeaseManager>>,
) -> LeaderError {
    match watcher.await {
        Ok(Err(e)) => LeaderError::Lease(e),
        _ => LeaderError::Lost,
    }
}
