"""The paper's claims, and rules that decide from the executed notebooks' ``metrics.json`` whether
this replication reproduces each one. Nothing here holds a number: every figure on the claims page
is read from the build's own outputs.

    python -m twostep.book.claims --executed book/executed --out book/executed/claims.md
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

REPRODUCED, PARTLY, NOT_REPRODUCED, NOT_RUN = "reproduced", "partly", "not reproduced", "not run"
Metrics = Mapping[str, float]


@dataclass(frozen=True)
class Claim:
    experiment: str  # notebook name
    figure: str
    statement: str
    rule: Callable[[Metrics], tuple[str, str]]  # metrics -> (verdict, the numbers it used)
    criterion: str  # the rule in words, shown on the claims page


def _components(m: Metrics, pattern: str) -> list[int]:
    """Component counts k for which a metric named by ``pattern`` (with ``{k}``) exists."""
    regex = re.compile("^" + re.escape(pattern).replace(re.escape("{k}"), r"(\d+)") + "$")
    return sorted(int(x.group(1)) for key in m if (x := regex.match(key)))


def _grid_two_step(m: Metrics):
    v, t = m["vae.modes_covered"], m["two_step_gmm.modes_covered"]
    numbers = (f"modes covered: VAE {v:.0f}/16, two-step GMM {t:.0f}/16; high-quality samples "
               f"{m['vae.high_quality_fraction']:.2f} vs {m['two_step_gmm.high_quality_fraction']:.2f}")
    if t >= 14 and v <= 8:
        return REPRODUCED, numbers
    return (PARTLY if t > v else NOT_REPRODUCED), numbers


def _grid_joint(m: Metrics):
    v, j, r = m["vae.modes_covered"], m["joint_gmm_vae.modes_covered"], m["joint_then_gmm.modes_covered"]
    numbers = f"modes covered: VAE {v:.0f}, joint GMM-VAE {j:.0f}, joint + new GMM {r:.0f} (of 16)"
    if r > j > v:
        return REPRODUCED, numbers
    return (PARTLY if r > j else NOT_REPRODUCED), numbers


def _beats_baseline(experiment_key: str, baseline: str, pattern: str, label: str):
    def rule(m: Metrics):
        base = m[f"{baseline}.fid_{experiment_key}"]
        ks = [k for k in _components(m, pattern + f".fid_{experiment_key}") if k > 1]
        if not ks:
            return NOT_RUN, "no component count above 1 was run"
        fids = {k: m[pattern.format(k=k) + f".fid_{experiment_key}"] for k in ks}
        wins = sum(f < base for f in fids.values())
        numbers = f"FID [{experiment_key}]: baseline {base:.2f}; {label} " + ", ".join(f"{k}: {f:.2f}" for k, f in fids.items())
        return (REPRODUCED if wins == len(ks) else PARTLY if wins else NOT_REPRODUCED), numbers

    return rule


def _joint_close(features: str, tolerance: float = 0.1):
    """Joint (from two-step) slightly better than, or within ``tolerance`` of, two-step diag."""

    def rule(m: Metrics):
        ks = [k for k in _components(m, "joint_two_step_{k}" + f".fid_{features}")
              if f"two_step_diag_{k}.fid_{features}" in m]
        if not ks:
            return NOT_RUN, "no joint model with a matching two-step run"
        pairs = {k: (m[f"joint_two_step_{k}.fid_{features}"], m[f"two_step_diag_{k}.fid_{features}"]) for k in ks}
        numbers = f"FID [{features}] joint vs two-step diag: " + ", ".join(f"{k}: {j:.2f} vs {d:.2f}" for k, (j, d) in pairs.items())
        if all(j <= d for j, d in pairs.values()):
            return REPRODUCED, numbers
        if all(j <= (1 + tolerance) * d for j, d in pairs.values()):
            return PARTLY, numbers
        return NOT_REPRODUCED, numbers

    return rule


def _celeba_full_matches_joint(m: Metrics, tolerance: float = 0.1):
    f = "celeba_rotnet"
    ks = [k for k in _components(m, "joint_two_step_{k}" + f".fid_{f}") if f"two_step_full_{k}.fid_{f}" in m]
    if not ks:
        return NOT_RUN, "no joint model with a matching full-covariance run"
    pairs = {k: (m[f"two_step_full_{k}.fid_{f}"], m[f"joint_two_step_{k}.fid_{f}"]) for k in ks}
    numbers = f"FID [{f}] two-step full vs joint diag: " + ", ".join(f"{k}: {a:.2f} vs {b:.2f}" for k, (a, b) in pairs.items())
    close = [a <= (1 + tolerance) * b for a, b in pairs.values()]
    return (REPRODUCED if all(close) else PARTLY if any(close) else NOT_REPRODUCED), numbers


def _audio_quality(m: Metrics, key: str) -> tuple[float, float]:
    return m[f"{key}.spectral_distance_db"], m[f"{key}.voiced_fraction"] * m[f"{key}.in_tune_fraction"]


def _hmm_two_step_vs_random(m: Metrics):
    (ds, qs), (dr, qr) = _audio_quality(m, "two_step"), _audio_quality(m, "joint_random")
    numbers = (f"spectral distance {ds:.2f} vs {dr:.2f} dB; voiced and in tune {qs:.2f} vs {qr:.2f} "
               f"(two-step vs joint from random)")
    better = [ds < dr, qs > qr]
    return (REPRODUCED if all(better) else PARTLY if any(better) else NOT_REPRODUCED), numbers


def _hmm_joint_init_no_gain(m: Metrics, tolerance: float = 0.1):
    (ds, qs), (dj, qj) = _audio_quality(m, "two_step"), _audio_quality(m, "joint_two_step")
    numbers = (f"spectral distance {dj:.2f} vs {ds:.2f} dB; voiced and in tune {qj:.2f} vs {qs:.2f} "
               f"(joint from two-step vs two-step)")
    clear_gain = [dj < (1 - tolerance) * ds, qj > qs + tolerance]
    return (NOT_REPRODUCED if all(clear_gain) else PARTLY if any(clear_gain) else REPRODUCED), numbers


def _gan_prior(m: Metrics):
    f = "mnist_cnn"
    base_mean, base_std = m[f"vae_normal.fid_{f}_batch_mean"], m[f"vae_normal.fid_{f}_batch_std"]
    gan_mean, gan_std = m[f"vae_gan.fid_{f}_batch_mean"], m[f"vae_gan.fid_{f}_batch_std"]
    numbers = f"FID [{f}] N(0, I) {base_mean:.2f} ± {base_std:.2f}, WGAN-GP prior {gan_mean:.2f} ± {gan_std:.2f}"
    if gan_mean + gan_std < base_mean - base_std:
        return REPRODUCED, numbers
    return (PARTLY if gan_mean < base_mean else NOT_REPRODUCED), numbers


def _pca_sharpness(m: Metrics):
    p, c = m["pca_gmm.laplacian_variance_ratio"], m["conv_vae_gmm.laplacian_variance_ratio"]
    nn_p, nn_real = m["pca_gmm.nearest_plate_rms_mean"], m["real.nearest_other_plate_rms_mean"]
    numbers = (f"Laplacian variance relative to real plates: PCA + GMM {p:.2f}, conv VAE + GMM {c:.2f}; "
               f"nearest-plate RMS {nn_p:.3f} (real plates to each other {nn_real:.3f})")
    sharper, not_copying = p > 1.5 * c, nn_p >= 0.5 * nn_real
    if sharper and not_copying:
        return REPRODUCED, numbers
    return (PARTLY if p > c else NOT_REPRODUCED), numbers


BEATS_NORMAL = "\"reproduced\": lower FID than N(0, I) at every component count above 1; \"partly\": at some."
JOINT_CLOSE = "\"reproduced\": joint FID at or below two-step diag at every joint size; \"partly\": within 10%."

CLAIMS: list[Claim] = [
    Claim("grid_gmm", "Fig. 2 (top)", "A GMM fitted on a trained VAE's codes (two-step) captures all 16 modes that the N(0, I) VAE misses.", _grid_two_step,
          "\"reproduced\": two-step covers at least 14 of 16 modes and the VAE at most 8; \"partly\": two-step covers more than the VAE."),
    Claim("grid_gmm", "Fig. 2 (bottom)", "A joint GMM-VAE from random initialisation captures the modes better than the VAE but imperfectly; refitting a GMM on its codes improves it.", _grid_joint,
          "\"reproduced\": joint + new GMM > joint GMM-VAE > VAE in modes covered; \"partly\": the refit beats the joint model only."),
    Claim("mnist_fid", "Fig. 3 (left)", "On MNIST, two-step GMM priors improve FID a lot over N(0, I).", _beats_baseline("mnist_cnn", "vae_normal", "two_step_diag_{k}", "two-step diag by components"),
          BEATS_NORMAL),
    Claim("mnist_fid", "Fig. 3 (left)", "On MNIST, the joint GMM-VAE is slightly better than two-step, a marginal gain.", _joint_close("mnist_cnn"),
          JOINT_CLOSE),
    Claim("celeba_fid", "Fig. 3 (right)", "On CelebA, a diagonal two-step GMM clearly improves on N(0, I).", _beats_baseline("celeba_rotnet", "vae_normal", "two_step_diag_{k}", "two-step diag by components"),
          BEATS_NORMAL),
    Claim("celeba_fid", "Fig. 3 (right)", "On CelebA, the joint diagonal GMM-VAE is slightly better than two-step diagonal.", _joint_close("celeba_rotnet"),
          JOINT_CLOSE),
    Claim("celeba_fid", "Fig. 3 (right)", "On CelebA, a full-covariance two-step GMM matches the joint diagonal model.", _celeba_full_matches_joint,
          "\"reproduced\": two-step full FID within 10% of (or below) the joint model's at every joint size; \"partly\": at some."),
    Claim("clarinet_hmm", "Fig. 4", "With an HMM prior, two-step (Baum-Welch) generates far better audio than joint training from random initialisation.", _hmm_two_step_vs_random,
          "\"reproduced\": two-step has both the smaller spectral distance and more voiced, in-tune frames; \"partly\": one of the two."),
    Claim("clarinet_hmm", "Fig. 4", "Joint training initialised from two-step does not clearly improve on two-step.", _hmm_joint_init_no_gain,
          "\"reproduced\": neither a 10% smaller spectral distance nor 0.1 more voiced, in-tune frames for the joint model; \"partly\": one of them."),
    Claim("gan_prior", "Fig. 5", "A WGAN-GP prior fitted on a VAE's codes generates better digits than the N(0, I) prior.", _gan_prior,
          "\"reproduced\": the error bars (one standard deviation over batches) do not overlap; \"partly\": lower mean FID only."),
    Claim("wgan_gmm", "Fig. 6", "GMM priors on an encoder's codes improve a WGAN-GP generator's FID over its N(0, I) input, for all component counts.", _beats_baseline("mnist_cnn", "wgan_normal", "two_step_full_{k}", "GMM prior by components"),
          "\"reproduced\": lower FID than the plain WGAN-GP at every component count above 1; \"partly\": at some."),
    Claim("pca_brains", "Fig. 7", "A PCA autoencoder with a GMM prior generates sharper aligned images than a conv VAE with a GMM prior.", _pca_sharpness,
          "\"reproduced\": PCA samples' Laplacian variance at least 1.5 times the conv VAE's and no closer to training plates than half the real plates' spacing; \"partly\": sharper only."),
]


def evaluate(metrics_by_experiment: Mapping[str, Metrics]) -> list[dict[str, str]]:
    """One row per claim: experiment, figure, statement, numbers, verdict (``not run`` when the
    experiment's metrics are absent or lack a needed value)."""
    rows = []
    for claim in CLAIMS:
        m = metrics_by_experiment.get(claim.experiment)
        if m is None:
            verdict, numbers = NOT_RUN, "the notebook's metrics.json was not found"
        else:
            try:
                verdict, numbers = claim.rule(m)
            except KeyError as missing:
                verdict, numbers = NOT_RUN, f"metric {missing} is missing"
        rows.append({"experiment": claim.experiment, "figure": claim.figure, "claim": claim.statement,
                     "numbers": numbers, "verdict": verdict})
    return rows


def chapter_summary(experiment: str, metrics: Metrics) -> str:
    """The verdict on each claim of the paper about ``experiment``, from that run's ``metrics``, as
    Markdown bullets. Chapters show this instead of deciding for themselves, so a chapter and the
    claims page cannot disagree."""
    rows = [r for r in evaluate({experiment: metrics}) if r["experiment"] == experiment]
    if not rows:
        raise KeyError(f"no claim of the paper is about {experiment!r}")
    return "\n".join(f"- **{r['figure']}, {r['verdict']}**: {_lower_first(r['claim'])} Measured: {r['numbers']}."
                     for r in rows)


def load_metrics(executed: str | Path) -> dict[str, dict[str, float]]:
    """``{notebook: metrics}`` from ``<executed>/<notebook>/metrics.json``."""
    out = {}
    for path in sorted(Path(executed).glob("*/metrics.json")):
        out[path.parent.name] = json.loads(path.read_text())
    return out


def _lower_first(sentence: str) -> str:
    """``sentence`` continued after a comma: its first letter lowered unless it starts an acronym."""
    if len(sentence) > 1 and sentence[1].isupper():
        return sentence
    return sentence[0].lower() + sentence[1:]


def render(rows: list[dict[str, str]], profile_note: str) -> str:
    """The claims page in MyST Markdown."""
    counts = {v: sum(r["verdict"] == v for r in rows) for v in (REPRODUCED, PARTLY, NOT_REPRODUCED, NOT_RUN)}
    lines = [
        "# Claims and verdicts",
        "",
        "One row per claim of the paper. The numbers come from this build's executed notebooks (their",
        "`metrics.json`), and the verdicts from rules written in `twostep/book/claims.py` and tested in",
        "`tests/test_claims.py`; nothing on this page is typed by hand.",
        "",
        f"```{{note}}\n{profile_note}\n```",
        "",
        f"Summary: {counts[REPRODUCED]} reproduced, {counts[PARTLY]} partly, {counts[NOT_REPRODUCED]} not reproduced"
        + (f", {counts[NOT_RUN]} not run" if counts[NOT_RUN] else "") + ".",
        "",
        "| figure | claim | measured | verdict | chapter |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['figure']} | {r['claim']} | {r['numbers']} | **{r['verdict']}** | {{doc}}`{r['experiment']}` |")
    lines += ["", "## How the verdicts are decided", ""]
    for claim in CLAIMS:
        lines.append(f"- {claim.figure}, {_lower_first(claim.statement)} {claim.criterion}")
    lines.append("- Rules are in `twostep/book/claims.py`: *reproduced* when every comparison the claim makes holds, "
                 "*partly* when some do (or hold within a 10% tolerance), *not reproduced* otherwise.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the claims page from executed notebooks' metrics.")
    parser.add_argument("--executed", required=True, help="folder holding <notebook>/metrics.json")
    parser.add_argument("--out", required=True, help="Markdown file to write")
    parser.add_argument("--profile", default="default", help="the parameter profile the notebooks were executed with")
    parser.add_argument("--require-all", action="store_true",
                        help="exit with an error when a claim is 'not run' (a notebook or a metric is missing)")
    args = parser.parse_args(argv)
    note = ("These notebooks were executed with their `default` profile: reduced settings that run on a 2-core CPU "
            "(shorter training, smaller networks, offline FID features). The `paper` profiles restore the authors' "
            "settings for a GPU.") if args.profile == "default" else (
            f"These notebooks were executed with the `{args.profile}` profile.")
    rows = evaluate(load_metrics(args.executed))
    Path(args.out).write_text(render(rows, note))
    for r in rows:
        print(f"{r['verdict']:>15}  {r['figure']:<15} {r['claim']}")
    not_run = [r for r in rows if r["verdict"] == NOT_RUN]
    if args.require_all and not_run:
        for r in not_run:
            print(f"not run: {r['experiment']}, {r['figure']}: {r['numbers']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
