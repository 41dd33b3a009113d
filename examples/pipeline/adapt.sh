#!/usr/bin/env bash
# Prints a seed connector config (examples/rest/*.json) with this machine's addresses — the only change made to it.
#   examples/pipeline/adapt.sh examples/rest/jdbc_source_mysql_sample_01.json > jdbc.json
# The substitution, on the text (so the seed's duplicate "_comment" keys stay as they are):
#   //localhost:3306/      -> //$MARIADB_HOST:$MARIADB_PORT/   (the seed's user claus and password are kept)
#   http://localhost:8081  -> $SCHEMA_REGISTRY_URL              (the registry's Confluent-compatible API)
#   http://localhost:9200  -> $OPENSEARCH_URL                   (the Elasticsearch REST API)
# The variables come from `eval "$(e2e/services env)"`.
set -euo pipefail
: "${1:?usage: adapt.sh CONFIG.json}"
: "${MARIADB_HOST:?run eval \"\$(e2e/services env)\" first}" "${MARIADB_PORT:?}" "${SCHEMA_REGISTRY_URL:?}" "${OPENSEARCH_URL:?}"
exec sed -e "s#//localhost:3306/#//${MARIADB_HOST}:${MARIADB_PORT}/#g" \
         -e "s#http://localhost:8081#${SCHEMA_REGISTRY_URL}#g" \
         -e "s#http://localhost:9200#${OPENSEARCH_URL}#g" "$1"
