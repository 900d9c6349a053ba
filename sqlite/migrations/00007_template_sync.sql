-- +goose Up
-- Template sync (herald templates sync): the inspection state at the
-- provider as of the last sync, the hash of the provider's copy then (a
-- template whose own content differs cannot be sent), and when.
ALTER TABLE templates ADD COLUMN provider_status TEXT NOT NULL DEFAULT '';
ALTER TABLE templates ADD COLUMN provider_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE templates ADD COLUMN synced_at INTEGER;

-- +goose Down
ALTER TABLE templates DROP COLUMN synced_at;
ALTER TABLE templates DROP COLUMN provider_hash;
ALTER TABLE templates DROP COLUMN provider_status;
