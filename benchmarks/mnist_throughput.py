"""Print MNIST step-1 training throughput and step-2 refit times (no assertions: figures to read).

    python benchmarks/mnist_throughput.py [--epochs 3] [--batch-size 256] [--threads 2]

- VAE training throughput in samples/s (the fastest of ``--epochs`` timed epochs, the models taking
  turns), and the fraction of this machine's float32 matmul rate that it reaches (model FLOPs: 3 x
  forward multiply-adds x 2; the matmul rate is timed in the same turns, its fastest taken, so that
  a slow spell moves neither side alone);
- the same for the joint GMM-VAE (eq. 2, the network's FLOPs plus the GMM terms, B x C x D
  multiply-adds each for the responsibilities and the cross-entropy) at each component count, and
  its samples/s as a fraction of the VAE's;
- the time to refit a GMM prior on cached codes, for diagonal and full covariances.
"""

from __future__ import annotations

import argparse
import time

import torch

from twostep.autoencoders import MLPVAE, train_vae
from twostep.data import load_mnist
from twostep.joint import GMMVAE, train_joint
from twostep.priors import GMMPrior

MATMUL_SIZE, MATMUL_REPEATS = 2048, 10


def matmul_run():
    """A function that multiplies two MATMUL_SIZE^2 float32 matrices MATMUL_REPEATS times (warmed up)."""
    a, b = torch.randn(MATMUL_SIZE, MATMUL_SIZE), torch.randn(MATMUL_SIZE, MATMUL_SIZE)
    a @ b

    def run():
        for _ in range(MATMUL_REPEATS):
            a @ b

    return run


def fastest_epochs(trainers: dict, rounds: int) -> dict:
    """Seconds of the fastest of ``rounds`` timed epochs of each model (key -> a function training
    one epoch). The models take turns, one epoch each per round, so that all of them see the same
    spells of a shared machine; the fastest epoch is the least disturbed (on this project's 2-core
    machine, whole runs of the same code read 45% to 64% of the matmul rate)."""
    times = {key: [] for key in trainers}
    for _ in range(rounds):
        for key, train_one_epoch in trainers.items():
            start = time.perf_counter()
            train_one_epoch()
            times[key].append(time.perf_counter() - start)
    return {key: min(values) for key, values in times.items()}


def vae_flops_per_sample(model: MLPVAE) -> float:
    """Training FLOPs per sample: every Linear's multiply-adds x 2 (forward), x 3 (with backward)."""
    macs = sum(m.in_features * m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear))
    return 3 * 2 * macs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs of each model, in turns; the fastest is reported")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--components", type=int, nargs="+", default=[10, 50, 100])
    parser.add_argument("--joint-components", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--codes", type=int, default=20000)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    x, _ = load_mnist(train=True)

    torch.manual_seed(0)
    vae = MLPVAE(784, 20, (600,), output="sigmoid", likelihood="laplace", beta=0.1)
    train_vae(vae, x[:5000], epochs=1, batch_size=args.batch_size, progress=False)  # warm up
    models = {"vae": (vae, lambda: train_vae(vae, x, epochs=1, batch_size=args.batch_size, lr=1e-3, progress=False))}
    for k in args.joint_components:
        joint = GMMVAE.from_two_step(vae, GMMPrior(k, "diag", random_state=0).fit(vae.encode(x[:5000])),
                                     likelihood="bernoulli", beta=1.0)
        train_joint(joint, x[:5000], epochs=1, batch_size=args.batch_size, progress=False)  # warm up
        models[k] = (joint, lambda joint=joint: train_joint(joint, x, epochs=1, batch_size=args.batch_size, lr=1e-4,
                                                            progress=False))
    seconds = fastest_epochs({"matmul": matmul_run(), **{key: train for key, (_, train) in models.items()}},
                             args.epochs)
    peak = MATMUL_REPEATS * 2 * MATMUL_SIZE**3 / seconds["matmul"] / 1e9
    print(f"float32 matmul ({MATMUL_SIZE}^3, {args.threads} threads, the fastest of {args.epochs} turns): "
          f"{peak:.1f} GFLOP/s")

    vae_rate = len(x) / seconds["vae"]
    gflops = vae_rate * vae_flops_per_sample(vae) / 1e9
    print(f"VAE training (batch {args.batch_size}): {vae_rate:,.0f} samples/s, {seconds['vae']:.2f} s/epoch, "
          f"{gflops:.1f} GFLOP/s = {100 * gflops / peak:.0f}% of the measured matmul rate")
    for k in args.joint_components:
        joint = models[k][0]
        rate = len(x) / seconds[k]
        flops = vae_flops_per_sample(joint.autoencoder) + 3 * 2 * 2 * k * joint.latent_dim
        gflops = rate * flops / 1e9
        print(f"joint GMM-VAE, {k:>3} components (batch {args.batch_size}): {rate:,.0f} samples/s, "
              f"{seconds[k]:.2f} s/epoch, {gflops:.1f} GFLOP/s = {100 * gflops / peak:.0f}% of the matmul rate, "
              f"{100 * rate / vae_rate:.0f}% of the VAE's samples/s")

    codes = vae.encode(x)[: args.codes]
    for cov in ("diag", "full"):
        for k in args.components:
            start = time.perf_counter()
            prior = GMMPrior(k, cov, n_init=1, random_state=0).fit(codes)
            print(f"GMM refit on {len(codes)} cached codes: {cov:>4}, {k:>3} components: "
                  f"{time.perf_counter() - start:6.2f} s ({prior.mixture_.n_iter_} EM iterations)")


if __name__ == "__main__":
    main()
