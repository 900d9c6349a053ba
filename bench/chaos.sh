#!/usr/bin/env bash
# Chaos at full size (e2e/chaos_test.go): one campaign sent through a mock
# provider that browns out — answers held 15 s (past herald's 10 s timeout:
# accepted, in doubt), then the port shut for 10 s (ECONNREFUSED), then
# 10 s of 429 A020 — while `herald serve` is SIGKILLed at random moments
# and reports come back 30 s late. Runs TestChaos (SQLite, one serve) and
# TestChaosTwoServesPostgres (two serves on one schema; skipped without
# PostgreSQL unless CI=true) and prints the figures they log: counts per
# state, UNKNOWN reasons, duplicates at the provider, the mock's
# accepted/replayed/refused, each kill's recovery, wall time.
#
#   bench/chaos.sh                                  # 20000 recipients, 300 TPS, 5 kills
#   RECIPIENTS=5000 KILLS=3 SCALE=0.5 bench/chaos.sh
#   TESTS='TestChaos$' bench/chaos.sh               # SQLite only
# Every HERALD_CHAOS_* knob of the test is passed through (BATCH_SIZE,
# WORKERS, LEASE_TTL, REPORT_DELAY, HOLD_ANSWER, PROVIDER_TIMEOUT,
# REPORT_WINDOW, TIMEOUT, BREAKER=off); HERALD_TEST_POSTGRES picks the server.
set -euo pipefail
cd "$(dirname "$0")/.."
tests=${TESTS:-TestChaos}
export HERALD_CHAOS_RECIPIENTS=${RECIPIENTS:-${HERALD_CHAOS_RECIPIENTS:-20000}}
export HERALD_CHAOS_TPS=${TPS:-${HERALD_CHAOS_TPS:-300}}
export HERALD_CHAOS_KILLS=${KILLS:-${HERALD_CHAOS_KILLS:-5}}
export HERALD_CHAOS_PHASE_SCALE=${SCALE:-${HERALD_CHAOS_PHASE_SCALE:-1}}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "chaos: $HERALD_CHAOS_RECIPIENTS recipients at $HERALD_CHAOS_TPS TPS, $HERALD_CHAOS_KILLS kills, phase scale $HERALD_CHAOS_PHASE_SCALE ($tests)"
status=0
# One test at a time (PARALLEL=2 runs both at once): cleaner timings.
go test -count=1 -run "^(${tests})" -v -parallel "${PARALLEL:-1}" -timeout 30m ./e2e/ >"$log" 2>&1 || status=$?
# The figures: every line the chaos test logs, under the test's name.
grep -E 'chaos_test\.go|^=== (NAME|CONT)|^(--- |ok|FAIL|PASS)|^\s+e2e_test\.go:[0-9]+: .* output' "$log" |
	sed -E 's/^ +chaos_test\.go:[0-9]+: /  /; s/^=== (NAME|CONT) +/== /' || true
if [ "$status" -ne 0 ]; then
	echo "go test exited $status; full log:" >&2
	tail -n 200 "$log" >&2
fi
exit "$status"
