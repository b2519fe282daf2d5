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
from twostep.core.seeds import stage_seed
from twostep.evaluation.fid import InceptionFeatures, feature_statistics, frechet_distance
from twostep.evaluation.fid_infinity import FIDInfinity, fid_infinity
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
    infinity: dict[str, FIDInfinity] = field(default_factory=dict)  # FID∞ of each model, where asked

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
        for model, fit in sorted(self.infinity.items()):
            out[f"{model}.fid_infinity_inception"] = fit.value
            out[f"{model}.fid_infinity_largest_inception"] = fit.largest
        if self.infinity:
            out[f"{PREFIX}.infinity_samples"] = float(max(next(iter(self.infinity.values())).sizes))
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
        if self.infinity:
            largest = max(next(iter(self.infinity.values())).sizes)
            lines += ["", f"| model | FID (Inception, n = {largest}) | FID∞ | fit's largest residual |", "|---|---|---|---|"]
            lines += [f"| {m} | {fit.largest:.2f} | {fit.value:.2f} | {fit.residual():.2f} |"
                      for m, fit in sorted(self.infinity.items(), key=lambda item: item[1].value)]
        lines += self.notes
        return "\n".join(lines)


@phased("scoring")
def inception_check(scorer: SampleScorer, models: list[str], real_images: np.ndarray, *, n: int, offline: str,
                    seed: int, device: str | torch.device = "auto", infinity: int = 0,
                    infinity_models: list[str] | None = None) -> InceptionCheck:
    """Score ``models`` (keys the ``scorer`` has scored) with Inception FID and KID on the first ``n``
    of their samples, against ``n`` of ``real_images`` (in [0, 1]) drawn with ``seed``; with
    ``infinity``, also FID∞ (:mod:`twostep.evaluation.fid_infinity`) of ``infinity_models`` (default:
    all checked) from their first ``infinity`` samples against as many real images (drawn from the
    ``fid infinity`` stream)."""
    chosen = list(models if infinity_models is None else infinity_models)
    if infinity and not set(chosen) <= set(scorer.results):
        raise KeyError(f"FID∞ of {sorted(set(chosen) - set(scorer.results))}: the scorer has not scored them")
    start = time.perf_counter()
    missing = [m for m in models if m not in scorer.results]
    if missing:
        raise KeyError(f"the scorer has not scored {missing}")
    offline_fd = {m: scorer.results[m][offline].full for m in models}
    if infinity:
        infinity = check_int("fid_infinity_samples", infinity, minimum=16, maximum=min(scorer.kept, len(real_images)))
    def shape():
        return next(net.image_shape for net in scorer.evaluator.networks if net.name == offline)

    if all("inception" in scorer.results[m] for m in models):  # a GPU run scored them all already
        results = {m: scorer.results[m]["inception"] for m in models}
        check = InceptionCheck(offline, scorer.n_samples, {m: r.full for m, r in results.items()},
                               {m: (r.quality["kid"], r.quality["kid_std"]) for m, r in results.items()},
                               offline_fd, 0.0, from_scorer=True)
        if infinity:
            check.infinity = _infinity(InceptionFeatures(shape(), device=device), scorer, chosen, real_images,
                                       infinity, seed, {})
        return check
    n = check_int("inception_samples", n, minimum=4, maximum=min(scorer.n_samples, len(real_images)))
    if scorer.kept < n:
        raise ValueError(f"inception_samples={n} is not allowed: the scorer keeps {scorer.kept} samples per model")
    net = InceptionFeatures(shape(), device=device)
    rng = np.random.default_rng(seed)
    real = np.asarray(real_images)[np.sort(rng.choice(len(real_images), n, replace=False))]
    real_features = net(_as_saved(real))
    real_stats = feature_statistics(real_features)
    kid = KernelDistance(real_features, subsets=KID_SUBSETS, subset_size=n // 2, seed=seed)
    fid, kids, first = {}, {}, {}
    for m in models:
        first[m] = features = net(scorer.saved[m][:n].astype(np.float32) / 255)
        fid[m] = frechet_distance(feature_statistics(features), real_stats)
        kids[m] = kid(features)
    check = InceptionCheck(offline, n, fid, kids, offline_fd, 0.0)
    if infinity:
        check.infinity = _infinity(net, scorer, chosen, real_images, infinity, seed, first)
    check.seconds = time.perf_counter() - start
    return check


def _infinity(net, scorer: SampleScorer, models: list[str], real_images: np.ndarray, size: int,
              seed: int, first: dict[str, np.ndarray]) -> dict[str, FIDInfinity]:
    """FID∞ of each model from its first ``size`` saved samples (the features of the first ones
    reused from the check, ``first``) against ``size`` real images of the ``fid infinity`` stream;
    ``net`` maps images in [0, 1] to feature rows (:class:`InceptionFeatures`)."""
    rng = np.random.default_rng(stage_seed(seed, "fid infinity"))
    real = net(_as_saved(np.asarray(real_images)[np.sort(rng.choice(len(real_images), size, replace=False))]))
    out = {}
    for index, m in enumerate(models):
        done = first.get(m, np.empty((0, real.shape[1]), np.float32))[:size]
        rest = scorer.saved[m][len(done):size]
        features = np.concatenate([done, net(rest.astype(np.float32) / 255)]) if len(rest) else done
        out[m] = fid_infinity(features, real, seed=stage_seed(seed, "fid infinity", index + 1))
    return out


def inception_section(scorer: SampleScorer, models: list[str], real_images: np.ndarray, *, n: int, offline: str,
                      seed: int, device: str | torch.device = "auto", infinity: int = 0,
                      infinity_models: list[str] | None = None, figure=None) -> tuple[dict[str, float], str]:
    """A chapter's Inception check as the chapter shows it: the metrics to add to its ``metrics.json``
    and the Markdown to display (the table, the agreement, FID∞ where asked, the seconds); with
    FID∞ and a ``figure`` path, its fit is drawn there (:func:`infinity_figure`). ``n = 0`` skips
    the check, with a line that says so."""
    if not n:
        return {}, "Inception check skipped (`inception_samples=0`)."
    check = inception_check(scorer, models, real_images, n=n, offline=offline, seed=seed, device=device,
                            infinity=infinity, infinity_models=infinity_models)
    if check.infinity and figure is not None:
        import matplotlib.pyplot as plt

        plt.close(infinity_figure(check.infinity, figure, f"FID∞: FID at N samples a side, fitted in 1 / N"))
    return check.metrics(), check.table() + f"\n\nInception check: {len(check.fid)} models, {check.seconds:.0f} s."


def infinity_figure(metrics_fits: dict[str, FIDInfinity], path, title: str):
    """FID at each size against 1 / N with the fitted line down to 1 / N = 0 (FID∞), one colour per
    model; saved to ``path``; returns the figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for model, fit in sorted(metrics_fits.items()):
        x = 1.0 / np.asarray(fit.sizes, float)
        (points,) = ax.plot(x, fit.fids, "o", label=f"{model}: FID∞ {fit.value:.1f}")
        line = np.linspace(0, x.max(), 50)
        ax.plot(line, fit.value + fit.slope * line, "-", color=points.get_color(), lw=1)
        ax.plot([0], [fit.value], "*", ms=12, color=points.get_color())
    ax.set_xlabel("1 / N (N: samples per side)")
    ax.set_ylabel("FID (Inception)")
    ax.set_title(title)
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return fig
