-- +goose Up
-- Every delivery report as received, kept for audit. A report that matches
-- no recipient yet waits with next_match_at set; MatchPendingReports
-- retries it with a growing delay.
CREATE TABLE reports (
    id            BIGSERIAL PRIMARY KEY,
    recipient_id  BIGINT, -- no foreign key: its per-row check and KEY SHARE lock were half the insert's cost; recipients are never deleted
    matched       BOOLEAN GENERATED ALWAYS AS (recipient_id IS NOT NULL) STORED,
    msg_key       TEXT NOT NULL,
    ref           TEXT NOT NULL,
    service_type  TEXT NOT NULL,
    report_type   TEXT NOT NULL,
    report_code   TEXT NOT NULL,
    report_text   TEXT NOT NULL,
    report_time   TIMESTAMPTZ NOT NULL,
    -- bytea, not text: the body is kept byte for byte, whatever it holds.
    raw           BYTEA NOT NULL,
    received_at   TIMESTAMPTZ NOT NULL,
    next_match_at TIMESTAMPTZ,
    -- The provider retries a report it thinks was lost: the copy is the
    -- same report for the same message, channel and time.
    UNIQUE (msg_key, service_type, report_type, report_code, report_time)
);

CREATE INDEX reports_pending ON reports (next_match_at) WHERE next_match_at IS NOT NULL;
CREATE INDEX reports_recipient ON reports (recipient_id) WHERE recipient_id IS NOT NULL;

-- +goose Down
DROP TABLE reports;
