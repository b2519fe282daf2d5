"""The convergence rule, and the training loop's held-out curve, stop rule, learning-rate decay and
parameter groups, on small real models."""

import numpy as np
import pytest
import torch

from twostep.autoencoders import MLPVAE
from twostep.data import make_grid_gaussians
from twostep.evaluation.samples import clustering_accuracy
from twostep.experiments.joint_runs import (
    VADE_BETAS,
    VADE_LR_DECAY,
    run_joint,
    run_vade,
    scan_learning_rates,
)
from twostep.joint import GMMVAE, train_joint
from twostep.nn.convergence import UntilConverged, convergence, extrapolate, plateaued, window_epochs
from twostep.nn.training import train_model
from twostep.priors import GMMPrior


def test_convergence_rule_on_known_curves():
    flat = [10.0, 5.0, 4.0] + [3.99] * 17  # 20 epochs: window 3 (the minimum), no improvement in it
    assert convergence(flat).converged and convergence(flat).window == 3
    falling = list(np.linspace(10, 5, 20))  # still falling about 4% per window
    verdict = convergence(falling)
    assert not verdict.converged
    assert verdict.improvement == pytest.approx((falling[-4] - falling[-1]) / falling[-4])
    slow = [100.0 * 0.998**i for i in range(10)]  # 0.2% per epoch: under the tolerance in one epoch, not in three
    assert not convergence(slow).converged
    worse = [5.0, 4.0, 3.0, 3.0, 3.1, 3.2, 3.5]  # got worse in its last three epochs: it is not improving
    assert convergence(worse).converged and convergence(worse).improvement < 0
    assert not convergence([1.0]).converged and "not judged" in convergence([1.0]).describe()
    assert convergence([100.0, 99.9, 99.8, 99.6], tolerance=0.005).converged  # 0.4% < 0.5% over 3 epochs
    assert not convergence([100.0, 99.9, 99.8, 99.4], tolerance=0.005).converged
    # too short to judge: a worse last epoch of a 2-epoch run is noise, not convergence
    short = convergence([100.0, 100.3])
    assert not short.converged and not short.judged and "not judged (2 epochs" in short.describe()
    assert short.improvement == pytest.approx(-0.003)  # still measured
    assert [window_epochs(n) for n in (2, 3, 10, 40, 100)] == [1, 2, 3, 4, 10]
    with pytest.raises(ValueError, match="non-finite"):
        convergence([1.0, float("nan")])


def _grid_vae(seed=0):
    torch.manual_seed(seed)
    return MLPVAE(2, 2, (32,), output="linear", likelihood="laplace", beta=0.1)


def test_validation_curve_leaves_training_unchanged():
    """Scoring a held-out set after every epoch draws its own random numbers: the trained weights
    and the training losses are exactly those of a run without it, and the curve is reproducible."""
    data = make_grid_gaussians(20, 5, 5, seed=0)

    def train(validation):
        vae = _grid_vae()
        history = train_model(vae, vae.loss, data.train, epochs=6, batch_size=64, lr=1e-2, progress=False,
                              validation=validation, restore_best=False)
        return vae, history

    plain, h_plain = train(None)
    watched, h_watched = train(data.val)
    assert list(h_plain) == list(h_watched)
    for a, b in zip(plain.parameters(), watched.parameters()):
        assert torch.equal(a, b)
    assert len(h_watched.validation) == 6 and h_watched.best_epoch is None
    assert h_watched.validation == train(data.val)[1].validation
    assert len(h_watched.seconds) == 6 and all(np.diff(h_watched.seconds) > 0)


def test_stop_rule_stops_training_where_the_rule_holds():
    data = make_grid_gaussians(20, 5, 5, seed=1)
    vae = _grid_vae()
    history = train_model(vae, vae.loss, data.train, epochs=400, batch_size=None, lr=3e-2, progress=False,
                          validation=data.val, restore_best=False, stop=UntilConverged(min_epochs=10))
    assert history.stopped_early and 10 <= len(history) < 400
    assert convergence(history.validation).converged  # it stopped where the rule holds
    with pytest.raises(ValueError, match="validation"):
        train_model(vae, vae.loss, data.train, epochs=3, progress=False, stop=UntilConverged(min_epochs=2))


def test_stop_rule_sees_every_epoch_the_last_included():
    data = make_grid_gaussians(20, 5, 5, seed=1)
    vae, seen = _grid_vae(), []
    history = train_model(vae, vae.loss, data.train, epochs=3, batch_size=None, progress=False,
                          stop=lambda h: seen.append(len(h)) or len(h) == 3)
    assert seen == [1, 2, 3] and len(history) == 3 and not history.stopped_early  # true at the end: not early


def test_learning_rate_decay_scales_the_steps():
    """With plain Adam every step moves each weight by about lr, so with lr_decay=(1, 0.5) the
    weights move half as far in each successive epoch."""
    x = np.ones((4, 1), np.float32)
    model = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.constant_(model.weight, 100.0)
    weights = []

    def loss(batch):
        weights.append(model.weight.item())
        return model(batch).sum()  # a constant gradient: Adam steps by lr

    train_model(model, loss, x, epochs=4, lr=1.0, betas=(0.0, 0.999), lr_decay=(1, 0.5), progress=False)
    steps = -np.diff(weights)
    assert steps == pytest.approx([1.0, 0.5, 0.25], rel=1e-3)


def test_prior_learning_rate_moves_only_the_prior_faster():
    data = make_grid_gaussians(20, 5, 5, seed=2)

    def moved(prior_lr):
        torch.manual_seed(0)
        model = GMMVAE.random_init(_grid_vae(), 4, seed=1)
        start_means, start_net = model.means.detach().clone(), model.autoencoder.encoder[0].weight.detach().clone()
        train_joint(model, data.train, epochs=20, lr=1e-4, prior_lr=prior_lr, progress=False)
        return ((model.means.detach() - start_means).norm(dim=1).mean().item(),
                (model.autoencoder.encoder[0].weight.detach() - start_net).abs().max().item())

    slow_prior, slow_net = moved(None)
    fast_prior, fast_net = moved(1e-2)
    assert fast_prior > 20 * slow_prior
    assert fast_net == pytest.approx(slow_net, rel=0.5)  # the network's steps stay at 1e-4


def test_kmeans_plus_plus_init_spreads_the_means_over_the_codes():
    data = make_grid_gaussians(30, 5, 5, seed=3)
    vae = _grid_vae()
    model = GMMVAE.kmeans_plus_plus_init(vae, 16, data.train, seed=0)
    codes = vae.encode(data.train)
    means = model.means.detach().numpy()
    # every mean is one of the codes, all distinct
    assert all(np.abs(codes - m).sum(1).min() < 1e-5 for m in means)
    assert len(np.unique(means.round(5), axis=0)) == 16
    assert np.allclose(model.logvars.detach().exp().numpy(), codes.var(0), rtol=1e-4)
    # k-means++ spreads them: they span more of the code cloud than N(0, I) draws do of theirs
    spread = np.ptp(means, axis=0) / np.ptp(codes, axis=0)
    assert spread.min() > 0.5


def test_extrapolation_of_a_geometric_curve_finds_where_the_rule_will_hold():
    """On a curve whose relative improvements shrink by exactly 0.7 per epoch, the fitted ratio is
    0.7, and the epochs to go are those after which a curve continued by hand (the same decay,
    independently written) first passes the rule; the improvement still to come is the geometric
    tail's, to first order."""
    def curve(n, start=100.0, first=0.2, ratio=0.7):
        values, step = [start], first
        for _ in range(n - 1):
            values.append(values[-1] * (1 - step))
            step *= ratio
        return values

    short = curve(8)
    assert not convergence(short).converged
    ahead = extrapolate(short)
    assert ahead.ratio == pytest.approx(0.7, rel=1e-9)
    assert ahead.last_improvement == pytest.approx(0.2 * 0.7 ** 6, rel=1e-9)
    by_hand = next(n for n in range(9, 200) if convergence(curve(n)).converged)
    assert ahead.epochs_to_go == by_hand - 8
    tail = sum(0.2 * 0.7 ** i for i in range(7, by_hand - 1))  # the improvements still to come, summed
    assert ahead.remaining == pytest.approx(tail, rel=0.05)
    assert "more epochs to converge" in ahead.describe()
    # what cannot be extrapolated says so: too short, a worse epoch, improvements that do not shrink
    assert np.isnan(extrapolate([100.0, 90.0]).epochs_to_go) and extrapolate([100.0, 90.0]).last_improvement == 0.1
    assert np.isnan(extrapolate([100.0, 90.0, 85.0, 86.0, 80.0]).epochs_to_go)
    growing = extrapolate([100.0, 99.0, 97.0, 93.0, 85.0])
    assert growing.ratio > 1 and np.isnan(growing.epochs_to_go) and "more epochs" not in growing.describe()
    with pytest.raises(ValueError, match="at least 2 epochs"):
        extrapolate([1.0])


def test_joint_run_reports_convergence_metrics():
    data = make_grid_gaussians(20, 5, 5, seed=4)
    run = run_joint(lambda: GMMVAE.random_init(_grid_vae(), 4, seed=1), data.train, seed=0, epochs=5, lr=1e-3,
                    batch_size=None, device="cpu", desc="t", validation=data.val)
    m = run.metrics("j")
    assert m["j.epochs"] == 5 and m["j.heldout_objective"] == run.history.validation[-1]
    # by hand: 5 epochs have a window of 3 (at least 3, a tenth is less); converged when the best of the
    # last 3 improves on the best of the first 2 by less than 0.5%
    v = run.history.validation
    assert m["j.heldout_improvement_last_tenth"] == pytest.approx((min(v[:2]) - min(v[2:])) / abs(min(v[:2])))
    assert m["j.converged"] == float((min(v[:2]) - min(v[2:])) / abs(min(v[:2])) < 0.005)
    if not m["j.converged"]:  # where it stopped: the slope of its last epoch
        assert m["j.heldout_improvement_last_epoch"] == extrapolate(run.history.validation).last_improvement
    untrained = run_joint(lambda: GMMVAE.random_init(_grid_vae(), 4, seed=1), data.train, seed=0, epochs=0, lr=1e-3,
                          batch_size=None, device="cpu", desc="t", validation=data.val)
    assert untrained.metrics("j") == {"j.epochs": 0.0} and "not judged" in untrained.convergence.describe()
    assert "j.heldout_objective" not in run_joint(lambda: GMMVAE.random_init(_grid_vae(), 4, seed=1), data.train, seed=0,
                                                  epochs=2, lr=1e-3, batch_size=None, device="cpu", desc="t").metrics("j")


def test_vade_protocol_watches_accuracy_without_changing_training():
    data = make_grid_gaussians(20, 5, 5, seed=5, grid=2)  # 4 labelled modes
    vae = _grid_vae()
    gmm = GMMPrior(4, covariance_type="diag", random_state=0).fit(vae.encode(data.train))
    kwargs = {"seed": 0, "epochs": 3, "lr": 2e-3, "batch_size": None, "device": "cpu", "likelihood": "laplace", "beta": 1.0}
    watched = run_vade(vae, gmm, data.train, labelled=(data.test, data.test_labels), **kwargs)
    plain = run_vade(vae, gmm, data.train, **kwargs)
    assert watched.history == plain.history and not plain.accuracy
    # the protocol is the joint model from two-step under VaDE's optimiser settings
    same = run_joint(lambda: GMMVAE.from_two_step(vae, gmm, likelihood="laplace", beta=1.0), data.train, seed=0,
                     epochs=3, lr=2e-3, batch_size=None, device="cpu", desc="t", betas=VADE_BETAS, lr_decay=VADE_LR_DECAY)
    assert same.history == plain.history
    # start, then one value per epoch; the first and last are the start's and the trained model's
    assert len(watched.accuracy) == 4
    start = GMMVAE.from_two_step(vae, gmm, likelihood="laplace", beta=1.0)
    assert watched.accuracy[0] == clustering_accuracy(data.test_labels, start.cluster(data.test))
    assert watched.accuracy[-1] == clustering_accuracy(data.test_labels, watched.model.cluster(data.test))


def _conv_joint(k):
    from twostep.autoencoders import ConvVAE

    torch.manual_seed(3)
    vae = ConvVAE((3, 16, 16), 4, width=4, depth=2, output="tanh", likelihood="laplace", beta=0.1)  # BatchNorm inside
    codes = vae.encode(np.random.default_rng(0).uniform(-1, 1, (60, 3, 16, 16)).astype(np.float32))
    return GMMVAE.from_two_step(vae, GMMPrior(k, "diag", random_state=0).fit(codes), likelihood="laplace", beta=1.0)


def test_a_short_run_is_the_prefix_of_a_long_one_to_the_last_bit():
    """CelebA's 2-epoch joint model is the first 2 epochs of its until-converged run: one trajectory
    gives both, equal to two separate runs in every weight (BatchNorm's running statistics too),
    every curve and every metric."""
    from twostep.experiments.joint_runs import run_joint_plans, run_joint_with_prefix

    images = np.random.default_rng(1).uniform(-1, 1, (48, 3, 16, 16)).astype(np.float32)
    heldout = np.random.default_rng(2).uniform(-1, 1, (12, 3, 16, 16)).astype(np.float32)
    common = {"seed": 5, "lr": 1e-3, "batch_size": 16, "device": "cpu", "validation": heldout}
    short = run_joint(lambda: _conv_joint(3), images, epochs=2, desc="short", **common)
    long = run_joint(lambda: _conv_joint(3), images, epochs=6, desc="long", stop=UntilConverged(), **common)
    one, prefix = run_joint_with_prefix(lambda: _conv_joint(3), images, prefix=2, epochs=6, stop=UntilConverged(),
                                        desc="both", **common)
    for separate, shared in ((short, prefix), (long, one)):
        state_a, state_b = separate.model.state_dict(), shared.model.state_dict()
        assert state_a.keys() == state_b.keys() and any("running_mean" in name for name in state_a)
        assert all(torch.equal(state_a[name], state_b[name]) for name in state_a)
        assert list(separate.history) == list(shared.history)
        assert separate.history.validation == shared.history.validation
        assert separate.metrics("j") == shared.metrics("j")
        assert not shared.model.training  # ready to sample, as a finished run
    assert prefix.epochs == 2 and one.epochs >= 4 and prefix.history.best_epoch is None
    # the plans of a chapter: the short run comes from the long one's trajectory, results in plan order
    plans = [("two_step", 3, 2, None), ("converged", 3, 6, UntilConverged())]
    built = []
    runs = run_joint_plans(plans, lambda k: built.append(k) or _conv_joint(k), images, **common)
    assert built == [3]  # one model trained
    assert list(runs) == ["joint_two_step_3", "joint_converged_3"]
    assert list(runs["joint_two_step_3"].history) == list(short.history)
    assert list(runs["joint_converged_3"].history) == list(long.history)
    with pytest.raises(ValueError, match="before its prefix"):
        run_joint_with_prefix(lambda: _conv_joint(3), images, prefix=5, epochs=3, desc="x", **common)
    # several snapshots of one trajectory: each is the run of that many epochs; one past a stop is not taken
    from twostep.experiments.joint_runs import run_joint_with_snapshots

    four = run_joint(lambda: _conv_joint(3), images, epochs=4, desc="four", **common)
    end, taken = run_joint_with_snapshots(lambda: _conv_joint(3), images, snapshots=(4, 2, 40), epochs=6,
                                          stop=UntilConverged(), desc="snapshots", **common)
    assert sorted(taken) == [2, 4] and list(end.history) == list(long.history)
    for separate, shared in ((short, taken[2]), (four, taken[4])):
        assert all(torch.equal(a, b) for a, b in zip(separate.model.state_dict().values(),
                                                     shared.model.state_dict().values(), strict=True))
        assert separate.metrics("j") == shared.metrics("j")


def test_a_measure_plateaus_when_it_holds_one_value_over_the_runs_last_half():
    flat = {1250: 2.0, 2500: 0.0, 3750: 0.0, 5000: 0.0, 6250: 0.0, 7500: 0.0, 8750: 0.0, 10000: 0.0}
    assert plateaued(flat)  # it moved early on, not over the last half (epochs 5000 to 10000)
    assert not plateaued({**flat, 7500: 1.0})  # one change inside the last half
    assert plateaued({**flat, 7500: 1.0}, tolerance=1.0)
    assert not plateaued({5000: 0.0, 10000: 0.0})  # two points are too few to say
    assert plateaued({5000: 0.0, 10000: 0.0}, min_points=2)
    assert not plateaued(flat, share=0.9)  # the window then reaches back to epoch 1000: 2.0 at 1250 is inside
    with pytest.raises(ValueError, match="non-finite"):
        plateaued({**flat, 10000: float("nan")})
    with pytest.raises(ValueError, match="at least one epoch"):
        plateaued({})


def test_learning_rate_scan_chooses_on_the_held_out_objective_alone():
    """Each rate's curve is the run :func:`run_joint` gives at that rate (same seed); the start is the
    held-out objective of the untrained model; the best rate has the lowest last value."""
    from twostep.nn.training import mean_loss

    data = make_grid_gaussians(20, 5, 5, seed=3)

    def build():
        return GMMVAE.random_init(_grid_vae(), 4, seed=1)

    scan = scan_learning_rates(build, data.train, [1e-1, 1e-3, 1e-6], epochs=3, seed=2, batch_size=None, device="cpu",
                               validation=data.val)
    alone = run_joint(build, data.train, seed=2, epochs=3, lr=1e-3, batch_size=None, device="cpu", desc="t",
                      validation=data.val)
    assert scan.curves[1e-3] == alone.history.validation
    torch.manual_seed(2)
    fresh = build()
    assert scan.start == pytest.approx(mean_loss(fresh, fresh.loss, data.val, batch_size=len(data.val), seed=2))
    assert scan.best == min(scan.curves, key=lambda lr: scan.curves[lr][-1])
    assert abs(scan.curves[1e-6][-1] - scan.start) < 0.01 * abs(scan.start)  # a tiny rate barely moves
    assert f"chosen {scan.best:g}" in scan.describe()
    with pytest.raises(ValueError, match="at least one learning rate"):
        scan_learning_rates(build, data.train, [], epochs=1, seed=0, batch_size=None, device="cpu", validation=data.val)


def test_authors_baselines_are_the_budget_run_and_its_continuation_until_converged():
    """Fig. 3's joint baselines (MNIST and CelebA): the authors' budget at every joint size, and at the
    converged sizes the same trajectory on until the rule holds, for at least the budget and the
    rule's minimum; none of the latter when joint_max_epochs is 0. Scored and turned into metrics."""
    from types import SimpleNamespace

    from twostep.experiments.joint_runs import authors_baselines, joint_metrics, score_runs
    from twostep.nn.convergence import MIN_JUDGED_EPOCHS

    vae = _conv_joint(3).autoencoder
    images = np.random.default_rng(1).uniform(-1, 1, (48, 3, 16, 16)).astype(np.float32)
    heldout = np.random.default_rng(2).uniform(-1, 1, (12, 3, 16, 16)).astype(np.float32)
    codes = vae.encode(images)
    sweep = SimpleNamespace(prior=lambda k, cov: GMMPrior(k, cov, random_state=0).fit(codes))
    cfg = SimpleNamespace(joint_components=[2, 3], joint_converged_components=[3], joint_epochs=5, joint_max_epochs=7,
                          joint_lr=1e-3, joint_beta=1.0)
    runs = authors_baselines(cfg, vae, sweep, images, heldout, likelihood="laplace", batch_size=16, device="cpu", seed=5)
    assert list(runs) == ["joint_two_step_2", "joint_two_step_3", "joint_converged_3"]
    assert all(runs[f"joint_two_step_{k}"].epochs == 5 for k in (2, 3))
    assert 5 <= runs["joint_converged_3"].epochs <= 7 and max(MIN_JUDGED_EPOCHS, 5) == 5
    assert runs["joint_converged_3"].history.validation[:5] == runs["joint_two_step_3"].history.validation
    alone = run_joint(lambda: GMMVAE.from_two_step(vae, sweep.prior(3, "diag"), likelihood="laplace", beta=1.0), images,
                      seed=5, epochs=5, lr=1e-3, batch_size=16, device="cpu", validation=heldout, desc="alone")
    assert alone.history.validation == runs["joint_two_step_3"].history.validation
    cfg.joint_max_epochs = 0
    assert list(authors_baselines(cfg, vae, sweep, images, heldout, likelihood="laplace", batch_size=16, device="cpu",
                                  seed=5)) == ["joint_two_step_2", "joint_two_step_3"]
    scored = []

    def score(key, model, seed):
        scored.append((key, seed))
        return {"f": SimpleNamespace(full=float(len(scored)))}

    assert score_runs(score, runs, seed=9, features="f") == {key: i + 1.0 for i, key in enumerate(runs)}
    assert scored == [(key, 9) for key in runs]
    metrics = joint_metrics(runs, {2: 1.5, 3: 2.5})
    assert metrics["two_step_diag_3.heldout_objective"] == 2.5
    assert metrics["joint_converged_3.epochs"] == runs["joint_converged_3"].epochs
