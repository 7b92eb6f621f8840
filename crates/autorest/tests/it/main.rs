//! Integration tests of connectkit-autorest against wiremock on 127.0.0.1.

mod auth_methods;
mod client_credentials;
mod common;
mod concurrent;
mod errors;
mod formats;
mod hostile;
mod http;
mod inference;
mod inputs;
mod late_fields;
mod paging;
mod path_arrays;
mod post;
mod rules;
mod sample;
mod scope;
mod seed;
mod service;
mod untrusted;
mod values;
mod vendor;
mod vendor_keys;
