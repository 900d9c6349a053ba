#!/usr/bin/env bash
# Preparation of a big campaign and the cost of reading its progress:
# imports RECIPIENTS generated members, creates a campaign to all of them
# (at 1 TPS, so that sending does not compete), times creation → total
# reached RECIPIENTS, then times GET /v1/campaigns/{id} and GET /v1/campaigns
# from outside (curl, REPEAT calls each: median and max).
#   bench/prepare.sh [RECIPIENTS] [postgres|sqlite|mariadb] [REPEAT]
# HERALD_BENCH_POSTGRES / HERALD_BENCH_MYSQL / HERALD_BENCH_MYSQL_CLI as in
# bench/capacity.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
engine=${2:-postgres}
repeat=${3:-20}
pg=${HERALD_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
my=${HERALD_BENCH_MYSQL:-mysql://root@127.0.0.1:3306}
mycli=${HERALD_BENCH_MYSQL_CLI:-"$(command -v mariadb || command -v mysql || echo mariadb) -uroot -h127.0.0.1"}
tmp=$(mktemp -d)
schema=bench_prepare_$$
port=$((18500 + RANDOM % 400))
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
export HERALD_SERVER=http://127.0.0.1:$port HERALD_ADMIN_TOKEN=$token

awk -v n="$n" 'BEGIN { print "id,phone,name"; for (i = 0; i < n; i++) printf "m%08d,010%08d,회원%d\n", i, i, i }' >"$tmp/members.csv"
case $engine in
sqlite) db="sqlite:$tmp/herald.db" ;;
postgres) psql "$pg" -qc "CREATE SCHEMA $schema"; db="${pg}&search_path=$schema" ;;
mariadb) $mycli -e "CREATE DATABASE $schema"; db="$my/$schema" ;;
*) echo "engine: sqlite, postgres or mariadb" >&2; exit 2 ;;
esac
echo '[{"code": "PREP", "text": "#{name}님, 안녕하세요."}]' >"$tmp/templates.json"
"$tmp/herald" mock-provider --listen 127.0.0.1:$((port + 1)) --key k --tps 1000000 --reports off --log-level warn --templates "$tmp/templates.json" &
"$tmp/herald" serve --db "$db" --listen 127.0.0.1:$port --admin-token "$token" --log-level warn \
	--provider-url http://127.0.0.1:$((port + 1)) --provider-key k &
for _ in $(seq 1 100); do curl -sf "$HERALD_SERVER/readyz" >/dev/null && break; sleep 0.1; done
"$tmp/herald" members import "$tmp/members.csv" >/dev/null
"$tmp/herald" templates add --code PREP --sender-key sk --text '#{name}님, 안녕하세요.' >/dev/null

start=$(date +%s.%N)
id=$("$tmp/herald" campaigns create --name prepare --template PREP --all --tps 1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
while :; do
	total=$(curl -sf -H "Authorization: Bearer $token" "$HERALD_SERVER/v1/campaigns/$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
	[ "$total" -ge "$n" ] && break
	sleep 0.2
done
end=$(date +%s.%N)

# times URL REPEAT: median and max of curl's time_total, in ms.
times() {
	for _ in $(seq 1 "$repeat"); do
		curl -sf -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $token" "$1"
	done | sort -n | awk '{ t[NR] = $1 * 1000 } END { printf "%.1f ms median, %.1f ms max", t[int((NR + 1) / 2)], t[NR] }'
}
get=$(times "$HERALD_SERVER/v1/campaigns/$id")
list=$(times "$HERALD_SERVER/v1/campaigns")
awk -v s="$start" -v e="$end" -v n="$n" -v eng="$engine" -v g="$get" -v l="$list" \
	'BEGIN { printf "| %s | %d | %.1f | %s | %s |\n", eng, n, e - s, g, l }'
