//! `leash serve` without a database URL: a PostgreSQL cluster of the data directory's own, with its key-encryption
//! key and admin token beside it, kept between runs.

#[path = "support/cluster.rs"]
mod cluster;

use cluster::GENESIS;
use leash_devnet::Devnet;
use serde_json::json;
use std::{process::Stdio, time::Duration};
use tokio::io::{AsyncBufReadExt, BufReader};

/// Starts `leash serve` on `home` against the devnet; returns the process, its URL and what it printed.
async fn serve(
    home: &std::path::Path,
    devnet: &Devnet,
    bundler: &str,
) -> (tokio::process::Child, String, Vec<String>) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_leash"))
        .args(["serve", "--network", "devnet", "--listen", "127.0.0.1:0"])
        .env("LEASH_HOME", home)
        .env("LEASH_RPC_URL", devnet.rpc_url().as_str())
        .env("LEASH_BUNDLER_URL", bundler)
        .env_remove("LEASH_DATABASE_URL")
        .env_remove("LEASH_KEK")
        .env_remove("LEASH_ADMIN_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("leash serve starts");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut said = Vec::new();
    loop {
        let line = tokio::time::timeout(Duration::from_secs(120), lines.next_line())
            .await
            .expect("leash serve says where it listens")
            .unwrap()
            .unwrap_or_else(|| panic!("leash serve exited: {said:?}"));
        said.push(line.clone());
        if let Some(rest) = line.strip_prefix("leash serve listening on ") {
            let url = rest.split_whitespace().next().unwrap().to_owned();
            // Then where the admin token is, or the token itself the first time.
            let next = tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await;
            said.extend(next.ok().and_then(|l| l.ok().flatten()));
            return (child, url, said);
        }
    }
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
