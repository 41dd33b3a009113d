#!/usr/bin/env python3
"""Elasticsearch sink throughput against the node of `e2e/services up opensearch`.

Measures, for the same N small JSON documents, in --rounds interleaved rounds (ceiling,
ferry, ceiling, ferry, ...) so that both legs see the same machine load:
  * ceiling: a plain HTTP client (this script, http.client over keep-alive connections)
    sending them as raw `_bulk` requests of --batch documents, --in-flight at a time, with
    byte for byte the bulk lines ferry sends (same action line, ids and documents), bodies
    built before timing, responses checked without parsing them whole;
  * ferry: the documents produced once to a Kafka topic (kcat), then, per round, a new
    ElasticsearchSinkConnector (batch.size = --batch, max.in.flight.requests = --in-flight,
    key.ignore=true, schema.ignore=true) on one running worker reading the topic from the
    start into a new index;
  * per leg the load average, the CPU seconds of the client (this script for the ceiling,
    ferry for the other leg) and of the search node; the worker's peak RSS (VmHWM).
Every leg writes into a fresh index with one shard and no replica and is timed until
`_count` reports every document. The result is the median of the per-round ratios.

Usage: e2e/bench/es_sink.py [--docs N] [--batch B] [--in-flight F] [--rounds R] [--ferry PATH]
The ferry binary defaults to a release build under the cargo target dir.
"""

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def env(name, hint):
    v = os.environ.get(name)
    if not v:
        sys.exit(f"{name} is not set: run `{hint}` and `eval \"$(e2e/services env)\"` first")
    return v


class Es:
    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.host, self.port = u.hostname, u.port

    def call(self, method, path, body=None, ctype="application/json"):
        c = http.client.HTTPConnection(self.host, self.port, timeout=120)
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        c.request(method, path, body=data, headers={"Content-Type": ctype})
        r = c.getresponse()
        out = r.read()
        c.close()
        return r.status, (json.loads(out) if out else None)

    def count(self, index):
        status, body = self.call("GET", f"/{index}/_count")
        return body.get("count", 0) if status == 200 else 0

    def fresh_index(self, index):
        self.call("DELETE", f"/{index}")
        status, body = self.call("PUT", f"/{index}", {"settings": {
            "number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "1s"}})
        if status != 200:
            sys.exit(f"could not create {index}: {status} {body}")


def wait(what, cond, timeout=1800, every=0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(every)
    sys.exit(f"timed out waiting for {what}")


def doc(i):
    return json.dumps({"i": i, "name": f"name-{i}", "ok": i % 2 == 0}, separators=(",", ":"))


def action(index, topic, i):
    # As ferry writes it (serde_json keeping insertion order), the id topic+partition+offset.
    return f'{{"index":{{"_index":"{index}","_id":"{topic}+0+{i}"}}}}\n{doc(i)}\n'


def bulk_bodies(index, topic, n, batch):
    return ["".join(action(index, topic, i)
                    for i in range(start, min(start + batch, n))).encode()
            for start in range(0, n, batch)]


def ceiling(es, index, bodies, n, in_flight):
    todo = list(reversed(bodies))
    lock = threading.Lock()
    errors = []
    resent = []

    def sender():
        c = http.client.HTTPConnection(es.host, es.port, timeout=120)
        while True:
            with lock:
                if not todo:
                    break
                body = todo.pop()
            # The node may push back (429) under load: resend, as any client must (the
            # ids are fixed, so a resend overwrites).
            for _ in range(100):
                c.request("POST", "/_bulk", body=body,
                          headers={"Content-Type": "application/x-ndjson"})
                r = c.getresponse()
                out = r.read()
                # `{"took":N,"errors":false,...`: no need to parse the 2000 items.
                if r.status == 200 and b'"errors":false' in out[:64]:
                    break
                with lock:
                    resent.append(r.status)
                time.sleep(0.1)
            else:
                errors.append(r.status)
        c.close()

    t0 = time.monotonic()
    threads = [threading.Thread(target=sender) for _ in range(in_flight)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        sys.exit(f"ceiling: {len(errors)} bulk requests failed")
    wait("ceiling documents", lambda: es.count(index) >= n)
    return n / (time.monotonic() - t0), len(resent)


def cpu_seconds(pid):
    """User + system CPU seconds of a process so far (0 if it cannot be read)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def node_pid(es_url):
    """The pid of the process listening on the search node's port, if it can be found."""
    port = urllib.parse.urlparse(es_url).port
    try:
        out = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"], capture_output=True,
                             text=True, check=False).stdout
        return int(out.split("pid=")[1].split(",")[0])
    except (OSError, IndexError, ValueError):
        return None


class Leg:
    """Load average and CPU seconds of ferry and the node over one leg."""

    def __init__(self, ferry_pid, node):
        self.pids = (ferry_pid, node)
        self.cpu0 = [cpu_seconds(p) if p else 0.0 for p in self.pids]
        self.client0 = time.process_time()
        self.load0 = os.getloadavg()[0]

    def done(self):
        cpu = [cpu_seconds(p) - c if p else float("nan") for p, c in zip(self.pids, self.cpu0)]
        return {"load": (self.load0 + os.getloadavg()[0]) / 2, "ferry_cpu": cpu[0],
                "node_cpu": cpu[1], "client_cpu": time.process_time() - self.client0}


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--in-flight", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--ferry", default=None)
    args = ap.parse_args()
    bs = env("KAFKA_BOOTSTRAP_SERVERS", "e2e/services up kafka")
    es_url = env("OPENSEARCH_URL", "e2e/services up opensearch")
    es = Es(es_url)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ferry = args.ferry or os.path.join(target, "release", "ferry")
    if not os.path.exists(ferry):
        sys.exit(f"{ferry} not found: build it with `cargo build --release -p ferry-runtime`")

    stamp = str(int(time.time() * 1000))
    work = tempfile.mkdtemp(prefix="ferry-es-bench-")
    docs_path = os.path.join(work, "docs.jsonl")
    with open(docs_path, "w") as f:
        for i in range(args.docs):
            f.write(doc(i) + "\n")
    size = os.path.getsize(docs_path)

    # The topic first, so the Kafka side is not part of either figure.
    topic = f"bench-es-{stamp}"
    subprocess.run(["kcat", "-P", "-b", bs, "-t", topic, "-l", docs_path, "-X", "linger.ms=5"],
                   check=True)

    port = 20000 + (os.getpid() % 10000)
    worker = os.path.join(work, "worker.properties")
    with open(worker, "w") as f:
        f.write(f"bootstrap.servers={bs}\n"
                "key.converter=org.apache.kafka.connect.json.JsonConverter\n"
                "value.converter=org.apache.kafka.connect.json.JsonConverter\n"
                "key.converter.schemas.enable=false\n"
                "value.converter.schemas.enable=false\n"
                f"offset.storage.file.filename={work}/offsets.json\n"
                "offset.flush.interval.ms=10000\n"
                f"listeners=http://127.0.0.1:{port}\n")
    proc = subprocess.Popen([ferry, "standalone", worker],
                            stderr=open(os.path.join(work, "ferry.log"), "w"),
                            env={**os.environ, "FERRY_LOG": "warn"})
    rest = Es(f"http://127.0.0.1:{port}")

    def ready():
        try:
            return rest.call("GET", "/")[0] == 200
        except OSError:
            return False
    wait("REST", ready, timeout=30, every=0.01)
    node = node_pid(es_url)

    print(f"documents: {args.docs} ({size / 1e6:.0f} MB of JSON), batch {args.batch}, "
          f"{args.in_flight} in flight, {args.rounds} rounds, {os.cpu_count()} cores")
    print("round  leg      docs/s    load  client-cpu-s  node-cpu-s  resent/retried")
    ratios = []
    rates = {"ceiling": [], "ferry": []}
    for r in range(1, args.rounds + 1):
        # Same index name length for both legs.
        ceiling_index = f"{topic}-c{r}"
        es.fresh_index(ceiling_index)
        # Bodies built before timing: the client should cost nothing but sending.
        bodies = bulk_bodies(ceiling_index, topic, args.docs, args.batch)
        leg = Leg(proc.pid, node)
        ceiling_rate, resent = ceiling(es, ceiling_index, bodies, args.docs, args.in_flight)
        del bodies
        c = leg.done()
        es.call("DELETE", f"/{ceiling_index}")
        print(f"{r:5}  ceiling {ceiling_rate:9,.0f}  {c['load']:5.1f}  {c['client_cpu']:12.1f}"
              f"  {c['node_cpu']:10.1f}  {resent}", flush=True)

        index = f"{topic}-f{r}"
        es.fresh_index(index)
        name = f"bench-es-{stamp}-{r}"
        leg = Leg(proc.pid, node)
        t0 = time.monotonic()
        status, body = rest.call("POST", "/connectors", {"name": name, "config": {
            "connector.class": "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
            "topics": topic, "topic.index.map": f"{topic}:{index}",
            "connection.url": es_url, "key.ignore": "true",
            "schema.ignore": "true", "batch.size": str(args.batch),
            "max.in.flight.requests": str(args.in_flight)}})
        if status != 201:
            sys.exit(f"could not create the connector: {status} {body}")
        wait("ferry documents", lambda: es.count(index) >= args.docs)
        ferry_rate = args.docs / (time.monotonic() - t0)
        f = leg.done()
        rest.call("DELETE", f"/connectors/{name}")
        es.call("DELETE", f"/{index}")
        with open(os.path.join(work, "ferry.log")) as log:
            retried = log.read().count("bulk request failed; retrying")
        print(f"{r:5}  ferry   {ferry_rate:9,.0f}  {f['load']:5.1f}  {f['ferry_cpu']:12.1f}"
              f"  {f['node_cpu']:10.1f}  {retried}  ({100 * ferry_rate / ceiling_rate:.0f}% "
              f"of the ceiling before it)", flush=True)
        ratios.append(ferry_rate / ceiling_rate)
        rates["ceiling"].append(ceiling_rate)
        rates["ferry"].append(ferry_rate)

    rss = peak_rss_mb(proc.pid)
    proc.terminate()
    proc.wait(timeout=60)
    shutil.rmtree(work, ignore_errors=True)
    print(f"median ceiling (raw _bulk, plain HTTP client): {statistics.median(rates['ceiling']):9,.0f} docs/s")
    print(f"median ferry (Kafka -> ElasticsearchSink):     {statistics.median(rates['ferry']):9,.0f} docs/s")
    print(f"median ratio ferry / ceiling: {100 * statistics.median(ratios):.0f}% "
          f"(rounds: {', '.join(f'{100 * x:.0f}%' for x in ratios)}; target >= 80%)")
    print(f"ferry peak RSS: {rss:.1f} MB")


if __name__ == "__main__":
    main()
