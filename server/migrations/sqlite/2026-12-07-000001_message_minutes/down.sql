DROP TRIGGER message_minutes_failed;
DROP TRIGGER message_minutes_sent;
DROP TABLE message_minutes;
