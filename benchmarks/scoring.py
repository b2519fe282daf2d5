"""Print how long scoring takes (figures to read, no assertions): feature extraction of 10,000
images by each offline feature network, and KID and precision/recall/density/coverage (k = 5)
on 10,000 x 10,000 and on 5,000 x 5,000 feature rows (what the chapters use).

    python benchmarks/scoring.py [--threads 1]

Targets (the metrics issue): MNIST features under 10 s, CelebA 64x64 under 60 s, PRDC on
10,000 x 10,000 under 30 s, on 2 CPU cores. Untrained networks of the chapters' architecture are
timed: the time does not depend on the weights.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from twostep.evaluation.fid import ClassifierFeatures, SmallCNN
from twostep.evaluation.quality import PRDC, kernel_distance


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"torch threads: {args.threads}")
    for name, shape, classes in (("mnist_cnn", (1, 28, 28), 10), ("celeba_rotnet", (3, 64, 64), 4)):
        net = ClassifierFeatures(SmallCNN(shape[0], shape[1], n_classes=classes), shape, name=name)
        images = rng.random((10000, *shape), dtype=np.float32)
        seconds, feats = timed(lambda net=net, images=images: net(images))
        print(f"{name}: features of 10,000 images {seconds:6.1f} s ({feats.shape[1]}-d)")
    real, fake = rng.normal(size=(10000, 128)).astype(np.float32), rng.normal(0.1, 1, size=(10000, 128)).astype(np.float32)
    for n in (10000, 5000):
        seconds, prdc = timed(lambda n=n: PRDC(real[:n], k=5))
        seconds_fake, _ = timed(lambda n=n, prdc=prdc: prdc(fake[:n]))
        seconds_kid, _ = timed(lambda n=n: kernel_distance(real[:n], fake[:n]))
        print(f"{n:>6} x {n}: PRDC {seconds + seconds_fake:5.1f} s (real radii {seconds:.1f} s, once per evaluator; "
              f"per model {seconds_fake:.1f} s); KID (100 subsets of 1,000) {seconds_kid:.1f} s")


if __name__ == "__main__":
    main()
