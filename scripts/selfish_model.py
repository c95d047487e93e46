#!/usr/bin/env python3
"""The Eyal–Sirer chain over runs of N mined blocks, scored as chainlab's report scores a run
(the final chain is the heaviest node's, the pool's on a tie: what the pool still withholds
counts for it). Prints the mean revenue, its spread between runs, and the mean of
revenue − R(realised hash share, γ). See docs/experiments.md, "Emergent γ".

    scripts/selfish_model.py ALPHA GAMMA N RUNS
"""
import random
import statistics as st
import sys


def R(a, g):
    b = 1 - a
    return (a * b * b * (4 * a + g * (1 - 2 * a)) - a**3) / (1 - a * (1 + (2 - a) * a))


def run(a, g, n, rng):
    pool = honest = lead = episode = mined = 0
    tie = False
    for _ in range(n):
        if rng.random() < a:
            mined += 1
            if tie:
                pool, tie = pool + 2, False
            else:
                lead, episode = lead + 1, episode + 1
        elif tie:
            if rng.random() < g:
                pool, honest = pool + 1, honest + 1
            else:
                honest += 2
            tie = False
        elif lead == 0:
            honest += 1
        elif lead == 1:
            tie, lead, episode = True, 0, 0
        elif lead == 2:
            pool, lead, episode = pool + episode, 0, 0
        else:
            lead -= 1
    pool += episode + (1 if tie else 0)
    return pool / (pool + honest), mined / n


if __name__ == "__main__":
    a, g, n, runs = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    rng = random.Random(5)
    xs = [run(a, g, n, rng) for _ in range(runs)]
    rev = [x for x, _ in xs]
    res = [x - R(s, g) for x, s in xs]
    print(f"R({a}, {g}) = {R(a, g):.4f}; runs of {n}: revenue {st.mean(rev):.4f}, "
          f"sd between runs {st.stdev(rev):.4f}; revenue - R(realised share) {st.mean(res):+.4f} "
          f"(sd {st.stdev(res):.4f})")
