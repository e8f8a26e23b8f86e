//! The bundler and paymaster clients against a local JSON-RPC server that answers with recorded shapes.

use alloy::{
    primitives::{address, Address, Bytes, B256, U256},
    sol_types::SolEvent,
};
use leash_contracts::{bindings::EntryPoint, ENTRYPOINT_V07};
use leash_sdk::{
    bundler::{BundlerClient, BundlerError, RejectionKind, WaitProgress},
    paymaster::{PaymasterClient, PaymasterError},
    userop::UserOperation,
};
use serde_json::{json, Value};
use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    thread,
    time::Duration,
};

const OP_HASH: B256 =
    alloy::primitives::b256!("d1bcbb1530c6b1318f58d7c35b79499edea83aca650d1ae9a1e66dac953e0de4");
const PAYMASTER: Address = address!("0000000000000039cd5e8ae05257ce51c473ddd1");
const SENDER: Address = address!("5a6b47f4131bf1feafa56a05573314bcf44c9149");

fn fixture(path: &str) -> Value {
    let path = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn full_op() -> UserOperation {
    serde_json::from_value(fixture("userop/vectors.json")["ops"]["full"].clone()).unwrap()
}

/// What the server answers to one request.
#[derive(Clone)]
enum Reply {
    /// A JSON-RPC answer: a fixture's `result` or `error`, with the request's id added.
    Rpc(Value),
    /// A raw HTTP answer.
    Http(u16, &'static str),
    /// A JSON-RPC answer under an HTTP error status.
    RpcWithStatus(u16, Value),
    /// Nothing for this long, then the reply.
    After(Duration, Box<Reply>),
}

fn rpc(path: &str) -> Reply {
    Reply::Rpc(fixture(path))
}

type Handler = dyn Fn(&str, &Value) -> Reply + Send + Sync;

/// A tiny HTTP/1.1 JSON-RPC server on a random local port, recording the requests it gets.
struct Server {
    url: String,
    requests: Arc<Mutex<Vec<Value>>>,
}

impl Server {
    fn start(handler: impl Fn(&str, &Value) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let seen = requests.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let handler = handler.clone();
                let seen = seen.clone();
                thread::spawn(move || serve(stream, &*handler, &seen));
            }
        });
        Self { url, requests }
    }

    /// The bundler-style URL with a path and an API key, which errors must not show.
    fn url_with_secret(&self) -> String {
        format!("{}/rpc/v1?apikey=SECRET-KEY", self.url)
    }

    fn requests(&self) -> Vec<Value> {
        self.requests.lock().unwrap().clone()
    }
}

fn serve(stream: TcpStream, handler: &Handler, seen: &Mutex<Vec<Value>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap();
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let request: Value = serde_json::from_slice(&body).unwrap();
    seen.lock().unwrap().push(request.clone());
    let method = request["method"].as_str().unwrap_or_default().to_owned();
    let mut reply = handler(&method, &request["params"]);
    while let Reply::After(delay, next) = reply {
        thread::sleep(delay);
        reply = *next;
    }
    let envelope = |answer: Value| {
        let mut answer = answer.as_object().unwrap().clone();
        answer.insert("jsonrpc".into(), "2.0".into());
        answer.insert("id".into(), request["id"].clone());
        Value::Object(answer).to_string()
    };
    let (status, body) = match reply {
        Reply::Rpc(answer) => (200, envelope(answer)),
        Reply::RpcWithStatus(status, answer) => (status, envelope(answer)),
        Reply::Http(status, text) => (status, text.to_owned()),
        Reply::After(..) => unreachable!(),
    };
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn bundler(server: &Server) -> BundlerClient {
    BundlerClient::new(&server.url_with_secret()).unwrap()
}

// -------------------------------------------------------------------------------------------------------------
// Requests and decoding
// -------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn sends_the_operation_and_the_entry_point() {
    let server = Server::start(|method, _| match method {
        "eth_sendUserOperation" => rpc("bundler/send.json"),
        "eth_estimateUserOperationGas" => rpc("bundler/estimate.spec.json"),
        _ => Reply::Http(404, "no"),
    });
    let client = bundler(&server);
    let op = full_op();
    assert_eq!(client.send_user_operation(&op).await.unwrap(), OP_HASH);
    client.estimate_user_operation_gas(&op).await.unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    for (request, method) in
        requests.iter().zip(["eth_sendUserOperation", "eth_estimateUserOperationGas"])
    {
        assert_eq!(request["method"], method);
        assert_eq!(request["params"][0], serde_json::to_value(&op).unwrap());
        let entry_point: Address = serde_json::from_value(request["params"][1].clone()).unwrap();
        assert_eq!(entry_point, ENTRYPOINT_V07);
    }
    // The hash the bundler returns is the one the SDK computes.
    assert_eq!(op.hash(ENTRYPOINT_V07, 8453).unwrap(), OP_HASH);
}

#[tokio::test]
async fn decodes_every_gas_estimate_shape() {
    let cases = [
        ("estimate.spec.json", Some(0x8a8e), Some(1)),
        ("estimate.zero_paymaster_limits.json", Some(0), Some(0)),
        ("estimate.paymaster_null.json", None, None),
        ("estimate.extra_fields.json", None, None),
        ("estimate.legacy_numbers.json", None, None),
    ];
    for (name, paymaster_verification, paymaster_post_op) in cases {
        let server = Server::start(move |_, _| rpc(&format!("bundler/{name}")));
        let estimate = bundler(&server).estimate_user_operation_gas(&full_op()).await.unwrap();
        assert_eq!(estimate.pre_verification_gas, U256::from(0xd3e3), "{name}");
        assert_eq!(estimate.verification_gas_limit, U256::from(0x60b01), "{name}");
        assert_eq!(estimate.call_gas_limit, U256::from(0x13880), "{name}");
        assert_eq!(
            estimate.paymaster_verification_gas_limit,
            paymaster_verification.map(U256::from),
            "{name}"
        );
        assert_eq!(
            estimate.paymaster_post_op_gas_limit,
            paymaster_post_op.map(U256::from),
            "{name}"
        );
    }
}

#[tokio::test]
async fn an_estimate_fills_the_operation() {
    let server = Server::start(|_, _| rpc("bundler/estimate.spec.json"));
    let client = bundler(&server);
    let full = full_op();
    let mut op = full.clone();
    op.call_gas_limit = U256::ZERO;
    op.verification_gas_limit = U256::ZERO;
    op.pre_verification_gas = U256::ZERO;
    op.paymaster.as_mut().unwrap().verification_gas_limit = U256::ZERO;
    client.estimate_user_operation_gas(&op).await.unwrap().apply_to(&mut op);
    assert_eq!(op, full);
    // Without a paymaster the paymaster limits are not invented.
    op.paymaster = None;
    client.estimate_user_operation_gas(&op).await.unwrap().apply_to(&mut op);
    assert_eq!(op.paymaster, None);
}

#[tokio::test]
async fn decodes_receipts_of_every_shape() {
    for name in [
        "receipt.spec.json",
        "receipt.no_paymaster_field.json",
        "receipt.failed_zero_paymaster.json",
        "receipt.loose_types.json",
    ] {
        let server = Server::start(move |_, _| rpc(&format!("bundler/{name}")));
        let receipt = bundler(&server)
            .get_user_operation_receipt(OP_HASH)
            .await
            .unwrap_or_else(|err| panic!("{name}: {err}"))
            .unwrap();
        assert_eq!(receipt.user_op_hash, OP_HASH, "{name}");
        assert_eq!(receipt.sender, SENDER, "{name}");
        assert_eq!(receipt.nonce, full_op().nonce, "{name}");
        assert_eq!(receipt.actual_gas_cost, U256::from(0x4b3b147f788710u64), "{name}");
        assert_eq!(receipt.actual_gas_used, U256::from(0x7f550), "{name}");
        assert_eq!(receipt.receipt.block_number, 0x31de70e, "{name}");
        assert_eq!(receipt.receipt.status, Some(true), "{name}");
        // The bundle's logs hold the EntryPoint's event for this operation, and it decodes with the binding.
        let event = receipt
            .receipt
            .logs
            .iter()
            .find_map(|log| EntryPoint::UserOperationEvent::decode_log(&log.to_log()).ok())
            .unwrap_or_else(|| panic!("{name}: no UserOperationEvent"));
        assert_eq!(event.userOpHash, OP_HASH, "{name}");
        assert_eq!(event.success, receipt.success, "{name}");
        assert_eq!(event.actualGasCost, receipt.actual_gas_cost, "{name}");
    }
}

#[tokio::test]
async fn receipt_quirks_are_normalised() {
    let get = |name: &'static str| async move {
        let server = Server::start(move |_, _| rpc(&format!("bundler/{name}")));
        bundler(&server).get_user_operation_receipt(OP_HASH).await.unwrap()
    };
    let spec = get("receipt.spec.json").await.unwrap();
    assert_eq!(spec.entry_point, Some(ENTRYPOINT_V07), "`entrypoint` read as entryPoint");
    assert_eq!(spec.paymaster, Some(PAYMASTER));
    assert_eq!(spec.reason, None, "an empty reason is no reason");
    assert!(spec.success);
    assert_eq!(spec.logs.len(), 1);

    let plain = get("receipt.no_paymaster_field.json").await.unwrap();
    assert_eq!((plain.paymaster, plain.reason), (None, None));

    let failed = get("receipt.failed_zero_paymaster.json").await.unwrap();
    assert!(!failed.success);
    assert_eq!(failed.paymaster, None, "the zero address means no paymaster");
    assert!(failed.reason.unwrap().starts_with("0x08c379a0"));
    assert!(failed.logs.is_empty());

    let loose = get("receipt.loose_types.json").await.unwrap();
    assert!(loose.logs.is_empty(), "null logs");
    assert_eq!(loose.receipt.gas_used, Some(U256::from(524122)));
    assert_eq!(loose.receipt.logs[0].block_number, None);

    assert_eq!(get("receipt.pending.json").await, None);
}

#[tokio::test]
async fn decodes_operations_by_hash() {
    let full = full_op();
    for (name, included) in [
        ("by_hash.included.json", true),
        ("by_hash.packed_form.json", true),
        ("by_hash.pending_nulls.json", false),
        ("by_hash.pending_absent.json", false),
        ("by_hash.pending_zeros.json", false),
    ] {
        let server = Server::start(move |_, _| rpc(&format!("bundler/{name}")));
        let found = bundler(&server).get_user_operation_by_hash(OP_HASH).await.unwrap().unwrap();
        assert_eq!(found.user_operation, full, "{name}");
        assert_eq!(found.entry_point, ENTRYPOINT_V07, "{name}");
        assert_eq!(found.is_included(), included, "{name}");
        assert_eq!(found.block_number.is_some(), included, "{name}");
        assert_eq!(found.block_hash.is_some(), included, "{name}");
        if included {
            assert_eq!(found.block_number, Some(0x31de70e));
        }
    }
    let server = Server::start(|_, _| rpc("bundler/by_hash.unknown.json"));
    assert_eq!(bundler(&server).get_user_operation_by_hash(OP_HASH).await.unwrap(), None);
    let request = &server.requests()[0];
    assert_eq!(request["params"], json!([OP_HASH]));
}

#[tokio::test]
async fn chain_id_and_entry_points() {
    let server = Server::start(|method, _| match method {
        "eth_chainId" => rpc("bundler/chain_id.json"),
        "eth_supportedEntryPoints" => rpc("bundler/supported_entry_points.json"),
        _ => Reply::Http(404, "no"),
    });
    let client = bundler(&server);
    assert_eq!(client.chain_id().await.unwrap(), 8453);
    assert_eq!(client.supported_entry_points().await.unwrap().len(), 2);
    assert!(client.supports_entry_point().await.unwrap());
    let other = client.with_entry_point(Address::repeat_byte(9));
    assert!(!other.supports_entry_point().await.unwrap());
    assert_eq!(server.requests()[0]["params"], json!([]));
}

// -------------------------------------------------------------------------------------------------------------
// Errors
// -------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn maps_every_bundler_error_code() {
    let cases = [
        ("error.invalid_params.json", -32602, RejectionKind::InvalidParams),
        ("error.aa23.json", -32500, RejectionKind::SimulationRejected),
        ("error.aa25.json", -32500, RejectionKind::SimulationRejected),
        ("error.paymaster.json", -32501, RejectionKind::PaymasterRejected),
        ("error.opcode.json", -32502, RejectionKind::OpcodeViolation),
        ("error.time_range.json", -32503, RejectionKind::OutOfTimeRange),
        ("error.throttled.json", -32504, RejectionKind::ThrottledOrBanned),
        ("error.stake.json", -32505, RejectionKind::StakeTooLow),
        ("error.aggregator.json", -32506, RejectionKind::UnsupportedAggregator),
        ("error.signature.json", -32507, RejectionKind::InvalidSignature),
        ("error.paymaster_balance.json", -32508, RejectionKind::PaymasterBalance),
        ("error.execution_reverted.json", -32521, RejectionKind::ExecutionReverted),
        ("error.method_not_found.json", -32601, RejectionKind::MethodNotFound),
    ];
    for (name, code, kind) in cases {
        let answer = fixture(&format!("bundler/{name}"));
        let server = Server::start(move |_, _| Reply::Rpc(answer.clone()));
        let err = bundler(&server).send_user_operation(&full_op()).await.unwrap_err();
        let rejection = err.rejection().unwrap_or_else(|| panic!("{name}: {err}"));
        assert_eq!((rejection.code, rejection.kind), (code, kind), "{name}");
        let expected = &fixture(&format!("bundler/{name}"))["error"];
        assert_eq!(rejection.message, expected["message"].as_str().unwrap(), "{name}");
        let data = expected.get("data").filter(|data| !data.is_null());
        assert_eq!(rejection.data.as_ref(), data, "{name}");
        assert!(!err.is_transient(), "{name}");
        let text = err.to_string();
        assert!(
            text.contains("eth_sendUserOperation") && text.contains(&code.to_string()),
            "{text}"
        );
    }
}

#[tokio::test]
async fn rejections_expose_the_entry_point_reason_and_revert_data() {
    let reject = |name: &'static str| async move {
        let server = Server::start(move |_, _| rpc(&format!("bundler/{name}")));
        bundler(&server).send_user_operation(&full_op()).await.unwrap_err()
    };
    let err = reject("error.aa23.json").await;
    let rejection = err.rejection().unwrap();
    assert_eq!(rejection.aa_code(), Some("AA23"));
    assert_eq!(
        rejection.revert_data(),
        Some(
            "0xc6b4d2c40000000000000000000000000000000000000000000000000000000000000000"
                .parse::<Bytes>()
                .unwrap()
        )
    );

    let err = reject("error.aa25.json").await;
    assert_eq!(err.rejection().unwrap().aa_code(), Some("AA25"));
    assert_eq!(err.rejection().unwrap().data, None, "`data: null` is no data");

    let err = reject("error.execution_reverted.json").await;
    let revert = err.rejection().unwrap().revert_data().unwrap();
    assert_eq!(&revert[..4], &[0x08, 0xc3, 0x79, 0xa0]);

    let err = reject("error.opcode.json").await;
    assert_eq!(err.rejection().unwrap().data.as_ref().unwrap()["opcode"], "TIMESTAMP");
    assert_eq!(err.rejection().unwrap().aa_code(), None);
}

#[tokio::test]
async fn json_rpc_errors_under_an_http_error_status_are_rejections() {
    let server =
        Server::start(|_, _| Reply::RpcWithStatus(400, fixture("bundler/error.signature.json")));
    let err = bundler(&server).send_user_operation(&full_op()).await.unwrap_err();
    assert_eq!(err.rejection().map(|r| r.kind), Some(RejectionKind::InvalidSignature), "{err}");
}

#[tokio::test]
async fn http_errors_are_transient_and_do_not_show_the_key() {
    let server = Server::start(|_, _| Reply::Http(429, "Too Many Requests"));
    let err = bundler(&server).chain_id().await.unwrap_err();
    assert!(matches!(&err, BundlerError::Http { status: 429, method: "eth_chainId", .. }), "{err}");
    assert!(err.is_transient());
    let text = err.to_string();
    assert!(text.contains(&format!("bundler at {}/…", server.url)), "{text}");
    assert!(!text.contains("SECRET"), "{text}");
}

#[tokio::test]
async fn unreadable_answers_are_decode_errors() {
    let server = Server::start(|_, _| Reply::Rpc(json!({ "result": { "unexpected": true } })));
    let err = bundler(&server).estimate_user_operation_gas(&full_op()).await.unwrap_err();
    assert!(
        matches!(&err, BundlerError::Decode { method: "eth_estimateUserOperationGas", .. }),
        "{err}"
    );
    let server = Server::start(|_, _| Reply::Http(200, "<html>not json</html>"));
    let err = bundler(&server).chain_id().await.unwrap_err();
    assert!(
        matches!(&err, BundlerError::Decode { .. } | BundlerError::Unreachable { .. }),
        "{err}"
    );
    assert!(!err.to_string().contains("SECRET"));
}

#[tokio::test]
async fn an_unreachable_bundler_is_not_a_rejection() {
    // A port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let client =
        BundlerClient::new(&format!("http://127.0.0.1:{port}/v2/SECRET-KEY?apikey=SECRET"))
            .unwrap();
    let err = client.chain_id().await.unwrap_err();
    assert!(matches!(err, BundlerError::Unreachable { .. }), "{err}");
    assert!(err.is_transient());
    assert!(err.rejection().is_none());
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("bundler at http://127.0.0.1:{port}/… is unreachable: ")),
        "{text}"
    );
    assert!(!text.contains("SECRET"), "{text}");
}

#[tokio::test]
async fn a_hung_bundler_times_out() {
    let server = Server::start(|_, _| {
        Reply::After(Duration::from_secs(3), Box::new(rpc("bundler/chain_id.json")))
    });
    let client = BundlerClient::builder(&server.url)
        .request_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let err = client.chain_id().await.unwrap_err();
    assert!(matches!(err, BundlerError::Unreachable { .. }), "{err}");
    assert!(err.to_string().contains("timed out"), "{err}");
}

// -------------------------------------------------------------------------------------------------------------
// Waiting for receipts
// -------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn waits_until_the_receipt_arrives_and_reports_progress() {
    let polls = Arc::new(AtomicUsize::new(0));
    let counter = polls.clone();
    let server = Server::start(move |_, _| match counter.fetch_add(1, Ordering::SeqCst) {
        0 | 1 => rpc("bundler/receipt.pending.json"),
        2 => Reply::Http(502, "Bad Gateway"),
        _ => rpc("bundler/receipt.spec.json"),
    });
    let mut reports: Vec<WaitProgress> = Vec::new();
    let receipt = bundler(&server)
        .wait_for_receipt_with_progress(
            OP_HASH,
            Duration::from_millis(10),
            Duration::from_secs(10),
            |p| reports.push(p.clone()),
        )
        .await
        .unwrap();
    assert_eq!(receipt.user_op_hash, OP_HASH);
    assert_eq!(polls.load(Ordering::SeqCst), 4);
    assert_eq!(reports.iter().map(|p| p.attempt).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(reports[..2].iter().all(|p| p.error.is_none() && p.hash == OP_HASH));
    assert!(reports[2].error.as_ref().unwrap().contains("502"), "{:?}", reports[2]);
}

#[tokio::test]
async fn waiting_gives_up_at_the_timeout() {
    let server = Server::start(|_, _| rpc("bundler/receipt.pending.json"));
    let mut calls = 0;
    let started = std::time::Instant::now();
    let err = bundler(&server)
        .wait_for_receipt_with_progress(
            OP_HASH,
            Duration::from_millis(20),
            Duration::from_millis(250),
            |_| calls += 1,
        )
        .await
        .unwrap_err();
    let BundlerError::ReceiptTimeout { hash, attempts, waited, last_error } = &err else {
        panic!("{err}")
    };
    assert_eq!(*hash, OP_HASH);
    assert!(*attempts >= 2 && *attempts as usize == calls, "{attempts} polls, {calls} reports");
    assert!(*waited >= Duration::from_millis(250));
    assert_eq!(*last_error, None);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(err.to_string().contains(&OP_HASH.to_string()));
}

#[tokio::test]
async fn a_bundler_that_goes_away_is_reported_long_before_the_timeout() {
    // Answers two polls ("not yet"), then stops listening: every later poll is refused at connect.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/rpc?apikey=SECRET-KEY", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let served = seen.clone();
    let server = thread::spawn(move || {
        let pending = |_: &str, _: &Value| rpc("bundler/receipt.pending.json");
        for stream in listener.incoming().take(2) {
            serve(stream.unwrap(), &pending, &served);
        }
    });
    let mut failures = 0;
    let err = BundlerClient::new(&url)
        .unwrap()
        .wait_for_receipt_with_progress(
            OP_HASH,
            Duration::from_millis(50),
            // Were the bundler's absence not noticed, the wait would run this long and end in ReceiptTimeout.
            Duration::from_secs(600),
            |p| failures += usize::from(p.error.is_some()),
        )
        .await
        .unwrap_err();
    server.join().unwrap();
    let BundlerError::Gone { hash, url, .. } = &err else { panic!("{err}") };
    assert_eq!(*hash, OP_HASH);
    assert!(!url.contains("SECRET"), "{url}");
    assert_eq!(seen.lock().unwrap().len(), 2, "two polls were answered");
    assert!(failures >= 1, "the failed polls were reported as they happened");
    assert!(err.to_string().contains(&OP_HASH.to_string()), "the message names the hash: {err}");
    assert!(!err.to_string().contains("SECRET"), "no part of the URL's key: {err}");
    assert!(!err.is_transient());
}

#[tokio::test]
async fn a_gateway_answering_for_a_bundler_that_is_down_counts_as_gone() {
    let server = Server::start(|_, _| Reply::Http(503, "Service Unavailable"));
    let err = bundler(&server)
        .wait_for_receipt(OP_HASH, Duration::from_millis(50), Duration::from_secs(600))
        .await
        .unwrap_err();
    let BundlerError::Gone { hash, reason, .. } = &err else { panic!("{err}") };
    assert_eq!(*hash, OP_HASH);
    assert!(reason.contains("503"), "{reason}");
}

#[tokio::test]
async fn waiting_stops_on_a_rejection() {
    let server = Server::start(|_, _| rpc("bundler/error.invalid_params.json"));
    let err = bundler(&server)
        .wait_for_receipt(OP_HASH, Duration::from_millis(10), Duration::from_secs(10))
        .await
        .unwrap_err();
    assert_eq!(err.rejection().map(|r| r.kind), Some(RejectionKind::InvalidParams));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_hung_poll_does_not_outlive_the_wait() {
    let server = Server::start(|_, _| {
        Reply::After(Duration::from_secs(5), Box::new(rpc("bundler/receipt.pending.json")))
    });
    let started = std::time::Instant::now();
    let err = bundler(&server)
        .wait_for_receipt(OP_HASH, Duration::from_millis(10), Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(matches!(err, BundlerError::ReceiptTimeout { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

// -------------------------------------------------------------------------------------------------------------
// ERC-7677 paymaster service
// -------------------------------------------------------------------------------------------------------------

fn paymaster(server: &Server) -> PaymasterClient {
    PaymasterClient::new(&server.url_with_secret(), 8453).unwrap()
}

fn unsponsored_op() -> UserOperation {
    let mut op = full_op();
    op.paymaster = None;
    op
}

#[tokio::test]
async fn stub_data_request_and_answer() {
    let server = Server::start(|method, _| match method {
        "pm_getPaymasterStubData" => rpc("paymaster/stub.json"),
        _ => Reply::Http(404, "no"),
    });
    let client = paymaster(&server);
    let op = unsponsored_op();
    let context = json!({ "sponsorshipPolicyId": "sp_example" });
    let stub = client.get_paymaster_stub_data(&op, &context).await.unwrap();
    assert_eq!(stub.data.paymaster, PAYMASTER);
    assert_eq!(stub.data.paymaster_verification_gas_limit, Some(U256::from(0x8a8e)));
    assert_eq!(stub.data.paymaster_post_op_gas_limit, Some(U256::from(1)));
    assert_eq!(stub.data.paymaster_data.len(), 78);
    assert!(!stub.is_final);
    assert_eq!(stub.sponsor, None);

    let params = &server.requests()[0]["params"];
    assert_eq!(params[0], serde_json::to_value(&op).unwrap());
    assert_eq!(serde_json::from_value::<Address>(params[1].clone()).unwrap(), ENTRYPOINT_V07);
    assert_eq!(params[2], "0x2105", "the chain id is a hex string");
    assert_eq!(params[3], context);

    let mut sponsored = op.clone();
    stub.data.apply_to(&mut sponsored);
    let fields = sponsored.paymaster.unwrap();
    assert_eq!(fields.address, PAYMASTER);
    assert_eq!(fields.verification_gas_limit, U256::from(0x8a8e));
    assert_eq!(fields.data, stub.data.paymaster_data);
}

#[tokio::test]
async fn final_stub_with_a_sponsor() {
    let server = Server::start(|_, _| rpc("paymaster/stub.final_sponsor.json"));
    let stub =
        paymaster(&server).get_paymaster_stub_data(&unsponsored_op(), &json!({})).await.unwrap();
    assert!(stub.is_final);
    let sponsor = stub.sponsor.unwrap();
    assert_eq!(sponsor.name, "Example App");
    assert!(sponsor.icon.unwrap().starts_with("data:image/png"));
    // A final stub is the operation's real paymaster part.
    let mut op = unsponsored_op();
    stub.data.apply_to(&mut op);
    assert_eq!(op, full_op());
}

#[tokio::test]
async fn packed_stub_answers_are_split() {
    let server = Server::start(|_, _| rpc("paymaster/stub.packed.json"));
    let stub =
        paymaster(&server).get_paymaster_stub_data(&unsponsored_op(), &json!({})).await.unwrap();
    let mut op = unsponsored_op();
    stub.data.apply_to(&mut op);
    assert_eq!(op, full_op());
}

#[tokio::test]
async fn paymaster_data_keeps_estimated_limits_unless_given() {
    let server = Server::start(|_, params| {
        // Tell the two answers apart by the context.
        if params[3]["withLimits"] == true {
            rpc("paymaster/data.with_limits.json")
        } else {
            rpc("paymaster/data.json")
        }
    });
    let client = paymaster(&server);
    let full = full_op();
    let mut op = full.clone();
    op.paymaster.as_mut().unwrap().data = Bytes::new();
    client.get_paymaster_data(&op, &json!({})).await.unwrap().apply_to(&mut op);
    assert_eq!(op, full, "limits kept, data replaced");

    let data = client.get_paymaster_data(&op, &json!({ "withLimits": true })).await.unwrap();
    data.apply_to(&mut op);
    let fields = op.paymaster.unwrap();
    assert_eq!(fields.verification_gas_limit, U256::from(0x9000));
    assert_eq!(fields.post_op_gas_limit, U256::from(2));
    assert_eq!(server.requests()[0]["method"], "pm_getPaymasterData");
}

#[tokio::test]
async fn paymaster_errors() {
    let server = Server::start(|_, _| rpc("paymaster/error.rejected.json"));
    let err =
        paymaster(&server).get_paymaster_data(&unsponsored_op(), &json!({})).await.unwrap_err();
    let rejection = err.rejection().unwrap_or_else(|| panic!("{err}"));
    assert_eq!(rejection.kind, RejectionKind::InvalidParams);
    assert_eq!(rejection.data.as_ref().unwrap()["policyId"], "sp_example");
    assert!(err.to_string().starts_with("paymaster service rejected pm_getPaymasterData"), "{err}");

    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let client = PaymasterClient::new(&format!("http://127.0.0.1:{port}/api/SECRET"), 1).unwrap();
    let err = client.get_paymaster_stub_data(&unsponsored_op(), &json!({})).await.unwrap_err();
    assert!(matches!(err, PaymasterError::Unreachable { .. }), "{err}");
    assert!(!err.to_string().contains("SECRET"), "{err}");

    let server =
        Server::start(|_, _| Reply::Rpc(json!({ "result": { "sponsor": { "name": "x" } } })));
    let err = paymaster(&server)
        .get_paymaster_stub_data(&unsponsored_op(), &json!({}))
        .await
        .unwrap_err();
    assert!(matches!(err, PaymasterError::Decode { .. }), "{err}");
}

// -------------------------------------------------------------------------------------------------------------
// A hostile estimate
// -------------------------------------------------------------------------------------------------------------

use crate::common::{pay_merchant_policy, transfer, usdc, Stack, MERCHANT};
use leash_sdk::{lanes::Lane, Error, SessionAgent, Submitter};

/// An agent of `stack`'s account, its session granted through the stack's own submitter, that sends through
/// `submitter` (and `paymaster`, when given).
async fn agent_through(
    stack: &Stack,
    submitter: Submitter,
    paymaster: Option<PaymasterClient>,
) -> SessionAgent {
    use leash_core::{PublicKey, Session};
    use leash_sdk::signer::{EcdsaSigner, SessionSigner};
    let signer: Arc<dyn SessionSigner> = Arc::new(EcdsaSigner::random());
    let session = Session {
        key: PublicKey { kind: signer.kind(), public: signer.signer_bytes() },
        policy: pay_merchant_policy(stack, 100),
    };
    stack.owner.grant(&stack.chain, &stack.submitter, &session).await.unwrap();
    let mut builder =
        SessionAgent::builder(stack.chain.clone(), stack.account.address, session, signer)
            .submitter(Arc::new(submitter))
            .tokens(stack.tokens());
    if let Some(paymaster) = paymaster {
        builder = builder.paymaster(paymaster, json!({}));
    }
    builder.build().unwrap()
}

/// A bundler that prices operations honestly but estimates a `preVerificationGas` that would charge the account
/// everything it holds (it is paid in full, to the bundler): the owner's operation is not signed, and neither is
/// a session's, and nothing is sent. With no limit the same estimate is taken as given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_estimate_that_would_charge_more_than_the_limit_is_not_signed() {
    let stack = Stack::start().await;
    let inflated = 10u64.pow(15);
    let server = Server::start(move |method, _| match method {
        "eth_estimateUserOperationGas" => Reply::Rpc(json!({ "result": {
            "preVerificationGas": format!("{inflated:#x}"),
            "verificationGasLimit": "0x30000",
            "callGasLimit": "0x30000",
        }})),
        _ => rpc("bundler/error.method_not_found.json"),
    });
    let hostile = Submitter::Bundler(bundler(&server));
    let too_costly = |error: Error| match error {
        Error::Bundler(BundlerError::TooCostly { cost, limit, .. }) => {
            assert!(cost > limit, "{cost} over {limit}");
            assert_eq!(limit, leash_sdk::bundler::DEFAULT_COST_LIMIT);
        }
        other => panic!("read as {other:?}"),
    };
    let revoke_all = leash_sdk::revoke_call(&stack.chain, None);
    too_costly(
        stack
            .owner
            .execute(&stack.chain, &hostile, std::slice::from_ref(&revoke_all))
            .await
            .unwrap_err(),
    );

    let agent = agent_through(&stack, hostile, None).await;
    too_costly(
        agent.send(&[transfer(stack.usdc(), MERCHANT, usdc(1))], Lane::from(0)).await.unwrap_err(),
    );
    let sent: Vec<Value> = server
        .requests()
        .into_iter()
        .filter(|r| r["method"] != "eth_estimateUserOperationGas")
        .filter(|r| r["method"] != "pimlico_getUserOperationGasPrice")
        .collect();
    assert!(sent.is_empty(), "nothing but estimates and prices asked: {sent:?}");

    // A limit above the cost: the estimate is applied as given.
    let generous =
        BundlerClient::builder(&server.url_with_secret()).cost_limit(U256::MAX).build().unwrap();
    let (op, _) = leash_sdk::prepare_owner_operation_for(
        &stack.chain,
        &Submitter::Bundler(generous),
        &stack.account,
        &[revoke_all],
    )
    .await
    .unwrap();
    assert_eq!(op.pre_verification_gas, U256::from(inflated));
}

/// The paymaster's final answer sets its own gas limits after the bundler's estimate was checked: limits that
/// would let the operation cost more than the limit are refused as well, before the session key signs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paymasters_final_limits_are_held_to_the_cost_limit() {
    let stack = Stack::start().await;
    let server = Server::start(|method, _| match method {
        "eth_estimateUserOperationGas" => Reply::Rpc(json!({ "result": {
            "preVerificationGas": "0x10000",
            "verificationGasLimit": "0x30000",
            "callGasLimit": "0x30000",
        }})),
        "pm_getPaymasterStubData" => rpc("paymaster/stub.json"),
        "pm_getPaymasterData" => Reply::Rpc(json!({ "result": {
            "paymaster": PAYMASTER,
            "paymasterData": "0x01",
            "paymasterVerificationGasLimit": "0x9000",
            "paymasterPostOpGasLimit": format!("{:#x}", 10u64.pow(15)),
        }})),
        _ => rpc("bundler/error.method_not_found.json"),
    });
    let paymaster = PaymasterClient::new(&server.url_with_secret(), stack.chain.chain_id).unwrap();
    let agent = agent_through(&stack, Submitter::Bundler(bundler(&server)), Some(paymaster)).await;
    match agent.send(&[transfer(stack.usdc(), MERCHANT, usdc(1))], Lane::from(0)).await {
        Err(Error::Bundler(BundlerError::TooCostly { cost, limit, .. })) => {
            assert!(cost > limit, "{cost} over {limit}")
        }
        other => panic!("read as {other:?}"),
    }
    let methods: Vec<Value> = server.requests().into_iter().map(|r| r["method"].clone()).collect();
    assert!(
        methods.contains(&json!("pm_getPaymasterData")),
        "the final answer was asked: {methods:?}"
    );
    assert!(!methods.contains(&json!("eth_sendUserOperation")), "nothing sent: {methods:?}");
}
