"""Per-experiment recipes over a cached step 1 (MNIST, CelebA), prior sweeps, validated notebook
configurations, and figures."""
