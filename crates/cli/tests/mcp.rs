//! `leash mcp` driven by rmcp's own client, over stdio (the server as a child process) and over streamable
//! HTTP, against the local stack: tools listed with their schemas, a permitted send that lands, a refused one
//! with its rule and what is left, malformed arguments answered while the server keeps serving, and HTTP
//! without the bearer token refused.

use crate::common;

use alloy::primitives::U256;
use common::*;
use rmcp::{
    model::{CallToolRequestParams, CallToolResult},
    service::{RoleClient, RunningService},
    transport::{
        streamable_http_client::StreamableHttpClientTransportConfig, StreamableHttpClientTransport,
        TokioChildProcess,
    },
    ServiceExt,
};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

type Client = RunningService<RoleClient, ()>;

/// Owner, deployed account with USDC, and two sessions under the merchant policy: `shop` and `backup`.
async fn prepared(cli: &Cli) {
    cli.owner_and_account().await;
    let policy = cli.write("pay.toml", POLICY);
    let policy = policy.to_str().unwrap();
    for name in ["shop", "backup"] {
        cli.run(&["session", "create", name, "--policy", policy, "--account", "main"]).await.ok();
    }
}

/// `leash ARGS` as an MCP server over standard input and output, with rmcp's client connected.
async fn stdio(cli: &Cli, args: &[&str]) -> Client {
    let mut server = cli.command(args);
    server.env("LEASH_LOG", "off");
    ().serve(TokioChildProcess::new(server).expect("leash mcp starts"))
        .await
        .expect("MCP initialises")
}

async fn call(client: &Client, tool: &'static str, arguments: Value) -> CallToolResult {
    let arguments = arguments.as_object().expect("an object").clone();
    client
        .call_tool(CallToolRequestParams::new(tool).with_arguments(arguments))
        .await
        .unwrap_or_else(|e| panic!("{tool}: the call failed at the protocol level: {e}"))
}

fn structured(result: &CallToolResult) -> &Value {
    result.structured_content.as_ref().expect("a structured result")
}

/// Checks a tool's structured result against the output schema the tool publishes.
fn conforms(tools: &[rmcp::model::Tool], tool: &str, result: &CallToolResult) {
    assert_ne!(result.is_error, Some(true), "{tool}: {result:?}");
    conforms_as_error(tools, tool, result);
}

/// [`conforms`] for any result, errors included: the schema admits a tool's error object too.
fn conforms_as_error(tools: &[rmcp::model::Tool], tool: &str, result: &CallToolResult) {
    let definition = tools.iter().find(|t| t.name == tool).expect("a listed tool");
    let schema = serde_json::to_value(definition.output_schema.as_ref().expect("an output schema"))
        .expect("a schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let value = structured(result);
    let errors: Vec<String> = validator.iter_errors(value).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{tool}: {value} does not match its schema: {errors:?}");
}

fn pay(amount: &str) -> Value {
    json!([{ "to": "USDC", "function": PAY, "args": [MERCHANT_TEXT, amount] }])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_acts_through_the_stdio_server() {
    let Stack { devnet, cli, bundler: _bundler } = stack().await;
    prepared(&cli).await;
    let client = stdio(&cli, &["mcp", "--session", "shop", "--session", "backup"]).await;

    // Every tool, each with an input schema.
    let tools = client.list_all_tools().await.expect("tools/list");
    let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "explain_calls",
            "get_account",
            "get_balance",
            "get_operation",
            "get_permissions",
            "pay_for_resource",
            "read_contract",
            "send_calls"
        ]
    );
    let send = tools.iter().find(|t| t.name == "send_calls").unwrap();
    let schema = serde_json::to_value(&send.input_schema).unwrap();
    assert!(
        schema["properties"]["calls"].is_object() && schema["properties"]["lane"].is_object(),
        "{schema}"
    );
    // Every tool says what it returns and whether it changes anything: send_calls does, and pay_for_resource
    // moves money without undoing anything.
    for tool in &tools {
        let annotations =
            tool.annotations.as_ref().unwrap_or_else(|| panic!("{}: no annotations", tool.name));
        assert!(tool.output_schema.is_some(), "{}: no output schema", tool.name);
        let sends = tool.name == "send_calls";
        let changes = sends || tool.name == "pay_for_resource";
        assert_eq!(annotations.read_only_hint, Some(!changes), "{}", tool.name);
        assert_eq!(annotations.destructive_hint.unwrap_or(false), sends, "{}", tool.name);
    }

    // Two sessions are served: each call names its own.
    let ambiguous = call(&client, "get_account", json!({})).await;
    assert_eq!(ambiguous.is_error, Some(true));
    assert!(structured(&ambiguous)["error"]["message"]
        .as_str()
        .unwrap()
        .contains("several sessions"));
    let account = call(&client, "get_account", json!({ "session": "backup" })).await;
    conforms(&tools, "get_account", &account);
    assert_eq!(structured(&account)["session"]["name"], "backup");
    assert_eq!(structured(&account)["deployed"], true);

    // The envelope in words and what is left.
    let permissions = call(&client, "get_permissions", json!({ "session": "shop" })).await;
    conforms(&tools, "get_permissions", &permissions);
    let permissions = structured(&permissions);
    assert!(
        permissions["envelope"].to_string().contains("at most 150 USDC per calendar month"),
        "{permissions}"
    );
    assert!(
        permissions["now"]["left"][0].as_str().unwrap().contains("150 USDC left"),
        "{permissions}"
    );

    // A permitted send lands on chain.
    let sent = call(
        &client,
        "send_calls",
        json!({ "session": "shop", "calls": pay("50 USDC"), "lane": "payments" }),
    )
    .await;
    conforms(&tools, "send_calls", &sent);
    assert_eq!(structured(&sent)["status"], "included");
    // Recorded and audited in the same store as the command line's.
    let sent_hash = structured(&sent)["userOpHash"].as_str().unwrap().to_owned();
    let recorded: Value = serde_json::from_str(
        &std::fs::read_to_string(cli.home().join(format!("operations/{sent_hash}.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(recorded["state"], "landed", "{recorded}");
    assert_eq!(recorded["session"], "shop", "{recorded}");
    let audit = std::fs::read_to_string(cli.home().join("audit.jsonl")).unwrap();
    assert!(audit.contains("operation.send") && audit.contains("operation.landed"), "{audit}");
    // A lane is a name or a 32-bit number, nothing else.
    for lane in [json!(true), json!(4_294_967_296u64), json!(1.5)] {
        let refused = client
            .call_tool(
                CallToolRequestParams::new("send_calls").with_arguments(
                    json!({ "session": "shop", "calls": pay("1 USDC"), "lane": lane })
                        .as_object()
                        .unwrap()
                        .clone(),
                ),
            )
            .await;
        match refused {
            Err(e) => assert!(e.to_string().contains("lane"), "{lane}: {e}"),
            Ok(result) => assert_eq!(result.is_error, Some(true), "{lane}: {result:?}"),
        }
    }
    assert_eq!(
        usdc_balance(&devnet, MERCHANT).await,
        U256::from(50_000_000u64),
        "no lane-less send"
    );
    assert_eq!(structured(&sent)["success"], true);
    assert_eq!(usdc_balance(&devnet, MERCHANT).await, U256::from(50_000_000u64));

    // A refused send: the rule, in words, and what is left; nothing moves.
    let refused =
        call(&client, "send_calls", json!({ "session": "shop", "calls": pay("101 USDC") })).await;
    assert_eq!(refused.is_error, Some(true));
    conforms_as_error(&tools, "send_calls", &refused);
    let error = &structured(&refused)["error"];
    assert_eq!(error["rule"], "ArgumentRuleFailed");
    assert_eq!(error["kind"], "policy");
    // The module's error by its fields, not a debug dump.
    assert_eq!(error["rejection"]["error"]["name"], "ArgumentRuleFailed", "{error}");
    assert_eq!(error["rejection"]["error"]["callIndex"], "0", "{error}");
    assert!(error["whatIsLeft"]["left"][0].as_str().unwrap().contains("100 USDC left"), "{error}");
    let over =
        call(&client, "explain_calls", json!({ "session": "shop", "calls": pay("100.5 USDC") }))
            .await;
    conforms(&tools, "explain_calls", &over);
    assert_eq!(structured(&over)["allowed"], false);
    assert_eq!(usdc_balance(&devnet, MERCHANT).await, U256::from(50_000_000u64));

    // Numbers where a model passes numbers: raw units and a numbered lane.
    let numeric = call(
        &client,
        "explain_calls",
        json!({ "session": "shop", "calls": [{ "to": "USDC", "function": PAY, "args": [MERCHANT_TEXT, 1_000_000] }] }),
    )
    .await;
    conforms(&tools, "explain_calls", &numeric);
    assert_eq!(structured(&numeric)["allowed"], true, "{numeric:?}");
    // A contract the session may not call: the refusal lists what it may call.
    let elsewhere = call(
        &client,
        "explain_calls",
        json!({ "session": "shop", "calls": [{ "to": "WETH", "function": PAY, "args": [MERCHANT_TEXT, 1] }] }),
    )
    .await;
    assert_eq!(structured(&elsewhere)["rule"], "TargetNotAllowed", "{elsewhere:?}");
    assert!(
        structured(&elsewhere)["message"].as_str().unwrap().contains("(allowed: USDC"),
        "{elsewhere:?}"
    );

    // The same data has the same shape on the command line: `session status` carries the standing that
    // get_permissions returns under `now`.
    let status = cli.run(&["--json", "session", "status", "shop"]).await.ok().json();
    let now = call(&client, "get_permissions", json!({ "session": "shop" })).await;
    let now = &structured(&now)["now"];
    for field in
        ["state", "stateText", "now", "operationsThisPeriod", "gasSpentWei", "allowances", "left"]
    {
        assert_eq!(status[field], now[field], "{field}: CLI {status} MCP {now}");
    }
    assert_eq!(now["allowances"][0]["amountLeftText"], "100 USDC", "{now}");
    // Balances and explanations too: the same field names and number conventions on both.
    let cli_status = cli.run(&["--json", "account", "status", "main"]).await.ok().json();
    let cli_usdc =
        cli_status["balances"].as_array().unwrap().iter().find(|b| b["symbol"] == "USDC").unwrap();
    let mcp_balance =
        call(&client, "get_balance", json!({ "session": "shop", "token": "USDC" })).await;
    assert_eq!(&structured(&mcp_balance)["balances"][0], cli_usdc, "the USDC balance");
    let cli_explained = cli
        .run(&["--json", "session", "explain", "shop", "USDC", PAY, MERCHANT_TEXT, "10 USDC"])
        .await
        .ok()
        .json();
    let mcp_explained =
        call(&client, "explain_calls", json!({ "session": "shop", "calls": pay("10 USDC") })).await;
    for field in ["allowed", "message", "validAfter", "validUntil", "actionPerCall"] {
        assert_eq!(cli_explained[field], structured(&mcp_explained)[field], "{field}");
    }

    // Malformed arguments get a clear error, and the server keeps serving.
    let malformed = client
        .call_tool(
            CallToolRequestParams::new("send_calls")
                .with_arguments(json!({ "calls": "all of it" }).as_object().unwrap().clone()),
        )
        .await;
    match malformed {
        Err(e) => assert!(e.to_string().contains("calls"), "{e}"),
        Ok(result) => assert_eq!(result.is_error, Some(true), "{result:?}"),
    }
    let unknown_field = client
        .call_tool(CallToolRequestParams::new("get_balance").with_arguments(
            json!({ "session": "shop", "tokne": "USDC" }).as_object().unwrap().clone(),
        ))
        .await;
    assert!(unknown_field.is_err() || unknown_field.unwrap().is_error == Some(true));
    let bad_name =
        call(&client, "send_calls", json!({ "session": "shop", "calls": [{ "to": "EURC" }] }))
            .await;
    assert_eq!(structured(&bad_name)["error"]["kind"], "bad-input");
    // A token amount as a call's native value is refused, saying what to write instead.
    let token_value = call(
        &client,
        "send_calls",
        json!({ "session": "shop", "calls": [{ "to": MERCHANT_TEXT, "value": "1 USDC" }] }),
    )
    .await;
    let error = &structured(&token_value)["error"];
    assert_eq!(error["kind"], "bad-input", "{error}");
    assert!(error["message"].as_str().unwrap().contains("write it in ETH, gwei or wei"), "{error}");

    // Balances and contract reads.
    let balance = call(&client, "get_balance", json!({ "session": "shop", "token": "USDC" })).await;
    conforms(&tools, "get_balance", &balance);
    assert_eq!(structured(&balance)["balances"][0]["amount"], "950");
    let read = call(
        &client,
        "read_contract",
        json!({ "session": "shop", "to": "USDC", "function": "balanceOf(address who) returns (uint256)", "args": [MERCHANT_TEXT] }),
    )
    .await;
    conforms(&tools, "read_contract", &read);
    assert_eq!(structured(&read)["result"], json!(["50000000"]));

    // Without waiting: the hash now, the receipt from get_operation.
    let submitted = call(
        &client,
        "send_calls",
        json!({ "session": "backup", "calls": pay("5 USDC"), "wait": false, "lane": 7 }),
    )
    .await;
    conforms(&tools, "send_calls", &submitted);
    assert_eq!(structured(&submitted)["lane"], 7);
    assert_eq!(structured(&submitted)["status"], "submitted", "{submitted:?}");
    let hash = structured(&submitted)["userOpHash"].as_str().unwrap().to_owned();
    let mut status = Value::Null;
    for _ in 0..100 {
        let operation =
            call(&client, "get_operation", json!({ "session": "backup", "user_op_hash": hash }))
                .await;
        conforms(&tools, "get_operation", &operation);
        status = structured(&operation).clone();
        if status["status"] == "included" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status["status"], "included", "{status}");
    assert_eq!(status["success"], true, "{status}");
    assert_eq!(usdc_balance(&devnet, MERCHANT).await, U256::from(55_000_000u64));

    // Nothing the server said carries key material.
    let exported = cli
        .run_with(
            &["--json", "keystore", "export", "owner", "--yes"],
            &[("LEASH_PASSWORD", OWNER_PASSWORD)],
        )
        .await
        .ok()
        .json();
    let owner_key =
        exported["privateKey"].as_str().unwrap().trim_start_matches("0x").to_lowercase();
    for result in [&permissions.to_string(), &structured(&sent).to_string(), &error.to_string()] {
        assert!(!result.to_lowercase().contains(&owner_key));
        assert!(!result.contains(SESSION_PASSWORD));
    }
    client.cancel().await.expect("the client closes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_server_requires_its_bearer_token() {
    let Stack { devnet, cli, bundler: _bundler } = stack().await;
    prepared(&cli).await;
    // A revoked session is still served, with a warning at start.
    cli.run(&["session", "revoke", "backup"]).await.ok();
    let token = "http-test-token-0123456789abcdef";
    let mut server = cli.command(&[
        "mcp",
        "--session",
        "shop",
        "--session",
        "backup",
        "--http",
        "--listen",
        "127.0.0.1:0",
    ]);
    server
        .env("LEASH_MCP_TOKEN", token)
        .env("LEASH_LOG", "off")
        .stderr(std::process::Stdio::piped());
    let mut child = server.spawn().expect("leash mcp --http starts");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut warned = false;
    let url = loop {
        let line = lines.next_line().await.unwrap().expect("the server says where it listens");
        assert!(!line.contains(token), "the given token is never shown: {line}");
        warned |= line.contains("warning: session `backup` is revoked");
        if let Some(url) = line.strip_prefix("leash mcp listening on ") {
            break url.to_owned();
        }
    };
    assert!(warned, "a revoked session is named at start");

    let http = reqwest::Client::new();
    let initialize = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": { "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": { "name": "probe", "version": "1" } } });
    // No header, a wrong token, and the right token without the Bearer scheme: all refused.
    for authorization in [None, Some("Bearer wrong-token-0123456789abcdef"), Some(token)] {
        let mut request = http
            .post(&url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(initialize.to_string());
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.expect("the server answers");
        assert_eq!(response.status(), reqwest::StatusCode::UNAUTHORIZED, "{authorization:?}");
    }
    let post = |authorization: String, body: String| {
        http.post(&url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("authorization", authorization)
            .body(body)
    };
    // The scheme is case-insensitive.
    let lower = post(format!("bearer {token}"), initialize.to_string()).send().await.unwrap();
    assert!(lower.status().is_success(), "`bearer` is `Bearer`: {}", lower.status());
    // A body that is not JSON gets JSON-RPC's parse error.
    let garbled =
        post(format!("Bearer {token}"), "{\"jsonrpc\": \"2.0\", ".into()).send().await.unwrap();
    assert_eq!(garbled.status(), reqwest::StatusCode::BAD_REQUEST);
    let answer: Value = garbled.json().await.expect("a JSON-RPC error");
    assert_eq!(answer["error"]["code"], -32700, "{answer}");

    let config = StreamableHttpClientTransportConfig::with_uri(url.clone()).auth_header(token);
    let client: Client =
        ().serve(StreamableHttpClientTransport::from_config(config))
            .await
            .expect("MCP initialises over HTTP");
    assert_eq!(client.list_all_tools().await.expect("tools/list").len(), 8);
    let explained =
        call(&client, "explain_calls", json!({ "session": "shop", "calls": pay("20 USDC") })).await;
    assert_eq!(structured(&explained)["allowed"], true, "{explained:?}");
    let sent =
        call(&client, "send_calls", json!({ "session": "shop", "calls": pay("20 USDC") })).await;
    assert_eq!(structured(&sent)["status"], "included", "{sent:?}");
    assert_eq!(usdc_balance(&devnet, MERCHANT).await, U256::from(20_000_000u64));
    let refused =
        call(&client, "send_calls", json!({ "session": "shop", "calls": pay("200 USDC") })).await;
    assert_eq!(structured(&refused)["error"]["rule"], "ArgumentRuleFailed");
    let revoked =
        call(&client, "send_calls", json!({ "session": "backup", "calls": pay("1 USDC") })).await;
    assert_eq!(structured(&revoked)["error"]["rule"], "SessionIsRevoked", "{revoked:?}");
    client.cancel().await.expect("the client closes");
    child.kill().await.expect("the server stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_pays_for_a_resource_with_the_session_through_the_mcp_tool() {
    let Stack { devnet, cli, bundler: _bundler } = stack().await;
    cli.owner_and_account().await;
    let policy = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/policies/x402-payments.toml"),
    )
    .unwrap();
    let policy = cli.write("x402.toml", &policy);
    let policy = policy.to_str().unwrap();
    cli.run(&["session", "create", "buyer", "--policy", policy, "--account", "main"]).await.ok();
    cli.run(&["session", "grant", "buyer"]).await.ok();
    let answers = alloy::primitives::address!("416e737765727300000000000000000000000001");
    let url = x402_seller(&devnet, answers).await;
    let client = stdio(&cli, &["mcp", "--session", "buyer"]).await;
    let tools = client.list_all_tools().await.expect("tools/list");

    let paid = call(&client, "pay_for_resource", json!({ "url": url, "max": "0.01 USDC" })).await;
    conforms(&tools, "pay_for_resource", &paid);
    let paid = structured(&paid);
    assert_eq!(paid["status"], 200, "{paid}");
    assert_eq!(paid["body"]["answer"], 42, "{paid}");
    assert_eq!(paid["paid"]["amountText"], "0.01 USDC", "{paid}");
    assert_eq!(paid["paymentsLeft"][0]["left"], 99, "{paid}");
    assert_eq!(paid["paymentsLeft"][0]["perPeriod"], 100, "{paid}");
    assert_eq!(paid["paymentsLeft"][0]["perPayment"], "10000", "{paid}");
    assert_eq!(usdc_balance(&devnet, answers).await, U256::from(10_000u64));

    // Over the agent's own maximum: refused before signing, with the rule.
    let refused =
        call(&client, "pay_for_resource", json!({ "url": url, "max": "0.005 USDC" })).await;
    assert_eq!(refused.is_error, Some(true), "{refused:?}");
    conforms_as_error(&tools, "pay_for_resource", &refused);
    assert_eq!(structured(&refused)["error"]["rule"], "MaxPerRequest");
    assert_eq!(usdc_balance(&devnet, answers).await, U256::from(10_000u64), "nothing more paid");
    client.cancel().await.unwrap();
}
