//! Any token endpoint answer is a token or a typed error, never a panic.
#![no_main]

use connectkit_oauth_refresh::parse_token_response;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let status = 100 + u16::from(data[0]) * 2;
    let content_type = match data[1] % 3 {
        0 => None,
        1 => Some("application/json"),
        _ => Some("application/x-www-form-urlencoded"),
    };
    let _ = parse_token_response(status, content_type, &data[2..]);
});
