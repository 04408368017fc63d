//! End-to-end tests of the account limits of PROTOCOL.md 1.2 over real TCP:
//! concurrent wrong logins cannot pass the lockout, signups are limited per
//! address before any hashing, logins never queue behind signups' hashes,
//! and a server can close public signup.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use harmonic::config::Settings;
use serde_json::{json, Value};

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

/// A login waits for the logins queued before it and the hashes
/// already running, never for a flood of signups. Asserted on the order of
/// the answers, not on a duration: with one password worker and 60 signups
/// queued from one address, a login from another is answered while most of
/// the flood still waits (in arrival order it would be answered after all
/// of them, about 60 hashes later).
#[tokio::test]
async fn a_login_is_answered_before_a_flood_of_signups_queued_ahead_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(Settings {
        password_workers: 1,
        ..settings(dir.path())
    });
    let flood = (0..2)
        .map(|c| {
            (0..30)
                .map(|k| {
                    let account =
                        json!({"username": format!("flood{c}x{k}"), "password": "correct horse"});
                    request("signup", 0, account)
                })
                .collect()
        })
        .collect();
    login_during_a_flood(&server, flood).await;
}

/// Logins take turns by address: 20 logins from one address (its most in
/// flight at once, §5), queued ahead of a login from another address, hold
/// that login for at most one of them and the one running, where in
/// arrival order it would wait for all 20.
#[tokio::test]
async fn a_login_is_answered_before_a_burst_of_logins_from_another_address() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(Settings {
        password_workers: 1,
        ..settings(dir.path())
    });
    let mut accounts = TestClient::connect(server.local_addr()).await;
    let burst: Vec<Value> = (0..4)
        .map(|c| json!({"username": format!("busy{c}"), "password": "correct horse"}))
        .collect();
    for account in &burst {
        accounts.ok("signup", account.clone(), &[]).await;
    }
    // Five logins per account (the most in flight for one username), each
    // on its own connection.
    let flood = burst
        .iter()
        .flat_map(|account| std::iter::repeat_n(account, 5))
        .map(|account| vec![request("login", 0, account.clone())])
        .collect();
    login_during_a_flood(&server, flood).await;
}

/// Sends `flood` (one connection from 127.0.0.1 per list of requests, each
/// list pipelined), waits until the first of them is answered (the password
/// worker is then busy with the flood and the rest of it waits), then logs
/// in from 127.0.0.2: at least half of the flood must be answered after
/// that login.
async fn login_during_a_flood(server: &harmonic::actors::ServerThread, flood: Vec<Vec<Value>>) {
    let other_address = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let mut user = TestClient::connect_from(server.local_addr(), other_address).await;
    let account = json!({"username": "steady", "password": "correct horse"});
    user.ok("signup", account.clone(), &[]).await;

    let mut flooders = Vec::new();
    let mut flood_ids = Vec::new();
    for requests in flood {
        let mut client = TestClient::connect(server.local_addr()).await;
        let mut ids = Vec::new();
        for mut header in requests {
            let id = client.id();
            header["id"] = json!(id);
            client.send(&header, &[]).await;
            ids.push(id);
        }
        flooders.push(client);
        flood_ids.push(ids);
    }
    let first = flood_ids[0].remove(0);
    flooders[0]
        .answer(first)
        .await
        .expect("a request of the flood");

    let login_id = user.id();
    user.send(&request("login", login_id, account), &[]).await;
    let flood = futures::future::join_all(flooders.iter_mut().zip(flood_ids).map(
        |(client, ids)| async move {
            let mut answered_at = Vec::new();
            for id in ids {
                client.answer(id).await.expect("a request of the flood");
                answered_at.push(Instant::now());
            }
            answered_at
        },
    ));
    let login = async {
        let answer = user.answer(login_id).await;
        (answer, Instant::now())
    };
    let (flood, (login, login_answered)) = tokio::join!(flood, login);
    login.expect("the login succeeds");
    let flood: Vec<Instant> = flood.into_iter().flatten().collect();
    let after_login = flood.iter().filter(|t| **t > login_answered).count();
    assert!(
        after_login >= flood.len() / 2,
        "only {after_login} of the flood's {} requests were answered after the login",
        flood.len()
    );
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
