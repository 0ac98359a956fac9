ALTER TABLE messages ADD CONSTRAINT messages_account_id_fkey
    FOREIGN KEY (account_id) REFERENCES accounts(id) ON DELETE CASCADE;
