//! `leash serve` without a database URL: a PostgreSQL cluster of the data directory's own, with its key-encryption
//! key and admin token beside it, kept between runs.

use crate::cluster;

use cluster::GENESIS;
use leash_devnet::Devnet;
use serde_json::json;
use std::time::Duration;

/// Starts `leash serve` on `home` against the devnet; returns the process, its URL and what it printed.
async fn serve(
    home: &std::path::Path,
    devnet: &Devnet,
    bundler: &str,
) -> (tokio::process::Child, String, Vec<String>) {
    let mut command = cluster::leash_serve();
    command
        .args(["--network", "devnet", "--listen", "127.0.0.1:0"])
        .env("LEASH_HOME", home)
        .env("LEASH_RPC_URL", devnet.rpc_url().as_str())
        .env("LEASH_BUNDLER_URL", bundler)
        .env_remove("LEASH_DATABASE_URL")
        .env_remove("LEASH_KEK")
        .env_remove("LEASH_ADMIN_TOKEN");
    let (child, url, mut said, mut lines) = cluster::listening(command).await;
    // Then where the admin token is, or the token itself the first time.
    let next = tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await;
    said.extend(next.ok().and_then(|l| l.ok().flatten()));
    (child, url, said)
}

/// Stops it as Ctrl-C does, so that it stops its database cleanly.
async fn stop(mut child: tokio::process::Child) {
    unsafe {
        libc::kill(child.id().unwrap() as libc::pid_t, libc::SIGINT);
    }
    tokio::time::timeout(Duration::from_secs(60), child.wait()).await.expect("it stops").unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_database_url_the_service_keeps_its_state_between_runs() {
    let devnet =
        Devnet::builder().arg("--timestamp").arg(GENESIS.to_string()).start().await.unwrap();
    let key = devnet.dev_keys().last().unwrap().clone();
    let bundler = leash_bundler::LocalBundler::start(leash_bundler::BundlerConfig::new(
        devnet.rpc_url().clone(),
        key,
    ))
    .await
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    let _cluster =
        Removed(leash_service::postgres::LocalPostgres::default_dir(&home.path().join("serve")));
    let client = cluster::Client::default();

    let (first, url, said) = serve(home.path(), &devnet, bundler.url().as_str()).await;
    let token = said
        .iter()
        .find_map(|l| l.strip_prefix("admin token (shown once): "))
        .expect("the first run shows the admin token once")
        .to_owned();
    let said = said.join("\n");
    assert!(said.contains("kept between runs"), "{said}");
    client.ok(&url, "POST", "/v1/tenants", &token, Some(json!({ "name": "acme" }))).await;
    stop(first).await;

    // Its key-encryption key and admin token are files only their owner reads.
    use std::os::unix::fs::PermissionsExt;
    for file in ["kek", "admin-token"] {
        let mode =
            std::fs::metadata(home.path().join("serve").join(file)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }

    // The second run finds the tenant, and does not show the token again.
    let (second, url, said) = serve(home.path(), &devnet, bundler.url().as_str()).await;
    assert!(!said.iter().any(|l| l.contains(&token)), "the token is shown once: {said:?}");
    let tenants = client.ok(&url, "GET", "/v1/tenants", &token, None).await;
    assert_eq!(tenants["tenants"], json!(["acme"]));
    stop(second).await;
}

/// Under root the cluster lives outside the data directory: removed with the test's, whatever happens.
struct Removed(std::path::PathBuf);

impl Drop for Removed {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_token_or_database_is_named_with_what_to_do_and_no_secret_is_shown() {
    let devnet = Devnet::builder().start().await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let token = home.path().join("admin");
    let short = home.path().join("short");
    let kek = "ab".repeat(32);
    std::fs::write(&token, format!("leash_admin_{}", "7".repeat(40))).unwrap();
    std::fs::write(&short, "leash_admin_short").unwrap();
    use std::os::unix::fs::PermissionsExt;
    for file in [&token, &short] {
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    // The database URL carries a password that must not be shown, on a port where nothing listens.
    let database = "postgres://leash:s3cret-pw@127.0.0.1:1/leash";
    let run = |kek: Option<&str>, token: &std::path::Path| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_leash"));
        command
            .args([
                "serve",
                "--network",
                "devnet",
                "--database-url",
                database,
                "--admin-token-file",
            ])
            .arg(token)
            .env("LEASH_HOME", home.path())
            .env("LEASH_RPC_URL", devnet.rpc_url().as_str())
            .env_remove("LEASH_KEK")
            .env_remove("LEASH_ADMIN_TOKEN");
        if let Some(kek) = kek {
            command.env("LEASH_KEK", kek);
        }
        let output = command.output().unwrap();
        (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
    };
    let cases: [(&str, Option<&str>, &std::path::Path, i32, &str); 4] = [
        ("no key-encryption key", None, &token, 2, "openssl rand -hex 32"),
        ("a key-encryption key too short", Some("1234"), &token, 2, "64 hex digits"),
        ("an admin token too short", Some(&kek), &short, 2, "echo leash_admin_"),
        ("a database nobody answers", Some(&kek), &token, 4, "127.0.0.1:1"),
    ];
    for (what, kek_text, token_file, code, hint) in cases {
        let (status, said) = run(kek_text, token_file);
        assert_eq!(status, Some(code), "{what}: {said}");
        assert!(said.contains(hint), "{what}: `{hint}` not in {said}");
        for secret in ["s3cret-pw", "1234", &kek, &"7".repeat(40)] {
            assert!(!said.contains(secret), "{what}: a secret in {said}");
        }
    }
    // An admin token file others can read is refused.
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (status, said) = run(Some(&kek), &token);
    assert_eq!(status, Some(2), "{said}");
    assert!(said.contains("chmod 600"), "{said}");
}
