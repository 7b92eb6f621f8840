//! Any JSON body infers tables or none, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = connectkit_autorest::infer_schemas("t", &body);
    }
});
