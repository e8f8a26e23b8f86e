//! How long a devnet takes to start, deployment included. Run with `--nocapture` to see the figures;
//! `cargo test --release` shows what a release build of the tests gets.

use std::time::{Duration, Instant};

use leash_devnet::Devnet;

#[tokio::test]
async fn a_devnet_starts_in_well_under_a_second() {
    const RUNS: u32 = 5;
    let mut total = Duration::ZERO;
    let mut slowest = Duration::ZERO;
    for _ in 0..RUNS {
        let started = Instant::now();
        let devnet = Devnet::start().await.expect("the devnet starts");
        let took = started.elapsed();
        assert!(devnet.deployment().is_some());
        let stopping = Instant::now();
        drop(devnet);
        eprintln!("start {took:?}, stop {:?}", stopping.elapsed());
        total += took;
        slowest = slowest.max(took);
    }
    eprintln!("mean start {:?}, slowest {slowest:?}", total / RUNS);
    // Generous, so a loaded machine does not fail it; the figures above are what matters.
    assert!(slowest < Duration::from_secs(10), "a start took {slowest:?}");
}
