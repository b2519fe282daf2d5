"""Training-step time of the book's conv nets in torch's two memory layouts (figures to read).

    python benchmarks/conv_layout.py            # CelebA's conv VAE and rotation network, the audio VAE
    python benchmarks/conv_layout.py --rounds 9

For each network: one Adam step (forward, loss, backward, update) on a minibatch of the default
profile's size, in the default layout (NCHW) and in ``channels_last`` (NHWC), the two taking turns
so that both see the same spells of a shared machine; the fastest of ``--rounds`` rounds of
``--steps`` steps is reported, with the ratio. Prints the CPU's instruction set
(``torch.backends.cpu.get_cpu_capability()``): oneDNN picks other kernels on AVX2 and AVX-512.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from twostep.autoencoders import AudioConvVAE, ConvVAE
from twostep.evaluation.fid import SmallCNN


def step_time(model: torch.nn.Module, batch: torch.Tensor, loss_fn, steps: int) -> float:
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-4)
    start = time.perf_counter()
    for _ in range(steps):
        loss = loss_fn(model, batch)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    return (time.perf_counter() - start) / steps


def vae_loss(model, batch):
    return model.loss(batch)


def classifier_loss(model, batch):
    return torch.nn.functional.cross_entropy(model(batch), torch.zeros(len(batch), dtype=torch.long))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.backends.cpu.get_cpu_capability()}, {args.threads} threads")
    cases = {
        "CelebA conv VAE (64x64, width 32, batch 64)": (lambda: ConvVAE((3, 64, 64), 64, width=32, depth=4),
                                                        (64, 3, 64, 64), vae_loss),
        "CelebA rotation network (64x64, batch 128)": (lambda: SmallCNN(3, 64, n_classes=4), (128, 3, 64, 64),
                                                       classifier_loss),
        "MNIST feature CNN (28x28, batch 128)": (lambda: SmallCNN(1, 28), (128, 1, 28, 28), classifier_loss),
    }
    for name, (build, shape, loss_fn) in cases.items():
        torch.manual_seed(0)
        batch = torch.rand(shape) * 2 - 1
        models = {"NCHW": build(), "channels_last": build().to(memory_format=torch.channels_last)}
        inputs = {"NCHW": batch, "channels_last": batch.contiguous(memory_format=torch.channels_last)}
        best = {k: float("inf") for k in models}
        for _ in range(args.rounds):
            for k, model in models.items():
                best[k] = min(best[k], step_time(model, inputs[k], loss_fn, args.steps))
        print(f"{name}: NCHW {1e3 * best['NCHW']:.1f} ms, channels_last {1e3 * best['channels_last']:.1f} ms per step "
              f"(x{best['NCHW'] / best['channels_last']:.2f})")
    # the audio VAE is 1-d: channels_last does not apply; its step time, for the record
    audio = AudioConvVAE(800, 80, channels=(16, 32), kernel=200)
    frames = torch.randn(200, 800)
    t = min(step_time(audio, frames, vae_loss, args.steps) for _ in range(args.rounds))
    print(f"clarinet audio VAE (1-d, batch 200): {1e3 * t:.1f} ms per step")


if __name__ == "__main__":
    main()
