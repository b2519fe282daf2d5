"""The FID sweep shared by the MNIST, CelebA and GAN-prior notebooks, on the paper's grid data. The
"feature network" maps a point to its Gaussian bumps around the 16 grid means, so the Fréchet
distance sees whether samples land on the modes (on raw points it would see only two moments)."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

from twostep.core.seeds import stage_seed
from twostep.data import make_grid_gaussians
from twostep.evaluation.fid import (
    FeatureNetwork,
    FIDEvaluator,
    feature_statistics,
    frechet_distance,
)
from twostep.evaluation.scoring import SampleScorer
from twostep.experiments.gmm_components import gmm_sweep, plot_fid_sweeps, summarise_sweep
from twostep.pipeline import TwoStepModel
from twostep.priors import GMMPrior, StandardNormalPrior


class Standardise:
    """Step 1 stand-in: standardise the points (codes), scale them back (samples)."""

    def __init__(self, data):
        self.mean_, self.std_ = data.mean(0), data.std(0)

    def encode(self, x):
        return (np.asarray(x) - self.mean_) / self.std_

    def decode(self, h):
        return np.asarray(h) * self.std_ + self.mean_


class GridBumps(FeatureNetwork):
    name = "bumps"
    image_shape = (1, 1, 2)
    device = torch.device("cpu")

    def __init__(self, means, width=0.3):
        self.means = torch.as_tensor(means, dtype=torch.float32)
        self.width = width

    def _forward(self, batch):
        return bumps(batch.flatten(1), self.means, self.width)


def bumps(points, means, width):
    return torch.exp(-torch.cdist(points, means) ** 2 / (2 * width**2))


@pytest.fixture(scope="module")
def swept():
    data = make_grid_gaussians(n_train=100, n_val=1, n_test=125, seed=0)
    ae = Standardise(data.train)
    codes = ae.encode(data.train)
    score = SampleScorer(FIDEvaluator([GridBumps(data.means)], data.test, n_batches=2, batch_size=1000), 2000, samples_saved=5)
    score("vae_normal", TwoStepModel(ae, StandardNormalPrior().fit(codes)), 1)
    logs = []
    sweep = gmm_sweep(ae, codes, [1, 16], ["diag", "full"], score, n_init=1, seed=0, log=logs.append)
    return data, codes, score, sweep, logs


def test_sweep_scores_every_prior_and_ranks_them_as_the_grid_demands(swept):
    data, codes, score, sweep, logs = swept
    keys = ["two_step_diag_1", "two_step_diag_16", "two_step_full_1", "two_step_full_16"]
    assert sorted(sweep.priors) == keys and sorted(sweep.seconds) == keys and len(logs) == 4
    fid = {k: r["bumps"].full for k, r in score.results.items()}
    for cov in ("diag", "full"):
        assert fid[f"two_step_{cov}_16"] < 0.1 * fid["vae_normal"]
        assert fid[f"two_step_{cov}_16"] < 0.1 * fid[f"two_step_{cov}_1"]
    # The scorer's number is the Fréchet distance of the features, recomputed here by hand.
    samples = torch.as_tensor(TwoStepModel(Standardise(data.train), sweep.priors["two_step_full_16"])
                              .sample(2000, seed=stage_seed(0, "samples")), dtype=torch.float32)  # the sweep's draws
    means = torch.as_tensor(data.means, dtype=torch.float32)
    real = bumps(torch.as_tensor(data.test), means, 0.3).double().numpy()
    expected = frechet_distance(feature_statistics(bumps(samples, means, 0.3).double().numpy()), feature_statistics(real))
    assert fid["two_step_full_16"] == pytest.approx(expected, rel=1e-4, abs=1e-8)


def test_sweep_keeps_its_priors_and_fits_missing_ones_with_the_same_settings(swept):
    _, codes, _, sweep, _ = swept
    kept = sweep.priors["two_step_diag_16"]
    assert sweep.prior(16, "diag") is kept
    direct = GMMPrior(16, "diag", n_init=1, max_iter=200, random_state=0).fit(codes)
    np.testing.assert_allclose(kept.means_, direct.means_)
    extra = sweep.prior(4, "diag")
    assert "two_step_diag_4" in sweep.priors and extra.n_components == 4
    np.testing.assert_allclose(extra.means_, GMMPrior(4, "diag", n_init=1, random_state=0).fit(codes).means_)


def test_scores_become_metrics_sentences_and_a_figure(swept):
    _, _, score, _, _ = swept
    metrics = score.metrics()
    assert metrics["two_step_full_16.fid_bumps"] == score.results["two_step_full_16"]["bumps"].full
    assert metrics["two_step_full_16.fid_bumps_batch_std"] > 0
    assert score.saved["vae_normal"].dtype == np.uint8 and len(score.saved["vae_normal"]) == 5
    lines = summarise_sweep(score, [1, 16], ["diag", "full"])
    assert any("two-step full GMM beats N(0, I)" in line and "at 1 of 1" in line for line in lines)
    fig = plot_fid_sweeps(score, [1, 16], ["diag", "full"], title="grid")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "two-step, diag GMM" in labels and "two-step, full GMM" in labels


@pytest.mark.parametrize("name", ["mnist_fid", "prior_zoo"])
def test_a_chapter_with_use_cache_false_retrains_its_feature_network(name, shared_data, tmp_path, monkeypatch):
    """``use_cache=False`` retrains everything, the feature network included, whichever chapter's
    config it comes in (the prior zoo's once did not reach the network: it was loaded from the cache)."""
    from twostep.experiments.configs import CONFIGS
    from twostep.experiments.mnist import mnist_setup
    from twostep.sweep.execution import notebook_parameters, resolve_parameters

    monkeypatch.setenv("TWOSTEP_CACHE", str(tmp_path))
    values = {p: eval(info["default"]) for p, info in notebook_parameters(name).items()}  # noqa: S307 - our notebooks
    values.update(resolve_parameters(name, "smoke", {"output_dir": str(tmp_path / "out"), "n_train": 500,
                                                     "classifier_epochs": 1}))
    cfg = CONFIGS[name].validated(values)
    device = torch.device("cpu")
    assert mnist_setup(cfg, device).feature_info["cached"] is False  # an empty cache: trained
    assert mnist_setup(cfg, device).feature_info["cached"] is True
    assert mnist_setup(cfg.model_copy(update={"use_cache": False}), device).feature_info["cached"] is False


def test_feature_network_is_one_instrument_for_every_seed(shared_data, tmp_path, monkeypatch):
    """The offline FID network does not depend on the experiment's seed: seed 5 loads the network
    that seed 0 trained, so every seed's distances are on one scale."""
    from twostep.experiments.configs import MNISTDataConfig
    from twostep.experiments.mnist import mnist_setup

    monkeypatch.setenv("TWOSTEP_CACHE", str(tmp_path))
    common = dict(device="cpu", output_dir=str(tmp_path / "out"), n_batches=2, fid_batch_size=50, n_fid_samples=100,
                  inception="never", samples_saved=0, n_train=300, classifier_epochs=1)
    first = mnist_setup(MNISTDataConfig(seed=0, **common), "cpu")
    other = mnist_setup(MNISTDataConfig(seed=5, **common), "cpu")
    assert not first.feature_info["cached"] and other.feature_info["cached"]
    assert first.feature_info["path"] == other.feature_info["path"]


def test_fitted_on_fits_are_the_means_gmm_and_gmms_of_posterior_draws(swept):
    """The fitted-on comparison (prior zoo): keys under a prefix, the moment-matched GMM is the means'
    GMM widened by the mean encoder variance, the draws' GMMs are fitted on posterior_draws of the
    documented rows, and draws from a wide posterior give a wider GMM than the means."""
    from twostep.experiments.prior_zoo import (PriorZoo, beta_prefix, fitted_on_fits, posterior_draws,
                                               variance_share)

    data, codes, score, _, _ = swept
    ae = Standardise(data.train)
    rng = np.random.default_rng(0)
    variances = np.full_like(codes, 0.25) * rng.uniform(0.5, 1.5, size=(len(codes), 1))
    rows = np.arange(len(codes))
    zoo = PriorZoo(ae, score, codes, seed=3)
    prefix = beta_prefix(1.0)
    keys = fitted_on_fits(zoo, codes, variances, rows, k=2, draws=4, seed=3, prefix=prefix, on_means=True)
    assert prefix == "beta1_" and beta_prefix(0.5) == "beta0p5_"
    assert keys == ["beta1_gmm_full", "beta1_gmm_full_draw", "beta1_gmm_full_draws", "beta1_gmm_full_moments"]
    assert all(key in zoo.entries and key in score.results for key in keys)
    means_gmm, matched = zoo.entries[keys[0]].prior, zoo.entries[keys[3]].prior
    np.testing.assert_allclose(matched.covariances_ - means_gmm.covariances_,
                               np.broadcast_to(np.diag(variances.mean(0)), means_gmm.covariances_.shape))
    np.testing.assert_array_equal(matched.means_, means_gmm.means_)
    several = posterior_draws(codes[: len(rows) // 4], variances[: len(rows) // 4], 4, 3)
    assert len(several) == 4 * (len(rows) // 4)
    refit = GMMPrior(2, "full", random_state=3).fit(several)
    np.testing.assert_allclose(zoo.entries[keys[2]].prior.means_, refit.means_)

    def spread(gmm):
        return float(np.sum(gmm.weights_[:, None, None] * gmm.covariances_, axis=0).trace())

    assert spread(zoo.entries[keys[1]].prior) > spread(means_gmm) + 0.5 * variances.mean() * codes.shape[1]
    assert variance_share(codes, variances) == pytest.approx(variances.mean() / codes.var(0).mean())
    # the summary line reads this VAE's four distances beside the unprefixed (chapter VAE's) ones
    from twostep.experiments.prior_zoo import FITTED_ON, fitted_on_sentence

    metrics = {f"{p}{key}.fid_bumps": float(i + 10 * (p == prefix)) for p in ("", prefix)
               for i, key in enumerate(FITTED_ON)}
    assert fitted_on_sentence(metrics, "bumps", 1.0, draws=4) == (
        "- Fitted on, β = 1 VAE: the full GMM's distance fitted on means 10.00, one draw per image 11.00, 4 draws per "
        "image 12.00, moment matched 13.00 (on the chapter's VAE: 0.00, 1.00, 2.00, 3.00).")


def test_joint_models_from_random_start_from_the_network_step_one_trains(tmp_path, monkeypatch):
    """The joint baselines from random initialisation build their network from the chapter's step-1
    config (``cfg.vae``), the one the cached step-1 model is trained from: a non-default size reaches both."""
    from twostep.experiments.clarinet_hmm import audio_network, clarinet_vae
    from twostep.experiments.configs import ClarinetConfig, MNISTConfig
    from twostep.experiments.mnist import mnist_network, mnist_vae

    monkeypatch.setenv("TWOSTEP_CACHE", str(tmp_path))

    def shapes(model):
        return {name: tuple(value.shape) for name, value in model.state_dict().items()}

    mnist = MNISTConfig(latent_dim=3, hidden_dim=17, epochs=1, batch_size=16)
    images = np.random.default_rng(0).random((32, 784), dtype=np.float32)
    trained, _ = mnist_vae(images, mnist.vae, progress=False)
    assert shapes(mnist_network(mnist.vae)) == shapes(trained)
    assert any(17 in shape for shape in shapes(trained).values())

    clarinet = ClarinetConfig(latent_dim=5, channels=[3, 4], kernel=8, vae_epochs=1, frame=64, hop=32)
    frames = np.random.default_rng(1).standard_normal((40, 64)).astype(np.float32)
    trained, _ = clarinet_vae(frames, {"source": "test"}, clarinet.vae, progress=False)
    assert shapes(audio_network(clarinet.vae, clarinet.frame)) == shapes(trained)
    assert any(5 in shape for shape in shapes(trained).values())


def test_sequence_sentence_reads_each_priors_pitch_measures_beside_the_real_audios():
    from twostep.experiments.prior_zoo import SEQUENCE_PRIORS, sequence_sentence

    metrics = {}
    for i, key in enumerate([*SEQUENCE_PRIORS, "real"]):
        metrics.update({f"sequence_{key}.voiced_fraction": 0.5, f"sequence_{key}.in_tune_fraction": 0.2 * (i + 1),
                        f"sequence_{key}.note_change_rate": float(i)})
    assert sequence_sentence(metrics) == (
        "- Sequences: voiced and in tune 0.10 (HMM), 0.20 (GMM ignoring time), 0.30 (GRU), real 0.40; "
        "note changes per second 0.00, 1.00, 2.00, real 3.00.")


def test_grid_joint_trajectory_reads_one_run_at_its_snapshots():
    """The grid chapter's until-converged joint GMM-VAE: its prefix is the authors' model, its snapshots
    are the models at those epochs (a separate run of that length gives the same weights), the ends keep
    the scores the chapter already has, the rest are scored from their own samples, and the metrics say
    whether modes covered plateaued."""
    import torch

    from twostep.experiments.configs import GridConfig
    from twostep.experiments.grid_gmm import (CONVERGED_JOINT, grid_joint_runs, snapshot_epochs, trajectory_metrics,
                                              trajectory_scores)
    from twostep.experiments.joint_runs import run_joint
    from twostep.core.seeds import stage_seed
    from twostep.joint import GMMVAE
    from twostep.experiments.grid_gmm import grid_network

    assert snapshot_epochs(1250, 1250, 10000) == [1250, 2500, 3750, 5000, 6250, 7500, 8750]
    assert snapshot_epochs(0, 1250, 10000) == []
    cfg = GridConfig(hidden_dim=16, epochs=4, joint_epochs=4, joint_max_epochs=12, joint_snapshot_every=4,
                     n_per_mode=10, n_samples=64, illustrate=False)
    data = make_grid_gaussians(10, 2, 2, seed=0)
    runs, initial, snapshots = grid_joint_runs(cfg, data, device="cpu", variants={})
    assert set(runs) == {CONVERGED_JOINT, "joint_gmm_vae"} and runs["joint_gmm_vae"].epochs == 4
    end = runs[CONVERGED_JOINT].epochs
    assert sorted(snapshots) == sorted({4, 8, end} & set(range(end + 1)))
    seed = stage_seed(cfg.seed, "joint")
    alone = run_joint(lambda: GMMVAE.random_init(grid_network(latent_dim=5, hidden_dim=16, beta=0.1), 16, seed=seed),
                      data.train, seed=seed, epochs=4, lr=1e-4, batch_size=None, device="cpu", desc="t",
                      validation=data.val)
    assert all(torch.equal(a, b) for a, b in zip(alone.model.state_dict().values(),
                                                 snapshots[4].state_dict().values(), strict=True))
    known = {4: {"modes_covered": 3.0, "high_quality_fraction": 0.5}}
    scores = trajectory_scores(snapshots, data, n_samples=64, seed=0, known=known)
    assert list(scores) == sorted(snapshots) and scores[4] == known[4]
    assert all(0 <= s["modes_covered"] <= 16 and 0 <= s["high_quality_fraction"] <= 1 for s in scores.values())
    again = trajectory_scores(snapshots, data, n_samples=64, seed=0, known=known)
    assert again == scores  # its own seed stream
    metrics = trajectory_metrics("j", {4: {"modes_covered": 3.0}, 8: {"modes_covered": 0.0},
                                       12: {"modes_covered": 0.0}, 16: {"modes_covered": 0.0}})
    assert metrics == {"j.modes_covered_at_epoch_4": 3.0, "j.modes_covered_at_epoch_8": 0.0,
                       "j.modes_covered_at_epoch_12": 0.0, "j.modes_covered_at_epoch_16": 0.0,
                       "j.modes_plateaued": 1.0}


def test_chapter_sentences_read_the_metrics_they_name():
    """The FID chapters' converged-joint lines and panels, and the grid chapter's joint sentence,
    from constructed metrics: each number where it belongs, better or worse by the right sign."""
    from twostep.experiments.grid_gmm import joint_sentence
    from twostep.experiments.joint_runs import converged_lines, converged_panels

    m = {"joint_two_step_10.fid_mnist_cnn": 20.0, "joint_converged_10.fid_mnist_cnn": 25.0,
         "joint_two_step_10.heldout_objective": 110.0, "joint_converged_10.heldout_objective": 100.0,
         "joint_converged_10.converged": 1.0, "joint_converged_10.epochs": 33.0,
         "two_step_diag_10.heldout_objective": 120.0}
    (line,) = converged_lines(m, [10], budget=5, features="mnist_cnn")
    assert line.startswith("- Trained on (33 epochs instead of 5, converged), the joint model with 10 components")
    assert "from 110.0 to 100.0 in held-out objective and from 20.00 to 25.00" in line
    assert line.endswith("better on its own objective, worse samples by this distance.")
    panels = converged_panels(m, 10, budget=5)
    assert list(panels.values()) == ["two_step_diag_10", "joint_two_step_10", "joint_converged_10"]
    assert "joint, until converged (33 epochs)\nheld-out objective 100.0" in panels
    grid = {"joint_gmm_vae.modes_covered": 3.0, "joint_gmm_vae.epochs": 1250.0, "joint_gmm_vae.converged": 0.0,
            "joint_gmm_vae.mean_shift_of_component_means": 0.125}
    text = joint_sentence(grid, {"joint_gmm_vae": None}, {"joint_gmm_vae": "authors' settings", "other": "x"})
    assert text == "authors' settings: 3/16 modes after 1250 epochs (not converged; its means moved 0.12)"


def test_reconstruction_rmse_is_the_root_mean_square_error():
    from sklearn.metrics import mean_squared_error

    from twostep.experiments.wgan_gmm import reconstruction_rmse

    rng = np.random.default_rng(0)
    a, b = rng.uniform(size=(20, 784)), rng.uniform(size=(20, 784))
    assert reconstruction_rmse(a, b) == pytest.approx(mean_squared_error(a.ravel(), b.ravel()) ** 0.5, rel=1e-12)
