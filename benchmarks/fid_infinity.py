"""Does FID's 1/N law hold on Inception features at the sample sizes a CPU affords? (figures to read, not a test)

    python benchmarks/fid_infinity.py                  # 4,000 MNIST test digits, fits up to 2,000 per side
    python benchmarks/fid_infinity.py --images 2000    # cheaper: fits up to 1,000

FID∞ (Chong and Forsyth 2020; ``twostep.evaluation.fid_infinity``) fits FID at several sizes N linearly
in 1/N and reads the intercept. They fit N from 5,000 to 50,000, above Inception's 2,048 dimensions; a
2-core CPU scores about 14 images per second, so a chapter can afford about 1,000-2,000 per model. This
script maps ``--images`` MNIST test digits (drawn at random: the test set's halves come from different
writers) to Inception features once (about 5 min for 4,000), then, for largest sizes of a quarter, half
and all of each half:

* two halves of the real digits, whose distance at infinitely many samples is 0;
* one half against the other half blurred (``gaussian_blur`` at level 0.5), whose FID∞ should not
  depend on the largest size if the law holds.

Prints FID at the largest size, FID∞, the fit's largest residual, and the seconds. Also prints the
CPU's instruction set.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from twostep.data.mnist import load_mnist
from twostep.evaluation.disturbances import gaussian_blur
from twostep.evaluation.fid import InceptionFeatures
from twostep.evaluation.fid_infinity import fid_infinity, fit_sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4000, help="real digits mapped (two halves)")
    parser.add_argument("--features", help="an .npz to keep the features in (reused when present)")
    args = parser.parse_args()
    print(f"CPU capability: {torch.backends.cpu.get_cpu_capability()}, threads {torch.get_num_threads()}")
    half = args.images // 2
    if args.features and os.path.exists(args.features):
        with np.load(args.features) as f:
            a, b, blurred = f["a"], f["b"], f["blurred"]
    else:
        x, _ = load_mnist(train=False)
        rng = np.random.default_rng(0)
        x = x[rng.choice(len(x), 2 * half, replace=False)].reshape(-1, 1, 28, 28)
        net = InceptionFeatures((1, 28, 28), device="cpu")
        start = time.perf_counter()
        a, b = net(x[:half]), net(x[half:])
        blurred = net(gaussian_blur(x[half:], 0.5, rng))
        print(f"Inception features of {3 * half} images: {time.perf_counter() - start:.0f} s")
        if args.features:
            np.savez(args.features, a=a, b=b, blurred=blurred)
    print(f"{'pair':<20} {'largest N':>9} {'FID at N':>9} {'FID∞':>9} {'residual':>9} {'s':>5}")
    for name, other in (("real halves", b), ("real vs blurred", blurred)):
        for largest in (half // 4, half // 2, half):
            start = time.perf_counter()
            r = fid_infinity(a, other, seed=0, sizes=fit_sizes(largest))
            print(f"{name:<20} {largest:>9} {r.largest:>9.2f} {r.value:>9.2f} {r.residual():>9.2f} "
                  f"{time.perf_counter() - start:>5.1f}")


if __name__ == "__main__":
    main()
