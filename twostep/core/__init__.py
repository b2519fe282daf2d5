"""The bottom layer: parameter checks, non-finite guards, seeding and devices, files."""

from twostep.core.checks import (
           ParameterError,
           check_choice,
           check_float,
           check_int,
           check_int_list,
)
from twostep.core.files import atomic_write_bytes, sha256_file, write_metrics
from twostep.core.guards import NonFiniteError, check_finite, check_module_finite
from twostep.core.runtime import cache_dir, get_device, user_cache
from twostep.core.seeds import seed_everything, stage_seed

__all__ = ["NonFiniteError", "ParameterError", "atomic_write_bytes", "cache_dir", "check_choice", "check_finite",
           "check_float", "check_int", "check_int_list", "check_module_finite", "get_device", "seed_everything",
           "sha256_file", "stage_seed", "user_cache", "write_metrics"]
