"""Print the effect of computing a sigmoid decoder's Bernoulli term from its logits instead of from
clamped means (issue #28, item 5), on the VAE the issue compares with pythae's trainer.

    TWOSTEP_CACHE=... python benchmarks/bernoulli_logits.py [--epochs 10] [--threads 2]

The same 784-600-20 VAE (tanh, sigmoid output), BCE + KL with beta = 1, batch 256, Adam 1e-3
(0.5, 0.999), the same seed and data order, trained twice: once on torch's BCE of means clamped to
[1e-6, 1 - 1e-6] (the library's reconstruction_loss before the fix: zero gradient where the clamp
holds), once on binary_cross_entropy_with_logits. For each: the mean training loss of the last
epoch, the fraction of training pixels whose mean is clamped on the wrong side at the end, and the
FD [mnist_cnn] of 10,000 samples from N(0, I) and from a 10-component full GMM fitted on the
encoder means (the issue's numbers: pythae 414 / 173, ours 467 / 205 on an AVX2 machine).
``--variants`` adds other candidate causes of that gap, each on the logits: ``relu`` (pythae's
default activation instead of the authors' tanh) and ``betas`` (Adam's default (0.9, 0.999)).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

from twostep.autoencoders import MLPVAE
from twostep.autoencoders.base import reconstruction_loss
from twostep.data.mnist import load_mnist
from twostep.evaluation.fid import FEATURE_NETWORK_SEED, FIDEvaluator, feature_networks
from twostep.experiments.mnist import IMAGE_SHAPE, mnist_feature_network
from twostep.nn.layers import gaussian_kl_standard, reparameterise
from twostep.nn.training import train_model
from twostep.pipeline import TwoStepModel
from twostep.priors import GMMPrior, StandardNormalPrior


def loss_fn(model: MLPVAE, variant: str):
    def loss(x):
        mu, logvar = model.encode_distribution(x)
        h = reparameterise(mu, logvar)
        if variant == "logits":
            recon = F.binary_cross_entropy_with_logits(model.decoder[:-1](h), x, reduction="none").sum(-1)
        else:
            recon = reconstruction_loss(x, model.decode_tensor(h), "bernoulli")
        return (recon + gaussian_kl_standard(mu, logvar)).mean()
    return loss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--variants", nargs="+", default=["clamped", "logits"],
                        choices=["clamped", "logits", "relu", "betas"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"CPU: {torch.backends.cpu.get_cpu_capability()}, {args.threads} thread(s), torch {torch.__version__}")
    x_train, y_train = load_mnist(train=True)
    x_test, _ = load_mnist(train=False)
    features, _ = mnist_feature_network(x_train, y_train, epochs=3, seed=FEATURE_NETWORK_SEED, device="cpu")
    evaluator = FIDEvaluator(feature_networks(features, inception="never", image_shape=IMAGE_SHAPE,
                                              device=torch.device("cpu")), x_test, quality_rows=0)
    x = x_train.reshape(len(x_train), -1).astype(np.float32)
    for variant in args.variants:
        torch.manual_seed(0)
        model = MLPVAE(784, 20, (600,), activation="relu" if variant == "relu" else "tanh", output="sigmoid",
                       likelihood="bernoulli", beta=1.0)
        start = time.perf_counter()
        loss = loss_fn(model, "clamped" if variant == "clamped" else "logits")
        history = train_model(model, loss, x, epochs=args.epochs, batch_size=256, lr=1e-3,
                              betas=(0.9, 0.999) if variant == "betas" else (0.5, 0.999), seed=0, device="cpu",
                              progress=False, desc=variant)
        seconds = time.perf_counter() - start
        with torch.no_grad():
            logits = model.decoder[:-1](model.encode_distribution(torch.as_tensor(x[:10000]))[0])
            wrong = ((logits < -13.8) & (torch.as_tensor(x[:10000]) > 0.5)).float().mean().item()
        codes = model.encode(x)
        fds = {}
        for name, prior in (("N(0, I)", StandardNormalPrior()), ("GMM full 10", GMMPrior(10, "full", random_state=0))):
            two_step = TwoStepModel(model, prior).fit_codes(codes)
            fds[name] = evaluator.score(two_step.sample(10000, seed=1))["mnist_cnn"].full
        print(f"{variant:>8}: {args.epochs} epochs in {seconds:.0f} s, last training loss {history[-1]:.2f}, "
              f"strokes with a mean below 1e-6 {100 * wrong:.3f}%, FD [mnist_cnn] N(0, I) {fds['N(0, I)']:.1f}, "
              f"GMM full 10 {fds['GMM full 10']:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
