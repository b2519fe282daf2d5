"""Validated configurations of the experiment notebooks: one pydantic model per notebook.

A notebook's ``parameters`` cell declares each parameter with its type, default and meaning (what
papermill injects into and shows); the model here declares, once, what values are allowed: bounds,
choices, list lengths, and the checks that involve several parameters. The cell after the
parameters builds the config::

    cfg = GridConfig.from_notebook(globals())
    device, out = cfg.setup()

A bad value raises :class:`~twostep.core.checks.ParameterError` before any training, naming the
parameter, the value and what is allowed (``epochs=-1 is not allowed: input should be greater than
or equal to 0.``). ``tests/test_configs.py`` checks that every notebook parameter has a field here
(and no field lacks a parameter) and that every profile of ``notebooks/profiles.yaml`` validates.
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
from twostep.core.runtime import get_device, seed_everything
from twostep.core.checks import ParameterError
from twostep.priors.hmm import HMM_INITS

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


class NotebookConfig(BaseModel):
    """What every experiment notebook has: a master seed, a device and an output folder."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)
    notebook: ClassVar[str]

    seed: NonNegativeInt
    device: Device
    output_dir: str

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

    n_batches: Annotated[int, Field(ge=2)]
    fid_batch_size: Annotated[int, Field(ge=2)]
    n_fid_samples: PositiveInt
    inception: Inception
    samples_saved: NonNegativeInt

    @model_validator(mode="after")
    def _enough_fid_samples(self):
        if self.n_fid_samples < self.n_batches * self.fid_batch_size:
            raise ValueError(f"n_fid_samples={self.n_fid_samples} is not allowed: it must be at least n_batches x "
                             f"fid_batch_size = {self.n_batches * self.fid_batch_size}.")
        return self


class MNISTDataConfig(FIDConfig):
    """MNIST chapters: the first ``n_train`` training images and the offline CNN feature network."""

    n_train: Annotated[int, Field(ge=100, le=60000)]
    classifier_epochs: PositiveInt


class SweepConfig(FIDConfig):
    """Chapters that sweep two-step GMMs and train joint GMM-VAEs on a cached VAE (Fig. 3)."""

    latent_dim: PositiveInt
    epochs: PositiveInt
    batch_size: PositiveInt
    lr: PositiveFloat
    beta: PositiveFloat
    component_counts: ComponentCounts
    covariance_types: Annotated[list[Covariance], Field(min_length=1)]
    n_init: PositiveInt
    joint_components: list[PositiveInt]
    joint_epochs: NonNegativeInt
    joint_lr: PositiveFloat
    joint_beta: PositiveFloat
    inception_samples: NonNegativeInt
    use_cache: bool

    _unique = field_validator("component_counts", "joint_components")(_sorted_unique)

    @model_validator(mode="after")
    def _inception_check_size(self):
        if self.inception_samples and not 8 <= self.inception_samples <= self.n_fid_samples:
            raise ValueError(f"inception_samples={self.inception_samples} is not allowed: it must be 0 (no Inception "
                             f"check) or between 8 and n_fid_samples = {self.n_fid_samples}.")
        return self


class GridConfig(NotebookConfig):
    notebook: ClassVar[str] = "grid_gmm"
    n_components: PositiveInt
    covariance_type: Covariance
    latent_dim: PositiveInt
    hidden_dim: PositiveInt
    epochs: NonNegativeInt
    joint_epochs: NonNegativeInt
    joint_prior_lr: PositiveFloat
    joint_max_epochs: NonNegativeInt
    beta: PositiveFloat
    n_init: PositiveInt
    n_per_mode: Annotated[int, Field(ge=5)]
    data_std: PositiveFloat
    n_samples: Annotated[int, Field(ge=16)]
    n_importance: PositiveInt
    illustrate: bool

    @model_validator(mode="after")
    def _components_fit_the_data(self):
        if self.n_components > 16 * self.n_per_mode:
            raise ValueError(f"n_components={self.n_components} is not allowed: it is more than the "
                             f"{16 * self.n_per_mode} training points")
        return self


class MNISTConfig(SweepConfig, MNISTDataConfig):
    notebook: ClassVar[str] = "mnist_fid"
    hidden_dim: PositiveInt
    gmm_max_codes: NonNegativeInt
    joint_random_epochs: NonNegativeInt
    joint_batch_size: PositiveInt
    joint_likelihood: Literal["bernoulli", "laplace"]
    heldout_images: Annotated[int, Field(ge=10, le=10000)]
    vade_epochs: NonNegativeInt
    vade_lr: PositiveFloat
    vade_batch_size: PositiveInt
    illustrate: bool

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
    n_images: Annotated[int, Field(ge=20)]
    n_test: Annotated[int, Field(ge=2)]
    image_size: Annotated[int, Field(ge=16, le=256)]
    width: PositiveInt
    rotnet_epochs: PositiveInt
    heldout_images: Annotated[int, Field(ge=10)]
    joint_converged_components: list[PositiveInt]
    joint_max_epochs: NonNegativeInt

    @model_validator(mode="after")
    def _sizes(self):
        if self.n_test > self.n_images - 10:
            raise ValueError(f"n_test={self.n_test} is not allowed: it must leave at least 10 of the "
                             f"{self.n_images} images for training")
        if self.heldout_images > self.n_test:
            raise ValueError(f"heldout_images={self.heldout_images} is not allowed: it is more than the n_test={self.n_test} "
                             "held-out images")
        if not set(self.joint_converged_components) <= set(self.joint_components):
            raise ValueError(f"joint_converged_components={self.joint_converged_components} is not allowed: each must be "
                             f"one of joint_components={self.joint_components}")
        largest, n_train = max(self.component_counts + self.joint_components), self.n_images - self.n_test
        if largest > n_train:
            raise ValueError(f"component_counts={self.component_counts} / joint_components={self.joint_components} "
                             f"are not allowed: {largest} GMM components are more than the {n_train} training images")
        return self


class ClarinetConfig(NotebookConfig):
    notebook: ClassVar[str] = "clarinet_hmm"
    source: Literal["files", "synth"]
    n_synth_files: Annotated[int, Field(ge=2)]
    sample_rate: Annotated[int, Field(ge=1000)]
    frame: Annotated[int, Field(ge=16)]
    hop: PositiveInt
    n_test_files: PositiveInt
    latent_dim: PositiveInt
    channels: Annotated[list[PositiveInt], Field(min_length=2, max_length=2)]
    kernel: Annotated[int, Field(ge=2)]
    vae_epochs: PositiveInt
    vae_batch_size: PositiveInt
    vae_lr: PositiveFloat
    beta: PositiveFloat
    n_states: PositiveInt
    hmm_n_iter: PositiveInt
    hmm_tol: NonNegativeFloat
    hmm_n_init: PositiveInt
    hmm_init: HmmInit
    hmm_implementation: Literal["scaling", "log"]
    joint_epochs: NonNegativeInt
    joint_chunk: Annotated[int, Field(ge=2)]
    joint_batch_size: PositiveInt
    joint_lr: PositiveFloat
    generate_seconds: AudioSeconds
    segment_seconds: AudioSeconds
    measure_seconds: AudioSeconds
    illustrate: bool
    use_cache: bool

    @model_validator(mode="after")
    def _framing(self):
        if self.hop > self.frame:
            raise ValueError(f"hop={self.hop} is not allowed: it must be at most frame={self.frame}")
        if (((self.frame - self.kernel) // 2 + 1) - self.kernel) // 2 + 1 < 1:
            raise ValueError(f"kernel={self.kernel} is not allowed: two stride-2 convolutions of that length do "
                             f"not fit a {self.frame}-sample frame")
        return self


class GANPriorConfig(MNISTDataConfig):
    notebook: ClassVar[str] = "gan_prior"
    vae_epochs: PositiveInt
    vae_batch_size: PositiveInt
    vae_lr: PositiveFloat
    gan_iterations: PositiveInt
    gan_hidden: PositiveInt
    gan_batch_size: Annotated[int, Field(ge=2)]
    gan_lr: PositiveFloat
    n_critic: PositiveInt
    gp_weight: NonNegativeFloat
    gmm_components: NonNegativeInt
    illustrate: bool


class PriorZooConfig(GANPriorConfig):
    """The prior zoo: the GAN chapter's VAE and WGAN-GP prior (shared through the cache when the
    values match), and the other priors' budgets."""

    notebook: ClassVar[str] = "prior_zoo"
    gmm_max_codes: PositiveInt
    draws: Annotated[int, Field(ge=2, le=20)]
    flow_transforms: PositiveInt
    flow_hidden: PositiveInt
    flow_max_epochs: PositiveInt
    two_stage_hidden: PositiveInt
    two_stage_max_epochs: PositiveInt
    patience: PositiveInt
    audio_source: Literal["files", "synth"]
    audio_n_synth_files: Annotated[int, Field(ge=2)]
    audio_n_test_files: PositiveInt
    audio_latent_dim: PositiveInt
    audio_channels: Annotated[list[PositiveInt], Field(min_length=2, max_length=2)]
    audio_vae_epochs: PositiveInt
    hmm_states: Annotated[int, Field(ge=2)]
    hmm_n_iter: PositiveInt
    hmm_init: HmmInit
    gru_hidden: PositiveInt
    gru_max_epochs: PositiveInt
    audio_seconds: AudioSeconds
    audio_segment_seconds: AudioSeconds
    audio_measure_seconds: AudioSeconds
    use_cache: bool

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
    generator: Literal["mlp"]
    noise_dim: PositiveInt
    gan_iterations: PositiveInt
    gan_batch_size: Annotated[int, Field(ge=2)]
    gan_lr: PositiveFloat
    critic_hidden: PositiveInt
    n_critic: PositiveInt
    gp_weight: NonNegativeFloat
    encoder_epochs: PositiveInt
    encoder_lr: PositiveFloat
    component_counts: ComponentCounts
    covariance_type: Covariance
    n_init: PositiveInt
    gmm_max_codes: NonNegativeInt

    _unique = field_validator("component_counts")(_sorted_unique)

    @model_validator(mode="after")
    def _enough_codes(self):
        if self.gmm_max_codes and max(self.component_counts) > self.gmm_max_codes:
            raise ValueError(f"gmm_max_codes={self.gmm_max_codes} is not allowed: it is fewer than the "
                             f"{max(self.component_counts)} GMM components asked for")
        return self


class PCABrainsConfig(NotebookConfig):
    notebook: ClassVar[str] = "pca_brains"
    width_px: Annotated[int, Field(ge=16, le=2048)]
    height_px: Annotated[int, Field(ge=16, le=2048)]
    pca_components: PositiveInt
    gmm_components: PositiveInt
    covariance_type: Covariance
    reg_covar: NonNegativeFloat
    n_init: PositiveInt
    vae_latent_dim: PositiveInt
    vae_width: PositiveInt
    vae_epochs: NonNegativeInt
    vae_batch_size: PositiveInt
    vae_lr: PositiveFloat
    beta: PositiveFloat
    n_samples: Annotated[int, Field(ge=2)]

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
    n_per_half: Annotated[int, Field(ge=50, le=5000)]
    levels: Annotated[int, Field(ge=3, le=11)]
    n_repeats: Annotated[int, Field(ge=2, le=20)]
    draws: Annotated[int, Field(ge=1, le=200)]
    mnist_n_train: Annotated[int, Field(ge=100, le=60000)]
    classifier_epochs: PositiveInt
    celeba_images: Annotated[int, Field(ge=200)]
    celeba_test: Annotated[int, Field(ge=100)]
    image_size: Annotated[int, Field(ge=16, le=128)]
    rotnet_epochs: PositiveInt
    n_clusters: Annotated[int, Field(ge=2, le=50)]
    inception_per_half: NonNegativeInt
    use_cache: bool

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
