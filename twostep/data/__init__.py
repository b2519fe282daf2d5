"""Data sets: the registry of where each lives and how to get it, checksums, and one loader per data
set (the grid of Gaussians, MNIST, CelebA, the Allen atlas plates, the clarinet audio)."""

from twostep.data.audio import frame_signal, load_clarinet, overlap_add, synth_clarinet
from twostep.data.grid import GridData, grid_means, make_grid_gaussians
from twostep.data.images import (
           brain_preprocess,
           load_aligned_images,
           load_allen_atlas,
           load_celeba,
)
from twostep.data.mnist import load_mnist
from twostep.data.registry import (
           ChecksumError,
           DatasetMissingError,
           data_dir,
           dataset_path,
)

__all__ = ["ChecksumError", "DatasetMissingError", "GridData", "brain_preprocess", "data_dir", "dataset_path",
           "frame_signal", "grid_means", "load_aligned_images", "load_allen_atlas", "load_celeba", "load_clarinet",
           "load_mnist", "make_grid_gaussians", "overlap_add", "synth_clarinet"]
