-- +goose Up
CREATE TABLE members (
    id         TEXT PRIMARY KEY,
    phone      TEXT NOT NULL,
    name       TEXT NOT NULL DEFAULT '',
    attributes JSONB NOT NULL DEFAULT '{}',
    status     TEXT NOT NULL,
    version    BIGINT NOT NULL DEFAULT 1,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX members_attributes ON members USING GIN (attributes jsonb_path_ops);

CREATE TABLE templates (
    code       TEXT PRIMARY KEY,
    sender_key TEXT NOT NULL,
    text       TEXT NOT NULL,
    title      TEXT NOT NULL DEFAULT '',
    buttons    JSONB NOT NULL DEFAULT '[]',
    status     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE campaigns (
    id            BIGSERIAL PRIMARY KEY,
    name          TEXT NOT NULL,
    template_code TEXT NOT NULL REFERENCES templates (code),
    audience      JSONB NOT NULL,
    variables     JSONB NOT NULL DEFAULT '{}',
    start_at      TIMESTAMPTZ NOT NULL,
    tps           INTEGER NOT NULL,
    state         TEXT NOT NULL,
    lease_owner   TEXT,
    lease_until   TIMESTAMPTZ,
    prepared_at   TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE recipients (
    id              BIGSERIAL PRIMARY KEY,
    campaign_id     BIGINT NOT NULL REFERENCES campaigns (id),
    member_id       TEXT NOT NULL,
    phone           TEXT NOT NULL,
    message_id      TEXT UNIQUE,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    lease_owner     TEXT,
    lease_until     TIMESTAMPTZ,
    next_attempt_at TIMESTAMPTZ,
    batch_key       TEXT,
    sent_at         TIMESTAMPTZ,
    msg_key         TEXT,
    result_code     TEXT NOT NULL DEFAULT '',
    result_text     TEXT NOT NULL DEFAULT '',
    channel         TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (campaign_id, member_id)
);

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
