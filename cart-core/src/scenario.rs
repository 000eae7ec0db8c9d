//! Replays scenario files: the executable form of the cart's contract.
//!
//! A scenario (see `shared/spec/cart-semantics.md`, "Scenario files") names replicas,
//! runs steps in order and states the carts expected at the end. Every delta, state
//! and context crosses between replicas as encoded bytes, decoded and checked on
//! arrival, exactly as it would over a network.
//!
//! Replica `i` of the file's `replicas` list gets the id whose bytes are `i + 1` in
//! big-endian order, so runs are reproducible and the list order is the tie-break
//! order (a later replica wins among concurrent attribute changes).
//!
//! Extensions used by the project's own scenarios (all optional):
//! `"name"` on add/set steps (the item's display name), the operation
//! `{"at": R, "op": "set_item_limit", "qty": N}`, and
//! `"expect_total": {R: "12.3"}`, the exact cart total of a replica, written as the
//! core writes decimals (no trailing zeros).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::{AttrPatch, CartState, CausalContext, OpError, Replica, ReplicaId};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    name: String,
    replicas: Vec<String>,
    steps: Vec<serde_json::Value>,
    #[serde(default)]
    expect: BTreeMap<String, BTreeMap<String, u64>>,
    #[serde(default)]
    expect_errors: Vec<usize>,
    #[serde(default)]
    identical: Vec<Vec<String>>,
    #[serde(default)]
    expect_total: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(untagged, deny_unknown_fields)]
enum Step {
    Op {
        at: String,
        op: String,
        #[serde(default)]
        item: Option<String>,
        #[serde(default)]
        qty: Option<i64>,
        #[serde(default)]
        unit_price: Option<String>,
        #[serde(default)]
        name: Option<String>,
    },
    Merge {
        merge: String,
        into: String,
    },
    Sync {
        sync: Vec<String>,
    },
    Deliver {
        deliver: Vec<usize>,
        into: String,
    },
}

/// A refused step.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct StepError {
    /// Index of the step in `steps`.
    pub step: usize,
    /// The field the error names.
    pub field: String,
    /// The whole message.
    pub message: String,
}

/// The outcome of one scenario file: one JSON line of the runner's output.
#[derive(Serialize, Clone, Debug)]
pub struct Report {
    /// The scenario's name (or the file's, when it could not be read).
    pub name: String,
    /// True when every expectation held.
    pub pass: bool,
    /// Each replica's visible cart at the end: item to quantity.
    pub replicas: BTreeMap<String, BTreeMap<String, u32>>,
    /// The steps that were refused.
    pub errors: Vec<StepError>,
    /// Each replica's canonical binary encoding size at the end.
    pub encoded_bytes: BTreeMap<String, usize>,
    /// Every expectation that did not hold, in words.
    pub failures: Vec<String>,
}

impl Report {
    /// A report for a file that could not be read or parsed.
    #[must_use]
    pub fn unreadable(name: &str, why: &str) -> Self {
        Self {
            name: name.to_owned(),
            pass: false,
            replicas: BTreeMap::new(),
            errors: Vec::new(),
            encoded_bytes: BTreeMap::new(),
            failures: vec![why.to_owned()],
        }
    }
}

/// Replays one scenario given as JSON text. `file` names it in messages.
#[must_use]
pub fn run(file: &str, json: &str) -> Report {
    run_with_states(file, json).0
}

/// Each replica's canonical binary encoding at the end of a scenario.
pub type FinalStates = BTreeMap<String, Vec<u8>>;

/// [`run`], and each replica's final encoding too, so that another build of the core
/// (the WebAssembly one) can be checked byte for byte against this one. Replica ids are
/// fixed by the order of `replicas`, so the bytes are the same on every run.
#[must_use]
pub fn run_with_states(file: &str, json: &str) -> (Report, FinalStates) {
    let scenario = match serde_json::from_str::<Scenario>(json) {
        Ok(scenario) => scenario,
        Err(e) => {
            return (
                Report::unreadable(file, &format!("{file}: not a valid scenario: {e}")),
                FinalStates::new(),
            );
        }
    };
    let mut steps = Vec::with_capacity(scenario.steps.len());
    for (index, step) in scenario.steps.iter().enumerate() {
        match serde_json::from_value::<Step>(step.clone()) {
            Ok(step) => steps.push(step),
            Err(_) => {
                let why = format!("{file}: step {index} is not one of the step forms of the spec: {step}");
                return (Report::unreadable(file, &why), FinalStates::new());
            }
        }
    }
    let names: BTreeSet<&String> = scenario.replicas.iter().collect();
    if names.len() != scenario.replicas.len() {
        return (
            Report::unreadable(file, &format!("{file}: a replica name is listed twice")),
            FinalStates::new(),
        );
    }
    Runner::new(&scenario).run(&scenario, &steps)
}

struct Runner {
    replicas: BTreeMap<String, Replica>,
    deltas: BTreeMap<usize, Vec<u8>>,
    errors: Vec<StepError>,
    failures: Vec<String>,
}

impl Runner {
    fn new(scenario: &Scenario) -> Self {
        let replicas = scenario
            .replicas
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let byte = u8::try_from(i).unwrap_or(u8::MAX).saturating_add(1);
                (name.clone(), Replica::with_id(ReplicaId::from_bytes([byte; 16])))
            })
            .collect();
        Self { replicas, deltas: BTreeMap::new(), errors: Vec::new(), failures: Vec::new() }
    }

    fn run(mut self, scenario: &Scenario, steps: &[Step]) -> (Report, FinalStates) {
        for (index, step) in steps.iter().enumerate() {
            if let Err(why) = self.step(index, step) {
                self.failures.push(format!("step {index}: {why}"));
            }
        }
        self.check(scenario);
        let replicas = self
            .replicas
            .iter()
            .map(|(name, r)| {
                let cart = r.state().lines().map(|l| (l.item.to_string(), l.quantity)).collect();
                (name.clone(), cart)
            })
            .collect();
        let states: FinalStates =
            self.replicas.iter().map(|(n, r)| (n.clone(), r.state().to_bytes())).collect();
        let encoded_bytes = states.iter().map(|(n, bytes)| (n.clone(), bytes.len())).collect();
        let report = Report {
            name: scenario.name.clone(),
            pass: self.failures.is_empty(),
            replicas,
            errors: self.errors,
            encoded_bytes,
            failures: self.failures,
        };
        (report, states)
    }

    fn replica(&mut self, name: &str) -> Result<&mut Replica, String> {
        self.replicas.get_mut(name).ok_or_else(|| format!("unknown replica {name:?}"))
    }

    fn step(&mut self, index: usize, step: &Step) -> Result<(), String> {
        match step {
            Step::Op { at, op, item, qty, unit_price, name } => {
                let mut patch = AttrPatch::new();
                patch.unit_price.clone_from(unit_price);
                patch.name.clone_from(name);
                let item = item.as_deref();
                let replica = self.replica(at)?;
                let outcome = match (op.as_str(), item, *qty) {
                    ("add", Some(i), Some(q)) => replica.add(i, q, &patch),
                    ("set", Some(i), Some(q)) => replica.set(i, q, &patch),
                    ("remove", Some(i), None) => replica.remove(i),
                    ("clear", None, None) => replica.clear(),
                    ("set_item_limit", None, Some(q)) => replica.set_item_limit(q),
                    _ => {
                        return Err(format!("operation {op:?} with these fields is not a known step form"));
                    }
                };
                match outcome {
                    Ok(delta) => {
                        self.deltas.insert(index, delta.to_bytes());
                    }
                    Err(OpError::Input(e)) => self.errors.push(StepError {
                        step: index,
                        field: e.field().to_owned(),
                        message: e.to_string(),
                    }),
                    Err(e) => return Err(e.to_string()),
                }
            }
            Step::Merge { merge, into } => {
                let bytes = self.replica(merge)?.state().to_bytes();
                let state = CartState::from_bytes(&bytes).map_err(|e| e.to_string())?;
                self.replica(into)?.join(&state);
            }
            Step::Sync { sync } => {
                let [a, b] = sync.as_slice() else {
                    return Err("sync names exactly two replicas".into());
                };
                self.sync_one_way(b, a)?;
                self.sync_one_way(a, b)?;
            }
            Step::Deliver { deliver, into } => {
                for i in deliver {
                    let bytes = self
                        .deltas
                        .get(i)
                        .cloned()
                        .ok_or_else(|| format!("step {i} made no delta to deliver"))?;
                    let delta = CartState::from_bytes(&bytes).map_err(|e| e.to_string())?;
                    self.replica(into)?.join(&delta);
                }
            }
        }
        Ok(())
    }

    /// `to` sends its context; `from` answers with what `to` lacks. Both as bytes.
    fn sync_one_way(&mut self, from: &str, to: &str) -> Result<(), String> {
        let request = self.replica(to)?.context().to_bytes();
        let context = CausalContext::from_bytes(&request).map_err(|e| e.to_string())?;
        let answer = self.replica(from)?.delta_since(&context).to_bytes();
        let delta = CartState::from_bytes(&answer).map_err(|e| e.to_string())?;
        self.replica(to)?.join(&delta);
        Ok(())
    }

    fn check(&mut self, scenario: &Scenario) {
        for (name, expected) in &scenario.expect {
            let Some(replica) = self.replicas.get(name) else {
                self.failures.push(format!("expect names unknown replica {name:?}"));
                continue;
            };
            let state = replica.state();
            let got: BTreeMap<String, u64> =
                state.lines().map(|l| (l.item.to_string(), u64::from(l.quantity))).collect();
            if got != *expected {
                self.failures.push(format!("{name}: expected cart {expected:?}, got {got:?}"));
            }
        }
        let refused: BTreeSet<usize> = self.errors.iter().map(|e| e.step).collect();
        let expected: BTreeSet<usize> = scenario.expect_errors.iter().copied().collect();
        if refused != expected {
            self.failures.push(format!("expected refused steps {expected:?}, got {refused:?}"));
        }
        for group in &scenario.identical {
            let encodings: Vec<(&String, Option<Vec<u8>>)> =
                group.iter().map(|n| (n, self.replicas.get(n).map(|r| r.state().to_bytes()))).collect();
            if let Some((first, bytes)) = encodings.first() {
                for (other, theirs) in encodings.iter().skip(1) {
                    if bytes.is_none() || theirs != bytes {
                        self.failures.push(format!("{first} and {other}: encodings differ"));
                    }
                }
            }
        }
        for (name, total) in &scenario.expect_total {
            let got = self.replicas.get(name).map(|r| r.state().total().to_string());
            if got.as_deref() != Some(total.as_str()) {
                self.failures.push(format!("{name}: expected total {total}, got {got:?}"));
            }
        }
    }
}
