//! A strict JSON cursor over a page's text, for readers that walk a page's
//! rows once and keep each wanted value as its raw text.
//!
//! serde_json (also with `RawValue`), jiter, simd-json and sonic-rs were
//! each measured on our pages (`cargo xtask bench`, benchmark 8) and left
//! most of the time in their per-token machinery: rows are many short keys
//! and short values, where a byte loop over a lookup table beats both the
//! visitor calls of serde and the vector set-up of the SIMD parsers. The
//! cursor accepts exactly the JSON (RFC 8259) serde_json accepts, and gives
//! the same raw text as `RawValue` and the same strings; proptests below
//! hold it to that on valid and mutated documents.

use std::borrow::Cow;

/// What the next value is, by its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool,
    /// A number.
    Number,
    /// A string.
    String,
    /// An array.
    Array,
    /// An object.
    Object,
}

/// Why the text is not JSON, and where (1-based line and column, in bytes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} at line {line} column {column}")]
#[non_exhaustive]
pub struct CursorError {
    /// What was wrong.
    pub what: &'static str,
    /// The line where the parse stopped.
    pub line: usize,
    /// The byte column on that line.
    pub column: usize,
}

/// Bytes that end the plain run of a string: the quote, the backslash and
/// the control characters JSON does not allow unescaped.
const SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// A value's raw text, as read by [`Cursor::raw`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RawJson<'a> {
    /// The text, as serde_json's `RawValue` gives it.
    pub text: &'a str,
    /// Whether it is a string holding an escape (a string without one is
    /// its text between the quotes).
    pub escaped: bool,
}

/// Whether `key` is written as itself in JSON (no quote, backslash or
/// control character), for [`Cursor::key_is`].
pub fn is_plain(key: &str) -> bool {
    !key.bytes().any(|b| SPECIAL[usize::from(b)])
}

/// A position in a JSON text, moved forward value by value.
///
/// ```
/// use connectkit_core::decode::{Cursor, Kind};
///
/// let mut c = Cursor::new(r#"{"id": 7, "tags": ["a", "b"], "note": "x\ty"}"#);
/// let mut seen = Vec::new();
/// let mut key = c.object()?;
/// while let Some(k) = key {
///     seen.push((k.into_owned(), c.value()?));
///     key = c.next_key()?;
/// }
/// c.finish()?;
/// assert_eq!(seen[1], ("tags".to_owned(), r#"["a", "b"]"#));
/// assert_eq!(seen[2].1, r#""x\ty""#);
/// assert!(Cursor::new("[1,]").value().is_err());
/// # Ok::<(), connectkit_core::decode::CursorError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `text`.
    pub fn new(text: &'a str) -> Self {
        Self { text, pos: 0 }
    }

    /// The byte offset the cursor is at.
    pub fn offset(&self) -> usize {
        self.pos
    }

    #[cold]
    fn error(&self, what: &'static str) -> CursorError {
        let before = &self.text.as_bytes()[..self.pos.min(self.text.len())];
        let line_start = before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        CursorError {
            what,
            line: 1 + before.iter().filter(|b| **b == b'\n').count(),
            column: self.pos - line_start + 1,
        }
    }

    /// Skips whitespace; the byte after it.
    #[inline]
    fn ws(&mut self) -> Option<u8> {
        let bytes = self.text.as_bytes();
        while let Some(&b) = bytes.get(self.pos) {
            match b {
                b' ' | b'\n' | b'\r' | b'\t' => self.pos += 1,
                _ => return Some(b),
            }
        }
        None
    }

    /// What the next value is (after whitespace).
    #[inline]
    pub fn peek(&mut self) -> Result<Kind, CursorError> {
        Ok(match self.ws() {
            None => return Err(self.error("EOF while parsing a value")),
            Some(b'n') => Kind::Null,
            Some(b't' | b'f') => Kind::Bool,
            Some(b'"') => Kind::String,
            Some(b'[') => Kind::Array,
            Some(b'{') => Kind::Object,
            Some(b'-' | b'0'..=b'9') => Kind::Number,
            Some(_) => return Err(self.error("expected value")),
        })
    }

    /// Enters an object: whether a member follows (the cursor then at its
    /// key, to be read with [`Cursor::key`]).
    pub fn enter_object(&mut self) -> Result<bool, CursorError> {
        match self.ws() {
            Some(b'{') => self.pos += 1,
            None => return Err(self.error("EOF while parsing a value")),
            Some(_) => return Err(self.error("expected an object")),
        }
        match self.ws() {
            Some(b'}') => {
                self.pos += 1;
                Ok(false)
            }
            Some(b'"') => Ok(true),
            None => Err(self.error("EOF while parsing an object")),
            Some(_) => Err(self.error("key must be a string")),
        }
    }

    /// At a member's key: reads it and its colon when it is `plain` as
    /// written (the usual case of rows repeating their keys: one compare
    /// instead of a scan and a compare); `false`, the cursor unmoved,
    /// otherwise. `plain` must hold no quote, backslash or control
    /// character (see [`is_plain`]), so that the text matching it is the
    /// whole key, unescaped.
    #[inline]
    pub fn key_is(&mut self, plain: &str) -> Result<bool, CursorError> {
        let rest = &self.text.as_bytes()[self.pos..];
        let n = plain.len();
        if rest.len() > n + 1
            && rest[0] == b'"'
            && rest[n + 1] == b'"'
            && rest[1..n + 1]
                .iter()
                .zip(plain.as_bytes())
                .all(|(a, b)| a == b)
        {
            self.pos += n + 2;
            self.colon()?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Enters an object: its first key (the cursor then at its value), or
    /// `None` when it is empty.
    pub fn object(&mut self) -> Result<Option<Cow<'a, str>>, CursorError> {
        match self.enter_object()? {
            true => self.key().map(Some),
            false => Ok(None),
        }
    }

    /// After a member's value: the object's next key, or `None` at its end.
    #[inline]
    pub fn next_key(&mut self) -> Result<Option<Cow<'a, str>>, CursorError> {
        match self.member_follows()? {
            true => self.key().map(Some),
            false => Ok(None),
        }
    }

    /// After a member's value: whether another member follows (the cursor
    /// then at its key, to be read with [`Cursor::key`]), or the object
    /// ended.
    #[inline]
    pub fn member_follows(&mut self) -> Result<bool, CursorError> {
        match self.ws() {
            Some(b',') => {
                self.pos += 1;
                match self.ws() {
                    Some(b'"') => Ok(true),
                    None => Err(self.error("EOF while parsing an object")),
                    Some(_) => Err(self.error("key must be a string")),
                }
            }
            Some(b'}') => {
                self.pos += 1;
                Ok(false)
            }
            None => Err(self.error("EOF while parsing an object")),
            Some(_) => Err(self.error("expected `,` or `}`")),
        }
    }

    /// Reads a member's key and its colon (the cursor then at its value).
    #[inline]
    pub fn key(&mut self) -> Result<Cow<'a, str>, CursorError> {
        let key = self.string()?;
        self.colon().map(|()| key)
    }

    #[inline]
    fn colon(&mut self) -> Result<(), CursorError> {
        match self.ws() {
            Some(b':') => {
                self.pos += 1;
                Ok(())
            }
            None => Err(self.error("EOF while parsing an object")),
            Some(_) => Err(self.error("expected `:`")),
        }
    }

    /// Enters an array: whether an element follows (the cursor then at it).
    pub fn array(&mut self) -> Result<bool, CursorError> {
        match self.ws() {
            Some(b'[') => self.pos += 1,
            None => return Err(self.error("EOF while parsing a value")),
            Some(_) => return Err(self.error("expected an array")),
        }
        match self.ws() {
            Some(b']') => {
                self.pos += 1;
                Ok(false)
            }
            None => Err(self.error("EOF while parsing a list")),
            Some(_) => Ok(true),
        }
    }

    /// After an element: whether another follows, or the array ended.
    #[inline]
    pub fn next_element(&mut self) -> Result<bool, CursorError> {
        match self.ws() {
            Some(b',') => {
                self.pos += 1;
                match self.ws() {
                    Some(b']') => Err(self.error("trailing comma")),
                    None => Err(self.error("EOF while parsing a list")),
                    Some(_) => Ok(true),
                }
            }
            Some(b']') => {
                self.pos += 1;
                Ok(false)
            }
            None => Err(self.error("EOF while parsing a list")),
            Some(_) => Err(self.error("expected `,` or `]`")),
        }
    }

    /// Reads a string value: its text, borrowed when it holds no escape.
    pub fn string(&mut self) -> Result<Cow<'a, str>, CursorError> {
        match self.ws() {
            Some(b'"') => {}
            None => return Err(self.error("EOF while parsing a value")),
            Some(_) => return Err(self.error("expected a string")),
        }
        let start = self.pos;
        let escaped = self.scan_string()?;
        let inner = &self.text[start + 1..self.pos - 1];
        if !escaped {
            return Ok(Cow::Borrowed(inner));
        }
        // Escapes are rare in keys and links: serde_json unescapes them
        // (and refuses a lone surrogate, as it would have).
        serde_json::from_str::<String>(&self.text[start..self.pos])
            .map(Cow::Owned)
            .map_err(|_| self.error("invalid unicode code point"))
    }

    /// Reads `null` when it is next; whether it was.
    pub fn null(&mut self) -> Result<bool, CursorError> {
        if self.ws() != Some(b'n') {
            return Ok(false);
        }
        self.literal(b"null")?;
        Ok(true)
    }

    /// Reads the next value whole, checking it is JSON: its raw text, as
    /// serde_json's `RawValue` gives it.
    #[inline]
    pub fn value(&mut self) -> Result<&'a str, CursorError> {
        self.raw().map(|r| r.text)
    }

    /// Reads the next value whole as [`Cursor::value`] does, and says
    /// whether it is a string holding an escape.
    #[inline]
    pub fn raw(&mut self) -> Result<RawJson<'a>, CursorError> {
        let kind = self.peek()?;
        let start = self.pos;
        let escaped = match kind {
            Kind::String => self.scan_string()?,
            // Scalars without the container loop: most cells are these.
            Kind::Number => self.number().map(|()| false)?,
            Kind::Null => self.literal(b"null").map(|()| false)?,
            kind => self.skip(kind).map(|()| false)?,
        };
        Ok(RawJson {
            text: &self.text[start..self.pos],
            escaped,
        })
    }

    /// Checks that only whitespace is left.
    pub fn finish(&mut self) -> Result<(), CursorError> {
        match self.ws() {
            None => Ok(()),
            Some(_) => Err(self.error("trailing characters")),
        }
    }

    /// Reads one value of `kind` (the cursor at its first byte). Nesting is
    /// followed on a stack of its own rather than by recursion, so that any
    /// depth is checked (serde_json's `RawValue` takes any depth too).
    fn skip(&mut self, mut kind: Kind) -> Result<(), CursorError> {
        // Open containers, innermost last: `true` for an object.
        let mut open: Vec<bool> = Vec::new();
        loop {
            match kind {
                Kind::String => self.scan_string().map(drop)?,
                Kind::Number => self.number()?,
                Kind::Null => self.literal(b"null")?,
                Kind::Bool => match self.text.as_bytes()[self.pos] {
                    b't' => self.literal(b"true")?,
                    _ => self.literal(b"false")?,
                },
                Kind::Array => {
                    if self.array()? {
                        open.push(false);
                        kind = self.peek()?;
                        continue;
                    }
                }
                Kind::Object => {
                    if self.enter_object()? {
                        open.push(true);
                        self.member_key()?;
                        kind = self.peek()?;
                        continue;
                    }
                }
            }
            // A value ended: close what it ends, up to the next value.
            loop {
                match open.last() {
                    None => return Ok(()),
                    Some(false) if self.next_element()? => break,
                    Some(true) if self.member_follows()? => {
                        self.member_key()?;
                        break;
                    }
                    Some(_) => {
                        open.pop();
                    }
                }
            }
            kind = self.peek()?;
        }
    }

    /// A member's key, checked but not unescaped (`RawValue` takes a key
    /// with a lone surrogate escape, and so does this), and its colon.
    fn member_key(&mut self) -> Result<(), CursorError> {
        self.scan_string()?;
        self.colon()
    }

    fn literal(&mut self, word: &'static [u8]) -> Result<(), CursorError> {
        let rest = &self.text.as_bytes()[self.pos..];
        if rest.starts_with(word) {
            self.pos += word.len();
            return Ok(());
        }
        // Past the matching prefix: the end of the text, or a wrong byte.
        let same = rest.iter().zip(word).take_while(|(a, b)| a == b).count();
        self.pos += same;
        match same == rest.len() {
            true => Err(self.error("EOF while parsing a value")),
            false => Err(self.error("expected ident")),
        }
    }

    /// From the opening quote past the closing one; whether there was an
    /// escape.
    #[inline]
    fn scan_string(&mut self) -> Result<bool, CursorError> {
        let bytes = self.text.as_bytes();
        let mut i = self.pos + 1;
        let mut escaped = false;
        loop {
            // Eight bytes at a time while none of them ends the plain run
            // (the lowest flagged byte of a word is exact).
            const ONES: u64 = 0x0101_0101_0101_0101;
            const HIGH: u64 = 0x8080_8080_8080_8080;
            let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
            while let Some(Ok(word)) = bytes.get(i..i + 8).map(<[u8; 8]>::try_from) {
                let w = u64::from_le_bytes(word);
                let found = zero(w ^ (ONES * u64::from(b'"')))
                    | zero(w ^ (ONES * u64::from(b'\\')))
                    | (w.wrapping_sub(ONES * 0x20) & !w & HIGH);
                if found != 0 {
                    i += (found.trailing_zeros() / 8) as usize;
                    break;
                }
                i += 8;
            }
            while let Some(&b) = bytes.get(i)
                && !SPECIAL[usize::from(b)]
            {
                i += 1;
            }
            match bytes.get(i) {
                Some(b'"') => {
                    self.pos = i + 1;
                    return Ok(escaped);
                }
                Some(b'\\') => {
                    escaped = true;
                    i += 1;
                    match bytes.get(i) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 1,
                        Some(b'u') => {
                            let hex = bytes.get(i + 1..i + 5);
                            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                                self.pos = i;
                                return Err(self.error("invalid escape"));
                            }
                            i += 5;
                        }
                        Some(_) => {
                            self.pos = i;
                            return Err(self.error("invalid escape"));
                        }
                        None => {
                            self.pos = i;
                            return Err(self.error("EOF while parsing a string"));
                        }
                    }
                }
                Some(_) => {
                    self.pos = i;
                    return Err(self.error(
                        "control character (\\u0000-\\u001F) found while parsing a string",
                    ));
                }
                None => {
                    self.pos = i;
                    return Err(self.error("EOF while parsing a string"));
                }
            }
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    #[inline]
    fn number(&mut self) -> Result<(), CursorError> {
        let bytes = self.text.as_bytes();
        let digits = |i: usize| bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        let mut i = self.pos;
        if bytes.get(i) == Some(&b'-') {
            i += 1;
        }
        match bytes.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => i += digits(i),
            _ => {
                self.pos = i;
                return Err(self.error("invalid number"));
            }
        }
        if bytes.get(i) == Some(&b'.') {
            i += 1;
            let n = digits(i);
            if n == 0 {
                self.pos = i;
                return Err(self.error("invalid number"));
            }
            i += n;
        }
        if let Some(b'e' | b'E') = bytes.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = bytes.get(i) {
                i += 1;
            }
            let n = digits(i);
            if n == 0 {
                self.pos = i;
                return Err(self.error("invalid number"));
            }
            i += n;
        }
        self.pos = i;
        Ok(())
    }
}

#[cfg(test)]
#[path = "cursor_tests.rs"]
mod tests;
