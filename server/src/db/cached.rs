//! Statements diesel would compile on every run, kept in the connection's statement cache.
//!
//! diesel caches no `UPDATE` (a changeset's text can change with its values: a `None` field
//! is left out) and no statement with an `eq_any` list on SQLite (one placeholder per value:
//! each length is another text). The claim, the acknowledgement and the status reports, run
//! for every message, are both; SQLite parsed and planned them on every run, a fifth of the
//! group-commit writer's time at a steady 1,000 messages a second (perf). A [`Cached`]
//! statement is keyed by its text and bind types instead of being refused: whatever the
//! values change, the text shows, so a cached statement is reused exactly when it is the
//! same statement. The cache only grows with the number of distinct texts, so a list's
//! length is bounded: longer lists than [`MAX_CACHED_LIST`] are compiled as before.
//!
//! Load a [`Cached`] statement (`load`, `get_results`, with `RETURNING` for a write); do not
//! `execute` it. On PostgreSQL diesel's `execute` hands the statement cache a reference to the
//! query, and a reference re-derives "safe to cache" from the query's parts, which refuse:
//! the statement was parsed and planned on every run, as before (seen in PostgreSQL's log).

use diesel::QueryResult;
use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::query_dsl::RunQueryDsl;

/// The longest `eq_any` list kept compiled: a claim's batch and a phone's window are 64.
pub const MAX_CACHED_LIST: usize = 64;

/// See the module's comment.
#[derive(Debug, Clone, Copy)]
pub struct Cached<Q> {
    query: Q,
    keep: bool,
}

/// A statement whose text takes a few forms (no `eq_any` list).
pub fn cached<Q>(query: Q) -> Cached<Q> {
    Cached { query, keep: true }
}

/// A statement with an `eq_any` list of `len` values.
pub fn cached_list<Q>(query: Q, len: usize) -> Cached<Q> {
    Cached { query, keep: len <= MAX_CACHED_LIST }
}

impl<Q: Query> Query for Cached<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, Conn> RunQueryDsl<Conn> for Cached<Q> {}

/// No static id: the cache key is the statement's text, which is what makes it safe.
impl<Q> QueryId for Cached<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: QueryFragment<DB>, DB: Backend> QueryFragment<DB> for Cached<Q> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.query.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, backend: &DB) -> QueryResult<bool> {
        if self.keep { Ok(true) } else { self.query.is_safe_to_cache_prepared(backend) }
    }
}
