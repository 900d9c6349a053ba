-- +goose Up
-- The keys every report looks up, inserts and sorts are opaque
-- identifiers: compared byte for byte ("C"), not by the database's locale.
-- Under a libc locale (C.UTF-8 too, on PostgreSQL 15) every comparison of
-- a btree descent and of the report statement's sort calls strcoll on
-- copies of the strings, without abbreviated keys. Text to text is
-- binary-coercible: the tables are not rewritten, the indexes on these
-- columns are rebuilt.
ALTER TABLE reports
    ALTER COLUMN msg_key TYPE TEXT COLLATE "C",
    ALTER COLUMN ref TYPE TEXT COLLATE "C",
    ALTER COLUMN service_type TYPE TEXT COLLATE "C",
    ALTER COLUMN report_type TYPE TEXT COLLATE "C",
    ALTER COLUMN report_code TYPE TEXT COLLATE "C";
ALTER TABLE recipients
    ALTER COLUMN message_id TYPE TEXT COLLATE "C",
    ALTER COLUMN msg_key TYPE TEXT COLLATE "C";
-- Nothing reads it (recipient_id IS NOT NULL says the same), and a stored
-- generated column is computed on every insert and update of a report.
ALTER TABLE reports DROP COLUMN matched;

-- +goose Down
ALTER TABLE reports ADD COLUMN matched BOOLEAN GENERATED ALWAYS AS (recipient_id IS NOT NULL) STORED;
ALTER TABLE recipients
    ALTER COLUMN msg_key TYPE TEXT COLLATE "default",
    ALTER COLUMN message_id TYPE TEXT COLLATE "default";
ALTER TABLE reports
    ALTER COLUMN report_code TYPE TEXT COLLATE "default",
    ALTER COLUMN report_type TYPE TEXT COLLATE "default",
    ALTER COLUMN service_type TYPE TEXT COLLATE "default",
    ALTER COLUMN ref TYPE TEXT COLLATE "default",
    ALTER COLUMN msg_key TYPE TEXT COLLATE "default";
