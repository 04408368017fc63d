//! End-to-end tests of the account limits of PROTOCOL.md 1.2 over real TCP:
//! concurrent wrong logins cannot pass the lockout, signups are limited per
//! address before any hashing, and a server can close public signup.

use harmonic::config::Settings;
use serde_json::json;

use crate::server_support::*;

#[tokio::test]
async fn forty_concurrent_wrong_logins_try_at_most_five_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(settings(dir.path()));
    let mut owner = TestClient::connect(server.local_addr()).await;
    owner
        .ok(
            "signup",
            json!({"username": "victim", "password": "correct horse"}),
            &[],
        )
        .await;
    let mut clients = Vec::new();
    for _ in 0..40 {
        clients.push(TestClient::connect(server.local_addr()).await);
    }
    // Every request is sent before any answer is read.
    let mut ids = Vec::new();
    for client in &mut clients {
        let id = client.id();
        let login = request(
            "login",
            id,
            json!({"username": "VICTIM", "password": "wrong horse"}),
        );
        client.send(&login, &[]).await;
        ids.push(id);
    }
    let answers =
        futures::future::join_all(clients.iter_mut().zip(ids).map(|(c, id)| c.answer(id))).await;
    let codes: Vec<String> = answers
        .into_iter()
        .map(|answer| answer.expect_err("a wrong password").0)
        .collect();
    let checked = codes.iter().filter(|c| *c == "invalid_credentials").count();
    let limited = codes.iter().filter(|c| *c == "rate_limited").count();
    assert!(checked <= 5, "{checked} passwords tried: {codes:?}");
    assert_eq!(checked + limited, 40, "{codes:?}");
    // The username is now locked, even for the right password.
    let (code, fields) = owner
        .err(
            "login",
            json!({"username": "victim", "password": "correct horse"}),
            &[],
        )
        .await;
    assert_eq!(code, "rate_limited");
    assert!(fields["retry_after_s"].as_u64().unwrap() >= 1);
}

#[tokio::test]
async fn signups_from_one_address_are_limited_before_hashing() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(Settings {
        signups_per_address: 10,
        ..settings(dir.path())
    });
    let mut client = TestClient::connect(server.local_addr()).await;
    let (mut created, mut limited) = (0, 0);
    // 300 signups, pipelined 30 at a time (the session allows 32).
    for batch in 0..10 {
        let mut ids = Vec::new();
        for k in 0..30 {
            let id = client.id();
            let signup = json!({"username": format!("u{batch}x{k}"), "password": "correct horse"});
            client.send(&request("signup", id, signup), &[]).await;
            ids.push(id);
        }
        for id in ids {
            match client.answer(id).await {
                Ok(_) => created += 1,
                Err((code, _, fields)) => {
                    assert_eq!(code, "rate_limited");
                    let wait = fields["retry_after_s"].as_u64().unwrap();
                    assert!((3000..=3600).contains(&wait), "{wait}");
                    limited += 1;
                }
            }
        }
    }
    assert_eq!((created, limited), (10, 290));
    // Logins are a different count: the accounts made can log in.
    client
        .ok(
            "login",
            json!({"username": "u0x0", "password": "correct horse"}),
            &[],
        )
        .await;
}

#[tokio::test]
async fn closed_signup_is_forbidden_and_user_add_still_works() {
    let dir = tempfile::tempdir().unwrap();
    create_admin(dir.path());
    let server = start(Settings {
        public_signup: false,
        ..settings(dir.path())
    });
    let mut client = TestClient::connect(server.local_addr()).await;
    let (code, _) = client
        .err(
            "signup",
            json!({"username": "newcomer", "password": "correct horse"}),
            &[],
        )
        .await;
    assert_eq!(code, "forbidden");
    let login = client
        .ok(
            "login",
            json!({"username": "root", "password": ADMIN_PASSWORD}),
            &[],
        )
        .await;
    assert_eq!(login["role"], "admin");
}
