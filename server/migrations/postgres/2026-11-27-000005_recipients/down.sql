DROP INDEX messages_batch;
DROP TABLE batches;
DROP TABLE recipients;
