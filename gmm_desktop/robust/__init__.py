"""Robust estimation of location, scatter and mixtures: FAST-MCD and TCLUST.

A standalone numerical package (numpy and scipy only; from gmm-desktop it imports only
:mod:`gmm_desktop.errors`), checked by an import-linter contract. The plugin API re-exports
what plugins need.

:func:`fast_mcd`
    The minimum covariance determinant (Rousseeuw & Van Driessen, 1999), with the
    consistency correction and the reweighting step.
:func:`tclust`
    Trimmed mixture fitting with scatter constraints (García-Escudero, Gordaliza, Matrán
    & Mayo-Iscar, 2008); with one component and no constraint it is the raw MCD.
:func:`nn_clean`
    Nearest-neighbour clutter removal (Byers & Raftery, 1998), the start mclust gives its
    noise component.
"""

from gmm_desktop.robust.mcd import MCDResult, fast_mcd, mcd_support_size
from gmm_desktop.robust.nnclean import NNCleanResult, nn_clean
from gmm_desktop.robust.tclust import (
    RESTRICTIONS,
    TclustResult,
    restrict_determinants,
    restrict_eigenvalues,
    tclust,
)

__all__ = [
    "RESTRICTIONS",
    "MCDResult",
    "NNCleanResult",
    "TclustResult",
    "fast_mcd",
    "mcd_support_size",
    "nn_clean",
    "restrict_determinants",
    "restrict_eigenvalues",
    "tclust",
]
