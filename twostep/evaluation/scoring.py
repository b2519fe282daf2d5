"""Scoring a model's samples: :class:`SampleScorer` draws them, scores them with an
:class:`~twostep.evaluation.fid.FIDEvaluator` (Fréchet distance on every feature network, KID,
precision, recall, density, coverage) and turns the scores into metrics, tables and files; every
chapter that measures samples scores with it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from twostep.core.files import write_metrics
from twostep.core.profiling import phased
from twostep.evaluation.fid import FIDEvaluator, FIDResult, distance_label
from twostep.evaluation.quality import QUALITY_METRICS
from twostep.pipeline import TwoStepModel


class SampleScorer:
    """Draws ``n_samples`` from a model, scores them with an :class:`FIDEvaluator`, and keeps what
    the notebooks save: ``results[key]`` (FID per feature network), ``saved[key]`` (the first
    ``samples_saved`` samples as uint8) and ``grids[key]`` (64 samples for figures).

    ``to_unit`` maps samples to [0, 1] (identity for MNIST, ``(x + 1) / 2`` for tanh outputs).
    ``keep`` (at least ``samples_saved``) uint8 samples per model stay in ``saved`` for later checks
    (the Inception check); ``write`` writes the first ``samples_saved``.
    """

    def __init__(self, evaluator: FIDEvaluator, n_samples: int, *, samples_saved: int = 0, keep: int = 0,
                 to_unit: Callable[[np.ndarray], np.ndarray] | None = None):
        self.evaluator = evaluator
        self.n_samples = n_samples
        self.samples_saved = samples_saved
        self.kept = min(n_samples, max(samples_saved, keep))
        self.to_unit = to_unit or (lambda x: x)
        self.results: dict[str, dict[str, FIDResult]] = {}
        self.saved: dict[str, np.ndarray] = {}
        self.grids: dict[str, np.ndarray] = {}

    @phased("scoring")
    def __call__(self, key: str, model: TwoStepModel | object, seed: int) -> dict[str, FIDResult]:
        images = self.to_unit(np.asarray(model.sample(self.n_samples, seed=seed)))
        self.results[key] = self.evaluator.score(images)
        self.saved[key] = (np.clip(images[: self.kept], 0, 1) * 255).round().astype(np.uint8)
        self.grids[key] = images[:64]
        return self.results[key]

    def metrics(self) -> dict[str, float]:
        """``<model>.fid_<features>`` (all samples), ``..._batch_mean`` and ``..._batch_std``, and
        ``<model>.<measure>_<features>`` for KID (``kid``, ``kid_std``), precision, recall,
        density and coverage."""
        out: dict[str, float] = {}
        for key, by_net in self.results.items():
            for name, r in by_net.items():
                out[f"{key}.fid_{name}"] = r.full
                out[f"{key}.fid_{name}_batch_mean"] = r.mean
                out[f"{key}.fid_{name}_batch_std"] = r.std
                for measure in QUALITY_METRICS:
                    if measure in r.quality:
                        out[f"{key}.{measure}_{name}"] = r.quality[measure]
        return out

    def write(self, out: Path, extra: dict[str, float] | None = None) -> dict[str, float]:
        """Write ``metrics.json`` (the FIDs and ``extra``) and ``samples.npz`` (the saved samples) into
        ``out``; return the metrics."""
        metrics = {**self.metrics(), **(extra or {})}
        write_metrics(out / "metrics.json", metrics)
        np.savez_compressed(out / "samples.npz", **{k: v[: self.samples_saved] for k, v in self.saved.items()})
        return metrics

    def table(self) -> str:
        lines = []
        for name in [n.name for n in self.evaluator.networks]:
            lines.append(f"{distance_label(name)}; KID; precision, recall, density, coverage [{name}]")
            for key, by_net in self.results.items():
                r = by_net[name]
                line = f"  {key:<26} full {r.full:9.3f}   batches {r.mean:9.3f} ± {r.std:.3f}"
                if r.quality:
                    q = r.quality
                    line += (f"   KID {q['kid']:9.4g} ± {q['kid_std']:.3g}   P {q['precision']:.3f}  "
                             f"R {q['recall']:.3f}  D {q['density']:.3f}  C {q['coverage']:.3f}")
                lines.append(line)
        return "\n".join(lines)


def reference_fids(evaluator: FIDEvaluator, images, what: str) -> str:
    """The FID of real ``images`` (``what`` they are) against the evaluator's real images, per
    feature network: the floor that generated samples are compared with."""
    return "\n".join(f"reference: {distance_label(name)} of {len(images)} real {what} = {r.full:.3f} "
                     f"(batches {r.mean:.3f} ± {r.std:.3f})" for name, r in evaluator.score(images).items())
