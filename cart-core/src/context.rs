//! The causal context: the set of every event a replica has seen.
//!
//! Per replica it is a version-vector entry (every counter from 1 to `n`) plus the
//! dots seen beyond it, kept as sorted, disjoint ranges. A replica that receives
//! change 7 of the phone before changes 5 and 6 holds `phone: 1-4, 7`: the gap is kept
//! in the context itself, so nothing waits in a buffer (law L6). Ranges also keep the
//! context small: ten thousand add/remove cycles are one range, `1-20000` (law L5).

use std::collections::BTreeMap;

use crate::dot::{Dot, ReplicaId};

/// An inclusive range of counters, `start..=end`, with `1 <= start <= end <= Dot::MAX_COUNTER`.
pub type CounterRange = (u64, u64);

/// The set of dots a replica has seen. See the module docs.
#[derive(Clone, Default, PartialEq, Eq, Hash, Debug)]
pub struct CausalContext {
    /// Invariant: no empty lists; ranges sorted, non-overlapping and not adjacent
    /// (a gap of at least one counter between them), so each set has one form.
    ranges: BTreeMap<ReplicaId, Vec<CounterRange>>,
}

/// Why a list of ranges cannot be a replica's part of a causal context.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContextError {
    /// A range starts at 0, ends before it starts, or goes past [`Dot::MAX_COUNTER`].
    #[error("replica {replica}: counter range {start}-{end} is out of bounds (1 to {max})", max = Dot::MAX_COUNTER)]
    RangeOutOfBounds {
        /// The replica whose ranges are wrong.
        replica: ReplicaId,
        /// First counter of the range.
        start: u64,
        /// Last counter of the range.
        end: u64,
    },
    /// Ranges overlap, touch, or are out of order: the same set has a shorter form.
    #[error("replica {replica}: counter ranges are not sorted, disjoint and separated by gaps")]
    NotCanonical {
        /// The replica whose ranges are wrong.
        replica: ReplicaId,
    },
    /// A replica is listed with no ranges at all.
    #[error("replica {replica}: listed with no counters")]
    Empty {
        /// The replica listed with nothing.
        replica: ReplicaId,
    },
}

impl CausalContext {
    /// The empty context: nothing seen.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// True when nothing has been seen.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// True when `dot` has been seen.
    #[must_use]
    pub fn contains(&self, dot: &Dot) -> bool {
        self.ranges.get(&dot.replica).is_some_and(|r| ranges_contain(r, dot.counter))
    }

    /// The highest counter of `replica` seen so far, 0 if none.
    #[must_use]
    pub fn max_counter(&self, replica: &ReplicaId) -> u64 {
        self.ranges.get(replica).and_then(|r| r.last()).map_or(0, |&(_, end)| end)
    }

    /// The version vector: for each replica, the `n` such that counters `1..=n` have all
    /// been seen (0 when counter 1 is missing). Dots beyond a gap are not included.
    pub fn version_vector(&self) -> impl Iterator<Item = (ReplicaId, u64)> + '_ {
        self.ranges.iter().map(|(replica, r)| {
            let n = match r.first() {
                Some(&(1, end)) => end,
                _ => 0,
            };
            (*replica, n)
        })
    }

    /// A context holding counters `1..=n` of each listed replica (entries with `n == 0` add nothing).
    ///
    /// # Errors
    /// When a counter is above [`Dot::MAX_COUNTER`].
    pub fn from_version_vector(
        entries: impl IntoIterator<Item = (ReplicaId, u64)>,
    ) -> Result<Self, ContextError> {
        let mut ctx = Self::new();
        for (replica, n) in entries {
            if n > Dot::MAX_COUNTER {
                return Err(ContextError::RangeOutOfBounds { replica, start: 1, end: n });
            }
            if n > 0 {
                ctx.insert_range(replica, (1, n));
            }
        }
        Ok(ctx)
    }

    /// Every replica with the ranges of counters seen, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&ReplicaId, &[CounterRange])> + '_ {
        self.ranges.iter().map(|(r, v)| (r, v.as_slice()))
    }

    /// The replicas that appear in this context.
    pub fn replicas(&self) -> impl Iterator<Item = &ReplicaId> + '_ {
        self.ranges.keys()
    }

    /// Sets `replica`'s ranges, checking that they are in canonical form. Decoders use this.
    ///
    /// # Errors
    /// When the ranges are empty, out of bounds or not canonical.
    pub fn set_ranges(&mut self, replica: ReplicaId, ranges: Vec<CounterRange>) -> Result<(), ContextError> {
        if ranges.is_empty() {
            return Err(ContextError::Empty { replica });
        }
        let mut prev_end: Option<u64> = None;
        for &(start, end) in &ranges {
            if start == 0 || end < start || end > Dot::MAX_COUNTER {
                return Err(ContextError::RangeOutOfBounds { replica, start, end });
            }
            if prev_end.is_some_and(|p| start <= p.saturating_add(1)) {
                return Err(ContextError::NotCanonical { replica });
            }
            prev_end = Some(end);
        }
        self.ranges.insert(replica, ranges);
        Ok(())
    }

    /// Records that `dot` has been seen.
    pub fn insert(&mut self, dot: Dot) {
        self.insert_range(dot.replica, (dot.counter, dot.counter));
    }

    fn insert_range(&mut self, replica: ReplicaId, range: CounterRange) {
        let list = self.ranges.entry(replica).or_default();
        *list = union_ranges(list, &[range]);
    }

    /// Adds everything `other` has seen (the join of two contexts).
    pub fn union_with(&mut self, other: &Self) {
        for (replica, theirs) in &other.ranges {
            match self.ranges.get_mut(replica) {
                Some(ours) => *ours = union_ranges(ours, theirs),
                None => {
                    self.ranges.insert(*replica, theirs.clone());
                }
            }
        }
    }

    /// True when every dot in `other` is also in `self`.
    #[must_use]
    pub fn includes(&self, other: &Self) -> bool {
        other.ranges.iter().all(|(replica, theirs)| {
            let Some(ours) = self.ranges.get(replica) else {
                return false;
            };
            theirs.iter().all(|&(start, end)| {
                // Canonical ranges: a range is covered only if one of ours holds it whole.
                let i = ours.partition_point(|&(_, e)| e < start);
                ours.get(i).is_some_and(|&(s, e)| s <= start && end <= e)
            })
        })
    }

    /// This context less the given dots, which must be sorted by (replica, counter).
    /// Anti-entropy uses it to leave out dots whose store entries it does not send.
    #[must_use]
    pub(crate) fn without_sorted(&self, dots: &[Dot]) -> Self {
        let mut out = self.clone();
        let mut i = 0;
        while let Some(first) = dots.get(i) {
            let run = dots.get(i..).unwrap_or_default();
            let n = run.iter().take_while(|d| d.replica == first.replica).count();
            let holes = run.get(..n).unwrap_or_default();
            i = i.saturating_add(n.max(1));
            let Some(list) = out.ranges.get_mut(&first.replica) else {
                continue;
            };
            *list = subtract_sorted(list, holes.iter().map(|d| d.counter));
            if list.is_empty() {
                out.ranges.remove(&first.replica);
            }
        }
        out
    }
}

fn ranges_contain(ranges: &[CounterRange], counter: u64) -> bool {
    let i = ranges.partition_point(|&(_, end)| end < counter);
    ranges.get(i).is_some_and(|&(start, _)| start <= counter)
}

/// Merges two canonical range lists into one canonical list.
fn union_ranges(a: &[CounterRange], b: &[CounterRange]) -> Vec<CounterRange> {
    let mut out: Vec<CounterRange> = Vec::with_capacity(a.len().saturating_add(b.len()));
    let (mut ia, mut ib) = (a.iter().peekable(), b.iter().peekable());
    loop {
        let next = match (ia.peek(), ib.peek()) {
            (Some(x), Some(y)) => {
                if x.0 <= y.0 {
                    ia.next()
                } else {
                    ib.next()
                }
            }
            (Some(_), None) => ia.next(),
            (None, Some(_)) => ib.next(),
            (None, None) => break,
        };
        let Some(&(start, end)) = next else { break };
        match out.last_mut() {
            Some(last) if start <= last.1.saturating_add(1) => last.1 = last.1.max(end),
            _ => out.push((start, end)),
        }
    }
    out
}

/// Removes sorted counters from a canonical range list.
fn subtract_sorted(ranges: &[CounterRange], holes: impl Iterator<Item = u64>) -> Vec<CounterRange> {
    let mut holes = holes.peekable();
    let mut out = Vec::with_capacity(ranges.len());
    for &(start, end) in ranges {
        let mut from = start;
        while let Some(&h) = holes.peek() {
            if h > end {
                break;
            }
            holes.next();
            if h < from {
                continue;
            }
            if h > from {
                out.push((from, h.saturating_sub(1)));
            }
            if h == end {
                from = end.saturating_add(1);
                break;
            }
            from = h.saturating_add(1);
        }
        if from <= end {
            out.push((from, end));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rid(n: u8) -> ReplicaId {
        ReplicaId::from_bytes([n; 16])
    }

    #[test]
    fn gaps_are_held_and_closed() {
        let mut c = CausalContext::new();
        for n in [7, 1, 2, 5, 3] {
            c.insert(Dot::new(rid(1), n));
        }
        assert_eq!(c.iter().next().map(|(_, r)| r.to_vec()), Some(vec![(1, 3), (5, 5), (7, 7)]));
        c.insert(Dot::new(rid(1), 4));
        c.insert(Dot::new(rid(1), 6));
        assert_eq!(c.iter().next().map(|(_, r)| r.to_vec()), Some(vec![(1, 7)]));
        assert_eq!(c.version_vector().collect::<Vec<_>>(), vec![(rid(1), 7)]);
    }

    #[test]
    fn without_cuts_holes() {
        let c = CausalContext::from_version_vector([(rid(1), 10), (rid(2), 2)]).unwrap();
        let cut = c.without_sorted(&[
            Dot::new(rid(1), 1),
            Dot::new(rid(1), 5),
            Dot::new(rid(1), 10),
            Dot::new(rid(2), 1),
            Dot::new(rid(2), 2),
        ]);
        let got: Vec<_> = cut.iter().map(|(r, v)| (*r, v.to_vec())).collect();
        assert_eq!(got, vec![(rid(1), vec![(2, 4), (6, 9)])]);
        assert!(c.includes(&cut));
        assert!(!cut.includes(&c));
    }

    #[test]
    fn set_ranges_refuses_non_canonical_lists() {
        let mut c = CausalContext::new();
        assert!(c.set_ranges(rid(1), vec![(1, 2), (3, 4)]).is_err());
        assert!(c.set_ranges(rid(1), vec![(0, 2)]).is_err());
        assert!(c.set_ranges(rid(1), vec![(1, u64::MAX)]).is_err());
        assert!(c.set_ranges(rid(1), vec![]).is_err());
        assert!(c.set_ranges(rid(1), vec![(1, 2), (4, 4)]).is_ok());
    }
}
