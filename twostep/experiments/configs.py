"""Validated configurations of the experiment notebooks: one pydantic model per notebook, the one
source of every parameter's default, meaning and allowed values.

Each field holds its default and its description (``Field(default, description=...)``) beside its
bounds, choices and list lengths, and the checks that involve several parameters. A notebook's
``parameters`` cell states the same defaults and descriptions as literals (papermill injects new
values after it and shows it); ``tests/test_configs.py`` fails when the cell and the config
disagree. A parameter that must equal another chapter's (to share its cached model) takes its
default from that chapter's config with :func:`as_in`. The cell after the parameters builds the
config::

    cfg = GridConfig.from_notebook(globals())
    device, out = cfg.setup()

``GridConfig()`` is the default configuration. A bad value raises
:class:`~twostep.core.checks.ParameterError` before any training, naming the parameter, the value
and what is allowed (``epochs=-1 is not allowed: input should be greater than or equal to 0.``).
``tests/test_configs.py`` also checks that every notebook parameter has a field here (and no field
lacks a parameter) and that every profile of ``notebooks/profiles.yaml`` validates.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import torch
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from twostep.core.profiling import record_cells
from twostep.core.runtime import get_device
from twostep.core.seeds import seed_everything
from twostep.core.checks import ParameterError
from twostep.priors.hmm import HMM_INITS

# FID∞'s largest sample size a side on a CPU (benchmarks/fid_infinity.py measures how far the 1/N fit holds there)
FID_INFINITY_SAMPLES = 1000

PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
Covariance = Literal["full", "diag", "spherical", "tied"]
Device = Literal["cpu", "cuda", "auto"]
Inception = Literal["auto", "always", "never"]
HmmInit = Literal[tuple(HMM_INITS)]  # the library's choices (twostep.priors.hmm), one list
ComponentCounts = Annotated[list[PositiveInt], Field(min_length=1)]
AudioSeconds = Annotated[float, Field(ge=0.5)]  # a length of audio (generated, a segment, a measure), at least 0.5 s


def as_in(config: type[BaseModel], name: str):
    """The default of ``config``'s parameter ``name``: a parameter that must equal another chapter's
    (to share its cached model, or its measure) takes its default from there, stated once."""
    return config.model_fields[name].default


def _sorted_unique(values: list[int]) -> list[int]:
    return sorted(set(values))


def _message(error: dict[str, Any]) -> str:
    loc = error["loc"]
    name = "".join(f"[{part}]" if isinstance(part, int) else (f".{part}" if i else str(part))
                   for i, part in enumerate(loc))
    msg = error["msg"].removeprefix("Value error, ")
    if not loc:  # a check across several parameters words its own message
        return msg
    return f"{name}={error['input']!r} is not allowed: {msg[0].lower()}{msg[1:]}."


class CachedModelConfig(BaseModel):
    """What defines a cached trained model: the cache key is its ``model_dump()`` (with the model's
    name and the data's size), so two chapters share a trained model exactly when they hold equal
    configs. No defaults here: each chapter builds its config from its own parameters (for instance
    :attr:`MNISTConfig.vae`, :attr:`GANPriorConfig.vae`), whose defaults are stated once, in the
    chapter configs below."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    def key(self, **context: Any) -> dict[str, Any]:
        """The cache key's configuration: ``context`` (model name, code format, data) and the fields."""
        return {**context, **self.model_dump(mode="json")}


class MnistVAEConfig(CachedModelConfig):
    """Step 1 on MNIST (:func:`twostep.experiments.mnist.mnist_vae`): the authors' MLP VAE and its training."""

    latent_dim: PositiveInt
    hidden_dim: PositiveInt
    beta: PositiveFloat
    epochs: PositiveInt
    batch_size: PositiveInt
    lr: PositiveFloat
    seed: NonNegativeInt


class CelebAVAEConfig(CachedModelConfig):
    """Step 1 on CelebA (:func:`twostep.experiments.celeba_fid.celeba_vae`): the conv VAE and its training."""

    latent_dim: PositiveInt
    width: PositiveInt
    beta: PositiveFloat
    epochs: PositiveInt
    batch_size: PositiveInt
    lr: PositiveFloat
    seed: NonNegativeInt


class AudioVAEConfig(CachedModelConfig):
    """Step 1 on audio frames (:func:`twostep.experiments.clarinet_hmm.clarinet_vae`); the data's
    description (source, rate, framing, split) joins the key beside it."""

    latent_dim: PositiveInt
    channels: Annotated[list[PositiveInt], Field(min_length=2, max_length=2)]
    kernel: Annotated[int, Field(ge=2)]
    beta: PositiveFloat
    epochs: PositiveInt
    batch_size: PositiveInt
    lr: PositiveFloat
    seed: NonNegativeInt


class WGANPriorConfig(CachedModelConfig):
    """Step 2 of the GAN chapter (:func:`twostep.experiments.mnist.mnist_wgan_prior`): a WGAN-GP on
    the codes of a cached MNIST VAE (whose config joins the key)."""

    hidden: PositiveInt
    iterations: PositiveInt
    batch_size: Annotated[int, Field(ge=2)]
    n_critic: PositiveInt
    gp_weight: NonNegativeFloat
    lr: PositiveFloat
    seed: NonNegativeInt


class NotebookConfig(BaseModel):
    """What every experiment notebook has: a master seed, a device and an output folder."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)
    notebook: ClassVar[str]

    seed: NonNegativeInt = Field(0, description='master seed: networks, EM, sampling')
    device: Device = Field("auto", description='"auto": a CUDA GPU when there is one, else the CPU; or "cpu", "cuda"')
    output_dir: str = Field("outputs/mnist_fid", description='metrics.json, samples.npz and figures are written here')

    @classmethod
    def from_notebook(cls, namespace: dict[str, Any]):
        """The config of the parameters found in ``namespace`` (a notebook's ``globals()``)."""
        missing = [name for name in cls.model_fields if name not in namespace]
        if missing:
            raise ParameterError(f"{cls.__name__}: the notebook does not define {', '.join(missing)}")
        return cls.validated({name: namespace[name] for name in cls.model_fields})

    @classmethod
    def validated(cls, values: dict[str, Any]):
        """Build the config; every error is reported in one :class:`ParameterError`."""
        try:
            return cls(**values)
        except ValidationError as error:
            raise ParameterError("\n".join(_message(e) for e in error.errors())) from None

    def setup(self) -> tuple[torch.device, Path]:
        """Create the output folder, resolve the device, set the torch threads on a CPU
        (``$TWOSTEP_THREADS``, which the sweep runner sets for each run, else at most 2: two
        processes on 2 cores each using 2 threads run 5-10 times slower), seed everything."""
        out = Path(self.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        device = get_device(self.device)
        if device.type == "cpu":
            threads = os.environ.get("TWOSTEP_THREADS")
            torch.set_num_threads(int(threads) if threads else max(1, min(torch.get_num_threads(), 2)))
        seed_everything(self.seed)
        record_cells(out)  # each later cell's seconds by phase, in profile.json (benchmarks/book_profile.py)
        return device, out


class FIDConfig(NotebookConfig):
    """The FID protocol: error bars over ``n_batches`` batches, one FID over ``n_fid_samples``."""

    n_batches: Annotated[int, Field(ge=2)] = Field(5, description='FID error bars: this many batches ...')
    fid_batch_size: Annotated[int, Field(ge=2)] = Field(1000, description='... of this many samples (the paper: 5 x 1,000)')
    n_fid_samples: PositiveInt = Field(10000, description='one FID over this many samples, comparable in protocol with published FIDs')
    inception: Inception = Field("auto", description='Inception FIDs of every model: "auto" (on a GPU; the weights are installed offline), "always", "never"')
    samples_saved: NonNegativeInt = Field(1000, description='samples per model written to samples.npz (uint8)')

    @model_validator(mode="after")
    def _enough_fid_samples(self):
        if self.n_fid_samples < self.n_batches * self.fid_batch_size:
            raise ValueError(f"n_fid_samples={self.n_fid_samples} is not allowed: it must be at least n_batches x "
                             f"fid_batch_size = {self.n_batches * self.fid_batch_size}.")
        return self


class MNISTDataConfig(FIDConfig):
    """MNIST chapters: the first ``n_train`` training images and the offline CNN feature network."""

    n_train: Annotated[int, Field(ge=100, le=60000)] = Field(60000, description='training images used (the first n_train of the 60,000)')
    classifier_epochs: PositiveInt = Field(3, description='epochs of the offline FID feature network (a small CNN)')


class SweepConfig(FIDConfig):
    """Chapters that sweep two-step GMMs and train joint GMM-VAEs on a cached VAE (Fig. 3)."""

    latent_dim: PositiveInt = Field(20, description='VAE latent size; authors: 20')
    epochs: PositiveInt = Field(40, description='VAE epochs; authors: 1250 (batch 3000), too long for a CPU')
    batch_size: PositiveInt = Field(256, description='VAE minibatch; authors: 3000')
    lr: PositiveFloat = Field(1e-3, description='VAE Adam learning rate (betas 0.5, 0.999); authors: 2e-4 with 1250 epochs')
    beta: PositiveFloat = Field(0.1, description='KL weight of the VAE loss L1 + beta * KL; authors: 0.1')
    component_counts: ComponentCounts = Field([1, 10, 20, 50, 100], description='GMM sizes of the two-step priors (the sweep of Fig. 3)')
    covariance_types: Annotated[list[Covariance], Field(min_length=1)] = Field(["diag", "full"], description='two-step GMM covariances to compare')
    n_init: PositiveInt = Field(1, description='EM restarts per two-step GMM; authors: 10')
    joint_components: list[PositiveInt] = Field([10, 50], description='component counts of the joint GMM-VAE (both initialisations)')
    joint_epochs: NonNegativeInt = Field(10, description='epochs of the joint model initialised from two-step; authors: 100')
    joint_converged_components: list[PositiveInt] = Field([10, 50], description='these joint models (from two-step) are also trained until their held-out objective converges ([]: none)')
    joint_max_epochs: NonNegativeInt = Field(40, description='... for at most this many epochs (and at least joint_epochs)')
    joint_lr: PositiveFloat = Field(1e-4, description='joint Adam learning rate (betas 0.5, 0.999); authors: 1e-4')
    joint_beta: PositiveFloat = Field(1.0, description="weight of eq. 2's KL part in the joint loss; authors: 1 on MNIST")
    inception_samples: NonNegativeInt = Field(300, description='Inception check, at every seed: samples per claim-deciding model (and real digits) scored with Inception FID/KID on any device; 0: skip')
    fid_infinity_samples: NonNegativeInt = Field(FID_INFINITY_SAMPLES, description='FID∞ (Chong and Forsyth 2020) of the VAE and its 10-component GMM, the models published FIDs compare, fitted from Inception FIDs at up to this many samples a side (first seed only in the book); 0: skip')
    use_cache: bool = Field(True, description='reuse the cached VAE and feature network when their parameters match')

    _unique = field_validator("component_counts", "joint_components")(_sorted_unique)

    @model_validator(mode="after")
    def _converged_sizes(self):
        if not set(self.joint_converged_components) <= set(self.joint_components):
            raise ValueError(f"joint_converged_components={self.joint_converged_components} is not allowed: each must be "
                             f"one of joint_components={self.joint_components}")
        if self.joint_converged_components and self.joint_max_epochs and self.joint_max_epochs < self.joint_epochs:
            raise ValueError(f"joint_max_epochs={self.joint_max_epochs} is not allowed: the run until convergence "
                             f"continues the authors' budget, joint_epochs={self.joint_epochs} (or 0: skip it)")
        return self

    @property
    def samples_kept(self) -> int:
        """Samples per model the scorer keeps as saved (uint8): what the Inception check and FID∞ read."""
        return max(self.inception_samples, self.fid_infinity_samples)

    @model_validator(mode="after")
    def _inception_check_size(self):
        if self.inception_samples and not 8 <= self.inception_samples <= self.n_fid_samples:
            raise ValueError(f"inception_samples={self.inception_samples} is not allowed: it must be 0 (no Inception "
                             f"check) or between 8 and n_fid_samples = {self.n_fid_samples}.")
        if self.fid_infinity_samples and not (self.inception_samples and 16 <= self.fid_infinity_samples <= self.n_fid_samples):
            raise ValueError(f"fid_infinity_samples={self.fid_infinity_samples} is not allowed: it must be 0 (no FID∞) or, "
                             f"with the Inception check on (inception_samples > 0), between 16 and n_fid_samples = "
                             f"{self.n_fid_samples}.")
        return self


class GridConfig(NotebookConfig):
    notebook: ClassVar[str] = "grid_gmm"
    output_dir: str = Field("outputs/grid_gmm", description='metrics.json, samples.npz and the figure are written here')
    n_components: PositiveInt = Field(16, description='components of every GMM (two-step priors and the joint GMM-VAE); authors: 16')
    covariance_type: Covariance = Field("diag", description='covariance of the two-step GMMs: "diag" (authors), "full", "spherical" or "tied"')
    latent_dim: PositiveInt = Field(5, description='size of the latent code h; authors: 5')
    hidden_dim: PositiveInt = Field(600, description='width of the single tanh hidden layer of encoder and decoder; authors: 600')
    epochs: NonNegativeInt = Field(1250, description='full-batch epochs of the N(0, I) VAE; authors: 1250')
    joint_epochs: NonNegativeInt = Field(1250, description='full-batch epochs of the joint GMM-VAE; authors: 1250')
    joint_prior_lr: PositiveFloat = Field(1e-2, description='the "prior can move" variant: Adam learning rate of the joint GMM\'s parameters (network: 1e-4)')
    joint_max_epochs: NonNegativeInt = Field(10000, description="the joint GMM-VAE (and the prior-lr variant) trained on until its held-out objective converges, at most this long (0: skip); the claim reads the converged one")
    joint_snapshot_every: NonNegativeInt = Field(1250, description="the joint GMM-VAE trained until converged is sampled every this many epochs from joint_epochs on, to show whether its modes covered plateaued (0: only at its two ends)")
    beta: PositiveFloat = Field(0.1, description='KL weight of the loss L1 + beta * KL (authors: 0.1), i.e. a Laplace decoder of scale beta')
    n_init: PositiveInt = Field(10, description='EM restarts of each two-step GMM; authors: 10')
    n_per_mode: Annotated[int, Field(ge=5)] = Field(100, description='training points per mixture component (validation/test use a fifth of it each); authors: 100')
    data_std: PositiveFloat = Field(0.1, description='standard deviation of each data component; authors: about 0.1')
    n_samples: Annotated[int, Field(ge=16)] = Field(2000, description='samples drawn from every model for the figure and the mode metrics')
    n_importance: PositiveInt = Field(200, description='importance samples per test point for the held-out log-likelihood')
    illustrate: bool = Field(True, description="False: only the models that decide the claims (the book's seeds after the first): no joint variants")

    @model_validator(mode="after")
    def _components_fit_the_data(self):
        if self.joint_max_epochs and self.joint_max_epochs < self.joint_epochs:
            raise ValueError(f"joint_max_epochs={self.joint_max_epochs} is not allowed: it must be 0 (no run until "
                             f"convergence) or at least joint_epochs={self.joint_epochs}, the budget it continues")
        if self.n_components > 16 * self.n_per_mode:
            raise ValueError(f"n_components={self.n_components} is not allowed: it is more than the "
                             f"{16 * self.n_per_mode} training points")
        return self


class MNISTConfig(SweepConfig, MNISTDataConfig):
    notebook: ClassVar[str] = "mnist_fid"
    hidden_dim: PositiveInt = Field(600, description='hidden units of encoder and decoder (tanh); authors: 600')
    gmm_max_codes: NonNegativeInt = Field(20000, description='fit two-step GMMs on at most this many training codes (0: all 60,000)')
    joint_random_epochs: NonNegativeInt = Field(40, description='epochs of the joint model from random initialisation (as many as the VAE: equal network epochs)')
    joint_batch_size: PositiveInt = Field(256, description='joint minibatch')
    joint_likelihood: Literal["bernoulli", "laplace"] = Field("bernoulli", description='joint reconstruction term: "bernoulli" (BCE, authors) or "laplace" (L1)')
    heldout_images: Annotated[int, Field(ge=10, le=10000)] = Field(2000, description="test images on which every joint model's objective is recorded after each epoch")
    vade_epochs: NonNegativeInt = Field(30, description='epochs of the VaDE-protocol joint model (at every joint component count), judged converged or not at the end; 0: skip')
    vade_lr: PositiveFloat = Field(2e-3, description='its Adam learning rate, times 0.9 every 10 epochs (Jiang et al. 2017: 0.002)')
    vade_batch_size: PositiveInt = Field(256, description='its minibatch; Jiang et al. 2017: 100')
    illustrate: bool = Field(True, description="False: only the models that decide the claims (the book's seeds after the first): diag GMMs, joint from two-step")

    @property
    def vae(self) -> MnistVAEConfig:
        """Step 1 (the cached VAE the GAN chapter and the prior zoo share when equal)."""
        return MnistVAEConfig(latent_dim=self.latent_dim, hidden_dim=self.hidden_dim, beta=self.beta, epochs=self.epochs,
                              batch_size=self.batch_size, lr=self.lr, seed=self.seed)

    @property
    def swept_covariances(self) -> list[str]:
        """The two-step covariances this run fits: all of ``covariance_types``, or with
        ``illustrate=False`` only the diagonal one, which the claims use."""
        return [c for c in self.covariance_types if self.illustrate or c == "diag"]

    @property
    def joint_inits(self) -> tuple[str, ...]:
        """The joint models' initialisations at the authors' budget: from two-step and from random,
        or with ``illustrate=False`` only from two-step (joint from random decides no claim)."""
        return ("two_step", "random") if self.illustrate else ("two_step",)

    @model_validator(mode="after")
    def _sizes(self):
        largest = max(self.component_counts + self.joint_components)
        if self.n_train < self.n_batches * self.fid_batch_size:
            raise ValueError(f"n_train={self.n_train} is not allowed: it is fewer than the {self.n_batches} x "
                             f"{self.fid_batch_size} images of the real-data FID check")
        if self.gmm_max_codes and largest > self.gmm_max_codes:
            raise ValueError(f"gmm_max_codes={self.gmm_max_codes} is not allowed: it is fewer than the {largest} "
                             "GMM components asked for")
        return self


class CelebAConfig(SweepConfig):
    notebook: ClassVar[str] = "celeba_fid"
    batch_size: PositiveInt = Field(64, description='VAE minibatch; authors: 48')
    component_counts: ComponentCounts = Field([1, 10, 20, 50], description='GMM sizes of the two-step priors; authors: 50')
    epochs: PositiveInt = Field(8, description='VAE epochs; authors: 25 (on the full 200k images)')
    joint_epochs: NonNegativeInt = Field(2, description='joint epochs; authors: 5')
    latent_dim: PositiveInt = Field(64, description='VAE latent size; authors: 100')
    lr: PositiveFloat = Field(5e-4, description='VAE Adam learning rate (betas 0.5, 0.999); authors: 2e-4')
    n_fid_samples: PositiveInt = Field(5000, description='one FID over this many samples')
    output_dir: str = Field("outputs/celeba_fid", description='metrics.json, samples.npz and figures are written here')
    samples_saved: NonNegativeInt = Field(200, description='samples per model written to samples.npz (uint8)')
    n_images: Annotated[int, Field(ge=20)] = Field(10000, description='images read (the offline copy has the first 10,000 aligned faces)')
    n_test: Annotated[int, Field(ge=2)] = Field(2000, description='the last n_test images are held out as the real images of FID')
    image_size: Annotated[int, Field(ge=16, le=256)] = Field(64, description='side of the centre-cropped, resized images; authors: 64')
    width: PositiveInt = Field(32, description='channels of the first conv layer (doubled 3 times); authors: 128')
    rotnet_epochs: PositiveInt = Field(2, description='epochs of the offline FID feature network')
    heldout_images: Annotated[int, Field(ge=10)] = Field(500, description="test faces on which the joint models' objective is recorded after each epoch")
    joint_converged_components: list[PositiveInt] = Field([10], description='these joint models (from two-step) are also trained until their held-out objective converges ([]: none)')
    joint_max_epochs: NonNegativeInt = Field(16, description='... for at most this many epochs (and at least joint_epochs)')
    inception_samples: NonNegativeInt = Field(500, description="Inception check, at every seed: samples per claim-deciding model (and real faces) scored with Inception FID/KID; the claims are decided on its KID; 0: skip")

    @property
    def vae(self) -> CelebAVAEConfig:
        """Step 1 (the cached conv VAE)."""
        return CelebAVAEConfig(latent_dim=self.latent_dim, width=self.width, beta=self.beta, epochs=self.epochs,
                               batch_size=self.batch_size, lr=self.lr, seed=self.seed)

    @model_validator(mode="after")
    def _sizes(self):
        if self.n_test > self.n_images - 10:
            raise ValueError(f"n_test={self.n_test} is not allowed: it must leave at least 10 of the "
                             f"{self.n_images} images for training")
        if self.fid_infinity_samples > self.n_test:
            raise ValueError(f"fid_infinity_samples={self.fid_infinity_samples} is not allowed: it is more than the "
                             f"n_test={self.n_test} held-out faces it is measured against")
        if self.heldout_images > self.n_test:
            raise ValueError(f"heldout_images={self.heldout_images} is not allowed: it is more than the n_test={self.n_test} "
                             "held-out images")
        largest, n_train = max(self.component_counts + self.joint_components), self.n_images - self.n_test
        if largest > n_train:
            raise ValueError(f"component_counts={self.component_counts} / joint_components={self.joint_components} "
                             f"are not allowed: {largest} GMM components are more than the {n_train} training images")
        return self


class ClarinetConfig(NotebookConfig):
    notebook: ClassVar[str] = "clarinet_hmm"
    output_dir: str = Field("outputs/clarinet_hmm", description='metrics.json, WAV files, latents and figures are written here')
    source: Literal["files", "synth"] = Field("files", description='"files": the authors\' clarinet data; "synth": the library\'s synthesiser (no data needed)')
    n_synth_files: Annotated[int, Field(ge=2)] = Field(40, description='how many 6-second sequences to synthesise when source is "synth"')
    sample_rate: Annotated[int, Field(ge=1000)] = Field(8000, description='Hz; the paper: 8,000')
    frame: Annotated[int, Field(ge=16)] = Field(800, description='samples per frame (100 ms); the paper: 800')
    hop: PositiveInt = Field(400, description='hop between frames (50 ms); the paper: 400')
    n_test_files: PositiveInt = Field(4, description='files held out for the log-likelihood and the real reference audio')
    latent_dim: PositiveInt = Field(80, description='code size per frame; the paper: 80')
    channels: Annotated[list[PositiveInt], Field(min_length=2, max_length=2)] = Field([16, 32], description='conv channels of encoder (and decoder); authors: [64, 128]')
    kernel: Annotated[int, Field(ge=2)] = Field(200, description='convolution length in samples; the paper: 200')
    vae_epochs: PositiveInt = Field(15, description='step-1 epochs; authors: 200')
    vae_batch_size: PositiveInt = Field(200, description='step-1 minibatch of frames; authors: 200')
    vae_lr: PositiveFloat = Field(1e-3, description='Adam learning rate (betas 0.5, 0.999)')
    beta: PositiveFloat = Field(0.1, description='KL weight of the loss L1 + beta * KL')
    n_states: PositiveInt = Field(100, description="HMM states; the paper's text: 100, the authors' code: 370")
    hmm_n_iter: PositiveInt = Field(100, description='Baum-Welch iterations at most; authors: 1,000')
    hmm_tol: NonNegativeFloat = Field(1e-2, description='Baum-Welch convergence threshold on the log-likelihood; authors: 1e-7')
    hmm_n_init: PositiveInt = Field(1, description='Baum-Welch runs from different k-means starts, the most likely fit kept (authors: 1)')
    hmm_init: HmmInit = Field("kmeans", description='how Baum-Welch starts: "kmeans" (every parameter from one k-means partition) or "hmmlearn" (its k-means means only: the authors)')
    hmm_implementation: Literal["scaling", "log"] = Field("scaling", description='hmmlearn\'s forward-backward: "scaling" (faster) or "log"')
    joint_epochs: NonNegativeInt = Field(30, description='budget of each joint model: at most this many epochs (it stops once converged, after 4 at least)')
    joint_chunk: Annotated[int, Field(ge=2)] = Field(40, description='frames per training sequence of the joint models (2 s)')
    joint_batch_size: PositiveInt = Field(8, description='sequences per joint minibatch')
    joint_lr: PositiveFloat = Field(1e-3, description='joint Adam learning rate of the model from random initialisation')
    joint_two_step_lrs: Annotated[list[PositiveFloat], Field(min_length=1)] = Field([1e-3, 3e-4, 1e-4], description="learning rates tried for the joint model from two-step, each for joint_lr_epochs epochs: the one with the lowest held-out objective trains it (one value: no scan)")
    joint_lr_epochs: PositiveInt = Field(2, description='epochs of each learning rate of that scan')
    generate_seconds: AudioSeconds = Field(15, description='seconds of audio generated by each model')
    segment_seconds: AudioSeconds = Field(5.0, description='generated in independent segments of this length (training files last 4 to 8 s)')
    measure_seconds: AudioSeconds = Field(60, description='seconds of audio per model (and of real files) on which the pitch and note measures are taken')
    illustrate: bool = Field(True, description="False: only the models that decide the claims (the book's seeds after the first): no Baum-Welch from the other start")
    use_cache: bool = Field(True, description='reuse the cached audio VAE when its parameters and data match (shared with the prior zoo)')

    @property
    def vae(self) -> AudioVAEConfig:
        """Step 1 (the cached audio VAE the prior zoo shares when equal)."""
        return AudioVAEConfig(latent_dim=self.latent_dim, channels=list(self.channels), kernel=self.kernel, beta=self.beta,
                              epochs=self.vae_epochs, batch_size=self.vae_batch_size, lr=self.vae_lr, seed=self.seed)

    @model_validator(mode="after")
    def _framing(self):
        if self.hop > self.frame:
            raise ValueError(f"hop={self.hop} is not allowed: it must be at most frame={self.frame}")
        if len(self.joint_two_step_lrs) > 1 and 0 < self.joint_epochs < self.joint_lr_epochs:
            raise ValueError(f"joint_lr_epochs={self.joint_lr_epochs} is not allowed: the scan's runs must be shorter "
                             f"than the joint budget, joint_epochs={self.joint_epochs} (0: no joint training, no scan)")
        if (((self.frame - self.kernel) // 2 + 1) - self.kernel) // 2 + 1 < 1:
            raise ValueError(f"kernel={self.kernel} is not allowed: two stride-2 convolutions of that length do "
                             f"not fit a {self.frame}-sample frame")
        return self


class GANPriorConfig(MNISTDataConfig):
    notebook: ClassVar[str] = "gan_prior"
    output_dir: str = Field("outputs/gan_prior", description='metrics.json, samples.npz and figures are written here')
    vae_epochs: PositiveInt = Field(as_in(MNISTConfig, "epochs"), description='step 1, as in the MNIST chapter (same values reuse its cached VAE)')
    vae_batch_size: PositiveInt = Field(as_in(MNISTConfig, "batch_size"), description='step 1 minibatch')
    vae_lr: PositiveFloat = Field(as_in(MNISTConfig, "lr"), description='step 1 learning rate')
    gan_iterations: PositiveInt = Field(3000, description='WGAN-GP generator updates; authors: 100,000')
    gan_hidden: PositiveInt = Field(256, description='hidden units of generator and critic (4 layers each); authors: 1,024')
    gan_batch_size: Annotated[int, Field(ge=2)] = Field(256, description='WGAN-GP minibatch of codes; authors: 3,000')
    gan_lr: PositiveFloat = Field(1e-4, description='Adam learning rate, betas (0, 0.9); authors: 2e-5')
    n_critic: PositiveInt = Field(5, description='critic updates per generator update; authors: 5')
    gp_weight: NonNegativeFloat = Field(10.0, description='gradient-penalty weight lambda; authors: 10')
    gmm_components: NonNegativeInt = Field(50, description='components of the comparison GMM prior (0 leaves it out)')
    illustrate: bool = Field(True, description="False: only the models that decide the claim (the book's seeds after the first): no GMM prior")

    @property
    def vae(self) -> MnistVAEConfig:
        """Step 1: the MNIST chapter's network (its config's defaults) with this chapter's budget, so
        the MNIST chapter's cached VAE is reused when the budgets are equal."""
        return MnistVAEConfig(**{name: as_in(MNISTConfig, name) for name in ("latent_dim", "hidden_dim", "beta")},
                              epochs=self.vae_epochs, batch_size=self.vae_batch_size, lr=self.vae_lr, seed=self.seed)

    @property
    def wgan_prior(self) -> WGANPriorConfig:
        """Step 2: the WGAN-GP prior (cached; the prior zoo reuses the GAN chapter's when equal)."""
        return WGANPriorConfig(hidden=self.gan_hidden, iterations=self.gan_iterations, batch_size=self.gan_batch_size,
                               n_critic=self.n_critic, gp_weight=self.gp_weight, lr=self.gan_lr, seed=self.seed)


class PriorZooConfig(GANPriorConfig):
    """The prior zoo: the GAN chapter's VAE and WGAN-GP prior (shared through the cache when the
    values match), and the other priors' budgets."""

    notebook: ClassVar[str] = "prior_zoo"
    gmm_components: NonNegativeInt = Field(100, description="GMM size: the best of the MNIST chapter's sweep (default run: full, 100); also the DP-GMM's upper bound")
    output_dir: str = Field("outputs/prior_zoo", description='metrics.json, samples.npz and figures are written here')
    gmm_max_codes: PositiveInt = Field(20000, description="fit every prior on at most this many training codes, as the MNIST chapter's GMMs")
    draws: Annotated[int, Field(ge=2, le=20)] = Field(5, description='draws from q(h | x) per image in the "several draws" fits')
    fitted_on_betas: list[PositiveFloat] = Field([1.0], description="KL weights of further VAEs (step 1 otherwise as above, cached) on whose codes the full GMM's fitted-on comparison is repeated; []: none")
    flow_transforms: PositiveInt = Field(3, description='autoregressive layers of the flow')
    flow_hidden: PositiveInt = Field(64, description='hidden units (2 layers) of each flow layer')
    flow_max_epochs: PositiveInt = Field(100, description='at most this many epochs of the flow (early stopping on held-out codes)')
    two_stage_hidden: PositiveInt = Field(256, description="hidden units (2 layers) of the second-stage VAE's encoder and decoder")
    two_stage_max_epochs: PositiveInt = Field(100, description='at most this many epochs of the second-stage VAE (early stopping)')
    patience: PositiveInt = Field(10, description='early stopping: epochs without a better held-out loss')
    audio_source: Literal["files", "synth"] = Field("files", description='sequences: "files" (the clarinet chapter\'s data) or "synth" (the library\'s synthesiser)')
    audio_n_synth_files: Annotated[int, Field(ge=2)] = Field(40, description='how many 6-second sequences to synthesise when audio_source is "synth"')
    audio_n_test_files: PositiveInt = Field(as_in(ClarinetConfig, "n_test_files"), description='as in the clarinet chapter: held-out files')
    audio_latent_dim: PositiveInt = Field(as_in(ClarinetConfig, "latent_dim"), description='as in the clarinet chapter (same values reuse its cached audio VAE)')
    audio_channels: Annotated[list[PositiveInt], Field(min_length=2, max_length=2)] = Field(as_in(ClarinetConfig, "channels"), description='as in the clarinet chapter')
    audio_vae_epochs: PositiveInt = Field(as_in(ClarinetConfig, "vae_epochs"), description='as in the clarinet chapter')
    hmm_states: Annotated[int, Field(ge=2)] = Field(as_in(ClarinetConfig, "n_states"), description='HMM states, as the clarinet chapter; the time-blind GMM gets as many components')
    hmm_n_iter: PositiveInt = Field(as_in(ClarinetConfig, "hmm_n_iter"), description='Baum-Welch iterations at most, as the clarinet chapter')
    hmm_init: HmmInit = Field(as_in(ClarinetConfig, "hmm_init"), description='where Baum-Welch starts, as the clarinet chapter: "kmeans" or "hmmlearn"')
    gru_hidden: PositiveInt = Field(128, description='hidden units of the autoregressive GRU prior')
    gru_max_epochs: PositiveInt = Field(100, description='at most this many epochs of the GRU (early stopping on held-out chunks)')
    audio_seconds: AudioSeconds = Field(15, description='seconds of audio generated by each sequence prior')
    audio_segment_seconds: AudioSeconds = Field(as_in(ClarinetConfig, "segment_seconds"), description='in independent segments of this length, as the clarinet chapter')
    audio_measure_seconds: AudioSeconds = Field(as_in(ClarinetConfig, "measure_seconds"), description='seconds of new pieces per prior (and of real files) for the pitch and note measures, as the clarinet chapter')
    use_cache: bool = Field(True, description='reuse the cached VAE, WGAN-GP prior and feature network when their parameters match')

    @property
    def audio_vae(self) -> AudioVAEConfig:
        """The clarinet chapter's step 1 (its config's defaults where this chapter has no parameter),
        so its cached audio VAE is reused when equal."""
        return AudioVAEConfig(latent_dim=self.audio_latent_dim, channels=list(self.audio_channels),
                              kernel=as_in(ClarinetConfig, "kernel"), beta=as_in(ClarinetConfig, "beta"),
                              epochs=self.audio_vae_epochs, batch_size=as_in(ClarinetConfig, "vae_batch_size"),
                              lr=as_in(ClarinetConfig, "vae_lr"), seed=self.seed)

    @model_validator(mode="after")
    def _components(self):
        if self.gmm_components < 2:
            raise ValueError(f"gmm_components={self.gmm_components} is not allowed: the zoo needs a mixture of at "
                             "least 2 components (the single Gaussian is in the zoo already)")
        if self.gmm_components > self.gmm_max_codes:
            raise ValueError(f"gmm_max_codes={self.gmm_max_codes} is not allowed: it is fewer than the "
                             f"gmm_components={self.gmm_components} to fit")
        return self


class WGANGMMConfig(MNISTDataConfig):
    notebook: ClassVar[str] = "wgan_gmm"
    output_dir: str = Field("outputs/wgan_gmm", description='metrics.json, samples.npz and figures are written here')
    generator: Literal["mlp"] = Field("mlp", description='generator: "mlp" (the authors\' noise_dim -> 600 tanh -> 784 sigmoid)')
    noise_dim: PositiveInt = Field(40, description='generator input size; authors: 40')
    gan_iterations: PositiveInt = Field(4000, description='WGAN-GP generator updates')
    gan_batch_size: Annotated[int, Field(ge=2)] = Field(64, description='WGAN-GP minibatch of images')
    gan_lr: PositiveFloat = Field(1e-4, description='Adam learning rate, betas (0, 0.9)')
    critic_hidden: PositiveInt = Field(512, description="hidden units of the critic's 3 layers")
    n_critic: PositiveInt = Field(5, description='critic updates per generator update')
    gp_weight: NonNegativeFloat = Field(10.0, description='gradient-penalty weight lambda')
    encoder_epochs: PositiveInt = Field(10, description='epochs of the encoder with G frozen (eq. 3); authors: 100')
    encoder_lr: PositiveFloat = Field(1e-4, description='encoder Adam learning rate, betas (0.5, 0.9); authors: 1e-4')
    component_counts: ComponentCounts = Field([1, 10, 20, 50], description='GMM sizes of the sweep')
    covariance_type: Covariance = Field("full", description='GMM covariance; authors: "full"')
    n_init: PositiveInt = Field(1, description='EM restarts')
    gmm_max_codes: NonNegativeInt = Field(20000, description='fit GMMs on at most this many codes (0: all)')

    _unique = field_validator("component_counts")(_sorted_unique)

    @model_validator(mode="after")
    def _enough_codes(self):
        if self.gmm_max_codes and max(self.component_counts) > self.gmm_max_codes:
            raise ValueError(f"gmm_max_codes={self.gmm_max_codes} is not allowed: it is fewer than the "
                             f"{max(self.component_counts)} GMM components asked for")
        return self


class PCABrainsConfig(NotebookConfig):
    notebook: ClassVar[str] = "pca_brains"
    output_dir: str = Field("outputs/pca_brains", description='metrics.json, samples.npz and figures are written here')
    width_px: Annotated[int, Field(ge=16, le=2048)] = Field(228, description='image width after resizing; authors: 456')
    height_px: Annotated[int, Field(ge=16, le=2048)] = Field(160, description='image height after resizing; authors: 320')
    pca_components: PositiveInt = Field(40, description='PCA components (at most the number of images, 132); authors: 500 on 1,800 images')
    gmm_components: PositiveInt = Field(5, description='GMM components of both priors; authors: 30')
    covariance_type: Covariance = Field("full", description='GMM covariance: "full" (authors), "diag", "spherical" or "tied"')
    reg_covar: NonNegativeFloat = Field(1e-2, description="added to GMM covariances (codes are whitened, so this is relative); sklearn's default 1e-6")
    n_init: PositiveInt = Field(10, description='EM restarts; authors: 10')
    vae_latent_dim: PositiveInt = Field(32, description='conv VAE latent size')
    vae_width: PositiveInt = Field(16, description="channels of the conv VAE's first layer (doubled 4 times); authors' DCGAN: 128")
    vae_epochs: NonNegativeInt = Field(150, description='conv VAE epochs (132 images)')
    vae_batch_size: PositiveInt = Field(16, description='conv VAE minibatch')
    vae_lr: PositiveFloat = Field(5e-4, description='conv VAE Adam learning rate (betas 0.5, 0.999)')
    beta: PositiveFloat = Field(0.1, description="KL weight of the conv VAE loss L1 + beta * KL (authors' standard VAE loss)")
    n_samples: Annotated[int, Field(ge=2)] = Field(64, description='samples drawn from each model and scored')

    def validate_images(self, n_images: int) -> None:
        """The checks that need the data: PCA and the GMMs get at most one component per image."""
        if self.pca_components > n_images:
            raise ParameterError(f"pca_components={self.pca_components} is not allowed: there are {n_images} images, "
                                 f"and PCA on {n_images} images has at most {n_images} components.")
        if self.gmm_components > n_images:
            raise ParameterError(f"gmm_components={self.gmm_components} is not allowed: it exceeds the "
                                 f"{n_images} images.")


class FeatureValidationConfig(NotebookConfig):
    """The feature-validation chapter: disturbed real images scored by the offline feature networks
    (the networks' own parameters must match the chapters' to share their cached networks)."""

    notebook: ClassVar[str] = "feature_validation"
    output_dir: str = Field("outputs/feature_validation", description='metrics.json and figures are written here')
    n_per_half: Annotated[int, Field(ge=50, le=5000)] = Field(1000, description='real images in each half (reference, disturbed)')
    levels: Annotated[int, Field(ge=3, le=11)] = Field(5, description='disturbance levels, evenly spaced from 0 (none) to 1 (strongest)')
    n_repeats: Annotated[int, Field(ge=2, le=20)] = Field(5, description='random pairs of disjoint real halves (their distance and its noise)')
    draws: Annotated[int, Field(ge=1, le=200)] = Field(20, description='draws averaged per level of mixing, mode dropping and mode collapse')
    mnist_n_train: Annotated[int, Field(ge=100, le=60000)] = Field(60000, description="as in the MNIST chapters: the cached digit classifier's training images")
    classifier_epochs: PositiveInt = Field(as_in(MNISTConfig, "classifier_epochs"), description="as in the MNIST chapters: the classifier's epochs")
    celeba_images: Annotated[int, Field(ge=200)] = Field(10000, description='as in the CelebA chapter: faces read ...')
    celeba_test: Annotated[int, Field(ge=100)] = Field(2000, description='... of which the last celeba_test are held out (the real images here)')
    image_size: Annotated[int, Field(ge=16, le=128)] = Field(as_in(CelebAConfig, "image_size"), description='as in the CelebA chapter: side of the faces')
    rotnet_epochs: PositiveInt = Field(as_in(CelebAConfig, "rotnet_epochs"), description="as in the CelebA chapter: the rotation network's epochs")
    n_clusters: Annotated[int, Field(ge=2, le=50)] = Field(10, description='face clusters (k-means on pixels) that mode dropping removes')
    inception_per_half: NonNegativeInt = Field(50, description='the same check on Inception (the standard FID network) with this many images per half; 0: skip')
    use_cache: bool = Field(True, description='reuse the cached feature networks (and train them when absent)')

    @model_validator(mode="after")
    def _halves_fit(self):
        if self.inception_per_half and not 8 <= self.inception_per_half <= self.n_per_half:
            raise ValueError(f"inception_per_half={self.inception_per_half} is not allowed: it must be 0 (Inception "
                             f"not checked) or between 8 and n_per_half = {self.n_per_half}.")
        if 2 * self.n_per_half > self.celeba_test:
            raise ValueError(f"n_per_half={self.n_per_half} is not allowed: two halves of it must fit in the "
                             f"celeba_test={self.celeba_test} held-out faces.")
        if self.celeba_test >= self.celeba_images:
            raise ValueError(f"celeba_test={self.celeba_test} is not allowed: it must be below "
                             f"celeba_images={self.celeba_images}.")
        return self


CONFIGS: dict[str, type[NotebookConfig]] = {
    c.notebook: c for c in (GridConfig, MNISTConfig, CelebAConfig, ClarinetConfig, GANPriorConfig, WGANGMMConfig,
                            PCABrainsConfig, FeatureValidationConfig, PriorZooConfig)
}


def allowed(config: type[NotebookConfig], name: str) -> str:
    """What values field ``name`` of ``config`` allows, in words (for the parameters page)."""
    schema = config.model_json_schema()["properties"][name]
    return _describe(schema, config.model_json_schema().get("$defs", {}))


def _describe(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in schema:
        return _describe(defs[schema["$ref"].split("/")[-1]], defs)
    if "enum" in schema:
        return "one of " + ", ".join(f"`{v!r}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']!r}`"
    kind = schema.get("type")
    if kind == "array":
        item = _describe(schema.get("items", {}), defs)
        if schema.get("minItems") and schema.get("minItems") == schema.get("maxItems"):
            return f"list of {schema['minItems']}, each {item}"
        return f"{'non-empty ' if schema.get('minItems') else ''}list, each {item}"
    words = {"integer": "integer", "number": "number", "string": "text", "boolean": "`True` or `False`"}
    low = schema.get("minimum")
    high = schema.get("maximum")
    if low is not None and high is not None:
        return f"{words[kind]} from {low} to {high}"
    bounds = [f"{op} {schema[key]}" for key, op in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"),
                                                   ("exclusiveMaximum", "<")) if key in schema]
    return " ".join([words.get(kind, kind or "value"), *bounds])
