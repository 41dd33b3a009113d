//! Group membership against the real broker (`e2e/services up kafka`, then
//! `eval "$(e2e/services env)"` for KAFKA_BOOTSTRAP_SERVERS): workers form Connect groups, the
//! leader's assignments reach each member intact, and joins, leaves and evictions trigger
//! rebalances the way Kafka Connect workers see them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use ferry_runtime::cluster::{
    Assignment, ConnectProtocol, GroupMember, HeartbeatOutcome, JoinOutcome, MembershipConfig,
    MembershipError, RebalanceCause, TaskRef, WorkerMetadata,
};
use tokio::sync::watch;

/// Broker default `group.min.session.timeout.ms`: the shortest session the broker accepts.
const SESSION_TIMEOUT: Duration = Duration::from_millis(6_000);
const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(500);
/// Bounds every phase of a test; generous for a loaded machine.
const PHASE_DEADLINE: Duration = Duration::from_secs(60);

fn bootstrap() -> Vec<String> {
    let servers = std::env::var("KAFKA_BOOTSTRAP_SERVERS").expect(
        "KAFKA_BOOTSTRAP_SERVERS is not set: run `e2e/services up kafka && eval \"$(e2e/services env)\"` first (e2e/test does this)",
    );
    servers.split(',').map(|s| s.trim().to_string()).collect()
}

fn unique_group(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("ferry-test-{prefix}-{}-{nanos}", std::process::id())
}

fn member(group: &str, client: &str, protocol: ConnectProtocol) -> GroupMember {
    let mut config = MembershipConfig::new(bootstrap(), group);
    config.client_id = client.to_string();
    config.session_timeout = SESSION_TIMEOUT;
    config.heartbeat_interval = HEARTBEAT_INTERVAL;
    config.rebalance_timeout = Duration::from_secs(20);
    config.request_timeout = Duration::from_secs(30);
    config.protocol = protocol;
    GroupMember::new(config).unwrap()
}

fn metadata(n: i64) -> WorkerMetadata {
    WorkerMetadata {
        url: format!("http://worker-{n}.example:8083/"),
        config_offset: 100 + n,
        allocation: None,
    }
}

/// What the leader gives member number `i` of a generation: its own connector and two tasks,
/// and (cooperatively) a revocation, so every field crosses the wire.
fn assignment_for(i: usize, join: &JoinOutcome) -> Assignment {
    let leader_url = join
        .members
        .iter()
        .find(|(id, _)| *id == join.leader_id)
        .map(|(_, m)| m.url.clone())
        .unwrap();
    let max_offset = join
        .members
        .iter()
        .map(|(_, m)| m.config_offset)
        .max()
        .unwrap();
    let mut a = Assignment::new(join.protocol, &join.leader_id, leader_url, max_offset);
    let connector = format!("connector-{i}");
    a.connectors = vec![connector.clone()];
    a.tasks = vec![TaskRef::new(&connector, 0), TaskRef::new(&connector, 1)];
    if join.protocol.is_cooperative() {
        a.revoked_tasks = vec![TaskRef::new("old-connector", i as u32)];
        a.delay_ms = 250;
    }
    a
}

/// How one member's rebalance went.
#[derive(Debug)]
struct Settled {
    /// The heartbeat outcome that made it rejoin, when it started as a stable member.
    cause: Option<RebalanceCause>,
    join: JoinOutcome,
    assignment: Assignment,
    /// Everything the member sent in SyncGroup, when it led the final generation.
    sent: Vec<(String, Assignment)>,
}

/// Drives one member until the group has settled with `expected` members: join, sync (the leader
/// assigns), then heartbeat until either the leader announces that a generation with everyone is
/// complete or the coordinator asks for another rebalance. With `wait_for_rebalance` the member
/// first heartbeats until the coordinator tells it to rejoin. Bounded by PHASE_DEADLINE.
async fn settle(
    member: &mut GroupMember,
    meta: &WorkerMetadata,
    expected: usize,
    wait_for_rebalance: bool,
    done: &watch::Sender<Option<i32>>,
) -> Settled {
    let deadline = Instant::now() + PHASE_DEADLINE;
    let client = member.config().client_id.clone();
    let mut cause = None;
    if wait_for_rebalance {
        cause = Some(heartbeat_until_rebalance(member, PHASE_DEADLINE).await);
    }
    loop {
        assert!(
            Instant::now() < deadline,
            "{client}: the group did not settle within {PHASE_DEADLINE:?}"
        );
        let join = member.join(meta).await.unwrap();
        let sent = if join.is_leader() {
            join.members
                .iter()
                .enumerate()
                .map(|(i, (id, _))| (id.clone(), assignment_for(i, &join)))
                .collect()
        } else {
            Vec::new()
        };
        let assignment = match member.sync(&sent).await {
            Ok(a) => a,
            Err(e @ MembershipError::RebalanceNeeded { .. }) => {
                eprintln!(
                    "{client}: generation {} ended before sync: {e}",
                    join.generation_id
                );
                continue;
            }
            Err(e) => panic!("{client}: sync failed: {e}"),
        };
        if join.is_leader() && join.members.len() == expected {
            done.send_replace(Some(join.generation_id));
        }
        // Stay in the group until everyone is in one generation, or rejoin if asked.
        let rejoin = loop {
            if *done.borrow() == Some(join.generation_id) {
                break false;
            }
            assert!(
                Instant::now() < deadline,
                "{client}: generation {} never completed with {expected} members",
                join.generation_id
            );
            match member.heartbeat().await.unwrap() {
                HeartbeatOutcome::Ok | HeartbeatOutcome::CoordinatorMoved => {}
                HeartbeatOutcome::RebalanceNeeded(_) => break true,
            }
            tokio::time::sleep(HEARTBEAT_INTERVAL / 2).await;
        };
        if !rejoin {
            return Settled {
                cause,
                join,
                assignment,
                sent,
            };
        }
    }
}

/// Heartbeats every interval until the coordinator asks for a rejoin; panics after `within`.
async fn heartbeat_until_rebalance(member: &mut GroupMember, within: Duration) -> RebalanceCause {
    let deadline = Instant::now() + within;
    loop {
        match member.heartbeat().await.unwrap() {
            HeartbeatOutcome::RebalanceNeeded(cause) => return cause,
            HeartbeatOutcome::Ok | HeartbeatOutcome::CoordinatorMoved => {}
        }
        assert!(
            Instant::now() < deadline,
            "{}: no rebalance signalled within {within:?}",
            member.config().client_id
        );
        tokio::time::sleep(HEARTBEAT_INTERVAL).await;
    }
}

/// Checks one settled generation: a single leader that saw everyone's metadata, and every
/// member holding exactly what the leader sent it.
fn check_generation(settled: &[&Settled], metas: &[&WorkerMetadata]) -> i32 {
    let generation = settled[0].join.generation_id;
    let leaders: Vec<_> = settled.iter().filter(|s| s.join.is_leader()).collect();
    assert_eq!(leaders.len(), 1, "exactly one leader: {settled:#?}");
    let leader = leaders[0];
    assert_eq!(leader.join.members.len(), settled.len());
    for s in settled {
        assert_eq!(s.join.generation_id, generation, "one generation for all");
        assert_eq!(s.join.leader_id, leader.join.member_id);
        assert_eq!(s.join.protocol, leader.join.protocol);
        if !s.join.is_leader() {
            assert!(
                s.join.members.is_empty(),
                "followers see no member metadata"
            );
        }
    }
    // The leader sees each member's metadata as that member sent it.
    for (s, meta) in settled.iter().zip(metas) {
        let seen = leader
            .join
            .members
            .iter()
            .find(|(id, _)| *id == s.join.member_id)
            .map(|(_, m)| m)
            .unwrap_or_else(|| panic!("leader did not see member {}", s.join.member_id));
        assert_eq!(seen.url, meta.url);
        assert_eq!(seen.config_offset, meta.config_offset);
        let mut expected_allocation = meta.allocation.clone();
        if let Some(a) = expected_allocation.as_mut() {
            // The allocation travels with the chosen protocol's version in its header.
            a.version = leader.join.protocol.version();
        }
        assert_eq!(seen.allocation, expected_allocation);
        // ... and the member receives exactly what the leader sent it.
        let sent = leader
            .sent
            .iter()
            .find(|(id, _)| *id == s.join.member_id)
            .map(|(_, a)| a)
            .unwrap();
        assert_eq!(&s.assignment, sent);
    }
    generation
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_form_a_group_rebalance_on_join_leave_and_eviction() {
    let group = unique_group("membership");
    let mut a = member(&group, "worker-a", ConnectProtocol::Sessioned);
    let mut b = member(&group, "worker-b", ConnectProtocol::Sessioned);
    let mut c = member(&group, "worker-c", ConnectProtocol::Sessioned);
    let (mut meta_a, mut meta_b, meta_c) = (metadata(1), metadata(2), metadata(3));

    // Two members join at once and settle into one generation.
    let done = watch::Sender::new(None);
    let (sa, sb) = tokio::join!(
        settle(&mut a, &meta_a, 2, false, &done),
        settle(&mut b, &meta_b, 2, false, &done),
    );
    let g1 = check_generation(&[&sa, &sb], &[&meta_a, &meta_b]);
    assert_eq!(sa.join.protocol, ConnectProtocol::Sessioned);
    assert!(!sa.join.member_id.is_empty() && sa.join.member_id != sb.join.member_id);
    eprintln!(
        "generation {g1}: leader {}; negotiated API versions {:?}; coordinator {:?}",
        sa.join.leader_id,
        a.api_versions(),
        a.coordinator()
    );
    assert_eq!(a.heartbeat().await.unwrap(), HeartbeatOutcome::Ok);
    assert_eq!(b.heartbeat().await.unwrap(), HeartbeatOutcome::Ok);
    assert!(a.is_stable() && b.is_stable());
    assert_eq!(a.generation_id(), Some(g1));

    // A third member's arrival makes the others' heartbeats ask for a rejoin; they come back
    // with their current assignment as allocation and all three land in a new generation.
    meta_a.allocation = Some(sa.assignment.clone());
    meta_b.allocation = Some(sb.assignment.clone());
    let done = watch::Sender::new(None);
    let (sa, sb, sc) = tokio::join!(
        settle(&mut a, &meta_a, 3, true, &done),
        settle(&mut b, &meta_b, 3, true, &done),
        settle(&mut c, &meta_c, 3, false, &done),
    );
    assert_eq!(sa.cause, Some(RebalanceCause::RebalanceInProgress));
    assert_eq!(sb.cause, Some(RebalanceCause::RebalanceInProgress));
    let g2 = check_generation(&[&sa, &sb, &sc], &[&meta_a, &meta_b, &meta_c]);
    assert!(g2 > g1, "new generation {g2} after {g1}");

    // A member that leaves makes the others rebalance without waiting for its session to end.
    c.leave().await.unwrap();
    assert_eq!(c.member_id(), "");
    assert_eq!(c.generation_id(), None);
    meta_a.allocation = Some(sa.assignment.clone());
    meta_b.allocation = Some(sb.assignment.clone());
    let done = watch::Sender::new(None);
    let left_at = Instant::now();
    let (sa, sb) = tokio::join!(
        settle(&mut a, &meta_a, 2, true, &done),
        settle(&mut b, &meta_b, 2, true, &done),
    );
    assert_eq!(sa.cause, Some(RebalanceCause::RebalanceInProgress));
    let g3 = check_generation(&[&sa, &sb], &[&meta_a, &meta_b]);
    assert!(g3 > g2);
    assert!(
        left_at.elapsed() < SESSION_TIMEOUT,
        "the rebalance after leave() should not wait for the session timeout ({:?})",
        left_at.elapsed()
    );

    // A member that stops heartbeating is evicted after the session timeout: the survivor is
    // told to rejoin and forms a generation alone; the evicted one learns it is unknown.
    let b_id = b.member_id().to_string();
    meta_a.allocation = Some(sa.assignment.clone());
    let done = watch::Sender::new(None);
    let silent_since = Instant::now();
    let sa = settle(&mut a, &meta_a, 1, true, &done).await;
    let waited = silent_since.elapsed();
    assert_eq!(sa.cause, Some(RebalanceCause::RebalanceInProgress));
    assert!(
        waited >= SESSION_TIMEOUT - HEARTBEAT_INTERVAL * 2,
        "evicted after {waited:?}, before the {SESSION_TIMEOUT:?} session timeout"
    );
    let g4 = check_generation(&[&sa], &[&meta_a]);
    assert!(g4 > g3);
    assert!(sa.join.members.iter().all(|(id, _)| *id != b_id));
    assert_eq!(
        b.heartbeat().await.unwrap(),
        HeartbeatOutcome::RebalanceNeeded(RebalanceCause::UnknownMemberId)
    );
    assert_eq!(
        b.member_id(),
        "",
        "an evicted member starts over with a new id"
    );

    a.leave().await.unwrap();
}

/// A worker limited to the eager protocol pulls the whole group down to "default", as a mixed
/// Java cluster does during an upgrade; the v0 formats must work end to end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_protocol_modes_agree_on_the_common_protocol() {
    let group = unique_group("eager");
    let mut a = member(&group, "worker-sessioned", ConnectProtocol::Sessioned);
    let mut b = member(&group, "worker-eager", ConnectProtocol::Eager);
    let (meta_a, meta_b) = (metadata(1), metadata(2));
    let done = watch::Sender::new(None);
    let (sa, sb) = tokio::join!(
        settle(&mut a, &meta_a, 2, false, &done),
        settle(&mut b, &meta_b, 2, false, &done),
    );
    check_generation(&[&sa, &sb], &[&meta_a, &meta_b]);
    assert_eq!(sa.join.protocol, ConnectProtocol::Eager);
    assert_eq!(sa.assignment.version, 0);
    assert_eq!(a.protocol(), Some(ConnectProtocol::Eager));
    a.leave().await.unwrap();
    b.leave().await.unwrap();
}

/// Compatible and sessioned workers settle on "compatible", the best protocol both offer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compatible_and_sessioned_workers_agree_on_compatible() {
    let group = unique_group("compatible");
    let mut a = member(&group, "worker-sessioned", ConnectProtocol::Sessioned);
    let mut b = member(&group, "worker-compatible", ConnectProtocol::Compatible);
    let (meta_a, meta_b) = (metadata(1), metadata(2));
    let done = watch::Sender::new(None);
    let (sa, sb) = tokio::join!(
        settle(&mut a, &meta_a, 2, false, &done),
        settle(&mut b, &meta_b, 2, false, &done),
    );
    check_generation(&[&sa, &sb], &[&meta_a, &meta_b]);
    assert_eq!(sa.join.protocol, ConnectProtocol::Compatible);
    assert_eq!(sb.assignment.version, 1);
    a.leave().await.unwrap();
    b.leave().await.unwrap();
}

/// Interop with a real Kafka Connect distributed worker: a Ferry member joins the group of a
/// Java worker, which (already leading) must decode Ferry's sessioned metadata to assign, and
/// Ferry must decode the Java leader's assignment. Needs a *private* Java worker that is alone
/// in group FERRY_INTEROP_CONNECT_GROUP (joining a shared worker's group would move its work).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a private Kafka Connect worker; set FERRY_INTEROP_CONNECT_GROUP to its group.id"]
async fn joins_the_group_of_a_java_connect_worker() {
    let group = std::env::var("FERRY_INTEROP_CONNECT_GROUP")
        .expect("FERRY_INTEROP_CONNECT_GROUP names the private Java worker's group.id");
    let mut ferry = member(&group, "ferry-interop", ConnectProtocol::Sessioned);
    let meta = WorkerMetadata {
        url: "http://ferry-interop.example:8083/".to_string(),
        config_offset: -1,
        allocation: None,
    };
    // Cooperative rebalancing may take rounds (the leader revokes, then reassigns), so follow
    // the group until a generation has been stable for a few seconds.
    let deadline = Instant::now() + PHASE_DEADLINE;
    let mut meta = meta;
    let (join, assignment) = 'settle: loop {
        assert!(
            Instant::now() < deadline,
            "no stable generation with the Java worker"
        );
        let join = ferry.join(&meta).await.unwrap();
        assert!(
            !join.is_leader(),
            "the Java worker should lead: it joined first"
        );
        let assignment = match ferry.sync(&[]).await {
            Ok(a) => a,
            Err(MembershipError::RebalanceNeeded { .. }) => continue,
            Err(e) => panic!("sync failed: {e}"),
        };
        eprintln!(
            "generation {}: assignment from the Java leader: {assignment:?}",
            join.generation_id
        );
        assert_eq!(join.protocol, ConnectProtocol::Sessioned);
        assert_eq!(assignment.version, 2);
        assert!(!assignment.failed(), "{assignment:?}");
        assert_eq!(assignment.leader, join.leader_id);
        assert!(
            assignment.leader_url.starts_with("http://"),
            "{assignment:?}"
        );
        // What a cooperative worker runs next: the previous assignment minus revocations plus
        // the new one; it is offered back as the allocation on the next join.
        let mut running = meta.allocation.take().unwrap_or_else(|| assignment.clone());
        if running != assignment {
            running
                .connectors
                .retain(|c| !assignment.revoked_connectors.contains(c));
            running
                .tasks
                .retain(|t| !assignment.revoked_tasks.contains(t));
            running
                .connectors
                .extend(assignment.connectors.iter().cloned());
            running.tasks.extend(assignment.tasks.iter().cloned());
            running.revoked_connectors.clear();
            running.revoked_tasks.clear();
        }
        meta.allocation = Some(running);
        for _ in 0..10 {
            match ferry.heartbeat().await.unwrap() {
                HeartbeatOutcome::Ok | HeartbeatOutcome::CoordinatorMoved => {}
                HeartbeatOutcome::RebalanceNeeded(_) => continue 'settle,
            }
            tokio::time::sleep(HEARTBEAT_INTERVAL).await;
        }
        break (join, assignment);
    };
    eprintln!(
        "stable in generation {} led by {}; running {:?}",
        join.generation_id, join.leader_id, meta.allocation
    );
    assert!(!assignment.failed());
    ferry.leave().await.unwrap();
}

/// The other direction: Ferry leads and a Java worker that joins later must decode Ferry's
/// assignment (its log shows "Joined group at generation N with protocol version 2 and got
/// assignment: Assignment{..., leader='ferry-interop-…', leaderUrl='http://ferry-leader.example:8083/'…}").
/// Start this first, then a private Java worker with group.id=FERRY_INTEROP_LEAD_GROUP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a private Kafka Connect worker started meanwhile; set FERRY_INTEROP_LEAD_GROUP"]
async fn leads_a_group_that_a_java_connect_worker_joins() {
    let group = std::env::var("FERRY_INTEROP_LEAD_GROUP")
        .expect("FERRY_INTEROP_LEAD_GROUP names a fresh group for Ferry to lead");
    let mut ferry = member(&group, "ferry-interop", ConnectProtocol::Sessioned);
    let meta = WorkerMetadata {
        url: "http://ferry-leader.example:8083/".to_string(),
        config_offset: -1,
        allocation: None,
    };
    let join = ferry.join(&meta).await.unwrap();
    assert!(join.is_leader() && join.members.len() == 1, "{join:?}");
    let own = Assignment::new(join.protocol, &join.member_id, &meta.url, -1);
    ferry
        .sync(&[(join.member_id.clone(), own.clone())])
        .await
        .unwrap();
    eprintln!("leading group {group}; start the Java worker now");
    heartbeat_until_rebalance(&mut ferry, Duration::from_secs(180)).await;

    let deadline = Instant::now() + PHASE_DEADLINE;
    loop {
        assert!(
            Instant::now() < deadline,
            "no generation with the Java worker"
        );
        let mut meta = meta.clone();
        meta.allocation = Some(own.clone());
        let join = ferry.join(&meta).await.unwrap();
        assert!(join.is_leader(), "Ferry joined first and keeps leading");
        let Some((java_id, java_meta)) = join
            .members
            .iter()
            .find(|(id, _)| *id != join.member_id)
            .cloned()
        else {
            continue;
        };
        eprintln!("the Java worker {java_id} joined with {java_meta:?}");
        assert_eq!(join.protocol, ConnectProtocol::Sessioned);
        assert!(java_meta.url.starts_with("http://"), "{java_meta:?}");
        let offset = join
            .members
            .iter()
            .map(|(_, m)| m.config_offset)
            .max()
            .unwrap();
        let mine = Assignment::new(join.protocol, &join.member_id, &meta.url, offset);
        let theirs = Assignment::new(join.protocol, &join.member_id, &meta.url, offset);
        match ferry
            .sync(&[(join.member_id.clone(), mine), (java_id, theirs)])
            .await
        {
            Ok(_) => break,
            Err(MembershipError::RebalanceNeeded { .. }) => continue,
            Err(e) => panic!("sync failed: {e}"),
        }
    }
    for _ in 0..6 {
        match ferry.heartbeat().await.unwrap() {
            HeartbeatOutcome::Ok => {}
            other => panic!("the Java worker should be content with Ferry's assignment: {other:?}"),
        }
        tokio::time::sleep(HEARTBEAT_INTERVAL).await;
    }
    ferry.leave().await.unwrap();
}
