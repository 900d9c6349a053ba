#!/usr/bin/env bash
# PostgreSQL outage under a report stream, at full scale:
# ingest/outage_test.go's TestOutageSpoolSIGKILL with a longer outage and
# more connections. `herald serve` runs on PostgreSQL through a TCP proxy
# that the test cuts for DURATION (the shared PostgreSQL server is never
# stopped), with --report-spool-dir; serve is SIGKILLed during the outage
# and again while it replays. It prints what was acknowledged in each phase
# and fails unless every report answered 200 is in the database exactly once.
#
#   bench/webhook-outage.sh                    # 30 s outage, 64 connections
#   DURATION=60s WORKERS=128 bench/webhook-outage.sh
set -euo pipefail
cd "$(dirname "$0")/.."
HERALD_OUTAGE_DURATION=${DURATION:-30s} HERALD_OUTAGE_WORKERS=${WORKERS:-64} \
	go test -count=1 -run '^TestOutageSpoolSIGKILL$' -v -timeout 20m ./ingest 2>&1 |
	grep -E 'outage_test|^(--- |ok|FAIL|PASS)' || true
