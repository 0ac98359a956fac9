//! The phone-number metadata's patterns, compiled with a bounded matching cache.
//!
//! `phonenumber` compiles a country's patterns on first use into one shared cache of compiled
//! regexes, each with regex's default lazy-DFA cache: up to 2 MiB per pattern and per thread,
//! filled slowly as new numbers explore it. In a 30-minute soak that was the server's only
//! growing memory (+4.9 MB on the two request threads between minutes 12 and 29, heaptrack);
//! one thread needs ~300,000 random numbers of one country before it stops growing. Compiled
//! with a small DFA budget, regex matches these ten-digit inputs with its other engines as fast
//! (a million Pakistani numbers parsed and validated: 7.5–9 s against 10–11.5 s) and the memory
//! is flat from the first number.

use std::collections::HashSet;
use std::sync::{LazyLock, Mutex};

use phonenumber::metadata::{DATABASE, Metadata};

/// Lazy-DFA budget of one compiled pattern. Below what regex needs for a useful lazy DFA, so
/// it matches with its bounded engines instead, which on inputs this short cost the same.
const DFA_BUDGET_BYTES: usize = 16 * 1024;

/// Compiled patterns the shared cache keeps. phonenumber's own limit (100) is about two
/// countries' patterns: traffic to a third would evict and recompile on every switch.
const CACHED_PATTERNS: usize = 4096;

/// Country codes whose patterns are compiled with the small budget.
static PREPARED: LazyLock<Mutex<HashSet<u16>>> = LazyLock::new(|| Mutex::new(HashSet::new()));

/// Compiles the patterns of `country_code` with the small DFA budget, once per code; a pattern
/// the parse before compiled with the default budget is replaced. Cheap after the first call.
pub fn prepare(country_code: u16) {
    let Ok(mut prepared) = PREPARED.lock() else { return };
    if !prepared.insert(country_code) {
        return;
    }
    let Some(plans) = DATABASE.by_code(&country_code) else { return };
    // A set: formats and international formats often share a pattern, compiled once.
    let sources: HashSet<String> = plans.into_iter().flat_map(sources).collect();
    let cache = DATABASE.cache();
    let Ok(mut cache) = cache.lock() else { return };
    if cache.capacity() < CACHED_PATTERNS {
        cache.set_capacity(CACHED_PATTERNS);
    }
    for source in &sources {
        cache.remove(source.as_str());
        // The options phonenumber compiles with (whitespace-insensitive), plus the budget.
        if let Err(e) = cache.configure(source, |b| b.ignore_whitespace(true).dfa_size_limit(DFA_BUDGET_BYTES)) {
            tracing::warn!(country_code, error = %e, "a phone-number pattern did not compile; phonenumber will use its own");
        }
    }
    tracing::debug!(country_code, patterns = sources.len(), "phone-number patterns compiled");
}

/// Every pattern of one numbering plan's metadata.
fn sources(m: &Metadata) -> Vec<String> {
    let d = m.descriptors();
    let descriptors = [
        d.fixed_line(),
        d.mobile(),
        d.toll_free(),
        d.premium_rate(),
        d.shared_cost(),
        d.personal_number(),
        d.voip(),
        d.pager(),
        d.uan(),
        d.emergency(),
        d.voicemail(),
        d.short_code(),
        d.standard_rate(),
        d.carrier(),
        d.no_international(),
    ];
    let formats = m.formats().iter().chain(m.international_formats());
    std::iter::once(d.general())
        .chain(descriptors.into_iter().flatten())
        .map(|desc| desc.national_number())
        .chain(formats.flat_map(|f| std::iter::once(f.pattern()).chain(f.leading_digits())))
        .chain([m.international_prefix(), m.national_prefix_for_parsing(), m.leading_digits()].into_iter().flatten())
        .map(|r| r.as_str().to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_countrys_patterns_are_all_in_the_shared_cache_after_its_first_number() {
        crate::messages::text::normalize_number("+923001234567", None).unwrap();
        let plans = DATABASE.by_code(&92).unwrap();
        let wanted: Vec<String> = plans.into_iter().flat_map(sources).collect();
        assert!(wanted.len() > 20, "Pakistan's plan has its descriptors and formats: {}", wanted.len());
        let cache = DATABASE.cache();
        let mut cache = cache.lock().unwrap();
        assert!(cache.capacity() >= CACHED_PATTERNS);
        let missing: Vec<&String> = wanted.iter().filter(|s| !cache.contains_key(s.as_str())).collect();
        assert!(missing.is_empty(), "not compiled: {missing:?}");
    }

    #[test]
    fn numbers_still_parse_the_same_after_their_patterns_are_recompiled() {
        for (input, region, e164) in [
            ("+92 300 1234567", None, "+923001234567"),
            ("0300-1234567", Some("PK"), "+923001234567"),
            ("+44 20 7946 0958", None, "+442079460958"),
            ("(415) 555-2671", Some("US"), "+14155552671"),
        ] {
            // Twice: the first call compiles the country's patterns, the second uses them.
            for _ in 0..2 {
                assert_eq!(crate::messages::text::normalize_number(input, region).unwrap(), e164, "{input}");
            }
        }
        assert!(crate::messages::text::normalize_number("+92 300 12", None).is_err());
    }
}
