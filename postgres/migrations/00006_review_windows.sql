-- +goose Up
-- Review before release and send windows: a campaign's allowed hours in
-- Asia/Seoul ('' = the server's default) and the fingerprints (hashes,
-- never tokens) of the admin tokens that created and approved it.
ALTER TABLE campaigns ADD COLUMN send_window TEXT NOT NULL DEFAULT '';
ALTER TABLE campaigns ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
ALTER TABLE campaigns ADD COLUMN approved_by TEXT NOT NULL DEFAULT '';

-- One-off messages (POST /v1/messages): each is an outbox row of its
-- template's hidden campaign (kind 'messages'); the caller's
-- idempotency key is unique, so a repeated POST never makes a second row.
ALTER TABLE campaigns ADD COLUMN kind TEXT NOT NULL DEFAULT '';
CREATE TABLE messages (
    id              BIGSERIAL PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    request_hash    TEXT NOT NULL,
    template_code   TEXT NOT NULL,
    member_id       TEXT NOT NULL DEFAULT '',
    phone           TEXT NOT NULL DEFAULT '',
    variables       JSONB NOT NULL DEFAULT '{}',
    campaign_id     BIGINT NOT NULL REFERENCES campaigns (id),
    recipient_id    BIGINT UNIQUE REFERENCES recipients (id),
    created_by      TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX campaigns_messages ON campaigns (template_code) WHERE kind = 'messages';

-- +goose Down
DROP TABLE messages;
DROP INDEX IF EXISTS campaigns_messages;
ALTER TABLE campaigns DROP COLUMN kind;
ALTER TABLE campaigns DROP COLUMN approved_by;
ALTER TABLE campaigns DROP COLUMN created_by;
ALTER TABLE campaigns DROP COLUMN send_window;
