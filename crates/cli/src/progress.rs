//! Visible progress on standard error while a command waits on the network (standard output stays clean for
//! the result and for `--json`).

use std::{
    future::Future,
    io::{IsTerminal, Write},
    time::{Duration, Instant},
};

/// Runs `work`, showing `label` and the seconds waited: a line redrawn in place on a terminal, one line when
/// standard error is a file or a pipe.
pub(crate) async fn while_waiting<T>(label: &str, work: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let terminal = std::io::stderr().is_terminal();
    if !terminal {
        eprintln!("{label}…");
        return work.await;
    }
    tokio::pin!(work);
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let result = loop {
        tokio::select! {
            result = &mut work => break result,
            _ = tick.tick() => {
                eprint!("\r{label}… {:.1} s", started.elapsed().as_secs_f64());
                let _ = std::io::stderr().flush();
            }
        }
    };
    eprint!("\r\x1b[2K");
    let _ = std::io::stderr().flush();
    result
}
