//! anvil never outlives its devnet: dropping the devnet stops it, and (on Linux) so does the death of the
//! process that started it, even by SIGKILL.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use alloy::providers::{Provider, ProviderBuilder};
use leash_devnet::Devnet;

/// Set in the child process of [`anvil_dies_with_the_process_that_started_it`].
const CHILD_ENV: &str = "LEASH_DEVNET_TEST_CHILD";

/// Whether `pid` is a live process (a zombie waiting to be reaped counts as dead).
fn is_running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name: `1234 (anvil) S ...`.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| !matches!(state, 'Z' | 'X' | 'x')),
        Err(_) => false,
    }
}

fn wait_until_gone(pid: u32, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if !is_running(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    !is_running(pid)
}

#[tokio::test]
async fn drop_stops_anvil() {
    let devnet = Devnet::start().await.expect("the devnet starts");
    let pid = devnet.pid();
    assert!(is_running(pid), "anvil runs while the devnet lives");
    drop(devnet);
    // Drop waits for anvil to exit, so it is gone right away.
    assert!(!is_running(pid), "anvil {pid} still runs after the devnet was dropped");
}

#[test]
fn a_devnet_outlives_the_thread_that_started_it() {
    let devnet = std::thread::spawn(|| {
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        runtime.block_on(Devnet::start()).expect("the devnet starts")
    })
    .join()
    .expect("the starting thread does not panic");
    // The thread is gone; anvil must not have gone with it.
    std::thread::sleep(Duration::from_millis(200));
    assert!(is_running(devnet.pid()), "anvil died with the thread that started it");

    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let chain_id = runtime.block_on(async {
        let provider = ProviderBuilder::new().connect_http(devnet.rpc_url().clone());
        provider.get_chain_id().await.expect("anvil answers")
    });
    assert_eq!(chain_id, devnet.chain_id());
}

/// Run as a child by [`anvil_dies_with_the_process_that_started_it`]: starts a devnet, prints anvil's pid
/// and waits to be killed. Without [`CHILD_ENV`] it does nothing.
#[tokio::test]
// The parent test reads the pid from this child's standard output.
#[allow(clippy::disallowed_macros)]
async fn child_holds_a_devnet() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let devnet = Devnet::start().await.expect("the devnet starts");
    println!("ANVIL_PID={}", devnet.pid());
    tokio::time::sleep(Duration::from_secs(120)).await;
}

#[cfg(target_os = "linux")]
#[test]
fn anvil_dies_with_the_process_that_started_it() {
    let test_binary = std::env::current_exe().expect("the test binary's path");
    let mut child = Command::new(test_binary)
        .args(["--exact", "lifetime::child_holds_a_devnet", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the child test process starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let anvil_pid = BufReader::new(stdout).lines().map_while(Result::ok).find_map(|line| {
        line.split_once("ANVIL_PID=").and_then(|(_, pid)| pid.trim().parse::<u32>().ok())
    });
    let Some(anvil_pid) = anvil_pid else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the child never reported anvil's pid");
    };
    assert!(is_running(anvil_pid), "anvil runs while its parent lives");

    // SIGKILL: no destructor runs in the child, only the kernel can stop anvil now.
    child.kill().expect("SIGKILL the child");
    child.wait().expect("reap the child");
    assert!(
        wait_until_gone(anvil_pid, Duration::from_secs(5)),
        "anvil {anvil_pid} outlived its parent"
    );
}
