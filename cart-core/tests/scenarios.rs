//! Every scenario file, the spec's copies and the project's own, replayed through the
//! same runner as `cargo run --example scenario`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::path::{Path, PathBuf};

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

fn scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

#[test]
fn every_scenario_passes() {
    let mut count = 0;
    for dir in ["spec", "project"] {
        for file in files(&scenarios().join(dir)) {
            let text = std::fs::read_to_string(&file).unwrap();
            let report = cart_core::scenario::run(&file.display().to_string(), &text);
            assert!(report.pass, "{}: {:?}", file.display(), report.failures);
            count += 1;
        }
    }
    assert!(count >= 25, "only {count} scenario files found");
}

/// The spec's scenarios are kept as unchanged copies; this fails if they drift. It
/// is skipped only where `../shared` is not beside the checkout.
#[test]
fn spec_copies_match_shared() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/spec/scenarios");
    if !shared.exists() {
        eprintln!("skipped: {} is not present", shared.display());
        return;
    }
    let theirs = files(&shared);
    assert!(!theirs.is_empty());
    for file in theirs {
        let copy = scenarios().join("spec").join(file.file_name().unwrap());
        assert_eq!(
            std::fs::read(&copy).unwrap_or_default(),
            std::fs::read(&file).unwrap(),
            "{} differs from {}",
            copy.display(),
            file.display()
        );
    }
}

#[test]
fn a_failing_expectation_is_reported() {
    let text = r#"{"name": "wrong on purpose", "replicas": ["phone"],
        "steps": [{"at": "phone", "op": "add", "item": "itm_a", "qty": 1}],
        "expect": {"phone": {"itm_a": 2}}}"#;
    let report = cart_core::scenario::run("inline", text);
    assert!(!report.pass);
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
}

#[test]
fn unreadable_scenarios_are_failures_not_crashes() {
    for text in [
        "",
        "{",
        "[]",
        r#"{"name": "x"}"#,
        r#"{"name":"x","replicas":["a"],"steps":[{"at":"a","op":"add","item":"i","qty":1.5}]}"#,
    ] {
        let report = cart_core::scenario::run("bad.json", text);
        assert!(!report.pass);
        assert!(report.failures[0].contains("bad.json"), "{:?}", report.failures);
    }
    let misspelt = cart_core::scenario::run(
        "misspelt.json",
        r#"{"name":"x","replicas":["a"],"steps":[{"at":"a","op":"clear"},{"at":"a","op":"add","item":"i","quantity":1}]}"#,
    );
    assert!(misspelt.failures[0].contains("step 1"), "{:?}", misspelt.failures);
    let twice = cart_core::scenario::run("twice.json", r#"{"name":"x","replicas":["a","a"],"steps":[]}"#);
    assert!(twice.failures[0].contains("twice"), "{:?}", twice.failures);
    let report = cart_core::scenario::run(
        "unknown.json",
        r#"{"name":"x","replicas":["a"],"steps":[{"at":"b","op":"clear"},{"deliver":[7],"into":"a"},{"sync":["a"]}]}"#,
    );
    assert!(!report.pass);
    assert_eq!(report.failures.len(), 3, "{:?}", report.failures);
}
