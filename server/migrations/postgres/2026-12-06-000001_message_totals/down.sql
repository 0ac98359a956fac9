DROP TRIGGER message_totals_update ON messages;
DROP FUNCTION message_totals_count();
DROP TABLE message_totals;
