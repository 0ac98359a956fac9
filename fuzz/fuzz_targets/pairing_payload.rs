//! The pairing QR payload as a phone scans it: any text at all. A payload that parses names an
//! http(s) server, a non-empty code and (if any) a 64-digit lowercase hex fingerprint, and
//! writing it back as a URI parses to the same payload.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relay_protocol::pairing::PairingPayload;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(payload) = PairingPayload::parse(text) else { return };
    assert!(payload.server_url.starts_with("http://") || payload.server_url.starts_with("https://"), "{payload:?}");
    assert!(!payload.server_url.ends_with('/'), "{payload:?}");
    assert!(!payload.code.is_empty(), "{payload:?}");
    if let Some(fp) = &payload.fingerprint {
        assert!(fp.len() == 64 && fp.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')), "{payload:?}");
    }
    let uri = payload.to_uri();
    assert_eq!(PairingPayload::parse(&uri).as_ref(), Ok(&payload), "{uri} parses differently");
});
