//! The replicated state of one cart, and its join.
//!
//! A [`CartState`] is a causal context plus dot stores: for each item, the writes
//! (a quantity and the item's attributes) that are still alive, each under the dot of
//! the change that made it. A dot in the context but in no store was removed. That one rule is the
//! whole merge: the phone's remove of the shirt deletes only the dots the phone had seen,
//! so the laptop's concurrent add (a dot the phone never saw) survives.
//!
//! A delta is a `CartState` too, usually tiny; joining it is the same operation as
//! joining a whole state, which is what makes delta sync and state sync agree (law L3).

use std::collections::BTreeMap;
use std::sync::Arc;

use rust_decimal::Decimal;

use crate::context::CausalContext;
use crate::dot::Dot;
use crate::input::{DEFAULT_ITEM_LIMIT, ItemAttrs, ItemId};

/// The quantity part of a write, alive until an operation that saw it overwrites or
/// removes it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum QtyWrite {
    /// "Add to cart": adds this many on top of whatever else is alive.
    Add(u32),
    /// "Set quantity": this many, replacing every write its replica had seen.
    Set(u32),
}

/// One write of an item, under one dot: a quantity, and the attributes the item had
/// at the writer when it was made (with any the write changed).
///
/// Every live write carries its item's attributes, so no removal elsewhere can leave
/// an item in the cart without its price.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Write {
    /// The quantity written.
    pub qty: QtyWrite,
    /// A logical version of the attributes, not a clock: a write that changes them takes
    /// one more than the largest version among the writes it saw; a write that keeps
    /// them keeps their version. A causally later change therefore always has a larger
    /// version, and a write that merely carried old attributes along never beats it.
    pub version: u64,
    /// The attributes.
    pub attrs: Arc<ItemAttrs>,
}

/// The live writes of one item. Never empty in a valid state: an item without writes is gone.
#[derive(Clone, Default, PartialEq, Eq, Hash, Debug)]
pub struct ItemState {
    pub(crate) writes: BTreeMap<Dot, Write>,
}

impl ItemState {
    /// The quantity the rules of the cart give, before the per-item limit: the largest
    /// live `set`, plus every live `add`.
    #[must_use]
    pub fn raw_quantity(&self) -> u64 {
        let (mut max_set, mut adds) = (0_u64, 0_u64);
        for write in self.writes.values() {
            match write.qty {
                QtyWrite::Set(n) => max_set = max_set.max(u64::from(n)),
                QtyWrite::Add(n) => adds = adds.saturating_add(u64::from(n)),
            }
        }
        max_set.saturating_add(adds)
    }

    /// The write whose attributes the item shows: the largest version; among equal
    /// versions (concurrent changes), the greatest replica id. No clock is consulted.
    #[must_use]
    pub fn latest(&self) -> Option<(&Dot, &Write)> {
        self.writes.iter().max_by(|(d1, w1), (d2, w2)| (w1.version, *d1).cmp(&(w2.version, *d2)))
    }

    /// The attributes the item shows.
    #[must_use]
    pub fn attrs(&self) -> Option<&ItemAttrs> {
        self.latest().map(|(_, w)| w.attrs.as_ref())
    }

    /// The live writes, by dot.
    pub fn writes(&self) -> impl Iterator<Item = (&Dot, &Write)> + '_ {
        self.writes.iter()
    }

    /// Every live dot of the item.
    pub(crate) fn dots(&self) -> impl Iterator<Item = &Dot> + '_ {
        self.writes.keys()
    }
}

/// The replicated state of one cart (or a delta of it). See the module docs.
///
/// Every `CartState` is valid: the only ways to get one are the operations of a
/// [`Replica`](crate::Replica), joins, and decoders that check their input. So
/// [`join`](CartState::join) cannot fail.
#[derive(Clone, Default, PartialEq, Eq, Hash, Debug)]
pub struct CartState {
    pub(crate) context: CausalContext,
    pub(crate) items: BTreeMap<ItemId, ItemState>,
    /// The per-item limit, a register written by `set_item_limit`; concurrent limits
    /// resolve to the largest, so nobody's allowed quantity is cut by a merge.
    pub(crate) limit: BTreeMap<Dot, u32>,
}

/// One line of the cart as a shopper sees it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LineView<'a> {
    /// The item.
    pub item: &'a ItemId,
    /// Its quantity, capped at the per-item limit.
    pub quantity: u32,
    /// Its attributes (price, name, ...), empty when none were given.
    pub attrs: &'a ItemAttrs,
}

impl LineView<'_> {
    /// Quantity times unit price, exact and without trailing zeros; `None` when the item has no price.
    #[must_use]
    pub fn line_total(&self) -> Option<Decimal> {
        self.attrs.unit_price.map(|p| p.saturating_mul(Decimal::from(self.quantity)).normalize())
    }
}

static NO_ATTRS: std::sync::LazyLock<ItemAttrs> = std::sync::LazyLock::new(ItemAttrs::default);

impl CartState {
    /// The empty cart.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything this state has seen.
    #[must_use]
    pub fn context(&self) -> &CausalContext {
        &self.context
    }

    /// True for the state that has seen nothing (an empty delta).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.context.is_empty()
    }

    /// The per-item quantity limit: the largest of the concurrent limits set, or 999.
    #[must_use]
    pub fn item_limit(&self) -> u32 {
        self.limit.values().copied().max().unwrap_or(DEFAULT_ITEM_LIMIT)
    }

    /// The live state of one item, with its dots.
    #[must_use]
    pub fn item(&self, id: &str) -> Option<&ItemState> {
        self.items.get(id)
    }

    /// The cart's lines in item-id order.
    pub fn lines(&self) -> impl Iterator<Item = LineView<'_>> + '_ {
        let limit = u64::from(self.item_limit());
        self.items.iter().map(move |(item, state)| LineView {
            item,
            quantity: u32::try_from(state.raw_quantity().min(limit)).unwrap_or(u32::MAX),
            attrs: state.attrs().unwrap_or(&NO_ATTRS),
        })
    }

    /// The quantity of one item as shown (0 when absent).
    #[must_use]
    pub fn quantity(&self, id: &str) -> u32 {
        let limit = u64::from(self.item_limit());
        self.item(id).map_or(0, |s| u32::try_from(s.raw_quantity().min(limit)).unwrap_or(u32::MAX))
    }

    /// The number of distinct items in the cart.
    #[must_use]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when no item is in the cart (it may still have seen changes).
    #[must_use]
    pub fn is_empty_cart(&self) -> bool {
        self.items.is_empty()
    }

    /// The exact sum of every priced line's quantity times unit price, without
    /// trailing zeros (format it with the currency's rules for display).
    #[must_use]
    pub fn total(&self) -> Decimal {
        // Exact for up to a million lines: see MAX_PRICE_INTEGER_DIGITS.
        self.lines()
            .filter_map(|l| l.line_total())
            .fold(Decimal::ZERO, |a, b| a.saturating_add(b))
            .normalize()
    }

    /// Joins `other` into `self`: the least state that has seen everything either has.
    /// Commutative, associative and idempotent; works for deltas and whole states alike.
    /// Returns true when `self` changed.
    pub fn join(&mut self, other: &CartState) -> bool {
        if other.context.is_empty() {
            return false;
        }
        let mut changed = !self.context.includes(&other.context);
        let (ours_ctx, theirs_ctx) = (&self.context, &other.context);
        let mut emptied = Vec::new();
        for (id, ours) in &mut self.items {
            match other.items.get(id) {
                Some(theirs) => {
                    changed |= join_dot_fun(&mut ours.writes, ours_ctx, &theirs.writes, theirs_ctx);
                }
                // The common case for a small delta: nothing of this item was touched.
                None if !ours.dots().any(|d| theirs_ctx.contains(d)) => continue,
                None => {
                    ours.writes.retain(|d, _| !theirs_ctx.contains(d));
                    changed = true;
                }
            }
            if ours.writes.is_empty() {
                emptied.push(id.clone());
            }
        }
        for id in emptied {
            self.items.remove(&id);
        }
        for (id, theirs) in &other.items {
            if self.items.contains_key(id) {
                continue;
            }
            let mut fresh = ItemState::default();
            changed |= join_dot_fun(&mut fresh.writes, ours_ctx, &theirs.writes, theirs_ctx);
            if !fresh.writes.is_empty() {
                self.items.insert(id.clone(), fresh);
            }
        }
        changed |= join_dot_fun(&mut self.limit, ours_ctx, &other.limit, theirs_ctx);
        self.context.union_with(&other.context);
        changed
    }

    /// Every live dot in this state, in order. Used by sync and by validation.
    pub(crate) fn live_dots(&self) -> Vec<Dot> {
        let mut dots: Vec<Dot> =
            self.items.values().flat_map(ItemState::dots).chain(self.limit.keys()).copied().collect();
        dots.sort_unstable();
        dots
    }
}

/// The join of two dot stores that map each dot to a value: a dot stays if both sides
/// have it, or if one side has it and the other has never seen it. A dot one side has
/// seen but no longer holds was removed there, and stays removed.
fn join_dot_fun<V: Clone + Ord>(
    ours: &mut BTreeMap<Dot, V>,
    ours_ctx: &CausalContext,
    theirs: &BTreeMap<Dot, V>,
    theirs_ctx: &CausalContext,
) -> bool {
    let before = ours.len();
    let mut replaced = false;
    ours.retain(|dot, value| match theirs.get(dot) {
        Some(other) => {
            // Equal in every honest state; a forged duplicate must still merge the same
            // way in either order, so the larger value is kept.
            if *other > *value {
                value.clone_from(other);
                replaced = true;
            }
            true
        }
        None => !theirs_ctx.contains(dot),
    });
    let mut changed = replaced || ours.len() != before;
    for (dot, value) in theirs {
        if !ours_ctx.contains(dot) && !ours.contains_key(dot) {
            ours.insert(*dot, value.clone());
            changed = true;
        }
    }
    changed
}
