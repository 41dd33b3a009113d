#!/usr/bin/env python3
"""The operator under 500 Connectors: time to RUNNING, peak RSS, CPU, and spec-change latency.

Against the kube-apiserver of `e2e/services up kube` and the broker of `e2e/services up kafka`:
  * starts one `ferry standalone` worker (the external cluster) and `ferry-operator run` watching
    a fresh namespace (no leader election);
  * applies a ConnectCluster with spec.external and N Connectors (FileStreamSource on an empty
    file, one task each) with `kubectl create -f` (--parallel processes, 10 by default), and measures the time until every Connector's
    status says RUNNING with Ready=True;
  * the operator's peak RSS (VmHWM) and CPU seconds (utime + stime) at that point;
  * then the time from a spec.config change (merge patch) to the worker answering
    GET /connectors/{name}/config with the new value, over several changes;
  * finally deletes the namespace (the finalizers delete the connectors from the worker).

Usage: e2e/bench/operator_500.py [--connectors N] [--changes N] [--parallel N] [--ferry PATH]
                                 [--operator PATH]
Binaries default to release builds under the cargo target dir (ferry falls back to debug).
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def need(var):
    v = os.environ.get(var)
    if not v:
        sys.exit(f"{var} is not set: `e2e/services up kafka kube && eval \"$(e2e/services env)\"` first")
    return v


def target_dir():
    return os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))


def binary(given, name, allow_debug):
    if given:
        return given
    for profile in ["release"] + (["debug"] if allow_debug else []):
        p = os.path.join(target_dir(), profile, name)
        if os.path.exists(p):
            return p
    sys.exit(f"{name} not found: cargo build --release -p "
             f"{'ferry-runtime' if name == 'ferry' else 'ferry-operator'}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.loads(r.read())
    except Exception:
        return None


def wait(what, cond, timeout, every=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(every)
    sys.exit(f"timed out after {timeout}s waiting for {what}")


def kubectl(*args, stdin=None, check=True):
    out = subprocess.run(["kubectl", *args], input=stdin, capture_output=True, text=True)
    if check and out.returncode != 0:
        sys.exit(f"kubectl {' '.join(args)} failed: {out.stderr}")
    return out.stdout


def proc_stats(pid):
    """(peak RSS in MB, CPU seconds) of a live process."""
    with open(f"/proc/{pid}/status") as f:
        hwm = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:")) / 1024
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return hwm, cpu


def running_count(ns):
    items = json.loads(kubectl("get", "connectors", "-n", ns, "-o", "json"))["items"]
    n = 0
    for c in items:
        st = c.get("status") or {}
        state = ((st.get("connectorStatus") or {}).get("connector") or {}).get("state")
        ready = [x for x in st.get("conditions", []) if x.get("type") == "Ready"]
        if state == "RUNNING" and ready and ready[0].get("status") == "True":
            n += 1
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--connectors", type=int, default=500)
    ap.add_argument("--changes", type=int, default=10)
    ap.add_argument("--parallel", type=int, default=10, help="kubectl create processes")
    ap.add_argument("--ferry")
    ap.add_argument("--operator")
    args = ap.parse_args()
    bootstrap = need("KAFKA_BOOTSTRAP_SERVERS")
    need("KUBECONFIG")
    ferry = binary(args.ferry, "ferry", allow_debug=True)
    operator = binary(args.operator, "ferry-operator", allow_debug=False)

    work = tempfile.mkdtemp(prefix="ferry-operator-bench-")
    ns = f"ferry-bench-{os.getpid()}"
    port = free_port()
    worker_url = f"http://127.0.0.1:{port}"
    empty = os.path.join(work, "empty.txt")
    open(empty, "w").close()
    props = os.path.join(work, "worker.properties")
    with open(props, "w") as f:
        f.write(f"""bootstrap.servers={bootstrap}
listeners=http://127.0.0.1:{port}
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
offset.storage.file.filename={work}/offsets.json
""")
    procs = []
    try:
        wlog = open(os.path.join(work, "worker.log"), "w")
        worker = subprocess.Popen([ferry, "standalone", props], stdout=wlog, stderr=wlog)
        procs.append(worker)
        wait("the worker's REST API", lambda: get_json(worker_url) is not None, 60)

        kubectl("apply", "-f", os.path.join(ROOT, "crds", "ferry-crds.yaml"))
        kubectl("create", "namespace", ns)
        olog = open(os.path.join(work, "operator.log"), "w")
        op = subprocess.Popen(
            [operator, "run", "--namespace", ns, "--leader-election=false",
             "--port", str(free_port())],
            stdout=olog, stderr=olog, env={**os.environ, "RUST_LOG": "warn"})
        procs.append(op)

        docs = [{
            "apiVersion": "ferry.dev/v1alpha1", "kind": "ConnectCluster",
            "metadata": {"name": "external", "namespace": ns},
            "spec": {"bootstrapServers": bootstrap, "external": worker_url},
        }]
        topic = f"ferry-bench-{os.getpid()}"
        for i in range(args.connectors):
            docs.append({
                "apiVersion": "ferry.dev/v1alpha1", "kind": "Connector",
                "metadata": {"name": f"c{i:04d}", "namespace": ns},
                "spec": {"clusterRef": {"name": "external"}, "class": "FileStreamSource",
                         "tasksMax": 1, "config": {"file": empty, "topic": topic}},
            })
        kubectl("create", "-f", "-", stdin=json.dumps(docs[0]))
        connectors = docs[1:]
        time.sleep(1)  # let the operator's watches start; not part of the measurement
        # kubectl throttles itself per process (client-side QPS), so the Connectors are created
        # by several kubectl processes at once.
        chunks = [connectors[i::args.parallel] for i in range(args.parallel)]
        start = time.monotonic()
        creators = [subprocess.Popen(["kubectl", "create", "-f", "-"], stdin=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                    for _ in chunks]
        for p, chunk in zip(creators, chunks):
            p.stdin.write(json.dumps({"apiVersion": "v1", "kind": "List", "items": chunk}))
            p.stdin.close()
        applied = [None]
        last = [0]

        def all_running():
            if applied[0] is None and all(p.poll() is not None for p in creators):
                applied[0] = time.monotonic() - start
                bad = [p.stderr.read() for p in creators if p.returncode != 0]
                if bad:
                    sys.exit(f"kubectl create failed: {bad[0]}")
            n = running_count(ns)
            if n != last[0]:
                last[0] = n
                print(f"  {time.monotonic() - start:6.1f} s: {n} RUNNING", file=sys.stderr)
            return n == args.connectors
        wait(f"{args.connectors} Connectors RUNNING", all_running, 900, every=1.0)
        to_running = time.monotonic() - start
        rss, cpu = proc_stats(op.pid)

        latencies = []
        for k in range(args.changes):
            name = f"c{(k * 37) % args.connectors:04d}"
            value = str(1000 + k)
            patch = json.dumps({"spec": {"config": {"batch.size": value}}})
            t0 = time.monotonic()
            kubectl("patch", "connector", name, "-n", ns, "--type", "merge", "-p", patch)
            wait(f"batch.size={value} on {name}",
                 lambda: (get_json(f"{worker_url}/connectors/{name}/config") or {})
                 .get("batch.size") == value, 60, every=0.01)
            latencies.append(time.monotonic() - t0)
        rss_end, cpu_end = proc_stats(op.pid)

        print(json.dumps({
            "connectors": args.connectors,
            "kubectl_create_s": round(applied[0] or 0, 2),
            "kubectl_processes": args.parallel,
            "all_running_s": round(to_running, 2),
            "operator_peak_rss_mb_at_running": round(rss, 1),
            "operator_cpu_s_at_running": round(cpu, 2),
            "spec_change_to_worker_s": {
                "median": round(statistics.median(latencies), 3),
                "max": round(max(latencies), 3),
                "n": len(latencies),
            },
            "operator_peak_rss_mb_end": round(rss_end, 1),
            "operator_cpu_s_end": round(cpu_end, 2),
        }, indent=2))
    finally:
        # Deleting the namespace runs the finalizers while the operator and worker still live.
        subprocess.run(["kubectl", "delete", "namespace", ns, "--wait=true", "--timeout=180s"],
                       capture_output=True)
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
