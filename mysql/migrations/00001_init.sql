-- +goose Up
-- The schema of postgres/migrations, in InnoDB and utf8mb4. Identifiers and
-- keys compare byte for byte (utf8mb4_bin); times are DATETIME(6) in UTC
-- (the store sets time_zone '+00:00' on every connection).
CREATE TABLE members (
    id         VARCHAR(128) NOT NULL PRIMARY KEY,
    phone      VARCHAR(32) NOT NULL,
    name       TEXT NOT NULL,
    attributes JSON NOT NULL,
    status     VARCHAR(16) NOT NULL,
    version    BIGINT NOT NULL DEFAULT 1,
    updated_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE templates (
    code       VARCHAR(255) NOT NULL PRIMARY KEY,
    sender_key VARCHAR(255) NOT NULL,
    text       TEXT NOT NULL,
    title      TEXT NOT NULL,
    buttons    JSON NOT NULL,
    status     VARCHAR(32) NOT NULL,
    created_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE campaigns (
    id            BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name          TEXT NOT NULL,
    template_code VARCHAR(255) NOT NULL,
    audience      JSON NOT NULL,
    variables     JSON NOT NULL,
    start_at      DATETIME(6) NOT NULL,
    tps           INTEGER NOT NULL,
    state         VARCHAR(16) NOT NULL,
    lease_owner   VARCHAR(255),
    lease_until   DATETIME(6),
    prepared_at   DATETIME(6),
    created_at    DATETIME(6) NOT NULL,
    updated_at    DATETIME(6) NOT NULL,
    CONSTRAINT campaigns_template FOREIGN KEY (template_code) REFERENCES templates (code),
    KEY campaigns_due (state, start_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE recipients (
    id              BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    campaign_id     BIGINT NOT NULL,
    member_id       VARCHAR(128) NOT NULL,
    phone           VARCHAR(32) NOT NULL,
    message_id      VARCHAR(255),
    state           VARCHAR(16) NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    lease_owner     VARCHAR(255),
    lease_until     DATETIME(6),
    next_attempt_at DATETIME(6),
    batch_key       VARCHAR(255),
    sent_at         DATETIME(6),
    msg_key         VARCHAR(255),
    result_code     VARCHAR(255) NOT NULL DEFAULT '',
    result_text     MEDIUMTEXT NOT NULL,
    channel         VARCHAR(64) NOT NULL DEFAULT '',
    created_at      DATETIME(6) NOT NULL,
    updated_at      DATETIME(6) NOT NULL,
    CONSTRAINT recipients_campaign FOREIGN KEY (campaign_id) REFERENCES campaigns (id),
    UNIQUE KEY recipients_member (campaign_id, member_id),
    UNIQUE KEY recipients_message_id (message_id),
    -- Claims read one campaign's rows of one state in id order (the
    -- primary key is the index's tail), never a filesort.
    KEY recipients_campaign_state (campaign_id, state),
    -- Requeue (SENDING) and report expiry (ACCEPTED) read by state in id order.
    KEY recipients_state (state),
    KEY recipients_msg_key (msg_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE recipients;
DROP TABLE campaigns;
DROP TABLE templates;
DROP TABLE members;
