//! `leash demo`: the seed scenarios, shown step by step as they run.

use leash_demo::scenarios::{self, Outcome, Progress, Scenario, Step};
use std::{
    io::{IsTerminal, Write},
    sync::Mutex,
    time::Instant,
};

/// Runs the demo; with `json`, the report goes to standard output as JSON and progress to standard error.
pub(crate) async fn run(json: bool) -> Result<(), String> {
    let started = Instant::now();
    let printer = Printer::new(json);
    let report =
        scenarios::run_all(&printer).await.map_err(|e| format!("the demo stopped: {e}"))?;
    printer.clear_waiting();
    let seconds = started.elapsed().as_secs_f64();
    if json {
        let mut out = serde_json::json!({ "scenarios": report, "seconds": seconds });
        leash_sdk::report::checksum_addresses(&mut out);
        println!("{}", serde_json::to_string_pretty(&out).expect("JSON"));
    } else {
        summary(&report, seconds);
    }
    Ok(())
}

fn summary(report: &[Scenario], seconds: f64) {
    let (mut landed, mut paid, mut rejected) = (0, 0, 0);
    for step in report.iter().flat_map(|s| &s.steps) {
        match step.outcome {
            Outcome::Landed { .. } => landed += 1,
            Outcome::Rejected { .. } => rejected += 1,
            Outcome::Paid { .. } => paid += 1,
            Outcome::Done { .. } => {}
        }
    }
    println!();
    println!(
        "{} scenarios in {seconds:.1} s: {landed} operations landed, {paid} x402 payments settled, {rejected} refused by policy (each refused before signing, and again on chain when signed anyway: by the module in the bundler's simulation, or by the token that asks the account).",
        report.len()
    );
}

/// Prints each step as it happens: to standard output for people, to standard error with `--json`.
struct Printer {
    json: bool,
    terminal: bool,
    waiting: Mutex<bool>,
}

impl Printer {
    fn new(json: bool) -> Self {
        Self { json, terminal: std::io::stderr().is_terminal(), waiting: Mutex::new(false) }
    }

    fn line(&self, text: &str) {
        self.clear_waiting();
        if self.json {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    }

    fn clear_waiting(&self) {
        let mut waiting = self.waiting.lock().expect("printer lock");
        if *waiting {
            eprint!("\r\x1b[2K");
            *waiting = false;
        }
    }
}

impl Progress for Printer {
    fn started(&self, _scenario: &str, title: &str) {
        self.line("");
        self.line(&format!("▸ {title}"));
    }

    fn step(&self, _scenario: &str, step: &Step) {
        match &step.outcome {
            Outcome::Landed { transaction_hash, gas_used, .. } => self.line(&format!(
                "  ✓ {}  (landed in {transaction_hash:#.8}, {gas_used} gas)",
                step.attempted
            )),
            Outcome::Rejected { rule, preflight, enforced_by } => {
                let rule = rule.as_deref().unwrap_or("refused");
                self.line(&format!("  ✗ {}  → {rule}", step.attempted));
                self.line(&format!("      pre-flight:    {preflight}"));
                self.line(&format!("      signed anyway: {enforced_by}"));
            }
            Outcome::Paid { amount, to, transaction } => self.line(&format!(
                "  ✓ {}  (paid {amount} to {to:#}, settled in {})",
                step.attempted,
                transaction.get(..10).unwrap_or(transaction)
            )),
            Outcome::Done { detail } => self.line(&format!("  · {}  ({detail})", step.attempted)),
        }
    }

    fn waiting(&self, what: &str) {
        if !self.terminal {
            return;
        }
        let mut waiting = self.waiting.lock().expect("printer lock");
        eprint!("\r\x1b[2K  … {what}");
        let _ = std::io::stderr().flush();
        *waiting = true;
    }
}
