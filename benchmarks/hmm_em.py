"""Print Baum-Welch time per EM iteration for hmmlearn's two implementations ("scaling", "log").

    python benchmarks/hmm_em.py --latents outputs/clarinet_hmm/latents.npz [--states 100] [--iterations 10]

``--latents`` is the ``latents.npz`` that the clarinet notebook writes (one array of codes per
training file); without it, random sequences of the same shape as the default notebook's are used.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from twostep.priors import HMMPrior


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latents", help="latents.npz written by the clarinet notebook")
    parser.add_argument("--states", type=int, default=100)
    parser.add_argument("--iterations", type=int, default=10)
    args = parser.parse_args()
    if args.latents:
        with np.load(args.latents) as f:
            seqs = [f[k] for k in f.files]
        where = args.latents
    else:
        rng = np.random.default_rng(0)
        seqs = [rng.standard_normal((120, 80)) for _ in range(36)]
        where = "random codes (36 x 120 frames x 80)"
    frames = sum(map(len, seqs))
    print(f"{len(seqs)} sequences, {frames} frames of {seqs[0].shape[1]} dims, from {where}; {args.states} states")
    for impl in ("scaling", "log"):
        start = time.perf_counter()
        prior = HMMPrior(args.states, n_iter=args.iterations, tol=0.0, implementation=impl, random_state=0).fit(seqs)
        seconds = time.perf_counter() - start
        its = prior.model_.monitor_.iter
        print(f"{impl:>8}: {seconds / its:.3f} s per EM iteration ({its} iterations), "
              f"final log-likelihood {prior.model_.monitor_.history[-1]:.1f}")


if __name__ == "__main__":
    main()
