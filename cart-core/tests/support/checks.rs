//! Checks shared by the fuzz targets and the crasher replay test: each takes raw
//! bytes, must never panic, and asserts the properties that hold for any input.

use cart_core::{AttrPatch, CartState, CausalContext, Replica, ReplicaId};

/// Every decoder on arbitrary bytes: an error or a value that re-encodes to bytes
/// which decode to the same value (canonical form).
pub fn decode_anything(data: &[u8]) {
    if let Ok(state) = CartState::from_bytes(data) {
        let again = CartState::from_bytes(&state.to_bytes()).expect("re-encoded state decodes");
        assert_eq!(again, state);
        assert_eq!(again.to_bytes(), state.to_bytes());
        let json = CartState::from_json(&state.to_json()).expect("JSON form decodes");
        assert_eq!(json.to_bytes(), state.to_bytes());
        // Joining a decoded state never fails and keeps the laws.
        let mut a = CartState::new();
        a.join(&state);
        a.join(&state);
        assert_eq!(a.to_bytes(), state.to_bytes());
    }
    if let Ok(ctx) = CausalContext::from_bytes(data) {
        assert_eq!(CausalContext::from_bytes(&ctx.to_bytes()).expect("re-encoded context decodes"), ctx);
    }
    if let Ok(replica) = Replica::from_bytes(data) {
        let again = Replica::from_bytes(&replica.to_bytes()).expect("re-encoded replica decodes");
        assert_eq!(again.state(), replica.state());
        assert!(again.next_counter() > again.state().context().max_counter(&again.id()));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(state) = CartState::from_json(text) {
            assert_eq!(CartState::from_bytes(&state.to_bytes()).expect("decodes"), state);
        }
    }
}

/// Interprets bytes as operations and merges among three replicas, then syncs them
/// all: they must converge to identical bytes, and equal the join of every delta.
pub fn operations_converge(data: &[u8]) {
    let mut replicas: Vec<Replica> =
        (1..=3).map(|i| Replica::with_id(ReplicaId::from_bytes([i; 16]))).collect();
    let mut deltas: Vec<CartState> = Vec::new();
    let items = ["itm_a", "itm_b", "itm_c"];
    for chunk in data.chunks(3) {
        let [op, arg, extra] = [0, 1, 2].map(|i| chunk.get(i).copied().unwrap_or(0));
        let at = usize::from(arg % 3);
        let item = items[usize::from(arg / 3 % 3)];
        let qty = i64::from(extra % 7) - 1;
        let patch = if extra & 0x80 != 0 {
            AttrPatch::new().unit_price(format!("{}.5", extra % 5))
        } else {
            AttrPatch::new()
        };
        let r = &mut replicas[at];
        let outcome = match op % 8 {
            0 | 1 => r.add(item, qty, &patch),
            2 => r.set(item, qty, &patch),
            3 => r.remove(item),
            4 => r.clear(),
            5 => {
                let other = usize::from(extra % 3);
                if other != at {
                    let (a, b) = super::pair(&mut replicas, at, other);
                    super::sync(a, b);
                }
                continue;
            }
            6 => {
                let from = usize::from(extra % 3);
                let state = replicas[from].state().clone();
                replicas[at].join(&state);
                continue;
            }
            _ => {
                if let Some(d) = deltas.get(usize::from(extra) % deltas.len().max(1)).cloned() {
                    replicas[at].join(&d);
                }
                continue;
            }
        };
        if let Ok(delta) = outcome {
            deltas.push(delta);
        }
    }
    for _ in 0..2 {
        for i in 0..3 {
            for j in 0..3 {
                if i != j {
                    let (a, b) = super::pair(&mut replicas, i, j);
                    super::sync(a, b);
                }
            }
        }
    }
    let bytes = replicas[0].state().to_bytes();
    for r in &replicas {
        assert_eq!(r.state().to_bytes(), bytes, "replicas diverged");
    }
    let mut from_deltas = CartState::new();
    for d in deltas.iter().rev() {
        from_deltas.join(d);
    }
    assert_eq!(from_deltas.to_bytes(), bytes, "the join of all deltas differs from the synced state");
}
