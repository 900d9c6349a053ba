-- +goose Up
-- The one process that sends for each provider sender key. The leader is
-- alive while its processes row has a fresh heartbeat; a standby takes
-- over a dead leader's key. since: when owner took the lead.
CREATE TABLE sender_leaders (
    sender_key VARCHAR(255) NOT NULL PRIMARY KEY,
    owner      VARCHAR(255) NOT NULL,
    since      DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE sender_leaders;
