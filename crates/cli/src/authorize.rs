//! `connectkit authorize <URL> [--device]`: obtains the first access and
//! refresh token and saves them in the URL's TokenFile, printing no token.
//! Prompts go to standard error; the one-line outcome to standard output.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use connectkit_core::{ConnectionUrl, Error};
use connectkit_oauth_refresh::{AuthorizeFailure, Authorizer};

/// Set (to anything) to never open a browser, whatever the terminal.
pub const NO_BROWSER_ENV: &str = "CONNECTKIT_NO_BROWSER";

/// `authorize`'s own exit codes, beside the common ones (2 configuration,
/// 3 authentication, 4 network): no answer in time, a redirect with another
/// state, the user's refusal, and an answer that cannot renew itself.
pub fn exit_code(e: &Error) -> Option<u8> {
    let Error::Connector(c) = e else {
        return None;
    };
    let grant = c
        .get_ref()
        .downcast_ref::<connectkit_oauth_refresh::Error>()?;
    match grant.authorize_failure()? {
        AuthorizeFailure::TimedOut => Some(5),
        AuthorizeFailure::StateMismatch => Some(6),
        AuthorizeFailure::Denied => Some(7),
        AuthorizeFailure::NoRefreshToken => Some(8),
        _ => None,
    }
}

/// The arguments of `connectkit authorize`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Connection URL (with TokenFile), `@PATH` to read it from a file, or `-` for standard input.
    url: String,
    /// Use the device authorization grant (a code to enter on another device).
    #[arg(long)]
    device: bool,
    /// Print the authorization URL without opening a browser.
    #[arg(long)]
    no_browser: bool,
    /// Seconds to wait for the user.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
}

/// Whether to try a browser: never when asked not to, nor without a terminal.
fn browser_wanted(opts: &Args) -> bool {
    !opts.no_browser
        && std::env::var_os(NO_BROWSER_ENV).is_none()
        && std::io::stderr().is_terminal()
        && std::io::stdin().is_terminal()
}

/// Runs the command.
pub async fn run(out: &mut impl Write, opts: Args) -> Result<(), Error> {
    let url: ConnectionUrl = crate::input::read_url(&opts.url)?.parse()?;
    // The connector's own defaults for its token requests, through the contract.
    let props = connectkit::registry().grant_properties(url)?;
    let authorizer =
        Authorizer::from_properties(&props)?.timeout(Duration::from_secs(opts.timeout));
    let saved_to = authorizer.token_store_location().unwrap_or_default();
    let mut err = std::io::stderr().lock();
    let info = if opts.device {
        let d = authorizer.device_start().await?;
        let _ = writeln!(
            err,
            "To authorize connectkit, open {} and enter the code {}",
            d.verification_uri, d.user_code
        );
        if let Some(complete) = &d.verification_uri_complete {
            let _ = writeln!(err, "(or open {complete})");
        }
        let _ = writeln!(
            err,
            "Waiting for the answer (the code expires in {} s)...",
            d.expires_in.as_secs()
        );
        drop(err);
        authorizer.device_finish(&d).await?
    } else {
        let pending = authorizer.start().await?;
        let _ = writeln!(
            err,
            "To authorize connectkit, open this URL in a browser:\n\n  {}\n",
            pending.url
        );
        if browser_wanted(&opts) && open::that_detached(pending.url.as_str()).is_ok() {
            let _ = writeln!(err, "(a browser was opened on it)");
        }
        let _ = writeln!(
            err,
            "Waiting for the redirect (at most {} s)...",
            opts.timeout
        );
        drop(err);
        authorizer.finish(pending).await?
    };
    let expires = info
        .expires_in
        .map(|d| format!("; the access token expires in {} s", d.as_secs()))
        .unwrap_or_default();
    writeln!(
        out,
        "Authorized: tokens saved in {saved_to}{expires}. Use the same URL without RefreshToken to connect."
    )
    .map_err(|e| Error::invalid_property("output", format!("writable standard output ({e})"), None))
}
