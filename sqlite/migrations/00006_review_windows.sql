-- +goose Up
-- Review before release and send windows: a campaign's allowed hours in
-- Asia/Seoul ('' = the server's default) and the fingerprints (hashes,
-- never tokens) of the admin tokens that created and approved it.
ALTER TABLE campaigns ADD COLUMN send_window TEXT NOT NULL DEFAULT '';
ALTER TABLE campaigns ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
ALTER TABLE campaigns ADD COLUMN approved_by TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE campaigns DROP COLUMN approved_by;
ALTER TABLE campaigns DROP COLUMN created_by;
ALTER TABLE campaigns DROP COLUMN send_window;
