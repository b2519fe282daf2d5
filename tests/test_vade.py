import math

import numpy as np
import pytest
import torch

from twostep.autoencoders import MLPVAE, train_vae
from twostep.data import make_grid_gaussians
from twostep.evaluation.likelihood import importance_log_likelihood
from twostep.joint import GMMVAE, train_joint
from twostep.joint.gmm_vae import gmm_responsibilities, vade_kl_terms
from twostep.nn.layers import gaussian_kl_standard
from twostep.priors import GMMPrior


def random_case(seed=0, b=3, c=4, d=2):
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(b, d, generator=g, dtype=torch.float64)
    logvar = 0.5 * torch.randn(b, d, generator=g, dtype=torch.float64)
    pi_logits = torch.randn(c, generator=g, dtype=torch.float64)
    means = torch.randn(c, d, generator=g, dtype=torch.float64)
    logvars = 0.3 * torch.randn(c, d, generator=g, dtype=torch.float64)
    h = mu + (0.5 * logvar).exp() * torch.randn(b, d, generator=g, dtype=torch.float64)
    return mu, logvar, pi_logits, means, logvars, h


def direct_eq2(mu, logvar, pi_logits, means, logvars, h):
    """Each term of eq. 2 (with VaDE's plus sign) by explicit loops over floats."""
    mu, logvar, pi_logits = mu.tolist(), logvar.tolist(), pi_logits.tolist()
    means, logvars, h = means.tolist(), logvars.tolist(), h.tolist()
    z = sum(math.exp(v) for v in pi_logits)
    pi = [math.exp(v) / z for v in pi_logits]
    rows = []
    for i in range(len(mu)):
        # gamma_c proportional to pi_c N(h_i; mu_c, sigma_c^2)
        dens = []
        for c in range(len(pi)):
            logn = sum(
                -0.5 * math.log(2 * math.pi) - 0.5 * logvars[c][j] - 0.5 * (h[i][j] - means[c][j]) ** 2 / math.exp(logvars[c][j])
                for j in range(len(mu[i]))
            )
            dens.append(pi[c] * math.exp(logn))
        gamma = [v / sum(dens) for v in dens]
        cross = 0.0
        for c in range(len(pi)):
            inner = 0.0
            for j in range(len(mu[i])):
                var_c = math.exp(logvars[c][j])
                inner += math.log(2 * math.pi) + logvars[c][j] + math.exp(logvar[i][j]) / var_c + (mu[i][j] - means[c][j]) ** 2 / var_c
            cross += -0.5 * gamma[c] * inner
        cat = sum(gamma[c] * math.log(pi[c] / gamma[c]) for c in range(len(pi)))
        ent = sum(0.5 * (1 + math.log(2 * math.pi) + lv) for lv in logvar[i])
        rows.append((gamma, cross, cat, ent))
    return rows


def test_eq2_terms_match_a_direct_float64_evaluation():
    mu, logvar, pi_logits, means, logvars, h = random_case()
    gamma = gmm_responsibilities(h, pi_logits, means, logvars)
    terms = vade_kl_terms(mu, logvar, gamma, pi_logits, means, logvars)
    for i, (g_ref, cross, cat, ent) in enumerate(direct_eq2(mu, logvar, pi_logits, means, logvars, h)):
        np.testing.assert_allclose(gamma[i].numpy(), g_ref, rtol=1e-12)
        assert terms["cross_entropy"][i].item() == pytest.approx(cross, rel=1e-12)
        assert terms["categorical"][i].item() == pytest.approx(cat, rel=1e-12, abs=1e-12)
        assert terms["entropy"][i].item() == pytest.approx(ent, rel=1e-12)


def test_eq2_with_one_standard_component_is_the_vae_kl():
    mu, logvar, *_ = random_case(1, c=1)
    gamma = torch.ones(len(mu), 1, dtype=torch.float64)
    t = vade_kl_terms(mu, logvar, gamma, torch.zeros(1, dtype=torch.float64),
                      torch.zeros(1, 2, dtype=torch.float64), torch.zeros(1, 2, dtype=torch.float64))
    torch.testing.assert_close(-(t["cross_entropy"] + t["categorical"] + t["entropy"]), gaussian_kl_standard(mu, logvar))


def test_eq2_cross_entropy_and_entropy_match_monte_carlo():
    mu, logvar, pi_logits, means, logvars, h = random_case(2, b=2)
    gamma = gmm_responsibilities(h, pi_logits, means, logvars)
    t = vade_kl_terms(mu, logvar, gamma, pi_logits, means, logvars)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    samples = q.sample((400_000,))  # (S, B, D)
    comp = torch.distributions.Normal(means, (0.5 * logvars).exp())
    log_pc = comp.log_prob(samples.unsqueeze(2)).sum(-1)  # (S, B, C)
    mc_cross = (gamma.unsqueeze(0) * log_pc).sum(-1).mean(0)
    torch.testing.assert_close(t["cross_entropy"], mc_cross, rtol=0, atol=0.02)
    torch.testing.assert_close(t["entropy"], q.entropy().sum(-1))


def test_joint_elbo_is_below_the_log_likelihood():
    data = make_grid_gaussians(10, 4, 4, seed=0)
    torch.manual_seed(0)
    model = GMMVAE.random_init(MLPVAE(2, 3, (32,), beta=0.1), 4, seed=0)
    train_joint(model, data.train, epochs=40, lr=1e-3, batch_size=32, progress=False)
    x = torch.as_tensor(data.test)
    with torch.no_grad():
        elbo = torch.stack([model.elbo(x) for _ in range(200)]).mean(0).double().numpy()
    ll = importance_log_likelihood(model.autoencoder, data.test, model.prior(), likelihood="laplace",
                                   scale=0.1, n_importance=4000)
    # eq. 2 is a lower bound on log p(x); the importance-sampled estimate is a tighter one
    assert np.all(elbo <= ll + 0.05)


def test_from_two_step_copies_network_and_gmm():
    data = make_grid_gaussians(10, 2, 2, seed=0)
    torch.manual_seed(0)
    vae = MLPVAE(2, 3, (16,))
    train_vae(vae, data.train, epochs=5, progress=False)
    prior = GMMPrior(4, "diag", random_state=0).fit(vae.encode(data.train))
    joint = GMMVAE.from_two_step(vae, prior)
    codes = np.random.default_rng(0).standard_normal((5, 3))
    np.testing.assert_allclose(joint.prior().log_prob(codes), prior.log_prob(codes), rtol=1e-5)
    np.testing.assert_allclose(joint.autoencoder.encode(data.test), vae.encode(data.test))
    assert joint.autoencoder is not vae  # training the joint model leaves the two-step model intact
    assert joint.cluster(data.test).shape == (len(data.test),)


def test_joint_training_reduces_loss_deterministically():
    data = make_grid_gaussians(20, 2, 2, seed=0).train

    def run():
        torch.manual_seed(3)
        model = GMMVAE.random_init(MLPVAE(2, 3, (32,), beta=0.1), 16, seed=3)
        return train_joint(model, data, epochs=30, lr=1e-3, batch_size=64, seed=3, progress=False)

    a, b = run(), run()
    assert a == b
    assert a[-1] < 0.8 * a[0]
