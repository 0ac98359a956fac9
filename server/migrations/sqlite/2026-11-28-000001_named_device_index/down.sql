DROP INDEX messages_named;
