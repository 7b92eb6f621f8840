//! Integration tests of connectkit-autorest against wiremock on 127.0.0.1.

mod client_credentials;
mod common;
mod errors;
mod hostile;
mod http;
mod inference;
mod paging;
mod sample;
mod scope;
mod seed;
mod untrusted;
mod values;
