# Shared by the bench scripts that drive `herald serve` with wrk
# (bench/webhook.sh, bench/webhook-slowloris.sh): source it from the
# repository root. wrk_run reads THREADS, DURATION and TOKEN; bench_cleanup
# reads PG.

# wait_port PORT: until something listens on 127.0.0.1:PORT (20 s at most).
wait_port() {
	for _ in $(seq 200); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done
	echo "port $1 never opened" >&2
	exit 1
}

# wrk_run CONNS RUN DUP URL: one wrk run of bench/wrk/seed.lua (ids
# prefixed RUN, 50% copies when DUP is 1); sets rate (requests/s), p99ms,
# errors (non-2xx answers and socket errors) and unique (ids issued).
wrk_run() {
	local conns=$1 run=$2 dup=$3 url=$4 out p99 non2xx sock
	out=$(HERALD_WRK_TOKEN=$TOKEN HERALD_WRK_RUN=$run HERALD_WRK_DUP=$dup \
		wrk -t"$THREADS" -c"$conns" -d"$DURATION" --latency -s bench/wrk/seed.lua "$url" 2>&1)
	rate=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
	p99=$(awk '$1 == "99%" { v = $2; if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /us$/) { sub(/us$/, "", v); v = v / 1000 } else if (v ~ /s$/) { sub(/s$/, "", v); v = v * 1000 } print v }' <<<"$out")
	non2xx=$(awk '/Non-2xx/ { print $NF }' <<<"$out")
	sock=$(awk '/Socket errors/ { n = 0; for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) n += $i; print n }' <<<"$out")
	errors=$(( ${non2xx:-0} + ${sock:-0} ))
	unique=$(awk '/^issued/ { print $4 }' <<<"$out")
	p99ms=$p99
}

# bench_setup: checks for wrk, makes $tmp, and on exit kills the processes
# in pids, drops the PostgreSQL schema named in schema (from $PG) and
# removes $tmp.
bench_setup() {
	command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 1; }
	tmp=$(mktemp -d)
	pids=()
	schema=
	trap bench_cleanup EXIT
}

# bench_db ENGINE NAME: sets db to a SQLite file in $tmp, or to a new
# PostgreSQL schema NAME_<pid> on $PG (in schema, which bench_cleanup drops).
bench_db() {
	case $1 in
	sqlite) db="sqlite:$tmp/bench.db" ;;
	postgres)
		schema=$2_$$
		psql -q "$PG" -c "CREATE SCHEMA $schema" >/dev/null
		if [[ $PG == *\?* ]]; then db="$PG&search_path=$schema"; else db="$PG?search_path=$schema"; fi ;;
	*) echo "unknown engine $1 (sqlite, postgres)" >&2; exit 1 ;;
	esac
}

# stored_counts ENGINE RUN: "ROWS KEYS", the reports stored with ids of
# wrk_run's run RUN and how many distinct ids they hold, in the database
# bench_db made; nothing when SQLite's sqlite3 is not installed.
stored_counts() {
	if [[ $1 == postgres ]]; then
		psql -qtA -F' ' "$PG" -c "SELECT count(*), count(DISTINCT msg_key) FROM $schema.reports WHERE msg_key LIKE '$2-%'"
	elif command -v sqlite3 >/dev/null; then
		sqlite3 "$tmp/bench.db" "SELECT count(*) || ' ' || count(DISTINCT msg_key) FROM reports WHERE msg_key LIKE '$2-%'"
	fi
}

bench_cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [[ -n $schema ]]; then psql -q "$PG" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true; fi
	rm -rf "$tmp"
}
