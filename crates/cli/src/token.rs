//! `connectkit token <URL> [--force]`: runs the connection's token grant
//! once (the refresh token grant, or the client credentials grant), or takes
//! the fresh access token another process saved in TokenFile, and says which
//! it did; never prints a token. When the token endpoint refused the default
//! request form and a fallback form worked, a one-line warning on standard
//! error says which properties select that form.

use std::io::Write;

use connectkit_core::{ConnectionUrl, Error, RequestForm, TokenOutcome};

use crate::{ListFormat, output};

/// What the command needs: a method that obtains tokens at TokenURI.
const EXPECTED: &str = "a method that obtains tokens from TokenURI: OAuth2-RefreshToken (the refresh token grant), \
OAuth2-ClientCredentials (the client credentials grant, for unattended jobs), or OAuth2 (the refresh token grant \
with RefreshToken or TokenFile, else client credentials); dynamics365 always uses one of these grants";

/// Runs the command.
pub async fn run(
    out: &mut impl Write,
    url: &str,
    format: ListFormat,
    force: bool,
) -> Result<(), Error> {
    let text = crate::input::read_url(url)?;
    let connector = connectkit::registry().connect(&text)?;
    let flow = connector.auth_flow();
    match (flow.grant_name(), flow.obtain_token(force).await?) {
        (grant, Some(outcome)) => {
            if let TokenOutcome::Granted {
                fallback: Some(form),
                ..
            } = &outcome
            {
                eprintln!("warning: {}", fallback_advice(form));
            }
            output::token(out, grant, &outcome, format)
        }
        (_, None) => {
            // Named in the error so the user sees what is configured now.
            let parsed: Option<ConnectionUrl> = text.parse().ok();
            let method = parsed
                .as_ref()
                .and_then(|u| u.properties().get_str("AuthenticationMethod"))
                .unwrap_or("None");
            Err(Error::invalid_property(
                "AuthenticationMethod",
                EXPECTED,
                Some(method),
            ))
        }
    }
}

/// The one-line advice after a fallback form worked: the properties that
/// select it, so the next run's first request is not refused.
pub fn fallback_advice(form: &RequestForm) -> String {
    format!(
        "the token endpoint refused the default request form and accepted {method} with ClientCredentialsMode={mode}: \
prefix TokenURI with `{method} ` and set ClientCredentialsMode={mode} so that the first token request is not refused",
        method = form.method,
        mode = form.client_credentials_mode,
    )
}
