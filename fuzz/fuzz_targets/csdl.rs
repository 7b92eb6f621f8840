//! Any `$metadata` text gives schemas or a typed error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(xml) = std::str::from_utf8(data) {
        let _ = connectkit_dynamics365::schemas_from_csdl(xml);
    }
});
