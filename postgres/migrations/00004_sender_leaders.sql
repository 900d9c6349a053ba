-- +goose Up
-- The one process that sends for each provider sender key (without Redis,
-- two senders would each use the whole rate limit). The leader is alive
-- while its processes row has a fresh heartbeat; a standby takes over a
-- dead leader's key. since: when owner took the lead.
CREATE TABLE sender_leaders (
    sender_key TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    since      TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE sender_leaders;
