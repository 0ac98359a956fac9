//! Phone numbers and SMS text: turning what people type into E.164, and predicting how a body
//! will be encoded and into how many segments the phone will split it.
//!
//! Segment counting is implemented here from the GSM 03.38 (3GPP TS 23.038) tables rather than
//! taken from a crate: the crates.io candidates either only pack/unpack septets (`gsm7`) or are
//! small single-author ports that build strings for every part (`sms_splitter`,
//! `message_segment_calculator`), and the rule itself is a table plus two limits.

use phonenumber::ParseError;
use phonenumber::country;
use phonenumber::metadata::DATABASE;

/// Longest input echoed back in an error message, so a pasted paragraph doesn't flood a response.
const MAX_SHOWN_CHARS: usize = 40;

/// Why a phone number was refused. Each message is one sentence naming the problem and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    #[error("the phone number is empty; write it as +<country code><number>, e.g. +923001234567")]
    Empty,
    #[error(
        "`{input}` contains `{found}`, which can't be part of a phone number; use digits with an optional \
         leading + (spaces, dashes, dots and brackets are fine)"
    )]
    InvalidCharacter { input: String, found: char },
    #[error("`{input}` has no country code; write it as +<country code>… or set the account's default_region")]
    MissingCountryCode { input: String },
    #[error("`{region}` is not a known region; use an ISO 3166 two-letter code such as PK, GB or US")]
    UnknownRegion { region: String },
    #[error("`{input}` starts with a country code that doesn't exist; check the digits after the +")]
    UnknownCountryCode { input: String },
    #[error("`{input}` is too short to be a phone number")]
    TooShort { input: String },
    #[error("`{input}` is too long to be a phone number")]
    TooLong { input: String },
    #[error("`{input}` is not a valid phone number for country code +{country_code}; check the digits")]
    Invalid { input: String, country_code: u16 },
}

/// Parses a number as people type it ("+92 300 1234567", "0300-1234567" with region "PK",
/// "00923001234567") and returns it in E.164 form ("+923001234567").
///
/// `default_region` (ISO 3166 alpha-2, any case) is the country assumed for numbers written
/// without a country code.
pub fn normalize_number(input: &str, default_region: Option<&str>) -> Result<String, NumberError> {
    let region = default_region.map(parse_region).transpose()?;
    let digits = clean(input)?;
    if !digits.starts_with('+') && region.is_none() {
        return Err(NumberError::MissingCountryCode { input: shown(input) });
    }
    let number = phonenumber::parse(region, &digits).map_err(|e| parse_error(input, e))?;
    super::patterns::prepare(number.code().value());
    if !phonenumber::is_valid(&number) {
        return Err(NumberError::Invalid { input: shown(input), country_code: number.code().value() });
    }
    // What `number.format().mode(Mode::E164)` prints, without the formatter first matching
    // the country's display patterns that E.164 never uses (3 % of the server's CPU under enqueue load).
    let e164 = format!("+{}{}", number.code().value(), number.national());
    // E.164 allows 15 digits in all; the metadata of a few countries (Germany) accepts longer.
    if e164.len() > MAX_E164_DIGITS + 1 {
        return Err(NumberError::TooLong { input: shown(input) });
    }
    Ok(e164)
}

/// The most digits an E.164 number has, country code included (ITU-T E.164 §6).
const MAX_E164_DIGITS: usize = 15;

/// True when `code` (ISO 3166 alpha-2, any case) is a region the phone number metadata knows.
pub fn is_known_region(code: &str) -> bool {
    lookup_region(code).is_some()
}

fn lookup_region(code: &str) -> Option<country::Id> {
    let upper = code.trim().to_ascii_uppercase();
    // `Id` also parses a few codes that have no numbering plan in the metadata; those can't be
    // used to parse a national number, so they don't count as known.
    let id: country::Id = upper.parse().ok()?;
    DATABASE.by_id(upper.as_str()).map(|_| id)
}

fn parse_region(code: &str) -> Result<country::Id, NumberError> {
    lookup_region(code).ok_or_else(|| NumberError::UnknownRegion { region: shown(code) })
}

/// Reduces the input to an optional leading '+' and ASCII digits.
///
/// Done here rather than left to `phonenumber` because its parser is lenient in ways a gateway
/// shouldn't be: it maps letters to keypad digits ("1-800-FLOWERS") and splits off extensions,
/// which would silently send an SMS to a different number than the one written.
fn clean(input: &str) -> Result<String, NumberError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(NumberError::Empty);
    }
    let mut out = String::with_capacity(trimmed.len());
    for (i, c) in trimmed.chars().enumerate() {
        match c {
            '+' if i == 0 => out.push('+'),
            ' ' | '\u{a0}' | '\t' | '-' | '.' | '/' | '(' | ')' => {}
            _ => match ascii_digit(c) {
                Some(d) => out.push(d),
                None => return Err(NumberError::InvalidCharacter { input: shown(input), found: c }),
            },
        }
    }
    if out.is_empty() || out == "+" {
        return Err(NumberError::TooShort { input: shown(input) });
    }
    // "00" is the international prefix in most of the world (Pakistan, the UK, India, the EU…),
    // and no national number is dialled with a leading "00", so it always means "+".
    Ok(match out.strip_prefix("00") {
        Some(rest) => format!("+{rest}"),
        None => out,
    })
}

/// ASCII digits, plus the Arabic-Indic (٠-٩) and Extended Arabic-Indic (۰-۹, used for Urdu)
/// digits that phone keyboards in Pakistan and the Gulf produce.
fn ascii_digit(c: char) -> Option<char> {
    let value = match c {
        '0'..='9' => return Some(c),
        '\u{660}'..='\u{669}' => u32::from(c) - 0x660,
        '\u{6f0}'..='\u{6f9}' => u32::from(c) - 0x6f0,
        _ => return None,
    };
    char::from_digit(value, 10)
}

fn parse_error(input: &str, error: ParseError) -> NumberError {
    let input = shown(input);
    match error {
        ParseError::InvalidCountryCode => NumberError::UnknownCountryCode { input },
        ParseError::TooLong => NumberError::TooLong { input },
        // NoNumber (fewer than 3 digits), TooShortAfterIdd, TooShortNsn and MalformedInteger
        // (which only a very long digit run reaches past `clean`) all mean "not enough of a number".
        _ => NumberError::TooShort { input },
    }
}

/// The input as echoed in an error: trimmed, and cut short if it is long.
fn shown(input: &str) -> String {
    let trimmed = input.trim();
    match trimmed.char_indices().nth(MAX_SHOWN_CHARS) {
        Some((cut, _)) => format!("{}…", &trimmed[..cut]),
        None => trimmed.to_owned(),
    }
}

/// How an SMS body goes over the air.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// GSM 03.38 default alphabet (7-bit septets), with the extension table.
    Gsm7,
    /// UCS-2 (UTF-16 code units): anything outside the GSM alphabet, e.g. Urdu script or emoji.
    Ucs2,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Gsm7 => "gsm7",
            Encoding::Ucs2 => "ucs2",
        }
    }
}

/// What a body costs: its encoding, how many SMS segments it takes, and its length in the
/// encoding's units (septets for GSM-7, UTF-16 code units for UCS-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct TextInfo {
    pub encoding: Encoding,
    pub segments: u32,
    pub units: u32,
}

/// Septets in a single GSM-7 SMS, and per part of a concatenated one (the other 7 septets carry
/// the concatenation header).
const GSM7_SINGLE: u32 = 160;
const GSM7_PART: u32 = 153;
/// UTF-16 code units in a single UCS-2 SMS, and per part of a concatenated one.
const UCS2_SINGLE: u32 = 70;
const UCS2_PART: u32 = 67;

/// Encoding, segment count and length of `body`, as an Android phone will send it.
///
/// An empty body is 0 units in 1 segment: the phone still sends one (empty) SMS.
pub fn analyze(body: &str) -> TextInfo {
    let septets: Option<Vec<u32>> = body.chars().map(gsm7_septets).collect();
    match septets {
        Some(widths) => info(Encoding::Gsm7, &widths, GSM7_SINGLE, GSM7_PART),
        None => {
            let widths: Vec<u32> = body.chars().map(|c| c.len_utf16() as u32).collect();
            info(Encoding::Ucs2, &widths, UCS2_SINGLE, UCS2_PART)
        }
    }
}

/// `widths` is the size of each character in units; a character is never split across
/// segments (a GSM escape pair or a UTF-16 surrogate pair always travels whole), which is why
/// this packs greedily instead of dividing the total by the part size.
fn info(encoding: Encoding, widths: &[u32], single: u32, part: u32) -> TextInfo {
    let units: u32 = widths.iter().sum();
    if units <= single {
        return TextInfo { encoding, segments: 1, units };
    }
    let mut segments = 1;
    let mut used = 0;
    for &w in widths {
        if used + w > part {
            segments += 1;
            used = 0;
        }
        used += w;
    }
    TextInfo { encoding, segments, units }
}

/// Septets `c` takes in GSM-7: 1 for the default alphabet, 2 for the extension table (escape +
/// code), `None` if it has no GSM-7 encoding at all.
fn gsm7_septets(c: char) -> Option<u32> {
    match c {
        'A'..='Z' | 'a'..='z' | '0'..='9' => Some(1),
        // Default alphabet, ASCII part (the backtick is the one printable ASCII char missing).
        ' ' | '\n' | '\r' | '!' | '"' | '#' | '$' | '%' | '&' | '\'' | '(' | ')' | '*' | '+' | ',' | '-' | '.'
        | '/' | ':' | ';' | '<' | '=' | '>' | '?' | '@' | '_' => Some(1),
        // Default alphabet, non-ASCII part.
        '£' | '¥' | 'è' | 'é' | 'ù' | 'ì' | 'ò' | 'Ç' | 'Ø' | 'ø' | 'Å' | 'å' | 'Δ' | 'Φ' | 'Γ' | 'Λ' | 'Ω' | 'Π'
        | 'Ψ' | 'Σ' | 'Θ' | 'Ξ' | 'Æ' | 'æ' | 'ß' | 'É' | '¤' | '¡' | 'Ä' | 'Ö' | 'Ñ' | 'Ü' | '§' | '¿' | 'ä' | 'ö'
        | 'ñ' | 'ü' | 'à' => Some(1),
        // Extension table: sent as ESC + code.
        '\u{c}' | '^' | '{' | '}' | '\\' | '[' | '~' | ']' | '|' | '€' => Some(2),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(input: &str, region: Option<&str>) -> String {
        normalize_number(input, region).unwrap()
    }

    #[test]
    fn the_e164_form_is_the_one_phonenumber_formats() {
        // Italian fixed lines keep their leading zero; +1 and +44 have national prefixes.
        let cases = [("+39 06 6982 0123", None), ("+1 650 253 0000", None), ("020 7946 0018", Some("GB"))];
        for (input, region) in cases {
            let id = region.map(|r| r.parse().unwrap());
            let number = phonenumber::parse(id, clean(input).unwrap()).unwrap();
            let expected = number.format().mode(phonenumber::Mode::E164).to_string();
            assert_eq!(ok(input, region), expected, "{input}");
        }
        assert_eq!(ok("+39 06 6982 0123", None), "+390669820123");
    }

    #[test]
    fn pakistani_numbers_in_common_spellings() {
        assert_eq!(ok("+92 300 1234567", None), "+923001234567");
        assert_eq!(ok("0300-1234567", Some("PK")), "+923001234567");
        assert_eq!(ok("0300-1234567", Some("pk")), "+923001234567");
        assert_eq!(ok("00923001234567", None), "+923001234567");
        assert_eq!(ok("00923001234567", Some("PK")), "+923001234567");
        assert_eq!(ok("  (0300) 123-4567 ", Some("PK")), "+923001234567");
    }

    #[test]
    fn urdu_keyboard_digits_are_read_as_digits() {
        assert_eq!(ok("۰۳۰۰۱۲۳۴۵۶۷", Some("PK")), "+923001234567");
        assert_eq!(ok("+٩٢٣٠٠١٢٣٤٥٦٧", None), "+923001234567");
    }

    #[test]
    fn uk_us_and_indian_numbers() {
        assert_eq!(ok("+44 7911 123456", None), "+447911123456");
        assert_eq!(ok("07911 123456", Some("GB")), "+447911123456");
        assert_eq!(ok("+1 (201) 555-0123", None), "+12015550123");
        assert_eq!(ok("201.555.0123", Some("US")), "+12015550123");
        assert_eq!(ok("+91 98765 43210", None), "+919876543210");
        assert_eq!(ok("098765 43210", Some("IN")), "+919876543210");
    }

    #[test]
    fn international_number_ignores_default_region() {
        assert_eq!(ok("+44 7911 123456", Some("PK")), "+447911123456");
    }

    #[test]
    fn empty_input_is_refused() {
        assert_eq!(normalize_number("", None), Err(NumberError::Empty));
        assert_eq!(normalize_number("   ", Some("PK")), Err(NumberError::Empty));
    }

    #[test]
    fn letters_are_refused_not_mapped_to_keypad_digits() {
        let err = normalize_number("1-800-FLOWERS", Some("US")).unwrap_err();
        assert_eq!(err, NumberError::InvalidCharacter { input: "1-800-FLOWERS".into(), found: 'F' });
        assert!(err.to_string().contains("`F`"), "{err}");
        assert!(matches!(
            normalize_number("+92300123456x7", None),
            Err(NumberError::InvalidCharacter { found: 'x', .. })
        ));
        assert!(matches!(
            normalize_number("92+3001234567", None),
            Err(NumberError::InvalidCharacter { found: '+', .. })
        ));
    }

    #[test]
    fn local_number_without_region_names_the_fix() {
        let err = normalize_number("0300 1234567", None).unwrap_err();
        assert_eq!(err, NumberError::MissingCountryCode { input: "0300 1234567".into() });
        assert_eq!(
            err.to_string(),
            "`0300 1234567` has no country code; write it as +<country code>… or set the account's default_region"
        );
    }

    #[test]
    fn unknown_region_is_its_own_error() {
        let err = normalize_number("0300 1234567", Some("XX")).unwrap_err();
        assert_eq!(err, NumberError::UnknownRegion { region: "XX".into() });
        assert!(err.to_string().contains("`XX` is not a known region"), "{err}");
        // The region is checked even when the number carries its own country code.
        assert!(matches!(normalize_number("+923001234567", Some("Pakistan")), Err(NumberError::UnknownRegion { .. })));
    }

    #[test]
    fn invalid_numbers_are_refused() {
        // Right length for Pakistan, but no mobile or fixed range starts with 0 after the trunk prefix.
        let err = normalize_number("+92 000 1234567", None).unwrap_err();
        assert_eq!(err, NumberError::Invalid { input: "+92 000 1234567".into(), country_code: 92 });
        assert!(err.to_string().contains("+92"), "{err}");
        // Ofcom keeps 07700 900xxx for drama: the right shape, but never a real subscriber.
        assert!(matches!(normalize_number("07700 900123", Some("GB")), Err(NumberError::Invalid { .. })));
    }

    #[test]
    fn numbers_longer_than_e164_allows_are_refused() {
        // Found by the phone_number fuzz target: German metadata accepted 17 digits.
        let long = normalize_number("-4873.842 4-4873.848", Some("de"));
        assert!(matches!(long, Err(NumberError::TooLong { .. })), "{long:?}");
        assert_eq!(normalize_number("+49 30 901820", None).as_deref(), Ok("+4930901820"));
    }

    #[test]
    fn unknown_country_code_too_short_and_too_long() {
        assert!(matches!(normalize_number("+999 1234567", None), Err(NumberError::UnknownCountryCode { .. })));
        assert!(matches!(normalize_number("+9", None), Err(NumberError::TooShort { .. })));
        assert!(matches!(normalize_number("+", None), Err(NumberError::TooShort { .. })));
        assert!(matches!(normalize_number("+92 300 12345678901234567890", None), Err(NumberError::TooLong { .. })));
    }

    #[test]
    fn long_input_is_cut_short_in_the_message() {
        let long = "x".repeat(500);
        let message = normalize_number(&long, None).unwrap_err().to_string();
        assert!(message.len() < 300, "{message}");
        assert!(message.contains('…'));
    }

    #[test]
    fn known_regions() {
        assert!(is_known_region("PK"));
        assert!(is_known_region("gb"));
        assert!(is_known_region("Us"));
        assert!(!is_known_region("XX"));
        assert!(!is_known_region(""));
        assert!(!is_known_region("PAK"));
    }

    fn gsm(units: u32, segments: u32) -> TextInfo {
        TextInfo { encoding: Encoding::Gsm7, segments, units }
    }

    fn ucs2(units: u32, segments: u32) -> TextInfo {
        TextInfo { encoding: Encoding::Ucs2, segments, units }
    }

    #[test]
    fn empty_body_is_one_empty_segment() {
        assert_eq!(analyze(""), gsm(0, 1));
    }

    #[test]
    fn gsm7_single_and_multi_segment_boundaries() {
        assert_eq!(analyze(&"a".repeat(160)), gsm(160, 1));
        assert_eq!(analyze(&"a".repeat(161)), gsm(161, 2));
        assert_eq!(analyze(&"a".repeat(153 * 2)), gsm(306, 2));
        assert_eq!(analyze(&"a".repeat(153 * 2 + 1)), gsm(307, 3));
    }

    #[test]
    fn gsm7_extension_chars_count_twice_and_never_split() {
        assert_eq!(analyze(&format!("{}€", "a".repeat(158))), gsm(160, 1));
        assert_eq!(analyze(&format!("{}€", "a".repeat(159))), gsm(161, 2));
        // 306 septets would fit two parts exactly, but the escape pair would straddle them.
        assert_eq!(analyze(&format!("{}€{}", "a".repeat(152), "a".repeat(152))), gsm(306, 3));
        assert_eq!(analyze(&format!("{}€{}", "a".repeat(151), "a".repeat(153))), gsm(306, 2));
        assert_eq!(analyze("^{}\\[~]|€\u{c}"), gsm(20, 1));
    }

    #[test]
    fn ucs2_single_and_multi_segment_boundaries() {
        assert_eq!(analyze(&"ب".repeat(70)), ucs2(70, 1));
        assert_eq!(analyze(&"ب".repeat(71)), ucs2(71, 2));
        assert_eq!(analyze(&"ب".repeat(67 * 2)), ucs2(134, 2));
        assert_eq!(analyze(&"ب".repeat(67 * 2 + 1)), ucs2(135, 3));
    }

    #[test]
    fn emoji_is_two_units_and_never_split() {
        assert_eq!(analyze(&format!("{}😀", "a".repeat(68))), ucs2(70, 1));
        assert_eq!(analyze(&format!("{}😀", "a".repeat(69))), ucs2(71, 2));
        // 134 units would fit two parts exactly, but the surrogate pair would straddle them.
        assert_eq!(analyze(&format!("{}😀{}", "a".repeat(66), "a".repeat(66))), ucs2(134, 3));
        assert_eq!(analyze(&format!("{}😀{}", "a".repeat(65), "a".repeat(67))), ucs2(134, 2));
    }

    #[test]
    fn one_non_gsm_char_makes_the_whole_body_ucs2() {
        assert_eq!(analyze("Price: 5`"), ucs2(9, 1));
        assert_eq!(analyze(&format!("{}ç", "a".repeat(100))), ucs2(101, 2));
    }

    #[test]
    fn urdu_script_is_ucs2() {
        let info = analyze("آپ کا کوڈ 123456 ہے");
        assert_eq!(info.encoding, Encoding::Ucs2);
        assert_eq!(info.units, 19);
        assert_eq!(info.segments, 1);
    }

    #[test]
    fn roman_urdu_is_gsm7() {
        assert_eq!(analyze("Apka code 123456 hai"), gsm(20, 1));
    }

    #[test]
    fn gsm7_alphabet_accents_stay_gsm7() {
        assert_eq!(analyze("Café à Zürich: 5£ ¿Qué? Ñ§ΔΩ @_$").encoding, Encoding::Gsm7);
    }

    #[test]
    fn encoding_names() {
        assert_eq!(Encoding::Gsm7.as_str(), "gsm7");
        assert_eq!(Encoding::Ucs2.as_str(), "ucs2");
        assert_eq!(serde_json::to_string(&Encoding::Gsm7).unwrap(), "\"gsm7\"");
        assert_eq!(serde_json::to_string(&Encoding::Ucs2).unwrap(), "\"ucs2\"");
    }
}
