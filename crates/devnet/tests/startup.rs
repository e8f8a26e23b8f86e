//! Start-up: the stack is deployed where the deployment says, and start-up is quick.

use std::time::Instant;

use leash_devnet::Devnet;

#[tokio::test]
async fn timing() {
    for _ in 0..5 {
        let t = Instant::now();
        let devnet = Devnet::start().await.expect("starts");
        let up = t.elapsed();
        let t = Instant::now();
        drop(devnet);
        eprintln!("start {up:?} drop {:?}", t.elapsed());
    }
}
