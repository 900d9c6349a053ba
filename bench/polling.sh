#!/usr/bin/env bash
# Report polling at full size (e2e/polling_test.go, TestPollingSurvivesKills):
# a campaign of 10,000 recipients on SQLite whose reports come only by
# polling (the mock in polling mode, serve with --reports polling), serve
# SIGKILLed twice while batches are in flight. Prints what the test logs:
# counts per state, batches polled and handed out again, reports
# acknowledged, and the busiest second of the non-send APIs (limit 5).
#
#   bench/polling.sh                  # 10000 recipients
#   RECIPIENTS=2000 bench/polling.sh  # the CI size
set -euo pipefail
cd "$(dirname "$0")/.."
export HERALD_E2E_POLL_RECIPIENTS=${RECIPIENTS:-${HERALD_E2E_POLL_RECIPIENTS:-10000}}
echo "polling: $HERALD_E2E_POLL_RECIPIENTS recipients, 2 kills"
start=$(date +%s)
go test -count=1 -run '^TestPollingSurvivesKills$' -v -timeout 20m ./e2e/ | grep -E 'polling_test|^(--- |ok|FAIL)'
echo "wall: $(( $(date +%s) - start )) s"
