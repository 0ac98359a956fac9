//! What a search matches on: names folded to a search key, numbers as people type them.
//!
//! A name's key is what remains once the differences people don't type consistently are gone:
//! case, accents (Unicode NFKD, combining marks dropped), and in Arabic script the short-vowel
//! marks (harakat), the tatweel and the letter variants Urdu, Persian and Arabic keyboards
//! write differently (alef, yeh, heh, kaf, teh marbuta). The query is folded the same way and
//! matched with `LIKE` on the stored key, so "jose" finds "José" and "علی" finds "محمد علي".

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::messages::text;

/// The search key of a name (or of a query).
pub fn fold(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut space = true; // collapse runs of spaces and drop leading ones
    for c in name.nfkd() {
        if is_combining_mark(c) {
            continue;
        }
        let c = match c {
            // Tatweel, zero-width joiners and direction marks: typing artefacts, not letters.
            '\u{640}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}' => {
                continue;
            }
            // Alef variants (the hamza forms decompose to a bare alef plus a mark).
            '\u{671}' | '\u{672}' | '\u{673}' | '\u{675}' => '\u{627}',
            // Yeh: Arabic yeh and alef maksura are written as Farsi/Urdu yeh.
            '\u{64a}' | '\u{649}' | '\u{6cd}' | '\u{6d0}' => '\u{6cc}',
            // Heh: heh goal, do-chashmi heh, ae and teh marbuta as the Arabic heh.
            '\u{6c1}' | '\u{6be}' | '\u{6d5}' | '\u{629}' | '\u{6c3}' => '\u{647}',
            // Kaf: Arabic kaf as keheh.
            '\u{643}' => '\u{6a9}',
            c if c.is_whitespace() => ' ',
            c => c,
        };
        if c == ' ' {
            if !space {
                out.push(' ');
            }
            space = true;
            continue;
        }
        space = false;
        out.extend(c.to_lowercase());
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// The digits of an E.164 number, last first: a "last digits" search is then a prefix.
pub fn reversed_digits(e164: &str) -> String {
    e164.chars().rev().filter(char::is_ascii_digit).collect()
}

/// A query as the search understands it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Query {
    /// The folded text, matched against names.
    pub key: String,
    /// The whole number, when the query is one (in any format the send accepts).
    pub exact: Option<String>,
    /// The start of an E.164 number, when the query begins like one (`+92300`, `0300 12`).
    pub number_prefix: Option<String>,
    /// The typed digits reversed, when there are enough to look for as a number's ending.
    pub digits_rev: Option<String>,
}

/// Fewest digits worth searching for as a number's ending.
const MIN_DIGITS: usize = 3;

impl Query {
    /// Reads a query. A query of digits (any script) and the usual separators is a number;
    /// anything else is a name.
    pub fn parse(q: &str, default_region: Option<&str>) -> Query {
        let trimmed = q.trim();
        let numeric = trimmed.chars().enumerate().all(|(i, c)| {
            digit(c).is_some() || matches!(c, ' ' | '-' | '.' | '(' | ')' | '/' | '\u{a0}') || (c == '+' && i == 0)
        });
        let digits: String = trimmed.chars().filter_map(digit).collect();
        if !numeric || digits.len() < MIN_DIGITS {
            return Query { key: fold(trimmed), ..Query::default() };
        }
        let exact = text::normalize_number(trimmed, default_region).ok();
        let number_prefix = if trimmed.starts_with('+') {
            Some(format!("+{digits}"))
        } else if let Some(rest) = digits.strip_prefix("00") {
            Some(format!("+{rest}"))
        } else {
            national_prefix(&digits, default_region)
        };
        let digits_rev = Some(digits.chars().rev().collect());
        Query { key: String::new(), exact, number_prefix, digits_rev }
    }

    pub fn is_number(&self) -> bool {
        self.digits_rev.is_some()
    }
}

/// ASCII, Arabic-Indic and Extended Arabic-Indic digits as ASCII.
fn digit(c: char) -> Option<char> {
    match c {
        '0'..='9' => Some(c),
        '\u{660}'..='\u{669}' => char::from_digit(u32::from(c) - 0x660, 10),
        '\u{6f0}'..='\u{6f9}' => char::from_digit(u32::from(c) - 0x6f0, 10),
        _ => None,
    }
}

/// A national number's beginning ("030012" in Pakistan) as the beginning of its E.164 form.
fn national_prefix(digits: &str, region: Option<&str>) -> Option<String> {
    let region = region?.trim().to_ascii_uppercase();
    let meta = phonenumber::metadata::DATABASE.by_id(region.as_str())?;
    let trunk = meta.national_prefix().unwrap_or("");
    let rest = if trunk.is_empty() { digits } else { digits.strip_prefix(trunk)? };
    Some(format!("+{}{rest}", meta.country_code()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin_names_fold_case_and_accents() {
        assert_eq!(fold("  José   ÁLVAREZ "), "jose alvarez");
        assert_eq!(fold("Zoë Ångström"), "zoe angstrom");
        assert!(fold("François").contains(&fold("franc")));
    }

    #[test]
    fn arabic_script_variants_fold_together() {
        // Urdu keyboard (Farsi yeh, keheh, heh goal) and Arabic keyboard (yeh, kaf, heh).
        assert_eq!(fold("علی"), fold("علي"));
        assert_eq!(fold("شکیلہ"), fold("شكيله"));
        // Harakat and tatweel do not count; hamza forms of alef are alef.
        assert_eq!(fold("مُحَمَّد"), fold("محمد"));
        assert_eq!(fold("مـحـمـد"), fold("محمد"));
        assert_eq!(fold("أحمد"), fold("احمد"));
        assert!(fold("محمد علی").contains(&fold("علي")));
    }

    #[test]
    fn numbers_in_any_format_become_number_queries() {
        let q = Query::parse("0300 1234567", Some("PK"));
        assert_eq!(q.exact.as_deref(), Some("+923001234567"));
        assert_eq!(q.number_prefix.as_deref(), Some("+923001234567"));
        let q = Query::parse("0300 12", Some("PK"));
        assert_eq!(q.exact, None);
        assert_eq!(q.number_prefix.as_deref(), Some("+9230012"));
        let q = Query::parse("+92300", None);
        assert_eq!(q.number_prefix.as_deref(), Some("+92300"));
        let q = Query::parse("4567", None);
        assert_eq!(q.digits_rev.as_deref(), Some("7654"));
        assert_eq!(q.number_prefix, None);
        assert_eq!(Query::parse("۴۵۶۷", None).digits_rev.as_deref(), Some("7654"));
    }

    #[test]
    fn names_and_short_digit_runs_are_name_queries() {
        let q = Query::parse("Ali 2", None);
        assert!(!q.is_number());
        assert_eq!(q.key, "ali 2");
        assert!(!Query::parse("12", None).is_number());
    }
}
