DROP TRIGGER message_totals_update;
DROP TABLE message_totals;
