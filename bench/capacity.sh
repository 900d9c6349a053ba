#!/usr/bin/env bash
# Pipeline capacity: recipients/s through claim → render → send → record
# with an unlimited mock provider (no latency, no reports), and the peak RSS
# of `herald serve`.
#   bench/capacity.sh [RECIPIENTS] [sqlite|postgres|mariadb] [BATCH_SIZE] [WORKERS]
# mariadb uses HERALD_BENCH_MYSQL (default mysql://root@127.0.0.1:3306) and
# HERALD_BENCH_MYSQL_CLI (default: mariadb -uroot -h127.0.0.1) to make and
# drop a database of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
engine=${2:-sqlite}
batch=${3:-1}
workers=${4:-64}
pg=${HERALD_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
my=${HERALD_BENCH_MYSQL:-mysql://root@127.0.0.1:3306}
mycli=${HERALD_BENCH_MYSQL_CLI:-"$(command -v mariadb || command -v mysql || echo mariadb) -uroot -h127.0.0.1"}
tmp=$(mktemp -d)
schema=bench_capacity_$$
cleanup() {
	kill $(jobs -p) 2>/dev/null || true
	wait 2>/dev/null || true
	[ "$engine" = postgres ] && psql "$pg" -qc "SET client_min_messages = warning; DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null
	[ "$engine" = mariadb ] && $mycli -e "DROP DATABASE IF EXISTS $schema"
	rm -rf "$tmp"
}
trap cleanup EXIT
go build -o "$tmp/herald" ./cmd/herald
token=bench-admin-token-0123456789
export HERALD_SERVER=http://127.0.0.1:18480 HERALD_ADMIN_TOKEN=$token

awk -v n="$n" 'BEGIN { print "id,phone,name,order"; for (i = 0; i < n; i++) printf "m%08d,010%08d,회원%d,%d\n", i, i, i, 100000 + i }' >"$tmp/members.csv"
case $engine in
sqlite) db="sqlite:$tmp/herald.db" ;;
postgres) psql "$pg" -qc "CREATE SCHEMA $schema"; db="${pg}&search_path=$schema" ;;
mariadb) $mycli -e "CREATE DATABASE $schema"; db="$my/$schema" ;;
*) echo "engine: sqlite, postgres or mariadb" >&2; exit 2 ;;
esac

echo '[{"code": "CAP", "text": "#{name}님, 주문 #{order}번이 발송되었습니다."}]' >"$tmp/templates.json"
"$tmp/herald" mock-provider --listen 127.0.0.1:18490 --key k --tps 1000000 --reports off --log-level warn --templates "$tmp/templates.json" &
"$tmp/herald" serve --db "$db" --listen 127.0.0.1:18480 --admin-token "$token" --log-level warn \
	--provider-url http://127.0.0.1:18490 --provider-key k --tps 0 --batch-size "$batch" --workers "$workers" &
serve=$!
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:18480/readyz >/dev/null && break; sleep 0.1; done
"$tmp/herald" members import "$tmp/members.csv" >/dev/null
"$tmp/herald" templates add --code CAP --sender-key sk --text '#{name}님, 주문 #{order}번이 발송되었습니다.' >/dev/null
start=$(date +%s.%N)
id=$("$tmp/herald" campaigns create --name capacity --template CAP --all --tps 100000 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
while :; do
	state=$("$tmp/herald" campaigns show "$id" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
	[ "$state" = completed ] && break
	sleep 0.5
done
end=$(date +%s.%N)
dups=$(curl -s http://127.0.0.1:18490/mock/stats | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["duplicate_refs"], s["accepted"])')
rss=$(awk '/VmHWM/ {printf "%.0f MB", $2/1024}' "/proc/$serve/status")
awk -v s="$start" -v e="$end" -v n="$n" -v eng="$engine" -v b="$batch" -v w="$workers" -v rss="$rss" -v d="$dups" \
	'BEGIN { split(d, x, " "); printf "| %s | %d | %d | %d | %.1f | %.0f | %s | %s dup / %s accepted |\n", eng, n, b, w, e - s, n / (e - s), rss, x[1], x[2] }'
