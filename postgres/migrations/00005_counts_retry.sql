-- +goose Up
-- Recipient counts per campaign and state, kept by triggers in the same
-- transaction as the statement that moves the rows, so progress is read
-- from a few rows instead of a GROUP BY over every recipient, and adds up
-- to the total in every snapshot. Insert-only deltas: one row per
-- (campaign, state) changed by a statement, never updated, so concurrent
-- transactions never wait for each other here (no hot row, no deadlock).
-- The count is the sum; readers fold a campaign's rows into one per state
-- when they have grown (compactCounts in campaigns.go).
CREATE TABLE recipient_counts (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id BIGINT NOT NULL,
    state       TEXT NOT NULL,
    n           BIGINT NOT NULL
);
CREATE INDEX recipient_counts_campaign ON recipient_counts (campaign_id);

-- Statement-level triggers with transition tables: one aggregate per
-- statement, whatever its number of rows (a 1,000,000-row INSERT…SELECT
-- adds one row here).
-- +goose StatementBegin
CREATE FUNCTION recipient_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO recipient_counts (campaign_id, state, n)
    SELECT campaign_id, state, count(*) FROM recipient_counts_new GROUP BY campaign_id, state;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION recipient_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO recipient_counts (campaign_id, state, n)
    SELECT campaign_id, state, sum(n) FROM (
        SELECT campaign_id, state, -1 AS n FROM recipient_counts_old
        UNION ALL
        SELECT campaign_id, state, 1 AS n FROM recipient_counts_new) d
    GROUP BY campaign_id, state HAVING sum(n) <> 0;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION recipient_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO recipient_counts (campaign_id, state, n)
    SELECT campaign_id, state, -count(*) FROM recipient_counts_old GROUP BY campaign_id, state;
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER recipient_counts_insert AFTER INSERT ON recipients
    REFERENCING NEW TABLE AS recipient_counts_new
    FOR EACH STATEMENT EXECUTE FUNCTION recipient_counts_insert();
CREATE TRIGGER recipient_counts_update AFTER UPDATE ON recipients
    REFERENCING OLD TABLE AS recipient_counts_old NEW TABLE AS recipient_counts_new
    FOR EACH STATEMENT EXECUTE FUNCTION recipient_counts_update();
CREATE TRIGGER recipient_counts_delete AFTER DELETE ON recipients
    REFERENCING OLD TABLE AS recipient_counts_old
    FOR EACH STATEMENT EXECUTE FUNCTION recipient_counts_delete();

-- The rows of the database as it is (under the table lock the triggers'
-- creation took, so nothing moved in between).
INSERT INTO recipient_counts (campaign_id, state, n)
SELECT campaign_id, state, count(*) FROM recipients GROUP BY campaign_id, state;

-- Counts no longer need this index, and completion asks the counters; the
-- claimable index serves cancel, and the failures of a campaign (FAILED,
-- UNKNOWN) get a partial index that preparation never fills. A message id
-- is given at the first claim; a prepared row has none and need not be in
-- the unique index. Two index entries less for each of a million
-- recipients prepared: with the plain INSERT of PrepareRecipients, half the
-- backend CPU of a 1,000,000-row preparation (README).
DROP INDEX recipients_campaign_state;
-- No foreign key to campaigns either, as for reports (migration 2): its
-- per-row check and KEY SHARE lock cost a million lookups of one campaign
-- row; only PrepareRecipients inserts recipients, for the campaign it
-- holds locked, and campaigns are never deleted.
ALTER TABLE recipients DROP CONSTRAINT recipients_campaign_id_fkey;
CREATE INDEX recipients_failures ON recipients (campaign_id, state, result_code) WHERE state IN ('FAILED', 'UNKNOWN');
ALTER TABLE recipients DROP CONSTRAINT recipients_message_id_key;
CREATE UNIQUE INDEX recipients_message_id ON recipients (message_id) WHERE message_id IS NOT NULL;

-- A retry's follow-up campaign names its source, and its audience is a
-- fixed set of members stored here at creation.
ALTER TABLE campaigns ADD COLUMN retry_of BIGINT REFERENCES campaigns (id);
CREATE TABLE campaign_members (
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id),
    member_id   TEXT NOT NULL,
    PRIMARY KEY (campaign_id, member_id)
);

-- +goose Down
DROP TABLE campaign_members;
ALTER TABLE campaigns DROP COLUMN retry_of;
DROP INDEX recipients_message_id;
DROP INDEX recipients_failures;
ALTER TABLE recipients ADD CONSTRAINT recipients_campaign_id_fkey FOREIGN KEY (campaign_id) REFERENCES campaigns (id);
CREATE INDEX recipients_campaign_state ON recipients (campaign_id, state);
ALTER TABLE recipients ADD CONSTRAINT recipients_message_id_key UNIQUE (message_id);
DROP TRIGGER recipient_counts_delete ON recipients;
DROP TRIGGER recipient_counts_update ON recipients;
DROP TRIGGER recipient_counts_insert ON recipients;
DROP FUNCTION recipient_counts_delete();
DROP FUNCTION recipient_counts_update();
DROP FUNCTION recipient_counts_insert();
DROP TABLE recipient_counts;
