"""Named seed streams, and the seeding of the global generators: every random stage of a run draws from a seed derived from the run's seed and
the stage's name (and, for repeated stages, an index), with NumPy's ``SeedSequence``. This is the
only place where seeds are combined: nowhere else does code add offsets to a seed.

Why names, not offsets: ``seed + 1`` for samples and ``seed + 2`` for the joint runs made run 1's
joint stage draw what run 2's samples draw, and a new stage had to pick an unused offset by hand.
A stage's seed depends only on (run seed, stage, index): adding a stage, or a model to a chapter,
changes no other stage's numbers, and a cache hit and a cache miss draw the same (a cached model
is loaded, not re-drawn, and every later stage seeds itself from the run's seed, not from the
state a training left behind).

The stages, with what each seeds:
"""

from __future__ import annotations

import hashlib
import random

import numpy as np
import torch

from twostep.core.checks import check_int

STAGES = {
    "samples": "the draws from a model that its scores (FD, KID, coverage) and figures use; index: one per model "
               "where a chapter draws from several models in turn",
    "variant samples": "the grid chapter's draws from its joint variants (one index per variant)",
    "trajectory samples": "the grid chapter's draws from its until-converged joint model at the epochs it is read "
                          "(index: the snapshot)",
    "joint": "a joint model's initialisation, minibatch order and noise, and its held-out objective's noise",
    "segment": "each independent segment of a sequence prior's sample (index: the segment)",
    "generated audio": "the audio each model of a chapter generates (index: the model)",
    "measured pieces": "the pieces of audio each model generates for the pitch and note measures (index: the model)",
    "synthesised file": "each sequence of the synthetic clarinet data (index: the file)",
    "fid infinity": "FID∞'s real images (index 0) and the subsets of its fit for each model (index: the model, from 1)",
    "restart": "each restart of a fit with several starts (index: the restart; restart 0 uses the seed itself)",
}
__doc__ += "\n".join(f"\n- ``{name}``: {meaning}." for name, meaning in STAGES.items())


def stage_seed(seed: int, stage: str, index: int = 0) -> int:
    """The seed of ``stage`` (a name of :data:`STAGES`) in the run seeded with ``seed``, for its
    ``index``-th repetition: a 32-bit integer that NumPy, torch and scikit-learn all accept.
    Different stages, indices or run seeds give independent streams."""
    seed = check_int("seed", seed, minimum=0)
    index = check_int("index", index, minimum=0)
    if stage not in STAGES:
        raise ValueError(f"stage {stage!r} is not allowed: one of {', '.join(map(repr, STAGES))} "
                         "(name a new stage in twostep/core/seeds.py)")
    name = int.from_bytes(hashlib.sha256(stage.encode()).digest()[:8], "little")
    return int(np.random.SeedSequence([seed, name, index]).generate_state(1)[0])


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch.

    Also asks torch for deterministic algorithms where they exist, so that the same parameters
    give the same numbers on a CPU.
    """
    check_int("seed", seed, minimum=0)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
