//! connectkit's errors as gRPC statuses: the code from the error's kind,
//! the message naming the tables the query reads and the cause chain
//! (connectkit errors never hold a secret).

use connectkit_core::{Error, ErrorKind, Report};
use connectkit_datafusion::datafusion::error::DataFusionError;
use tonic::Status;

/// A connectkit error as a status; `tables` are the `source.table` names
/// the query reads, named in the message.
pub(crate) fn status(e: &Error, tables: &[String]) -> Status {
    let mut message = Report(e).to_string();
    if !tables.is_empty() {
        message = format!("{}: {message}", tables.join(", "));
    }
    match e.kind() {
        ErrorKind::Config => Status::invalid_argument(message),
        // The source refused the server's own credentials: nothing the
        // client can fix by logging in again.
        ErrorKind::Auth => Status::failed_precondition(message),
        ErrorKind::Forbidden => Status::permission_denied(message),
        ErrorKind::NotFound => Status::not_found(message),
        ErrorKind::Throttled | ErrorKind::Transport => Status::unavailable(message),
        _ => Status::internal(message),
    }
}

/// A DataFusion error (planning or a scan) as a status.
pub(crate) fn df_status(e: DataFusionError, tables: &[String]) -> Status {
    status(&connectkit_datafusion::to_error(e), tables)
}
