ALTER TABLE messages DROP COLUMN redacted_body;
DROP TABLE otps;
