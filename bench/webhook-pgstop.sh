#!/usr/bin/env bash
# The PostgreSQL server itself stopped under a report stream (where
# bench/webhook-outage.sh cuts a TCP proxy and leaves the server up): wrk
# with the seed's /reception-result body (bench/wrk/seed.lua, unique ids)
# at CONNS connections against `herald serve --report-spool-dir` on a
# schema of its own; STOP_AFTER into the run this machine's PostgreSQL
# cluster is stopped (pg_ctlcluster … stop -m fast: sessions are ended, new
# connections refused), and DOWN later started again. It prints wrk's rate,
# p99 and errors, the spool's largest size, and fails unless every report
# issued was answered 200 and is in the database exactly once after the
# spool has drained.
#
# It stops the machine's PostgreSQL, so it runs only when asked to:
#
#   HERALD_BENCH_STOP_PG=1 bench/webhook-pgstop.sh             # 30 s down, 64 connections
#   HERALD_BENCH_STOP_PG=1 DOWN=60 CONNS=256 bench/webhook-pgstop.sh
#
# PostgreSQL: HERALD_TEST_POSTGRES (default postgres://postgres@127.0.0.1:5432/test),
# the cluster CLUSTER (default: the only one, as "VERSION main"). Needs wrk,
# psql and pg_ctlcluster, as root or postgres.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

[[ ${HERALD_BENCH_STOP_PG:-} == 1 ]] || { echo "this stops the machine's PostgreSQL: set HERALD_BENCH_STOP_PG=1" >&2; exit 2; }
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
STOP_AFTER=${STOP_AFTER:-10}
DOWN=${DOWN:-30}
AFTER=${AFTER:-10}
PG=${HERALD_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}
CLUSTER=${CLUSTER:-"$(ls /etc/postgresql) main"}
TOKEN=report-token-0123456789
ADMIN=admin-token-0123456789ab
PORT=${PORT:-18382}
DURATION=$((STOP_AFTER + DOWN + AFTER))s

bench_setup
pg() { pg_ctlcluster --skip-systemctl-redirect $CLUSTER "$1" "${@:2}"; }
# Whatever happens, the server is left running.
trap 'pg start >/dev/null 2>&1 || true; bench_cleanup' EXIT
go build -o "$tmp/herald" ./cmd/herald
bench_db postgres bench_pgstop
mkdir "$tmp/spool"
HERALD_REPORT_TOKEN=$TOKEN "$tmp/herald" serve --db "$db" --listen "127.0.0.1:$PORT" --admin-token "$ADMIN" \
	--log-level warn --report-spool-dir "$tmp/spool" 2>"$tmp/serve.log" & serve=$!; pids+=("$serve")
wait_port "$PORT"

# spool_bytes: herald_report_spool_bytes from /metrics (acknowledged, not
# yet in the database).
spool_bytes() { curl -sf "http://127.0.0.1:$PORT/metrics" | awk '$1 == "herald_report_spool_bytes" { printf "%d", $2 }'; }
# The spool's size, sampled every 100 ms; the largest is printed.
(peak=0; while kill -0 "$serve" 2>/dev/null; do
	b=$(spool_bytes || true); ((${b:-0} > peak)) && peak=$b && echo "$peak" >"$tmp/spool-peak"; sleep 0.1
done) & pids+=($!)

(sleep "$STOP_AFTER"; echo "$(date +%T) stopping PostgreSQL ($CLUSTER)"; pg stop -m fast
	sleep "$DOWN"; echo "$(date +%T) starting PostgreSQL"; pg start) & stopper=$!
echo "$(date +%T) wrk: $CONNS connections for $DURATION, PostgreSQL down from ${STOP_AFTER}s for ${DOWN}s"
wrk_run "$CONNS" pgstop 0 "http://127.0.0.1:$PORT"
wait "$stopper"
echo "$(date +%T) wrk done: ${rate} reports/s, p99 ${p99ms} ms, $errors errors, $unique ids issued; spool at most $(cat "$tmp/spool-peak" 2>/dev/null || echo 0) bytes"

# The spool drains into the database once it is back.
for _ in $(seq 600); do
	[[ $(spool_bytes || true) == 0 ]] && break
	sleep 0.5
done
read -r rows keys < <(stored_counts postgres pgstop)
echo "stored: $unique unique ids issued, $rows reports stored for $keys distinct ids"
if [[ $errors != 0 || $rows != "$unique" || $keys != "$unique" ]]; then
	echo "NOT met: every report issued answered 200 and stored exactly once (serve's log: $tmp/serve.log, kept)" >&2
	cp "$tmp/serve.log" /tmp/webhook-pgstop-serve.log
	exit 1
fi
echo "met: every report answered 200 and stored exactly once"
