DROP INDEX messages_finished;
DROP INDEX messages_sent;
