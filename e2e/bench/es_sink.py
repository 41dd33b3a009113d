#!/usr/bin/env python3
"""Elasticsearch sink throughput against the node of `e2e/services up opensearch`.

Measures, in one run, for the same N small JSON documents:
  * ceiling: a plain HTTP client (this script, http.client over keep-alive connections)
    sending them as raw `_bulk` requests of --batch documents, --in-flight at a time;
  * ferry: the documents produced to a Kafka topic (kcat), then ferry's
    ElasticsearchSinkConnector (batch.size = --batch, max.in.flight.requests = --in-flight,
    key.ignore=true, schema.ignore=true) writing them into an index;
  * the worker's peak RSS (VmHWM).
Both legs write into a fresh index with one shard and no replica, and are timed until
`_count` reports every document.

Usage: e2e/bench/es_sink.py [--docs N] [--batch B] [--in-flight F] [--ferry PATH]
The ferry binary defaults to a release build under the cargo target dir.
"""

import argparse
import http.client
import json
import os
import shutil
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


def ceiling(es, index, n, batch, in_flight):
    # Bodies built before timing: the client should cost nothing.
    bodies = []
    for start in range(0, n, batch):
        lines = []
        for i in range(start, min(start + batch, n)):
            lines.append(json.dumps({"index": {"_index": index, "_id": f"c+0+{i}"}}))
            lines.append(doc(i))
        bodies.append(("\n".join(lines) + "\n").encode())
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
                out = json.loads(r.read())
                if r.status == 200 and not out.get("errors"):
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

    ceiling_index = f"bench-es-ceiling-{stamp}"
    es.fresh_index(ceiling_index)
    ceiling_rate, resent = ceiling(es, ceiling_index, args.docs, args.batch, args.in_flight)
    es.call("DELETE", f"/{ceiling_index}")

    index = topic
    es.fresh_index(index)
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
    t0 = time.monotonic()
    status, body = rest.call("POST", "/connectors", {"name": f"bench-es-{stamp}", "config": {
        "connector.class": "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
        "topics": topic, "connection.url": es_url, "key.ignore": "true",
        "schema.ignore": "true", "batch.size": str(args.batch),
        "max.in.flight.requests": str(args.in_flight)}})
    if status != 201:
        sys.exit(f"could not create the connector: {status} {body}")
    wait("ferry documents", lambda: es.count(index) >= args.docs)
    ferry_rate = args.docs / (time.monotonic() - t0)
    rss = peak_rss_mb(proc.pid)
    proc.terminate()
    proc.wait(timeout=60)
    with open(os.path.join(work, "ferry.log")) as f:
        ferry_retries = f.read().count("bulk request failed; retrying")
    es.call("DELETE", f"/{index}")
    shutil.rmtree(work, ignore_errors=True)

    print(f"documents: {args.docs} ({size / 1e6:.0f} MB of JSON), batch {args.batch}, "
          f"{args.in_flight} in flight")
    print(f"ceiling (raw _bulk, plain HTTP client): {ceiling_rate:10,.0f} docs/s  "
          f"({resent} bulk requests resent after a refusal)")
    print(f"ferry (Kafka -> ElasticsearchSink):     {ferry_rate:10,.0f} docs/s  "
          f"({100 * ferry_rate / ceiling_rate:.0f}% of ceiling; target >= 80%; "
          f"{ferry_retries} bulk requests retried)")
    print(f"ferry peak RSS:                         {rss:10.1f} MB")


if __name__ == "__main__":
    main()
