//! Any text either parses or errors, never panics; what parses round-trips.
#![no_main]

use connectkit_core::ConnectionUrl;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(url) = text.parse::<ConnectionUrl>() else { return };
    let again: ConnectionUrl = url
        .expose_secret_url()
        .parse()
        .expect("a formatted URL parses back");
    assert_eq!(again.properties().len(), url.properties().len());
    for (name, value) in url.properties().iter() {
        assert_eq!(again.properties().get(name).map(|v| v.expose()), Some(value.expose()));
    }
});
