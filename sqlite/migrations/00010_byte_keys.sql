-- +goose Up
-- Nothing reads it (recipient_id IS NOT NULL says the same); dropped in
-- every store, where PostgreSQL and MariaDB computed it on every write.
-- (SQLite compares the keys byte for byte already: BINARY.)
ALTER TABLE reports DROP COLUMN matched;

-- +goose Down
ALTER TABLE reports ADD COLUMN matched INTEGER GENERATED ALWAYS AS (recipient_id IS NOT NULL) VIRTUAL;
