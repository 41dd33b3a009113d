//! The group leader's assignor: incremental cooperative rebalancing, as Kafka Connect's
//! `IncrementalCooperativeAssignor` does it.
//!
//! - Work a member already runs stays with it (nothing moves without a reason).
//! - Work that no longer exists is revoked from its member.
//! - Work of a member that left is withheld for `scheduled.rebalance.max.delay.ms`, so a
//!   worker that restarts quickly gets its work back instead of it bouncing around; the
//!   members are told to rejoin when the delay is over.
//! - When loads differ by more than one, the overloaded members are asked to revoke their
//!   excess; the revoked work is handed out in the follow-up round, once it has stopped.
//!   So a joining worker takes a fair share without any other task stopping.
//! - New and orphaned work goes to the least-loaded members.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::protocol::{Assignment, ConnectProtocol, TaskRef};

/// One unit of work: a connector instance or a task.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Item {
    Connector(String),
    Task(TaskRef),
}

impl Item {
    fn is_connector(&self) -> bool {
        matches!(self, Item::Connector(_))
    }
}

/// A member of the current generation as its JoinGroup metadata describes it.
#[derive(Debug, Clone)]
pub struct Member {
    pub member_id: String,
    /// What the member runs now (its previous assignment).
    pub allocation: Option<Assignment>,
}

/// What the config log says should run.
#[derive(Debug, Clone, Default)]
pub struct Desired {
    pub connectors: BTreeSet<String>,
    pub tasks: BTreeSet<TaskRef>,
}

/// What the leader remembers between rounds.
#[derive(Debug, Default)]
pub struct AssignorState {
    /// Who ran each item after the previous round.
    previous: BTreeMap<Item, String>,
    /// When withheld work of departed members is handed out.
    lost_deadline: Option<Instant>,
}

/// The fixed inputs of a round.
#[derive(Debug, Clone)]
pub struct RoundInfo {
    pub protocol: ConnectProtocol,
    pub leader_id: String,
    pub leader_url: String,
    pub config_offset: i64,
    /// `scheduled.rebalance.max.delay.ms`.
    pub max_delay: Duration,
}

impl AssignorState {
    /// Computes every member's assignment for this round.
    pub fn assign(
        &mut self,
        members: &[Member],
        desired: &Desired,
        round: &RoundInfo,
        now: Instant,
    ) -> BTreeMap<String, Assignment> {
        let wanted: BTreeSet<Item> = desired
            .connectors
            .iter()
            .cloned()
            .map(Item::Connector)
            .chain(desired.tasks.iter().cloned().map(Item::Task))
            .collect();
        let member_ids: BTreeSet<&str> = members.iter().map(|m| m.member_id.as_str()).collect();

        // 1. What each member keeps, and what it must give up because it no longer exists
        //    or another member claimed it first.
        let mut kept: BTreeMap<String, BTreeSet<Item>> = BTreeMap::new();
        let mut revoked: BTreeMap<String, BTreeSet<Item>> = BTreeMap::new();
        let mut owner: BTreeMap<Item, String> = BTreeMap::new();
        for m in members {
            kept.entry(m.member_id.clone()).or_default();
            revoked.entry(m.member_id.clone()).or_default();
            let Some(a) = &m.allocation else { continue };
            let claims = a
                .connectors
                .iter()
                .cloned()
                .map(Item::Connector)
                .chain(a.tasks.iter().cloned().map(Item::Task));
            for item in claims {
                if wanted.contains(&item) && !owner.contains_key(&item) {
                    owner.insert(item.clone(), m.member_id.clone());
                    kept.entry(m.member_id.clone()).or_default().insert(item);
                } else {
                    revoked.entry(m.member_id.clone()).or_default().insert(item);
                }
            }
        }

        // 2. Work of members that left: withheld until the delay is over.
        let lost: BTreeSet<Item> = self
            .previous
            .iter()
            .filter(|(item, who)| {
                !member_ids.contains(who.as_str())
                    && wanted.contains(*item)
                    && !owner.contains_key(*item)
            })
            .map(|(item, _)| item.clone())
            .collect();
        let mut delay = Duration::ZERO;
        let withheld: BTreeSet<Item> = if lost.is_empty() || round.max_delay.is_zero() {
            self.lost_deadline = None;
            BTreeSet::new()
        } else {
            let deadline = *self.lost_deadline.get_or_insert(now + round.max_delay);
            if now < deadline {
                delay = deadline - now;
                lost.clone()
            } else {
                self.lost_deadline = None;
                BTreeSet::new()
            }
        };

        // 3. Balance connectors and tasks separately.
        let mut unassigned: BTreeSet<Item> = wanted
            .iter()
            .filter(|i| !owner.contains_key(*i) && !withheld.contains(*i))
            .cloned()
            .collect();
        let mut added: BTreeMap<String, BTreeSet<Item>> = BTreeMap::new();
        for connectors in [true, false] {
            balance(
                &mut kept,
                &mut revoked,
                &mut added,
                &mut unassigned,
                withheld
                    .iter()
                    .filter(|i| i.is_connector() == connectors)
                    .count(),
                connectors,
            );
        }

        // 4. Remember who runs what; withheld work stays with its departed owner.
        let mut previous: BTreeMap<Item, String> = BTreeMap::new();
        for (m, items) in kept.iter().chain(added.iter()) {
            for item in items {
                previous.insert(item.clone(), m.clone());
            }
        }
        for item in &withheld {
            if let Some(who) = self.previous.get(item) {
                previous.insert(item.clone(), who.clone());
            }
        }
        self.previous = previous;

        let delay_ms = i32::try_from(delay.as_millis()).unwrap_or(i32::MAX);
        members
            .iter()
            .map(|m| {
                let mut a = Assignment::new(
                    round.protocol,
                    round.leader_id.clone(),
                    round.leader_url.clone(),
                    round.config_offset,
                );
                let running = kept
                    .get(&m.member_id)
                    .into_iter()
                    .flatten()
                    .chain(added.get(&m.member_id).into_iter().flatten());
                for item in running {
                    match item {
                        Item::Connector(c) => a.connectors.push(c.clone()),
                        Item::Task(t) => a.tasks.push(t.clone()),
                    }
                }
                for item in revoked.get(&m.member_id).into_iter().flatten() {
                    match item {
                        Item::Connector(c) => a.revoked_connectors.push(c.clone()),
                        Item::Task(t) => a.revoked_tasks.push(t.clone()),
                    }
                }
                a.connectors.sort();
                a.tasks.sort();
                a.delay_ms = delay_ms;
                (m.member_id.clone(), a)
            })
            .collect()
    }
}

/// Evens out one kind of work (connectors or tasks): members above their fair share revoke
/// the excess (handed out next round); unassigned work fills members below their share.
fn balance(
    kept: &mut BTreeMap<String, BTreeSet<Item>>,
    revoked: &mut BTreeMap<String, BTreeSet<Item>>,
    added: &mut BTreeMap<String, BTreeSet<Item>>,
    unassigned: &mut BTreeSet<Item>,
    withheld: usize,
    connectors: bool,
) {
    let n = kept.len();
    if n == 0 {
        return;
    }
    let load = |m: &BTreeSet<Item>| m.iter().filter(|i| i.is_connector() == connectors).count();
    let free: Vec<Item> = unassigned
        .iter()
        .filter(|i| i.is_connector() == connectors)
        .cloned()
        .collect();
    let total: usize = kept.values().map(load).sum::<usize>() + free.len() + withheld;
    let (floor, extra) = (total / n, total % n);
    // The most loaded members get the `floor + 1` shares, so as little as possible moves.
    let mut order: Vec<(String, usize)> = kept
        .iter()
        .map(|(m, items)| (m.clone(), load(items)))
        .collect();
    order.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let targets: BTreeMap<String, usize> = order
        .iter()
        .enumerate()
        .map(|(i, (m, _))| (m.clone(), floor + usize::from(i < extra)))
        .collect();
    let spread = order.first().map_or(0, |f| f.1) - order.last().map_or(0, |l| l.1);
    if spread > 1 || !free.is_empty() {
        for (m, target) in &targets {
            let Some(items) = kept.get_mut(m) else {
                continue;
            };
            let mine: Vec<Item> = items
                .iter()
                .filter(|i| i.is_connector() == connectors)
                .cloned()
                .collect();
            if mine.len() > *target && spread > 1 {
                for item in mine.iter().rev().take(mine.len() - target) {
                    items.remove(item);
                    revoked.entry(m.clone()).or_default().insert(item.clone());
                }
            }
        }
    }
    for item in free {
        let have = |m: &String| kept.get(m).map_or(0, load) + added.get(m).map_or(0, load);
        let least = targets
            .iter()
            .filter(|(m, target)| have(m) < **target)
            .min_by(|a, b| have(a.0).cmp(&have(b.0)).then(a.0.cmp(b.0)))
            .map(|(m, _)| m.clone())
            // Everyone is at target (work was withheld): fall back to the least loaded.
            .or_else(|| kept.keys().min_by_key(|m| have(m)).cloned());
        if let Some(m) = least {
            unassigned.remove(&item);
            added.entry(m).or_default().insert(item);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn round(delay_ms: u64) -> RoundInfo {
        RoundInfo {
            protocol: ConnectProtocol::Sessioned,
            leader_id: "m1".into(),
            leader_url: "http://w1:8083".into(),
            config_offset: 7,
            max_delay: Duration::from_millis(delay_ms),
        }
    }

    fn desired(connectors: &[(&str, u32)]) -> Desired {
        let mut d = Desired::default();
        for (c, n) in connectors {
            d.connectors.insert((*c).to_owned());
            for t in 0..*n {
                d.tasks.insert(TaskRef::new(*c, t));
            }
        }
        d
    }

    fn member(id: &str, allocation: Option<&Assignment>) -> Member {
        Member {
            member_id: id.into(),
            allocation: allocation.cloned(),
        }
    }

    fn loads(a: &BTreeMap<String, Assignment>) -> Vec<(usize, usize)> {
        a.values()
            .map(|a| (a.connectors.len(), a.tasks.len()))
            .collect()
    }

    #[test]
    fn first_round_spreads_everything() {
        let mut s = AssignorState::default();
        let d = desired(&[("a", 3), ("b", 3)]);
        let out = s.assign(
            &[member("m1", None), member("m2", None)],
            &d,
            &round(0),
            Instant::now(),
        );
        assert_eq!(loads(&out), vec![(1, 3), (1, 3)]);
        let all: BTreeSet<TaskRef> = out.values().flat_map(|a| a.tasks.clone()).collect();
        assert_eq!(all, d.tasks);
        assert!(
            out.values()
                .all(|a| a.revoked_tasks.is_empty() && a.delay_ms == 0)
        );
        assert_eq!(out["m1"].leader_url, "http://w1:8083");
        assert_eq!(out["m1"].config_offset, 7);
    }

    #[test]
    fn a_joining_member_gets_a_share_in_two_rounds_without_other_tasks_stopping() {
        let mut s = AssignorState::default();
        let d = desired(&[("a", 10), ("b", 10), ("c", 10)]);
        let now = Instant::now();
        let r1 = s.assign(
            &[member("m1", None), member("m2", None), member("m3", None)],
            &d,
            &round(0),
            now,
        );
        assert_eq!(loads(&r1), vec![(1, 10), (1, 10), (1, 10)]);
        // m4 joins: the others keep what they have except a revoked excess.
        let members = [
            member("m1", Some(&r1["m1"])),
            member("m2", Some(&r1["m2"])),
            member("m3", Some(&r1["m3"])),
            member("m4", None),
        ];
        let r2 = s.assign(&members, &d, &round(0), now);
        let revoked: usize = r2.values().map(|a| a.revoked_tasks.len()).sum();
        assert!(revoked > 0);
        for m in ["m1", "m2", "m3"] {
            let before: BTreeSet<_> = r1[m].tasks.iter().collect();
            let after: BTreeSet<_> = r2[m].tasks.iter().collect();
            let revoked: BTreeSet<_> = r2[m].revoked_tasks.iter().collect();
            assert!(after.is_subset(&before), "{m} only keeps or revokes");
            assert_eq!(
                &after | &revoked,
                before,
                "{m} keeps everything it does not revoke"
            );
        }
        // Follow-up round after the revoked tasks stopped: m4 gets them.
        let members: Vec<Member> = ["m1", "m2", "m3", "m4"]
            .iter()
            .map(|m| member(m, Some(&r2[*m])))
            .collect();
        let r3 = s.assign(&members, &d, &round(0), now);
        let mut task_loads: Vec<usize> = r3.values().map(|a| a.tasks.len()).collect();
        task_loads.sort();
        assert_eq!(task_loads, vec![7, 7, 8, 8]);
        let all: BTreeSet<TaskRef> = r3.values().flat_map(|a| a.tasks.clone()).collect();
        assert_eq!(all, d.tasks);
        assert!(r3.values().all(|a| a.revoked_tasks.is_empty()));
    }

    #[test]
    fn departed_members_work_waits_for_the_delay_then_moves() {
        let mut s = AssignorState::default();
        let d = desired(&[("a", 4)]);
        let t0 = Instant::now();
        let r1 = s.assign(
            &[member("m1", None), member("m2", None)],
            &d,
            &round(10_000),
            t0,
        );
        // m2 is gone: its work is withheld and everyone is told when to come back.
        let r2 = s.assign(
            &[member("m1", Some(&r1["m1"]))],
            &d,
            &round(10_000),
            t0 + Duration::from_secs(1),
        );
        assert_eq!(r2["m1"].tasks, r1["m1"].tasks);
        assert_eq!(r2["m1"].delay_ms, 10_000);
        // Rejoining early changes nothing but the remaining delay.
        let r2b = s.assign(
            &[member("m1", Some(&r2["m1"]))],
            &d,
            &round(10_000),
            t0 + Duration::from_secs(5),
        );
        assert_eq!(r2b["m1"].tasks, r1["m1"].tasks);
        assert_eq!(r2b["m1"].delay_ms, 6_000);
        // After the delay, m1 takes everything.
        let r3 = s.assign(
            &[member("m1", Some(&r2b["m1"]))],
            &d,
            &round(10_000),
            t0 + Duration::from_secs(11),
        );
        assert_eq!(r3["m1"].tasks.len(), 4);
        assert_eq!(r3["m1"].connectors, vec!["a".to_owned()]);
        assert_eq!(r3["m1"].delay_ms, 0);
    }

    #[test]
    fn with_no_delay_lost_work_moves_at_once_and_deleted_work_is_revoked() {
        let mut s = AssignorState::default();
        let t0 = Instant::now();
        let r1 = s.assign(
            &[member("m1", None), member("m2", None)],
            &desired(&[("a", 2), ("b", 2)]),
            &round(0),
            t0,
        );
        let r2 = s.assign(
            &[member("m1", Some(&r1["m1"]))],
            &desired(&[("a", 2), ("b", 2)]),
            &round(0),
            t0,
        );
        assert_eq!(loads(&r2), vec![(2, 4)]);
        // Connector b deleted: m1 revokes it and its tasks.
        let r3 = s.assign(
            &[member("m1", Some(&r2["m1"]))],
            &desired(&[("a", 2)]),
            &round(0),
            t0,
        );
        assert_eq!(r3["m1"].revoked_connectors, vec!["b".to_owned()]);
        assert_eq!(
            r3["m1"].revoked_tasks,
            vec![TaskRef::new("b", 0), TaskRef::new("b", 1)]
        );
        assert_eq!(
            r3["m1"].tasks,
            vec![TaskRef::new("a", 0), TaskRef::new("a", 1)]
        );
    }

    #[test]
    fn a_task_claimed_twice_stays_with_one_member() {
        let mut s = AssignorState::default();
        let d = desired(&[("a", 1)]);
        let mut both = Assignment::new(ConnectProtocol::Sessioned, "m1", "u", 0);
        both.tasks = vec![TaskRef::new("a", 0)];
        let out = s.assign(
            &[member("m1", Some(&both)), member("m2", Some(&both))],
            &d,
            &round(0),
            Instant::now(),
        );
        assert_eq!(out["m1"].tasks, vec![TaskRef::new("a", 0)]);
        assert_eq!(out["m2"].revoked_tasks, vec![TaskRef::new("a", 0)]);
    }
}
