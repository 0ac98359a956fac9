//! Phone-number normalisation as the API, bulk sends and CSV import apply it to what people
//! type. A number that normalises is E.164 (`+`, then 2 to 15 digits, no leading zero), and
//! normalising it again, with or without a default region, gives it back unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relay_server::messages::text::normalize_number;

/// Default regions tried: none, ones with national trunk prefixes, shared country codes, and
/// strings that are not regions.
const REGIONS: &[Option<&str>] =
    &[None, Some("PK"), Some("GB"), Some("US"), Some("IN"), Some("de"), Some("XX"), Some("")];

fuzz_target!(|data: &[u8]| {
    let Some((&choice, rest)) = data.split_first() else { return };
    let Ok(input) = std::str::from_utf8(rest) else { return };
    let region = REGIONS[usize::from(choice) % REGIONS.len()];
    let Ok(number) = normalize_number(input, region) else { return };
    let digits = number.strip_prefix('+').unwrap_or_else(|| panic!("{input:?} → {number:?} lacks the +"));
    assert!(
        (2..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0'),
        "{input:?} ({region:?}) → {number:?} is not E.164"
    );
    for again_region in [None, region] {
        assert_eq!(
            normalize_number(&number, again_region).as_deref(),
            Ok(number.as_str()),
            "{input:?} → {number:?} does not normalise to itself with region {again_region:?}"
        );
    }
});
