//! Reading JSON pages: [`Cursor`], a strict JSON cursor that walks a page's
//! rows once and keeps each wanted value as raw text; [`KeyOrder`], which
//! matches a row's keys against the columns without scanning or copying a
//! key the previous row had; and [`JsonRows`] (feature `connector`),
//! arrow-json's decoding of a page's rows as a declared schema for
//! connectors whose rows map straight to columns.

mod cursor;
#[cfg(feature = "connector")]
mod json_rows;
pub use cursor::{Cursor, CursorError, Kind, RawJson, is_plain};
#[cfg(feature = "connector")]
pub use json_rows::{JsonPage, JsonRows, JsonRowsError};

/// The keys of the last object read, in order, with what each was looked up
/// as: rows of a page nearly always repeat their keys in the same order, so
/// the key at position `i` is first compared with the previous row's key at
/// `i` and only looked up (hashed) when it differs.
///
/// ```
/// use connectkit_core::decode::KeyOrder;
///
/// let mut order = KeyOrder::default();
/// let mut lookups = 0;
/// for _ in 0..3 {
///     for (i, k) in ["id", "name"].iter().enumerate() {
///         order.get(i, k, |k| {
///             lookups += 1;
///             k.len()
///         });
///     }
/// }
/// assert_eq!(lookups, 2);
/// ```
#[derive(Debug)]
pub struct KeyOrder<T> {
    last: Vec<Remembered<T>>,
}

/// A key remembered at a position, and what it was looked up as.
#[derive(Debug)]
struct Remembered<T> {
    name: String,
    /// Whether `name` is written as itself (see [`Cursor::key_is`]).
    plain: bool,
    value: T,
}

impl<T> Default for KeyOrder<T> {
    fn default() -> Self {
        Self { last: Vec::new() }
    }
}

/// Positions remembered: rows wider than this are looked up past it.
const KEY_ORDER_MAX: usize = 256;

impl<T: Copy> KeyOrder<T> {
    /// What key `k` at position `pos` of an object is: the answer remembered
    /// for the same key at that position, else `lookup(k)` (then remembered).
    pub fn get(&mut self, pos: usize, k: &str, lookup: impl FnOnce(&str) -> T) -> T {
        if let Some(r) = self.last.get(pos)
            && r.name == k
        {
            return r.value;
        }
        let value = lookup(k);
        if let Some(r) = self.last.get_mut(pos) {
            // The string's buffer is reused: no allocation once warm.
            r.name.clear();
            r.name.push_str(k);
            r.plain = is_plain(k);
            r.value = value;
        } else if pos == self.last.len() && pos < KEY_ORDER_MAX {
            self.last.push(Remembered {
                name: k.to_owned(),
                plain: is_plain(k),
                value,
            });
        }
        value
    }

    /// Reads the key of the member `cursor` is at (see
    /// [`Cursor::member_follows`]), the member at position `pos`, and
    /// answers it as [`KeyOrder::get`] does; the remembered key is matched
    /// against the text in place, so a repeated key is neither scanned nor
    /// copied.
    ///
    /// ```
    /// use connectkit_core::decode::{Cursor, KeyOrder};
    ///
    /// let mut order = KeyOrder::default();
    /// let mut found = Vec::new();
    /// let mut c = Cursor::new(r#"[{"id": 1, "x": 2}, {"id": 3, "y": 4}]"#);
    /// let mut more = c.array()?;
    /// while more {
    ///     let (mut pos, mut member) = (0, c.enter_object()?);
    ///     while member {
    ///         let column = order.read(pos, &mut c, |k| (k == "id").then_some(0))?;
    ///         found.push((column, c.value()?));
    ///         (pos, member) = (pos + 1, c.member_follows()?);
    ///     }
    ///     more = c.next_element()?;
    /// }
    /// assert_eq!(found, [(Some(0), "1"), (None, "2"), (Some(0), "3"), (None, "4")]);
    /// # Ok::<(), connectkit_core::decode::CursorError>(())
    /// ```
    #[inline]
    pub fn read(
        &mut self,
        pos: usize,
        cursor: &mut Cursor<'_>,
        lookup: impl FnOnce(&str) -> T,
    ) -> Result<T, CursorError> {
        if let Some(r) = self.last.get(pos)
            && r.plain
            && cursor.key_is(&r.name)?
        {
            return Ok(r.value);
        }
        let k = cursor.key()?;
        Ok(self.get(pos, &k, lookup))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Whatever order and keys rows come with, every answer is the lookup's.
        #[test]
        fn remembered_answers_are_the_lookups(
            rows in proptest::collection::vec(
                proptest::collection::vec("[a-d]{0,3}", 0..8), 0..20)
        ) {
            let lookup = |k: &str| k.len() * 7 + usize::from(k.starts_with('a'));
            let mut order = KeyOrder::default();
            for row in &rows {
                for (i, k) in row.iter().enumerate() {
                    proptest::prop_assert_eq!(order.get(i, k, lookup), lookup(k));
                }
            }
        }

        /// Keys read from the text are answered as their unescaped text,
        /// whether a row writes a key plainly or escaped and whatever the
        /// previous row wrote.
        #[test]
        fn keys_read_in_place_are_the_lookups(
            rows in proptest::collection::vec(
                proptest::collection::vec(("a|ab|b|a\"b|é|\\\\", proptest::bool::ANY), 0..6), 0..12)
        ) {
            let lookup = |k: &str| k.len() * 7 + usize::from(k.starts_with('a'));
            let text = rows.iter().map(|row| {
                let members = row.iter().map(|(k, escape)| {
                    let key = match escape {
                        // Every character as a \u escape.
                        true => k.encode_utf16().map(|u| format!("\\u{u:04x}")).collect(),
                        false => serde_json::to_string(k).unwrap_or_default().trim_matches('"').to_owned(),
                    };
                    format!("\"{key}\": 0")
                });
                format!("{{{}}}", members.collect::<Vec<_>>().join(","))
            });
            let text = format!("[{}]", text.collect::<Vec<_>>().join(","));
            let mut order = KeyOrder::default();
            let mut c = Cursor::new(&text);
            let mut got = Vec::new();
            let mut more = c.array().unwrap();
            while more {
                let (mut pos, mut member) = (0, c.enter_object().unwrap());
                while member {
                    got.push(order.read(pos, &mut c, lookup).unwrap());
                    c.value().unwrap();
                    (pos, member) = (pos + 1, c.member_follows().unwrap());
                }
                more = c.next_element().unwrap();
            }
            let want: Vec<usize> = rows.iter().flatten().map(|(k, _)| lookup(k)).collect();
            proptest::prop_assert_eq!(got, want, "{}", text);
        }
    }
}
