//! Recipient CSV import: any bytes uploaded as a file. A file is refused whole or read into
//! rows; every row's number is E.164 and appears once; every refused row names a line after
//! the header; and the file the export writes for those rows imports back to the same rows.
#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use relay_server::accounts::Account;
use relay_server::messages::text::normalize_number;
use relay_server::recipients::import::{parse, write_csv};
use relay_server::recipients::models::Recipient;

fuzz_target!(|data: &[u8]| {
    let Some((&choice, file)) = data.split_first() else { return };
    let region = [None, Some("PK"), Some("GB"), Some("US")][usize::from(choice % 4)];
    let account = account(region);
    let Ok(parsed) = parse(file, &account) else { return };
    let mut phones = HashSet::new();
    for row in &parsed.rows {
        assert_eq!(normalize_number(&row.phone, None).as_deref(), Ok(row.phone.as_str()), "{row:?}");
        assert!(phones.insert(row.phone.as_str()), "{} imported twice", row.phone);
        assert!(!row.name.trim().is_empty(), "{row:?}");
        assert_eq!(row.account_id, account.id);
    }
    for rejected in &parsed.rejected {
        assert!(rejected.line >= 2, "{rejected:?}");
    }

    let exported = match write_csv(&parsed.rows) {
        Ok(bytes) => bytes,
        Err(e) => panic!("the rows of an import do not export: {e}"),
    };
    let again = match parse(&exported, &account) {
        Ok(again) => again,
        Err(e) => panic!("an export does not import: {e}\n{}", String::from_utf8_lossy(&exported)),
    };
    assert!(again.rejected.is_empty(), "an export's rows are refused: {:?}", again.rejected);
    assert_eq!(fields(&again.rows), fields(&parsed.rows), "an export imports back differently");
});

fn fields(rows: &[Recipient]) -> Vec<(&str, &str, Vec<String>, Option<&str>)> {
    rows.iter().map(|r| (r.name.as_str(), r.phone.as_str(), r.tag_list(), r.locale.as_deref())).collect()
}

fn account(region: Option<&str>) -> Account {
    let now = relay_server::time::now();
    Account {
        id: "acc_fuzz".into(),
        name: "Fuzz".into(),
        email: "fuzz@example.com".into(),
        plan: "free".into(),
        status: "active".into(),
        expires_at: now,
        default_region: region.map(str::to_owned),
        queue_paused_at: None,
        queue_pause_reason: None,
        created_at: now,
        updated_at: now,
    }
}
