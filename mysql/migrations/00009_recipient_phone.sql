-- +goose Up
-- Finding one recipient of a campaign by phone (the results API, the
-- dashboard's search) without reading every row of the campaign. InnoDB
-- secondary indexes end with the primary key, so (campaign_id, state) and
-- the foreign key's index already page a campaign by id.
CREATE INDEX recipients_campaign_phone ON recipients (campaign_id, phone);

-- +goose Down
DROP INDEX recipients_campaign_phone ON recipients;
