"""One run of a joint baseline, as every chapter makes it: seed, build, train (watching a held-out
objective), time; and the chapters' convergence figure and table of such runs."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from twostep.core.checks import check_int
from twostep.core.keys import JOINT_RUNS, ModelKey, joint, two_step
from twostep.core.profiling import phased
from twostep.core.seeds import seed_everything
from twostep.evaluation.fid import distance_label
from twostep.evaluation.samples import clustering_accuracy
from twostep.joint import GMMVAE
from twostep.joint.training import train_joint
from twostep.nn.convergence import MIN_JUDGED_EPOCHS, Convergence, UntilConverged, convergence, extrapolate
from twostep.nn.training import History, mean_loss
from twostep.pipeline import TwoStepModel


@dataclass
class JointRun:
    """A trained joint model, its training history (mean loss per epoch; with a held-out set, the
    held-out objective per epoch as ``history.validation``, and the training time up to each epoch
    as ``history.seconds``) and its training time (seconds, held-out scoring excluded)."""

    model: nn.Module
    history: History
    seconds: float
    accuracy: list[float] = field(default_factory=list)  # clustering accuracy: at the start, then after each epoch

    @property
    def epochs(self) -> int:
        return len(self.history)

    @property
    def convergence(self) -> Convergence:
        """The library's convergence rule (:mod:`twostep.nn.convergence`) on the held-out curve (not
        judged without one, or under ``MIN_JUDGED_EPOCHS`` epochs)."""
        return convergence(self.history.validation)

    def metrics(self, key: str) -> dict[str, float]:
        """What the metrics file records of the run (deterministic: no wall time): epochs run, the
        final held-out objective, its relative improvement over the last tenth and the verdict; for
        a run that did not converge, its last epoch's relative improvement and, where its curve
        supports one, the estimate of the epochs it still had to go (:func:`extrapolate`)."""
        out = {f"{key}.epochs": float(self.epochs)}
        if self.history.validation:
            verdict = self.convergence
            out[f"{key}.heldout_objective"] = self.history.validation[-1]
            out[f"{key}.heldout_improvement_last_tenth"] = verdict.improvement
            out[f"{key}.converged"] = float(verdict.converged)
            if not verdict.converged and len(self.history.validation) >= 2:
                ahead = extrapolate(self.history.validation)
                out[f"{key}.heldout_improvement_last_epoch"] = ahead.last_improvement
                if math.isfinite(ahead.epochs_to_go):
                    out[f"{key}.epochs_to_converge_estimate"] = ahead.epochs_to_go
        return out


def run_joint(build: Callable[[], nn.Module], data, *, seed: int, epochs: int, lr: float, batch_size: int | None,
              device: str | torch.device, desc: str, validation=None, **kwargs) -> JointRun:
    """Seed everything with ``seed``, ``build()`` the joint model (a fresh network draws its weights
    here), and train it with :func:`~twostep.joint.train_joint` (shuffling and sampling seeded with
    ``seed``), timing the training. With ``validation`` the held-out objective is recorded after
    every epoch (on its own random numbers: training is unchanged) and the last weights are kept;
    other keyword arguments (``stop``, ``lr_decay``) go to :func:`twostep.nn.training.train_model`."""
    seed_everything(seed)
    model = build()
    start = time.perf_counter()
    kwargs.setdefault("restore_best", False)
    history = train_joint(model, data, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, device=device,
                          desc=desc, validation=validation, **kwargs)
    # the training time: without the held-out scoring, which only watches
    return JointRun(model, history, history.seconds[-1] if history.seconds else time.perf_counter() - start)


@dataclass
class LearningRateScan:
    """Short runs of one joint model at several learning rates, judged on held-out data only: the
    held-out objective before training (``start``) and after each epoch at each rate (``curves``)."""

    start: float
    curves: dict[float, list[float]]

    @property
    def best(self) -> float:
        """The rate whose last held-out objective is lowest (the first of equals)."""
        return min(self.curves, key=lambda lr: self.curves[lr][-1])

    def describe(self) -> str:
        each = ", ".join(f"{lr:g}: {curve[-1]:.2f}" for lr, curve in self.curves.items())
        worse = [lr for lr, curve in self.curves.items() if curve[-1] > self.start]
        return (f"held-out objective {self.start:.2f} at the start; after {len(next(iter(self.curves.values())))} "
                f"epoch(s) at each learning rate: {each}; chosen {self.best:g}"
                + (f" (worse than the start at {', '.join(f'{lr:g}' for lr in worse)})" if worse else ""))


def scan_learning_rates(build: Callable[[], nn.Module], data, lrs, *, epochs: int, seed: int, batch_size: int | None,
                        device: str | torch.device, validation, **kwargs) -> LearningRateScan:
    """Train ``build()`` for ``epochs`` epochs at each of ``lrs`` (:func:`run_joint`, same seed) and
    record its held-out objective on ``validation``, before training too (with the noise the runs'
    held-out curves use). The test measures never enter: :attr:`LearningRateScan.best` is chosen on
    the held-out objective alone."""
    if not lrs:
        raise ValueError("scan_learning_rates needs at least one learning rate")
    seed_everything(seed)
    start_model = build().to(device)
    n_held_out = len(validation[0] if isinstance(validation, tuple) else validation)
    start = mean_loss(start_model, start_model.loss, validation, batch_size=batch_size or n_held_out, seed=seed)
    curves = {}
    for lr in lrs:
        run = run_joint(build, data, seed=seed, epochs=epochs, lr=float(lr), batch_size=batch_size, device=device,
                        desc=f"learning rate {lr:g}", validation=validation, **kwargs)
        curves[float(lr)] = list(run.history.validation)
    return LearningRateScan(start, curves)


def run_joint_with_snapshots(build: Callable[[], nn.Module], data, *, snapshots: Sequence[int], seed: int, epochs: int,
                             stop: Callable[[History], bool] | None = None,
                             **kwargs) -> tuple[JointRun, dict[int, JointRun]]:
    """:func:`run_joint` once, and its first ``e`` epochs as a run of their own for every ``e`` of
    ``snapshots``: ``(run, {e: snapshot_run})``. Training draws the same numbers whatever its length
    (shuffling and noise are seeded once, the held-out objective has its own), so each snapshot is, to
    the last bit, the run :func:`run_joint` would train with ``epochs=e`` (the last weights kept, no
    stop rule): one trajectory instead of several. A snapshot past the epoch where a stop rule ended the
    run is not taken (the returned dict holds those the run reached). Snapshots are copies taken between
    epochs and draw no random numbers."""
    wanted = sorted({check_int("snapshot", e, minimum=1) for e in snapshots})
    taken: dict[int, JointRun] = {}
    trained: dict[str, nn.Module] = {}

    def watch(history: History) -> bool:
        if len(history) in wanted:
            snapshot = copy.deepcopy(trained["model"]).eval()
            cut = History(list(history))
            cut.validation, cut.seconds = list(history.validation), list(history.seconds)
            cut.best_epoch = None  # as run_joint leaves it: the last weights are kept
            taken[len(history)] = JointRun(snapshot, cut, cut.seconds[-1])
        return bool(stop and stop(history))

    def built() -> nn.Module:
        trained["model"] = build()
        return trained["model"]

    return run_joint(built, data, seed=seed, epochs=epochs, stop=watch, **kwargs), taken


def run_joint_with_prefix(build: Callable[[], nn.Module], data, *, prefix: int, **kwargs) -> tuple[JointRun, JointRun]:
    """:func:`run_joint_with_snapshots` with one snapshot, the first ``prefix`` epochs: ``(run,
    prefix_run)``. The run must reach ``prefix`` epochs (a stop rule such as
    :class:`~twostep.nn.convergence.UntilConverged` whose ``min_epochs`` is at least ``prefix``)."""
    run, taken = run_joint_with_snapshots(build, data, snapshots=(prefix,), **kwargs)
    if prefix not in taken:
        raise ValueError(f"the run stopped after {run.epochs} epochs, before its prefix of {prefix}")
    return run, taken[prefix]


def run_joint_plans(plans: list[tuple[str, int, int, Callable[[History], bool] | None]],
                    build: Callable[[int], nn.Module], data, **kwargs) -> dict[str, JointRun]:
    """The runs ``joint_<name>_<k>`` of ``plans`` ``(name, k, epochs, stop)``, each from ``build(k)``
    with :func:`run_joint`'s other arguments ``kwargs`` (its progress label is :func:`run_label`'s),
    in the order of ``plans``. A plan with no
    stop rule whose epochs another plan of the same ``k`` is sure to reach (its stop rule's
    ``min_epochs``, or all its epochs) is that plan's prefix (:func:`run_joint_with_prefix`): one
    trajectory, the same numbers as two runs."""
    def reaches(plan) -> int:
        _, _, epochs, stop = plan
        return min(epochs, getattr(stop, "min_epochs", epochs)) if stop is not None else epochs

    runs: dict[str, JointRun] = {}
    for i, (name, k, epochs, stop) in enumerate(plans):
        key = str(joint(name, k))
        if key in runs:
            continue
        longer = next((p for p in plans[i + 1:] if stop is None and p[1] == k and p[2] > epochs
                       and reaches(p) >= epochs and str(joint(p[0], k)) not in runs), None)
        if longer is None:
            runs[key] = run_joint(lambda k=k: build(k), data, epochs=epochs, stop=stop, desc=run_label(key), **kwargs)
        else:
            long_key = str(joint(longer[0], k))
            runs[long_key], runs[key] = run_joint_with_prefix(lambda k=k: build(k), data, prefix=epochs,
                                                              epochs=longer[2], stop=longer[3],
                                                              desc=run_label(long_key), **kwargs)
    return {str(joint(name, k)): runs[str(joint(name, k))] for name, k, _, _ in plans}


def authors_baselines(cfg, autoencoder, sweep, data, heldout, *, likelihood: str, batch_size: int,
                      device: str | torch.device, seed: int) -> dict[str, JointRun]:
    """Fig. 3's joint baselines from two-step, as the MNIST and CelebA chapters train them: at every
    ``cfg.joint_components`` size the joint GMM-VAE started from two-step (``autoencoder`` and the
    ``sweep``'s diagonal GMM of that size) trained for the authors' budget ``cfg.joint_epochs``
    (``joint_two_step_<k>``), and at each ``cfg.joint_converged_components`` size the same model
    trained on until its objective on ``heldout`` converges, for at least the authors' budget (and
    the rule's minimum) and at most ``cfg.joint_max_epochs`` (``joint_converged_<k>``; none when
    that is 0): one trajectory whose first epochs are the baseline (:func:`run_joint_plans`).
    Adam at ``cfg.joint_lr``, KL weight ``cfg.joint_beta``, minibatches of ``batch_size``."""
    plans = [("two_step", k, cfg.joint_epochs, None) for k in cfg.joint_components]
    if cfg.joint_max_epochs:
        until = UntilConverged(min_epochs=max(MIN_JUDGED_EPOCHS, cfg.joint_epochs))
        plans += [("converged", k, cfg.joint_max_epochs, until) for k in cfg.joint_converged_components]
    return run_joint_plans(
        plans, lambda k: GMMVAE.from_two_step(autoencoder, sweep.prior(k, "diag"), likelihood=likelihood, beta=cfg.joint_beta),
        data, seed=seed, lr=cfg.joint_lr, batch_size=batch_size, device=device, validation=heldout)


def score_runs(score, runs: dict[str, JointRun], *, seed: int, features: str) -> dict[str, float]:
    """Score every run's samples under its key (samples drawn with ``seed``), print one line per
    run (epochs, seconds, distance on ``features``, convergence); the distances by key."""
    fds = {}
    for key, run in runs.items():
        fds[key] = score(key, TwoStepModel(run.model.autoencoder, run.model.prior()), seed)[features].full
        print(f"{run_label(key)}: {run.epochs} epochs in {run.seconds:.0f} s, {distance_label(features)} "
              f"{fds[key]:.3f}; {run.convergence.describe()}")
    return fds


def joint_metrics(runs: dict[str, JointRun], two_step_objective: dict[int, float]) -> dict[str, float]:
    """Every run's metrics (:meth:`JointRun.metrics`) and the two-step models' held-out objectives
    (``two_step_diag_<k>.heldout_objective``, where the joint curves start)."""
    return {**{name: v for key, run in runs.items() for name, v in run.metrics(key).items()},
            **{two_step("diag", k).metric("heldout_objective"): v for k, v in two_step_objective.items()}}


# The VaDE protocol (Jiang et al. 2017): Adam's betas and the learning-rate decay (factor every so many epochs).
VADE_BETAS = (0.9, 0.999)
VADE_LR_DECAY = (10, 0.9)


def run_vade(autoencoder, gmm, data, *, seed: int, epochs: int, lr: float, batch_size: int | None,
             device: str | torch.device, likelihood: str, beta: float, validation=None, labelled=None,
             desc: str = "joint GMM-VAE, VaDE protocol") -> JointRun:
    """The joint GMM-VAE trained by the VaDE protocol: the pretrained ``autoencoder`` and the
    ``gmm`` fitted on its codes as the start (:meth:`GMMVAE.from_two_step`), Adam at ``lr`` with
    VaDE's betas, decayed by VaDE's factor every 10 epochs. With ``labelled = (x, y)`` the run's
    ``accuracy`` holds the clustering accuracy on ``x`` against labels ``y`` at the start and after
    every epoch (it only watches: training is unchanged)."""
    accuracy, trained = [], {}

    def build():
        trained["model"] = GMMVAE.from_two_step(autoencoder, gmm, likelihood=likelihood, beta=beta)
        if labelled is not None:
            accuracy.append(clustering_accuracy(labelled[1], trained["model"].cluster(labelled[0])))
        return trained["model"]

    def watch(history) -> bool:  # after every epoch: record, never stop
        accuracy.append(clustering_accuracy(labelled[1], trained["model"].cluster(labelled[0])))
        return False

    run = run_joint(build, data, seed=seed, epochs=epochs, lr=lr, batch_size=batch_size, device=device, desc=desc,
                    validation=validation, betas=VADE_BETAS, lr_decay=VADE_LR_DECAY,
                    stop=watch if labelled is not None else None)
    run.accuracy = accuracy
    return run


def accuracy_figure(run: JointRun, title: str, *, anchor: tuple[float, str] | None = None):
    """The clustering accuracy (%) of a run per epoch (epoch 0: its start), with an optional
    horizontal ``anchor`` line ``(value in %, label)``."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.4))
    ax.plot(range(len(run.accuracy)), [100 * a for a in run.accuracy], marker="o", ms=3)
    if anchor is not None:
        ax.axhline(anchor[0], color="0.5", ls="--", lw=1, label=anchor[1])
        ax.legend(fontsize=8)
    ax.set_xlabel("epoch (0: the start)")
    ax.set_ylabel("test clustering accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def convergence_figure(runs: dict[str, JointRun], title: str, *, objective: str = "loss (negative weighted ELBO)"):
    """Training loss (thin) and held-out objective (thick) of each run against its epochs, one
    colour per run, the legend giving each run's convergence verdict."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for i, (label, run) in enumerate(runs.items()):
        colour = f"C{i}"
        epochs = np.arange(1, run.epochs + 1)
        ax.plot(epochs, run.history, color=colour, lw=1, alpha=0.6)
        if run.history.validation:
            verdict = run.convergence
            state = "converged" if verdict.converged else ("not converged" if verdict.judged else "not judged")
            ax.plot(epochs, run.history.validation, color=colour, lw=2.2, marker="o" if run.epochs < 30 else None,
                    ms=3, label=f"{label}: {state}")
    ax.plot([], [], color="0.4", lw=1, alpha=0.6, label="(thin: training loss)")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"held-out {objective}")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def convergence_table(runs: dict[str, JointRun]) -> str:
    """One line per run: epochs, training seconds, first and last held-out objective, the verdict."""
    width = max(24, *(len(label) + 2 for label in runs))
    lines = [f"{'':<{width}}{'epochs':>7}{'seconds':>9}{'held-out start':>16}{'held-out end':>14}   verdict"]
    for label, run in runs.items():
        curve = run.history.validation or [float("nan")]
        lines.append(f"{label:<{width}}{run.epochs:>7}{run.seconds:>9.0f}{curve[0]:>16.3f}{curve[-1]:>14.3f}   "
                     f"{run.convergence.describe()}")
    return "\n".join(lines)


def time_to_reach(run: JointRun, target: float) -> tuple[int, float] | None:
    """The first epoch (from 1) whose held-out objective is at or below ``target``, and the training
    seconds up to the end of it; ``None`` when the run never reached it."""
    for epoch, (value, seconds) in enumerate(zip(run.history.validation, run.history.seconds), start=1):
        if value <= target:
            return epoch, seconds
    return None


@dataclass
class CostRow:
    """One model of an equal-compute table: what its training cost and what it scored."""

    label: str
    network_epochs: int
    seconds: float
    distance: float
    heldout_objective: float
    verdict: str
    accuracy: float = float("nan")


def cost_table(rows: list[CostRow], distance_name: str) -> str:
    """The equal-compute table: network epochs and wall time of all training (both steps for a
    two-step model), the Fréchet distance, the held-out objective, clustering accuracy, convergence."""
    width = max(30, *(len(r.label) + 2 for r in rows))
    dw = max(18, len(distance_name) + 2)
    header = f"{'':<{width}}{'net epochs':>11}{'train s':>9}{distance_name:>{dw}}{'held-out obj.':>15}{'cluster acc':>13}"
    lines = [header + "   convergence"]
    for r in rows:
        acc = "" if np.isnan(r.accuracy) else f"{100 * r.accuracy:.1f}%"
        lines.append(f"{r.label:<{width}}{r.network_epochs:>11}{r.seconds:>9.0f}{r.distance:>{dw}.2f}"
                     f"{r.heldout_objective:>15.2f}{acc:>13}   {r.verdict}")
    return "\n".join(lines)


def run_label(key: str) -> str:
    """The reader's name of a run keyed ``joint_<run>_<k>``: ``joint_vade_10`` -> "joint, VaDE protocol, 10 comp."."""
    return ModelKey.parse(key).label


@phased("scoring")
def two_step_objectives(autoencoder, sweep, components, heldout, *, likelihood: str, beta: float,
                        seed: int) -> dict[int, float]:
    """The joint objective on ``heldout`` of each two-step model (the autoencoder and the sweep's
    diagonal GMM of ``k`` components, as the joint model from two-step starts), with the noise
    seed the joint runs' held-out curves use: where the joint models' curves start from."""
    out = {}
    for k in components:
        start = GMMVAE.from_two_step(autoencoder, sweep.prior(k, "diag"), likelihood=likelihood, beta=beta)
        out[k] = mean_loss(start, start.loss, heldout, seed=seed)
    return out


def equal_compute(score, features: str, runs: dict[str, JointRun], *, step1_epochs: int, step1_seconds: float,
                  gmm_seconds: dict[int, float], two_step_objective: dict[int, float],
                  accuracy: dict[str, float] | None = None) -> tuple[str, dict[str, float]]:
    """The equal-compute table of a chapter and what it measured, as ``(text, timings)``.

    Rows per component count ``k`` of ``two_step_objective``: the two-step diagonal GMM (step 1 plus
    its EM fit), then every run named ``joint_<init>_<k>`` (``init``: ``two_step`` and ``vade``
    start from the two-step model, so their cost includes it; ``random`` starts from nothing).
    ``score`` is the chapter's :class:`~twostep.evaluation.scoring.SampleScorer`; ``accuracy``
    maps a model key to its clustering accuracy. The text ends with how long joint training from
    random took to reach the two-step model's held-out objective (the paper's cost argument)."""
    def distance(key: str) -> float:  # NaN for a model the chapter did not score
        result = score.results.get(key, {}).get(features)
        return float("nan") if result is None else result.full

    accuracy = accuracy or {}
    rows, timings = [], {"step1.train_seconds": step1_seconds}
    for k, objective in two_step_objective.items():
        key = str(two_step("diag", k))
        rows.append(CostRow(f"two-step diag, {k}", step1_epochs, step1_seconds + gmm_seconds[k], distance(key), objective, "EM to its tolerance",
                            accuracy.get(key, float("nan"))))
        timings[f"{key}.fit_seconds"] = gmm_seconds[k]
        for init, label in JOINT_RUNS.items():
            key = str(joint(init, k))
            if key not in runs:
                continue
            run = runs[key]
            epochs, seconds = (0, 0.0) if init == "random" else (step1_epochs, step1_seconds + gmm_seconds[k])
            rows.append(CostRow(f"{label}, {k}", epochs + run.epochs, seconds + run.seconds, distance(key),
                                run.history.validation[-1] if run.history.validation else float("nan"),
                                run.convergence.describe().split(":")[0], accuracy.get(key, float("nan"))))
            timings[f"{key}.train_seconds"] = run.seconds
    lines = [cost_table(rows, distance_label(features))]
    for k, objective in two_step_objective.items():
        run = runs.get(str(joint("random", k)))
        if run is None:
            continue
        reached = time_to_reach(run, objective)
        best = min(run.history.validation, default=float("nan"))
        lines.append(f"{k} components: two-step took {step1_seconds + gmm_seconds[k]:.0f} s to a held-out objective of "
                     f"{objective:.2f}; " + (f"joint from random reached it at epoch {reached[0]} after {reached[1]:.0f} s."
                                             if reached else f"joint from random did not reach it in {run.epochs} epochs "
                                             f"({run.seconds:.0f} s; its best: {best:.2f})."))
    return "\n".join(lines), timings


def converged_lines(metrics: dict[str, float], sizes, *, budget: int, features: str) -> list[str]:
    """A line per joint size in ``sizes`` comparing its model trained on until converged with the
    same model at the authors' ``budget`` of epochs: held-out objective and distance on
    ``features``, and whether each got better (the FID chapters' summary)."""
    lines = []
    for k in sizes:
        short, long = str(joint("two_step", k)), str(joint("converged", k))
        fd = {key: metrics[f"{key}.fid_{features}"] for key in (short, long)}
        objective = {key: metrics[f"{key}.heldout_objective"] for key in (short, long)}
        state = "converged" if metrics[long + ".converged"] else "not converged at joint_max_epochs"
        lines.append(
            f"- Trained on ({metrics[long + '.epochs']:.0f} epochs instead of {budget}, {state}), "
            f"the joint model with {k} components went from {objective[short]:.1f} to "
            f"{objective[long]:.1f} in held-out objective and from {fd[short]:.2f} to {fd[long]:.2f} in "
            f"{distance_label(features)}: {'better' if objective[long] < objective[short] else 'no better'} on its "
            f"own objective, {'better' if fd[long] < fd[short] else 'worse'} samples by this distance.")
    return lines


def converged_panels(metrics: dict[str, float], k: int, *, budget: int) -> dict[str, str]:
    """Sample panels (title -> model key) of the two-step diagonal GMM of ``k`` components, the joint
    model from it at the authors' ``budget`` and the same trained until converged, each titled with
    its held-out objective."""
    keys = {f"two-step diag GMM ({k})": str(two_step("diag", k)),
            f"joint, {budget} epochs": str(joint("two_step", k)),
            f"joint, until converged ({metrics[joint('converged', k).metric('epochs')]:.0f} epochs)":
                str(joint("converged", k))}
    return {f"{title}\nheld-out objective {metrics[f'{key}.heldout_objective']:.1f}": key for title, key in keys.items()}
