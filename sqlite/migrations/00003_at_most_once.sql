-- +goose Up
-- At most once: every claim bumps claim_token, the fence of every later
-- write; a row with a batch_key may have been taken and is only ever sent
-- again as the frozen request under that key (in_doubt says so for good).
ALTER TABLE recipients ADD COLUMN claim_token INTEGER NOT NULL DEFAULT 0;
ALTER TABLE recipients ADD COLUMN resends INTEGER NOT NULL DEFAULT 0;
ALTER TABLE recipients ADD COLUMN in_doubt INTEGER NOT NULL DEFAULT 0;

-- Why the dispatcher paused or failed the campaign.
ALTER TABLE campaigns ADD COLUMN reason TEXT NOT NULL DEFAULT '';

-- Every provider request exactly as it left, under its idempotency key,
-- written before it is sent: a resend is this body, never a rebuilt one.
CREATE TABLE requests (
    key         TEXT PRIMARY KEY,
    campaign_id INTEGER NOT NULL,
    body        TEXT NOT NULL, -- JSON of herald.SendBatch
    created_at  INTEGER NOT NULL
) STRICT;

-- Live dispatcher processes: RequeueAbandoned never takes rows of an owner
-- with a fresh heartbeat.
CREATE TABLE processes (
    owner        TEXT PRIMARY KEY,
    heartbeat_at INTEGER NOT NULL
) STRICT;

-- Per-database settings; instance_id namespaces message ids and keys.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE INDEX recipients_sending_owner ON recipients (lease_owner) WHERE state = 'SENDING';

-- +goose Down
DROP INDEX recipients_sending_owner;
DROP TABLE meta;
DROP TABLE processes;
DROP TABLE requests;
ALTER TABLE campaigns DROP COLUMN reason;
ALTER TABLE recipients DROP COLUMN in_doubt;
ALTER TABLE recipients DROP COLUMN resends;
ALTER TABLE recipients DROP COLUMN claim_token;
