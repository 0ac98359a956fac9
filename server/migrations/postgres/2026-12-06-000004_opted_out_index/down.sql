DROP INDEX recipients_opted_out;
