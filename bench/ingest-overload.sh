#!/usr/bin/env bash
# Overload of the report webhook: builds herald, runs `herald serve` on
# SQLite and on PostgreSQL, and offers reports open loop far above what it
# can commit (ingest/overload_test.go). It checks that herald does not
# crash, stays under 512 MB of RSS, answers every request (200, or 429/503
# with Retry-After) and that every 200 is in the database.
#
#   bench/ingest-overload.sh                      # both engines, 60 s each
#   ENGINES=sqlite DURATION=30s bench/ingest-overload.sh
#   RATE=60000 CONNS=4000 QUEUE=2000 bench/ingest-overload.sh
set -euo pipefail
cd "$(dirname "$0")/.."

for engine in ${ENGINES:-sqlite postgres}; do
	echo "== $engine"
	HERALD_OVERLOAD=$engine \
		HERALD_OVERLOAD_RATE=${RATE:-60000} \
		HERALD_OVERLOAD_DURATION=${DURATION:-60s} \
		HERALD_OVERLOAD_CONNS=${CONNS:-4000} \
		HERALD_OVERLOAD_QUEUE=${QUEUE:-2000} \
		go test -count=1 -run '^TestOverload$' -v -timeout 20m ./ingest 2>&1 |
		grep -E 'overload_test|^(--- |ok|FAIL|PASS)' || true
done
