//! Logins, sessions and the one grant every session shares.

use serde_json::json;

use tonic::Code;

use crate::*;

#[tokio::test]
async fn a_wrong_password_or_no_session_is_unauthenticated() {
    let served = serve("").await;
    for (user, pw) in [("alice", "wrong"), ("mallory", PASSWORD), ("alice", "")] {
        let mut c = anonymous(served.addr).await;
        let e = c.handshake(user, pw).await.unwrap_err().to_string();
        assert!(
            has_code(&e, Code::Unauthenticated) && e.contains("wrong user name or password"),
            "{user}: {e}"
        );
        assert!(!e.contains(PASSWORD), "{e}");
    }
    let mut c = anonymous(served.addr).await;
    let e = query(&mut c, "SELECT 1").await.unwrap_err();
    assert!(
        has_code(&e, Code::Unauthenticated) && e.contains("log in first"),
        "{e}"
    );
    c.set_token("made-up".into());
    let e = query(&mut c, "SELECT 1").await.unwrap_err();
    assert!(
        has_code(&e, Code::Unauthenticated) && e.contains("unknown session token"),
        "{e}"
    );
    let e = c.get_catalogs().await.unwrap_err().to_string();
    assert!(has_code(&e, Code::Unauthenticated), "{e}");
    // Nothing reached the source.
    assert!(
        served
            .upstream
            .received_requests()
            .await
            .unwrap()
            .is_empty()
    );
    served.stop().await;
}

#[tokio::test]
async fn many_sessions_share_one_grant() {
    let served = serve("queries = 32\nqueries_per_user = 32").await;
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let addr = served.addr;
        tasks.push(tokio::spawn(async move {
            let mut c = alice(addr).await;
            query(&mut c, "SELECT id FROM shop.items WHERE id = 2")
                .await
                .unwrap()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), [json!({"id": 2})]);
    }
    assert_eq!(
        served.requests_to("/token").await.len(),
        1,
        "one grant for every session"
    );
    assert_eq!(served.requests_to("/items").await.len(), 30);
    served.stop().await;
}

#[tokio::test]
async fn a_ticket_is_read_once_and_only_by_its_user() {
    let served = serve("").await;
    let mut a = alice(served.addr).await;
    let mut b = login(served.addr, "bob", "bob-pw").await;
    let info = a
        .execute("SELECT id FROM shop.items LIMIT 1".into(), None)
        .await
        .unwrap();
    let e = fetch(&mut b, info.clone()).await.unwrap_err().to_string();
    assert!(has_code(&e, Code::NotFound), "{e}");
    assert_eq!(
        to_json(&fetch(&mut a, info.clone()).await.unwrap()),
        [json!({"id": 1})]
    );
    let e = fetch(&mut a, info).await.unwrap_err().to_string();
    assert!(
        has_code(&e, Code::NotFound) && e.contains("read already"),
        "{e}"
    );
    served.stop().await;
}
