//! Typed reading of properties whose defaults come from a connector's
//! catalogue: the one place a whole number, a boolean or a number of seconds
//! is parsed from a property, and the one place an absent property takes its
//! [`PropertySpec::default`].

use std::time::Duration;

use super::{Properties, PropertySpec};
use crate::error::{Error, Result};

/// A typed view of [`Properties`]: each getter reads the value given, else
/// the catalogue's default ([`PropertySpec::default`]), and parses it.
///
/// A value that does not parse is [`Error::InvalidProperty`], naming the
/// property and what was expected (with the value found, unless the
/// property is secret). A property that is neither given nor has a default
/// in the catalogue is [`Error::InvalidProperty`] too, saying so; use
/// [`text`](Self::text) or [`Properties::contains`] where absence is
/// meaningful.
///
/// ```
/// use std::time::Duration;
/// use connectkit_core::{ConnectionUrl, PropertySpec};
///
/// const CATALOGUE: &[PropertySpec] = &[
///     PropertySpec::new("PageSize", "Rows per page.").default_value("5000"),
///     PropertySpec::new("Labels", "Label columns.").default_value("false"),
///     PropertySpec::new("WSTimeout", "Seconds; 0 for none.").default_value("120"),
/// ];
/// let url: ConnectionUrl = "x:Labels=TRUE;WSTimeout=0".parse()?;
/// let typed = url.properties().typed(CATALOGUE);
/// assert_eq!(typed.positive::<u32>("PageSize")?, 5000); // the catalogue's default
/// assert!(typed.boolean("Labels")?);
/// assert_eq!(typed.timeout("WSTimeout")?, None); // 0: no limit
///
/// let url: ConnectionUrl = "x:PageSize=lots".parse()?;
/// let err = url.properties().typed(CATALOGUE).positive::<u32>("PageSize").unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "property PageSize: expected a positive whole number, found \"lots\""
/// );
/// # Ok::<(), connectkit_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct TypedProperties<'a> {
    props: &'a Properties,
    catalogue: &'a [PropertySpec],
}

/// The unsigned integer types [`TypedProperties::whole`] and
/// [`TypedProperties::positive`] return.
pub trait WholeNumber: Copy + sealed::Sealed {
    /// The largest value, as a `u64`.
    const MAX: u64;
    /// Converts a value known to be at most [`MAX`](Self::MAX).
    fn from_u64(n: u64) -> Self;
}

mod sealed {
    pub trait Sealed {}
}

macro_rules! whole_number {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {}
        impl WholeNumber for $t {
            const MAX: u64 = <$t>::MAX as u64;
            fn from_u64(n: u64) -> Self {
                n as $t
            }
        }
    )*};
}
whole_number!(u8, u16, u32, u64, usize);

impl Properties {
    /// A typed view of these properties, with the defaults of `catalogue`
    /// (see [`TypedProperties`]).
    pub fn typed<'a>(&'a self, catalogue: &'a [PropertySpec]) -> TypedProperties<'a> {
        TypedProperties {
            props: self,
            catalogue,
        }
    }
}

impl<'a> TypedProperties<'a> {
    /// The catalogue entry of `name` (any case).
    pub fn spec(&self, name: &str) -> Option<&'a PropertySpec> {
        self.catalogue
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
    }

    /// The text of `name` (given, else the catalogue's default), untrimmed;
    /// `None` when neither exists or the given value is secret.
    pub fn text(&self, name: &str) -> Option<&'a str> {
        match self.props.get(name) {
            Some(v) => v.as_plain(),
            None => self.spec(name).and_then(|s| s.default),
        }
    }

    /// Reads `name` and parses it with `parse`; `expected` says what would
    /// have been accepted, unless `parse` says more precisely.
    fn read<T>(
        &self,
        name: &str,
        expected: &str,
        parse: impl Fn(&str) -> std::result::Result<T, Option<String>>,
    ) -> Result<T> {
        let spec = self.spec(name);
        let name = spec.map_or(name, |s| s.name);
        let secret = spec.is_some_and(|s| s.secret);
        let (text, found) = match self.props.get(name) {
            Some(v) => (v.expose(), v.as_plain().filter(|_| !secret)),
            None => match spec.and_then(|s| s.default) {
                Some(d) => (d, Some(d).filter(|_| !secret)),
                None => {
                    return Err(Error::invalid_property(
                        name,
                        format!("{expected} (it is not given and has no default)"),
                        None,
                    ));
                }
            },
        };
        parse(text.trim()).map_err(|precisely| {
            Error::invalid_property(name, precisely.as_deref().unwrap_or(expected), found)
        })
    }

    /// A whole number from `min` to `T::MAX`; beyond `T::MAX`, the message
    /// gives the bound.
    fn bounded<T: WholeNumber>(&self, name: &str, min: u64, expected: &str) -> Result<T> {
        self.read(name, expected, |s| match s.parse::<u64>() {
            Ok(n) if n > T::MAX => Err(Some(format!("{expected} up to {}", T::MAX))),
            Ok(n) if n >= min => Ok(T::from_u64(n)),
            _ => Err(None),
        })
    }

    /// A whole number `>= 0` that fits `T`.
    pub fn whole<T: WholeNumber>(&self, name: &str) -> Result<T> {
        self.bounded(name, 0, "a whole number")
    }

    /// A whole number `>= 1` that fits `T`.
    pub fn positive<T: WholeNumber>(&self, name: &str) -> Result<T> {
        self.bounded(name, 1, "a positive whole number")
    }

    /// `true` or `false`, in any case.
    pub fn boolean(&self, name: &str) -> Result<bool> {
        self.read(name, "true or false", |s| {
            if s.eq_ignore_ascii_case("true") {
                Ok(true)
            } else if s.eq_ignore_ascii_case("false") {
                Ok(false)
            } else {
                Err(None)
            }
        })
    }

    /// A whole number of seconds (`0` is no time at all).
    pub fn seconds(&self, name: &str) -> Result<Duration> {
        self.read(name, "a whole number of seconds", |s| {
            s.parse::<u64>().map(Duration::from_secs).map_err(|_| None)
        })
    }

    /// A limit in whole seconds, `0` for no limit (`None`).
    pub fn timeout(&self, name: &str) -> Result<Option<Duration>> {
        self.read(name, "a whole number of seconds (0 for no limit)", |s| {
            s.parse::<u64>()
                .map(|n| (n > 0).then(|| Duration::from_secs(n)))
                .map_err(|_| None)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CATALOGUE: &[PropertySpec] = &[
        PropertySpec::new("PageSize", "Rows per page.").default_value("5000"),
        PropertySpec::new("Retries", "Retries.").default_value("0"),
        PropertySpec::new("Labels", "Labels.").default_value("false"),
        PropertySpec::new("Wait", "Seconds.").default_value("300"),
        PropertySpec::new("WSTimeout", "Seconds; 0 for none.").default_value("120"),
        PropertySpec::new("Limit", "No default."),
        PropertySpec::new("Pin", "A secret number.").secret(),
    ];

    fn props(pairs: &[(&str, &str)]) -> Properties {
        let mut p = Properties::new();
        for (k, v) in pairs {
            p.insert(*k, *v).unwrap();
        }
        p
    }

    type Get = fn(TypedProperties<'_>) -> Result<()>;

    fn message(e: Error) -> String {
        assert_eq!(e.code(), "config.invalid_property", "{e}");
        e.to_string()
    }

    #[test]
    fn absent_properties_take_the_catalogue_default() {
        let p = props(&[]);
        let t = p.typed(CATALOGUE);
        assert_eq!(t.positive::<u32>("PageSize").unwrap(), 5000);
        assert_eq!(t.whole::<u64>("pagesize").unwrap(), 5000);
        assert_eq!(t.whole::<u32>("Retries").unwrap(), 0);
        assert!(!t.boolean("Labels").unwrap());
        assert_eq!(t.seconds("Wait").unwrap(), Duration::from_secs(300));
        assert_eq!(
            t.timeout("WSTimeout").unwrap(),
            Some(Duration::from_secs(120))
        );
        assert_eq!(t.text("PageSize"), Some("5000"));
        assert_eq!(t.text("Limit"), None);
    }

    #[test]
    fn given_values_win_over_the_default() {
        let p = props(&[
            ("pagesize", " 50 "),
            ("Retries", "7"),
            ("Labels", "TRUE"),
            ("Wait", "0"),
            ("WSTimeout", "0"),
            ("Limit", "9"),
        ]);
        let t = p.typed(CATALOGUE);
        assert_eq!(t.positive::<u32>("PageSize").unwrap(), 50);
        assert_eq!(t.whole::<u8>("Retries").unwrap(), 7);
        assert!(t.boolean("Labels").unwrap());
        assert_eq!(t.seconds("Wait").unwrap(), Duration::ZERO);
        assert_eq!(t.timeout("WSTimeout").unwrap(), None);
        assert_eq!(t.whole::<usize>("Limit").unwrap(), 9);
        for (text, want) in [("False", false), (" true ", true), ("fAlSe", false)] {
            let p = props(&[("Labels", text)]);
            assert_eq!(p.typed(CATALOGUE).boolean("Labels").unwrap(), want);
        }
    }

    #[test]
    fn bad_values_name_the_property_and_the_value() {
        let cases: [(&str, &str, Get, &str); 7] = [
            (
                "pagesize",
                "0",
                |t| t.positive::<u32>("PageSize").map(drop),
                "property PageSize: expected a positive whole number, found \"0\"",
            ),
            (
                "PageSize",
                "4294967296",
                |t| t.positive::<u32>("PageSize").map(drop),
                "property PageSize: expected a positive whole number up to 4294967295, found \"4294967296\"",
            ),
            (
                "Retries",
                "256",
                |t| t.whole::<u8>("Retries").map(drop),
                "property Retries: expected a whole number up to 255, found \"256\"",
            ),
            (
                "Retries",
                "-1",
                |t| t.whole::<u64>("Retries").map(drop),
                "property Retries: expected a whole number, found \"-1\"",
            ),
            (
                "Labels",
                "yes",
                |t| t.boolean("Labels").map(drop),
                "property Labels: expected true or false, found \"yes\"",
            ),
            (
                "Wait",
                "soon",
                |t| t.seconds("Wait").map(drop),
                "property Wait: expected a whole number of seconds, found \"soon\"",
            ),
            (
                "WSTimeout",
                "1.5",
                |t| t.timeout("WSTimeout").map(drop),
                "property WSTimeout: expected a whole number of seconds (0 for no limit), found \"1.5\"",
            ),
        ];
        for (name, value, get, want) in cases {
            let p = props(&[(name, value)]);
            assert_eq!(message(get(p.typed(CATALOGUE)).unwrap_err()), want);
        }
    }

    #[test]
    fn secret_values_are_not_echoed() {
        // Secret by the catalogue (a plain value before validation)...
        let p = props(&[("Pin", "12x34")]);
        let e = message(p.typed(CATALOGUE).whole::<u64>("Pin").unwrap_err());
        assert_eq!(e, "property Pin: expected a whole number");
        // ...and secret by name, whatever the catalogue says.
        let p = props(&[("Password", "hunter2")]);
        let e = p.typed(CATALOGUE).boolean("Password").unwrap_err();
        assert!(!format!("{e} {e:?}").contains("hunter2"), "{e:?}");
        assert_eq!(p.typed(CATALOGUE).text("Password"), None);
    }

    #[test]
    fn absent_without_a_default_says_so() {
        let p = props(&[]);
        let e = message(p.typed(CATALOGUE).whole::<u64>("limit").unwrap_err());
        assert_eq!(
            e,
            "property Limit: expected a whole number (it is not given and has no default)"
        );
        let e = message(p.typed(CATALOGUE).boolean("Unlisted").unwrap_err());
        assert_eq!(
            e,
            "property Unlisted: expected true or false (it is not given and has no default)"
        );
    }

    #[test]
    fn a_bad_catalogue_default_is_reported_as_such() {
        const BAD: &[PropertySpec] = &[PropertySpec::new("N", "n").default_value("many")];
        let e = message(Properties::new().typed(BAD).whole::<u64>("N").unwrap_err());
        assert_eq!(e, "property N: expected a whole number, found \"many\"");
    }
}
