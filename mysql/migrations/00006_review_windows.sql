-- +goose Up
-- Review before release and send windows: a campaign's allowed hours in
-- Asia/Seoul ('' = the server's default) and the fingerprints (hashes,
-- never tokens) of the admin tokens that created and approved it.
ALTER TABLE campaigns ADD COLUMN send_window VARCHAR(16) NOT NULL DEFAULT '';
ALTER TABLE campaigns ADD COLUMN created_by VARCHAR(64) NOT NULL DEFAULT '';
ALTER TABLE campaigns ADD COLUMN approved_by VARCHAR(64) NOT NULL DEFAULT '';

-- One-off messages (POST /v1/messages): each is an outbox row of its
-- template's hidden campaign (kind 'messages'); the caller's
-- idempotency key is unique, so a repeated POST never makes a second row.
ALTER TABLE campaigns ADD COLUMN kind VARCHAR(16) NOT NULL DEFAULT '';
CREATE TABLE messages (
    id              BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    idempotency_key VARCHAR(255) NOT NULL,
    request_hash    VARCHAR(64) NOT NULL,
    template_code   VARCHAR(255) NOT NULL,
    member_id       VARCHAR(255) NOT NULL DEFAULT '',
    phone           VARCHAR(32) NOT NULL DEFAULT '',
    variables       JSON NOT NULL,
    campaign_id     BIGINT NOT NULL,
    recipient_id    BIGINT NULL,
    created_by      VARCHAR(64) NOT NULL DEFAULT '',
    created_at      DATETIME(6) NOT NULL,
    UNIQUE KEY messages_idempotency_key (idempotency_key),
    UNIQUE KEY messages_recipient (recipient_id),
    CONSTRAINT messages_campaign FOREIGN KEY (campaign_id) REFERENCES campaigns (id),
    CONSTRAINT messages_recipient_fk FOREIGN KEY (recipient_id) REFERENCES recipients (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE messages;
ALTER TABLE campaigns DROP COLUMN kind;
ALTER TABLE campaigns DROP COLUMN approved_by;
ALTER TABLE campaigns DROP COLUMN created_by;
ALTER TABLE campaigns DROP COLUMN send_window;
