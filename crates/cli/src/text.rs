//! Text from a server on a terminal: control characters are escaped so
//! that a value cannot move the cursor, retitle the window, ring the bell
//! or hide what precedes it (terminal escape injection).

use std::borrow::Cow;

/// `text` with every control character (C0, DEL and C1) written as a Rust
/// escape: `\n`, `\r`, `\t`, else `\u{1b}` and the like. Text without any
/// is returned as is.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_the_rest_kept() {
        assert_eq!(
            escape_controls("\u{1b}]0;pwned\u{7}\u{1b}[2J"),
            "\\u{1b}]0;pwned\\u{7}\\u{1b}[2J"
        );
        assert_eq!(
            escape_controls("a\tb\r\nc\u{7f}\u{9b}31m\u{0}"),
            "a\\tb\\r\\nc\\u{7f}\\u{9b}31m\\u{0}"
        );
        assert!(matches!(escape_controls("Zoë, 東京 ✓"), Cow::Borrowed(_)));
    }
}
