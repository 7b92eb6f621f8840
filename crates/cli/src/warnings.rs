//! Warnings for the person running the command: events of the
//! [`USER_WARNING`] target are printed on standard error as
//! `warning: <message>`, whatever `RUST_LOG` says; everything else is a
//! diagnostic, shown only when `RUST_LOG` asks for it.

use std::fmt::{self, Write as _};
use std::io::Write as _;

use connectkit_core::USER_WARNING;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the diagnostics (`RUST_LOG`, off by default) and the warnings.
pub fn init() {
    // Silent unless RUST_LOG asks: standard error carries only errors and
    // warnings otherwise. Warnings are printed once, by their own layer.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("off"));
    let filter = match format!("{USER_WARNING}=off").parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    };
    let diagnostics = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_filter(filter);
    let _ = tracing_subscriber::registry()
        .with(diagnostics)
        .with(Warnings)
        .try_init();
}

/// Prints [`USER_WARNING`] events.
struct Warnings;

impl<S: Subscriber> Layer<S> for Warnings {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() != USER_WARNING {
            return;
        }
        let mut line = Line::default();
        event.record(&mut line);
        let _ = writeln!(std::io::stderr().lock(), "warning: {}", line.0);
    }
}

/// The message of an event, then its other fields as `name=value`.
#[derive(Default)]
struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let rest = std::mem::take(&mut self.0);
            let _ = write!(self.0, "{value:?}{rest}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.insert_str(0, value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}
