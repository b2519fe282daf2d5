"""The results-over-seeds page (twostep.book.seeds): seeds and n per claim, FD curves, metric table."""

from twostep.book import seeds
from twostep.book.rules import CLAIMS


def _runs(n, base):
    return [{f"vae_gmm_{k}.fid_net": base + k + s for k in (1, 10)} | {"vae_normal.fid_net": base + 20.0 + s}
            for s in range(n)]


def test_the_page_names_each_experiments_seeds_and_the_claims_they_decide(tmp_path):
    runs = {"grid_gmm": _runs(5, 0.0), "mnist_fid": _runs(3, 100.0)}
    page = seeds.render(runs, tmp_path / "seeds.md", {"grid_gmm": [0, 1, 2, 3, 4], "mnist_fid": [0, 1, 2]})
    grid = [c for c in CLAIMS if c.experiment == "grid_gmm"]
    assert len(grid) == 2 and f"| Grid | 0, 1, 2, 3, 4 | 5 | 2: {grid[0].figure}, {grid[1].figure} |" in page
    assert "| MNIST | 0, 1, 2 | 3 | 2: Fig. 3 (left) |" in page  # two claims of one figure, named once
    # the FD sweep over components is drawn with its spread over seeds, and every metric is tabled
    assert (tmp_path / "seeds_mnist_fid.png").is_file()
    assert "| `vae_gmm_10.fid_net` | 111 ± 1 | 110 | 112 |" in page


def test_without_seed_names_runs_are_numbered_and_a_claimless_notebook_says_so(tmp_path):
    page = seeds.render({"my_notebook": [{"a.x": 1.0}, {"a.x": 3.0}]}, tmp_path / "seeds.md")
    assert "| my_notebook | 0, 1 | 2 | none |" in page and "| `a.x` | 2 ± 1.414 | 1 | 3 |" in page
