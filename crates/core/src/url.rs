//! DataDirect-style connection URLs:
//! `[jdbc:datadirect:]<subprotocol>:<Prop>=<value>;<Prop>=<value>;...`.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::properties::{Properties, PropertyValue, quote_if_needed};

const PREFIX: &str = "jdbc:datadirect:";

/// A parsed connection URL: the subprotocol that picks the connector, and its properties.
///
/// `Display` and `Debug` print secret values as `***`; [`ConnectionUrl::expose_secret_url`]
/// gives the full text for the rare place that needs it.
///
/// ```
/// use connectkit_core::ConnectionUrl;
///
/// let url: ConnectionUrl = "jdbc:datadirect:autorest:Sample=https://example.com/countries/;\
///                           ClientSecret='a;b'".parse()?;
/// assert_eq!(url.subprotocol(), "autorest");
/// assert_eq!(url.properties().get_str("sample"), Some("https://example.com/countries/"));
/// assert_eq!(url.to_string(), "jdbc:datadirect:autorest:Sample=https://example.com/countries/;ClientSecret=***;");
/// # Ok::<(), connectkit_core::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ConnectionUrl {
    subprotocol: String,
    properties: Properties,
}

impl ConnectionUrl {
    /// Builds a URL from parts.
    pub fn new(subprotocol: impl Into<String>, properties: Properties) -> Self {
        Self {
            subprotocol: subprotocol.into(),
            properties,
        }
    }

    /// The subprotocol, lower-cased (`autorest`, `dynamics365`, ...).
    pub fn subprotocol(&self) -> &str {
        &self.subprotocol
    }

    /// The properties.
    pub fn properties(&self) -> &Properties {
        &self.properties
    }

    /// The properties, mutably.
    pub fn properties_mut(&mut self) -> &mut Properties {
        &mut self.properties
    }

    /// Splits into subprotocol and properties.
    pub fn into_parts(self) -> (String, Properties) {
        (self.subprotocol, self.properties)
    }

    /// The URL with secrets in clear text, quoted so that it parses back to
    /// the same properties. Never log it.
    pub fn expose_secret_url(&self) -> String {
        let mut out = format!("{PREFIX}{}:", self.subprotocol);
        for (name, value) in self.properties.iter() {
            out.push_str(name);
            out.push('=');
            out.push_str(&quote_if_needed(value.expose()));
            out.push(';');
        }
        out
    }
}

impl fmt::Display for ConnectionUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{}:{}", self.subprotocol, self.properties)
    }
}

impl FromStr for ConnectionUrl {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Parser { src: s, pos: 0 }.parse()
    }
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.src[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn err<T>(&self, position: usize, message: impl Into<String>) -> Result<T> {
        Err(Error::Syntax {
            position,
            message: message.into(),
        })
    }

    /// Skips white space; returns whether any was skipped.
    fn skip_ws(&mut self) -> bool {
        let start = self.pos;
        let trimmed = self.rest().trim_start();
        self.pos = self.src.len() - trimmed.len();
        self.pos > start
    }

    fn parse(mut self) -> Result<ConnectionUrl> {
        self.skip_ws();
        if self
            .rest()
            .get(..PREFIX.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(PREFIX))
        {
            self.pos += PREFIX.len();
        }
        let start = self.pos;
        let len = self
            .rest()
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(self.rest().len());
        if len == 0 {
            return self.err(start, "expected a subprotocol such as `autorest:`");
        }
        let subprotocol = self.rest()[..len].to_ascii_lowercase();
        self.pos += len;
        if self.peek() != Some(':') {
            return self.err(
                self.pos,
                format!("expected `:` after subprotocol `{subprotocol}`"),
            );
        }
        self.pos += 1;

        let mut properties = Properties::new();
        loop {
            // Separators and white space between properties.
            while self.skip_ws() || self.peek() == Some(';') {
                if self.peek() == Some(';') {
                    self.pos += 1;
                }
            }
            if self.peek().is_none() {
                break;
            }
            let (name, value, after_quote_ws) = self.property()?;
            properties.insert_value(name.clone(), PropertyValue::for_name(&name, value))?;
            match self.peek() {
                None => break,
                Some(';') => self.pos += 1,
                Some(_) if after_quote_ws => {}
                Some(c) => {
                    return self.err(
                        self.pos,
                        format!("expected `;` after the value of {name}, found {c:?}"),
                    );
                }
            }
        }
        Ok(ConnectionUrl {
            subprotocol,
            properties,
        })
    }

    /// Parses `name = value`; returns whether the value was quoted and
    /// followed by white space (so the next property may start without `;`).
    fn property(&mut self) -> Result<(String, String, bool)> {
        let start = self.pos;
        let Some(eq) = self.rest().find(['=', ';']) else {
            return self.err(
                start,
                format!("expected `=` after property name {:?}", self.rest().trim()),
            );
        };
        if self.rest().as_bytes()[eq] == b';' {
            let name = self.rest()[..eq].trim();
            return self.err(start, format!("expected `=` after property name {name:?}"));
        }
        let name = self.rest()[..eq].trim().to_owned();
        if name.is_empty() {
            return self.err(start, "expected a property name before `=`");
        }
        if let Some(bad) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '.'))
        {
            return self.err(start, format!("property name {name:?} contains {bad:?}"));
        }
        self.pos += eq + 1;
        self.skip_ws();
        match self.peek() {
            Some(q @ ('\'' | '"')) => {
                let open = self.pos;
                self.pos += 1;
                let mut value = String::new();
                loop {
                    let Some(i) = self.rest().find(q) else {
                        return self
                            .err(open, format!("unterminated quote in the value of {name}"));
                    };
                    value.push_str(&self.rest()[..i]);
                    self.pos += i + 1;
                    if self.peek() == Some(q) {
                        value.push(q);
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                let ws = self.skip_ws();
                Ok((name, value, ws))
            }
            _ => {
                let end = self.rest().find(';').unwrap_or(self.rest().len());
                let raw = self.rest()[..end].trim_end();
                if let Some(nl) = raw.find(['\n', '\r']) {
                    return self.err(
                        self.pos + nl,
                        format!("line break inside the unquoted value of {name} (missing `;`?)"),
                    );
                }
                let value = raw.to_owned();
                self.pos += end;
                Ok((name, value, false))
            }
        }
    }
}
