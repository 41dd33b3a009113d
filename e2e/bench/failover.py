#!/usr/bin/env python3
"""Distributed mode: failover after a SIGKILL, and a joining worker taking its share.

Measures, against the broker of `e2e/services up kafka`, with release-built ferry workers:
  (b) a fourth worker joining three that run 30 tasks (3 FileStreamSink connectors x 10
      tasks): the time until it runs its share (every worker 7 or 8 tasks, all RUNNING),
      and whether any task that did not move to it was stopped (from the workers' logs:
      "task stopped" / "starting task" lines);
  (a) SIGKILL of a worker: the time until every connector and task it ran is RUNNING on
      the others, with scheduled.rebalance.max.delay.ms=0 (killing followers and the
      leader in turn, restarting the killed worker in between), and - only with
      --with-default-delay - with the default delay (300000 ms), killing a follower.

Workers use session.timeout.ms/heartbeat.interval.ms of --session-timeout-ms (6000) and
--heartbeat-interval-ms (1000), as the distributed tests do; the kill is noticed only
when the session times out, so that bounds failover from below.

Usage: e2e/bench/failover.py [--kills N] [--with-default-delay] [--ferry PATH] [--keep]
The ferry binary defaults to a release build under the cargo target dir.
"""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONNECTORS = 3
TASKS_PER_CONNECTOR = 10
ANSI = re.compile(r"\x1b\[[0-9;]*m")
JOINED = re.compile(r"joined group generation=(\d+) leader=(\S+)")


def bootstrap():
    bs = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bs:
        sys.exit("KAFKA_BOOTSTRAP_SERVERS is not set: eval \"$(e2e/services env)\" first")
    return bs


def wait(what, cond, timeout=120, every=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(every)
    sys.exit(f"timed out after {timeout} s waiting for {what}")


def http(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, r.read()


def get_json(url):
    try:
        status, body = http("GET", url)
    except (OSError, urllib.error.HTTPError):
        return None
    return json.loads(body) if status == 200 else None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Worker:
    """A `ferry distributed` process; restartable on the same port with the same settings."""

    def __init__(self, ferry, work, group, bs, delay_ms, session_ms, heartbeat_ms):
        self.ferry = ferry
        self.work = work
        self.port = free_port()
        self.id = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.id}"
        self.props = os.path.join(work, f"worker-{self.port}.properties")
        self.runs = 0
        self.proc = None
        self.log = None
        lines = [
            f"bootstrap.servers={bs}",
            f"group.id={group}",
            f"config.storage.topic={group}-configs",
            f"offset.storage.topic={group}-offsets",
            f"status.storage.topic={group}-status",
            "config.storage.replication.factor=1",
            "offset.storage.replication.factor=1",
            "status.storage.replication.factor=1",
            "key.converter=org.apache.kafka.connect.json.JsonConverter",
            "value.converter=org.apache.kafka.connect.json.JsonConverter",
            "key.converter.schemas.enable=false",
            "value.converter.schemas.enable=false",
            f"session.timeout.ms={session_ms}",
            f"heartbeat.interval.ms={heartbeat_ms}",
            # Sink consumers leave their groups as quickly as workers do.
            f"consumer.session.timeout.ms={session_ms}",
            f"consumer.heartbeat.interval.ms={heartbeat_ms}",
            f"listeners=http://127.0.0.1:{self.port}",
        ]
        if delay_ms is not None:
            lines.append(f"scheduled.rebalance.max.delay.ms={delay_ms}")
        with open(self.props, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self):
        self.runs += 1
        self.log = os.path.join(self.work, f"worker-{self.port}-{self.runs}.log")
        self.proc = subprocess.Popen([self.ferry, "distributed", self.props],
                                     stdout=subprocess.DEVNULL, stderr=open(self.log, "w"),
                                     env={**os.environ, "FERRY_LOG": "info"})
        self.started = time.monotonic()

        def ready():
            if self.proc.poll() is not None:
                sys.exit(f"ferry exited with {self.proc.returncode}; see {self.log}")
            return get_json(self.url + "/") is not None
        wait(f"{self.url} to answer", ready, timeout=60, every=0.01)
        return self

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill9()

    def log_lines(self, skip=0):
        try:
            with open(self.log, errors="replace") as f:
                lines = [ANSI.sub("", l) for l in f]
        except FileNotFoundError:
            return []
        return lines[skip:]

    def leader(self):
        """The leader URL of this worker's latest generation, from its log."""
        found = None
        for line in self.log_lines():
            m = JOINED.search(line)
            if m:
                found = m.group(2)
        return found


# Connector names of the current cluster, which no other run uses: a sink's consumer group is
# named after its connector, and consumers of killed workers stay in their group until their
# session times out.
NAMES = []


def names():
    return NAMES


def placement(worker):
    """{connector name or task id ("name-N"): (state, worker id)}; None while any status is
    missing."""
    out = {}
    for name in names():
        s = get_json(f"{worker.url}/connectors/{name}/status")
        if not s or len(s.get("tasks", [])) != TASKS_PER_CONNECTOR:
            return None
        out[name] = (s["connector"]["state"], s["connector"]["worker_id"])
        for t in s["tasks"]:
            out[f"{name}-{t['id']}"] = (t["state"], t["worker_id"])
    return out


def task_ids():
    return {f"{n}-{i}" for n in names() for i in range(TASKS_PER_CONNECTOR)}


def tasks_per_worker(p, workers):
    tasks = task_ids()
    return {w.id: sum(1 for k, (_, o) in p.items() if k in tasks and o == w.id) for w in workers}


def balanced(workers, observer):
    """The placement once everything runs and every worker has its share of tasks."""
    p = placement(observer)
    if not p or any(state != "RUNNING" for state, _ in p.values()):
        return None
    counts = tasks_per_worker(p, workers)
    total = CONNECTORS * TASKS_PER_CONNECTOR
    lo, hi = total // len(workers), -(-total // len(workers))
    return p if all(lo <= c <= hi for c in counts.values()) else None


def events(worker, skip):
    """Tasks stopped and started in the log lines after the first `skip`."""
    stopped, started = [], []
    for line in worker.log_lines(skip):
        m = re.search(r"task stopped task=(\S+)", line)
        if m:
            stopped.append(m.group(1))
        m = re.search(r"starting task task=(\S+)", line)
        if m:
            started.append(m.group(1))
    return stopped, started


def cluster(args, work, bs, group, n, delay_ms):
    NAMES[:] = [f"{group}-sink-{i}" for i in range(CONNECTORS)]
    workers = [Worker(args.ferry, work, group, bs, delay_ms, args.session_timeout_ms,
                      args.heartbeat_interval_ms) for _ in range(n)]
    for w in workers:
        w.start()
    for i, name in enumerate(names()):
        topic = f"{group}-topic-{i}"
        # One record creates the topic (auto-creation), so the sink subscribes to a real one.
        subprocess.run(["kcat", "-P", "-b", bs, "-t", topic], input=b'"hello"\n', check=True)
        http("POST", workers[0].url + "/connectors", {"name": name, "config": {
            "connector.class": "FileStreamSink", "tasks.max": str(TASKS_PER_CONNECTOR),
            "file": os.path.join(work, f"{name}.txt"), "topics": topic}})
    wait("30 tasks RUNNING, evenly spread", lambda: balanced(workers, workers[0]), timeout=120)
    return workers


def failover(workers, victim, timeout):
    """Kills `victim`; returns seconds until everything it ran is RUNNING elsewhere."""
    survivor = next(w for w in workers if w is not victim)
    before = placement(survivor)
    mine = sorted(k for k, (_, o) in before.items() if o == victim.id)
    t0 = time.monotonic()
    victim.kill9()

    def moved():
        p = placement(survivor)
        return p and all(p[k][0] == "RUNNING" and p[k][1] != victim.id for k in mine)
    wait(f"the work of {victim.id} to run elsewhere", moved, timeout=timeout, every=0.05)
    return time.monotonic() - t0, len(mine)


def join_fourth(args, work, bs, group, workers):
    """(b): starts a fourth worker; returns (the worker, seconds to its share from process
    start, the same from REST-ready, moved tasks, unaffected tasks stopped or restarted,
    report lines)."""
    before = balanced(workers, workers[0])
    marks = {w.id: len(w.log_lines()) for w in workers}
    new = Worker(args.ferry, work, group, bs, 0, args.session_timeout_ms,
                 args.heartbeat_interval_ms)
    t0 = time.monotonic()
    new.start()
    ready = time.monotonic()
    everyone = workers + [new]
    after = wait("the fourth worker's share", lambda: balanced(everyone, new), timeout=120)
    done = time.monotonic()
    # Watch a little longer for late stops (another rebalance round would show here).
    time.sleep(2 * args.heartbeat_interval_ms / 1000 + 1)
    after = balanced(everyone, new) or after
    moved = sorted(k for k in task_ids() if after[k][1] != before[k][1])
    to_new = [k for k in moved if after[k][1] == new.id]
    bad = []
    lines = []
    for w in workers:
        stopped, started = events(w, marks[w.id])
        lines.append(f"    {w.id}: tasks stopped {len(stopped)}, started {len(started)}")
        # Only tasks that moved away from this worker may stop here, once; none may start.
        away = {k for k in moved if before[k][1] == w.id}
        bad += [f"{t} stopped on {w.id}" for t in set(stopped) if t not in away]
        bad += [f"{t} stopped {stopped.count(t)}x on {w.id}" for t in set(stopped)
                if stopped.count(t) > 1]
        bad += [f"{t} started on {w.id}" for t in set(started)]
    counts = tasks_per_worker(after, everyone)
    lines.insert(0, f"    tasks per worker after: {sorted(counts.values())}; moved: {len(moved)} "
                    f"(to the new worker: {len(to_new)})")
    return new, done - t0, done - ready, moved, bad, lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ferry", default=None)
    ap.add_argument("--kills", type=int, default=4,
                    help="SIGKILLs with delay 0 (alternating followers and the leader)")
    ap.add_argument("--with-default-delay", action="store_true",
                    help="also measure failover with scheduled.rebalance.max.delay.ms at its "
                         "default (takes over 5 minutes)")
    ap.add_argument("--session-timeout-ms", type=int, default=6000)
    ap.add_argument("--heartbeat-interval-ms", type=int, default=1000)
    ap.add_argument("--keep", action="store_true", help="keep the work dir (logs)")
    args = ap.parse_args()
    bs = bootstrap()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    args.ferry = args.ferry or os.path.join(target, "release", "ferry")
    if not os.path.exists(args.ferry):
        sys.exit(f"{args.ferry} not found: build it with `cargo build --release -p ferry-runtime`")
    work = tempfile.mkdtemp(prefix="ferry-failover-")
    stamp = str(int(time.time() * 1000))
    all_workers = []
    out = []
    try:
        # (b) then (a) with delay 0.
        group = f"bench-failover-{stamp}"
        workers = cluster(args, work, bs, group, 3, 0)
        all_workers += workers
        new, share_s, share_ready_s, moved, bad, lines = join_fourth(args, work, bs, group, workers)
        workers.append(new)
        all_workers.append(new)
        out.append(f"(b) fourth worker joins 3 workers running {CONNECTORS * TASKS_PER_CONNECTOR} tasks:")
        out.append(f"    time to its share: {share_s:.2f} s from process start "
                   f"({share_ready_s:.2f} s from REST-ready)")
        out += lines
        out.append(f"    unaffected tasks stopped or restarted: {len(bad)} (target: none)"
               + (f" {sorted(bad)}" if bad else ""))

        results = []
        for i in range(args.kills):
            leader_url = workers[0].leader()
            kill_leader = i % 2 == 1
            victim = next(w for w in workers if (w.url == leader_url) == kill_leader)
            secs, n = failover(workers, victim, timeout=120)
            results.append((secs, n, "leader" if kill_leader else "follower"))
            victim.start()
            wait("the restarted worker's share", lambda: balanced(workers, victim), timeout=120)
        out.append(f"(a) SIGKILL to all of the worker's work RUNNING elsewhere, "
                   f"scheduled.rebalance.max.delay.ms=0, session.timeout.ms={args.session_timeout_ms}:")
        for secs, n, kind in results:
            out.append(f"    {kind:8} ({n:2} connectors+tasks): {secs:6.2f} s  (target < 10 s)")
        if results:
            out.append(f"    max {max(r[0] for r in results):.2f} s")
        for w in workers:
            w.stop()

        if args.with_default_delay:
            group = f"bench-failover-delay-{stamp}"
            workers = cluster(args, work, bs, group, 3, None)
            all_workers += workers
            leader_url = workers[0].leader()
            victim = next(w for w in workers if w.url != leader_url)
            secs, n = failover(workers, victim, timeout=300 + 120)
            out.append(f"(a) same with scheduled.rebalance.max.delay.ms=300000 (default), follower "
                       f"killed: {secs:.1f} s for {n} connectors+tasks "
                       f"(expected ~300 s + session timeout)")
        else:
            out.append("(a) with scheduled.rebalance.max.delay.ms=300000 (default): not measured "
                       "(takes > 5 min; pass --with-default-delay)")
    finally:
        for w in all_workers:
            w.stop()
        if args.keep:
            print(f"work dir kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("\n".join(out))


if __name__ == "__main__":
    main()
