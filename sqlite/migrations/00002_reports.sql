-- +goose Up
-- Every delivery report as received, kept for audit. A report that matches
-- no recipient yet waits with next_match_at set; MatchPendingReports
-- retries it with a growing delay.
CREATE TABLE reports (
    id            INTEGER PRIMARY KEY,
    recipient_id  INTEGER, -- no foreign key, as in PostgreSQL (where its check is costly); recipients are never deleted
    matched       INTEGER GENERATED ALWAYS AS (recipient_id IS NOT NULL) VIRTUAL,
    msg_key       TEXT NOT NULL,
    ref           TEXT NOT NULL,
    service_type  TEXT NOT NULL,
    report_type   TEXT NOT NULL,
    report_code   TEXT NOT NULL,
    report_text   TEXT NOT NULL,
    report_time   INTEGER NOT NULL,
    raw           BLOB NOT NULL,
    received_at   INTEGER NOT NULL,
    next_match_at INTEGER,
    -- The provider retries a report it thinks was lost: the copy is the
    -- same report for the same message, channel and time.
    UNIQUE (msg_key, service_type, report_type, report_code, report_time)
) STRICT;

CREATE INDEX reports_pending ON reports (next_match_at) WHERE next_match_at IS NOT NULL;
CREATE INDEX reports_recipient ON reports (recipient_id) WHERE recipient_id IS NOT NULL;

-- +goose Down
DROP TABLE reports;
