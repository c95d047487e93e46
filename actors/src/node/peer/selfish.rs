//! The peer actor of a selfish pool's node (`[[adversary]] kind = "selfish"`): its own blocks
//! go through the core strategy ([`Selfish`]) before anyone hears of them; honest blocks
//! arriving move the strategy; nothing withheld is announced or served, and the pool relays
//! no honest block. Outside its window (`from` / `until`) it is an honest node: its blocks are
//! published at once and it relays honest blocks; when `until` comes it publishes everything
//! it still withholds at once, and stays honest.

use super::PeerActor;
use chainlab::adversary::selfish::{Decision, Selfish};
use chainlab::config::Moment;
use chainlab::report::{Event, WithheldEvent};
use chainlab::{Address, Block, Hash};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A selfish pool's side of the peer actor.
pub struct SelfishRole {
    /// The pool's miner address: its blocks are the ones withheld.
    me: Address,
    strategy: Selfish,
    /// The withheld blocks themselves, to announce and serve once published.
    held: BTreeMap<Hash, Arc<Block>>,
    /// Its `until` came: it published what it held and is honest from then on.
    done: bool,
}

impl SelfishRole {
    /// A pool mining to `me`, with nothing withheld.
    pub fn new(me: Address) -> SelfishRole {
        SelfishRole {
            me,
            strategy: Selfish::new(),
            held: BTreeMap::new(),
            done: false,
        }
    }
}

impl PeerActor {
    /// The peer actor started: a pool whose `until` is a time publishes what it holds then,
    /// whether or not a block arrives at that moment.
    pub(super) fn selfish_started(&mut self, ctx: &mut actix::Context<Self>) {
        use actix::AsyncContext;
        let Some(Moment::Time(t)) = self.window.until else {
            return;
        };
        if self.selfish.is_none() {
            return;
        }
        let elapsed = self.env.recorder.clock().elapsed_ms();
        let at = u64::try_from(t.as_millis()).unwrap_or(u64::MAX);
        let wait = std::time::Duration::from_millis(at.saturating_sub(elapsed));
        ctx.run_later(wait, |act, _| {
            act.selfish_active();
        });
    }

    /// Whether this node is a selfish pool running its strategy now (within its window).
    /// When its `until` has come it publishes everything it still withholds, once, traced
    /// `published`, and is honest from then on.
    pub(super) fn selfish_active(&mut self) -> bool {
        let open = self.window_open();
        let ended = self.window_ended();
        let Some(role) = &mut self.selfish else {
            return false;
        };
        if role.done {
            return false;
        }
        if open {
            return true;
        }
        if ended {
            role.done = true;
            let d = role.strategy.publish_all();
            self.carry_out(d);
        }
        false
    }

    /// A selfish pool's own block, outside its window: public at once, as an honest node's
    /// (the strategy learns the public chain's height).
    pub(super) fn own_block_public(&mut self, height: u64) {
        if let Some(role) = &mut self.selfish {
            let d = role.strategy.on_public_block(height);
            self.carry_out(d);
        }
    }

    /// Whether this node withholds `hash` (a selfish pool's or a double-spend attacker's
    /// unpublished block).
    pub(super) fn withholds(&self, hash: &Hash) -> bool {
        self.selfish
            .as_ref()
            .is_some_and(|s| s.held.contains_key(hash))
            || self
                .double_spend
                .as_ref()
                .is_some_and(|d| d.withholds(hash))
    }

    /// A selfish pool's block, just stored by its chain: withheld or published at once.
    pub(super) fn own_block(&mut self, hash: Hash, block: Arc<Block>) {
        let Some(role) = &mut self.selfish else {
            return;
        };
        if block.header.miner != role.me {
            return;
        }
        let height = block.header.height;
        role.held.insert(hash, block);
        let d = role.strategy.on_own_block(hash, height);
        if !d.publish.iter().any(|(h, _)| *h == hash) {
            let lead = role.strategy.lead() as u64;
            self.env.record(Event::Withheld(Box::new(WithheldEvent {
                hash,
                height,
                lead,
            })));
        }
        self.carry_out(d);
    }

    /// Blocks arrived from a peer: the public chain may have grown. The pool's own blocks
    /// among them (a sync reply may carry what it published) are no news to the strategy.
    pub(super) fn public_blocks<'a>(&mut self, blocks: impl IntoIterator<Item = &'a Block>) {
        self.selfish_active();
        let Some(role) = &mut self.selfish else {
            return;
        };
        let me = role.me;
        let Some(height) = blocks
            .into_iter()
            .filter(|b| b.header.miner != me)
            .map(|b| b.header.height)
            .max()
        else {
            return;
        };
        let d = role.strategy.on_public_block(height);
        self.carry_out(d);
    }

    fn carry_out(&mut self, d: Decision) {
        let Some(role) = &mut self.selfish else {
            return;
        };
        let mut publish = Vec::new();
        for (hash, height) in d.publish {
            if let Some(b) = role.held.remove(&hash) {
                publish.push((hash, height, b));
            }
        }
        let mut given_up = Vec::new();
        for (hash, height) in d.given_up {
            role.held.remove(&hash);
            given_up.push((hash, height));
        }
        for (hash, height, b) in publish {
            self.env.record(Event::Published { hash, height });
            let out = self.gossip.announce_block(hash, None, None);
            self.send_all(out);
            self.recent.insert(hash, b);
        }
        for (hash, height) in given_up {
            self.env.record(Event::GaveUp { hash, height });
        }
    }
}
