"""The grid-of-Gaussians experiment (paper Fig. 2): its metrics, table and training-curve figure."""

from __future__ import annotations

import numpy as np

from twostep.autoencoders.mlp import MLPVAE
from twostep.core.profiling import phased
from twostep.core.seeds import stage_seed
from twostep.data.grid import GridData
from twostep.evaluation.likelihood import importance_log_likelihood
from twostep.evaluation.samples import grid_mode_metrics
from twostep.experiments.joint_runs import run_joint, run_joint_with_snapshots
from twostep.joint import GMMVAE
from twostep.nn.convergence import MIN_JUDGED_EPOCHS, UntilConverged, plateaued
from twostep.pipeline import TwoStepModel
from twostep.priors import GMMPrior


@phased("scoring")
def grid_network(*, latent_dim: int, hidden_dim: int, beta: float) -> MLPVAE:
    """The authors' grid VAE network, untrained (2 -> hidden tanh -> latent, linear output, loss
    L1 + beta KL): step 1's VAE and every joint model's fresh network."""
    return MLPVAE(2, latent_dim, (hidden_dim,), output="linear", likelihood="laplace", beta=beta)


def mode_scores(samples: dict[str, np.ndarray], data: GridData) -> dict[str, dict[str, float]]:
    """Modes covered and the fraction of high-quality samples, per model."""
    return {name: grid_mode_metrics(s, data.means, data.std) for name, s in samples.items()}


def grid_metrics(models: dict, scores: dict[str, dict[str, float]], data: GridData, *, scale: float,
                 n_importance: int, seed: int) -> dict[str, float]:
    """Per model (key -> two-step model): modes covered, high-quality fraction, and the held-out
    log-likelihood by importance sampling (Laplace decoder of scale ``scale``); plus the true
    mixture's held-out log-likelihood."""
    metrics = {"data.true_test_log_likelihood": float(data.log_prob(data.test).mean())}
    for key, model in models.items():
        ll = importance_log_likelihood(model.autoencoder, data.test, model.prior, likelihood="laplace", scale=scale,
                                       n_importance=n_importance, seed=seed)
        metrics[f"{key}.modes_covered"] = scores[key]["modes_covered"]
        metrics[f"{key}.high_quality_fraction"] = scores[key]["high_quality_fraction"]
        metrics[f"{key}.test_log_likelihood"] = float(ll.mean())
    return metrics


def grid_table(metrics: dict[str, float], labels: dict[str, str]) -> str:
    w = max(18, *(len(label) + 2 for label in labels.values()))
    lines = [f"{'model':<{w}}{'modes covered':>15}{'high quality':>14}{'test log-lik':>14}"]
    for key, label in labels.items():
        lines.append(f"{label:<{w}}{metrics[key + '.modes_covered']:>12}/16{metrics[key + '.high_quality_fraction']:>14.3f}"
                     f"{metrics[key + '.test_log_likelihood']:>14.3f}")
    lines.append(f"{'true mixture':<{w}}{'':>15}{'':>14}{metrics['data.true_test_log_likelihood']:>14.3f}")
    return "\n".join(lines)


def training_curves(curves: dict[str, list[float]], *, xlabel: str, ylabel: str, title: str):
    """Training losses per epoch on a log scale, one line per model."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, history in curves.items():
        ax.plot(history, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_yscale("log")
    ax.legend()
    ax.set_title(title)
    return fig


def snapshot_epochs(every: int, first: int, last: int) -> list[int]:
    """The epochs at which the until-converged joint run is read: every ``every`` epochs from
    ``first`` (the authors' budget, whose model the run's prefix is) up to ``last`` (the run's end,
    which is read as the run itself, so not listed); none for ``every == 0``."""
    return list(range(first, last, every)) if every else []


def trajectory_scores(snapshots: dict[int, object], data: GridData, *, n_samples: int, seed: int,
                      known: dict[int, dict[str, float]]) -> dict[int, dict[str, float]]:
    """Modes covered and the high-quality fraction of a joint GMM-VAE at several epochs of its run:
    ``snapshots`` maps an epoch to the model (a :class:`~twostep.joint.GMMVAE`) at that epoch, sampled
    from its own learned GMM (``n_samples`` samples from the seed stream "trajectory samples", one
    index per snapshot); epochs in ``known`` (models the chapter scored already, such as the authors'
    budget and the run's end) keep those scores. Sorted by epoch."""
    out = dict(known)
    for i, (epoch, model) in enumerate(sorted(snapshots.items())):
        if epoch not in out:
            two_step = TwoStepModel(model.autoencoder, model.prior())
            sample = two_step.sample(n_samples, seed=stage_seed(seed, "trajectory samples", i))
            out[epoch] = grid_mode_metrics(sample, data.means, data.std)
    return dict(sorted(out.items()))


def trajectory_metrics(key: str, scores: dict[int, dict[str, float]]) -> dict[str, float]:
    """What the metrics file records of a run's trajectory: modes covered at each epoch read
    (``<key>.modes_covered_at_epoch_<e>``) and whether they plateaued (``<key>.modes_plateaued``,
    1 or 0: :func:`twostep.nn.convergence.plateaued`, the same value over the run's last half)."""
    modes = {epoch: s["modes_covered"] for epoch, s in scores.items()}
    metrics = {f"{key}.modes_covered_at_epoch_{epoch}": float(value) for epoch, value in modes.items()}
    metrics[f"{key}.modes_plateaued"] = float(plateaued(modes))
    return metrics


def trajectory_figure(scores: dict[int, dict[str, float]], *, title: str):
    """Modes covered (left axis) and the high-quality fraction (right axis) against the epoch."""
    import matplotlib.pyplot as plt

    epochs = list(scores)
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot(epochs, [s["modes_covered"] for s in scores.values()], "o-", color="C0", label="modes covered")
    ax.set_ylim(-0.5, 16.5)
    ax.set_xlabel("epoch")
    ax.set_ylabel("modes covered (of 16)", color="C0")
    right = ax.twinx()
    right.plot(epochs, [s["high_quality_fraction"] for s in scores.values()], "s--", color="C1",
               label="high-quality fraction")
    right.set_ylim(0, 1)
    right.set_ylabel("high-quality fraction", color="C1")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return fig


# The joint GMM-VAE from random initialisation trained on until converged: the model Fig. 2 (bottom)
# is judged on; its first ``joint_epochs`` epochs are the authors' model, ``joint_gmm_vae``.
CONVERGED_JOINT = "joint_gmm_vae_converged"


def grid_joint_runs(cfg, data: GridData, *, device, variants) -> tuple[dict, dict, dict]:
    """Every joint GMM-VAE of the chapter (``cfg``: a :class:`~twostep.experiments.configs.GridConfig`),
    each from the network of :func:`grid_network`, untrained, with the authors' optimiser (Adam at
    1e-4, full batch) and its held-out objective on ``data.val``, all from the seed stream "joint":

    - ``joint_gmm_vae``: the authors' model (GMM means from N(0, I)), ``cfg.joint_epochs`` epochs;
    - ``joint_gmm_vae_converged`` (with ``cfg.joint_max_epochs``): the same trajectory trained on
      until converged, at most ``cfg.joint_max_epochs`` epochs, read at :func:`snapshot_epochs`;
    - the ``variants`` asked for (keys of ``joint_prior_lr``, ``joint_kmeanspp``,
      ``joint_prior_lr_converged``).

    Returns ``(runs, initial_means, snapshots)``: the :class:`~twostep.experiments.joint_runs.JointRun`
    of each key, the GMM means each started from, and the converged run's models by epoch (none
    without ``cfg.joint_max_epochs``)."""
    seed = stage_seed(cfg.seed, "joint")
    initial_means = {}

    def fresh_network():  # the same network as step 1's, untrained
        return grid_network(latent_dim=cfg.latent_dim, hidden_dim=cfg.hidden_dim, beta=cfg.beta)

    def starting(key, build):  # remembers where each GMM started, to measure how far it moved
        def built():
            model = build()
            initial_means[key] = model.means.detach().clone()
            return model
        return built

    def random_start():  # the authors' joint model: fresh network, GMM means from N(0, I)
        return GMMVAE.random_init(fresh_network(), cfg.n_components, seed=seed)

    common = dict(seed=seed, lr=1e-4, batch_size=None, device=device, validation=data.val)
    snapshots = {}
    if cfg.joint_max_epochs:  # one trajectory: the authors' budget is its first joint_epochs epochs
        epochs = snapshot_epochs(cfg.joint_snapshot_every, cfg.joint_epochs, cfg.joint_max_epochs)
        converged, taken = run_joint_with_snapshots(
            starting("joint_gmm_vae", random_start), data.train, snapshots=[cfg.joint_epochs, *epochs],
            epochs=cfg.joint_max_epochs, stop=UntilConverged(min_epochs=max(MIN_JUDGED_EPOCHS, cfg.joint_epochs)),
            desc="joint GMM-VAE, until converged", **common)
        runs = {CONVERGED_JOINT: converged, "joint_gmm_vae": taken[cfg.joint_epochs]}
        snapshots = {epoch: run.model for epoch, run in taken.items()}
        snapshots[converged.epochs] = converged.model
        initial_means[CONVERGED_JOINT] = initial_means["joint_gmm_vae"]
    else:
        runs = {"joint_gmm_vae": run_joint(starting("joint_gmm_vae", random_start), data.train,
                                           epochs=cfg.joint_epochs, desc="joint GMM-VAE", **common)}
    builds = {
        "joint_prior_lr": (random_start, {"prior_lr": cfg.joint_prior_lr}),
        "joint_kmeanspp": (lambda: GMMVAE.kmeans_plus_plus_init(fresh_network(), cfg.n_components, data.train,
                                                                seed=seed), {}),
    }
    if cfg.joint_max_epochs:
        builds["joint_prior_lr_converged"] = (random_start, {"prior_lr": cfg.joint_prior_lr,
                                                             "stop": UntilConverged(min_epochs=100)})
    runs.update({key: run_joint(starting(key, build), data.train, desc=variants[key], **common, **extra,
                                epochs=cfg.joint_max_epochs if key.endswith("_converged") else cfg.joint_epochs)
                 for key, (build, extra) in builds.items() if key in variants})
    return runs, initial_means, snapshots


def grid_labels(cfg) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """The chapter's models by key and label: Fig. 2's four (``LABELS``), the joint model trained
    until converged and its refit (``CONVERGED``, with ``cfg.joint_max_epochs``), and the joint
    variants (``VARIANTS``, only with ``cfg.illustrate``: they decide no claim)."""
    labels = {"vae": "VAE", "two_step_gmm": "two-step GMM", "joint_gmm_vae": "joint GMM-VAE",
              "joint_then_gmm": "joint + new GMM"}
    converged = {CONVERGED_JOINT: "joint GMM-VAE, until converged",
                 "joint_converged_then_gmm": "joint (converged) + new GMM"} if cfg.joint_max_epochs else {}
    variants = {"joint_prior_lr": "joint, prior lr ×100", "joint_kmeanspp": "joint, k-means++ means"}
    if cfg.joint_max_epochs:
        variants["joint_prior_lr_converged"] = "joint, prior lr ×100, until converged"
    return labels, converged, variants if cfg.illustrate else {}


def two_step_gmm(cfg):
    """The chapter's two-step GMM prior, unfitted: scikit-learn's EM as the authors call it."""
    return GMMPrior(cfg.n_components, cfg.covariance_type, n_init=cfg.n_init, max_iter=200, random_state=cfg.seed)


def gmm_moves(runs: dict, initial_means: dict, data: GridData) -> tuple[dict[str, float], list[str]]:
    """How far each joint model's GMM means moved from where they started (mean distance), and a
    line per model comparing its components' variance with its codes' variance."""
    moves, lines = {}, []
    for key, run in runs.items():
        codes = run.model.autoencoder.encode(data.train)
        moves[key] = float((run.model.means.detach().cpu() - initial_means[key].cpu()).norm(dim=1).mean())
        lines.append((key, f"means moved {moves[key]:.3f} on average; mean component variance "
                           f"{float(run.model.logvars.detach().exp().mean()):.3f}; the codes' variance per "
                           f"dimension {codes.var(0).mean():.3f}"))
    return moves, lines


def joint_sentence(metrics: dict[str, float], runs: dict, labels: dict[str, str]) -> str:
    """The chapter's summary line of its joint models: modes, epochs, convergence, how far the means
    moved, for each key of ``labels`` that was run."""
    m = metrics
    return ", ".join(
        f"{label}: {m[key + '.modes_covered']:.0f}/16 modes after {m[key + '.epochs']:.0f} epochs "
        f"({'converged' if m.get(key + '.converged') else 'not converged'}; its means moved "
        f"{m[key + '.mean_shift_of_component_means']:.2f})"
        for key, label in labels.items() if key in runs)
