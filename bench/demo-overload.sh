#!/usr/bin/env bash
# herald demo on a machine loaded past its cores: HOGS busy loops (default
# twice the cores) run beside `herald demo` for its whole run, so that
# timers and requests run late. The demo's verdict counts, at the mock
# provider, rate refusals and the highest 1-s window; it should stay OK
# (the limiter widens its window by its own timer's lateness, see
# docs/ARCHITECTURE.md, Pacing).
#
#   bench/demo-overload.sh            # about a minute
#   HOGS=8 bench/demo-overload.sh
set -euo pipefail
cd "$(dirname "$0")/.."
HOGS=${HOGS:-$(( 2 * $(nproc) ))}
tmp=$(mktemp -d)
hogs=()
cleanup() {
	for p in "${hogs[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
go build -o "$tmp/herald" ./cmd/herald
for _ in $(seq "$HOGS"); do sh -c 'while :; do :; done' & hogs+=($!); done
echo "$(nproc) cores, $HOGS busy loops beside the demo; load average $(cut -d' ' -f1 /proc/loadavg)"
cd "$tmp"
status=0
./herald demo 2>&1 | sed -n '/^herald demo:/,$p' || status=$?
echo "load average at the end $(cut -d' ' -f1 /proc/loadavg)"
exit "$status"
