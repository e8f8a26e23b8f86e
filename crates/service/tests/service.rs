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
    let stack = Stack::start().await;
    let url = stack.database().await;
    let replica = stack.replica(&url, test_config()).await;
    let client = Client::new(&replica.url);
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

    // The same request id again answers the same operation; nothing is paid twice.
    let again = client
        .ok("POST", "/v1/sessions/payouts/send", agent, Some(with_request(pay(payee, 60), "pay-1")))
        .await;
    assert_eq!(again["hash"], sent["hash"]);
    assert_eq!(stack.usdc_balance(payee).await, U256::from(60_000_000u64));

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

    // The owner signs the prepared revocation elsewhere; the service relays it.
    let mut operation = revoked["ownerOperation"]["userOperation"].clone();
    let hash: B256 = revoked["ownerOperation"]["userOpHash"].as_str().unwrap().parse().unwrap();
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
    let stack = Stack::start().await;
    let url = stack.database().await;
    let replica = stack.replica(&url, test_config()).await;
    let client = Client::new(&replica.url);
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
    let stack = Stack::start().await;
    let url = stack.database().await;
    let replica = stack.replica(&url, test_config()).await;
    let client = Client::new(&replica.url);
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
    for (method, path) in ENDPOINTS.iter().filter(|(m, _)| *m == "POST") {
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
                "a body past the limit",
                vec![b' '; 200 * 1024].into(),
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
