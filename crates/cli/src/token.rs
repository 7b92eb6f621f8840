//! `connectkit token <URL>`: runs the connection's token grant once (the
//! refresh token grant, or the client credentials grant) and describes the
//! token obtained, never printing it.

use std::io::Write;

use connectkit_core::{ConnectionUrl, Error};

use crate::{ListFormat, output};

/// What the command needs: a method that obtains tokens at TokenURI.
const EXPECTED: &str = "a method that obtains tokens from TokenURI: OAuth2-RefreshToken (the refresh token grant), \
OAuth2-ClientCredentials (the client credentials grant, for unattended jobs), or OAuth2 (the refresh token grant \
with RefreshToken or TokenFile, else client credentials); dynamics365 always uses one of these grants";

/// Runs the command.
pub async fn run(out: &mut impl Write, url: &str, format: ListFormat) -> Result<(), Error> {
    let text = crate::input::read_url(url)?;
    let connector = connectkit::registry().connect(&text)?;
    let flow = connector.auth_flow();
    match (flow.grant_name(), flow.refresh_now().await?) {
        (grant, Some(info)) => output::token(out, grant, &info, format),
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
