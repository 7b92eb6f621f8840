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

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

/// The leading name characters of `text`, back-quoted, for messages.
fn key_prefix(text: &str) -> String {
    let end = text.find(|c: char| !is_name_char(c)).unwrap_or(text.len());
    if end == 0 {
        "(none)".to_owned()
    } else {
        format!("`{}`", &text[..end])
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
                Some(_) => {
                    return self.err(
                        self.pos,
                        format!("expected `;` after the quoted value of {name}"),
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
    ///
    /// Errors name only the key (its leading name characters) and a
    /// position: the text after a key may be a secret value whose `=` or
    /// `;` is missing, so it is never quoted.
    fn property(&mut self) -> Result<(String, String, bool)> {
        let start = self.pos;
        let key = key_prefix(self.rest().trim_start());
        let Some(eq) = self.rest().find(['=', ';']) else {
            return self.err(start, format!("expected `=` after property name {key}"));
        };
        if self.rest().as_bytes()[eq] == b';' {
            return self.err(start, format!("expected `=` after property name {key}"));
        }
        let raw_name = &self.rest()[..eq];
        let name = raw_name.trim().to_owned();
        if name.is_empty() {
            return self.err(start, "expected a property name before `=`");
        }
        if let Some((i, bad)) = raw_name
            .trim_end()
            .char_indices()
            .skip_while(|(_, c)| c.is_whitespace())
            .find(|(_, c)| !is_name_char(*c))
        {
            let what = if bad.is_whitespace() {
                "white space (a missing `=` or `;`?)"
            } else {
                "a character not allowed in a name"
            };
            return self.err(
                start + i,
                format!("property name {key} is followed by {what}"),
            );
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
            // The DataDirect escape: `{value}` keeps leading and trailing
            // spaces, `;`, `=` and balanced braces (`{{hello}}` is `{hello}`).
            Some('{') => {
                let open = self.pos;
                let mut depth = 0usize;
                let mut close = None;
                for (i, c) in self.rest().char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                close = Some(i);
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                let Some(close) = close else {
                    return self.err(open, format!("unterminated `{{` in the value of {name}"));
                };
                let value = self.rest()[1..close].to_owned();
                self.pos += close + 1;
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
