#!/usr/bin/env python3
"""Record REST response fixtures from the reference Apache Kafka Connect.

Drives a running standalone worker (``e2e/services up kafka-connect``) through
the Connect REST API and writes one JSON file per request into this directory:

    {"request": {"method", "path", "body"}, "status": N,
     "headers": {"location"?, "content-type"?}, "body": <json|text|null>}

Usage:
    eval "$(e2e/services env)"    # or let this script start the services
    python3 e2e/reference/record.py [--out DIR]

Volatile values are normalised so re-recording gives small diffs: the worker's
REST port becomes 8083, the Kafka port 9092 and the temporary data dir
/tmp/ferry-ref. Everything else (cluster id, commit, timestamps, traces) is
kept as the server sent it. Stdlib only; every wait is a bounded poll.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SERVICES = os.path.join(REPO, "e2e", "services")

SOURCE = "ref-source"
SINK = "ref-sink"
TOPIC = "ref-topic"
NORM_TMP = "/tmp/ferry-ref"


def die(msg):
    print(f"record.py: error: {msg}", file=sys.stderr)
    sys.exit(1)


def service_env():
    """KAFKA_CONNECT_URL / KAFKA_BOOTSTRAP_SERVERS, starting services if needed."""
    url = os.environ.get("KAFKA_CONNECT_URL")
    boot = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if url and boot:
        return url.rstrip("/"), boot
    subprocess.run([SERVICES, "up", "kafka-connect"], check=True, stdin=subprocess.DEVNULL)
    out = subprocess.run([SERVICES, "env"], check=True, capture_output=True, text=True).stdout
    env = dict(re.findall(r"^export (\w+)=(\S+)$", out, re.M))
    if "KAFKA_CONNECT_URL" not in env:
        die("e2e/services env printed no KAFKA_CONNECT_URL")
    return env["KAFKA_CONNECT_URL"].rstrip("/"), env["KAFKA_BOOTSTRAP_SERVERS"]


class Recorder:
    def __init__(self, base, bootstrap, out_dir, tmp):
        self.base = base
        self.out_dir = out_dir
        self.written = []
        rest_hostport = base.split("://", 1)[1]
        self.replacements = [
            (tmp, NORM_TMP),
            (rest_hostport, "127.0.0.1:8083"),
            (bootstrap, "127.0.0.1:9092"),
        ]

    # -- HTTP -------------------------------------------------------------
    def call(self, method, path, body=None, raw=None):
        """Returns (status, headers, parsed_body, text)."""
        data = None
        headers = {"Accept": "application/json"}
        if raw is not None:
            data = raw.encode()
        elif body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, hdrs, text = resp.status, resp.headers, resp.read().decode()
        except urllib.error.HTTPError as e:
            status, hdrs, text = e.code, e.headers, e.read().decode()
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return status, hdrs, parsed, text

    # -- fixtures ---------------------------------------------------------
    def norm(self, v):
        if isinstance(v, str):
            for old, new in self.replacements:
                v = v.replace(old, new)
            return v
        if isinstance(v, list):
            return [self.norm(x) for x in v]
        if isinstance(v, dict):
            return {self.norm(k): self.norm(x) for k, x in v.items()}
        return v

    def record(self, label, method, path, body=None, raw=None, expect=None):
        """Perform the request and write <label>[_<status>].json.

        The status is appended unless it is a plain GET 200, so an unexpected
        status is visible in the file name (and warned about)."""
        status, hdrs, parsed, _ = self.call(method, path, body=body, raw=raw)
        name = label if (method == "GET" and status == 200) else f"{label}_{status}"
        if expect is not None and status != expect:
            print(f"record.py: note: {method} {path} -> {status} (expected {expect})", file=sys.stderr)
        headers = {}
        for h in ("location", "content-type"):
            if hdrs.get(h) is not None:
                headers[h] = hdrs.get(h)
        fixture = {
            "request": {"method": method, "path": path,
                        "body": raw if raw is not None else body},
            "status": status,
            "headers": headers,
            "body": parsed,
        }
        fn = os.path.join(self.out_dir, name + ".json")
        if fn in self.written:
            die(f"two requests would write {fn}")
        with open(fn, "w") as f:
            json.dump(self.norm(fixture), f, indent=2)
            f.write("\n")
        self.written.append(fn)
        print(f"  {status} {method} {path} -> {os.path.relpath(fn, REPO)}", file=sys.stderr)
        return status, parsed

    # -- helpers ----------------------------------------------------------
    def get(self, path):
        status, _, parsed, _ = self.call("GET", path)
        return status, parsed

    def wait(self, what, pred, timeout=60, interval=0.25):
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
            s, st = self.get(f"/connectors/{name}/status")
            if s != 200 or st["connector"]["state"] != connector_state:
                return False
            tasks = st.get("tasks", [])
            if ntasks is None:
                return True
            if ntasks == 0:
                return len(tasks) == 0
            return len(tasks) == ntasks and all(t["state"] == task_state for t in tasks)
        self.wait(f"{name} to be {connector_state}/{task_state}", ok)

    def forget_offsets(self, name, config):
        """Drop offsets left by earlier runs for connector NAME (the worker's
        offsets file and the sink's consumer group outlive connectors): create
        it STOPPED, DELETE its offsets, delete it. Not recorded."""
        self.call("POST", "/connectors",
                  {"name": name, "config": config, "initial_state": "STOPPED"})
        self.wait(f"offsets of {name} to be reset",
                  lambda: self.call("DELETE", f"/connectors/{name}/offsets")[0] == 200,
                  interval=0.5)
        self.call("DELETE", f"/connectors/{name}")

    def delete_all(self):
        s, names = self.get("/connectors")
        for n in names if s == 200 else []:
            self.call("DELETE", f"/connectors/{n}")
        self.wait("all connectors deleted", lambda: self.get("/connectors")[1] == [])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=HERE, help="fixture directory (default: this dir)")
    args = ap.parse_args()

    base, bootstrap = service_env()
    os.makedirs(args.out, exist_ok=True)
    for fn in os.listdir(args.out):   # the fixture set is exactly one run's
        if fn.endswith(".json"):
            os.remove(os.path.join(args.out, fn))
    tmp = tempfile.mkdtemp(prefix="ferry-ref-")
    try:
        run(Recorder(base, bootstrap, args.out, tmp), tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(r, tmp):
    src_file = os.path.join(tmp, "source.txt")
    sink_file = os.path.join(tmp, "sink.txt")
    with open(src_file, "w") as f:
        f.write("".join(f"line {i}\n" for i in range(5)))

    source_cfg = {
        "connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector",
        "tasks.max": "1",
        "file": src_file,
        "topic": TOPIC,
    }
    sink_cfg = {
        "connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
        "tasks.max": "1",
        "file": sink_file,
        "topics": TOPIC,
    }

    print(f"recording against {r.base}", file=sys.stderr)
    r.delete_all()
    for n in (SOURCE, "ref-paused", "ref-stopped", "ref-put"):
        r.forget_offsets(n, source_cfg)
    r.forget_offsets(SINK, sink_cfg)
    r.delete_all()

    # -- server info, creation -------------------------------------------
    r.record("get_root", "GET", "/")
    r.record("get_connectors_empty", "GET", "/connectors")
    r.record("post_connectors", "POST", "/connectors",
             {"name": SOURCE, "config": source_cfg}, expect=201)
    r.record("post_connectors", "POST", "/connectors",
             {"name": SOURCE, "config": source_cfg}, expect=409)
    r.record("post_connectors_sink", "POST", "/connectors",
             {"name": SINK, "config": sink_cfg}, expect=201)
    r.wait_state(SOURCE, "RUNNING")
    r.wait_state(SINK, "RUNNING")
    r.wait("records to reach the sink file",
           lambda: os.path.exists(sink_file) and open(sink_file).read().count("line") >= 5)

    r.record("post_connectors_initial_state_paused", "POST", "/connectors",
             {"name": "ref-paused", "config": source_cfg, "initial_state": "PAUSED"}, expect=201)
    r.record("post_connectors_initial_state_stopped", "POST", "/connectors",
             {"name": "ref-stopped", "config": source_cfg, "initial_state": "STOPPED"}, expect=201)
    # A connector created PAUSED reports no tasks at all (observed on 4.3.1).
    r.wait_state("ref-paused", "PAUSED", ntasks=None)
    r.wait_state("ref-stopped", "STOPPED", ntasks=0)
    r.record("get_connector_status_initial_paused", "GET", "/connectors/ref-paused/status")
    r.record("get_connector_status_initial_stopped", "GET", "/connectors/ref-stopped/status")

    # -- listing ------------------------------------------------------------
    r.record("get_connectors", "GET", "/connectors")
    r.record("get_connectors_expand_status", "GET", "/connectors?expand=status")
    r.record("get_connectors_expand_info", "GET", "/connectors?expand=info")
    r.record("get_connectors_expand_status_info", "GET", "/connectors?expand=status&expand=info")
    for n in ("ref-paused", "ref-stopped"):
        r.call("DELETE", f"/connectors/{n}")

    # -- one connector ------------------------------------------------------
    r.record("get_connector", "GET", f"/connectors/{SOURCE}")
    r.record("get_connector_config", "GET", f"/connectors/{SOURCE}/config")
    r.record("get_connector_status", "GET", f"/connectors/{SOURCE}/status")
    r.record("get_connector_status_sink", "GET", f"/connectors/{SINK}/status")
    r.record("get_connector_tasks", "GET", f"/connectors/{SOURCE}/tasks")
    r.record("get_connector_task_status", "GET", f"/connectors/{SOURCE}/tasks/0/status")
    r.record("get_connector_task_status_missing", "GET", f"/connectors/{SOURCE}/tasks/7/status",
             expect=404)
    r.record("get_connector_nope", "GET", "/connectors/nope", expect=404)
    r.record("get_connector_status_nope", "GET", "/connectors/nope/status", expect=404)

    # -- config PUT / PATCH -------------------------------------------------
    put_cfg = dict(source_cfg, name="ref-put")
    r.record("put_connector_config_create", "PUT", "/connectors/ref-put/config", put_cfg, expect=201)
    r.wait_state("ref-put", "RUNNING")
    r.record("put_connector_config_update", "PUT", "/connectors/ref-put/config",
             dict(put_cfg, **{"batch.size": "100"}), expect=200)
    r.record("put_connector_config_name_mismatch", "PUT", "/connectors/ref-put/config",
             dict(put_cfg, name="other-name"), expect=400)
    r.record("patch_connector_config", "PATCH", "/connectors/ref-put/config",
             {"batch.size": None, "tasks.max": "1"}, expect=200)
    r.record("get_connector_config_after_patch", "GET", "/connectors/ref-put/config")
    r.record("patch_connector_config_nope", "PATCH", "/connectors/nope/config",
             {"tasks.max": "1"}, expect=404)

    # -- topics -------------------------------------------------------------
    r.wait("source topics to be tracked",
           lambda: r.get(f"/connectors/{SOURCE}/topics")[1][SOURCE]["topics"])
    r.record("get_connector_topics", "GET", f"/connectors/{SOURCE}/topics")
    r.record("get_connector_topics_sink", "GET", f"/connectors/{SINK}/topics")

    # -- pause / resume / restart ------------------------------------------
    r.record("put_connector_pause", "PUT", f"/connectors/{SOURCE}/pause", expect=202)
    r.wait_state(SOURCE, "PAUSED", task_state="PAUSED")
    r.record("get_connector_status_paused", "GET", f"/connectors/{SOURCE}/status")
    r.record("put_connector_resume", "PUT", f"/connectors/{SOURCE}/resume", expect=202)
    r.wait_state(SOURCE, "RUNNING")
    r.record("post_connector_restart", "POST", f"/connectors/{SOURCE}/restart", expect=204)
    r.wait_state(SOURCE, "RUNNING")
    r.record("post_connector_restart_include_tasks", "POST",
             f"/connectors/{SOURCE}/restart?includeTasks=true", expect=202)
    r.wait_state(SOURCE, "RUNNING")
    r.record("post_connector_restart_include_tasks_only_failed", "POST",
             f"/connectors/{SOURCE}/restart?includeTasks=true&onlyFailed=true", expect=202)
    r.wait_state(SOURCE, "RUNNING")
    r.record("post_connector_task_restart", "POST", f"/connectors/{SOURCE}/tasks/0/restart",
             expect=204)
    r.wait_state(SOURCE, "RUNNING")
    # Standalone 4.3.1 answers 500 (an NPE message), not 404, for an unknown name.
    r.record("post_connector_restart_nope", "POST", "/connectors/nope/restart", expect=500)

    # -- offsets ------------------------------------------------------------
    r.wait("source offsets to be flushed",
           lambda: r.get(f"/connectors/{SOURCE}/offsets")[1]["offsets"])
    r.wait("sink offsets to be committed",
           lambda: r.get(f"/connectors/{SINK}/offsets")[1]["offsets"])
    r.record("get_connector_offsets_source", "GET", f"/connectors/{SOURCE}/offsets")
    r.record("get_connector_offsets_sink", "GET", f"/connectors/{SINK}/offsets")
    src_offsets = {"offsets": [{"partition": {"filename": src_file}, "offset": {"position": 0}}]}
    sink_offsets = {"offsets": [{"partition": {"kafka_topic": TOPIC, "kafka_partition": 0},
                                 "offset": {"kafka_offset": 0}}]}
    r.record("patch_connector_offsets_running", "PATCH", f"/connectors/{SOURCE}/offsets",
             src_offsets)
    r.record("delete_connector_offsets_running", "DELETE", f"/connectors/{SOURCE}/offsets")

    # Standalone answers 204 here (distributed mode answers 202).
    r.record("put_connector_stop", "PUT", f"/connectors/{SOURCE}/stop", expect=204)
    r.call("PUT", f"/connectors/{SINK}/stop")
    r.wait_state(SOURCE, "STOPPED", ntasks=0)
    r.wait_state(SINK, "STOPPED", ntasks=0)
    r.record("get_connector_status_stopped", "GET", f"/connectors/{SOURCE}/status")
    r.record("get_connector_tasks_stopped", "GET", f"/connectors/{SOURCE}/tasks")
    r.record("patch_connector_offsets_stopped_source", "PATCH", f"/connectors/{SOURCE}/offsets",
             src_offsets, expect=200)
    r.record("get_connector_offsets_source_after_patch", "GET", f"/connectors/{SOURCE}/offsets")
    # A stopped sink's consumer group can take a moment to become empty.
    r.wait("sink consumer group to accept offset changes",
           lambda: r.call("PATCH", f"/connectors/{SINK}/offsets", sink_offsets)[0] == 200,
           interval=0.5)
    r.record("patch_connector_offsets_stopped_sink", "PATCH", f"/connectors/{SINK}/offsets",
             sink_offsets, expect=200)
    r.record("patch_connector_offsets_stopped_bad_partition", "PATCH",
             f"/connectors/{SOURCE}/offsets", {"offsets": [{"offset": {"position": 0}}]})
    r.record("delete_connector_offsets_stopped", "DELETE", f"/connectors/{SOURCE}/offsets",
             expect=200)
    r.record("delete_connector_offsets_stopped_sink", "DELETE", f"/connectors/{SINK}/offsets",
             expect=200)
    r.record("get_connector_offsets_source_after_delete", "GET", f"/connectors/{SOURCE}/offsets")

    r.record("put_connector_topics_reset", "PUT", f"/connectors/{SOURCE}/topics/reset",
             expect=202)
    r.record("get_connector_topics_after_reset", "GET", f"/connectors/{SOURCE}/topics")
    r.record("put_connector_resume_from_stopped", "PUT", f"/connectors/{SOURCE}/resume",
             expect=202)
    r.wait_state(SOURCE, "RUNNING")

    # -- delete ---------------------------------------------------------------
    r.record("delete_connector", "DELETE", "/connectors/ref-put", expect=204)
    r.record("delete_connector_nope", "DELETE", "/connectors/nope", expect=404)

    # -- plugins --------------------------------------------------------------
    r.record("get_connector_plugins", "GET", "/connector-plugins")
    r.record("get_connector_plugins_all", "GET", "/connector-plugins?connectorsOnly=false")
    r.record("get_connector_plugin_config", "GET", "/connector-plugins/FileStreamSink/config")
    r.record("get_connector_plugin_config_nope", "GET", "/connector-plugins/Nope/config",
             expect=404)
    r.record("put_connector_plugin_validate_valid", "PUT",
             "/connector-plugins/FileStreamSinkConnector/config/validate",
             {"connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
              "name": "validate-me", "tasks.max": "1", "topics": TOPIC, "file": sink_file},
             expect=200)
    r.record("put_connector_plugin_validate_invalid", "PUT",
             "/connector-plugins/FileStreamSinkConnector/config/validate",
             {"connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
              "name": "validate-me", "tasks.max": "abc", "file": sink_file},
             expect=200)

    # -- bad requests -----------------------------------------------------------
    r.record("post_connectors_malformed_json", "POST", "/connectors",
             raw='{"name": "broken", "config": {')
    r.record("post_connectors_unknown_class", "POST", "/connectors",
             {"name": "ref-unknown", "config": {"connector.class": "com.example.NoSuchConnector",
                                                "tasks.max": "1"}})
    r.record("post_connectors_missing_config", "POST", "/connectors", {"name": "ref-noconfig"})
    r.record("post_connectors_invalid_config", "POST", "/connectors",
             {"name": "ref-invalid", "config": dict(sink_cfg, **{"tasks.max": "abc"})})

    # -- loggers / health -------------------------------------------------------
    r.record("get_admin_loggers", "GET", "/admin/loggers")
    r.record("get_admin_logger_root", "GET", "/admin/loggers/root")
    # A logger that was never set explicitly is a 404 (only root is configured
    # at start, so org.apache.kafka.connect itself is a 404 on a fresh worker).
    r.record("get_admin_logger_unset", "GET", "/admin/loggers/com.example.unset", expect=404)
    r.record("get_admin_logger", "GET", "/admin/loggers/org.apache.kafka.connect")
    r.record("put_admin_logger", "PUT", "/admin/loggers/org.apache.kafka.connect",
             {"level": "DEBUG"}, expect=200)
    r.record("get_admin_logger_after_put", "GET", "/admin/loggers/org.apache.kafka.connect")
    r.record("put_admin_logger_bad_level", "PUT", "/admin/loggers/org.apache.kafka.connect",
             {"level": "LOUD"})
    r.call("PUT", "/admin/loggers/org.apache.kafka.connect", {"level": "INFO"})
    r.record("get_health", "GET", "/health")

    r.delete_all()
    print(f"wrote {len(r.written)} fixtures to {os.path.relpath(r.out_dir, REPO)}/",
          file=sys.stderr)


if __name__ == "__main__":
    main()
