//! The `leash` binary driven as a person or a script would: a whole session lifecycle against the local stack
//! (anvil with EntryPoint v0.7 and the leash contracts, and the local bundler), one session on two networks, the
//! bad-input table, and the promise that no output or log shows a key or a password.

use crate::common;

use alloy::{
    primitives::{address, Address, U256},
    providers::Provider,
};
use common::*;
use leash_devnet::Devnet;
use serde_json::Value;
use std::{
    net::{Ipv4Addr, SocketAddr},
    path::Path,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_session_lifecycle_through_the_binary() {
    let Stack { devnet, cli, bundler: _bundler } = stack().await;

    // Keystore and account: the address is known before deployment.
    cli.run_with(&["keystore", "create", "owner"], &[("LEASH_PASSWORD", OWNER_PASSWORD)])
        .await
        .ok();
    let keys = cli.run(&["--json", "keystore", "list"]).await.ok().json();
    assert_eq!(keys[0]["name"], "owner");
    assert_eq!(keys[0]["kind"], "ecdsa");
    let account =
        cli.run(&["--json", "account", "create", "main", "--owner", "owner"]).await.ok().json();
    let address: Address = account["address"].as_str().unwrap().parse().unwrap();
    let status = cli.run(&["--json", "account", "status", "main"]).await.ok().json();
    assert_eq!(status["deployed"], false);
    assert_eq!(status["balances"][0]["amount"], "0");
    assert!(devnet.provider().get_code_at(address).await.unwrap().is_empty());
    let unfunded = cli.run(&["account", "deploy", "main"]).await;
    assert_eq!(unfunded.code, 1, "{}", unfunded.text());
    assert!(unfunded.stderr.contains("AA21"), "{}", unfunded.stderr);
    cli.run(&["account", "fund", "main", "--eth", "1 ETH", "--token", "1000 USDC"]).await.ok();
    let deployed = cli.run(&["--json", "account", "deploy", "main"]).await.ok().json();
    assert_eq!(deployed["operation"]["success"], true);
    assert!(!devnet.provider().get_code_at(address).await.unwrap().is_empty());
    let status = cli.run(&["--json", "account", "status", "main"]).await.ok().json();
    assert_eq!(status["deployed"], true);
    let usdc = status["balances"].as_array().unwrap().iter().find(|b| b["symbol"] == "USDC");
    assert_eq!(usdc.unwrap()["amount"], "1000");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(cli.home().join("keystores/owner.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "keystores are readable by their owner only");
    }

    // A session under a policy file; the owner signs the grant, the key is encrypted.
    let policy = cli.write("pay.toml", POLICY);
    let created = cli
        .run(&[
            "--json",
            "session",
            "create",
            "shop",
            "--policy",
            policy.to_str().unwrap(),
            "--account",
            "main",
        ])
        .await
        .ok()
        .json();
    assert_eq!(created["chains"], serde_json::json!([31337]));
    let info = cli.run(&["session", "info", "shop"]).await.ok();
    assert!(info.stdout.contains("may call transfer on USDC"), "{}", info.stdout);
    assert!(info.stdout.contains("at most 150 USDC per calendar month"), "{}", info.stdout);
    let listed = cli.run(&["--json", "session", "list"]).await.ok().json();
    assert_eq!(listed[0]["name"], "shop");

    // Explain, then send an allowed payment: it lands, and grants the session on the way.
    let allowed =
        cli.run(&["session", "explain", "shop", "USDC", PAY, MERCHANT_TEXT, "50 USDC"]).await.ok();
    assert!(allowed.stdout.starts_with("allowed"), "{}", allowed.stdout);
    let sent = cli
        .run(&[
            "--json", "session", "send", "shop", "USDC", PAY, "merchant", "50 USDC", "--lane",
            "payments",
        ])
        .await;
    // `merchant` is a name of the policy file, not of the network: refused as bad input before anything else.
    assert_eq!(sent.code, 2, "{}", sent.text());
    let sent = cli
        .run(&[
            "--json",
            "session",
            "send",
            "shop",
            "USDC",
            PAY,
            MERCHANT_TEXT,
            "50 USDC",
            "--lane",
            "payments",
        ])
        .await
        .ok()
        .json();
    assert_eq!(sent["granted"], true);
    assert_eq!(sent["operation"]["success"], true);
    assert_eq!(usdc_balance(&devnet, MERCHANT).await, U256::from(50_000_000u64));
    assert!(
        !devnet.provider().get_code_at(address).await.unwrap().is_empty(),
        "the first operation deployed the account"
    );

    // Out of policy: explained and refused with the rule, exit code 3, nothing moves.
    let wrong_merchant = "0x4d65726368616e74000000000000000000000002";
    let refused = cli
        .run(&["--json", "session", "explain", "shop", "USDC", PAY, wrong_merchant, "5 USDC"])
        .await;
    assert_eq!(refused.code, 3, "{}", refused.text());
    assert_eq!(refused.json()["error"]["rule"], "ArgumentRuleFailed");
    assert_eq!(refused.json()["error"]["rejection"]["call"], 0);
    let refused =
        cli.run(&["session", "send", "shop", "USDC", PAY, MERCHANT_TEXT, "101 USDC"]).await;
    assert_eq!(refused.code, 3, "{}", refused.text());
    assert!(refused.stderr.contains("rule: ArgumentRuleFailed"), "{}", refused.stderr);
    // 60 more lands (110 of 150 spent this month); then 50 is within the per-call rule but over what is left.
    cli.run(&["session", "send", "shop", "USDC", PAY, MERCHANT_TEXT, "60 USDC"]).await.ok();
    let refused = cli
        .run(&["--json", "session", "send", "shop", "USDC", PAY, MERCHANT_TEXT, "50 USDC"])
        .await;
    assert_eq!(refused.code, 3, "{}", refused.text());
    assert_eq!(refused.json()["error"]["rule"], "AmountLimitExceeded");
    assert_eq!(usdc_balance(&devnet, MERCHANT).await, U256::from(110_000_000u64));

    // Status on chain: enabled, 40 USDC left this month.
    let status = cli.run(&["--json", "session", "status", "shop"]).await.ok().json();
    assert_eq!(status["state"], "enabled");
    assert_eq!(
        status["allowances"][0]["amountLeft"], "40000000",
        "40 USDC in raw units, in decimal"
    );
    assert_eq!(status["allowances"][0]["amountLeftText"], "40 USDC");
    assert!(status["left"][0].as_str().unwrap().contains("40 USDC left"), "{status}");
    let account = cli.run(&["--json", "account", "status", "main"]).await.ok().json();
    assert_eq!(account["deployed"], true);
    assert_eq!(account["modules"][0]["name"], "SessionKeyValidator (session keys)");

    // A batch file: two payments in one operation.
    let batch = cli.write(
        "batch.json",
        &format!(r#"[{{"to": "USDC", "function": "{PAY}", "args": ["{MERCHANT_TEXT}", "10 USDC"]}},
                      {{"to": "USDC", "function": "{PAY}", "args": ["{MERCHANT_TEXT}", "20 USDC"]}}]"#),
    );
    cli.run(&["session", "send", "shop", "--batch", batch.to_str().unwrap()]).await.ok();
    assert_eq!(usdc_balance(&devnet, MERCHANT).await, U256::from(140_000_000u64));

    // Revoke: the next operation is refused, before signing and for good.
    cli.run(&["session", "revoke", "shop"]).await.ok();
    let status = cli.run(&["--json", "session", "status", "shop"]).await.ok().json();
    assert_eq!(status["state"], "revoked");
    assert_eq!(status["allowances"], serde_json::json!([]), "a revoked session has nothing left");
    let twice = cli.run(&["session", "revoke", "shop"]).await;
    assert_eq!(twice.code, 2, "revoking twice sends nothing: {}", twice.text());
    let refused =
        cli.run(&["--json", "session", "send", "shop", "USDC", PAY, MERCHANT_TEXT, "1 USDC"]).await;
    assert_eq!(refused.code, 3, "{}", refused.text());
    assert_eq!(refused.json()["error"]["rule"], "SessionIsRevoked");
    assert_eq!(usdc_balance(&devnet, MERCHANT).await, U256::from(140_000_000u64));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_all_voids_every_session_and_grant_of_the_account() {
    let Stack { devnet, cli, bundler: _bundler } = stack().await;
    cli.owner_and_account().await;
    let policy = cli.write("pay.toml", POLICY);
    let policy = policy.to_str().unwrap();
    cli.run(&["session", "create", "one", "--policy", policy, "--account", "main"]).await.ok();
    cli.run(&[
        "session",
        "create",
        "two",
        "--policy",
        policy,
        "--account",
        "main",
        "--key-kind",
        "p256",
    ])
    .await
    .ok();
    // One granted by transaction, the other still a signed, unused grant.
    cli.run(&["session", "grant", "one"]).await.ok();
    let again = cli.run(&["session", "grant", "one"]).await;
    assert_eq!(again.code, 2, "granting twice is refused: {}", again.text());
    cli.run(&["session", "revoke", "--all", "--account", "main"]).await.ok();
    let status = cli.run(&["--json", "session", "status", "two"]).await.ok().json();
    assert!(status["state"].as_str().unwrap().starts_with("void"), "{status}");
    let status = cli.run(&["--json", "session", "status", "one"]).await.ok().json();
    assert!(status["state"].as_str().unwrap().starts_with("revoked"), "{status}");

    // The pre-flight names the revoke-all: the granted session is voided, the unused grant is void.
    for (name, rule, says) in [
        ("one", "SessionVoidedByRevokeAll", "revoked by \"revoke all\""),
        ("two", "GrantVoidedByRevokeAll", "must sign a new grant"),
    ] {
        let explained = cli
            .run(&["--json", "session", "explain", name, "USDC", PAY, MERCHANT_TEXT, "1 USDC"])
            .await;
        assert_eq!(explained.code, 3, "{name}: {}", explained.text());
        let error = &explained.json()["error"];
        assert_eq!(error["rule"], rule, "{name}: {error}");
        assert!(error["message"].as_str().unwrap().contains(says), "{name}: {error}");
        // Sending is refused before anything is signed, with the same rule.
        let refused = cli
            .run(&["--json", "session", "send", name, "USDC", PAY, MERCHANT_TEXT, "1 USDC"])
            .await;
        assert_eq!(refused.code, 3, "{name}: {}", refused.text());
        let error = &refused.json()["error"];
        assert_eq!(error["rule"], rule, "{name}: {error}");
        assert!(error["message"].as_str().unwrap().contains("before signing"), "{name}: {error}");
        // Granting by transaction would revive what the owner revoked with an approval from before: refused.
        let regrant = cli.run(&["session", "grant", name]).await;
        assert_eq!(regrant.code, 2, "{name}: {}", regrant.text());
        assert!(
            regrant.stderr.contains("revoked by `session revoke --all`")
                && regrant.stderr.contains("a new grant must be signed at the current epoch"),
            "{name}: {}",
            regrant.stderr
        );
    }
    let status = cli.run(&["--json", "session", "status", "one"]).await.ok().json();
    assert!(status["state"].as_str().unwrap().starts_with("revoked"), "still revoked: {status}");
    assert_eq!(usdc_balance(&devnet, MERCHANT).await, U256::ZERO);

    // A session created after the revoke-all is signed at the current epoch, and works.
    cli.run(&["session", "create", "three", "--policy", policy, "--account", "main"]).await.ok();
    cli.run(&["session", "send", "three", "USDC", PAY, MERCHANT_TEXT, "1 USDC"]).await.ok();
    assert_eq!(usdc_balance(&devnet, MERCHANT).await, U256::from(1_000_000u64));
}

/// A revocation waits on no bundler: with `--direct` the owner's own address sends `handleOps` (and pays its
/// gas) while the bundler is unreachable; without it, the same revocation fails as a network failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_is_revoked_without_a_bundler() {
    let Stack { devnet, cli, bundler: _bundler } = stack().await;
    cli.owner_and_account().await;
    let policy = cli.write("pay.toml", POLICY);
    let policy = policy.to_str().unwrap();
    for name in ["one", "two"] {
        cli.run(&["session", "create", name, "--policy", policy, "--account", "main"]).await.ok();
        cli.run(&["session", "send", name, "USDC", PAY, MERCHANT_TEXT, "1 USDC"]).await.ok();
    }
    let owner = cli.key_address("owner").await;
    let no_bundler = [("LEASH_BUNDLER_URL", "http://127.0.0.1:9")];
    // The owner's address pays for a direct revocation: without ether it is told so before anything is sent.
    let unfunded = cli.run_with(&["session", "revoke", "one", "--direct"], &no_bundler).await;
    assert_eq!(unfunded.code, 2, "{}", unfunded.text());
    assert!(unfunded.stderr.contains("has no ether"), "{}", unfunded.stderr);
    devnet.fund(owner, U256::from(10u128.pow(18))).await.unwrap();

    let through_bundler = cli.run_with(&["session", "revoke", "one"], &no_bundler).await;
    assert_eq!(through_bundler.code, 4, "{}", through_bundler.text());
    let revoked = cli
        .run_with(&["--json", "session", "revoke", "one", "--direct"], &no_bundler)
        .await
        .ok()
        .json();
    assert_eq!(revoked["operation"]["success"], true, "{revoked}");
    let all = ["--json", "session", "revoke", "--all", "--account", "main", "--direct"];
    assert_eq!(cli.run_with(&all, &no_bundler).await.ok().json()["revokedAll"], true);
    for (name, rule) in [("one", "SessionIsRevoked"), ("two", "SessionVoidedByRevokeAll")] {
        let refused = cli
            .run(&["--json", "session", "send", name, "USDC", PAY, MERCHANT_TEXT, "1 USDC"])
            .await;
        assert_eq!(refused.code, 3, "{name}: {}", refused.text());
        assert_eq!(refused.json()["error"]["rule"], rule, "{name}");
    }
    assert_eq!(usdc_balance(&devnet, MERCHANT).await, U256::from(2_000_000u64));
}

/// Bad input: a clear message, exit code 2 (4 for the network), and no file half-written or left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_message_the_right_exit_code_and_no_partial_file() {
    let Stack { cli, devnet, bundler: _bundler } = stack().await;
    cli.owner_and_account().await;
    let good = cli.write("good.toml", POLICY);
    cli.run(&["session", "create", "ok", "--policy", &path(&good), "--account", "main"]).await.ok();
    // A network without a bundler: enough to explain, not to send.
    let d = devnet.deployment().unwrap();
    cli.write(
        "networks.toml",
        &format!(
            "[networks.nobundler]\nchain_id = 31337\nrpc_url = \"{}\"\nmodule = \"{}\"\nfactory = \"{}\"\n",
            cli.rpc_url, d.session_key_validator, d.account_factory
        ),
    );
    let missing = path(&cli.home().join("missing.toml"));
    let malformed = path(&cli.write(
        "malformed.toml",
        &POLICY.replace("period = \"monthly\"", "period = \"monthly\"\ncolour = \"red\""),
    ));
    let wrong_unit = path(&cli.write("unit.toml", &POLICY.replace("\"150 USDC\"", "\"150 EURC\"")));
    let bad_batch = path(&cli.write(
        "batch.json",
        r#"[{"to": "USDC", "function": "transfer(address,uint256)", "args": [], "gas": 1}]"#,
    ));
    std::fs::write(cli.home().join("keystores/broken.json"), "{ \"version\": 3, \"crypto\": ")
        .unwrap();
    let key_file = path(&cli.write("key.hex", "0xnot-hex-but-secret-looking"));
    let good = path(&good);

    struct Case {
        what: &'static str,
        args: Vec<String>,
        env: Vec<(&'static str, &'static str)>,
        code: i32,
        says: &'static str,
        leaves_no: Option<&'static str>,
    }
    let case = |what, args: &[&str], code, says, leaves_no| Case {
        what,
        args: args.iter().map(|a| a.to_string()).collect(),
        env: Vec::new(),
        code,
        says,
        leaves_no,
    };
    let with_env = |mut case: Case, key, value| {
        case.env.push((key, value));
        case
    };
    let cases = [
        case(
            "missing policy file",
            &["session", "create", "s1", "--policy", &missing, "--account", "main"],
            2,
            "missing.toml",
            Some("sessions/s1"),
        ),
        case(
            "malformed policy (unknown field)",
            &["session", "create", "s2", "--policy", &malformed, "--account", "main"],
            2,
            "colour",
            Some("sessions/s2"),
        ),
        case(
            "wrong unit in a policy",
            &["session", "create", "s3", "--policy", &wrong_unit, "--account", "main"],
            2,
            "EURC",
            Some("sessions/s3"),
        ),
        case(
            "corrupted keystore",
            &["keystore", "info", "broken"],
            2,
            "not a valid Web3 Secret Storage v3 keystore",
            None,
        ),
        case(
            "corrupted keystore as an owner",
            &["account", "create", "x", "--owner", "broken"],
            2,
            "broken.json",
            Some("accounts/x.json"),
        ),
        case(
            "unknown network",
            &["--network", "mars", "account", "status", "main"],
            2,
            "unknown network `mars`",
            None,
        ),
        case(
            "unknown session",
            &["session", "status", "ghost"],
            2,
            "no session named `ghost`",
            None,
        ),
        case(
            "unknown account",
            &["session", "create", "s4", "--policy", &good, "--account", "ghost"],
            2,
            "no account named `ghost`",
            Some("sessions/s4"),
        ),
        case(
            "unknown key",
            &["keystore", "export", "ghost", "--yes"],
            2,
            "no key named `ghost`",
            None,
        ),
        case("existing key", &["keystore", "create", "owner"], 2, "exists already", None),
        case(
            "existing session",
            &["session", "create", "ok", "--policy", &good, "--account", "main"],
            2,
            "exists already",
            None,
        ),
        case("invalid name", &["keystore", "create", "../escape"], 2, "not a valid key name", None),
        case(
            "malformed private key",
            &["keystore", "import", "imported", "--private-key-file", &key_file],
            2,
            "not 32 bytes of hex",
            Some("keystores/imported.json"),
        ),
        case(
            "missing batch file",
            &["session", "explain", "ok", "--batch", &missing],
            2,
            "cannot read the batch file",
            None,
        ),
        case(
            "malformed batch file",
            &["session", "explain", "ok", "--batch", &bad_batch],
            2,
            "unknown field `gas`",
            None,
        ),
        case(
            "unknown name in a call",
            &["session", "explain", "ok", "EURC", "transfer(address,uint256)", "self", "1"],
            2,
            "neither an address nor a known name",
            None,
        ),
        case("usage error", &["account", "info", "main", "extra"], 2, "unexpected argument", None),
        case(
            "token units as a call's native value",
            &["session", "explain", "ok", "USDC", "--value", "1 USDC"],
            2,
            "a call's value is native value: write it in ETH, gwei or wei",
            None,
        ),
        with_env(
            case(
                "wrong owner password",
                &["session", "create", "s5", "--policy", &good, "--account", "main"],
                2,
                "wrong password",
                Some("sessions/s5"),
            ),
            "LEASH_OWNER_PASSWORD",
            "not-the-owner-password",
        ),
        with_env(
            case(
                "wrong session password",
                &[
                    "session",
                    "send",
                    "ok",
                    "USDC",
                    "transfer(address,uint256)",
                    MERCHANT_TEXT,
                    "1 USDC",
                ],
                2,
                "wrong password",
                None,
            ),
            "LEASH_PASSWORD",
            "not-the-session-password",
        ),
        with_env(
            case(
                "no password and no terminal",
                &["session", "create", "s6", "--policy", &good, "--account", "main"],
                2,
                "LEASH_OWNER_PASSWORD",
                Some("sessions/s6"),
            ),
            "LEASH_OWNER_PASSWORD",
            "",
        ),
        with_env(
            case(
                "unreachable RPC",
                &["account", "status", "main"],
                4,
                "cannot reach network `devnet`",
                None,
            ),
            "LEASH_RPC_URL",
            "http://127.0.0.1:1/v2/secret-api-key",
        ),
        case(
            "the same chain twice",
            &[
                "session",
                "create",
                "s8",
                "--policy",
                &good,
                "--account",
                "main",
                "--chains",
                "devnet,devnet",
            ],
            2,
            "are the same chain",
            Some("sessions/s8"),
        ),
        with_env(
            case(
                "no bundler to send through",
                &[
                    "--network",
                    "nobundler",
                    "session",
                    "send",
                    "ok",
                    "USDC",
                    "transfer(address,uint256)",
                    MERCHANT_TEXT,
                    "1 USDC",
                ],
                2,
                "has no bundler_url",
                None,
            ),
            "LEASH_BUNDLER_URL",
            "",
        ),
        with_env(
            case("unreachable bundler", &["session", "grant", "ok"], 4, "unreachable", None),
            "LEASH_BUNDLER_URL",
            "http://127.0.0.1:1/rpc?key=secret-api-key",
        ),
    ];

    let owner_key_before = std::fs::read(cli.home().join("keystores/owner.json")).unwrap();
    for case in &cases {
        let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
        let run = cli.run_with(&args, &case.env).await;
        assert_eq!(run.code, case.code, "{}: exit code\n{}", case.what, run.text());
        assert!(
            run.stderr.contains(case.says),
            "{}: expected `{}` in\n{}",
            case.what,
            case.says,
            run.stderr
        );
        assert!(
            run.stdout.is_empty(),
            "{}: nothing on stdout for people:\n{}",
            case.what,
            run.stdout
        );
        if let Some(path) = case.leaves_no {
            assert!(!cli.home().join(path).exists(), "{}: {path} was left behind", case.what);
        }
        assert!(!run.stderr.contains("secret-api-key"), "{}: a URL's API key was shown", case.what);
        assert!(
            !run.stderr.contains("not-hex-but-secret"),
            "{}: a private key input was echoed",
            case.what
        );
        // The same failure for programs: one JSON object with the kind and the exit code.
        let json_args: Vec<&str> = std::iter::once("--json").chain(args.iter().copied()).collect();
        let run = cli.run_with(&json_args, &case.env).await;
        if case.what != "usage error" {
            assert_eq!(run.json()["error"]["exitCode"], case.code, "{}", case.what);
        }
    }
    assert_eq!(
        std::fs::read(cli.home().join("keystores/owner.json")).unwrap(),
        owner_key_before,
        "the existing key is untouched"
    );
    assert_no_temporary_files(cli.home());

    // Explaining signs and sends nothing, so it works where sending cannot.
    let explained = cli
        .run_with(
            &[
                "--network",
                "nobundler",
                "session",
                "explain",
                "ok",
                "USDC",
                PAY,
                MERCHANT_TEXT,
                "1 USDC",
            ],
            &[("LEASH_BUNDLER_URL", "")],
        )
        .await
        .ok();
    assert!(explained.stdout.starts_with("allowed"), "{}", explained.stdout);
}

fn path(path: &Path) -> String {
    path.display().to_string()
}

fn assert_no_temporary_files(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(
            !name.starts_with(".leash-"),
            "a temporary file was left behind: {}",
            entry.path().display()
        );
        if entry.path().is_dir() {
            assert_no_temporary_files(&entry.path());
        }
    }
}

/// No command prints or logs a private key or a password, except `keystore export` when confirmed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_output_or_log_contains_a_private_key_or_a_password() {
    let Stack { cli, devnet: _devnet, bundler: _bundler } = stack().await;
    cli.owner_and_account().await;
    let policy = cli.write("pay.toml", POLICY);
    let policy = policy.to_str().unwrap();
    cli.run(&["session", "create", "shop", "--policy", policy, "--account", "main"]).await.ok();
    cli.run(&["session", "info", "shop"]).await.ok();
    cli.run(&["session", "send", "shop", "USDC", PAY, MERCHANT_TEXT, "5 USDC"]).await.ok();
    cli.run(&["--json", "session", "send", "shop", "USDC", PAY, MERCHANT_TEXT, "500 USDC"]).await;
    cli.run_with(
        &["session", "send", "shop", "USDC", PAY, MERCHANT_TEXT, "5 USDC"],
        &[("LEASH_PASSWORD", "wrong")],
    )
    .await;
    cli.run(&["session", "status", "shop"]).await.ok();
    cli.run(&["--json", "keystore", "list"]).await.ok();
    cli.run(&["keystore", "info", "owner"]).await.ok();
    cli.run(&["account", "info", "main"]).await.ok();
    cli.run(&["session", "revoke", "shop"]).await.ok();
    let password_file = cli.write("pw", &format!("{OWNER_PASSWORD}\n"));
    cli.run_with(
        &[
            "keystore",
            "import",
            "copy",
            "--keystore-file",
            cli.home().join("keystores/owner.json").to_str().unwrap(),
            "--password-file",
            password_file.to_str().unwrap(),
        ],
        &[],
    )
    .await
    .ok();
    // Export needs confirmation: without a terminal or --yes it refuses and shows nothing.
    let refused =
        cli.run_with(&["keystore", "export", "owner"], &[("LEASH_PASSWORD", OWNER_PASSWORD)]).await;
    assert_eq!(refused.code, 2);

    let before_export: Vec<String> = cli.outputs.lock().unwrap().clone();
    let owner_secret = export(&cli, "owner").await;
    let copy_secret = export(&cli, "copy").await;
    assert_eq!(owner_secret, copy_secret, "the imported keystore holds the same key");
    let session_secret = alloy::hex::encode(
        leash_sdk::keystore::Keystore::open(
            cli.home().join("sessions/shop/key.json"),
            SESSION_PASSWORD,
        )
        .expect("the session key opens")
        .secret_bytes()
        .as_slice(),
    );
    assert!(before_export.len() > 10);
    for output in &before_export {
        for secret in [&owner_secret, &session_secret] {
            assert!(
                !output.to_lowercase().contains(secret.as_str()),
                "a private key was printed:\n{output}"
            );
        }
        for password in [OWNER_PASSWORD, SESSION_PASSWORD] {
            assert!(!output.contains(password), "a password was printed:\n{output}");
        }
    }
    // Logs were on (LEASH_LOG=debug) and did show up, so the check above covered them.
    assert!(before_export.iter().any(|o| o.contains("DEBUG")), "no log lines were captured");
}

async fn export(cli: &Cli, name: &str) -> String {
    let run = cli
        .run_with(
            &["--json", "keystore", "export", name, "--yes"],
            &[("LEASH_PASSWORD", OWNER_PASSWORD)],
        )
        .await
        .ok();
    let key = run.json()["privateKey"].as_str().unwrap().trim_start_matches("0x").to_lowercase();
    assert_eq!(key.len(), 64);
    key
}

/// Networks come from networks.toml by name, with environment overrides; the devnet is built in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn networks_come_from_the_config_file_with_environment_overrides() {
    let Stack { devnet, cli, bundler: _bundler } = stack().await;
    let d = devnet.deployment().unwrap();
    cli.write(
        "networks.toml",
        &format!(
            r#"default = "local"
[networks.local]
chain_id = 31337
rpc_url = "{}"
bundler_url = "{}"
module = "{}"
factory = "{}"
bundler_price_limit = 6
max_operation_cost = "0.5 ETH"
tokens = {{ CASH = {{ address = "{}", decimals = 6 }} }}
"#,
            cli.rpc_url, cli.bundler_url, d.session_key_validator, d.account_factory, d.usdc
        ),
    );
    let listed = cli
        .run_with(
            &["--json", "network", "list"],
            &[("LEASH_RPC_URL", ""), ("LEASH_BUNDLER_URL", "")],
        )
        .await
        .ok()
        .json();
    let names: Vec<&str> =
        listed.as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
    // The devnet and the public networks are built in, beside the file's.
    assert_eq!(
        names,
        [
            "arbitrum",
            "arbitrum-sepolia",
            "base",
            "base-sepolia",
            "devnet",
            "ethereum",
            "local",
            "optimism",
            "optimism-sepolia",
            "sepolia"
        ]
    );
    let selected: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["selected"] == true)
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(selected, ["local"]);
    let base = listed.as_array().unwrap().iter().find(|n| n["name"] == "base").unwrap();
    assert_eq!(base["chainId"], 8453);
    assert_eq!(base["explorer"], "https://basescan.org");
    assert_eq!(base["tokens"]["USDC"]["address"], "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913");
    assert_eq!(base["bundlerPriceLimit"], leash_sdk::bundler::DEFAULT_PRICE_LIMIT);
    // The configured network works without any override, with its own token table.
    let env = [("LEASH_RPC_URL", ""), ("LEASH_BUNDLER_URL", "")];
    cli.run_with(&["keystore", "create", "owner"], &[("LEASH_PASSWORD", OWNER_PASSWORD)])
        .await
        .ok();
    cli.run_with(&["account", "create", "main", "--owner", "owner"], &env).await.ok();
    cli.run_with(&["account", "fund", "main", "--token", "7 CASH"], &env).await.ok();
    let status = cli.run_with(&["--json", "account", "status", "main"], &env).await.ok().json();
    assert_eq!(status["network"], "local");
    assert_eq!(status["balances"][1]["symbol"], "CASH");
    assert_eq!(status["balances"][1]["amount"], "7");
    // An override replaces the URL; shown URLs keep scheme, host and port only.
    let shown = cli
        .run_with(
            &["--json", "network", "show"],
            &[("LEASH_RPC_URL", "https://rpc.example/v2/secret-api-key")],
        )
        .await
        .ok()
        .json();
    assert_eq!(shown["rpcUrl"], "https://rpc.example/…");
    assert_eq!(shown["bundlerPriceLimit"], 6);
    assert_eq!(shown["maxOperationCostWei"], "500000000000000000");
    // The built-in devnet is still there by name; a malformed file is an error with its line.
    let devnet_shown =
        cli.run(&["--json", "--network", "devnet", "network", "show"]).await.ok().json();
    assert_eq!(
        devnet_shown["module"].as_str().unwrap().parse::<Address>().unwrap(),
        d.session_key_validator
    );
    cli.write("networks.toml", "default = \"local\"\n[networks.local]\nchain_id = \"x\"\n");
    let bad = cli.run(&["network", "list"]).await;
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("networks.toml:3"), "{}", bad.stderr);
    // A price limit counts times the node's price: none at all would refuse every bundler.
    cli.write("networks.toml", "[networks.base]\nbundler_price_limit = 0\n");
    let bad = cli.run(&["network", "list"]).await;
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("bundler_price_limit of `base` is 0"), "{}", bad.stderr);
    for cost in ["5 USDC", "0 ETH", "lots"] {
        cli.write("networks.toml", &format!("[networks.base]\nmax_operation_cost = \"{cost}\"\n"));
        let bad = cli.run(&["network", "list"]).await;
        assert_eq!(bad.code, 2, "{cost}");
        assert!(bad.stderr.contains("max_operation_cost of `base`"), "{cost}: {}", bad.stderr);
    }
}

#[tokio::test]
async fn schema_and_completions() {
    let cli = Cli::new(String::new(), String::new());
    let schema = cli.run(&["schema"]).await.ok().json();
    let documented: Value = serde_json::from_str(include_str!("../../../docs/policy.schema.json"))
        .expect("the documented schema is JSON");
    assert_eq!(schema, documented, "docs/policy.schema.json is what `leash schema` prints");
    for shell in ["bash", "zsh", "fish"] {
        let script = cli.run(&["completions", shell]).await.ok();
        assert!(script.stdout.contains("keystore") && script.stdout.contains("session"), "{shell}");
    }
    let help = cli.run(&["--help"]).await.ok();
    assert!(help.stdout.contains("3 refused by the session's policy"), "{}", help.stdout);
}

/// `session create --chains` has the owner sign once for two networks; the session then pays on each, granting
/// itself there on its first operation, and is revoked on one without the other. On the second network the
/// account is not deployed beforehand: the networks name the staked front of the factory, so the session's first
/// operation deploys the account, grants the session and pays (ERC-7562 STO-022 needs the stake).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_owner_signature_grants_a_session_on_two_networks() {
    let Stack { devnet: alpha, cli, bundler: _alpha_bundler } = stack().await;
    let beta = Devnet::builder().chain_id(31_338).start().await.expect("the second devnet starts");
    let beta_bundler =
        leash_demo::start_bundler(&beta, SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await.unwrap();
    let mut config = String::from("default = \"alpha\"\n");
    for (name, devnet, bundler_url) in [
        ("alpha", &alpha, cli.bundler_url.clone()),
        ("beta", &beta, beta_bundler.url().to_string()),
    ] {
        let d = devnet.deployment().unwrap();
        config.push_str(&format!(
            r#"[networks.{name}]
chain_id = {}
rpc_url = "{}"
bundler_url = "{bundler_url}"
module = "{}"
factory = "{}"
tokens = {{ USDC = {{ address = "{}", decimals = 6 }} }}
"#,
            devnet.chain_id(),
            devnet.rpc_url(),
            d.session_key_validator,
            d.factory_staker,
            d.usdc
        ));
    }
    cli.write("networks.toml", &config);
    // The networks come from the file alone.
    let env = [("LEASH_RPC_URL", ""), ("LEASH_BUNDLER_URL", "")];
    cli.run_with(&["keystore", "create", "owner"], &[("LEASH_PASSWORD", OWNER_PASSWORD)])
        .await
        .ok();
    let account =
        cli.run_with(&["--json", "account", "create", "main", "--owner", "owner"], &env).await.ok();
    let address: Address = account.json()["address"].as_str().unwrap().parse().unwrap();
    for network in ["alpha", "beta"] {
        cli.run_with(
            &["-n", network, "account", "fund", "main", "--eth", "1 ETH", "--token", "100 USDC"],
            &env,
        )
        .await
        .ok();
    }
    cli.run_with(&["-n", "alpha", "account", "deploy", "main"], &env).await.ok();
    assert!(beta.provider().get_code_at(address).await.unwrap().is_empty());

    let policy = cli.write("pay.toml", POLICY);
    let created = cli
        .run_with(
            &[
                "--json",
                "session",
                "create",
                "shop",
                "--policy",
                policy.to_str().unwrap(),
                "--account",
                "main",
                "--chains",
                "alpha,beta",
            ],
            &env,
        )
        .await
        .ok()
        .json();
    assert_eq!(created["chains"], serde_json::json!([31337, 31338]));

    for (network, devnet, amount) in [("beta", &beta, "20 USDC"), ("alpha", &alpha, "30 USDC")] {
        let sent = cli
            .run_with(
                &[
                    "--json",
                    "-n",
                    network,
                    "session",
                    "send",
                    "shop",
                    "USDC",
                    PAY,
                    MERCHANT_TEXT,
                    amount,
                ],
                &env,
            )
            .await
            .ok()
            .json();
        assert_eq!(sent["granted"], true, "the first operation on {network} grants the session");
        assert!(!devnet.provider().get_code_at(address).await.unwrap().is_empty());
        let paid = usdc_balance(devnet, MERCHANT).await;
        let expected = amount.split(' ').next().unwrap().parse::<u64>().unwrap() * 1_000_000;
        assert_eq!(paid, U256::from(expected), "{network} paid once");
        assert_eq!(usdc_balance(devnet, address).await, U256::from(100_000_000 - expected));
    }

    // Revoked on beta by the owner; alpha's grant stands.
    cli.run_with(&["-n", "beta", "session", "revoke", "shop"], &env).await.ok();
    let refused = cli
        .run_with(
            &["-n", "beta", "session", "send", "shop", "USDC", PAY, MERCHANT_TEXT, "1 USDC"],
            &env,
        )
        .await;
    assert_eq!(refused.code, 3, "{}", refused.text());
    assert!(refused.text().contains("SessionIsRevoked"), "{}", refused.text());
    cli.run_with(
        &["-n", "alpha", "session", "send", "shop", "USDC", PAY, MERCHANT_TEXT, "1 USDC"],
        &env,
    )
    .await
    .ok();
    assert_eq!(usdc_balance(&alpha, MERCHANT).await, U256::from(31_000_000));
    assert_eq!(usdc_balance(&beta, MERCHANT).await, U256::from(20_000_000));
    // Revoked on beta only: removing it is refused, because it still acts on alpha.
    let removing = cli.run_with(&["-n", "beta", "session", "remove", "shop", "--yes"], &env).await;
    assert_eq!(removing.code, 2, "{}", removing.text());
    assert!(removing.stderr.contains("on chain 31337 and can still act"), "{}", removing.stderr);

    // A session granted on alpha only: naming beta is refused, not quietly sent on alpha.
    cli.run_with(
        &[
            "session",
            "create",
            "alpha-only",
            "--policy",
            policy.to_str().unwrap(),
            "--account",
            "main",
            "--chains",
            "alpha",
        ],
        &env,
    )
    .await
    .ok();
    let elsewhere = cli
        .run_with(
            &["-n", "beta", "session", "send", "alpha-only", "USDC", PAY, MERCHANT_TEXT, "1 USDC"],
            &env,
        )
        .await;
    assert_eq!(elsewhere.code, 2, "{}", elsewhere.text());
    assert!(elsewhere.stderr.contains("is not granted on `beta`"), "{}", elsewhere.stderr);
    assert_eq!(usdc_balance(&alpha, MERCHANT).await, U256::from(31_000_000), "nothing was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_listed_policies_checked_operations_shown_sessions_removed() {
    let Stack { devnet, cli, bundler: _bundler } = stack().await;
    cli.owner_and_account().await;

    let accounts = cli.run(&["--json", "account", "list"]).await.ok().json();
    assert_eq!(accounts[0]["name"], "main", "{accounts}");
    assert!(accounts[0]["address"].is_string() && accounts[0]["ownerKey"] == "owner", "{accounts}");

    // A policy checked without creating anything: its envelope and what to think twice about.
    let policy = cli.write("pay.toml", POLICY);
    let checked =
        cli.run(&["--json", "policy", "check", policy.to_str().unwrap()]).await.ok().json();
    assert_eq!(checked["valid"], true);
    assert!(
        checked["envelope"].to_string().contains("at most 150 USDC per calendar month"),
        "{checked}"
    );
    assert_eq!(checked["warnings"], serde_json::json!([]), "a bounded policy: {checked}");
    let open = cli.write(
        "open.toml",
        "version = 1\n[session]\nsudo = true\n[[action]]\ntarget = \"USDC\"\nfunction = \"transfer(address to, uint256 amount)\"\n",
    );
    let checked = cli.run(&["policy", "check", open.to_str().unwrap()]).await.ok();
    for warning in ["sudo", "no end", "no cap"] {
        assert!(checked.stdout.contains(warning), "{warning}: {}", checked.stdout);
    }
    let broken = cli.write("broken.toml", "version = 1\n[session]\nvalid_until = \"soon\"\n");
    let refused = cli.run(&["policy", "check", broken.to_str().unwrap()]).await;
    assert_eq!(refused.code, 2, "{}", refused.text());
    assert!(refused.stderr.contains("broken.toml"), "{}", refused.stderr);
    assert!(!cli.home().join("sessions").exists(), "checking creates nothing");

    // An operation sent is shown by its hash, with what this machine recorded.
    cli.run(&[
        "session",
        "create",
        "shop",
        "--policy",
        policy.to_str().unwrap(),
        "--account",
        "main",
    ])
    .await
    .ok();
    let sent = cli
        .run(&["--json", "session", "send", "shop", "USDC", PAY, MERCHANT_TEXT, "10 USDC"])
        .await
        .ok()
        .json();
    let hash = sent["userOpHash"].as_str().unwrap();
    let shown = cli.run(&["--json", "operation", "show", hash]).await.ok().json();
    assert_eq!(shown["status"], "included", "{shown}");
    assert_eq!(shown["success"], true, "{shown}");
    assert_eq!(shown["transactionHash"], sent["operation"]["transactionHash"], "{shown}");
    assert_eq!(shown["recorded"]["session"], "shop", "{shown}");
    assert_eq!(shown["recorded"]["state"], "landed", "{shown}");
    let unknown = format!("0x{}", "ab".repeat(32));
    let shown = cli.run(&["--json", "operation", "show", &unknown]).await.ok().json();
    assert_eq!(shown["status"], "unknown", "{shown}");
    assert_eq!(shown["recorded"], serde_json::Value::Null);
    assert_eq!(cli.run(&["operation", "show", "0x1234"]).await.code, 2);

    // A key file other users can read is named, with the fix.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = cli.home().join("keystores/owner.json");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let info = cli.run(&["keystore", "info", "owner"]).await.ok();
        assert!(info.stderr.contains("can be read by other users"), "{}", info.stderr);
        assert!(info.stderr.contains("chmod 600"), "{}", info.stderr);
    }

    // A session that can still act is not removed (only revoke --all could stop it then) unless forced; a
    // revoked one is, after confirmation.
    let live = cli.run(&["session", "remove", "shop", "--yes"]).await;
    assert_eq!(live.code, 2, "{}", live.text());
    assert!(
        live.stderr.contains("can still act") && live.stderr.contains("leash session revoke shop"),
        "{}",
        live.stderr
    );
    cli.run(&["session", "revoke", "shop"]).await.ok();
    let unconfirmed = cli.run(&["session", "remove", "shop"]).await;
    assert_eq!(unconfirmed.code, 2, "no terminal, no --yes: {}", unconfirmed.text());
    let removed = cli.run(&["--json", "session", "remove", "shop", "--yes"]).await.ok().json();
    assert_eq!(removed["removed"], "shop");
    assert_eq!(removed["state"], "revoked");
    let sessions = cli.run(&["--json", "session", "list"]).await.ok().json();
    assert_eq!(sessions, serde_json::json!([]));
    let audit = std::fs::read_to_string(cli.home().join("audit.jsonl")).unwrap();
    let actions: Vec<String> = audit
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["action"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        actions,
        [
            "session.create",
            "operation.send",
            "operation.landed",
            "session.revoke",
            "session.remove"
        ],
        "{audit}"
    );
    assert_eq!(usdc_balance(&devnet, MERCHANT).await, U256::from(10_000_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_while_waiting_names_the_operation_and_how_to_follow_it() {
    let Stack { devnet, cli, bundler: _bundler } = stack().await;
    cli.owner_and_account().await;
    cli.pay_session("shop", "main").await;
    // A second bundler on the same chain that holds what it accepts for an hour: the send waits until
    // interrupted.
    let key = devnet.dev_keys()[devnet.dev_keys().len() - 2].clone();
    let mut config = leash_bundler::BundlerConfig::new(devnet.rpc_url().clone(), key);
    config.bundle_delay = std::time::Duration::from_secs(3600);
    let holding = leash_bundler::LocalBundler::start(config).await.expect("the bundler starts");

    let mut send =
        cli.command(&["--json", "session", "send", "shop", "USDC", PAY, MERCHANT_TEXT, "10 USDC"]);
    send.env("LEASH_BUNDLER_URL", holding.url().as_str())
        .env("LEASH_LOG", "off")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = send.spawn().expect("leash runs");
    let mut stderr = tokio::io::BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    let hash = loop {
        let mut line = String::new();
        use tokio::io::AsyncBufReadExt;
        assert!(stderr.read_line(&mut line).await.unwrap() > 0, "leash ended early: {said}");
        said.push_str(&line);
        if let Some(rest) = line.strip_prefix("sent UserOperation ") {
            break rest.split(';').next().unwrap().to_owned();
        }
    };
    // The operation is with the bundler; interrupt the wait.
    let pid = child.id().expect("running").to_string();
    let killed = std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(killed.success());
    let output = child.wait_with_output().await.unwrap();
    let mut rest = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut rest).await.unwrap();
    assert_eq!(output.status.code(), Some(130), "{said}{rest}");
    let printed: Value =
        serde_json::from_slice(&output.stdout).expect("one JSON value on standard output");
    matches_schema("session-send-interrupted", &printed);
    assert_eq!(printed["userOpHash"], hash.as_str());
    assert!(rest.contains(&format!("UserOperation {hash} is with the bundler")), "{rest}");
    assert!(rest.contains(&format!("leash operation show {hash}")), "{rest}");
    // What was sent is recorded, as sent.
    let recorded: Value = serde_json::from_str(
        &std::fs::read_to_string(cli.home().join(format!("operations/{hash}.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(recorded["state"], "sent", "{recorded}");
    // And it can be followed: still pending with the bundler that holds it.
    let shown = cli
        .run_with(
            &["--json", "operation", "show", &hash],
            &[("LEASH_BUNDLER_URL", holding.url().as_str())],
        )
        .await
        .ok()
        .json();
    assert_eq!(shown["status"], "pending", "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_pipes_and_tls_to_a_plain_port_end_with_a_message_not_a_signal() {
    let devnet = Devnet::start().await.expect("the devnet starts");
    let cli = Cli::new(devnet.rpc_url().to_string(), devnet.rpc_url().to_string());
    cli.run_with(&["keystore", "create", "owner"], &[("LEASH_PASSWORD", OWNER_PASSWORD)])
        .await
        .ok();
    // `https://` to anvil's plain HTTP port: the TLS handshake fails, and that is a network failure (4) with a
    // message, not a process killed by SIGPIPE.
    let https = devnet.rpc_url().to_string().replacen("http://", "https://", 1);
    let run = cli
        .run_with(&["account", "create", "main", "--owner", "owner"], &[("LEASH_RPC_URL", &https)])
        .await;
    assert_eq!(run.code, 4, "{}", run.text());
    assert!(run.stderr.contains("cannot reach"), "{}", run.stderr);
    // Standard output is a pipe whose reader has gone away (`leash schema | head`, after head exits): every
    // write fails with a broken pipe, and leash ends quietly, without a panic.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut schema = cli.command(&["schema"]);
    schema.stdout(std::process::Stdio::from(writer)).stderr(std::process::Stdio::piped());
    let output = schema.output().await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_commands_json_matches_the_committed_schema() {
    let Stack { devnet: _devnet, cli, bundler: _bundler } = stack().await;
    let mut checked = std::collections::BTreeSet::new();
    let mut json = |command: &str, run: Run| {
        let value = run.json();
        matches_schema(command, &value);
        checked.insert(command.to_owned());
        value
    };
    let owner = [("LEASH_PASSWORD", OWNER_PASSWORD)];
    json(
        "keystore-create",
        cli.run_with(&["--json", "keystore", "create", "owner"], &owner).await.ok(),
    );
    json(
        "keystore-create",
        cli.run(&["--json", "keystore", "create", "passkey", "--kind", "webauthn"]).await.ok(),
    );
    let key_file = cli.write("key.hex", &format!("0x{}\n", "11".repeat(32)));
    json(
        "keystore-import",
        cli.run(&[
            "--json",
            "keystore",
            "import",
            "imported",
            "--private-key-file",
            key_file.to_str().unwrap(),
        ])
        .await
        .ok(),
    );
    json("keystore-list", cli.run(&["--json", "keystore", "list"]).await.ok());
    json("keystore-info", cli.run(&["--json", "keystore", "info", "owner"]).await.ok());
    json(
        "keystore-export",
        cli.run(&["--json", "keystore", "export", "imported", "--yes"]).await.ok(),
    );
    json(
        "keystore-remove",
        cli.run(&["--json", "keystore", "remove", "imported", "--yes"]).await.ok(),
    );

    let account = json(
        "account-create",
        cli.run(&["--json", "account", "create", "main", "--owner", "owner"]).await.ok(),
    );
    let address = account["address"].as_str().unwrap().to_owned();
    assert_eq!(address.parse::<Address>().unwrap().to_checksum(None), address, "checksummed");
    json("account-list", cli.run(&["--json", "account", "list"]).await.ok());
    json("account-info", cli.run(&["--json", "account", "info", "main"]).await.ok());
    json(
        "account-fund",
        cli.run(&["--json", "account", "fund", "main", "--eth", "1 ETH", "--token", "1000 USDC"])
            .await
            .ok(),
    );
    json("account-deploy", cli.run(&["--json", "account", "deploy", "main"]).await.ok());
    json("account-status", cli.run(&["--json", "account", "status", "main"]).await.ok());

    let policy = cli.write("pay.toml", POLICY);
    let policy = policy.to_str().unwrap();
    json("policy-check", cli.run(&["--json", "policy", "check", policy]).await.ok());
    json(
        "session-create",
        cli.run(&["--json", "session", "create", "shop", "--policy", policy, "--account", "main"])
            .await
            .ok(),
    );
    json("session-list", cli.run(&["--json", "session", "list"]).await.ok());
    json("session-info", cli.run(&["--json", "session", "info", "shop"]).await.ok());
    json("session-grant", cli.run(&["--json", "session", "grant", "shop"]).await.ok());
    json(
        "session-explain",
        cli.run(&["--json", "session", "explain", "shop", "USDC", PAY, MERCHANT_TEXT, "10 USDC"])
            .await
            .ok(),
    );
    let sent = json(
        "session-send",
        cli.run(&["--json", "session", "send", "shop", "USDC", PAY, MERCHANT_TEXT, "10 USDC"])
            .await
            .ok(),
    );
    json("session-status", cli.run(&["--json", "session", "status", "shop"]).await.ok());
    json(
        "operation-show",
        cli.run(&["--json", "operation", "show", sent["userOpHash"].as_str().unwrap()]).await.ok(),
    );
    json("network-list", cli.run(&["--json", "network", "list"]).await.ok());
    json("network-show", cli.run(&["--json", "network", "show"]).await.ok());
    json("session-revoke", cli.run(&["--json", "session", "revoke", "shop"]).await.ok());
    json(
        "session-revoke",
        cli.run(&["--json", "session", "revoke", "--all", "--account", "main"]).await.ok(),
    );
    json("session-remove", cli.run(&["--json", "session", "remove", "shop", "--yes"]).await.ok());

    // Failures print the error object, a policy refusal with the rule's fields.
    cli.run(&["session", "create", "again", "--policy", policy, "--account", "main"]).await.ok();
    let refused = cli
        .run(&["--json", "session", "explain", "again", "USDC", PAY, MERCHANT_TEXT, "101 USDC"])
        .await;
    assert_eq!(refused.code, 3, "{}", refused.text());
    json("error", Run { code: 0, ..refused });
    let unknown = cli.run(&["--json", "session", "info", "nope"]).await;
    assert_eq!(unknown.code, 2);
    json("error", Run { code: 0, ..unknown });

    // Every command the schema defines was run (`session-send-interrupted`, `deploy` and `network-check` have
    // their own tests).
    let schema: Value =
        serde_json::from_str(include_str!("../../../docs/schemas/cli.json")).unwrap();
    let defined: std::collections::BTreeSet<String> = schema["$defs"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|name| {
            name.contains('-')
                && !["session-send-interrupted", "network-check", "release-status"]
                    .contains(&name.as_str())
        })
        .cloned()
        .chain(["error".to_owned()])
        .collect();
    assert_eq!(checked, defined);
}

#[test]
fn the_schema_refuses_what_a_command_does_not_print() {
    let account = serde_json::json!({
        "name": "main",
        "address": "0x000d95E22040735c8909BcB12eB35bE758B06E30",
        "owner": "0x550F9A74b1042A9304C6eF509C19774D8666040A",
        "ownerKey": "owner",
        "factory": "0xc0E02d16Ba9A649925272dB717DF7b202830A072",
        "salt": format!("0x{}", "00".repeat(32)),
        "validators": []
    });
    assert!(schema_errors("account-info", &account).is_empty());
    let mut extra = account.clone();
    extra["surprise"] = serde_json::json!(1);
    assert!(!schema_errors("account-info", &extra).is_empty(), "an unknown field");
    let mut hex_amount = serde_json::json!({ "account": account["address"], "added": ["1 ETH"] });
    assert!(schema_errors("account-fund", &hex_amount).is_empty());
    hex_amount["account"] = serde_json::json!("main");
    assert!(!schema_errors("account-fund", &hex_amount).is_empty(), "not an address");
    let operation = serde_json::json!({
        "userOpHash": format!("0x{}", "ab".repeat(32)),
        "transactionHash": format!("0x{}", "cd".repeat(32)),
        "success": true,
        "gasCostWei": "0x1120d915c9c4",
        "gasUsed": "157563",
        "revertReason": null
    });
    let grant = serde_json::json!({ "session": "shop", "granted": true, "operation": operation });
    assert!(!schema_errors("session-grant", &grant).is_empty(), "a hex amount is refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_and_demo_json_match_the_committed_schema() {
    let cli = Cli::new(String::new(), String::new());
    // `leash devnet` prints once when the stack is up, then runs until stopped.
    let mut devnet = cli.command(&["--json", "devnet", "--port", "0", "--bundler-port", "0"]);
    devnet
        .env("LEASH_LOG", "off")
        .env_remove("LEASH_RPC_URL")
        .env_remove("LEASH_BUNDLER_URL")
        .stdout(std::process::Stdio::piped());
    let mut child = devnet.spawn().expect("leash devnet starts");
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap());
    let mut printed = String::new();
    loop {
        use tokio::io::AsyncBufReadExt;
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).await.unwrap() > 0, "leash devnet ended: {printed}");
        printed.push_str(&line);
        if line == "}\n" {
            break;
        }
    }
    child.kill().await.expect("the devnet stops");
    let value: Value = serde_json::from_str(&printed).expect("one JSON value");
    matches_schema("devnet", &value);

    let demo = cli
        .run_with(&["--json", "demo"], &[("LEASH_RPC_URL", ""), ("LEASH_BUNDLER_URL", "")])
        .await
        .ok();
    let value = demo.json();
    matches_schema("demo", &value);
    assert!(value["scenarios"].as_array().is_some_and(|s| !s.is_empty()), "{value}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leash_pay_pays_an_x402_endpoint_from_the_session_within_its_rules() {
    let Stack { devnet, cli, bundler: _bundler } = stack().await;
    cli.owner_and_account().await;
    let policy = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/policies/x402-payments.toml"),
    )
    .unwrap();
    let policy = cli.write("x402.toml", &policy);
    let policy = policy.to_str().unwrap();
    cli.run(&["session", "create", "buyer", "--policy", policy, "--account", "main"]).await.ok();
    cli.run(&["session", "grant", "buyer"]).await.ok();
    let answers = address!("416e737765727300000000000000000000000001");
    let url = x402_seller(&devnet, answers).await;

    let paid = cli
        .run(&["--json", "pay", &url, "--session", "buyer", "--max", "0.01 USDC"])
        .await
        .ok()
        .json();
    assert_eq!(paid["status"], 200, "{paid}");
    assert_eq!(paid["body"]["answer"], 42, "{paid}");
    assert_eq!(paid["payment"]["amount"], "10000", "{paid}");
    assert_eq!(paid["payment"]["amount_text"], "0.01 USDC", "{paid}");
    assert_eq!(paid["payment"]["settled"], true, "{paid}");
    assert_eq!(paid["payment"]["slot"], 0, "{paid}");
    assert_eq!(usdc_balance(&devnet, answers).await, U256::from(10_000u64));

    // People read the body on standard output and the payment on standard error.
    let text = cli.run(&["pay", &url, "--session", "buyer"]).await.ok();
    assert_eq!(text.stdout.trim(), r#"{"answer":42}"#);
    assert!(text.stderr.contains("paid 0.01 USDC to 0x416E7377"), "{}", text.stderr);

    // Over the caller's maximum: refused before signing (exit 3, the rule named); a maximum without a token is bad
    // input (exit 2).
    let capped =
        cli.run(&["--json", "pay", &url, "--session", "buyer", "--max", "0.005 USDC"]).await;
    assert_eq!(capped.code, 3, "{}", capped.text());
    assert_eq!(capped.json()["error"]["rule"], "MaxPerRequest");
    let bare = cli.run(&["pay", &url, "--session", "buyer", "--max", "5"]).await;
    assert_eq!(bare.code, 2, "{}", bare.text());
    assert!(bare.stderr.contains("write the most to pay in a token"), "{}", bare.stderr);
    assert_eq!(usdc_balance(&devnet, answers).await, U256::from(20_000u64), "two payments");
}
