-- +goose Up
-- Finding one recipient of a campaign by phone (the results API, the
-- dashboard's search) without reading every row of the campaign.
CREATE INDEX recipients_campaign_phone ON recipients (campaign_id, phone);

-- +goose Down
DROP INDEX recipients_campaign_phone ON recipients;
