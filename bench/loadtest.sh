#!/usr/bin/env bash
# The report webhook under the seed's own load scenario, then the highest
# rate it sustains: builds herald, starts `herald serve` on SQLite in a temp
# dir with a report token, runs examples/seed-scenario.yml scaled down
# (0 errors expected), then `herald loadtest --find-max`, prints both
# tables and cleans up.
#   bench/loadtest.sh [SCALE] [SLO_P99] [STEP_DURATION]
# HTML reports are left in $HERALD_BENCH_OUT when it is set.
# HERALD_BENCH_DB picks another database, e.g. mysql://root@127.0.0.1:3306/herald_bench
# (the database must exist and be empty) or a postgres:// URL.
set -euo pipefail
cd "$(dirname "$0")/.."
scale=${1:-0.1}
slo=${2:-50ms}
step=${3:-10s}
port=${HERALD_BENCH_PORT:-18580}
tmp=$(mktemp -d)
out=${HERALD_BENCH_OUT:-$tmp}
serve=
cleanup() {
	if [ -n "$serve" ]; then
		kill "$serve" 2>/dev/null || true
		wait "$serve" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/herald" ./cmd/herald
export REPORT_TOKEN=bench-report-token-0123456789
"$tmp/herald" serve --db "${HERALD_BENCH_DB:-sqlite:$tmp/herald.db}" --listen "127.0.0.1:$port" --log-level warn \
	--admin-token bench-admin-token-0123456789 --report-token "$REPORT_TOKEN" &
serve=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done

echo "== seed scenario, --scale-duration $scale"
"$tmp/herald" loadtest examples/seed-scenario.yml --target "http://127.0.0.1:$port" \
	--scale-duration "$scale" --fail-on-error --report "$out/loadtest-seed.html"

echo
echo "== --find-max --slo-p99 $slo --max-error-rate 0.001 --step-duration $step"
"$tmp/herald" loadtest examples/seed-scenario.yml --target "http://127.0.0.1:$port" \
	--find-max --slo-p99 "$slo" --max-error-rate 0.001 --start-rate 100 --step-factor 2 \
	--step-duration "$step" --bisect 4 --report "$out/loadtest-find-max.html"
