//! Configured bearer tokens: a program presents one on every call, with no
//! handshake; the configuration holds only its SHA-256 digest.

use serde_json::json;
use tonic::Code;

use crate::*;

/// The etl user's token (a test value, 43 characters as `openssl rand
/// -base64 32` prints without its padding).
const ETL_TOKEN: &str = "q6Vd0S1mJx4T0b9PZkL2Yw7RrE3uC8nHfA5gKjMtXoI";

/// A server whose `[users.etl]` has `ETL_TOKEN`'s digest. The extra table
/// follows the `[limits]` lines `serve` writes last, so it is its own TOML table.
async fn serve_with_token() -> Served {
    let digest = connectkit_flight_sql::hash_token(&ETL_TOKEN.to_owned().into()).unwrap();
    serve(&format!("\n[users.etl]\ntokens = [\"{digest}\"]\n")).await
}

#[tokio::test]
async fn a_configured_token_queries_without_a_handshake() {
    let served = serve_with_token().await;
    let mut c = anonymous(served.addr).await;
    c.set_token(ETL_TOKEN.to_owned());
    let rows = query(
        &mut c,
        "SELECT id FROM shop.items WHERE id <= 2 ORDER BY id",
    )
    .await
    .unwrap();
    assert_eq!(rows, [json!({"id": 1}), json!({"id": 2})]);
    // The metadata calls take it too.
    let info = c.get_catalogs().await.unwrap();
    assert_eq!(fetch(&mut c, info).await.unwrap().len(), 1);
    // The source saw the server's own credentials, never the client's token.
    let pages = served.requests_to("/items").await;
    assert!(!pages.is_empty());
    for r in &pages {
        assert_eq!(
            r.headers.get("authorization").unwrap(),
            "Bearer upstream-access"
        );
    }
    served.stop().await;
}

#[tokio::test]
async fn a_wrong_or_absent_token_is_unauthenticated_and_nothing_reaches_the_source() {
    let served = serve_with_token().await;
    let digest = connectkit_flight_sql::hash_token(&ETL_TOKEN.to_owned().into()).unwrap();
    let wrong = [
        // One character changed.
        format!("{}J", &ETL_TOKEN[..ETL_TOKEN.len() - 1]),
        // What the configuration holds is no token.
        digest.clone(),
        digest.trim_start_matches("sha256:").to_owned(),
    ];
    for token in wrong {
        let mut c = anonymous(served.addr).await;
        c.set_token(token.clone());
        let e = query(&mut c, "SELECT id FROM shop.items")
            .await
            .unwrap_err();
        assert!(
            has_code(&e, Code::Unauthenticated) && e.contains("unknown session token"),
            "{e}"
        );
        assert!(!e.contains(&token), "{e}");
    }
    let mut c = anonymous(served.addr).await;
    let e = query(&mut c, "SELECT id FROM shop.items")
        .await
        .unwrap_err();
    assert!(has_code(&e, Code::Unauthenticated), "{e}");
    // A token is not a password: Basic with it does not log in.
    let e = c.handshake("etl", ETL_TOKEN).await.unwrap_err().to_string();
    assert!(has_code(&e, Code::Unauthenticated), "{e}");
    assert!(served.requests_to("/items").await.is_empty());
    served.stop().await;
}

#[tokio::test]
async fn a_token_user_is_a_user_of_its_own_for_the_limits() {
    let served = serve_with_token().await;
    let mut etl = anonymous(served.addr).await;
    etl.set_token(ETL_TOKEN.to_owned());
    let info = etl
        .execute("SELECT id FROM shop.items".into(), None)
        .await
        .unwrap();
    // alice may not read etl's ticket.
    let mut a = alice(served.addr).await;
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    let e = a.do_get(ticket).await.unwrap_err().to_string();
    assert!(has_code(&e, Code::NotFound), "{e}");
    assert_eq!(to_json(&fetch(&mut etl, info).await.unwrap()).len(), 5);
    served.stop().await;
}
