-- A send asks once per group transaction whether its account has any opted-out recipient
-- (`keys::queries::find_send_account`), and looks up its own number only when it has. Without
-- this index that question read every recipient of the account: a directory of 100,000
-- recipients with no opt-out was read whole.
CREATE INDEX recipients_opted_out ON recipients(account_id) WHERE opted_out_at IS NOT NULL;
