#!/usr/bin/env python3
"""Counts what a selfish pool's blocks became, from `chainlab run --trace` files (the pool at
node 0). See docs/experiments.md, "Emergent γ".

    scripts/selfish_trace.py TRACE.jsonl...

Prints, summed over the files:
- pool blocks by the state they were mined in (`withheld` lead 1, 2, 3+, or `race`: published
  at once) and how many of each are not on node 1's final chain (`lost`; this includes a
  lead still withheld when mining stops);
- honest blocks lost to the pool or to another honest block at their height;
- blocks mined on a stale view: a block of the same or a greater height was public (an honest
  block mined, a pool block published) before it was mined;
- tie races (a block withheld at lead 1, then published): the first block mined at the next
  height, the pool's or an honest one on the pool's block (γ) or on the honest block.
"""
import bisect
import collections
import json
import sys


def analyse(path, pool=0):
    mined, withheld, published, last_tip = {}, {}, {}, {}
    for line in open(path):
        r = json.loads(line)
        e = r["event"]
        if e == "block_mined":
            mined[r["hash"]] = (r["t"], r["node"], r["height"], r["parent"])
        elif e == "withheld":
            withheld[r["hash"]] = r["lead"]
        elif e == "published":
            published.setdefault(r["hash"], r["t"])
        elif e == "tip_changed":
            last_tip[r["node"]] = r["hash"]
    tip, chain = last_tip[1], set()
    while tip in mined:
        chain.add(tip)
        tip = mined[tip][3]
    st = collections.Counter()
    for h, (t, node, height, parent) in mined.items():
        if node != pool:
            continue
        lead = withheld.get(h)
        state = "race" if lead is None else {1: "lead1", 2: "lead2"}.get(lead, "lead3+")
        st[(state, "mined")] += 1
        if h not in chain:
            st[(state, "lost")] += 1
    by_height = {mined[h][2]: h for h in chain}
    for h, (t, node, height, parent) in mined.items():
        if node == pool:
            continue
        st[("honest", "mined")] += 1
        if h not in chain:
            w = by_height.get(height)
            st[("honest", "lost_to_pool" if w and mined[w][1] == pool else "lost_to_honest")] += 1
    public = {h: (published.get(h) if m[1] == pool else m[0]) for h, m in mined.items()}
    events = sorted((p, mined[h][2], h) for h, p in public.items() if p is not None)
    times = [e[0] for e in events]
    for h, (t, node, height, parent) in mined.items():
        i = bisect.bisect_left(times, t)
        if any(ev[1] >= height and ev[2] != h for ev in events[max(0, i - 40):i]):
            st[("pool" if node == pool else "honest", "stale_view")] += 1
    children = collections.defaultdict(list)
    for h, m in mined.items():
        children[m[2]].append((m[0], h, m[1], m[3]))
    for h, lead in withheld.items():
        if lead != 1 or h not in published:
            continue
        nxt = sorted(c for c in children[mined[h][2] + 1] if c[0] > published[h])
        if not nxt:
            continue
        _, _, node, parent = nxt[0]
        if node == pool:
            st[("tie", "pool_next")] += 1
        else:
            st[("tie", "honest_on_pool" if parent == h else "honest_on_honest")] += 1
    return st


if __name__ == "__main__":
    total = collections.Counter()
    for p in sys.argv[1:]:
        total += analyse(p)
    for k in sorted(total):
        print(*k, total[k])
    on_pool = total[("tie", "honest_on_pool")]
    n = on_pool + total[("tie", "honest_on_honest")]
    if n:
        print(f"emergent gamma: {on_pool} of {n} = {on_pool / n:.3f}")
