//! Serves the sources of a configuration file (the first argument) on
//! 127.0.0.1:50051 with the Autonomous REST connector registered:
//! `cargo run -p connectkit-flight-sql --example serve -- sources.toml`.

use connectkit_flight_sql::{Listen, ServeConfig, Server};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: serve sources.toml")?;
    let config = ServeConfig::load(path.as_ref())?;
    let mut registry = connectkit_core::Registry::new();
    connectkit_autorest::register(&mut registry);
    let server = Server::new(&config, &registry).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:50051").await?;
    println!("Flight SQL on grpc://{}", listener.local_addr()?);
    server
        .serve(listener, &Listen::plain(), std::future::pending())
        .await?;
    Ok(())
}
