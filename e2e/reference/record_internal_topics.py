#!/usr/bin/env python3
"""Record what Apache Kafka Connect 4.3.1 writes to its internal topics.

Starts the reference distributed worker (``e2e/services up
kafka-connect-distributed``) on fresh internal topics, drives it through the
REST API so that it writes every kind of record it has (connector and task
configs, commits, target states incl. STOPPED, restart requests, a cluster
logger level, source offsets incl. tombstones, connector/task/topic statuses
incl. a FAILED task, deletions), then captures the three topics with kcat into
``internal-topics/``:

    config.jsonl, offsets.jsonl, status.jsonl
        one record per line, in partition/offset order:
        {"partition": P, "offset": O, "key": "...", "value": "..." | null}
        (key and value are the exact bytes as text; null = tombstone)
    actions.json
        the actions in order, each with the config topic's end offset once
        the action had taken effect, so a test can replay a prefix of the log
        and check the state Connect was in at that point.
    topics.json
        the partition count Connect gave each topic.

With --exactly-once the worker runs with exactly.once.source.support=enabled
and the fixtures go to ``internal-topics-eos/``: the config topic is then
written in transactions (records are read committed, as Connect does) and has
``tasks-fencing-NAME`` records.

Names that end up in record keys are fixed (connector names, the data topic,
the source file /tmp/ferry-ref-internal/source.txt), so the recorded
partitions are the ones the keys hash to. Only the worker's REST port in
status values is normalised to 8083. The worker is stopped at the end (its
next plain `up` uses the default topics again).

Usage:
    python3 e2e/reference/record_internal_topics.py [--out DIR]

Stdlib only; every wait is a bounded poll.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SERVICES = os.path.join(REPO, "e2e", "services")
SERVICE = "kafka-connect-distributed"

DATA_TOPIC = "ferry-ref-internal-data"
WORK_DIR = "/tmp/ferry-ref-internal"
SOURCE_FILE = os.path.join(WORK_DIR, "source.txt")
SINK_FILE = os.path.join(WORK_DIR, "sink.txt")

SOURCE = "ref-source"
SINK = "ref-sink"
FAILING = "ref-failing"
PAUSED = "ref-paused"
STOPPED = "ref-stopped"


def die(msg):
    print(f"record_internal_topics.py: error: {msg}", file=sys.stderr)
    sys.exit(1)


def services(*args, env=None):
    return subprocess.run([SERVICES, *args], check=True, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, env=env).stdout


def start_worker(run_id, exactly_once):
    """(Re)starts the distributed worker on fresh topics; returns its env."""
    env = dict(os.environ)
    env.update({
        "KAFKA_CONNECT_DISTRIBUTED_EXACTLY_ONCE": "enabled" if exactly_once else "disabled",
        "KAFKA_CONNECT_DISTRIBUTED_GROUP_ID": f"ferry-ref-internal-{run_id}",
        "KAFKA_CONNECT_DISTRIBUTED_CONFIG_TOPIC": f"ferry-ref-internal-configs-{run_id}",
        "KAFKA_CONNECT_DISTRIBUTED_OFFSET_TOPIC": f"ferry-ref-internal-offsets-{run_id}",
        "KAFKA_CONNECT_DISTRIBUTED_STATUS_TOPIC": f"ferry-ref-internal-status-{run_id}",
    })
    subprocess.run([SERVICES, "down", SERVICE], check=True, stdin=subprocess.DEVNULL)
    subprocess.run([SERVICES, "up", SERVICE], check=True, stdin=subprocess.DEVNULL, env=env)
    out = services("env")
    found = dict(re.findall(r"^export (\w+)=(\S+)$", out, re.M))
    for k in ("KAFKA_CONNECT_DISTRIBUTED_URL", "KAFKA_BOOTSTRAP_SERVERS"):
        if k not in found:
            die(f"e2e/services env printed no {k}")
    if found["KAFKA_CONNECT_DISTRIBUTED_CONFIG_TOPIC"] != env["KAFKA_CONNECT_DISTRIBUTED_CONFIG_TOPIC"]:
        die("the worker did not pick up the fresh topic names")
    return found


class Driver:
    def __init__(self, base, bootstrap, topics):
        self.base = base.rstrip("/")
        self.bootstrap = bootstrap
        self.topics = topics   # {"config": name, "offsets": name, "status": name}
        self.actions = []

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                status, text = resp.status, resp.read().decode()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read().decode()
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return status, parsed

    def must(self, method, path, body=None, ok=(200, 201, 202, 204)):
        # A distributed worker answers 409 while it rebalances; try again then.
        deadline = time.monotonic() + 60
        while True:
            status, parsed = self.call(method, path, body)
            if status in ok:
                return parsed
            if status != 409 or time.monotonic() >= deadline:
                die(f"{method} {path} -> {status}: {parsed}")
            time.sleep(0.5)

    def wait(self, what, pred, timeout=90, interval=0.25):
        deadline = time.monotonic() + timeout
        last = None
        while True:
            try:
                last = pred()
                if last:
                    return last
            except (urllib.error.URLError, OSError, KeyError, TypeError, IndexError) as e:
                last = e
            if time.monotonic() >= deadline:
                die(f"timed out after {timeout} s waiting for {what} (last: {last!r})")
            time.sleep(interval)

    def wait_state(self, name, connector_state, task_state="RUNNING", ntasks=1):
        def ok():
            s, st = self.call("GET", f"/connectors/{name}/status")
            if s != 200 or st["connector"]["state"] != connector_state:
                return False
            tasks = st.get("tasks", [])
            if ntasks is None:
                return True
            if ntasks == 0:
                return len(tasks) == 0
            return len(tasks) == ntasks and all(t["state"] == task_state for t in tasks)
        self.wait(f"{name} to be {connector_state}/{task_state}", ok)

    def end_offset(self, topic, partition=0):
        out = subprocess.run(["kcat", "-b", self.bootstrap, "-Q", "-t", f"{topic}:{partition}:-1"],
                             check=True, capture_output=True, text=True).stdout
        m = re.search(r"offset (-?\d+)", out)
        if not m:
            die(f"kcat -Q printed no offset for {topic}:{partition}: {out!r}")
        return int(m.group(1))

    def mark(self, action, **details):
        """Records that ACTION took effect, with the config log's end offset."""
        entry = {"action": action, **details,
                 "config_end_offset": self.end_offset(self.topics["config"])}
        self.actions.append(entry)
        print(f"  {action} (config log end {entry['config_end_offset']})", file=sys.stderr)


def run(d):
    os.makedirs(WORK_DIR, exist_ok=True)
    with open(SOURCE_FILE, "w") as f:
        f.write("".join(f"line {i}\n" for i in range(5)))
    source_cfg = {
        "connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector",
        "tasks.max": "1",
        "file": SOURCE_FILE,
        "topic": DATA_TOPIC,
    }
    sink_cfg = {
        "connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
        "tasks.max": "1",
        "file": SINK_FILE,
        "topics": DATA_TOPIC,
    }
    # The sink task cannot open a file in a directory that does not exist: FAILED.
    failing_cfg = dict(sink_cfg, file="/nonexistent-ferry-dir/sink.txt")

    d.wait("the session key", lambda: d.end_offset(d.topics["config"]) >= 1)
    d.mark("start")

    d.must("POST", "/connectors", {"name": SOURCE, "config": source_cfg})
    d.wait_state(SOURCE, "RUNNING")
    d.mark("create", connector=SOURCE, config=source_cfg)

    d.must("POST", "/connectors", {"name": SINK, "config": sink_cfg})
    d.wait_state(SINK, "RUNNING")
    d.wait("records to reach the sink file",
           lambda: os.path.exists(SINK_FILE) and open(SINK_FILE).read().count("line") >= 5)
    d.mark("create", connector=SINK, config=sink_cfg)

    d.wait("source offsets to be flushed",
           lambda: d.call("GET", f"/connectors/{SOURCE}/offsets")[1]["offsets"])
    d.wait("source topic to be tracked",
           lambda: d.call("GET", f"/connectors/{SOURCE}/topics")[1][SOURCE]["topics"])
    d.mark("offsets-flushed", connector=SOURCE)

    d.must("PUT", f"/connectors/{SOURCE}/pause")
    d.wait_state(SOURCE, "PAUSED", task_state="PAUSED")
    d.mark("pause", connector=SOURCE)

    d.must("PUT", f"/connectors/{SOURCE}/resume")
    d.wait_state(SOURCE, "RUNNING")
    d.mark("resume", connector=SOURCE)

    d.must("PUT", f"/connectors/{SOURCE}/stop")
    d.wait_state(SOURCE, "STOPPED", ntasks=0)
    d.mark("stop", connector=SOURCE)

    part = {"filename": SOURCE_FILE}
    d.must("PATCH", f"/connectors/{SOURCE}/offsets",
           {"offsets": [{"partition": part, "offset": {"position": 3}}]})
    d.mark("patch-offsets", connector=SOURCE, partition=part, offset={"position": 3})
    d.must("PATCH", f"/connectors/{SOURCE}/offsets",
           {"offsets": [{"partition": part, "offset": None}]})
    d.mark("patch-offsets", connector=SOURCE, partition=part, offset=None)
    d.must("PATCH", f"/connectors/{SOURCE}/offsets",
           {"offsets": [{"partition": part, "offset": {"position": 7}}]})
    d.mark("patch-offsets", connector=SOURCE, partition=part, offset={"position": 7})

    d.must("PUT", f"/connectors/{SOURCE}/topics/reset")
    d.wait("source topics to be reset",
           lambda: d.call("GET", f"/connectors/{SOURCE}/topics")[1][SOURCE]["topics"] == [])
    d.mark("reset-topics", connector=SOURCE)

    d.must("PUT", f"/connectors/{SOURCE}/resume")
    d.wait_state(SOURCE, "RUNNING")
    d.mark("resume", connector=SOURCE)

    d.must("POST", "/connectors", {"name": FAILING, "config": failing_cfg})
    d.wait_state(FAILING, "RUNNING", task_state="FAILED")
    d.mark("create", connector=FAILING, config=failing_cfg)

    d.must("POST", f"/connectors/{SOURCE}/restart?includeTasks=true")
    d.wait_state(SOURCE, "RUNNING")
    d.mark("restart", connector=SOURCE, include_tasks=True, only_failed=False)

    d.must("POST", f"/connectors/{FAILING}/restart?includeTasks=true&onlyFailed=true")
    d.wait_state(FAILING, "RUNNING", task_state="FAILED")
    d.mark("restart", connector=FAILING, include_tasks=True, only_failed=True)

    d.must("POST", "/connectors", {"name": PAUSED, "config": source_cfg, "initial_state": "PAUSED"})
    d.wait_state(PAUSED, "PAUSED", ntasks=None)
    d.mark("create", connector=PAUSED, config=source_cfg, initial_state="PAUSED")

    d.must("POST", "/connectors", {"name": STOPPED, "config": source_cfg, "initial_state": "STOPPED"})
    d.wait_state(STOPPED, "STOPPED", ntasks=0)
    d.mark("create", connector=STOPPED, config=source_cfg, initial_state="STOPPED")

    updated = dict(sink_cfg, **{"tasks.max": "2"})
    d.must("PUT", f"/connectors/{SINK}/config", updated)
    d.wait_state(SINK, "RUNNING", ntasks=2)
    d.mark("update", connector=SINK, config=updated)

    d.must("PUT", "/admin/loggers/org.apache.kafka.connect.file?scope=cluster", {"level": "DEBUG"})
    d.mark("logger-level", namespace="org.apache.kafka.connect.file", level="DEBUG")

    for name in (SINK, FAILING, PAUSED):
        d.must("DELETE", f"/connectors/{name}")
        d.wait(f"{name} to be deleted",
               lambda: name not in d.call("GET", "/connectors")[1])
        d.mark("delete", connector=name)

    # Let status updates of the deletions land before capturing.
    time.sleep(3)


def capture(bootstrap, topic, rest_port):
    """Every record of TOPIC as {"partition","offset","key","value"}, in order."""
    # kcat reads committed records only (librdkafka's default), as Connect does.
    out = subprocess.run(["kcat", "-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e",
                          "-J", "-q"], check=True, capture_output=True, text=True).stdout
    records = []
    for line in out.splitlines():
        if not line.strip():
            continue
        m = json.loads(line)
        value = m.get("payload")
        if isinstance(value, str):
            # The only volatile part that is not in a key: the worker's REST port.
            value = value.replace(f"127.0.0.1:{rest_port}", "127.0.0.1:8083")
        records.append({"partition": m["partition"], "offset": m["offset"],
                        "key": m.get("key"), "value": value})
    records.sort(key=lambda r: (r["partition"], r["offset"]))
    return records


def topic_info(bootstrap, topic):
    meta = json.loads(subprocess.run(["kcat", "-b", bootstrap, "-L", "-J", "-t", topic],
                                     check=True, capture_output=True, text=True).stdout)
    t = [t for t in meta["topics"] if t["topic"] == topic][0]
    return {"partitions": len(t["partitions"])}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=None,
                    help="fixture directory (default: internal-topics/ beside this script,"
                         " internal-topics-eos/ with --exactly-once)")
    ap.add_argument("--exactly-once", action="store_true",
                    help="run the worker with exactly.once.source.support=enabled: the leader"
                         " writes the config topic in transactions and tasks-fencing records")
    args = ap.parse_args()
    if args.out is None:
        args.out = os.path.join(HERE, "internal-topics-eos" if args.exactly_once else "internal-topics")

    run_id = str(int(time.time()))
    shutil.rmtree(WORK_DIR, ignore_errors=True)
    env = start_worker(run_id, args.exactly_once)
    base, bootstrap = env["KAFKA_CONNECT_DISTRIBUTED_URL"], env["KAFKA_BOOTSTRAP_SERVERS"]
    rest_port = base.rsplit(":", 1)[1]
    topics = {"config": env["KAFKA_CONNECT_DISTRIBUTED_CONFIG_TOPIC"],
              "offsets": env["KAFKA_CONNECT_DISTRIBUTED_OFFSET_TOPIC"],
              "status": env["KAFKA_CONNECT_DISTRIBUTED_STATUS_TOPIC"]}
    print(f"recording against {base} (topics {', '.join(topics.values())})", file=sys.stderr)
    d = Driver(base, bootstrap, topics)
    try:
        run(d)
        os.makedirs(args.out, exist_ok=True)
        info = {}
        for kind, topic in topics.items():
            records = capture(bootstrap, topic, rest_port)
            fn = os.path.join(args.out, f"{kind}.jsonl")
            with open(fn, "w") as f:
                for r in records:
                    f.write(json.dumps(r) + "\n")
            info[kind] = topic_info(bootstrap, topic)
            print(f"  {len(records)} records of {topic} -> {os.path.relpath(fn, REPO)}",
                  file=sys.stderr)
        with open(os.path.join(args.out, "actions.json"), "w") as f:
            json.dump({"worker_id": "127.0.0.1:8083", "source_file": SOURCE_FILE,
                       "data_topic": DATA_TOPIC, "actions": d.actions}, f, indent=2)
            f.write("\n")
        with open(os.path.join(args.out, "topics.json"), "w") as f:
            json.dump(info, f, indent=2)
            f.write("\n")
    finally:
        subprocess.run([SERVICES, "down", SERVICE], stdin=subprocess.DEVNULL)
        shutil.rmtree(WORK_DIR, ignore_errors=True)


if __name__ == "__main__":
    main()
