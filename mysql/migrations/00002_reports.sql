-- +goose Up
-- Every delivery report as received, kept for audit (fields wider than
-- these columns are cut to fit, the raw body never). A report that matches
-- no recipient yet waits with next_match_at set; MatchPendingReports
-- retries it with a growing delay.
CREATE TABLE reports (
    id            BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    recipient_id  BIGINT, -- no foreign key, as in PostgreSQL: recipients are never deleted
    matched       BOOLEAN GENERATED ALWAYS AS (recipient_id IS NOT NULL) STORED,
    msg_key       VARCHAR(255) NOT NULL,
    ref           VARCHAR(255) NOT NULL,
    service_type  VARCHAR(64) NOT NULL,
    report_type   VARCHAR(64) NOT NULL,
    report_code   VARCHAR(255) NOT NULL,
    report_text   MEDIUMTEXT NOT NULL,
    report_time   DATETIME(6) NOT NULL,
    -- a blob, not text: the body is kept byte for byte, whatever it holds.
    raw           LONGBLOB NOT NULL,
    received_at   DATETIME(6) NOT NULL,
    next_match_at DATETIME(6),
    -- The provider retries a report it thinks was lost: the copy is the
    -- same report for the same message, channel and time.
    UNIQUE KEY reports_copy (msg_key, service_type, report_type, report_code, report_time),
    KEY reports_pending (next_match_at),
    KEY reports_recipient (recipient_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE reports;
