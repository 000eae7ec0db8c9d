//! Property tests of the laws in `cart-semantics.md`, over generated operations and
//! delivery schedules (duplicated, reordered, lost then re-sent, delta and whole-state
//! paths mixed), with an independent oracle of the visible cart.
//!
//! The oracle knows nothing of dots stores or joins: it keeps every operation with
//! the set of events its replica had seen when it was made, and evaluates the spec's
//! rules directly: a write is alive unless some operation that saw it overwrote or
//! removed it; quantity = largest live set + every live add, capped at the limit.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

mod support;

use cart_core::{AttrPatch, CartState, CausalContext, Dot, OpError, Replica};
use proptest::prelude::*;
use support::{pair, replicas, wire};

const REPLICAS: usize = 3;
const ITEMS: [&str; 3] = ["itm_a", "itm_b", "itm_c"];

#[derive(Debug, Clone)]
enum Action {
    Add {
        at: usize,
        item: usize,
        qty: i64,
        price: Option<u8>,
    },
    Set {
        at: usize,
        item: usize,
        qty: i64,
        price: Option<u8>,
    },
    Remove {
        at: usize,
        item: usize,
    },
    Clear {
        at: usize,
    },
    Limit {
        at: usize,
        limit: i64,
    },
    /// The anti-entropy protocol, both ways.
    Sync {
        a: usize,
        b: usize,
    },
    /// One replica joins another's whole state.
    Merge {
        from: usize,
        into: usize,
    },
    /// A delta made earlier arrives (again, late, or for the first time).
    Deliver {
        delta: usize,
        into: usize,
    },
}

fn action() -> impl Strategy<Value = Action> {
    any_action(3)
}

/// Actions over causal channels only: anti-entropy and whole states.
fn causal_action() -> impl Strategy<Value = Action> {
    any_action(0)
}

fn any_action(deliver_weight: u32) -> impl Strategy<Value = Action> {
    let at = 0..REPLICAS;
    let item = 0..ITEMS.len();
    prop_oneof![
        4 => (at.clone(), item.clone(), 0_i64..6, proptest::option::of(0_u8..3))
            .prop_map(|(at, item, qty, price)| Action::Add { at, item, qty, price }),
        2 => (at.clone(), item.clone(), -1_i64..6, proptest::option::of(0_u8..3))
            .prop_map(|(at, item, qty, price)| Action::Set { at, item, qty, price }),
        2 => (at.clone(), item).prop_map(|(at, item)| Action::Remove { at, item }),
        1 => at.clone().prop_map(|at| Action::Clear { at }),
        1 => (at.clone(), 2_i64..8).prop_map(|(at, limit)| Action::Limit { at, limit }),
        2 => (at.clone(), at.clone()).prop_map(|(a, b)| Action::Sync { a, b }),
        2 => (at.clone(), at.clone()).prop_map(|(from, into)| Action::Merge { from, into }),
        deliver_weight => (any::<prop::sample::Index>(), at).prop_map(|(i, into)| Action::Deliver { delta: i.index(1000), into }),
    ]
}

/// One operation as the oracle remembers it.
#[derive(Debug, Clone)]
struct Event {
    dot: Dot,
    kind: Kind,
    /// Everything its replica had seen when it was made.
    seen: CausalContext,
}

#[derive(Debug, Clone)]
enum Kind {
    Add(usize, u32),
    Set(usize, u32),
    Remove(usize),
    Clear,
    Limit(u32),
}

/// The visible cart the spec's rules give for the events a replica has seen.
fn oracle(events: &[Event], known: &CausalContext) -> Vec<(String, u32)> {
    let seen: Vec<&Event> = events.iter().filter(|e| known.contains(&e.dot)).collect();
    let overwritten = |e: &Event, by: &dyn Fn(&Kind) -> bool| {
        seen.iter().any(|o| o.dot != e.dot && o.seen.contains(&e.dot) && by(&o.kind))
    };
    let limit = seen
        .iter()
        .filter_map(|e| match e.kind {
            Kind::Limit(l) if !overwritten(e, &|k| matches!(k, Kind::Limit(_))) => Some(l),
            _ => None,
        })
        .max()
        .unwrap_or(999);
    let mut cart = Vec::new();
    for (i, name) in ITEMS.iter().enumerate() {
        let ends_write =
            |k: &Kind| matches!(k, Kind::Set(j, _) | Kind::Remove(j) if *j == i) || matches!(k, Kind::Clear);
        let (mut live, mut max_set, mut adds) = (false, 0_u64, 0_u64);
        for e in &seen {
            match e.kind {
                Kind::Add(j, n) if j == i && !overwritten(e, &ends_write) => {
                    live = true;
                    adds += u64::from(n);
                }
                Kind::Set(j, n) if j == i && !overwritten(e, &ends_write) => {
                    live = true;
                    max_set = max_set.max(u64::from(n));
                }
                _ => {}
            }
        }
        if live {
            cart.push(((*name).to_owned(), u32::try_from((max_set + adds).min(u64::from(limit))).unwrap()));
        }
    }
    cart
}

struct World {
    /// False once a raw delta has been delivered: deltas that arrive out of causal
    /// order show what has arrived (a set whose earlier remove is still on its way
    /// may show an add the set overwrote) until anti-entropy brings the rest, so the
    /// oracle's view, which assumes causal delivery, is checked only while it holds
    /// and again after anti-entropy.
    causal: bool,
    replicas: Vec<Replica>,
    deltas: Vec<CartState>,
    events: Vec<Event>,
}

impl World {
    fn new() -> Self {
        Self { causal: true, replicas: replicas(REPLICAS as u8), deltas: Vec::new(), events: Vec::new() }
    }

    fn act(&mut self, action: &Action) {
        let price =
            |p: Option<u8>| p.map_or_else(AttrPatch::new, |p| AttrPatch::new().unit_price(format!("{p}.25")));
        match *action {
            Action::Add { at, item, qty, price: p } => {
                self.op(at, Kind::Add(item, qty as u32), |r| r.add(ITEMS[item], qty, &price(p)));
            }
            Action::Set { at, item, qty, price: p } => {
                let kind = if qty == 0 { Kind::Remove(item) } else { Kind::Set(item, qty as u32) };
                self.op(at, kind, |r| r.set(ITEMS[item], qty, &price(p)));
            }
            Action::Remove { at, item } => self.op(at, Kind::Remove(item), |r| r.remove(ITEMS[item])),
            Action::Clear { at } => self.op(at, Kind::Clear, Replica::clear),
            Action::Limit { at, limit } => {
                self.op(at, Kind::Limit(limit as u32), |r| r.set_item_limit(limit))
            }
            Action::Sync { a, b } => {
                if a != b {
                    let (x, y) = pair(&mut self.replicas, a, b);
                    check_delta_since_equals_state_join(x, y);
                    check_delta_since_equals_state_join(y, x);
                    support::sync(x, y);
                }
            }
            Action::Merge { from, into } => {
                let state = wire(self.replicas[from].state());
                self.replicas[into].join(&state);
            }
            Action::Deliver { delta, into } => {
                if !self.deltas.is_empty() {
                    self.causal = false;
                    let d = wire(&self.deltas[delta % self.deltas.len()]);
                    self.replicas[into].join(&d);
                }
            }
        }
    }

    /// Runs one operation, recording its event for the oracle and its delta for delivery.
    fn op(&mut self, at: usize, kind: Kind, f: impl FnOnce(&mut Replica) -> Result<CartState, OpError>) {
        let r = &mut self.replicas[at];
        let (seen, before, bytes) = (r.context().clone(), r.next_counter(), r.state().to_bytes());
        let outcome = f(r);
        let after = r.next_counter();
        match outcome {
            Ok(delta) if after > before => {
                assert!(after <= before + 2, "one dot per write");
                self.events.push(Event { dot: Dot::new(r.id(), before), kind, seen });
                self.deltas.push(delta);
            }
            Ok(delta) => {
                // Nothing to do (removing what is absent): no dot, no change, empty delta.
                assert_eq!(after, before);
                assert!(delta.is_empty());
                assert_eq!(r.state().to_bytes(), bytes);
            }
            Err(_) => {
                // Refused: nothing changed, no counter used.
                assert_eq!(after, before);
                assert_eq!(r.state().to_bytes(), bytes);
            }
        }
    }

    /// Every replica syncs with every other, twice over.
    fn sync_all(&mut self) {
        for _ in 0..2 {
            for i in 0..REPLICAS {
                for j in 0..REPLICAS {
                    if i != j {
                        let (a, b) = pair(&mut self.replicas, i, j);
                        support::sync(a, b);
                    }
                }
            }
        }
    }
}

/// L3 at one point: what `delta_since` sends equals joining the whole state.
fn check_delta_since_equals_state_join(to: &Replica, from: &Replica) {
    let mut by_delta = to.state().clone();
    by_delta.join(&wire(&from.delta_since(to.context())));
    let mut by_state = to.state().clone();
    by_state.join(from.state());
    assert_eq!(by_delta.to_bytes(), by_state.to_bytes(), "delta_since path differs from whole-state join");
}

fn bytes_of_join(a: &CartState, b: &CartState) -> Vec<u8> {
    let mut x = a.clone();
    x.join(b);
    x.to_bytes()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Every replica shows what the spec's rules give for the events it has seen, at
    /// every step; after anti-entropy all are byte-identical (L1) and equal to the join
    /// of every delta in any order (L3); decoding never changes a state.
    #[test]
    fn replicas_follow_the_rules_and_converge(actions in prop::collection::vec(action(), 1..60), seed in any::<u64>()) {
        let mut w = World::new();
        for a in &actions {
            w.act(a);
            for r in w.replicas.iter().filter(|_| w.causal) {
                prop_assert_eq!(support::cart(r.state()), oracle(&w.events, r.context()), "replica {}", r.id());
            }
        }
        w.sync_all();
        let bytes = w.replicas[0].state().to_bytes();
        for r in &w.replicas {
            prop_assert_eq!(support::cart(r.state()), oracle(&w.events, r.context()), "replica {}", r.id());
            prop_assert_eq!(&r.state().to_bytes(), &bytes);
            prop_assert_eq!(CartState::from_json(&r.state().to_json()).unwrap().to_bytes(), bytes.clone());
        }
        let mut order: Vec<usize> = (0..w.deltas.len()).collect();
        // A seeded shuffle with duplicates: every delta at least once, some twice.
        let mut s = seed | 1;
        for i in (1..order.len()).rev() {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            order.swap(i, (s % (i as u64 + 1)) as usize);
        }
        let dupes: Vec<usize> = order.iter().copied().step_by(3).collect();
        let mut from_deltas = CartState::new();
        let dbg_order = (order.clone(), dupes.clone());
        for i in order.into_iter().chain(dupes) {
            from_deltas.join(&wire(&w.deltas[i]));
        }
        if from_deltas.to_bytes() != bytes {
            eprintln!("ACTIONS {actions:?}\nORDER {dbg_order:?}");
            for d in &w.deltas { eprintln!("D {}", d.to_json()); }
            eprintln!("FINAL {}", w.replicas[0].state().to_json());
            eprintln!("FROMD {}", from_deltas.to_json());
        }
        prop_assert_eq!(from_deltas.to_bytes(), bytes);
        prop_assert_eq!(support::cart(&from_deltas), oracle(&w.events, from_deltas.context()));
    }

    /// Over causal channels every replica shows the spec's view at every step.
    #[test]
    fn causal_delivery_always_shows_the_rules(actions in prop::collection::vec(causal_action(), 1..80)) {
        let mut w = World::new();
        for a in &actions {
            w.act(a);
            for r in &w.replicas {
                prop_assert_eq!(support::cart(r.state()), oracle(&w.events, r.context()), "replica {}", r.id());
            }
        }
        prop_assert!(w.causal);
    }

    /// L2: join is commutative, associative and idempotent, on related states and deltas.
    #[test]
    fn join_is_a_semilattice(actions in prop::collection::vec(action(), 1..50), pick in any::<[prop::sample::Index; 3]>()) {
        let mut w = World::new();
        for a in &actions {
            w.act(a);
        }
        let mut pool: Vec<CartState> = w.replicas.iter().map(|r| r.state().clone()).collect();
        pool.extend(w.deltas.iter().cloned());
        let [a, b, c] = pick.map(|i| pool[i.index(pool.len())].clone());
        prop_assert_eq!(bytes_of_join(&a, &b), bytes_of_join(&b, &a));
        // join says whether it changed anything, exactly.
        let mut x = a.clone();
        let changed = x.join(&b);
        prop_assert_eq!(changed, x.to_bytes() != a.to_bytes());
        let mut ab = a.clone();
        ab.join(&b);
        let mut bc = b.clone();
        bc.join(&c);
        prop_assert_eq!(bytes_of_join(&ab, &c), bytes_of_join(&a, &bc));
        prop_assert_eq!(bytes_of_join(&a, &a), a.to_bytes());
        prop_assert_eq!(bytes_of_join(&ab, &a), ab.to_bytes());
    }
}

/// L6 in its plainest form: a later change first, the earlier ones after.
#[test]
fn gaps_do_not_block() {
    let mut rs = replicas(2);
    let d1 = rs[0].add("itm_a", 1, &AttrPatch::new()).unwrap();
    let d2 = rs[0].add("itm_b", 1, &AttrPatch::new()).unwrap();
    let d3 = rs[0].remove("itm_a").unwrap();
    rs[1].join(&d3);
    rs[1].join(&d2);
    assert_eq!(support::cart(rs[1].state()), vec![("itm_b".to_owned(), 1)]);
    rs[1].join(&d1);
    assert_eq!(rs[1].state().to_bytes(), rs[0].state().to_bytes());
}

#[test]
fn oracle_is_not_trivially_equal() {
    // The oracle must be able to disagree: an add that a set saw is not counted.
    let mut w = World::new();
    w.act(&Action::Add { at: 0, item: 0, qty: 2, price: None });
    w.act(&Action::Set { at: 0, item: 0, qty: 5, price: None });
    w.act(&Action::Add { at: 1, item: 0, qty: 1, price: None });
    w.act(&Action::Sync { a: 0, b: 1 });
    assert_eq!(oracle(&w.events, w.replicas[0].context()), vec![("itm_a".to_owned(), 6)]);
    let only_first = CausalContext::from_version_vector([(w.replicas[0].id(), 1)]).unwrap();
    assert_eq!(oracle(&w.events, &only_first), vec![("itm_a".to_owned(), 2)]);
}
