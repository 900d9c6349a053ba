#!/usr/bin/env bash
# PostgreSQL outage under a report stream, at the issue's size:
# ingest/outage_test.go's TestOutageSpoolSIGKILL with a longer outage and
# a faster stream. The stream is open loop: RATE reports a second offered
# on a fixed schedule over CONNS keep-alive connections, whatever the
# answers (a report picked up more than 10 ms after it was due is "late";
# one that finds every connection busy and the queue full is "not
# issued"). `herald serve` runs on PostgreSQL through a TCP proxy that the
# test cuts for DURATION (the shared PostgreSQL server is never stopped),
# with --report-spool-dir; serve is SIGKILLed at the end of the outage with
# requests in flight, and again halfway through the replay. Per phase it
# prints what was offered, answered 200, refused (429/503) and unanswered,
# and it fails unless every report answered 200 is in the database exactly
# once. The load average before and after goes with the figures.
#
#   bench/webhook-outage.sh                         # 30 s outage at 10,000/s, 1,024 connections
#   RATE=5000 DURATION=60s CONNS=2048 bench/webhook-outage.sh
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp /tmp/webhook-outage.XXXXXX.log)
echo "before: $(uptime)"
set +e
HERALD_OUTAGE_RATE=${RATE:-10000} HERALD_OUTAGE_DURATION=${DURATION:-30s} HERALD_OUTAGE_CONNS=${CONNS:-1024} \
	go test -count=1 -run '^TestOutageSpoolSIGKILL$' -v -timeout 30m ./ingest >"$log" 2>&1
rc=$?
set -e
grep -E 'outage_test|^(--- |ok|FAIL|PASS)' "$log"
echo "after:  $(uptime)"
[[ $rc == 0 ]] || echo "failed: whole output (herald serve's log included) in $log" >&2
exit $rc
