-- +goose Up
-- claim_token fences every write after a claim; resends counts sends of a
-- frozen request after its first; in_doubt says a request under batch_key
-- may have been taken, so the row only ever goes out again as that request.
ALTER TABLE recipients
    ADD COLUMN claim_token BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN resends     INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN in_doubt    BOOLEAN NOT NULL DEFAULT false;

UPDATE recipients SET in_doubt = true
    WHERE batch_key IS NOT NULL AND state IN ('PENDING', 'RETRY_WAIT');

-- Why the dispatcher paused or failed the campaign.
ALTER TABLE campaigns ADD COLUMN reason TEXT NOT NULL;

-- Every provider request, frozen before it is sent, under its idempotency
-- key. LONGTEXT of utf8mb4_bin, not JSON: the body must come back byte for
-- byte (MySQL's JSON type normalises it).
CREATE TABLE requests (
    `key`       VARCHAR(255) NOT NULL PRIMARY KEY,
    campaign_id BIGINT NOT NULL,
    body        LONGTEXT NOT NULL,
    created_at  DATETIME(6) NOT NULL,
    CONSTRAINT requests_campaign FOREIGN KEY (campaign_id) REFERENCES campaigns (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The last heartbeat of every live herald process (owner).
CREATE TABLE processes (
    owner        VARCHAR(255) NOT NULL PRIMARY KEY,
    heartbeat_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Facts about this database, such as its instance id.
CREATE TABLE meta (
    `key` VARCHAR(255) NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE INDEX recipients_lease_owner ON recipients (lease_owner);

-- +goose Down
DROP INDEX recipients_lease_owner ON recipients;
DROP TABLE meta;
DROP TABLE processes;
DROP TABLE requests;
ALTER TABLE campaigns DROP COLUMN reason;
ALTER TABLE recipients DROP COLUMN in_doubt, DROP COLUMN resends, DROP COLUMN claim_token;
