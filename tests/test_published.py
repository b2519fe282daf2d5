"""The table of published FIDs (twostep.book.published): every source is in the bibliography, and a
chapter's table puts its own numbers first, each row with its architecture and protocol."""

import re
from pathlib import Path

import pytest

from twostep.book.published import PUBLISHED_FIDS, published_rows, published_table

BIB = Path(__file__).resolve().parents[1] / "book" / "references.bib"


def test_every_source_is_a_key_of_the_bibliography():
    keys = set(re.findall(r"@\w+\{([^,]+),", BIB.read_text()))
    assert {p.source for p in PUBLISHED_FIDS} <= keys


def test_a_chapters_table_lists_ours_then_the_published_ones_with_their_architectures():
    table = published_table("celeba_fid", {"two_step_diag_10": (250.0, "FID∞, Inception")}).splitlines()
    assert table[2].startswith("| two_step_diag_10 (this book) | 250.00 |")
    rows = published_rows("celeba_fid")
    assert len(table) >= 3 + len(rows) and all(p.architecture and p.protocol for p in rows)
    assert "44.4 ± 0.7" in "\n".join(table)  # a source's spread over trials is shown with it
    with pytest.raises(KeyError, match="no published FID"):
        published_rows("grid_gmm")


def test_the_comparable_models_are_the_vae_and_its_gmm_nearest_ten_components():
    from twostep.book.published import comparable_models

    assert comparable_models([1, 10, 20, 50, 100]) == ["vae_normal", "two_step_diag_10"]
    assert comparable_models([1, 4]) == ["vae_normal", "two_step_diag_4"]
    assert comparable_models([8, 12]) == ["vae_normal", "two_step_diag_8"]  # a tie goes to the smaller


def test_the_comparison_reads_fid_infinity_from_the_metrics_or_says_it_was_skipped():
    from twostep.book.published import fid_infinity_comparison

    metrics = {"vae_normal.fid_infinity_inception": 80.5, "inception_check.infinity_samples": 1000.0}
    text = fid_infinity_comparison("mnist_fid", metrics, ["vae_normal", "two_step_diag_10"])
    assert "| vae_normal (this book) | 80.50 |" in text and "up to 1000 samples" in text
    assert "two_step_diag_10 (this book)" not in text and "19.21" in text
    assert "not computed" in fid_infinity_comparison("mnist_fid", {}, ["vae_normal"])
