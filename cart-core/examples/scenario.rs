//! The scenario runner: `cargo run -q -p cart-core --example scenario -- FILE...`
//!
//! Prints one JSON line per file and exits 0 only when every file passes. With
//! `--with-states` first, each line also carries `states`: every replica's final
//! canonical encoding in hex, which the WebAssembly build's test compares byte for byte.

use std::process::ExitCode;

use cart_core::scenario::{FinalStates, Report, run_with_states};

fn main() -> ExitCode {
    let mut files: Vec<String> = std::env::args().skip(1).collect();
    let with_states = files.first().is_some_and(|f| f == "--with-states");
    if with_states {
        files.remove(0);
    }
    if files.is_empty() {
        eprintln!("usage: scenario [--with-states] FILE...");
        return ExitCode::from(2);
    }
    let mut all_pass = true;
    for file in &files {
        let (report, states) = match std::fs::read_to_string(file) {
            Ok(text) => run_with_states(file, &text),
            Err(e) => (Report::unreadable(file, &format!("cannot read {file}: {e}")), FinalStates::new()),
        };
        all_pass &= report.pass;
        match line(&report, with_states.then_some(&states)) {
            Ok(line) => println!("{line}"),
            Err(e) => {
                eprintln!("cannot print the report for {file}: {e}");
                all_pass = false;
            }
        }
    }
    if all_pass { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn line(report: &Report, states: Option<&FinalStates>) -> serde_json::Result<String> {
    let mut value = serde_json::to_value(report)?;
    if let (Some(states), Some(object)) = (states, value.as_object_mut()) {
        let hex: serde_json::Map<String, serde_json::Value> = states
            .iter()
            .map(|(name, bytes)| {
                (name.clone(), bytes.iter().map(|b| format!("{b:02x}")).collect::<String>().into())
            })
            .collect();
        object.insert("states".to_owned(), hex.into());
    }
    serde_json::to_string(&value)
}
