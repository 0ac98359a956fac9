DROP TRIGGER message_totals_update;
DROP TRIGGER message_totals_insert;
DROP TABLE message_totals;
