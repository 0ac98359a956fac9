DROP INDEX messages_expiring;
