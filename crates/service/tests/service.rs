//! `leash serve` against a real PostgreSQL, the devnet and its local bundler: the lifecycle through the API,
//! tenant isolation on every endpoint, hostile requests, secrets at rest, and operations left in doubt by a crash.

mod common;

use alloy::{
    primitives::{Address, B256, U256},
    signers::SignerSync,
};
use common::*;
use leash_service::{token, Config};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn test_config() -> Config {
    Config { replica: "test-replica".into(), ..Config::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_sends_within_its_policy_is_refused_outside_it_and_revocation_stops_it() {
    let (stack, replica, client) = served(test_config()).await;
    let owner = owner_key(0x42);
    let tenant = tenant(&stack, &client, "acme", &owner, 1).await;
    let agent = Some(tenant.agent.as_str());
    let payee = Address::repeat_byte(0x77);

    // The pre-flight, then a payment that deploys the account and grants the session on the way.
    let verdict =
        client.ok("POST", "/v1/sessions/payouts/explain", agent, Some(pay(payee, 60))).await;
    assert_eq!(verdict["allowed"], true, "{verdict}");
    let sent = client
        .ok("POST", "/v1/sessions/payouts/send", agent, Some(with_request(pay(payee, 60), "pay-1")))
        .await;
    assert_eq!(sent["state"], "landed", "{sent}");
    assert_eq!(stack.usdc_balance(payee).await, U256::from(60_000_000u64));

    // Looked up by hash, it has its receipt: what it used and paid.
    let looked_up = client
        .ok("GET", &format!("/v1/operations/{}", sent["hash"].as_str().unwrap()), agent, None)
        .await;
    assert_eq!(looked_up["state"], "landed");
    assert_eq!(looked_up["receipt"]["success"], true, "{looked_up}");
    assert!(
        looked_up["receipt"]["gasUsed"].as_str().unwrap().parse::<u64>().unwrap() > 21_000,
        "{looked_up}"
    );
    assert!(
        looked_up["receipt"]["gasCostWei"].as_str().unwrap().parse::<u128>().unwrap() > 0,
        "{looked_up}"
    );
    // The same request id again answers the same operation; nothing is paid twice. Reused for other calls, it
    // is refused.
    let again = client
        .ok("POST", "/v1/sessions/payouts/send", agent, Some(with_request(pay(payee, 60), "pay-1")))
        .await;
    assert_eq!(again["hash"], sent["hash"]);
    assert_eq!(stack.usdc_balance(payee).await, U256::from(60_000_000u64));
    let (status, reused) = client
        .call(
            "POST",
            "/v1/sessions/payouts/send",
            agent,
            Some(with_request(pay(payee, 5), "pay-1")),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{reused}");

    // 60 more would pass the 100 USDC cap: refused with the rule, nothing signed.
    let (status, refused) =
        client.call("POST", "/v1/sessions/payouts/send", agent, Some(pay(payee, 60))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["error"]["code"], "refused");
    assert_eq!(refused["error"]["rule"], "AmountLimitExceeded", "{refused}");
    let explained =
        client.ok("POST", "/v1/sessions/payouts/explain", agent, Some(pay(payee, 60))).await;
    assert_eq!(explained["allowed"], false);

    // What is left, as the agent sees it.
    let status = client.ok("GET", "/v1/sessions/payouts", agent, None).await;
    assert_eq!(status["state"], "granted");
    assert_eq!(status["standing"]["state"], "enabled", "{status}");
    assert_eq!(status["standing"]["allowances"][0]["amountLeft"], "40000000", "{status}");

    // Revoked here: the agent signs nothing more at once, before the owner's on-chain revocation lands.
    let revoked = client.ok("POST", "/v1/sessions/payouts/revoke", Some(&tenant.token), None).await;
    assert_eq!(revoked["revoked"], json!(["payouts"]));
    let (status, gone) =
        client.call("POST", "/v1/sessions/payouts/send", agent, Some(pay(payee, 1))).await;
    assert_eq!(status, StatusCode::GONE, "{gone}");
    assert_eq!(gone["error"]["code"], "revoked");

    // The owner signs the prepared revocation elsewhere; the service relays it, and only the owner's signature.
    let mut operation = revoked["ownerOperation"]["userOperation"].clone();
    let hash: B256 = revoked["ownerOperation"]["userOpHash"].as_str().unwrap().parse().unwrap();
    let stranger = owner_key(0x13);
    operation["signature"] =
        json!(alloy::hex::encode_prefixed(stranger.sign_hash_sync(&hash).unwrap().as_bytes()));
    let (status, refused) = client
        .call(
            "POST",
            "/v1/accounts/main/owner-operations",
            Some(&tenant.token),
            Some(json!({ "userOperation": operation })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("owner's"), "{refused}");
    operation["signature"] =
        json!(alloy::hex::encode_prefixed(owner.sign_hash_sync(&hash).unwrap().as_bytes()));
    let landed = client
        .ok(
            "POST",
            "/v1/accounts/main/owner-operations",
            Some(&tenant.token),
            Some(json!({ "userOperation": operation })),
        )
        .await;
    assert_eq!(landed["state"], "landed", "{landed}");
    let session_id: B256 = sent_session_id(&client, &tenant.token).await;
    let state = stack.network.chain.session_status(tenant.account, session_id).await.unwrap();
    assert_eq!(state, leash_core::SessionState::Revoked);

    // The audit log says who did what, with which result.
    let log = client.ok("GET", "/v1/audit", Some(&tenant.token), None).await;
    let entries: Vec<String> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {} {}",
                e["actor"].as_str().unwrap(),
                e["action"].as_str().unwrap(),
                e["result"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            "admin tenant.create ok",
            "tenant account.create ok",
            "tenant session.create ok",
            "tenant session.grant ok",
            "agent:payouts operation.send landed",
            "agent:payouts operation.send refused: AmountLimitExceeded",
            "tenant session.revoke ok",
            "tenant owner-operation.send landed",
        ]
    );
    // The database refuses to change the log.
    let db = replica.service.db().pool();
    assert!(sqlx::query("UPDATE audit SET result = 'ok'").execute(db).await.is_err());
    assert!(sqlx::query("DELETE FROM audit").execute(db).await.is_err());
}

fn with_request(mut body: Value, id: &str) -> Value {
    body["requestId"] = json!(id);
    body
}

async fn sent_session_id(client: &Client, token: &str) -> B256 {
    let list = client.ok("GET", "/v1/sessions", Some(token), None).await;
    list["sessions"][0]["sessionId"].as_str().unwrap().parse().unwrap()
}

/// Every endpoint, with placeholders for the records it names.
const ENDPOINTS: &[(&str, &str)] = &[
    ("POST", "/v1/tenants"),
    ("GET", "/v1/tenants"),
    ("POST", "/v1/accounts"),
    ("GET", "/v1/accounts"),
    ("GET", "/v1/accounts/{account}"),
    ("POST", "/v1/accounts/{account}/revoke-all"),
    ("POST", "/v1/accounts/{account}/owner-operations"),
    ("POST", "/v1/sessions"),
    ("GET", "/v1/sessions"),
    ("GET", "/v1/sessions/{session}"),
    ("POST", "/v1/sessions/{session}/grant"),
    ("POST", "/v1/sessions/{session}/explain"),
    ("POST", "/v1/sessions/{session}/send"),
    ("POST", "/v1/sessions/{session}/revoke"),
    ("GET", "/v1/operations/{operation}"),
    ("GET", "/v1/audit"),
];

/// A body each endpoint would accept from its rightful caller.
fn plausible_body(path: &str, session: &str, account: &str) -> Option<Value> {
    let payee = Address::repeat_byte(0x55);
    Some(match path {
        "/v1/tenants" => json!({ "name": "intruder" }),
        "/v1/accounts" => json!({ "name": "intruder", "owner": Address::repeat_byte(1) }),
        "/v1/sessions" => json!({ "name": "intruder", "account": account, "policy": PAYOUTS }),
        p if p.ends_with("/grant") => json!({ "signature": format!("0x{}", "11".repeat(65)) }),
        p if p.ends_with("/explain") || p.ends_with("/send") => pay(payee, 1),
        p if p.ends_with("/owner-operations") => json!({ "userOperation": {
            "sender": Address::repeat_byte(3), "nonce": "0x0", "callData": "0x", "callGasLimit": "0x1",
            "verificationGasLimit": "0x1", "preVerificationGas": "0x1", "maxFeePerGas": "0x1",
            "maxPriorityFeePerGas": "0x1", "signature": format!("0x{}", "11".repeat(65)),
        } }),
        _ => {
            let _ = session;
            return None;
        }
    })
}

fn fill(path: &str, account: &str, session: &str, operation: &str) -> String {
    path.replace("{account}", account)
        .replace("{session}", session)
        .replace("{operation}", operation)
}

/// Counts of every table's rows, to show a refused request wrote nothing.
async fn rows(db: &sqlx::PgPool) -> Vec<(String, i64)> {
    let mut counts = Vec::new();
    for table in ["tenants", "accounts", "sessions", "operations", "lanes", "audit"] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(db)
            .await
            .unwrap();
        counts.push((table.to_owned(), n));
    }
    let granted: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sessions WHERE state = 'granted' AND sealed_key IS NOT NULL",
    )
    .fetch_one(db)
    .await
    .unwrap();
    counts.push(("granted sessions with keys".into(), granted));
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_reaches_another_tenants_or_another_agents_records_on_any_endpoint() {
    let (stack, replica, client) = served(test_config()).await;
    let a = tenant_named(&stack, &client, "acme", &owner_key(0x42), 1, "a-main", "a-pay").await;
    let b = tenant_named(&stack, &client, "globex", &owner_key(0x43), 2, "b-main", "b-pay").await;
    let (_, a_other_agent) =
        session(&client, &a.token, "a-other", "a-main", PAYOUTS, &owner_key(0x42)).await;
    let sent = client
        .ok(
            "POST",
            "/v1/sessions/a-pay/send",
            Some(&a.agent),
            Some(pay(Address::repeat_byte(9), 1)),
        )
        .await;
    let a_operation = sent["hash"].as_str().unwrap().to_owned();

    // The OpenAPI document lists exactly the endpoints walked here.
    let document = client.ok("GET", "/openapi.json", None, None).await;
    let mut listed: Vec<String> = Vec::new();
    for (path, methods) in document["paths"].as_object().unwrap() {
        for method in methods.as_object().unwrap().keys() {
            listed.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    listed.sort();
    let mut walked: Vec<String> = ENDPOINTS
        .iter()
        .map(|(m, p)| {
            format!(
                "{m} {}",
                p.replace("{account}", "{name}")
                    .replace("{session}", "{name}")
                    .replace("{operation}", "{hash}")
            )
        })
        .collect();
    walked.sort();
    assert_eq!(listed, walked, "every endpoint of the document is walked");

    let db = replica.service.db().pool().clone();
    let before = rows(&db).await;
    // Callers that must not reach acme's records: globex's tenant and agent, acme's other agent (for a-pay),
    // a made-up token of each kind, and none.
    let intruders: Vec<(&str, Option<&str>)> = vec![
        ("globex tenant", Some(b.token.as_str())),
        ("globex agent", Some(b.agent.as_str())),
        ("acme's other agent", Some(a_other_agent.as_str())),
        ("forged tenant token", Some("leash_tenant_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")),
        ("forged agent token", Some("leash_agent_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")),
        ("forged admin token", Some("leash_admin_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")),
        ("no token", None),
    ];
    for (who, token) in &intruders {
        for (method, path) in ENDPOINTS {
            let target = fill(path, "a-main", "a-pay", &a_operation);
            // Endpoints that name no record act on the caller's own: the tenant endpoints only matter for
            // tokens of no tenant, and the admin's for anyone but the admin.
            let names_a_record = path.contains('{');
            let admin_only = *path == "/v1/tenants";
            if !names_a_record
                && !admin_only
                && matches!(*who, "globex tenant" | "globex agent" | "acme's other agent")
            {
                continue;
            }
            let body =
                if *method == "POST" { plausible_body(path, "a-pay", "a-main") } else { None };
            let (status, answer) = client.call(method, &target, *token, body).await;
            assert!(
                matches!(
                    status,
                    StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND
                ),
                "{who}: {method} {target} answered {status} {answer}"
            );
            if token.is_none() || who.starts_with("forged") {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{who}: {method} {target}");
            }
            let text = answer.to_string();
            assert!(
                !text.contains(&a.agent) && !text.contains(&a.token),
                "{who}: a token in {text}"
            );
        }
    }
    // Tenant-only and admin-only endpoints refuse agents and tenants of their own.
    for (method, path) in [("POST", "/v1/tenants"), ("GET", "/v1/tenants")] {
        let body = plausible_body(path, "a-pay", "a-main");
        assert_eq!(
            client.call(method, path, Some(&a.token), body.clone()).await.0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(client.call(method, path, Some(&a.agent), body).await.0, StatusCode::FORBIDDEN);
    }
    for (method, path) in
        [("GET", "/v1/audit"), ("POST", "/v1/sessions/a-pay/revoke"), ("GET", "/v1/accounts")]
    {
        assert_eq!(
            client.call(method, path, Some(&a.agent), None).await.0,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    // A tenant does not send for its agents, and the admin reaches no session.
    let tenant_send = client
        .call("POST", "/v1/sessions/a-pay/send", Some(&a.token), Some(pay(Address::ZERO, 1)))
        .await;
    assert_eq!(tenant_send.0, StatusCode::FORBIDDEN);
    assert_eq!(
        client.call("GET", "/v1/sessions/a-pay", Some(ADMIN), None).await.0,
        StatusCode::FORBIDDEN
    );
    // Nothing was written by any of it.
    assert_eq!(rows(&db).await, before);
    // And the rightful callers still reach their own.
    client.ok("GET", "/v1/sessions/a-pay", Some(&a.agent), None).await;
    client.ok("GET", &format!("/v1/operations/{a_operation}"), Some(&a.agent), None).await;
    client.ok("GET", &format!("/v1/operations/{a_operation}"), Some(&a.token), None).await;
    client.ok("GET", "/v1/sessions/b-pay", Some(&b.agent), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_oversized_and_wrongly_typed_requests_get_a_clear_error_and_write_nothing() {
    let (stack, replica, client) = served(test_config()).await;
    let a = tenant(&stack, &client, "acme", &owner_key(0x42), 1).await;
    let pending = json!({ "name": "pending", "account": "main", "policy": PAYOUTS });
    client.ok("POST", "/v1/sessions", Some(&a.token), Some(pending)).await;
    let db = replica.service.db().pool().clone();
    let before = rows(&db).await;
    let http = reqwest::Client::new();
    let token_for = |path: &str| {
        if path.starts_with("/v1/tenants") {
            ADMIN.to_owned()
        } else if path.ends_with("/send") {
            a.agent.clone()
        } else {
            a.token.clone()
        }
    };
    for (_, path) in ENDPOINTS.iter().filter(|(m, _)| *m == "POST") {
        let target = fill(path, "main", "payouts", "");
        let token = token_for(path);
        let post = |body: reqwest::Body, json: bool| {
            let mut request =
                http.post(format!("{}{target}", replica.url)).bearer_auth(&token).body(body);
            if json {
                request = request.header("content-type", "application/json");
            }
            request.send()
        };
        let cases: Vec<(&str, reqwest::Body, bool, StatusCode)> = vec![
            ("not JSON", "{".into(), true, StatusCode::BAD_REQUEST),
            ("no content type", "{}".into(), false, StatusCode::UNSUPPORTED_MEDIA_TYPE),
            (
                "an unknown field",
                r#"{"name":"x","zzz":1,"calls":[],"signature":"0x","userOperation":{}}"#.into(),
                true,
                StatusCode::BAD_REQUEST,
            ),
            (
                "a wrong type",
                r#"{"name":7,"calls":"all","signature":12,"owner":true,"userOperation":[]}"#.into(),
                true,
                StatusCode::BAD_REQUEST,
            ),
            (
                // Just past the 64 KiB limit: small enough that the client has written it all before the
                // service answers 413 and closes (a far larger body can meet a closed socket mid-write).
                "a body past the limit",
                vec![b' '; 65 * 1024].into(),
                true,
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
        ];
        if plausible_body(path, "payouts", "main").is_none() {
            // Revocations take no body; they are walked by the isolation test.
            continue;
        }
        for (what, body, json, expected) in cases {
            let response = post(body, json).await.unwrap();
            let status = response.status();
            let answer: Value = response.json().await.unwrap_or(Value::Null);
            assert_eq!(status, expected, "{what}: POST {target}: {answer}");
            assert!(
                answer["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{what}: {answer}"
            );
        }
    }
    // Path and query parameters.
    for (path, expected) in [
        ("/v1/operations/0x1234", StatusCode::BAD_REQUEST),
        ("/v1/operations/not-a-hash", StatusCode::BAD_REQUEST),
        ("/v1/audit?limit=0", StatusCode::BAD_REQUEST),
        ("/v1/audit?limit=many", StatusCode::BAD_REQUEST),
        ("/v1/audit?after=1&sneaky=1", StatusCode::BAD_REQUEST),
        ("/v1/sessions/..%2F..%2Fetc", StatusCode::NOT_FOUND),
        ("/v1/nowhere", StatusCode::NOT_FOUND),
    ] {
        let (status, answer) = client.call("GET", path, Some(&a.token), None).await;
        assert_eq!(status, expected, "GET {path}: {answer}");
    }
    // Bad values inside well-formed bodies.
    for (path, body, needle) in [
        ("/v1/sessions", json!({ "name": "../x", "account": "main", "policy": PAYOUTS }), "name"),
        (
            "/v1/sessions",
            json!({ "name": "s2", "account": "main", "policy": "version = 1\n[session]\nvalid_until = \"soon\"" }),
            "policy",
        ),
        (
            "/v1/sessions",
            json!({ "name": "s2", "account": "nope", "policy": PAYOUTS }),
            "account `nope`",
        ),
        ("/v1/accounts", json!({ "name": "a2", "owner": Address::ZERO }), "zero address"),
        ("/v1/sessions/pending/grant", json!({ "signature": "0x1234" }), "not the owner's"),
        (
            "/v1/sessions/pending/grant",
            json!({ "signature": format!("0x{}", "1b".repeat(65)) }),
            "not the owner's",
        ),
    ] {
        let (status, answer) = client.call("POST", path, Some(&a.token), Some(body)).await;
        assert!(status.is_client_error(), "POST {path}: {status} {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "POST {path}: `{needle}` not in {message}");
    }
    let (status, answer) = client
        .call("POST", "/v1/sessions/payouts/send", Some(&a.agent), Some(json!({ "calls": [] })))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (status, answer) = client
        .call(
            "POST",
            "/v1/sessions/payouts/send",
            Some(&a.agent),
            Some(json!({ "calls": [{ "to": "NOPE", "function": "f()" }] })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(rows(&db).await, before, "refused requests wrote nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_tokens_are_never_in_a_row_or_a_response_in_clear_and_a_moved_key_does_not_open() {
    use leash_service::KeyEncryptionKey;
    let (stack, replica, client) = served(test_config()).await;
    let owner = owner_key(0x42);
    let a = tenant(&stack, &client, "acme", &owner, 1).await;
    let (_, other_agent) = session(&client, &a.token, "other", "main", PAYOUTS, &owner).await;
    let sent = client
        .ok(
            "POST",
            "/v1/sessions/payouts/send",
            Some(&a.agent),
            Some(pay(Address::repeat_byte(9), 1)),
        )
        .await;
    let mut responses = vec![sent.to_string()];
    for path in ["/v1/sessions/payouts", "/v1/sessions", "/v1/accounts", "/v1/audit"] {
        responses.push(client.ok("GET", path, Some(&a.token), None).await.to_string());
    }
    responses.push(client.ok("GET", "/v1/audit", Some(ADMIN), None).await.to_string());

    // Open the session key the way the service does, to know what must never appear.
    let db = replica.service.db();
    let tenant = db.tenant_by_token(&token::hash(&a.token)).await.unwrap().unwrap();
    let row = db.session(tenant.id, "payouts").await.unwrap().unwrap();
    let data_key = stack.kek().unwrap("acme", &tenant.data_key).unwrap();
    let secret =
        data_key.open_session_key(tenant.id, row.id, row.sealed_key.as_ref().unwrap()).unwrap();
    let secret_hex = alloy::hex::encode(secret.as_slice());
    assert_eq!(secret.len(), 32);

    let mut dump = String::new();
    for table in ["tenants", "accounts", "sessions", "operations", "lanes", "audit"] {
        let text: Option<String> = sqlx::query_scalar(&format!(
            "SELECT string_agg(row_to_json(t)::text, E'\\n') FROM {table} t"
        ))
        .fetch_one(db.pool())
        .await
        .unwrap();
        dump.push_str(&text.unwrap_or_default());
    }
    for (what, secret) in [
        ("the session key", secret_hex.as_str()),
        ("the key-encryption key", stack.kek_hex.as_str()),
        ("the tenant's token", a.token.as_str()),
        ("the agent's token", a.agent.as_str()),
        ("the admin token", ADMIN),
    ] {
        assert!(
            !dump.to_lowercase().contains(&secret.to_lowercase()),
            "{what} is in a row in clear"
        );
        for response in &responses {
            assert!(
                !response.to_lowercase().contains(&secret.to_lowercase()),
                "{what} is in a response"
            );
        }
    }
    // The token's hash is what the row holds.
    assert!(dump.contains(&alloy::hex::encode(token::hash(&a.agent))));

    // A sealed key copied into another session's row does not open there: the send fails, nothing is signed.
    let operations_before: i64 =
        sqlx::query_scalar("SELECT count(*) FROM operations").fetch_one(db.pool()).await.unwrap();
    sqlx::query("UPDATE sessions SET sealed_key = (SELECT sealed_key FROM sessions WHERE name = 'payouts') WHERE name = 'other'")
        .execute(db.pool())
        .await
        .unwrap();
    let (status, answer) = client
        .call(
            "POST",
            "/v1/sessions/other/send",
            Some(&other_agent),
            Some(pay(Address::repeat_byte(9), 1)),
        )
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{answer}");
    assert!(!answer.to_string().contains(&secret_hex));
    let operations_after: i64 =
        sqlx::query_scalar("SELECT count(*) FROM operations").fetch_one(db.pool()).await.unwrap();
    assert_eq!(operations_after, operations_before);
    // Under another key-encryption key, no tenant's data key opens.
    let other = leash_service::LocalKek::from_hex("other", &"17".repeat(32)).unwrap();
    assert!(other.unwrap("acme", &tenant.data_key).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_left_in_doubt_by_a_crash_are_settled_once_and_their_lane_waits_until_then() {
    let config = Config {
        lanes_per_account: 1,
        lane_wait: std::time::Duration::from_millis(300),
        ..test_config()
    };
    let (stack, replica, client) = served(config).await;
    let owner = owner_key(0x42);
    let a = tenant(&stack, &client, "acme", &owner, 1).await;
    let payee = Address::repeat_byte(0x66);
    // Deploy and grant with a first payment.
    client.ok("POST", "/v1/sessions/payouts/send", Some(&a.agent), Some(pay(payee, 1))).await;

    let service = &replica.service;
    let db = service.db();
    let tenant = db.tenant_by_token(&token::hash(&a.token)).await.unwrap().unwrap();
    let row = db.session(tenant.id, "payouts").await.unwrap().unwrap();
    let payment = |usdc: u64| calls_of(&stack, a.account, &pay(payee, usdc));

    // A replica recorded an operation and died before sending it.
    let unsent =
        leash_service::send::crash_after_recording(service, &tenant, &row, &payment(2), false)
            .await
            .unwrap();
    // Its lane is held by the dead replica, and stays closed while the operation is in doubt even once the lease
    // runs out: another send waits, then answers busy.
    let (status, busy) =
        client.call("POST", "/v1/sessions/payouts/send", Some(&a.agent), Some(pay(payee, 3))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{busy}");
    assert_eq!(busy["error"]["code"], "busy");
    expire_leases(db.pool()).await;
    assert_eq!(
        client
            .call("POST", "/v1/sessions/payouts/send", Some(&a.agent), Some(pay(payee, 3)))
            .await
            .0,
        StatusCode::SERVICE_UNAVAILABLE
    );

    // Any replica's settler finds it and sends the same signed bytes: it lands once.
    settle_until_landed(service, &client, &a.token, unsent).await;
    assert_eq!(stack.usdc_balance(payee).await, U256::from(3_000_000u64));

    // A replica sent an operation and died before recording that it did: settled from the chain, not sent again.
    let sent =
        leash_service::send::crash_after_recording(service, &tenant, &row, &payment(4), true)
            .await
            .unwrap();
    expire_leases(db.pool()).await;
    settle_until_landed(service, &client, &a.token, sent).await;
    assert_eq!(stack.usdc_balance(payee).await, U256::from(7_000_000u64));
    // Nothing is left in doubt, the lane is free, and the next send takes the next nonce.
    assert_eq!(leash_service::send::settle_once(service).await.unwrap(), 0);
    let next =
        client.ok("POST", "/v1/sessions/payouts/send", Some(&a.agent), Some(pay(payee, 5))).await;
    assert_eq!(next["state"], "landed", "{next}");
    assert_eq!(stack.usdc_balance(payee).await, U256::from(12_000_000u64));
    let nonces: Vec<String> =
        sqlx::query_scalar("SELECT nonce::TEXT FROM operations ORDER BY nonce")
            .fetch_all(db.pool())
            .await
            .unwrap();
    let sequences: Vec<u64> = nonces
        .iter()
        .map(|n| (n.parse::<U256>().unwrap() & U256::from(u64::MAX)).to::<u64>())
        .collect();
    assert_eq!(sequences, [0, 1, 2, 3], "one operation per nonce, in order");
    let settles: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit WHERE action = 'operation.settle' AND result = 'landed'",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert_eq!(settles, 2, "each settled operation has its audit entry");
}

/// Runs the settler round after round (each round one look at each operation in doubt, leases running out in
/// between) until the operation `hash` has landed.
async fn settle_until_landed(
    service: &leash_service::Service,
    client: &Client,
    token: &str,
    hash: B256,
) {
    for _ in 0..100 {
        leash_service::send::settle_once(service).await.unwrap();
        let state = client.ok("GET", &format!("/v1/operations/{hash}"), Some(token), None).await;
        if state["state"] == "landed" {
            return;
        }
        assert!(state["state"] == "signed" || state["state"] == "sent", "{state}");
        expire_leases(service.db().pool()).await;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("operation {hash} was never settled");
}

/// What time does to leases: every lease runs out.
async fn expire_leases(db: &sqlx::PgPool) {
    sqlx::query("UPDATE lanes SET until = now() - interval '1 second' WHERE holder IS NOT NULL")
        .execute(db)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_starting_together_migrate_an_empty_database_once() {
    let postgres =
        leash_service::postgres::LocalPostgres::start().await.expect("PostgreSQL starts");
    let url = postgres.create_database("fresh").await.unwrap();
    let connects = (0..3).map(|_| {
        let url = url.clone();
        async move { leash_service::Db::connect(&url, 2).await }
    });
    for db in futures_join(connects).await {
        db.expect("every replica connects");
    }
    let db = leash_service::Db::connect(&url, 2).await.unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(applied as usize, leash_service::db::MIGRATOR.iter().count());
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name IN ('tenants', 'accounts', 'sessions', 'operations', 'lanes', 'audit')",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert_eq!(tables, 6);
}

async fn futures_join<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_over_its_rate_is_told_when_to_retry_and_others_are_not_slowed() {
    let (_stack, replica, client) = served(Config { rate: (1, 3), ..test_config() }).await;
    let created =
        client.ok("POST", "/v1/tenants", Some(ADMIN), Some(json!({ "name": "busy" }))).await;
    let busy = created["token"].as_str().unwrap().to_owned();
    let created =
        client.ok("POST", "/v1/tenants", Some(ADMIN), Some(json!({ "name": "calm" }))).await;
    let calm = created["token"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        client.ok("GET", "/v1/accounts", Some(&busy), None).await;
    }
    let response = reqwest::Client::new()
        .get(format!("{}/v1/accounts", replica.url))
        .bearer_auth(&busy)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "1");
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["error"]["code"], "rate-limited");
    client.ok("GET", "/v1/accounts", Some(&calm), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_acts_through_the_mcp_tools_on_its_own_session_only() {
    use rmcp::{
        model::CallToolRequestParams,
        transport::{
            streamable_http_client::StreamableHttpClientTransportConfig,
            StreamableHttpClientTransport,
        },
        ServiceExt,
    };
    let (stack, replica, client) = served(test_config()).await;
    let a = tenant_named(&stack, &client, "acme", &owner_key(0x42), 1, "a-main", "a-pay").await;
    let b = tenant_named(&stack, &client, "globex", &owner_key(0x43), 2, "b-main", "b-pay").await;
    let b_sent = client
        .ok(
            "POST",
            "/v1/sessions/b-pay/send",
            Some(&b.agent),
            Some(pay(Address::repeat_byte(8), 1)),
        )
        .await;
    let payee = Address::repeat_byte(0x31);

    // Only an agent's token opens the tools.
    let mcp = format!("{}/v1/mcp", replica.url);
    let initialize = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": { "name": "probe", "version": "1" } } });
    for (token, expected) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some(a.token.as_str()), StatusCode::FORBIDDEN),
        (Some(ADMIN), StatusCode::FORBIDDEN),
    ] {
        let mut request = reqwest::Client::new()
            .post(&mcp)
            .header("accept", "application/json, text/event-stream")
            .json(&initialize);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        assert_eq!(request.send().await.unwrap().status(), expected);
    }

    // A body that is not JSON-RPC, or past the limit, is refused with a status, before any tool runs.
    for (body, expected) in [
        ("{not json".to_owned(), StatusCode::BAD_REQUEST),
        (
            format!("{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"{}\"}}", "x".repeat(100 * 1024)),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ] {
        let response = reqwest::Client::new()
            .post(&mcp)
            .bearer_auth(&a.agent)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected);
    }
    let config =
        StreamableHttpClientTransportConfig::with_uri(mcp.clone()).auth_header(a.agent.clone());
    let tools =
        ().serve(StreamableHttpClientTransport::from_config(config))
            .await
            .expect("MCP initialises");
    let names: Vec<String> =
        tools.list_all_tools().await.unwrap().iter().map(|t| t.name.to_string()).collect();
    assert_eq!(names.len(), 4, "{names:?}");
    let call = |tool: &'static str, arguments: Value| {
        let tools = &tools;
        async move {
            let arguments = arguments.as_object().unwrap().clone();
            let result = tools
                .call_tool(CallToolRequestParams::new(tool).with_arguments(arguments))
                .await
                .unwrap();
            (result.is_error == Some(true), result.structured_content.unwrap())
        }
    };
    let (_, session) = call("get_session", json!({})).await;
    assert_eq!(session["name"], "a-pay");
    assert_eq!(session["state"], "granted");
    let (failed, sent) = call("send_calls", with_request(pay(payee, 30), "mcp-1")).await;
    assert!(!failed, "{sent}");
    assert_eq!(sent["state"], "landed", "{sent}");
    assert_eq!(stack.usdc_balance(payee).await, U256::from(30_000_000u64));
    let (_, verdict) = call("explain_calls", pay(payee, 80)).await;
    assert_eq!(verdict["allowed"], false);
    assert_eq!(verdict["rule"], "AmountLimitExceeded");
    let (failed, refused) = call("send_calls", pay(payee, 80)).await;
    assert!(failed);
    assert_eq!(refused["error"]["rule"], "AmountLimitExceeded", "{refused}");
    let (failed, own) = call("get_operation", json!({ "hash": sent["hash"] })).await;
    assert!(!failed && own["state"] == "landed", "{own}");
    // Another tenant's operation is not found through these tools.
    let (failed, foreign) = call("get_operation", json!({ "hash": b_sent["hash"] })).await;
    assert!(failed);
    assert_eq!(foreign["error"]["code"], "not-found", "{foreign}");
    // Sends through the tools are audited as the agent's.
    let log = client.ok("GET", "/v1/audit", Some(&a.token), None).await;
    let by_agent =
        log["entries"].as_array().unwrap().iter().filter(|e| e["actor"] == "agent:a-pay").count();
    assert_eq!(by_agent, 2, "{log}");
    tools.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_stops_sends_waiting_for_a_lane_and_operations_never_sent() {
    let config = Config {
        lanes_per_account: 1,
        lane_wait: std::time::Duration::from_secs(60),
        ..test_config()
    };
    let (stack, replica, client) = served(config).await;
    let a = tenant(&stack, &client, "acme", &owner_key(0x42), 1).await;
    let payee = Address::repeat_byte(0x67);
    client.ok("POST", "/v1/sessions/payouts/send", Some(&a.agent), Some(pay(payee, 1))).await;
    let service = &replica.service;
    let db = service.db();
    let tenant = db.tenant_by_token(&token::hash(&a.token)).await.unwrap().unwrap();
    let row = db.session(tenant.id, "payouts").await.unwrap().unwrap();
    let calls = calls_of(&stack, a.account, &pay(payee, 2));

    // An operation recorded and never sent holds the only lane; a send waits behind it.
    let stranded =
        leash_service::send::crash_after_recording(service, &tenant, &row, &calls, false)
            .await
            .unwrap();
    let waiting = {
        let client = client.clone();
        let agent = a.agent.clone();
        tokio::spawn(async move {
            client
                .call("POST", "/v1/sessions/payouts/send", Some(&agent), Some(pay(payee, 3)))
                .await
        })
    };
    // The tenant revokes meanwhile.
    let revoked = client.ok("POST", "/v1/sessions/payouts/revoke", Some(&a.token), None).await;
    // The stranded operation may have left before its replica died (nothing here says it did not), so it is
    // neither sent again nor failed on a guess: it stays in doubt, and its lane closed.
    expire_leases(db.pool()).await;
    assert_eq!(leash_service::send::settle_once(service).await.unwrap(), 0);
    let state = client.ok("GET", &format!("/v1/operations/{stranded}"), Some(&a.token), None).await;
    assert_eq!(state["state"], "signed", "{state}");
    // The owner's on-chain revocation lands: now the operation can never be valid, and is failed.
    let mut operation = revoked["ownerOperation"]["userOperation"].clone();
    let hash: B256 = revoked["ownerOperation"]["userOpHash"].as_str().unwrap().parse().unwrap();
    let owner = owner_key(0x42);
    operation["signature"] =
        json!(alloy::hex::encode_prefixed(owner.sign_hash_sync(&hash).unwrap().as_bytes()));
    let body = json!({ "userOperation": operation });
    client.ok("POST", "/v1/accounts/main/owner-operations", Some(&a.token), Some(body)).await;
    expire_leases(db.pool()).await;
    assert_eq!(leash_service::send::settle_once(service).await.unwrap(), 1);
    // The waiting send gets the lane, sees the revocation, and signs nothing.
    let (status, answer) = waiting.await.unwrap();
    assert_eq!(status, StatusCode::GONE, "{answer}");
    let stranded =
        client.ok("GET", &format!("/v1/operations/{stranded}"), Some(&a.token), None).await;
    assert_eq!(stranded["state"], "failed", "{stranded}");
    assert!(stranded["error"].as_str().unwrap().contains("revoked"), "{stranded}");
    assert_eq!(
        stack.usdc_balance(payee).await,
        U256::from(1_000_000u64),
        "nothing paid after the revocation"
    );
    let operations: i64 =
        sqlx::query_scalar("SELECT count(*) FROM operations").fetch_one(db.pool()).await.unwrap();
    assert_eq!(operations, 2, "the waiting send recorded nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_store_passes_the_conformance_suite_and_keeps_tenants_apart() {
    use leash_store::Store;
    let postgres =
        leash_service::postgres::LocalPostgres::start().await.expect("PostgreSQL starts");
    let url = postgres.create_database("store").await.unwrap();
    let db = leash_service::Db::connect(&url, 4).await.unwrap();
    let audit = |subject: &'static str| leash_service::db::NewAudit {
        tenant_id: None,
        actor: "admin",
        action: "tenant.create",
        subject,
        result: "ok",
        detail: json!({}),
    };
    let acme = db
        .create_tenant("acme", &[1; 32], b"wrapped", "test", audit("acme"))
        .await
        .unwrap()
        .unwrap();
    let globex = db
        .create_tenant("globex", &[2; 32], b"wrapped", "test", audit("globex"))
        .await
        .unwrap()
        .unwrap();
    let store = leash_service::PgStore::new(db.pool().clone(), acme);
    leash_store::conformance::run(&store).await;

    // Another tenant's namespace sees none of it, and the same names are its own.
    let other = leash_service::PgStore::new(db.pool().clone(), globex);
    store.put_account(&leash_store::conformance::account("treasury"), false).await.unwrap();
    assert!(other.account_names().await.unwrap().is_empty());
    assert!(other.audit_log().await.unwrap().is_empty());
    assert!(other.operations().await.unwrap().is_empty());
    other.put_account(&leash_store::conformance::account("treasury"), false).await.unwrap();
    // The store's audit log is append-only too.
    assert!(sqlx::query("DELETE FROM store_audit").execute(db.pool()).await.is_err());
}
