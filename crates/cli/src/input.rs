//! Where the connection URL comes from: the argument, `@PATH`, or `-` (stdin),
//! so secrets can stay off the process list.

use std::io::Read;

use connectkit_core::Error;

/// Reads the connection URL named by `arg`.
pub fn read_url(arg: &str) -> Result<String, Error> {
    let text = if arg == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).map_err(|e| {
            Error::invalid_property(
                "URL",
                format!("a connection URL on standard input ({e})"),
                None,
            )
        })?;
        s
    } else if let Some(path) = arg.strip_prefix('@') {
        std::fs::read_to_string(path).map_err(|e| {
            Error::invalid_property(
                "URL",
                format!("a readable file holding a connection URL ({e})"),
                Some(path),
            )
        })?
    } else {
        arg.to_owned()
    };
    let text = text.trim_end_matches(['\n', '\r']).to_owned();
    if text.trim().is_empty() {
        return Err(Error::invalid_property(
            "URL",
            "a connection URL, found nothing",
            None,
        ));
    }
    Ok(text)
}
