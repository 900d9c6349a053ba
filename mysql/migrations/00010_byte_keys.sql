-- +goose Up
-- Nothing reads it (recipient_id IS NOT NULL says the same), and a stored
-- generated column is computed on every insert and update of a report.
-- (The keys are compared byte for byte already: utf8mb4_bin, migration 1.)
ALTER TABLE reports DROP COLUMN matched;

-- +goose Down
ALTER TABLE reports ADD COLUMN matched BOOLEAN GENERATED ALWAYS AS (recipient_id IS NOT NULL) STORED AFTER recipient_id;
