//! Hand-written statements with any number of bound values: multi-row `INSERT`s and the few
//! queries whose shape depends on the input (ranked search).
//!
//! diesel's two-backend connection has no multi-row `INSERT`, and a row per statement costs a
//! round trip each: 100,000 rows would take seconds. [`Sql`] writes the placeholders each
//! backend expects (`?` or `$n`) and binds the values in order. SQLite accepts at most 32,766
//! bound values per statement and PostgreSQL 65,535: callers size their chunks with
//! [`rows_per_statement`].

use chrono::NaiveDateTime;
use diesel::RunQueryDsl;
use diesel::pg::Pg;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{Array, Integer, Nullable, SmallInt, Text, Timestamp};
use diesel::sqlite::Sqlite;
use diesel::{QueryResult, QueryableByName};

use super::DbConnection;

/// Bound values per statement: under SQLite's limit of 32,766, with room for the constants.
const BIND_BUDGET: usize = 30_000;

/// How many rows of `width` values fit in one statement.
pub fn rows_per_statement(width: usize) -> usize {
    (BIND_BUDGET / width.max(1)).max(1)
}

/// One bound value.
#[derive(Debug, Clone)]
pub enum Cell {
    Text(String),
    OptText(Option<String>),
    Int(i32),
    SmallInt(i16),
    Time(NaiveDateTime),
    OptTime(Option<NaiveDateTime>),
    /// A whole column at once, for `UNNEST` (PostgreSQL only).
    Texts(Vec<String>),
    /// A whole column at once, for `UNNEST` (PostgreSQL only).
    Ints(Vec<i32>),
}

/// SQL text with its bound values, for the backend of one connection.
#[derive(Debug)]
pub struct Sql {
    postgres: bool,
    text: String,
    binds: Vec<Cell>,
}

impl Sql {
    pub fn new(conn: &DbConnection) -> Self {
        Sql { postgres: matches!(conn, DbConnection::Postgres(_)), text: String::new(), binds: Vec::new() }
    }

    pub fn is_postgres(&self) -> bool {
        self.postgres
    }

    /// Appends SQL text (never a user's value: those go through [`Sql::bind`]).
    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.text.push_str(sql);
        self
    }

    /// Appends a placeholder and binds `value` to it.
    pub fn bind(&mut self, value: Cell) -> &mut Self {
        self.binds.push(value);
        if self.postgres {
            self.text.push('$');
            self.text.push_str(&self.binds.len().to_string());
        } else {
            self.text.push('?');
        }
        self
    }

    /// Appends `(v1, v2, …)`.
    pub fn tuple(&mut self, values: impl IntoIterator<Item = Cell>) -> &mut Self {
        self.push("(");
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(v);
        }
        self.push(")")
    }

    pub fn execute(self, conn: &mut DbConnection) -> QueryResult<usize> {
        match conn {
            DbConnection::Sqlite(c) => {
                bind_all(diesel::sql_query(self.text).into_boxed::<Sqlite>(), self.binds, no_arrays)?.execute(c)
            }
            DbConnection::Postgres(c) => {
                bind_all(diesel::sql_query(self.text).into_boxed::<Pg>(), self.binds, pg_array)?.execute(c)
            }
        }
    }

    pub fn load<T>(self, conn: &mut DbConnection) -> QueryResult<Vec<T>>
    where
        T: QueryableByName<Sqlite> + QueryableByName<Pg> + 'static,
    {
        match conn {
            DbConnection::Sqlite(c) => {
                bind_all(diesel::sql_query(self.text).into_boxed::<Sqlite>(), self.binds, no_arrays)?.load(c)
            }
            DbConnection::Postgres(c) => {
                bind_all(diesel::sql_query(self.text).into_boxed::<Pg>(), self.binds, pg_array)?.load(c)
            }
        }
    }
}

type Boxed<'f, DB> = BoxedSqlQuery<'f, DB, SqlQuery>;

fn no_arrays(_: Boxed<'_, Sqlite>, _: Cell) -> QueryResult<Boxed<'_, Sqlite>> {
    Err(diesel::result::Error::QueryBuilderError("array parameters exist only on PostgreSQL".into()))
}

fn pg_array(q: Boxed<'_, Pg>, cell: Cell) -> QueryResult<Boxed<'_, Pg>> {
    match cell {
        Cell::Texts(v) => Ok(q.bind::<Array<Text>, _>(v)),
        Cell::Ints(v) => Ok(q.bind::<Array<Integer>, _>(v)),
        _ => Err(diesel::result::Error::QueryBuilderError("not an array parameter".into())),
    }
}

/// Binds the values in order; `array` binds the column-at-once values the backend supports.
fn bind_all<'f, DB>(
    mut q: Boxed<'f, DB>,
    binds: Vec<Cell>,
    array: fn(Boxed<'f, DB>, Cell) -> QueryResult<Boxed<'f, DB>>,
) -> QueryResult<Boxed<'f, DB>>
where
    DB: diesel::backend::Backend
        + diesel::sql_types::HasSqlType<Text>
        + diesel::sql_types::HasSqlType<Integer>
        + diesel::sql_types::HasSqlType<SmallInt>
        + diesel::sql_types::HasSqlType<Timestamp>,
    String: diesel::serialize::ToSql<Text, DB>,
    Option<String>: diesel::serialize::ToSql<Nullable<Text>, DB>,
    i32: diesel::serialize::ToSql<Integer, DB>,
    i16: diesel::serialize::ToSql<SmallInt, DB>,
    NaiveDateTime: diesel::serialize::ToSql<Timestamp, DB>,
    Option<NaiveDateTime>: diesel::serialize::ToSql<Nullable<Timestamp>, DB>,
{
    for b in binds {
        q = match b {
            Cell::Text(v) => q.bind::<Text, _>(v),
            Cell::OptText(v) => q.bind::<Nullable<Text>, _>(v),
            Cell::Int(v) => q.bind::<Integer, _>(v),
            Cell::SmallInt(v) => q.bind::<SmallInt, _>(v),
            Cell::Time(v) => q.bind::<Timestamp, _>(v),
            Cell::OptTime(v) => q.bind::<Nullable<Timestamp>, _>(v),
            column @ (Cell::Texts(_) | Cell::Ints(_)) => array(q, column)?,
        };
    }
    Ok(q)
}

/// The smallest string greater than every string that starts with `prefix`, for an index
/// range scan (`col >= prefix AND col < upper`); `None` when there is none to write.
/// Both backends compare these columns byte by byte (SQLite's BINARY, PostgreSQL's "C"), and
/// UTF-8's byte order is code-point order: the last character is stepped to the next one.
pub fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        // The next scalar value: past U+D7FF lie the surrogates, which are not characters.
        let next = match last {
            '\u{d7ff}' => Some('\u{e000}'),
            c => char::from_u32(u32::from(c) + 1),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// Escapes `%`, `_` and `\` for `LIKE … ESCAPE '\'`.
pub fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_bounds_cover_exactly_the_prefix() {
        assert_eq!(prefix_upper_bound("7654").as_deref(), Some("7655"));
        assert_eq!(prefix_upper_bound("+9230").as_deref(), Some("+9231"));
        assert_eq!(prefix_upper_bound("19").as_deref(), Some("1:"));
        assert_eq!(prefix_upper_bound("عل").as_deref(), Some("عم"));
        assert_eq!(prefix_upper_bound("a\u{d7ff}").as_deref(), Some("a\u{e000}"));
        assert_eq!(prefix_upper_bound("a\u{10ffff}").as_deref(), Some("b"));
        assert_eq!(prefix_upper_bound(""), None);
    }

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(like_escape(r"50%_a\b"), r"50\%\_a\\b");
    }

    #[test]
    fn chunks_stay_under_the_sqlite_limit() {
        assert!(rows_per_statement(11) * 11 <= 32_766);
        assert_eq!(rows_per_statement(0), BIND_BUDGET);
    }
}
