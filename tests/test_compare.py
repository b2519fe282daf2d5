"""Two builds compared (twostep.book.compare): metric changes run by run, verdicts before and after."""

import json
import math

import pytest

from twostep.book.compare import compare, main, metric_changes, relative_change
from twostep.book.rules import NOT_REPRODUCED, PARTLY, REPRODUCED

SHARP = {"real.nearest_other_plate_rms_mean": 0.2, "pca_gmm.laplacian_variance_ratio": 0.3,
         "conv_vae_gmm.laplacian_variance_ratio": 0.06, "pca_gmm.nearest_plate_rms_mean": 0.25}


def executed(folder, runs):
    """A folder of executed notebooks: ``{notebook: metrics}``."""
    for name, metrics in runs.items():
        (folder / name).mkdir(parents=True)
        (folder / name / "metrics.json").write_text(json.dumps(metrics))
    return folder


def sweep(folder, notebook, metrics_by_seed):
    """A sweep folder: plan.json and one run folder per seed."""
    plan = []
    for seed, metrics in metrics_by_seed.items():
        run = folder / "runs" / notebook / f"s{seed}"
        run.mkdir(parents=True)
        (run / "metrics.json").write_text(json.dumps(metrics))
        (run / "run.json").write_text(json.dumps({"notebook": notebook, "key": f"s{seed}", "seed": seed, "status": "ok",
                                                  "parameters": {}}))
        plan.append({"notebook": notebook, "key": f"s{seed}", "seed": seed, "profile": "default", "grid": {}})
    (folder / "plan.json").write_text(json.dumps(plan))
    return folder


def test_metric_changes_sort_every_key_and_nan_equals_nan():
    changes = metric_changes("nb", 0, {"a": 1.0, "b": 2.0, "c": float("nan"), "gone": 1.0},
                             {"a": 1.0, "b": 2.5, "c": float("nan"), "new": 3.0})
    assert (changes.same, changes.changed, changes.removed, changes.added) == (2, [("b", 2.0, 2.5)], ["gone"], ["new"])
    assert changes.largest() == ("b", 0.25) and not changes.identical
    assert metric_changes("nb", 0, {"a": 1.0}, {"a": 1.0}).identical


def test_relative_change():
    assert relative_change(4.0, 5.0) == 0.25 and relative_change(0.0, 0.0) == 0.0
    assert math.isinf(relative_change(0.0, 1.0)) and math.isinf(relative_change(1.0, float("nan")))


def test_identical_builds_pass_and_a_changed_digit_fails_the_identical_check(tmp_path, capsys):
    before = executed(tmp_path / "before", {"pca_brains": SHARP})
    same = executed(tmp_path / "same", {"pca_brains": SHARP})
    moved = executed(tmp_path / "moved", {"pca_brains": {**SHARP, "pca_gmm.nearest_plate_rms_mean": 0.2500001}})
    assert main([str(before), str(same), "--identical"]) == 0
    assert main([str(before), str(moved), "--identical"]) == 1
    assert "pca_gmm.nearest_plate_rms_mean" in capsys.readouterr().err
    assert main([str(before), str(moved)]) == 0  # without --identical a comparison is a report


def test_verdicts_are_decided_on_the_runs_both_builds_have_and_moves_are_marked(tmp_path):
    before = sweep(tmp_path / "before", "pca_brains", {0: SHARP, 1: SHARP, 2: SHARP})
    after = sweep(tmp_path / "after", "pca_brains", {0: SHARP, 1: {**SHARP, "pca_gmm.nearest_plate_rms_mean": 0.01}})
    result = compare(before, after)
    assert [(r.notebook, r.seed) for r in result.runs] == [("pca_brains", 0), ("pca_brains", 1)]
    assert result.unmatched == ["pca_brains, seed 2: only before"]
    (b, a), = [pair for pair in result.claims if pair[0]["experiment"] == "pca_brains"]
    assert b["seed_verdicts"] == [REPRODUCED, REPRODUCED] and a["seed_verdicts"] == [REPRODUCED, PARTLY]
    assert result.verdicts_moved == [(b, a)]
    out = tmp_path / "compare.md"
    assert main([str(before), str(after), "--out", str(out)]) == 0
    page = out.read_text()
    assert "R/R | R/P" in page and "**(moved)**" in page and "1 of " in page
    assert NOT_REPRODUCED not in {b["verdict"], a["verdict"]}


def test_a_missing_folder_is_refused_with_its_name(tmp_path):
    with pytest.raises(SystemExit):
        main([str(tmp_path / "nowhere"), str(tmp_path)])
