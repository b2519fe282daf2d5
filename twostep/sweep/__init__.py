"""Parameter sweeps: every notebook executed once per grid value and seed, each run a Dask task.

``python -m twostep.sweep NOTEBOOK [--seeds 0 1 2] [--grid NAME=V1,V2] ...`` (``nox -s sweep -- ...``);
see :mod:`twostep.sweep.runner`.
"""
