//! The device link's frame decoder: any text a peer sends over the WebSocket, read as a frame
//! in either direction. A frame that decodes re-encodes, and the encoding decodes to the same
//! frame, so nothing a peer sends is changed by passing through our types.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relay_protocol::frames::{DeviceFrame, ServerFrame};
use serde::Serialize;
use serde::de::DeserializeOwned;

fuzz_target!(|data: &[u8]| {
    // The server reads text messages only (a binary message is refused before decoding).
    let Ok(text) = std::str::from_utf8(data) else { return };
    round_trips::<DeviceFrame>(text);
    round_trips::<ServerFrame>(text);
});

fn round_trips<F: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(text: &str) {
    let Ok(frame) = serde_json::from_str::<F>(text) else { return };
    let encoded = match serde_json::to_string(&frame) {
        Ok(encoded) => encoded,
        Err(e) => panic!("{frame:?} decoded but does not encode: {e}"),
    };
    match serde_json::from_str::<F>(&encoded) {
        Ok(again) => assert_eq!(again, frame, "{encoded} decodes to another frame"),
        Err(e) => panic!("{frame:?} encodes as {encoded}, which does not decode: {e}"),
    }
}
