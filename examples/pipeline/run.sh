#!/usr/bin/env bash
# The main job: the seed's MySQL → Kafka → Elasticsearch pipeline, end to end, on this machine.
#   examples/pipeline/run.sh          # leaves the services running
#   examples/pipeline/run.sh --down   # stops the services it started at the end
#
# Brings up Kafka, MariaDB, OpenSearch and the schema registry (e2e/services, cached under
# ${FERRY_CACHE_DIR:-~/.cache/ferry}), starts a `ferry distributed` worker, recreates the seed's
# table kafka_demo.sample_data, loads the seed's two connector configs (examples/rest/, host
# names adapted by examples/pipeline/adapt.sh) with `ferry load`, inserts four rows, updates
# one, and shows the documents and their count in the index mysql-sample_data.
# FERRY_BIN=PATH runs that ferry binary instead of building a release one (the test does).
set -euo pipefail
unset CDPATH
ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)
HERE=$ROOT/examples/pipeline
DOWN=0
for arg in "$@"; do
  case $arg in
    --down) DOWN=1 ;;
    -h | --help) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument $arg (try --help)" >&2; exit 2 ;;
  esac
done

step() { printf '\n==> %s\n' "$*"; }
SERVICES=(kafka mariadb opensearch schema-registry)
step "services: ${SERVICES[*]} (first run installs them: a few minutes)"
"$ROOT"/e2e/services up "${SERVICES[@]}"
eval "$("$ROOT"/e2e/services env)"

if [[ -n ${FERRY_BIN:-} ]]; then
  FERRY=$FERRY_BIN
else
  step "building ferry (release)"
  cargo build --release --quiet -p ferry-runtime --manifest-path "$ROOT/Cargo.toml"
  FERRY=${CARGO_TARGET_DIR:-$ROOT/target}/release/ferry
fi

WORK=$(mktemp -d -t ferry-pipeline-XXXXXX)
PID=
cleanup() {
  local rc=$?
  if [[ -n $PID ]]; then kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true; fi
  if ((DOWN)); then "$ROOT"/e2e/services down "${SERVICES[@]}" || true; fi
  exit "$rc"
}
trap cleanup EXIT

# Polls `$@` every 0.25 s (up to $1 seconds) until it succeeds, printing what it waits for.
wait_until() {
  local limit=$1 what=$2; shift 2
  local start=$SECONDS last=-1
  until "$@"; do
    if ((SECONDS - start >= limit)); then
      echo "gave up after ${limit}s waiting for $what; worker log: $WORK/ferry.log" >&2
      tail -n 30 "$WORK/ferry.log" >&2 || true
      exit 1
    fi
    if ((SECONDS - start != last && (SECONDS - start) % 5 == 0)); then
      last=$((SECONDS - start)); echo "    waiting for $what (${last}s)"
    fi
    sleep 0.25
  done
}

sql() {
  mariadb --protocol=tcp -h "$MARIADB_HOST" -P "$MARIADB_PORT" -u "$MARIADB_USER" -p"$MARIADB_PASSWORD" \
    --batch --skip-column-names "$@"
}
INDEX=mysql-sample_data
TOPIC=mysql-sample_data

step "a fresh start: table kafka_demo.sample_data, topic $TOPIC and index $INDEX recreated empty"
sql <"$HERE/sample_data.sql"
curl -sf -X DELETE "$OPENSEARCH_URL/$INDEX" >/dev/null || true
topics() { java -cp "$KAFKA_LIB/*" org.apache.kafka.tools.TopicCommand --bootstrap-server "$KAFKA_BOOTSTRAP_SERVERS" "$@" 2>/dev/null; }
topics --delete --if-exists --topic "$TOPIC" || true
# The list is read whole: `grep -q` stops at its match, and under pipefail a writer killed
# by SIGPIPE would make a topic still there read as gone.
topic_gone() { local list; list=$(topics --list); ! grep -qx "$TOPIC" <<<"$list"; }
wait_until 30 "topic $TOPIC to be deleted" topic_gone

step "starting a ferry distributed worker"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
GROUP=ferry-pipeline-$(date +%s)
# The shipped distributed worker properties, with this machine's broker, a fresh group and
# internal topics (so no state of an earlier run is picked up) and a free port.
sed -e "s|^bootstrap.servers=.*|bootstrap.servers=$KAFKA_BOOTSTRAP_SERVERS|" \
    -e "s|^group.id=.*|group.id=$GROUP|" \
    -e "s|^config.storage.topic=.*|config.storage.topic=$GROUP-configs|" \
    -e "s|^offset.storage.topic=.*|offset.storage.topic=$GROUP-offsets|" \
    -e "s|^status.storage.topic=.*|status.storage.topic=$GROUP-status|" \
    -e "s|^listeners=.*|listeners=http://127.0.0.1:$PORT|" \
    "$ROOT/examples/distributed/connect-distributed.properties" >"$WORK/worker.properties"
"$FERRY" distributed "$WORK/worker.properties" 2>"$WORK/ferry.log" &
PID=$!
export FERRY_URL=http://127.0.0.1:$PORT
ready() { [[ $(curl -s -o /dev/null -w '%{http_code}' "$FERRY_URL/health") == 200 ]]; }
wait_until 60 "the worker to join its group ($FERRY_URL/health)" ready
echo "    worker up at $FERRY_URL (log: $WORK/ferry.log)"

running() {
  "$FERRY" status "$1" -o json 2>/dev/null |
    jq -e '.connector.state == "RUNNING" and (.tasks | length) > 0 and all(.tasks[]; .state == "RUNNING")' >/dev/null
}

step "loading the seed's JDBC source (examples/rest/jdbc_source_mysql_sample_01.json)"
"$HERE"/adapt.sh "$ROOT/examples/rest/jdbc_source_mysql_sample_01.json" >"$WORK/jdbc_source_mysql_sample_01.json"
"$HERE"/adapt.sh "$ROOT/examples/rest/es-sink-mysql-sampleData-01.json" >"$WORK/es-sink-mysql-sampleData-01.json"
"$FERRY" load jdbc_source_mysql_sample_01 -d "$WORK/jdbc_source_mysql_sample_01.json" >/dev/null
wait_until 60 "jdbc_source_mysql_sample_01 RUNNING" running jdbc_source_mysql_sample_01
"$FERRY" status jdbc_source_mysql_sample_01 | sed 's/^/    /'

step "inserting four rows into kafka_demo.sample_data"
sql -e "INSERT INTO kafka_demo.sample_data (id, name) VALUES (1, 'claus'), (2, 'kimi'), (3, 'sebastian'), (4, 'lewis')"
sql -e "SELECT id, name, update_ts FROM kafka_demo.sample_data ORDER BY id" | sed 's/^/    /'
in_topic() { kcat -b "$KAFKA_BOOTSTRAP_SERVERS" -C -t "$TOPIC" -e -q -f 'x\n' 2>/dev/null | wc -l; }
four_in_topic() { (($(in_topic) >= 4)); }
wait_until 60 "4 records in topic $TOPIC" four_in_topic
echo "    $(in_topic) Avro records in $TOPIC (schema: $(curl -s "$SCHEMA_REGISTRY_URL/subjects" | tr -d '\n'))"

step "loading the seed's Elasticsearch sink (examples/rest/es-sink-mysql-sampleData-01.json)"
"$FERRY" load es-sink-mysql-sampleData-01 -d "$WORK/es-sink-mysql-sampleData-01.json" >/dev/null
wait_until 60 "es-sink-mysql-sampleData-01 RUNNING" running es-sink-mysql-sampleData-01
"$FERRY" status es-sink-mysql-sampleData-01 | sed 's/^/    /'
count() { curl -sf -X POST "$OPENSEARCH_URL/$INDEX/_refresh" >/dev/null 2>&1 && curl -sf "$OPENSEARCH_URL/$INDEX/_count" | jq -r .count || echo 0; }
docs_are() { [[ $(count) == "$1" ]]; }
wait_until 90 "4 documents in index $INDEX" docs_are 4
show() {
  echo "    $(count) documents in $INDEX:"
  curl -sf "$OPENSEARCH_URL/$INDEX/_search?size=100&sort=id:asc,update_ts:asc" |
    jq -r '.hits.hits[] | "      _id \(._id)  \(._source | tojson)"'
}
show

step "updating row 1 (update_ts moves on)"
# timestamp mode reads update_ts > last offset; TIMESTAMP has second precision, so the
# update waits until the clock has left the second of the rows already read.
later() { [[ $(sql -e "SELECT NOW() > MAX(update_ts) FROM kafka_demo.sample_data") == 1 ]]; }
wait_until 5 "the clock to pass the last update_ts" later
sql -e "UPDATE kafka_demo.sample_data SET name = 'claus (updated)' WHERE id = 1"
updated() { curl -sf "$OPENSEARCH_URL/$INDEX/_search?q=name:updated" | jq -e '.hits.total.value >= 1' >/dev/null; }
wait_until 60 "the update to reach the index" updated
# key.ignore=true (the seed's choice) makes each record its own document
# (topic+partition+offset), so the update is a fifth document; README shows how to key
# documents by the row id instead.
show

step "connectors"
"$FERRY" list
echo
echo "Done. The worker stops now; the services keep running$( ((DOWN)) && echo ' until the --down cleanup').  Worker log: $WORK/ferry.log"
