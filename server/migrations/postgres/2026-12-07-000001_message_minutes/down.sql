DROP TRIGGER message_minutes_update ON messages;
DROP FUNCTION message_minutes_count();
DROP TABLE message_minutes;
