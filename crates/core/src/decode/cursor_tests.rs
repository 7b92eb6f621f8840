//! The cursor against serde_json, on valid documents and on mutated ones.

use super::*;
use proptest::prelude::*;
use serde_json::value::RawValue;

/// A JSON value of every kind, with strings that need escapes.
fn json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "(\\PC|[\"\\\\\u{0}-\u{1f}\u{2028}])*".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::btree_map("[a-z\"\\\\]{0,4}", inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Bytes that change what a document means.
const EDITS: &[&str] = &[
    "{", "}", "[", "]", ",", ":", "\"", "\\", " ", "\n", "0", "1", "-", "+", ".", "e", "E", "t",
    "n", "u", "a", "\u{1}", "\\u", "\\ud800", "nul", "tru", "01", "1.", "é",
];

/// A document, pretty or compact, with up to three edits at char boundaries.
fn document() -> impl Strategy<Value = String> {
    (
        json(),
        any::<bool>(),
        prop::collection::vec((any::<prop::sample::Index>(), 0..3u8, 0..EDITS.len()), 0..4),
    )
        .prop_map(|(v, pretty, edits)| {
            let mut text = match pretty {
                true => serde_json::to_string_pretty(&v).unwrap_or_default(),
                false => v.to_string(),
            };
            for (at, how, edit) in edits {
                let bounds: Vec<usize> = text
                    .char_indices()
                    .map(|(i, _)| i)
                    .chain([text.len()])
                    .collect();
                let i = bounds[at.index(bounds.len())];
                let next = bounds.iter().find(|b| **b > i).copied();
                match (how, next) {
                    (0, _) => text.insert_str(i, EDITS[edit]),
                    (1, Some(n)) => text.replace_range(i..n, EDITS[edit]),
                    (_, Some(n)) => text.replace_range(i..n, ""),
                    _ => {}
                }
            }
            text
        })
}

/// The whole document read by the cursor: its raw text.
fn whole(text: &str) -> Result<&str, CursorError> {
    let mut c = Cursor::new(text);
    let raw = c.value()?;
    c.finish().map(|()| raw)
}

/// Every string in a document read by the cursor, in order, keys included.
fn strings(text: &str) -> Result<Vec<String>, CursorError> {
    fn walk(c: &mut Cursor<'_>, out: &mut Vec<String>) -> Result<(), CursorError> {
        match c.peek()? {
            Kind::String => out.push(c.string()?.into_owned()),
            Kind::Array => {
                let mut more = c.array()?;
                while more {
                    walk(c, out)?;
                    more = c.next_element()?;
                }
            }
            Kind::Object => {
                let mut key = c.object()?;
                while let Some(k) = key {
                    out.push(k.into_owned());
                    walk(c, out)?;
                    key = c.next_key()?;
                }
            }
            _ => {
                c.value()?;
            }
        }
        Ok(())
    }
    let mut c = Cursor::new(text);
    let mut out = Vec::new();
    walk(&mut c, &mut out)?;
    c.finish().map(|()| out)
}

/// Every string serde_json reads in a document, in order, keys included.
fn serde_strings(text: &str) -> Option<Vec<String>> {
    use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

    struct Strings<'v>(&'v mut Vec<String>);

    impl<'de> DeserializeSeed<'de> for Strings<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Strings<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_str<E>(self, v: &str) -> Result<(), E> {
            self.0.push(v.to_owned());
            Ok(())
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while seq.next_element_seed(Strings(&mut *self.0))?.is_some() {}
            Ok(())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(k) = map.next_key::<String>()? {
                self.0.push(k);
                map.next_value_seed(Strings(&mut *self.0))?;
            }
            Ok(())
        }
    }

    let mut out = Vec::new();
    let mut de = serde_json::Deserializer::from_str(text);
    Strings(&mut out).deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(out)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// The cursor accepts what serde_json accepts, with the same raw text.
    #[test]
    fn raw_values_are_serde_jsons(text in document()) {
        let serde = serde_json::from_str::<&RawValue>(&text).map(RawValue::get);
        let ours = whole(&text);
        prop_assert_eq!(ours.ok(), serde.ok(), "{}", text);
    }

    /// The strings (keys and values) it reads are serde_json's, in order.
    #[test]
    fn strings_are_serde_jsons(text in document()) {
        match (strings(&text).ok(), serde_strings(&text)) {
            // serde_json parses numbers as it reads them; the cursor, like
            // `RawValue`, only checks their syntax.
            (Some(_), None) => {
                let e = serde_json::from_str::<serde_json::Value>(&text).unwrap_err();
                prop_assert!(e.to_string().contains("number out of range"), "{}: {}", text, e);
            }
            (ours, serde) => prop_assert_eq!(ours, serde, "{}", text),
        }
    }
}

#[test]
fn errors_say_what_and_where() {
    let e = whole("{\"a\": [1,\n 2,]}").unwrap_err();
    assert_eq!(e.to_string(), "trailing comma at line 2 column 4");
    let e = whole("\"tab\there\"").unwrap_err();
    assert_eq!(
        e.what,
        "control character (\\u0000-\\u001F) found while parsing a string"
    );
    assert_eq!(whole("[1] x").unwrap_err().what, "trailing characters");
    assert_eq!(whole("01").unwrap_err().what, "trailing characters");
    assert_eq!(whole("-").unwrap_err().what, "invalid number");
    assert_eq!(whole("nul").unwrap_err().what, "EOF while parsing a value");
    // Any depth is checked without recursion, as `RawValue` takes it.
    let deep = format!("{}1{}", "[{\"a\":".repeat(50_000), "}]".repeat(50_000));
    assert_eq!(whole(&deep).unwrap().len(), deep.len());
    let unclosed = format!("{}1{}", "[".repeat(50_000), "]".repeat(49_999));
    assert_eq!(
        whole(&unclosed).unwrap_err().what,
        "EOF while parsing a list"
    );
    let mut c = Cursor::new(r#"{"k\u00e9y": "\ud800"}"#);
    assert_eq!(c.object().unwrap().as_deref(), Some("kéy"));
    assert_eq!(c.string().unwrap_err().what, "invalid unicode code point");
}
