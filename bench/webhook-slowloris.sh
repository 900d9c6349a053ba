#!/usr/bin/env bash
# Slow-loris connections beside honest report traffic, against
# `herald serve` as shipped (default timeouts: 5 s to send the headers,
# 5 s for a body), in ONE run so that the two p99 are comparable on a
# shared machine: for each engine, wrk with the seed's /reception-result
# body (bench/wrk/seed.lua) at CONNS connections for DURATION, first
# alone, then beside LORIS slow-loris connections (bench/loris: one byte
# a second each, reopened at once when the server cuts them; BODY_SHARE of
# them send complete authenticated headers and trickle the body, the rest
# trickle the headers). One row per wrk run: honest reports/s, p99,
# errors, how many loris connections were held open meanwhile (least /
# mean / most, sampled every 100 ms) and the load average at the end of
# the run; then what loris saw (cuts, their timing, the answers).
#
#   bench/webhook-slowloris.sh                    # about 1 minute
#   LORIS=2000 BODY_SHARE=1 ENGINES=sqlite bench/webhook-slowloris.sh
#
# PostgreSQL: HERALD_TEST_POSTGRES (default postgres://postgres@127.0.0.1:5432/test);
# each run gets a schema of its own, dropped at the end. Needs wrk and psql.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
LORIS=${LORIS:-1000}
BODY_SHARE=${BODY_SHARE:-0.5}
INTERVAL=${INTERVAL:-1s}
ENGINES=${ENGINES:-'sqlite postgres'}
PG=${HERALD_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}
TOKEN=report-token-0123456789
ADMIN=admin-token-0123456789ab
PORT=${PORT:-18282}

bench_setup
go build -o "$tmp/herald" ./cmd/herald
go build -o "$tmp/loris" ./bench/loris

# row ENGINE LORIS HELD: one line of the table, from wrk_run's results.
row() {
	printf '%-10s %6s %10.0f %8.1f %7s %16s %6s\n' "$1" "$2" "$rate" "$p99ms" "$errors" "$3" "$(cut -d' ' -f1 /proc/loadavg)"
}

# start_loris: LORIS connections against herald, until they are all open.
start_loris() {
	"$tmp/loris" -addr "127.0.0.1:$PORT" -conns "$LORIS" -body-share "$BODY_SHARE" -interval "$INTERVAL" \
		-token "$TOKEN" >"$tmp/loris.out" 2>&1 & loris=$!; pids+=("$loris")
	for _ in $(seq 600); do grep -q '^ready' "$tmp/loris.out" && return; sleep 0.1; done
	echo "loris never held its $LORIS connections: $(cat "$tmp/loris.out")" >&2
	exit 1
}

printf '%-10s %6s %10s %8s %7s %16s %6s\n' engine loris reports/s p99-ms errors 'held (min/avg/max)' load
summaries=()
for engine in $ENGINES; do
	bench_db "$engine" bench_slowloris
	HERALD_REPORT_TOKEN=$TOKEN "$tmp/herald" serve --db "$db" --listen "127.0.0.1:$PORT" --admin-token "$ADMIN" \
		--max-connections $((LORIS + CONNS + 1024)) --log-level warn ${SERVE_FLAGS:-} 2>"$tmp/serve-$engine.log" & serve=$!; pids+=("$serve")
	wait_port "$PORT"

	wrk_run "$CONNS" "q$engine" 0 "http://127.0.0.1:$PORT"
	row "$engine" 0 -

	start_loris
	wrk_run "$CONNS" "l$engine" 0 "http://127.0.0.1:$PORT"
	# Before loris stops: its last bodies, cut short, would be refusals too.
	refused=$(curl -s "http://127.0.0.1:$PORT/metrics" | awk -F'[{}"]' '/^herald_reports_refused_total\{/ { printf "%s%s%s", sep, $3, $5; sep = ", " }')
	kill -INT "$loris"; wait "$loris" 2>/dev/null || true
	summary=$(grep '^loris:' "$tmp/loris.out")
	row "$engine" "$LORIS" "$(sed -E 's/.*least ([0-9]+), mean ([0-9]+), most ([0-9]+).*/\1\/\2\/\3/' <<<"$summary")"
	summaries+=("$engine: $summary; herald refused: ${refused:-none}")
	kill "$serve"; wait "$serve" 2>/dev/null || true
done
for s in "${summaries[@]}"; do echo "$s"; done
echo "machine: $(nproc) cores shared with other work; $(date -u '+%F %H:%M UTC'); honest p99 target ≤ 50 ms"
