//! The scenario runner: `cargo run -q -p cart-core --example scenario -- FILE...`
//!
//! Prints one JSON line per file and exits 0 only when every file passes.

use std::process::ExitCode;

use cart_core::scenario::{Report, run};

fn main() -> ExitCode {
    let files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() {
        eprintln!("usage: scenario FILE...");
        return ExitCode::from(2);
    }
    let mut all_pass = true;
    for file in &files {
        let report = match std::fs::read_to_string(file) {
            Ok(text) => run(file, &text),
            Err(e) => Report::unreadable(file, &format!("cannot read {file}: {e}")),
        };
        all_pass &= report.pass;
        match serde_json::to_string(&report) {
            Ok(line) => println!("{line}"),
            Err(e) => {
                eprintln!("cannot print the report for {file}: {e}");
                all_pass = false;
            }
        }
    }
    if all_pass { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
