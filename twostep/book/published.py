"""Published Inception FIDs of VAEs with simple and GMM priors, the one table the book cites them from.

These are 10,000-sample FIDs on the TF Inception weights, of other papers' architectures, training
budgets and preprocessing: a reader can hold this book's FID∞ beside them to see the scale, never as
a like-for-like comparison (the book's default networks are smaller and trained for minutes on a CPU).
Each row names its source, table, architecture and protocol; the numbers are the papers' own.
"""

from __future__ import annotations

from dataclasses import dataclass

from twostep.book.claims import CHAPTERS


@dataclass(frozen=True)
class PublishedFID:
    dataset: str  # "mnist_fid" or "celeba_fid": the chapter it is shown in
    source: str  # the bibliography key
    where: str  # table in the source
    model: str
    fid: float
    std: float | None  # over trials, where the source gives it
    architecture: str
    protocol: str = "10,000 generated samples, TF Inception"


_RAE = "conv encoder and decoder with batch norm (128 to 1024 channels); latent 16 (MNIST) or 64 (CelebA)"
_TWO_STAGE = "InfoGAN-style conv networks (Lucic et al. 2018) and a second, fully connected VAE on the codes; latent 64"
_GEOMETRIC = "the conv networks of its benchmark (see the paper); latent 16 (MNIST) or 64 (CelebA)"

PUBLISHED_FIDS: tuple[PublishedFID, ...] = (
    PublishedFID("mnist_fid", "ghosh2020rae", "Table 1", "VAE, N(0, I) prior", 19.21, None, _RAE),
    PublishedFID("mnist_fid", "ghosh2020rae", "Table 1", "VAE, 10-component GMM fitted on its codes", 17.66, None, _RAE),
    PublishedFID("mnist_fid", "dai2019diagnosing", "Table 1", "two-stage VAE", 12.6, 1.5, _TWO_STAGE,
                 "10,000 samples, TF Inception; mean ± std over 10 trials"),
    PublishedFID("mnist_fid", "chadebec2022geometric", "its FID table", "VAE, 10-component GMM fitted on its codes", 13.13,
                 None, _GEOMETRIC),
    PublishedFID("celeba_fid", "ghosh2020rae", "Table 1", "VAE, N(0, I) prior", 48.12, None, _RAE),
    PublishedFID("celeba_fid", "ghosh2020rae", "Table 1", "VAE, 10-component GMM fitted on its codes", 45.52, None, _RAE),
    PublishedFID("celeba_fid", "dai2019diagnosing", "Table 1", "two-stage VAE", 44.4, 0.7, _TWO_STAGE,
                 "10,000 samples, TF Inception; mean ± std over 10 trials"),
    PublishedFID("celeba_fid", "chadebec2022geometric", "its FID table", "VAE, 10-component GMM fitted on its codes", 55.50,
                 None, _GEOMETRIC),
)


PUBLISHED_COMPONENTS = 10  # the published GMM priors have 10 components


def comparable_models(component_counts: list[int]) -> list[str]:
    """The chapter's models that the published rows compare: the VAE with N(0, I) and its two-step
    diagonal GMM with the count of :data:`PUBLISHED_COMPONENTS` (else the nearest the chapter fits)."""
    k = min(component_counts, key=lambda c: (abs(c - PUBLISHED_COMPONENTS), c))
    return ["vae_normal", f"two_step_diag_{k}"]


def published_rows(dataset: str) -> list[PublishedFID]:
    """The published FIDs shown in chapter ``dataset``."""
    rows = [p for p in PUBLISHED_FIDS if p.dataset == dataset]
    if not rows:
        raise KeyError(f"no published FID is shown in {dataset!r}: one of {sorted({p.dataset for p in PUBLISHED_FIDS})}")
    return rows


def published_table(dataset: str, ours: dict[str, tuple[float, str]] | None = None) -> str:
    """Markdown: this book's FIDs (``ours``: ``{model: (FID, how it was measured)}``) above the
    published ones of ``dataset``, each with its source, architecture and protocol."""
    lines = ["| model | FID | source | architecture | protocol |", "|---|---|---|---|---|"]
    for model, (value, how) in (ours or {}).items():
        lines.append(f"| {model} (this book) | {value:.2f} | this run | this chapter's networks | {how} |")
    for p in published_rows(dataset):
        fid = f"{p.fid:.2f}" if p.std is None else f"{p.fid:.1f} ± {p.std:.1f}"
        lines.append(f"| {p.model} | {fid} | {{cite:t}}`{p.source}`, {p.where} | {p.architecture} | {p.protocol} |")
    return "\n".join(lines) + (f"\n\nPublished {CHAPTERS[dataset]} FIDs are of other architectures and budgets: they "
                               "give the scale, not a like-for-like comparison.")


def fid_infinity_comparison(dataset: str, metrics: dict[str, float], models: list[str]) -> str:
    """The chapter's FID∞ of ``models`` (read from ``metrics``) above the published FIDs, or a line
    saying that FID∞ was not computed in this run."""
    ours = {m: (metrics[f"{m}.fid_infinity_inception"],
                f"FID∞ from FIDs at up to {metrics['inception_check.infinity_samples']:.0f} samples a side, TF Inception")
            for m in models if f"{m}.fid_infinity_inception" in metrics}
    if not ours:
        return "FID∞ was not computed in this run (`fid_infinity_samples=0`: the book computes it at the first seed)."
    return published_table(dataset, ours)
