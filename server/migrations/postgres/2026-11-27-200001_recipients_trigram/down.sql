DROP INDEX IF EXISTS recipients_search_trigram;
