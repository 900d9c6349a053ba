-- +goose Up
-- Template sync (herald templates sync): the inspection state at the
-- provider as of the last sync, the hash of the provider's copy then (a
-- template whose own content differs cannot be sent), and when.
ALTER TABLE templates
    ADD COLUMN provider_status VARCHAR(8) NOT NULL DEFAULT '',
    ADD COLUMN provider_hash   VARCHAR(64) NOT NULL DEFAULT '',
    ADD COLUMN synced_at       DATETIME(6) NULL;

-- +goose Down
ALTER TABLE templates DROP COLUMN synced_at, DROP COLUMN provider_hash, DROP COLUMN provider_status;
