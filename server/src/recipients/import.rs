//! CSV in and out of the directory.
//!
//! An import is read and checked whole before anything is written: a file that is not CSV,
//! not UTF-8 or lacks the `name` or `phone` column writes nothing. Rows are then judged one by
//! one (a bad number rejects its row, not the file) and all the good ones are stored in one
//! transaction: a number the account already has is updated, any other created.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use futures_util::StreamExt;
use serde::Serialize;
use utoipa::ToSchema;

use super::models::Recipient;
use super::queries::{self, Replace};
use super::routes::{check_locale, check_name, check_tags, tag_fields};
use super::search;
use crate::accounts::Account;
use crate::auth::Caller;
use crate::db::StoreError;
use crate::error::ApiError;
use crate::ids::{IdKind, new_id};
use crate::messages::text;
use crate::state::AppState;
use crate::time;

/// Largest file accepted: about 100,000 rows of ordinary width.
pub const MAX_BYTES: usize = 16 * 1024 * 1024;
pub const MAX_ROWS: usize = 100_000;

/// Why a whole file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("The file is not UTF-8 text (at byte {0}); save it as CSV UTF-8.")]
    NotUtf8(usize),
    #[error("The file is empty; the first line must be a header such as name,phone,tags,locale.")]
    Empty,
    #[error("The header has no `{0}` column; the first line must name the columns, e.g. name,phone,tags,locale.")]
    MissingColumn(&'static str),
    #[error("The header names the column `{0}` twice.")]
    DuplicateColumn(String),
    #[error("The file is not valid CSV at line {line}: {reason}.")]
    Csv { line: u64, reason: String },
    #[error("The file has more than {MAX_ROWS} rows; split it.")]
    TooManyRows,
}

/// One row that was not imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RejectedRow {
    /// The line in the file (the header is line 1).
    pub line: u64,
    /// The number as written, when there was one.
    pub phone: Option<String>,
    pub reason: String,
}

/// A file read and checked: the rows to store, and those refused.
#[derive(Debug, Default)]
pub struct Parsed {
    pub rows: Vec<Recipient>,
    pub rejected: Vec<RejectedRow>,
    /// The line of each of `rows`, in the same order.
    pub lines: Vec<u64>,
    /// Whether the file had a tags / locale column (else stored values stay on update).
    pub replace: Replace,
}

/// Reads a CSV file: header row (any case and order; `name` and `phone` required, `tags` and
/// `locale` optional, other columns ignored), comma or semicolon (whichever the header uses),
/// UTF-8 with or without a byte-order mark. Tags inside their field are separated by `|` or `;`.
pub fn parse(bytes: &[u8], account: &Account) -> Result<Parsed, Malformed> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| Malformed::NotUtf8(e.valid_up_to()))?;
    let header_line = text.lines().next().filter(|l| !l.trim().is_empty()).ok_or(Malformed::Empty)?;
    let delimiter = if header_line.matches(';').count() > header_line.matches(',').count() { b';' } else { b',' };
    let mut reader = csv::ReaderBuilder::new().delimiter(delimiter).flexible(true).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(csv_error)?.clone();
    let mut columns: HashMap<String, usize> = HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        let h = h.trim().to_lowercase();
        if h.is_empty() {
            continue;
        }
        if columns.insert(h.clone(), i).is_some() {
            return Err(Malformed::DuplicateColumn(h));
        }
    }
    let name_col = *columns.get("name").ok_or(Malformed::MissingColumn("name"))?;
    let phone_col = *columns.get("phone").ok_or(Malformed::MissingColumn("phone"))?;
    let tags_col = columns.get("tags").copied();
    let locale_col = columns.get("locale").copied();
    let mut parsed =
        Parsed { replace: Replace { tags: tags_col.is_some(), locale: locale_col.is_some() }, ..Parsed::default() };
    // Where each number was first seen in this file.
    let mut seen: HashMap<String, u64> = HashMap::new();
    let now = time::now();
    let mut lines = Lines::new(text);
    for record in reader.records() {
        let record = record.map_err(csv_error)?;
        let line = record.position().map_or(0, |p| lines.at(p.byte()));
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if parsed.rows.len() + parsed.rejected.len() >= MAX_ROWS {
            return Err(Malformed::TooManyRows);
        }
        let field = |col: Option<usize>| col.and_then(|c| record.get(c)).unwrap_or("");
        let raw_phone = field(Some(phone_col)).trim();
        let reject =
            |reason: String| RejectedRow { line, phone: Some(raw_phone.to_owned()).filter(|p| !p.is_empty()), reason };
        let phone = match text::normalize_number(raw_phone, account.default_region.as_deref()) {
            Ok(p) => p,
            Err(e) => {
                parsed.rejected.push(reject(format!("phone: {e}")));
                continue;
            }
        };
        let name = match check_name(field(Some(name_col))) {
            Ok(n) => n,
            Err(e) => {
                parsed.rejected.push(reject(format!("name: {e}")));
                continue;
            }
        };
        let tag_list: Vec<String> = field(tags_col).split(['|', ';']).map(str::to_owned).collect();
        let tags = match check_tags(&tag_list) {
            Ok(t) => t,
            Err(e) => {
                parsed.rejected.push(reject(format!("tags: {e}")));
                continue;
            }
        };
        let locale = match check_locale(field(locale_col)) {
            Ok(l) => l,
            Err(e) => {
                parsed.rejected.push(reject(format!("locale: {e}")));
                continue;
            }
        };
        if let Some(first) = seen.get(&phone) {
            parsed.rejected.push(reject(format!("duplicate: the same number as line {first}")));
            continue;
        }
        seen.insert(phone.clone(), line);
        parsed.lines.push(line);
        let (tags, tag_key) = tag_fields(&tags);
        parsed.rows.push(Recipient {
            id: new_id(IdKind::Recipient),
            account_id: account.id.clone(),
            search_key: search::fold(&name),
            name,
            phone_rev: search::reversed_digits(&phone),
            phone,
            tags,
            tag_key,
            locale,
            metadata: None,
            opted_out_at: None,
            created_at: now,
            updated_at: now,
        });
    }
    Ok(parsed)
}

/// Line numbers as an editor shows them. The CSV reader ends a record at a lone `\r` too (old
/// Mac files) but counts only `\n` as a new line, which would put every row of such a file on
/// line 1. Offsets are asked for in increasing order, so the counting goes through the file once.
struct Lines<'a> {
    text: &'a str,
    offset: usize,
    line: u64,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Lines { text, offset: 0, line: 1 }
    }

    fn at(&mut self, byte: u64) -> u64 {
        let end = usize::try_from(byte).unwrap_or(usize::MAX).min(self.text.len());
        if end > self.offset {
            let bytes = self.text.as_bytes();
            let breaks = (self.offset..end)
                // `\r\n` counts once, at its `\r` (a record may begin between the two).
                .filter(|&i| bytes[i] == b'\r' || (bytes[i] == b'\n' && (i == 0 || bytes[i - 1] != b'\r')))
                .count();
            self.line += u64::try_from(breaks).unwrap_or(u64::MAX);
            self.offset = end;
        }
        self.line
    }
}

fn csv_error(e: csv::Error) -> Malformed {
    let line = e.position().map_or(0, |p| p.line());
    let reason = match e.kind() {
        csv::ErrorKind::Utf8 { err, .. } => format!("not UTF-8 ({err})"),
        _ => e.to_string(),
    };
    Malformed::Csv { line, reason }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResponse {
    pub ok: bool,
    /// New recipients.
    pub created: usize,
    /// Numbers the directory already had: name (and tags, locale when the file has those
    /// columns) replaced.
    pub updated: usize,
    pub rejected: usize,
    /// Each row not imported, with its line and the reason.
    pub rejected_rows: Vec<RejectedRow>,
}

/// Imports recipients from CSV (`Content-Type: text/csv`).
///
/// Header row with columns `name` and `phone` (required), `tags` (separated by `|` or `;`
/// inside the field) and `locale`; other columns are ignored, so an export imports back.
/// Comma or semicolon delimited, UTF-8 with or without BOM, up to 100,000 rows. A number the
/// account already has updates that recipient; a number seen earlier in the same file is
/// rejected as a duplicate. A malformed file writes nothing.
#[utoipa::path(
    tag = "recipients",
    security(("bearer" = []), ("api_key" = [])),
    request_body(content = String, content_type = "text/csv",
        example = "name,phone,tags,locale\nمحمد علی,0300 1234567,lahore|vip,ur\nJosé Álvarez,+34 612 345 678,,es\n"),
    responses(
        (status = 200, description = "Imported: counts and rejected rows.", body = ImportResponse),
    )
)]
#[post("/v1/recipients/import")]
pub async fn import_recipients(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    mut payload: web::Payload,
) -> Result<web::Json<ImportResponse>, ApiError> {
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if !matches!(mime.as_str(), "text/csv" | "application/csv" | "text/plain") {
        return Err(ApiError::InvalidRequest {
            message: "The import must be CSV, sent with `Content-Type: text/csv`.".into(),
            field: None,
        });
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::InvalidRequest {
            message: format!("The request body could not be read: {e}."),
            field: None,
        })?;
        if body.len() + chunk.len() > MAX_BYTES {
            return Err(ApiError::PayloadTooLarge { limit: MAX_BYTES });
        }
        body.extend_from_slice(&chunk);
    }
    let outcome = import(&state, caller.account, body.freeze().to_vec()).await?;
    let rejected_rows: Vec<RejectedRow> = outcome
        .rows
        .into_iter()
        .filter_map(|r| match r.outcome {
            RowOutcome::Rejected(reason) => Some(RejectedRow { line: r.line, phone: r.phone, reason }),
            _ => None,
        })
        .collect();
    Ok(web::Json(ImportResponse {
        ok: true,
        created: outcome.created,
        updated: outcome.updated,
        rejected: rejected_rows.len(),
        rejected_rows,
    }))
}

/// What became of one row of an imported file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowOutcome {
    Created,
    Updated,
    Rejected(String),
}

/// One row of an imported file and its outcome.
#[derive(Debug, Clone)]
pub struct RowResult {
    pub line: u64,
    /// The name as stored, for rows that were imported.
    pub name: Option<String>,
    /// The number as stored (or as written, for a rejected row).
    pub phone: Option<String>,
    pub outcome: RowOutcome,
}

/// An import's counts and every row's outcome, in file order.
#[derive(Debug, Clone, Default)]
pub struct ImportOutcome {
    pub created: usize,
    pub updated: usize,
    pub rows: Vec<RowResult>,
}

/// Past this many new rows, the table is vacuumed and analysed before the import answers
/// rather than at autovacuum's next pass (PostgreSQL; see `queries::settle_after_import`).
const SETTLE_AFTER: usize = 10_000;

/// Reads `bytes` as CSV and stores its good rows in one transaction (the API's import and
/// the console's upload). A malformed file is refused whole with `invalid_request`.
pub async fn import(state: &AppState, account: Account, bytes: Vec<u8>) -> Result<ImportOutcome, ApiError> {
    if bytes.len() > MAX_BYTES {
        return Err(ApiError::PayloadTooLarge { limit: MAX_BYTES });
    }
    let parsed = web::block(move || parse(&bytes, &account).map(|p| (p, account)))
        .await
        .map_err(|e| ApiError::Internal { detail: format!("import task stopped: {e}") })?;
    let (parsed, account) = parsed.map_err(|e| ApiError::InvalidRequest { message: e.to_string(), field: None })?;
    let Parsed { rows, rejected, lines, replace } = parsed;
    let account_id = account.id;
    let (rows, existing) = state
        .db
        .write(move |conn| -> Result<_, ApiError> {
            let phones: Vec<&str> = rows.iter().map(|r| r.phone.as_str()).collect();
            let existing = queries::existing_numbers(conn, &account_id, &phones)?;
            queries::upsert_many(conn, &rows, replace)?;
            Ok((rows, existing))
        })
        .await?;
    let updated = existing.len();
    let created = rows.len() - updated;
    if created >= SETTLE_AFTER {
        // Before the answer, so the searches a client makes next are planned for the table as
        // it now is. A failure costs only speed: the import itself is committed.
        if let Err(e) = state.db.run(|conn| queries::settle_after_import(conn).map_err(StoreError::from)).await {
            tracing::debug!(error = %e, "could not vacuum and analyse the recipients after an import");
        }
    }
    let mut results: Vec<RowResult> = rows
        .into_iter()
        .zip(lines)
        .map(|(r, line)| {
            let outcome = if existing.contains(&r.phone) { RowOutcome::Updated } else { RowOutcome::Created };
            RowResult { line, name: Some(r.name), phone: Some(r.phone), outcome }
        })
        .chain(rejected.into_iter().map(|r| RowResult {
            line: r.line,
            name: None,
            phone: r.phone,
            outcome: RowOutcome::Rejected(r.reason),
        }))
        .collect();
    results.sort_by_key(|r| r.line);
    tracing::info!(created, updated, rejected = results.len() - created - updated, "recipients imported");
    Ok(ImportOutcome { created, updated, rows: results })
}

/// The directory as CSV: `id,name,phone,tags,locale,opted_out_at,created_at`, oldest first,
/// tags separated by `|`. Importing it back updates every recipient in place.
#[utoipa::path(
    tag = "recipients",
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "CSV, UTF-8, comma-separated, with a header row.", body = String, content_type = "text/csv"))
)]
#[get("/v1/recipients/export")]
pub async fn export_recipients(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let csv = export(&state, &caller.account.id).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((header::CONTENT_DISPOSITION, "attachment; filename=\"recipients.csv\""))
        .body(csv))
}

/// The account's directory as CSV (the API's export and the console's download).
pub async fn export(state: &AppState, account_id: &str) -> Result<Vec<u8>, ApiError> {
    let account_id = account_id.to_owned();
    let rows = state.db.run(move |conn| queries::all(conn, &account_id).map_err(ApiError::from)).await?;
    web::block(move || write_csv(&rows))
        .await
        .map_err(|e| ApiError::Internal { detail: format!("export task stopped: {e}") })?
        .map_err(|e| ApiError::Internal { detail: format!("export failed: {e}") })
}

/// Writes rows as `GET /v1/recipients/export` does: a file that `parse` reads back to the same rows.
pub fn write_csv(rows: &[Recipient]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(rows.len() * 80 + 64));
    w.write_record(["id", "name", "phone", "tags", "locale", "opted_out_at", "created_at"])?;
    for r in rows {
        let opted_out = r.opted_out_at.map(|t| time::Timestamp::from(t).rfc3339()).unwrap_or_default();
        let created = time::Timestamp::from(r.created_at).rfc3339();
        w.write_record([
            r.id.as_str(),
            r.name.as_str(),
            r.phone.as_str(),
            r.tag_list().join("|").as_str(),
            r.locale.as_deref().unwrap_or(""),
            opted_out.as_str(),
            created.as_str(),
        ])?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> Account {
        let now = time::now();
        Account {
            id: "acc_test".into(),
            name: "Test".into(),
            email: "t@example.com".into(),
            plan: "free".into(),
            status: "active".into(),
            expires_at: now,
            default_region: Some("PK".into()),
            queue_paused_at: None,
            queue_pause_reason: None,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn semicolons_bom_and_any_header_order_are_read() {
        let file = "\u{feff}Phone;Name;Tags\n0300 1234567;محمد علی;vip|Lahore\n+44 7911 123456;José;\n";
        let p = parse(file.as_bytes(), &account()).unwrap();
        assert_eq!(p.rejected, vec![]);
        assert_eq!(p.rows.len(), 2);
        assert_eq!(p.rows[0].phone, "+923001234567");
        assert_eq!(p.rows[0].tag_list(), ["vip", "lahore"]);
        assert_eq!(p.rows[1].name, "José");
    }

    #[test]
    fn rows_of_a_file_with_old_mac_line_ends_have_their_own_lines() {
        let file = "name,phone\rAli,+923001234567\rBad,2\r\nSara,+923001234568\n";
        let p = parse(file.as_bytes(), &account()).unwrap();
        assert_eq!(p.lines, [2, 4], "{:?} {:?}", p.rows.iter().map(|r| &r.name).collect::<Vec<_>>(), p.rejected);
        assert_eq!(p.rejected.iter().map(|r| r.line).collect::<Vec<_>>(), [3]);
    }

    #[test]
    fn bad_and_duplicate_rows_are_rejected_with_their_line() {
        let file = "name,phone\nA,0300 1234567\nB,12\n,0300 7654321\nD,+92 300 1234567\n";
        let p = parse(file.as_bytes(), &account()).unwrap();
        assert_eq!(p.rows.len(), 1);
        let lines: Vec<u64> = p.rejected.iter().map(|r| r.line).collect();
        assert_eq!(lines, [3, 4, 5]);
        assert!(p.rejected[2].reason.contains("line 2"), "{:?}", p.rejected[2]);
    }

    #[test]
    fn malformed_files_are_refused_whole() {
        assert!(matches!(parse(b"name,phone\nA,\xff\xfe\n", &account()), Err(Malformed::NotUtf8(_))));
        assert_eq!(parse(b"name,number\nA,1\n", &account()).unwrap_err(), Malformed::MissingColumn("phone"));
        assert_eq!(parse(b"", &account()).unwrap_err(), Malformed::Empty);
    }
}
