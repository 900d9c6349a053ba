-- +goose Up
-- claim_token fences every write after a claim; resends counts sends of a
-- frozen request after its first; in_doubt says a request under batch_key
-- may have been taken, so the row only ever goes out again as that request.
ALTER TABLE recipients
    ADD COLUMN claim_token BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN resends     INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN in_doubt    BOOLEAN NOT NULL DEFAULT false;

-- A row waiting with the key of a request it went out in may have been
-- taken: it is in doubt (there is no frozen request for such an old key).
UPDATE recipients SET in_doubt = true
    WHERE batch_key IS NOT NULL AND state IN ('PENDING', 'RETRY_WAIT');

-- Why the dispatcher paused or failed the campaign.
ALTER TABLE campaigns ADD COLUMN reason TEXT NOT NULL DEFAULT '';

-- Every provider request, frozen before it is sent, under its idempotency
-- key. text, not jsonb: the body must come back byte for byte.
CREATE TABLE requests (
    key         TEXT PRIMARY KEY,
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id),
    body        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);

-- The last heartbeat of every live herald process (owner).
CREATE TABLE processes (
    owner        TEXT PRIMARY KEY,
    heartbeat_at TIMESTAMPTZ NOT NULL
);

-- Facts about this database, such as its instance id.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- RequeueAbandoned looks SENDING rows up by owner; nothing reads SENDING
-- rows by lease end any more.
CREATE INDEX recipients_lease_owner ON recipients (lease_owner) WHERE state = 'SENDING';
DROP INDEX recipients_sending;

-- +goose Down
CREATE INDEX recipients_sending ON recipients (lease_until) WHERE state = 'SENDING';
DROP INDEX recipients_lease_owner;
DROP TABLE meta;
DROP TABLE processes;
DROP TABLE requests;
ALTER TABLE campaigns DROP COLUMN reason;
ALTER TABLE recipients DROP COLUMN in_doubt, DROP COLUMN resends, DROP COLUMN claim_token;
