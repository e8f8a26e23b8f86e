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
    let verdict = client.ok("POST", "/v1/sessions/payouts/explain", agent, Some(pay(payee, 60))).await;
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
    let (status, refused) = client.call("POST", "/v1/sessions/payouts/send", agent, Some(pay(payee, 60))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["error"]["code"], "refused");
    assert_eq!(refused["error"]["rule"], "AmountLimitExceeded", "{refused}");
    let explained = client.ok("POST", "/v1/sessions/payouts/explain", agent, Some(pay(payee, 60))).await;
    assert_eq!(explained["allowed"], false);

    // What is left, as the agent sees it.
    let status = client.ok("GET", "/v1/sessions/payouts", agent, None).await;
    assert_eq!(status["state"], "granted");
    assert_eq!(status["standing"]["state"], "enabled", "{status}");
    assert_eq!(status["standing"]["allowances"][0]["amountLeft"], "40000000", "{status}");

    // Revoked here: the agent signs nothing more at once, before the owner's on-chain revocation lands.
    let revoked = client.ok("POST", "/v1/sessions/payouts/revoke", Some(&tenant.token), None).await;
    assert_eq!(revoked["revoked"], json!(["payouts"]));
    let (status, gone) = client.call("POST", "/v1/sessions/payouts/send", agent, Some(pay(payee, 1))).await;
    assert_eq!(status, StatusCode::GONE, "{gone}");
    assert_eq!(gone["error"]["code"], "revoked");

    // The owner signs the prepared revocation elsewhere; the service relays it.
    let mut operation = revoked["ownerOperation"]["userOperation"].clone();
    let hash: B256 = revoked["ownerOperation"]["userOpHash"].as_str().unwrap().parse().unwrap();
    operation["signature"] = json!(alloy::hex::encode_prefixed(owner.sign_hash_sync(&hash).unwrap().as_bytes()));
    let landed = client
        .ok("POST", "/v1/accounts/main/owner-operations", Some(&tenant.token), Some(json!({ "userOperation": operation })))
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
        .map(|e| format!("{} {} {}", e["actor"].as_str().unwrap(), e["action"].as_str().unwrap(), e["result"].as_str().unwrap()))
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
