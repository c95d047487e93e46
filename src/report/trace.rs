//! A run's trace held compactly: the records in the order they were recorded, in fixed-size
//! chunks of 24-byte slots instead of one growing vector of 64-byte records.
//!
//! A large run's trace is nearly all `block_imported` and `tip_changed` records, one of each
//! per node and block (20,000 nodes × 77 blocks: 3.1 million). Each names a block by its hash
//! and height, which are the same at every node; so a slot keeps the block's index in a table
//! of the blocks the trace names, and every other kind of record is kept whole beside the
//! slots. Chunks never move once filled, so growing the trace never copies it and never holds
//! twice its size (a doubling vector briefly held its old and new buffers, and kept up to half
//! its capacity unused). `docs/design.md`, "Memory per node and block", gives the figures.
//!
//! Reading gives back exactly the records pushed, in order ([`Trace::iter`]).

use super::event::{Event, TraceRecord};
use crate::hash::{Hash, HashKey, HashMapById};
use crate::NodeId;

/// Slots per chunk: 64 Ki slots, 1.5 MiB.
const CHUNK: usize = 1 << 16;

/// What a slot holds, in the low two bits of [`Slot::code`]; the index is above them.
const IMPORTED: u64 = 0;
const TIP: u64 = 1;
const WHOLE: u64 = 2;

/// One record: a block event at a node (`code` = block index and kind), or the index of a
/// record kept whole.
#[derive(Clone, Copy, Debug)]
struct Slot {
    t_ms: u64,
    code: u64,
    node: u32,
}

/// See the module doc.
#[derive(Clone, Debug)]
pub struct Trace {
    chunks: Vec<Vec<Slot>>,
    /// The blocks named by slots: (hash, height), in order of first mention.
    blocks: Vec<(Hash, u64)>,
    /// Index into `blocks` by hash.
    block_index: HashMapById<u64>,
    /// The records of other kinds, in order.
    whole: Vec<TraceRecord>,
    len: usize,
}

impl Default for Trace {
    fn default() -> Trace {
        Trace::keyed(HashKey::default())
    }
}

impl PartialEq for Trace {
    fn eq(&self, other: &Trace) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl Trace {
    /// An empty trace whose table of blocks is keyed by `key` (block hashes of cheap side
    /// branches are attacker-chosen bytes: `docs/design.md`, "Hash flooding").
    pub fn keyed(key: HashKey) -> Trace {
        Trace {
            chunks: Vec::new(),
            blocks: Vec::new(),
            block_index: HashMapById::with_hasher(key),
            whole: Vec::new(),
            len: 0,
        }
    }

    /// Takes the records, leaving an empty trace keyed as this one was.
    pub fn take(&mut self) -> Trace {
        let key = *self.block_index.hasher();
        std::mem::replace(self, Trace::keyed(key))
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a record.
    pub fn push(&mut self, r: TraceRecord) {
        let slot = match (u32::try_from(r.node), &r.event) {
            (Ok(node), Event::BlockImported { hash, height }) => {
                self.block(hash, *height).map(|i| Slot {
                    t_ms: r.t_ms,
                    code: (i << 2) | IMPORTED,
                    node,
                })
            }
            (Ok(node), Event::TipChanged { hash, height }) => {
                self.block(hash, *height).map(|i| Slot {
                    t_ms: r.t_ms,
                    code: (i << 2) | TIP,
                    node,
                })
            }
            _ => None,
        };
        let slot = slot.unwrap_or_else(|| {
            let i = self.whole.len() as u64;
            let t_ms = r.t_ms;
            self.whole.push(r);
            Slot {
                t_ms,
                code: (i << 2) | WHOLE,
                node: 0,
            }
        });
        match self.chunks.last_mut() {
            Some(c) if c.len() < CHUNK => c.push(slot),
            _ => {
                let mut c = Vec::with_capacity(CHUNK);
                c.push(slot);
                self.chunks.push(c);
            }
        }
        self.len += 1;
    }

    /// The index of block `hash` at `height` in the table, added if new; `None` when the
    /// hash is there with another height (the record is then kept whole, so it reads back
    /// exactly).
    fn block(&mut self, hash: &Hash, height: u64) -> Option<u64> {
        let next = self.blocks.len() as u64;
        let i = *self.block_index.entry(*hash).or_insert(next);
        if i == next {
            self.blocks.push((*hash, height));
        }
        (self.blocks[i as usize].1 == height).then_some(i)
    }

    /// The records in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            trace: self,
            slots: [].iter(),
            chunks: self.chunks.iter(),
        }
    }

    fn read(&self, s: &Slot) -> TraceRecord {
        let i = (s.code >> 2) as usize;
        let node = s.node as NodeId;
        match s.code & 3 {
            IMPORTED | TIP => {
                let (hash, height) = self.blocks[i];
                let event = if s.code & 3 == IMPORTED {
                    Event::BlockImported { hash, height }
                } else {
                    Event::TipChanged { hash, height }
                };
                TraceRecord {
                    t_ms: s.t_ms,
                    node,
                    event,
                }
            }
            _ => self.whole[i].clone(),
        }
    }
}

/// The records of a [`Trace`], in order, by value.
#[derive(Debug)]
pub struct Iter<'a> {
    trace: &'a Trace,
    slots: std::slice::Iter<'a, Slot>,
    chunks: std::slice::Iter<'a, Vec<Slot>>,
}

impl Iterator for Iter<'_> {
    type Item = TraceRecord;

    fn next(&mut self) -> Option<TraceRecord> {
        loop {
            if let Some(s) = self.slots.next() {
                return Some(self.trace.read(s));
            }
            self.slots = self.chunks.next()?.iter();
        }
    }
}

impl<'a> IntoIterator for &'a Trace {
    type Item = TraceRecord;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl Extend<TraceRecord> for Trace {
    fn extend<I: IntoIterator<Item = TraceRecord>>(&mut self, iter: I) {
        for r in iter {
            self.push(r);
        }
    }
}

impl FromIterator<TraceRecord> for Trace {
    fn from_iter<I: IntoIterator<Item = TraceRecord>>(iter: I) -> Trace {
        let mut t = Trace::default();
        t.extend(iter);
        t
    }
}

impl From<Vec<TraceRecord>> for Trace {
    fn from(v: Vec<TraceRecord>) -> Trace {
        v.into_iter().collect()
    }
}

impl From<&[TraceRecord]> for Trace {
    fn from(v: &[TraceRecord]) -> Trace {
        v.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testkit::rec;

    fn imported(b: u8, height: u64) -> Event {
        Event::BlockImported {
            hash: Hash([b; 32]),
            height,
        }
    }

    #[test]
    fn reads_back_every_record_in_order_across_chunks() {
        let mut want = Vec::new();
        for i in 0..(2 * CHUNK + 7) {
            let b = (i % 5) as u8;
            let event = match i % 4 {
                0 => imported(b, u64::from(b)),
                1 => Event::TipChanged {
                    hash: Hash([b; 32]),
                    height: u64::from(b),
                },
                2 => Event::TxSubmitted {
                    txid: Hash([b; 32]),
                },
                _ => Event::SyncRequested { peer: i % 3 },
            };
            want.push(rec(i as u64 * 3, i % 11, event));
        }
        let t: Trace = want.clone().into();
        assert_eq!(t.len(), want.len());
        assert_eq!(t.chunks.len(), 3);
        assert_eq!(t.iter().collect::<Vec<_>>(), want);
        // Five blocks named, each once in the table; the other half kept whole.
        assert_eq!(t.blocks.len(), 5);
        assert_eq!(t.whole.len(), want.len() / 2);
    }

    #[test]
    fn a_hash_seen_at_another_height_or_an_outsized_node_is_kept_whole() {
        let want = vec![
            rec(1, 0, imported(9, 4)),
            rec(2, 1, imported(9, 5)),
            rec(3, usize::MAX, imported(9, 4)),
            rec(4, 2, Event::NodeStopped { crashed: true }),
        ];
        let t = Trace::from(&want[..]);
        assert_eq!(t.iter().collect::<Vec<_>>(), want);
        assert_eq!(t.blocks.len(), 1);
        assert_eq!(t.whole.len(), 3);
    }

    #[test]
    fn equality_is_by_records() {
        let a: Trace = vec![rec(1, 0, imported(1, 1))].into();
        let b: Trace = vec![rec(1, 0, imported(1, 1))].into();
        let c: Trace = vec![rec(2, 0, imported(1, 1))].into();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(Trace::default().is_empty());
    }

    #[test]
    fn take_leaves_an_empty_trace_with_the_same_key() {
        let key = HashKey::derive(7, "trace", 0);
        let mut t = Trace::keyed(key);
        t.push(rec(1, 0, imported(1, 1)));
        let taken = t.take();
        assert_eq!(taken.len(), 1);
        assert!(t.is_empty() && t.blocks.is_empty());
        assert!(*t.block_index.hasher() == key);
    }

    #[test]
    fn a_slot_is_24_bytes() {
        assert_eq!(size_of::<Slot>(), 24);
    }
}
