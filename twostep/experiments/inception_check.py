"""The Inception check of a chapter: the models that decide its claims, scored on the standard FID network.

The chapters' distances use offline feature networks (``FD [mnist_cnn]``, ``FD [celeba_rotnet]``), on
scales of their own. This check scores the same models, from the same samples, with Inception FID and
KID (:mod:`twostep.evaluation.inception`: the TF weights that published FIDs use) on ``n`` samples per
model, a size a CPU can afford, and says how far the two instruments agree: the share of model pairs
that both order the same way, and Kendall's tau (``scipy.stats.kendalltau``). The claims page decides
each FID claim again on these Inception numbers (``twostep.book.rules``).

Samples are the first ``n`` of those the chapter scored, as saved (uint8, as published FIDs score
image files); the real images are ``n`` of the chapter's held-out images drawn at random, quantised
the same way. On a GPU with ``inception="auto"`` (or ``"always"``), the chapter's scorer has already
scored every model with Inception on all its samples, and the check reads those numbers instead.

FID on a few hundred samples has a large positive bias in 2048 dimensions (it falls with the sample
size), so these FIDs are comparable with each other, not with published 10,000-sample FIDs; KID is
unbiased, and its spread over subsets (of ``n // 2`` rows) says how much to trust a difference.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.stats import kendalltau

from twostep.core.profiling import phased
from twostep.core.checks import check_int
from twostep.evaluation.fid import InceptionFeatures, feature_statistics, frechet_distance
from twostep.evaluation.quality import KernelDistance
from twostep.evaluation.scoring import SampleScorer

KID_SUBSETS = 100
PREFIX = "inception_check"


def _as_saved(images: np.ndarray) -> np.ndarray:
    """Images in [0, 1] quantised as the chapters save them (uint8), back in [0, 1]."""
    return (np.clip(images, 0, 1) * 255).round() / 255


@dataclass
class InceptionCheck:
    """Inception FID and KID (``kid``, ``kid_std``) of each checked model, beside its offline FD."""

    offline: str
    n: int
    fid: dict[str, float]
    kid: dict[str, tuple[float, float]]
    offline_fd: dict[str, float]
    seconds: float
    from_scorer: bool = False
    notes: list[str] = field(default_factory=list)

    def agreement(self) -> dict[str, float]:
        """Pairwise agreement (the share of model pairs both instruments order the same way; ties
        count as disagreement) and Kendall's tau, of Inception FID and of Inception KID against the
        offline FD."""
        models = sorted(self.fid)
        offline = [self.offline_fd[m] for m in models]
        out = {}
        for name, values in (("fid", [self.fid[m] for m in models]), ("kid", [self.kid[m][0] for m in models])):
            pairs = list(itertools.combinations(range(len(models)), 2))
            same = sum((offline[i] - offline[j]) * (values[i] - values[j]) > 0 for i, j in pairs)
            out[f"pairwise_agreement_{name}"] = same / len(pairs) if pairs else float("nan")
            out[f"kendall_tau_{name}"] = float(kendalltau(offline, values).statistic) if len(models) > 1 else float("nan")
        return out

    def disagreeing_pairs(self) -> list[tuple[str, str]]:
        """The model pairs that Inception FID and the offline FD order differently."""
        return [(a, b) for a, b in itertools.combinations(sorted(self.fid), 2)
                if (self.offline_fd[a] - self.offline_fd[b]) * (self.fid[a] - self.fid[b]) <= 0]

    def metrics(self) -> dict[str, float]:
        """``<model>.fid_inception``, ``<model>.kid_inception``, ``<model>.kid_std_inception`` (the
        names the scorer gives Inception numbers), and ``inception_check.*``: samples per model and the
        agreement with the offline FD (the seconds are printed, not kept: metrics are reproducible)."""
        out: dict[str, float] = {}
        for model in sorted(self.fid):
            out[f"{model}.fid_inception"] = self.fid[model]
            out[f"{model}.kid_inception"], out[f"{model}.kid_std_inception"] = self.kid[model]
        out[f"{PREFIX}.samples"] = float(self.n)
        out.update({f"{PREFIX}.{k}": v for k, v in self.agreement().items()})
        return out

    def table(self) -> str:
        """The models with their offline FD, Inception FID and KID, in Markdown, then the agreement."""
        rows = sorted(self.fid, key=self.offline_fd.get)
        lines = [f"| model | FD [{self.offline}] | FID (Inception, n = {self.n}) | KID × 1000 (± std over subsets) |",
                 "|---|---|---|---|"]
        for m in rows:
            kid, kid_std = self.kid[m]
            lines.append(f"| {m} | {self.offline_fd[m]:.2f} | {self.fid[m]:.2f} | {1000 * kid:.2f} ± {1000 * kid_std:.2f} |")
        a = self.agreement()
        lines += ["", f"Agreement with FD [{self.offline}] over {len(rows)} models: Inception FID orders "
                  f"{a['pairwise_agreement_fid']:.0%} of the pairs the same way (Kendall's τ {a['kendall_tau_fid']:.2f}), "
                  f"Inception KID {a['pairwise_agreement_kid']:.0%} (τ {a['kendall_tau_kid']:.2f})."]
        pairs = self.disagreeing_pairs()
        if pairs:
            lines.append("\nPairs ordered differently by Inception FID: " + ", ".join(f"{a} / {b}" for a, b in pairs) + ".")
        lines += self.notes
        return "\n".join(lines)


@phased("scoring")
def inception_check(scorer: SampleScorer, models: list[str], real_images: np.ndarray, *, n: int, offline: str,
                    seed: int, device: str | torch.device = "auto") -> InceptionCheck:
    """Score ``models`` (keys the ``scorer`` has scored) with Inception FID and KID on the first ``n``
    of their samples, against ``n`` of ``real_images`` (in [0, 1]) drawn with ``seed``."""
    start = time.perf_counter()
    missing = [m for m in models if m not in scorer.results]
    if missing:
        raise KeyError(f"the scorer has not scored {missing}")
    offline_fd = {m: scorer.results[m][offline].full for m in models}
    if all("inception" in scorer.results[m] for m in models):  # a GPU run scored them all already
        results = {m: scorer.results[m]["inception"] for m in models}
        return InceptionCheck(offline, scorer.n_samples, {m: r.full for m, r in results.items()},
                              {m: (r.quality["kid"], r.quality["kid_std"]) for m, r in results.items()},
                              offline_fd, 0.0, from_scorer=True)
    n = check_int("inception_samples", n, minimum=4, maximum=min(scorer.n_samples, len(real_images)))
    if scorer.kept < n:
        raise ValueError(f"inception_samples={n} is not allowed: the scorer keeps {scorer.kept} samples per model")
    shape = next(net.image_shape for net in scorer.evaluator.networks if net.name == offline)
    net = InceptionFeatures(shape, device=device)
    rng = np.random.default_rng(seed)
    real = np.asarray(real_images)[np.sort(rng.choice(len(real_images), n, replace=False))]
    real_features = net(_as_saved(real))
    real_stats = feature_statistics(real_features)
    kid = KernelDistance(real_features, subsets=KID_SUBSETS, subset_size=n // 2, seed=seed)
    fid, kids = {}, {}
    for m in models:
        features = net(scorer.saved[m][:n].astype(np.float32) / 255)
        fid[m] = frechet_distance(feature_statistics(features), real_stats)
        kids[m] = kid(features)
    return InceptionCheck(offline, n, fid, kids, offline_fd, time.perf_counter() - start)


def inception_section(scorer: SampleScorer, models: list[str], real_images: np.ndarray, *, n: int, offline: str,
                      seed: int, device: str | torch.device = "auto") -> tuple[dict[str, float], str]:
    """A chapter's Inception check as the chapter shows it: the metrics to add to its ``metrics.json``
    and the Markdown to display (the table, the agreement, the seconds); ``n = 0`` skips it (the book's
    later seeds), with a line that says so."""
    if not n:
        return {}, "Inception check skipped (`inception_samples=0`: the book's seeds after the first)."
    check = inception_check(scorer, models, real_images, n=n, offline=offline, seed=seed, device=device)
    return check.metrics(), check.table() + f"\n\nInception check: {len(check.fid)} models, {check.seconds:.0f} s."
