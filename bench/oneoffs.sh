#!/usr/bin/env bash
# One-off messages beside a campaign at full size (e2e/oneoffs_test.go):
# a campaign at the sender key's whole limit (200 TPS), and meanwhile
# 2,000 POST /v1/messages at 20/s, every tenth a repeat of an earlier
# Idempotency-Key. One `herald serve` on PostgreSQL, batches of 10, a mock
# that does not limit (it counts at arrival) answering in 30 ms ± 25 ms.
# Prints the highest 1-s window at the provider, duplicates, and the
# latency from POST to the recorded acceptance (p50/p99/max); fails when
# p99 is over 2 s.
#
#   bench/oneoffs.sh                          # 30000 recipients, 2000 posts
#   RECIPIENTS=10000 MESSAGES=1000 bench/oneoffs.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export HERALD_ONEOFF_RECIPIENTS=${RECIPIENTS:-30000}
export HERALD_ONEOFF_MESSAGES=${MESSAGES:-2000}
export HERALD_ONEOFF_TPS=${TPS:-200}
export HERALD_ONEOFF_HEADROOM=${HEADROOM:-0.015} # serve's default
export HERALD_ONEOFF_ASSERT_P99=1
go test -count=1 -run '^TestOneOffsBesideCampaign$' -v -timeout 30m ./e2e/ 2>&1 | grep -E 'oneoffs_test\.go|^(--- |ok|FAIL)'
