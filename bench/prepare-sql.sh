#!/usr/bin/env bash
# The cost of preparing a campaign in the database itself, without herald
# in the way: the INSERT…SELECT of PrepareRecipients on herald's own
# schema (`herald migrate`), ROWS members (default 1,000,000).
#   bench/prepare-sql.sh postgres [ROWS]   backend CPU seconds (/proc of the
#     backend; robust to a busy machine) of the statement as herald runs it,
#     with the counter trigger disabled, with ON CONFLICT DO NOTHING (as
#     before migration 5), and with the foreign key and the two indexes
#     migration 5 removed from the preparation put back
#   bench/prepare-sql.sh mariadb [ROWS]    seconds of the statement with the
#     row trigger counting every row, and skipping them as PrepareRecipients
#     makes it (it counts them itself), alternating, three times
# The database must run on this machine (postgres: to read the backend's
# CPU time). HERALD_BENCH_POSTGRES, HERALD_BENCH_MYSQL(_CLI) as in
# bench/capacity.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
engine=${1:-postgres}
n=${2:-1000000}
pg=${HERALD_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
my=${HERALD_BENCH_MYSQL:-mysql://root@127.0.0.1:3306}
mycli=${HERALD_BENCH_MYSQL_CLI:-"$(command -v mariadb || command -v mysql || echo mariadb) -uroot -h127.0.0.1"}
tmp=$(mktemp -d)
schema=bench_prepsql_$$
cleanup() {
	exec 3>&- 2>/dev/null || true
	kill $(jobs -p) 2>/dev/null || true
	wait 2>/dev/null || true
	[ "$engine" = postgres ] && psql "$pg" -qc "SET client_min_messages = warning; DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null
	[ "$engine" = mariadb ] && $mycli -e "DROP DATABASE IF EXISTS $schema"
	rm -rf "$tmp"
}
trap cleanup EXIT
go build -o "$tmp/herald" ./cmd/herald
insert="INSERT INTO recipients (campaign_id, member_id, phone, state, created_at, updated_at)
	SELECT 1, id, phone, 'PENDING', now(), now() FROM members WHERE status = 'active' ORDER BY id"

if [ "$engine" = postgres ]; then
	psql "$pg" -qc "CREATE SCHEMA $schema"
	"$tmp/herald" migrate --db "${pg}&search_path=$schema" >/dev/null 2>&1
	pgs="${pg}&options=-csearch_path%3D$schema" # psql's spelling of the search_path
	psql "$pgs" -qc "INSERT INTO members (id, phone, status, updated_at)
		SELECT 'm' || lpad(i::text, 8, '0'), '010' || lpad(i::text, 8, '0'), 'active', now() FROM generate_series(1, $n) i;
		INSERT INTO templates (code, sender_key, text, status, created_at) VALUES ('T', 'k', 'hi', 'approved', now());
		INSERT INTO campaigns (id, name, template_code, audience, start_at, tps, state, created_at, updated_at)
		VALUES (1, 'p', 'T', '{\"all\": true}', now(), 1, 'running', now(), now())"
	psql "$pgs" -qc "VACUUM ANALYZE members"
	mkfifo "$tmp/in"
	psql -qAt "$pgs" <"$tmp/in" >"$tmp/out" 2>&1 &
	exec 3>"$tmp/in"
	echo "SET client_min_messages = warning; SELECT pg_backend_pid();" >&3
	until [ -s "$tmp/out" ]; do sleep 0.1; done
	pid=$(head -1 "$tmp/out")
	cpu() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
	i=0
	# run LABEL SQL: the backend CPU of SQL, then the table emptied.
	run() {
		i=$((i + 1))
		local b t0
		b=$(cpu); t0=$(date +%s.%N)
		printf '%s;\nSELECT %s;\n' "$2" "'done-$i'" >&3
		until grep -q "done-$i" "$tmp/out"; do sleep 0.1; done
		awk -v l="$1" -v a="$(cpu)" -v b="$b" -v t0="$t0" -v t1="$(date +%s.%N)" \
			'BEGIN { printf "| %s | %.2f s | %.1f s |\n", l, (a - b) / 100, t1 - t0 }'
		echo "TRUNCATE recipients, recipient_counts; CHECKPOINT;" >&3
	}
	printf '\n| %s rows, PostgreSQL | backend CPU | wall |\n|---|---|---|\n' "$n"
	for _ in 1 2; do
		run "as herald prepares (plain INSERT, counter trigger)" "$insert"
		echo "ALTER TABLE recipients DISABLE TRIGGER recipient_counts_insert;" >&3
		run "the same without the counter trigger" "$insert"
		echo "ALTER TABLE recipients ENABLE TRIGGER recipient_counts_insert;" >&3
		run "with ON CONFLICT (campaign_id, member_id) DO NOTHING" "$insert ON CONFLICT (campaign_id, member_id) DO NOTHING"
		echo "ALTER TABLE recipients ADD CONSTRAINT old_fk FOREIGN KEY (campaign_id) REFERENCES campaigns (id);" >&3
		run "with ON CONFLICT and the foreign key of before migration 5" "$insert ON CONFLICT (campaign_id, member_id) DO NOTHING"
		echo "CREATE INDEX old_campaign_state ON recipients (campaign_id, state); CREATE UNIQUE INDEX old_message_id ON recipients (message_id);" >&3
		run "with ON CONFLICT, the foreign key and the two indexes of before migration 5 (as before)" "$insert ON CONFLICT (campaign_id, member_id) DO NOTHING"
		echo "DROP INDEX old_campaign_state, old_message_id; ALTER TABLE recipients DROP CONSTRAINT old_fk;" >&3
	done
	exit 0
fi

$mycli -e "CREATE DATABASE $schema"
"$tmp/herald" migrate --db "$my/$schema" >/dev/null 2>&1
$mycli "$schema" -e "INSERT INTO members (id, phone, name, attributes, status, updated_at)
	SELECT CONCAT('m', LPAD(seq, 8, '0')), CONCAT('010', LPAD(seq, 8, '0')), '', '{}', 'active', NOW(6) FROM seq_1_to_$n;
	INSERT INTO templates (code, sender_key, text, title, buttons, status, created_at) VALUES ('T', 'k', 'hi', '', '[]', 'approved', NOW(6));
	INSERT INTO campaigns (id, name, template_code, audience, variables, start_at, tps, state, reason, created_at, updated_at)
	VALUES (1, 'p', 'T', '{\"all\": true}', '{}', NOW(6), 1, 'running', '', NOW(6), NOW(6))"
myinsert="INSERT INTO recipients (campaign_id, member_id, phone, state, result_text, created_at, updated_at)
	SELECT 1, id, phone, 'PENDING', '', NOW(6), NOW(6) FROM members WHERE status = 'active' ORDER BY id"
# run LABEL SKIP: seconds of the insert, the trigger skipping campaign SKIP.
run() {
	$mycli "$schema" -N -e "DELETE FROM recipient_counts; TRUNCATE recipients; SET @herald_counted_campaign = $2; SET @t = NOW(6);
		$myinsert; SELECT CONCAT('| $1 | ', ROUND(TIMESTAMPDIFF(MICROSECOND, @t, NOW(6)) / 1e6, 1), ' s |')"
}
printf '\n| %s rows, MariaDB | wall |\n|---|---|\n' "$n"
for _ in 1 2 3; do
	run "row trigger counting every row" NULL
	run "row trigger skipping them (as PrepareRecipients)" 1
done
