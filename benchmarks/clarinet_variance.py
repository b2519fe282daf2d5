"""What makes the two-step HMM's note-change rate differ between seeds (#28 item 3): step 1 (the
audio VAE of each seed, from the cache when the clarinet chapter ran that seed) against step 2
(Baum-Welch's start and the sampling, seeded together), crossed: every VAE seed with every step-2
seed, measured as the chapter measures (pYIN on ``measure_seconds`` of new pieces). The diagonal
(VAE seed = step-2 seed) is the chapter's own two-step model at that seed: its numbers are checked
against a sweep's metrics when ``--sweep`` is given. Figures to read, not a test.

    python benchmarks/clarinet_variance.py --vae-seeds 0 1 2 --hmm-seeds 0 1 2 3 4 [--sweep DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vae-seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--hmm-seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--profile", default="default", help="the clarinet chapter's profile (default, smoke)")
    parser.add_argument("--sweep", help="a sweep folder whose clarinet runs the diagonal must reproduce")
    args = parser.parse_args()

    import torch

    from twostep.sweep.execution import load_profiles
    from twostep.evaluation.audio import pitch_report
    from twostep.experiments.clarinet_hmm import audio_data, clarinet_vae, measurement_pieces
    from twostep.experiments.configs import ClarinetConfig
    from twostep.priors import HMMPrior

    torch.set_num_threads(2)
    base = load_profiles().get("clarinet_hmm", {}).get(args.profile, {}) if args.profile != "default" else {}
    chapter = {}
    if args.sweep:
        for row in json.loads((Path(args.sweep) / "plan.json").read_text()):
            if row["notebook"] == "clarinet_hmm":
                m = json.loads((Path(args.sweep) / "runs" / "clarinet_hmm" / row["key"] / "metrics.json").read_text())
                chapter[row["seed"]] = m["two_step.note_change_rate"]
    rates: dict[tuple[int, int], float] = {}
    real = None
    print(f"{'VAE seed':>8} {'step-2 seed':>11} {'notes/s':>8} {'in tune':>8} {'fit s':>6}", flush=True)
    for vae_seed in args.vae_seeds:
        cfg = ClarinetConfig(**{**base, "seed": vae_seed})
        data = audio_data(cfg.source, sample_rate=cfg.sample_rate, frame=cfg.frame, hop=cfg.hop,
                          n_test_files=cfg.n_test_files, n_synth_files=cfg.n_synth_files, seed=cfg.seed)
        vae, _ = clarinet_vae(np.concatenate(data.train_frames), data.config, cfg.vae, progress=False)
        codes = [vae.encode(f) for f in data.train_frames]
        for hmm_seed in args.hmm_seeds:
            t0 = time.perf_counter()
            hmm = HMMPrior(cfg.n_states, init=cfg.hmm_init, n_iter=cfg.hmm_n_iter, tol=cfg.hmm_tol, n_init=cfg.hmm_n_init,
                           implementation=cfg.hmm_implementation, random_state=hmm_seed)
            hmm.fit(np.concatenate(codes), lengths=[len(c) for c in codes])
            fit = time.perf_counter() - t0
            pieces = measurement_pieces({"two_step": (vae, hmm)}, data, cfg.measure_seconds, cfg.segment_seconds, cfg.hop,
                                        hmm_seed)
            report = pitch_report(pieces["two_step"], cfg.sample_rate)
            if real is None:
                real = pitch_report(pieces["real"], cfg.sample_rate)["note_change_rate"]
            rates[vae_seed, hmm_seed] = report["note_change_rate"]
            mark = ""
            if vae_seed == hmm_seed and vae_seed in chapter:
                mark = "  (the chapter's: " + ("same" if chapter[vae_seed] == report["note_change_rate"]
                                              else f"differs, {chapter[vae_seed]:.3f}") + ")"
            print(f"{vae_seed:>8} {hmm_seed:>11} {report['note_change_rate']:>8.3f} {report['in_tune_fraction']:>8.3f} "
                  f"{fit:>6.1f}{mark}", flush=True)
    print(f"\nreal audio: {real:.3f} note changes per second")
    by_vae = {v: [rates[v, h] for h in args.hmm_seeds] for v in args.vae_seeds}
    for v, row in by_vae.items():
        print(f"VAE seed {v}: mean {statistics.mean(row):.3f} (x{statistics.mean(row) / real:.2f} real), "
              f"sd over step-2 seeds {statistics.stdev(row) if len(row) > 1 else float('nan'):.3f}")
    within = statistics.mean(statistics.variance(r) for r in by_vae.values()) if len(args.hmm_seeds) > 1 else float("nan")
    between = statistics.variance([statistics.mean(r) for r in by_vae.values()]) if len(args.vae_seeds) > 1 else float("nan")
    print(f"variance of the rate: within a VAE (step 2's seed) {within:.4f}; between the VAEs' means {between:.4f} "
          f"(of which {within / len(args.hmm_seeds):.4f} is expected from step 2 alone)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
