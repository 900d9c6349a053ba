-- +goose Up
-- The results API and the CSV export page through one campaign's
-- recipients by id: an index in that order, so that no page sorts the
-- campaign (whatever the planner's statistics say after a large
-- preparation); and one to find a recipient by phone (the results API,
-- the dashboard's search) without reading every row of the campaign.
CREATE INDEX recipients_campaign_id ON recipients (campaign_id, id);
CREATE INDEX recipients_campaign_phone ON recipients (campaign_id, phone);

-- +goose Down
DROP INDEX recipients_campaign_phone;
DROP INDEX recipients_campaign_id;
