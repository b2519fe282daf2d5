"""GMM priors over a range of component counts on one autoencoder's codes, as the component-sweep
chapters (MNIST and CelebA, Fig. 3; the WGAN-GMM, Fig. 6) fit them: fit and score each, keep the
fitted priors for later steps, and turn the scores into figures and sentences."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from twostep.core.keys import JOINT_RUNS, joint, two_step
from twostep.core.seeds import stage_seed
from twostep.evaluation.fid import FIDResult, distance_label
from twostep.evaluation.scoring import SampleScorer
from twostep.experiments.plotting import fid_curves
from twostep.pipeline import TwoStepModel
from twostep.priors.gmm import GMMPrior


@dataclass
class GMMSweep:
    """The two-step GMMs of one sweep, fitted on ``codes`` with shared settings and kept under
    ``two_step_<covariance>_<components>`` (``priors``, with their fit times in ``seconds``)."""

    codes: np.ndarray
    n_init: int
    seed: int
    reg_covar: float = 1e-6
    priors: dict[str, GMMPrior] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def prior(self, n_components: int, covariance_type: str) -> GMMPrior:
        """The sweep's GMM with these settings: the one already fitted, else fitted now and kept."""
        key = str(two_step(covariance_type, n_components))
        if key not in self.priors:
            start = time.perf_counter()
            self.priors[key] = GMMPrior(n_components, covariance_type, n_init=self.n_init, max_iter=200,
                                        reg_covar=self.reg_covar, random_state=self.seed).fit(self.codes)
            self.seconds[key] = time.perf_counter() - start
        return self.priors[key]


def gmm_sweep(
    autoencoder,
    codes: np.ndarray,
    component_counts: Iterable[int],
    covariance_types: Iterable[str],
    scorer: Callable[[str, TwoStepModel, int], dict[str, FIDResult]],
    *,
    n_init: int,
    seed: int,
    reg_covar: float = 1e-6,
    log: Callable[[str], None] = print,
) -> GMMSweep:
    """Fit ``GMMPrior(k, cov)`` on ``codes`` for every pair and score each two-step model as
    ``two_step_<cov>_<k>`` (samples drawn from the run's ``samples`` stage seed). The returned sweep keeps the
    fitted priors, so later steps (joint initialisation, clustering) reuse them instead of refitting."""
    sweep = GMMSweep(np.asarray(codes), n_init=n_init, seed=seed, reg_covar=reg_covar)
    for cov in covariance_types:
        for k in component_counts:
            key = str(two_step(cov, k))
            prior = sweep.prior(k, cov)
            scores = scorer(key, TwoStepModel(autoencoder, prior), stage_seed(seed, "samples"))
            first = next(iter(scores.values()))
            log(f"two-step {cov:>4} GMM, {k:>3} components: fitted in {sweep.seconds[key]:5.1f} s, "
                f"{distance_label(first.features)} {first.full:.3f}")
    return sweep


def plot_fid_sweeps(scorer: SampleScorer, component_counts, covariance_types, joint_components=(),
                    joint_inits=(("two_step", "from two-step"), ("random", "from random")), *, title: str,
                    baseline_key: str = "vae_normal", baseline_label: str = "N(0, I) prior"):
    """One panel per feature network: two-step curves per covariance type, joint curves per
    initialisation, and the baseline model (the N(0, I) VAE by default) as a horizontal band."""
    import matplotlib.pyplot as plt

    names = [n.name for n in scorer.evaluator.networks]
    fig, axes = plt.subplots(1, len(names), figsize=(6.5 * len(names), 4.5), squeeze=False)
    for ax, name in zip(axes[0], names):
        curves = {}
        for cov in covariance_types:
            r = [scorer.results[str(two_step(cov, k))][name] for k in component_counts]
            curves[f"two-step, {cov} GMM"] = (list(component_counts), [x.mean for x in r], [x.std for x in r])
        for init, label in joint_inits:  # at the component counts where that joint model ran
            ks = [k for k in joint_components if str(joint(init, k)) in scorer.results]
            if ks:
                r = [scorer.results[str(joint(init, k))][name] for k in ks]
                curves[f"joint GMM-VAE, {label}"] = (ks, [x.mean for x in r], [x.std for x in r])
        base = scorer.results[baseline_key][name]
        fid_curves(ax, curves, baseline=(base.mean, base.std), baseline_label=baseline_label,
                   ylabel=f"{distance_label(name)} (lower is better)")
        ax.set_title(title)
    fig.tight_layout()
    return fig


def summarise_sweep(scorer: SampleScorer, component_counts, covariance_types, joint_components=(), *,
                    baseline_key: str = "vae_normal") -> list[str]:
    """Sentences, computed from the scores, on how the priors compare with the N(0, I) baseline."""
    lines = []
    for name in [n.name for n in scorer.evaluator.networks]:
        base = scorer.results[baseline_key][name].full
        for cov in covariance_types:
            above1 = [k for k in component_counts if k > 1]
            wins = [k for k in above1 if scorer.results[str(two_step(cov, k))][name].full < base]
            best = min(component_counts, key=lambda k: scorer.results[str(two_step(cov, k))][name].full)
            lines.append(
                f"- [{name}] two-step {cov} GMM beats N(0, I) ({distance_label(name)} {base:.2f}) at {len(wins)} of {len(above1)} "
                f"component counts above 1; best {scorer.results[str(two_step(cov, best))][name].full:.2f} "
                f"with {best} components."
            )
        for k in joint_components:
            for init, label in JOINT_RUNS.items():
                key = str(joint(init, k))
                if key not in scorer.results:
                    continue
                refs = [f"two-step {cov} {scorer.results[str(two_step(cov, k))][name].full:.2f}"
                        for cov in covariance_types if str(two_step(cov, k)) in scorer.results]
                lines.append(f"- [{name}] {label.replace('joint', 'joint GMM-VAE', 1)} ({k}): {distance_label(name)} "
                             f"{scorer.results[key][name].full:.2f} ({', '.join(refs) or 'no two-step run at this size'}).")
    return lines


def subsample(n: int, max_rows: int, seed: int) -> np.ndarray:
    """Indices of at most ``max_rows`` of ``n`` rows, drawn at random with ``seed`` (0: all rows, in order).
    The GMM sweeps fit on such a subset of the codes to stay within a CPU's time."""
    return np.random.default_rng(seed).permutation(n)[:max_rows] if max_rows else np.arange(n)


def sweep_panels(component_counts, covariance_types, joint_components=(),
                 joint_inits=(("two_step", "from two-step"), ("random", "from random")), *,
                 joint_label: str = "joint GMM-VAE", baseline: tuple[str, str] = ("VAE, N(0, I) prior", "vae_normal"),
                 ) -> dict[str, str]:
    """Title -> model key of the sample panels of a sweep: the baseline, each two-step covariance at
    the largest joint size (or the largest size), and each joint initialisation at that size."""
    k_show = max(joint_components) if joint_components else max(component_counts)
    k_two = k_show if k_show in component_counts else max(component_counts)
    panels = {baseline[0]: baseline[1]}
    for cov in covariance_types:
        panels[f"two-step {cov} GMM ({k_two})"] = str(two_step(cov, k_two))
    for init, label in joint_inits if joint_components else ():
        panels[f"{joint_label} ({k_show}), {label}"] = str(joint(init, k_show))
    return panels
