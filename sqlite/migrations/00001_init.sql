-- +goose Up
CREATE TABLE members (
    id         TEXT PRIMARY KEY,
    phone      TEXT NOT NULL,
    name       TEXT NOT NULL DEFAULT '',
    attributes TEXT NOT NULL DEFAULT '{}',
    status     TEXT NOT NULL,
    version    INTEGER NOT NULL DEFAULT 1,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE templates (
    code       TEXT PRIMARY KEY,
    sender_key TEXT NOT NULL,
    text       TEXT NOT NULL,
    title      TEXT NOT NULL DEFAULT '',
    buttons    TEXT NOT NULL DEFAULT '[]',
    status     TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE campaigns (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT NOT NULL,
    template_code TEXT NOT NULL REFERENCES templates (code),
    audience      TEXT NOT NULL,
    variables     TEXT NOT NULL DEFAULT '{}',
    start_at      INTEGER NOT NULL,
    tps           INTEGER NOT NULL,
    state         TEXT NOT NULL,
    lease_owner   TEXT,
    lease_until   INTEGER,
    prepared_at   INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE recipients (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id     INTEGER NOT NULL REFERENCES campaigns (id),
    member_id       TEXT NOT NULL,
    phone           TEXT NOT NULL,
    message_id      TEXT UNIQUE,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    lease_owner     TEXT,
    lease_until     INTEGER,
    next_attempt_at INTEGER,
    batch_key       TEXT,
    sent_at         INTEGER,
    msg_key         TEXT,
    result_code     TEXT NOT NULL DEFAULT '',
    result_text     TEXT NOT NULL DEFAULT '',
    channel         TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (campaign_id, member_id)
) STRICT;

-- Claims scan only rows that can still be sent.
CREATE INDEX recipients_claimable ON recipients (campaign_id, id)
    WHERE state IN ('PENDING', 'RETRY_WAIT');
CREATE INDEX recipients_sending ON recipients (lease_until) WHERE state = 'SENDING';
CREATE INDEX recipients_campaign_state ON recipients (campaign_id, state);
CREATE INDEX recipients_msg_key ON recipients (msg_key) WHERE msg_key IS NOT NULL;
CREATE INDEX recipients_accepted ON recipients (id) WHERE state = 'ACCEPTED';

-- +goose Down
DROP TABLE recipients;
DROP TABLE campaigns;
DROP TABLE templates;
DROP TABLE members;
