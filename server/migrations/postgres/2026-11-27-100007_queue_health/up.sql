-- Queue health in the console: sent per hour and failed per hour (with their reasons) over
-- the last day, each one range scan of the account's own rows.
CREATE INDEX messages_sent ON messages(account_id, sent_at);
CREATE INDEX messages_finished ON messages(account_id, status, finished_at);
