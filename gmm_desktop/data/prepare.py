"""Turning chosen columns of a :class:`Dataset` into a model-ready matrix."""

from __future__ import annotations

import difflib
import hashlib
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .dataset import Dataset, listing
from .errors import DataError, DataWarning, clip_text
from .scaling import SCALING_METHODS, Scaler

__all__ = ["MISSING_POLICIES", "PreparationReport", "PreparedFeatures", "prepare_features"]

MISSING_POLICIES = ("drop", "median")
MIN_ROWS = 2
FEW_DISTINCT = 10
"""A column with at most this many distinct values (and at least ten rows per value)
is reported as probably categorical."""


@dataclass(frozen=True)
class PreparationReport:
    """What :func:`prepare_features` did about missing and infinite values.

    Attributes:
        policy: ``"drop"`` or ``"median"``.
        rows_total: rows in the dataset.
        rows_kept: rows in the prepared matrix.
        rows_dropped: rows removed because a chosen column was missing or infinite.
        rows_imputed: rows in which at least one value was replaced by the median.
        columns_affected: for each chosen column with missing or infinite values, how
            many there were (columns without any are not listed).
        missing_counts: per column, the missing (empty/NaN) values among those.
        infinite_counts: per column, the infinite values among those.
        imputed_values: per column, the median used to fill in (policy ``"median"``).
        summary: the same in a sentence, for the user.
    """

    policy: str
    rows_total: int
    rows_kept: int
    rows_dropped: int
    rows_imputed: int
    columns_affected: dict[str, int]
    missing_counts: dict[str, int] = field(default_factory=dict)
    infinite_counts: dict[str, int] = field(default_factory=dict)
    imputed_values: dict[str, float] = field(default_factory=dict)
    summary: str = ""

    def __str__(self) -> str:
        return self.summary


@dataclass(frozen=True, eq=False)
class PreparedFeatures:
    """The model-ready features of a dataset.

    Attributes:
        X: float64 array (rows_kept × features), scaled, every value finite.
        row_ids: identity of each row of ``X`` (from ``Dataset.row_ids``).
        row_index: 0-based position of each row of ``X`` in ``Dataset.frame``.
        columns: the feature columns, in the order of ``X``'s columns.
        scaler: the fitted :class:`Scaler` (store it with the model).
        report: what was done about missing and infinite values.
        warnings: findings about the chosen columns (constant, duplicated, ...).
    """

    X: np.ndarray
    row_ids: np.ndarray
    row_index: np.ndarray
    columns: list[str]
    scaler: Scaler
    report: PreparationReport
    warnings: list[DataWarning]

    @property
    def n_samples(self) -> int:
        """Rows of ``X``."""
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        """Columns of ``X``."""
        return int(self.X.shape[1])

    def original_values(self) -> np.ndarray:
        """``X`` in original units (after imputation, before scaling)."""
        return self.scaler.inverse_transform(self.X)


def _choose_columns(ds: Dataset, columns: Sequence[str] | None) -> list[str]:
    """The chosen feature columns, checked; linear in the number of columns (sets, not
    repeated list scans: 10,000 columns cost milliseconds, not minutes)."""
    if columns is None:
        chosen = list(ds.numeric_columns)
    else:
        if isinstance(columns, str):
            columns = [columns]
        chosen = [str(c) for c in columns]
    offered = listing(ds.numeric_columns)
    if not chosen:
        raise DataError(
            "no feature column was chosen.",
            path=ds.path,
            remedy=f"Choose at least one numeric column: {offered}.",
        )
    counts = Counter(chosen)
    repeated = sorted(c for c, n in counts.items() if n > 1)
    if repeated:
        raise DataError(
            f"the column(s) {listing(repeated)} are chosen more than once.",
            path=ds.path,
            remedy="Choose each feature column once.",
        )
    all_columns = ds.columns
    existing = set(all_columns)
    numeric = set(ds.numeric_columns)
    for name in chosen:
        if name not in existing:
            hint = ""
            if len(all_columns) <= 2_000 and len(name) <= 200:  # difflib is quadratic
                close = difflib.get_close_matches(name, all_columns, n=1)
                hint = f" Did you mean '{clip_text(close[0])}'?" if close else ""
            raise DataError(
                f"there is no column named '{clip_text(name)}'.{hint}",
                path=ds.path,
                remedy=f"Choose among the numeric columns: {offered}.",
            )
        if name not in numeric:
            if name == ds.id_column:
                why = "it is the ID column"
            elif ds.frame[name].isna().all():
                why = "it has no values (every cell is empty or missing)"
            else:
                kind = ds.frame[name].dtype
                sample = ds.frame[name].dropna()
                example = f", e.g. '{clip_text(sample.iloc[0])}'" if len(sample) else ""
                why = f"it is not numeric (type {kind}{example})"
            raise DataError(
                f"the column cannot be a feature: {why}.",
                path=ds.path,
                column=name,
                remedy=f"Choose among the numeric columns: {offered}.",
            )
    return chosen


def _missing_summary(
    policy: str,
    n_total: int,
    n_dropped: int,
    n_imputed: int,
    missing: dict[str, int],
    infinite: dict[str, int],
) -> str:
    if not missing and not infinite:
        return f"No missing or infinite values in the chosen columns; all {n_total:,} rows kept."
    parts = []
    for col in dict.fromkeys([*missing, *infinite]):
        bits = []
        if missing.get(col):
            bits.append(f"{missing[col]:,} missing")
        if infinite.get(col):
            bits.append(f"{infinite[col]:,} infinite")
        parts.append(f"'{clip_text(col)}' ({', '.join(bits)})")
    where = "; ".join(parts[:10])
    if len(parts) > 10:
        where += f"; and {len(parts) - 10:,} more columns"
    if policy == "drop":
        return (
            f"Dropped {n_dropped:,} of {n_total:,} rows with missing or infinite values in "
            f"{where}; {n_total - n_dropped:,} rows kept."
        )
    return (
        f"Filled in missing or infinite values with the column median in {n_imputed:,} of "
        f"{n_total:,} rows: {where}."
    )


def _column_warnings(X: np.ndarray, columns: list[str]) -> list[DataWarning]:
    warnings: list[DataWarning] = []
    n, d = X.shape
    constant = set()
    for j, name in enumerate(columns):
        col = X[:, j]
        if n and np.all(col == col[0]):
            constant.add(j)
            warnings.append(
                DataWarning(
                    "constant-column",
                    f"Column '{clip_text(name)}' has the same value ({col[0]:g}) in every row.",
                    column=name,
                    remedy="Deselect it: a constant feature carries no information and makes "
                    "the covariance matrix singular.",
                )
            )
    groups: dict[str, int] = {}
    for j, name in enumerate(columns):
        digest = hashlib.blake2b(np.ascontiguousarray(X[:, j]).tobytes(), digest_size=16)
        key = digest.hexdigest()
        if key in groups and np.array_equal(X[:, groups[key]], X[:, j]):
            warnings.append(
                DataWarning(
                    "duplicate-columns",
                    f"Column '{clip_text(name)}' is identical to column "
                    f"'{clip_text(columns[groups[key]])}'.",
                    column=name,
                    remedy="Deselect one of them: duplicated features make the covariance "
                    "matrix singular.",
                )
            )
        else:
            groups.setdefault(key, j)
    for j, name in enumerate(columns):
        if j in constant:
            continue
        head = X[: min(n, 20_000), j]
        if np.unique(head).size > FEW_DISTINCT:
            continue
        distinct = np.unique(X[:, j])
        if distinct.size <= FEW_DISTINCT and n >= 10 * distinct.size:
            shown = ", ".join(f"{v:g}" for v in distinct[:6])
            warnings.append(
                DataWarning(
                    "few-distinct-values",
                    f"Column '{clip_text(name)}' has only {distinct.size} distinct values ({shown}"
                    f"{', ...' if distinct.size > 6 else ''}); it looks like a category, "
                    "flag or label rather than a measurement.",
                    column=name,
                    remedy="Deselect it unless it really is a measurement: a Gaussian mixture "
                    "treats it as continuous and may put components on its few values.",
                )
            )
    if n <= d:
        warnings.append(
            DataWarning(
                "more-features-than-rows",
                f"There are {d} features but only {n} rows.",
                remedy="Choose fewer features, add rows, or use a 'diag' or 'spherical' "
                "covariance: a full covariance needs more rows than features.",
            )
        )
    return warnings


def _check_medians(medians: Any) -> dict[str, float]:
    """``medians`` as ``{column: finite number}``, or a DataError that says what is wrong."""
    if not isinstance(medians, Mapping):
        raise DataError(
            f"medians must map column names to numbers, got {type(medians).__name__}.",
            remedy="Pass a dict such as {'x': 1.5}, or leave medians out (this table's own "
            "medians are used).",
        )
    out: dict[str, float] = {}
    for name, value in medians.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = float("nan")
        if isinstance(value, bool) or not np.isfinite(number):
            raise DataError(
                f"the median given for column '{clip_text(str(name))}' is "
                f"'{clip_text(str(value))}', not a finite number.",
                remedy="Give a number for each column, or leave medians out.",
            )
        out[str(name)] = number
    return out


def prepare_features(
    ds: Dataset,
    columns: Sequence[str] | None = None,
    missing: str = "drop",
    scaling: str = "none",
    *,
    medians: Mapping[str, float] | None = None,
) -> PreparedFeatures:
    """Extract, clean and scale the feature columns of ``ds``.

    Args:
        ds: a loaded dataset (not modified).
        columns: the feature columns; default all of ``ds.numeric_columns``.
        missing: what to do with rows holding a missing (empty/NaN) or infinite value in
            a chosen column: ``"drop"`` the rows (default) or replace the value by the
            column ``"median"`` (of its finite values).  Either way ``report`` says how
            many rows and which columns were affected.
        scaling: ``"none"`` (default), ``"standardize"`` (z-score) or ``"robust"``
            (median and interquartile range).
        medians: with ``missing="median"``, the values to fill in per column instead of
            this table's own medians: the medians of the data a saved model was fitted on,
            so that new data is imputed exactly as the training data was. Columns not
            listed use this table's median.

    Raises:
        DataError: an unknown or non-numeric column, an unknown policy, a column without
            any value, fewer than two rows left, or values whose squares would overflow
            float64 (the message says to rescale or to choose a scaling).
    """
    if not isinstance(ds, Dataset):
        raise DataError(
            f"prepare_features needs a Dataset, got {type(ds).__name__}.",
            remedy="Load the table with load_table(...) (or load_frame(...) for a table "
            "already in memory) and pass the Dataset it returns.",
        )
    if not isinstance(missing, str) or missing not in MISSING_POLICIES:
        raise DataError(
            f"unknown missing-value policy '{clip_text(missing)}'.",
            remedy="Use missing='drop' or missing='median'.",
        )
    if not isinstance(scaling, str) or scaling not in SCALING_METHODS:
        raise DataError(
            f"unknown scaling '{clip_text(scaling)}'.",
            remedy="Use one of: " + ", ".join(repr(m) for m in SCALING_METHODS) + ".",
        )
    if medians is not None:
        medians = _check_medians(medians)
    chosen = _choose_columns(ds, columns)
    frame = ds.frame[chosen]
    raw = np.empty((len(frame), len(chosen)), dtype=np.float64)
    for j, name in enumerate(chosen):
        raw[:, j] = pd.to_numeric(frame[name], errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
    n_total = raw.shape[0]

    nan_mask = np.isnan(raw)
    inf_mask = np.isinf(raw)
    bad = nan_mask | inf_mask
    missing_counts = {c: int(v) for c, v in zip(chosen, nan_mask.sum(axis=0), strict=True) if v}
    infinite_counts = {c: int(v) for c, v in zip(chosen, inf_mask.sum(axis=0), strict=True) if v}
    affected = {c: int(v) for c, v in zip(chosen, bad.sum(axis=0), strict=True) if v}

    for j, name in enumerate(chosen):
        if bad[:, j].all():
            raise DataError(
                f"the column has no finite value ({missing_counts.get(name, 0)} missing, "
                f"{infinite_counts.get(name, 0)} infinite).",
                path=ds.path,
                column=name,
                remedy="Deselect this column.",
            )

    bad_rows = bad.any(axis=1)
    imputed_values: dict[str, float] = {}
    if missing == "drop":
        keep = ~bad_rows
        X_raw = raw[keep]
        row_index = np.flatnonzero(keep)
        n_dropped = int(bad_rows.sum())
        n_imputed = 0
    else:
        X_raw = raw.copy()
        for j, name in enumerate(chosen):
            if bad[:, j].any():
                if medians is not None and name in medians:
                    median = float(medians[name])
                else:
                    col = raw[:, j]
                    finite = col[np.isfinite(col)]
                    # The median of values near the float64 limit must not overflow.
                    m = float(np.max(np.abs(finite))) or 1.0
                    median = float(np.median(finite / m)) * m
                X_raw[bad[:, j], j] = median
                imputed_values[name] = median
        row_index = np.arange(n_total)
        n_dropped = 0
        n_imputed = int(bad_rows.sum())

    summary = _missing_summary(
        missing, n_total, n_dropped, n_imputed, missing_counts, infinite_counts
    )
    report = PreparationReport(
        policy=missing,
        rows_total=n_total,
        rows_kept=int(X_raw.shape[0]),
        rows_dropped=n_dropped,
        rows_imputed=n_imputed,
        columns_affected=affected,
        missing_counts=missing_counts,
        infinite_counts=infinite_counts,
        imputed_values=imputed_values,
        summary=summary,
    )
    if X_raw.shape[0] < MIN_ROWS:
        worst = max(affected, key=lambda column: affected[column]) if affected else None
        detail = (
            f" after dropping {n_dropped:,} row(s) with missing or infinite values "
            f"(most in '{clip_text(worst)}')"
            if n_dropped
            else ""
        )
        raise DataError(
            f"only {X_raw.shape[0]} row(s) are left{detail}; at least {MIN_ROWS} are needed.",
            path=ds.path,
            remedy="Use missing='median' or deselect the columns with many missing values."
            if n_dropped
            else "Load a file with more rows.",
        )

    warnings = _column_warnings(X_raw, chosen)
    scaler = Scaler.fit(X_raw, scaling, chosen)
    X = scaler.transform(X_raw)
    _check_magnitude(X, chosen, scaling, ds)
    X = np.ascontiguousarray(X)
    return PreparedFeatures(
        X=X,
        row_ids=ds.row_ids[row_index],
        row_index=row_index,
        columns=chosen,
        scaler=scaler,
        report=report,
        warnings=warnings,
    )


def safe_magnitude(n_rows: int, n_features: int) -> float:
    """Largest |value| whose squares can be summed over a whole matrix without overflow."""
    return math.sqrt(np.finfo(np.float64).max / max(n_rows * n_features, 1)) / 16


def _check_magnitude(X: np.ndarray, columns: list[str], scaling: str, ds: Dataset) -> None:
    limit = safe_magnitude(*X.shape)
    peaks = np.max(np.abs(X), axis=0) if X.size else np.zeros(len(columns))
    too_big = np.flatnonzero(peaks > limit)
    if too_big.size == 0:
        return
    j = int(too_big[np.argmax(peaks[too_big])])
    if scaling == "none":
        remedy = (
            "Choose scaling='standardize' or 'robust', or rescale the column in the file "
            "(for example change its unit)."
        )
    else:
        remedy = (
            "A few extreme values dominate this column even after scaling: remove or correct "
            "them, or rescale the column in the file; 'standardize' copes better than "
            "'robust' with such outliers."
        )
    raise DataError(
        f"values up to {peaks[j]:.3g} (after scaling '{scaling}') are too large: their "
        f"squares overflow float64 (the limit for {X.shape[0]:,} rows × {X.shape[1]} "
        f"features is about {limit:.3g}).",
        path=ds.path,
        column=columns[j],
        remedy=remedy,
    )
