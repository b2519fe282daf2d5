"""The prior zoo: many priors fitted on one cached autoencoder's codes, each timed, its held-out
log-likelihood measured where it has a density, and its decoded samples scored like every other
model in the book (:class:`~twostep.evaluation.scoring.SampleScorer`).

Also what a prior is fitted on: the encoder means mu(x) (the authors' choice), draws from
q(h | x) = N(mu(x), sigma(x)^2) (the aggregate posterior the decoder saw in training, as pythae's
GMM sampler does), and a GMM fitted on the means whose covariances are widened by the mean encoder
variance (moment matching the aggregate posterior); the same comparison on a second VAE whose
encoder variance is a larger share of its codes' spread (:func:`fitted_on_fits`, a beta = 1 VAE in
the chapter), where what the prior is fitted on can matter more.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from twostep.core.seeds import stage_seed
from twostep.evaluation.fid import distance_label
from twostep.evaluation.scoring import SampleScorer
from twostep.experiments.clarinet_hmm import AUDIO_FRAMING, audio_data, clarinet_vae, sample_and_measure
from twostep.pipeline import TwoStepModel
from twostep.priors import (BayesianGMMPrior, FlowPrior, GMMPrior, GRUPrior, HMMPrior, KDEPrior, Prior,
                            StandardNormalPrior, TwoStageVAEPrior)


def encoder_moments(autoencoder, x: np.ndarray, batch_size: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """The encoder's means and variances of q(h | x) for every row of ``x`` (float64)."""
    means, variances = [], []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            batch = torch.as_tensor(np.asarray(x[start : start + batch_size], dtype=np.float32)).to(autoencoder.device)
            mu, logvar = autoencoder.encode_distribution(batch)
            means.append(mu.double().cpu().numpy())
            variances.append(logvar.double().exp().cpu().numpy())
    return np.concatenate(means), np.concatenate(variances)


def posterior_draws(means: np.ndarray, variances: np.ndarray, draws: int, seed: int) -> np.ndarray:
    """``draws`` codes from q(h | x) per row (rows ``draws`` times as many, grouped by draw)."""
    rng = np.random.default_rng(seed)
    return np.concatenate([means + np.sqrt(variances) * rng.standard_normal(means.shape) for _ in range(draws)])


def moment_matched(gmm: GMMPrior, variances: np.ndarray) -> GMMPrior:
    """A copy of a diagonal or full ``gmm`` fitted on encoder means whose every component's
    covariance is widened by the mean encoder variance: the GMM then approximates the aggregate
    posterior (1/N) sum_i N(mu_i, diag sigma_i^2) instead of the distribution of the means."""
    extra = np.asarray(variances).mean(0)
    if gmm.covariance_type == "diag":
        covariances = gmm.covariances_ + extra
    elif gmm.covariance_type == "full":
        covariances = gmm.covariances_ + np.diag(extra)
    else:
        raise ValueError(f"moment matching needs a 'diag' or 'full' GMM, got {gmm.covariance_type!r}")
    return GMMPrior.from_params(gmm.weights_, gmm.means_, covariances, gmm.covariance_type)


def beta_prefix(beta: float) -> str:
    """The key prefix of the models built on a VAE of KL weight ``beta``: ``beta1_``, ``beta0p5_``
    (no dot: a metric name is ``<model>.<measure>``)."""
    return "beta" + f"{beta:g}".replace(".", "p").replace("-", "m") + "_"


def variance_share(means: np.ndarray, variances: np.ndarray) -> float:
    """Mean encoder variance over the mean variance of the encoder means (per dimension, averaged):
    how much of the aggregate posterior's spread the means alone leave out."""
    return float(np.asarray(variances).mean() / np.asarray(means).var(0).mean())


@dataclass
class ZooEntry:
    """One fitted prior of the zoo: what it is, what it was fitted on, its fit time and the mean
    log-likelihood of held-out codes (NaN where the prior has no density)."""

    key: str
    label: str
    fitted_on: str
    prior: Prior
    fit_seconds: float
    heldout_loglik: float


@dataclass
class PriorZoo:
    """Fits priors on codes and scores their decoded samples; ``entries`` in fitting order."""

    autoencoder: object
    scorer: SampleScorer
    heldout_codes: np.ndarray
    seed: int
    entries: dict[str, ZooEntry] = field(default_factory=dict)

    def add(self, key: str, label: str, prior: Prior, codes: np.ndarray | None, *, fitted_on: str = "means",
            seconds: float | None = None) -> ZooEntry:
        """Fit ``prior`` on ``codes`` (timed), measure its held-out log-likelihood and score its
        samples; print one progress line. With ``codes=None`` the prior is fitted already and took
        ``seconds`` to fit."""
        start = time.perf_counter()
        if codes is not None:
            prior = prior.fit(codes)
        seconds = time.perf_counter() - start if seconds is None else seconds
        loglik = float(np.mean(prior.log_prob(self.heldout_codes))) if prior.has_log_prob else float("nan")
        self.scorer(key, TwoStepModel(self.autoencoder, prior), stage_seed(self.seed, "samples"))
        entry = ZooEntry(key, label, fitted_on, prior, seconds, loglik)
        self.entries[key] = entry
        fd = next(iter(self.scorer.results[key].values()))
        print(f"{label:<44} fitted on {fitted_on:<18} in {seconds:6.1f} s   held-out log-lik {loglik:8.2f}   "
              f"{distance_label(fd.features)} {fd.full:8.2f}", flush=True)
        return entry

    def metrics(self) -> dict[str, float]:
        """``<key>.heldout_loglik`` where defined (the scorer has the sample measures). Fit times
        are in :meth:`timings`: wall times are not results, and differ from run to run."""
        return {f"{key}.heldout_loglik": e.heldout_loglik for key, e in self.entries.items()
                if np.isfinite(e.heldout_loglik)}

    def timings(self) -> dict[str, float]:
        """``{key: fit seconds}``, for ``timings.json``."""
        return {key: e.fit_seconds for key, e in self.entries.items()}

    def table(self, features: str) -> str:
        """Markdown: one row per prior, with fit time, held-out log-likelihood and the sample
        measures on ``features``."""
        lines = [(f"| prior | fitted on | fit (s) | held-out log-lik | {distance_label(features)} | KID | "
                  "precision | recall | density | coverage |"), "|---|---|---|---|---|---|---|---|---|---|"]
        for key, e in self.entries.items():
            r = self.scorer.results[key][features]
            q = r.quality
            loglik = f"{e.heldout_loglik:.2f}" if np.isfinite(e.heldout_loglik) else "—"
            cells = [f"{q['kid']:.4g}", *(f"{q[m]:.3f}" for m in ("precision", "recall", "density", "coverage"))] \
                if q else ["—"] * 5
            lines.append(f"| {e.label} | {e.fitted_on} | {e.fit_seconds:.1f} | {loglik} | {r.full:.2f} | "
                         + " | ".join(cells) + " |")
        return "\n".join(lines)

    def figure(self, features: str, keys: list[str] | None = None):
        """Horizontal bars of each prior's distance (all samples) and its fit time."""
        import matplotlib.pyplot as plt

        keys = keys or list(self.entries)
        labels = [f"{self.entries[k].label} ({self.entries[k].fitted_on})" for k in keys]
        fds = [self.scorer.results[k][features].full for k in keys]
        times = [self.entries[k].fit_seconds for k in keys]
        fig, (a, b) = plt.subplots(1, 2, figsize=(12, 0.38 * len(keys) + 1.5), sharey=True)
        y = np.arange(len(keys))
        a.barh(y, fds, color="C0")
        a.set_yticks(y, labels, fontsize=9)
        a.invert_yaxis()
        a.set_xlabel(f"{distance_label(features)} (lower is better)")
        b.barh(y, times, color="C1")
        b.set_xscale("log")
        b.set_xlabel("fit time on the codes (s, this CPU, log scale)")
        for ax in (a, b):
            ax.grid(axis="x", alpha=0.3)
        fig.suptitle("Priors on one MNIST VAE's codes: sample quality and cost")
        fig.tight_layout()
        return fig


def fitted_on_fits(zoo: PriorZoo, means: np.ndarray, variances: np.ndarray, rows: np.ndarray, *, k: int, draws: int,
                   seed: int, prefix: str = "", label: str = "", on_means: bool = False) -> list[str]:
    """The full GMM of ``k`` components fitted on one draw from q(h | x) per image of ``rows``, on
    ``draws`` draws per image (of ``len(rows) // draws`` images, at least ``k``: the same number of
    rows) and moment matched (the means' GMM widened by the mean encoder variance), added to ``zoo``
    as ``<prefix>gmm_full_draw``, ``_draws`` and ``_moments``; with ``on_means`` the GMM on the
    means (``<prefix>gmm_full``) first, else it must be in the zoo already. Returns the keys, the
    means' first. Draws use ``seed``; every GMM is fitted with ``random_state=seed``. The one-draw
    fit's draws of the first images are the several-draws fit's first draws: common random numbers,
    so that the two fits differ by what they are fitted on, not by the noise of two draws."""
    label = label or f"GMM, full, {k} components"
    key = f"{prefix}gmm_full"
    if on_means:
        zoo.add(key, label, GMMPrior(k, "full", random_state=seed), means[rows])
    one_draw = posterior_draws(means[rows], variances[rows], 1, seed)
    n_images = max(k, len(rows) // draws)
    several = posterior_draws(means[rows[:n_images]], variances[rows[:n_images]], draws, seed)
    zoo.add(f"{key}_draw", label, GMMPrior(k, "full", random_state=seed), one_draw, fitted_on="1 draw per image")
    zoo.add(f"{key}_draws", label, GMMPrior(k, "full", random_state=seed), several, fitted_on=f"{draws} draws per image")
    start = time.perf_counter()
    matched = moment_matched(zoo.entries[key].prior, variances[rows])
    zoo.add(f"{key}_moments", label, matched, None, fitted_on="means + variance",
            seconds=zoo.entries[key].fit_seconds + time.perf_counter() - start)
    return [f"{prefix}{name}" for name in FITTED_ON]


FITTED_ON = ("gmm_full", "gmm_full_draw", "gmm_full_draws", "gmm_full_moments")  # the keys fitted_on_fits adds


def fitted_on_sentence(metrics: dict[str, float], features: str, beta: float, *, draws: int) -> str:
    """The summary line of the fitted-on comparison on the beta = ``beta`` VAE (keys under
    :func:`beta_prefix`) beside the chapter's VAE (keys without prefix): the full GMM's distance
    on ``features`` fitted on means, one draw, ``draws`` draws per image and moment matched."""
    def fds(prefix: str) -> list[float]:
        return [metrics[f"{prefix}{key}.fid_{features}"] for key in FITTED_ON]

    ours, base = fds(beta_prefix(beta)), fds("")
    return (f"- Fitted on, β = {beta:g} VAE: the full GMM's distance fitted on means {ours[0]:.2f}, one draw per image "
            f"{ours[1]:.2f}, {draws} draws per image {ours[2]:.2f}, moment matched {ours[3]:.2f} (on the chapter's VAE: "
            + ", ".join(f"{x:.2f}" for x in base) + ").")


SEQUENCE_PRIORS = ("hmm", "gmm_frames", "gru")  # the chapter's sequence priors, metric keys sequence_<key>.*
SEQUENCE_NAMES = {"hmm": "HMM", "gmm_frames": "GMM ignoring time", "gru": "GRU"}


def sequence_sentence(metrics: dict[str, float]) -> str:
    """The summary line of the sequence priors on the audio VAE's codes: each prior's voiced and
    in-tune fraction and its note changes per voiced second, beside the real audio's."""
    def quality(key: str) -> float:
        return metrics[f"sequence_{key}.voiced_fraction"] * metrics[f"sequence_{key}.in_tune_fraction"]

    keys = [*SEQUENCE_PRIORS, "real"]
    names = {**SEQUENCE_NAMES, "real": "real"}
    return (f"- Sequences: voiced and in tune "
            + ", ".join(f"{quality(key):.2f} ({names[key]})" if key != "real" else f"real {quality(key):.2f}" for key in keys)
            + "; note changes per second "
            + ", ".join(f"{metrics[f'sequence_{key}.note_change_rate']:.2f}" if key != "real"
                        else f"real {metrics[f'sequence_{key}.note_change_rate']:.2f}" for key in keys) + ".")


def flow_prior(cfg) -> FlowPrior:
    """The zoo's masked autoregressive flow (``cfg``: a :class:`~twostep.experiments.configs.PriorZooConfig`)."""
    return FlowPrior(transforms=cfg.flow_transforms, hidden=cfg.flow_hidden, max_epochs=cfg.flow_max_epochs,
                     patience=cfg.patience, random_state=cfg.seed, progress=False)


def fit_zoo(zoo: PriorZoo, cfg, codes: np.ndarray, gan) -> dict:
    """Every prior of the zoo on ``codes`` (the VAE's means of the fitted rows), in the chapter's
    order: N(0, I), one full Gaussian, diagonal and full GMMs of ``cfg.gmm_components``, a
    Dirichlet-process GMM, a KDE, a flow, a second-stage VAE, and last the GAN chapter's WGAN-GP
    prior, which ``gan()`` returns with its cache manifest (trained on all images' means, or loaded);
    the manifest is returned."""
    k, seed = cfg.gmm_components, cfg.seed
    zoo.add("normal", "N(0, I) (the VAE's prior)", StandardNormalPrior(), codes)
    zoo.add("gaussian", "one full Gaussian", GMMPrior(1, "full", random_state=seed), codes)
    zoo.add("gmm_diag", f"GMM, diagonal, {k} components", GMMPrior(k, "diag", random_state=seed), codes)
    zoo.add("gmm_full", f"GMM, full, {k} components (the paper's)", GMMPrior(k, "full", random_state=seed), codes)
    zoo.add("dp_gmm", f"Dirichlet-process GMM, diagonal, up to {k}", BayesianGMMPrior(k, "diag", random_state=seed),
            codes)
    zoo.add("kde", "kernel density estimate", KDEPrior(random_state=seed), codes)
    zoo.add("flow", "masked autoregressive flow (zuko)", flow_prior(cfg), codes)
    zoo.add("two_stage_vae", "second-stage VAE (Dai & Wipf)",
            TwoStageVAEPrior(hidden=cfg.two_stage_hidden, max_epochs=cfg.two_stage_max_epochs,
                             patience=cfg.patience, random_state=seed, progress=False), codes)
    prior, info = gan()
    seconds = info["info"]["seconds"]  # its training time, when it was trained (here or by the GAN chapter)
    zoo.add("wgan_gp", "WGAN-GP (the GAN chapter's)", prior, None, fitted_on="means, all images", seconds=seconds)
    return info


def zoo_description(zoo: PriorZoo, *, k: int, gan_cached: bool) -> str:
    """What the fits found: the DP-GMM's active components, the KDE's bandwidth, the flow's and the
    second-stage VAE's epochs, and where the WGAN-GP prior came from."""
    dp, kde = zoo.entries["dp_gmm"].prior, zoo.entries["kde"].prior
    flow, two_stage = zoo.entries["flow"].prior, zoo.entries["two_stage_vae"].prior
    return (f"DP-GMM: {dp.active_components_} of {k} components above 1% weight; KDE bandwidth {kde.bandwidth_} "
            f"(standard deviations); flow {flow.epochs_} epochs, second-stage VAE {two_stage.epochs_} epochs "
            f"(early stopping); WGAN-GP prior {'from the cache' if gan_cached else 'trained here'}")


def zoo_fit_metrics(zoo: PriorZoo) -> dict[str, float]:
    """What the fits found, as metrics: the DP-GMM's active components, the KDE's bandwidth, epochs."""
    return {"dp_gmm.active_components": float(zoo.entries["dp_gmm"].prior.active_components_),
            "kde.bandwidth": float(zoo.entries["kde"].prior.bandwidth_),
            "flow.epochs": float(zoo.entries["flow"].prior.epochs_),
            "two_stage_vae.epochs": float(zoo.entries["two_stage_vae"].prior.epochs_)}


@dataclass
class SequenceZoo:
    """The sequence priors on the audio VAE's codes: their labels, fit seconds and generated sound."""

    labels: dict[str, str]
    seconds: dict[str, float]
    sound: object  # twostep.experiments.clarinet_hmm.AudioSamples


def sequence_zoo(cfg, *, device, progress=print) -> SequenceZoo:
    """An HMM (two-step), a GMM that ignores time and an autoregressive GRU, fitted on the clarinet
    chapter's audio VAE's codes (its cached VAE when ``cfg.audio_vae`` equals its), then sampled and
    measured as that chapter measures audio; ``progress`` gets one line per step."""
    audio = audio_data(cfg.audio_source, **AUDIO_FRAMING, n_test_files=cfg.audio_n_test_files,
                       n_synth_files=cfg.audio_n_synth_files, seed=cfg.seed)
    audio_vae, audio_info = clarinet_vae(np.concatenate(audio.train_frames), audio.config, cfg.audio_vae,
                                         device=device, use_cache=cfg.use_cache)
    progress(f"{audio.describe()}; audio VAE {'loaded from the cache' if audio_info['cached'] else 'trained'}")
    train_codes = [audio_vae.encode(f) for f in audio.train_frames]
    frames, lengths = np.concatenate(train_codes), [len(c) for c in train_codes]
    priors = {
        "hmm": HMMPrior(cfg.hmm_states, n_iter=cfg.hmm_n_iter, init=cfg.hmm_init, random_state=cfg.seed),
        "gmm_frames": GMMPrior(cfg.hmm_states, "diag", random_state=cfg.seed),
        # 8 chunks of 2 s per step; patience doubled: its held-out loss, on a tenth of 90 chunks, is noisy
        "gru": GRUPrior(hidden=cfg.gru_hidden, max_epochs=cfg.gru_max_epochs, patience=2 * cfg.patience,
                        batch_size=8, random_state=cfg.seed, progress=False),
    }
    labels = {"real": "real data (held-out files)", "hmm": f"HMM, {cfg.hmm_states} states (two-step)",
              "gmm_frames": f"GMM, {cfg.hmm_states} components, ignoring time", "gru": "autoregressive GRU"}
    seconds = {}
    for key, prior in priors.items():
        started = time.perf_counter()
        prior.fit(frames, lengths)  # the GMM treats the frames as independent rows
        seconds[key] = time.perf_counter() - started
        progress(f"{labels[key]:<44} fitted in {seconds[key]:6.1f} s")
    sound = sample_and_measure({key: (audio_vae, prior) for key, prior in priors.items()}, audio,
                               hop=AUDIO_FRAMING["hop"], generate_seconds=cfg.audio_seconds,
                               segment_seconds=cfg.audio_segment_seconds, measure_seconds=cfg.audio_measure_seconds,
                               seed=cfg.seed)
    return SequenceZoo(labels, seconds, sound)


def fitted_on_lines(metrics: dict[str, float], zoo: PriorZoo, features: str, *, betas, draws: int) -> list[str]:
    """The chapter's lines on what to fit a prior on (with its illustrations): which of the full
    GMM's fits has the lowest distance on ``features``, the flow on one draw per image against
    means, the same comparison on each VAE of ``betas``, and the sequence priors."""
    m, f = metrics, features
    fits = [key for key in FITTED_ON if f"{key}.fid_{f}" in m]
    best = min(fits, key=lambda key: m[f"{key}.fid_{f}"])
    return [
        f"- Fitted on: of the full GMM's four fits, the lowest distance is the one fitted on "
        f"**{zoo.entries[best].fitted_on}** ({m[f'{best}.fid_{f}']:.2f}, means {m[f'gmm_full.fid_{f}']:.2f}); "
        f"the flow on one draw per image {m[f'flow_draw.fid_{f}']:.2f} against {m[f'flow.fid_{f}']:.2f} on means. "
        "The paper chapters keep the authors' choice (means); the seeds page shows whether this holds across seeds.",
        *[fitted_on_sentence(m, f, beta, draws=draws) for beta in betas],
        sequence_sentence(m),
    ]
