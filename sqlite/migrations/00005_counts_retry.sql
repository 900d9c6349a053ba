-- +goose Up
-- Recipient counts per campaign and state, kept by triggers in the same
-- transaction as the statement that moves the rows, so progress is read
-- from a few rows instead of a GROUP BY over every recipient. SQLite has
-- one writer, so one row per (campaign, state) has no one to wait for.
CREATE TABLE recipient_counts (
    campaign_id INTEGER NOT NULL,
    state       TEXT NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, state)
) STRICT, WITHOUT ROWID;

INSERT INTO recipient_counts (campaign_id, state, n)
SELECT campaign_id, state, count(*) FROM recipients GROUP BY campaign_id, state;

-- +goose StatementBegin
CREATE TRIGGER recipient_counts_insert AFTER INSERT ON recipients BEGIN
    INSERT INTO recipient_counts (campaign_id, state, n) VALUES (NEW.campaign_id, NEW.state, 1)
        ON CONFLICT (campaign_id, state) DO UPDATE SET n = n + 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER recipient_counts_update AFTER UPDATE OF state, campaign_id ON recipients
    WHEN OLD.state IS NOT NEW.state OR OLD.campaign_id IS NOT NEW.campaign_id BEGIN
    UPDATE recipient_counts SET n = n - 1 WHERE campaign_id = OLD.campaign_id AND state = OLD.state;
    INSERT INTO recipient_counts (campaign_id, state, n) VALUES (NEW.campaign_id, NEW.state, 1)
        ON CONFLICT (campaign_id, state) DO UPDATE SET n = n + 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER recipient_counts_delete AFTER DELETE ON recipients BEGIN
    UPDATE recipient_counts SET n = n - 1 WHERE campaign_id = OLD.campaign_id AND state = OLD.state;
END;
-- +goose StatementEnd

-- A retry's follow-up campaign names its source, and its audience is a
-- fixed set of members stored here at creation.
ALTER TABLE campaigns ADD COLUMN retry_of INTEGER REFERENCES campaigns (id);
CREATE TABLE campaign_members (
    campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
    member_id   TEXT NOT NULL,
    PRIMARY KEY (campaign_id, member_id)
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE campaign_members;
ALTER TABLE campaigns DROP COLUMN retry_of;
DROP TRIGGER recipient_counts_delete;
DROP TRIGGER recipient_counts_update;
DROP TRIGGER recipient_counts_insert;
DROP TABLE recipient_counts;
