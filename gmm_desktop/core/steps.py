"""The steps of a run, as module-level functions of immutable inputs.

Each step takes what it needs (never the run itself), reports through one
:class:`~gmm_desktop.core.progress.Reporter` contract, and returns an immutable result
(:mod:`gmm_desktop.core.state`). The command line and the Python API call them through
:class:`~gmm_desktop.core.run.Detector`; the window runs the same functions in a worker
thread and lets the run adopt the result in the GUI thread. Big data (Dask) is a backend:
the steps dispatch to :mod:`gmm_desktop.core.bigdata` when the table was opened lazily.
"""

from __future__ import annotations

import copy
import hashlib
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gmm_desktop.core.config import ConfigError, RunConfig, default_columns
from gmm_desktop.core.modelfile import ModelBundle, export_metadata
from gmm_desktop.core.progress import ProgressCallback, Reporter
from gmm_desktop.core.records import Labels, RefitRecord, SourceInfo
from gmm_desktop.core.routes import fit_robust_route
from gmm_desktop.core.state import (
    DensityIndex,
    Detection,
    Fitted,
    Loaded,
    Prepared,
    RefitProposal,
    Scored,
    frozen,
)
from gmm_desktop.data import (
    DataError,
    PreparedFeatures,
    ReadOptions,
    load_frame,
    load_table,
    prepare_features,
    write_table_atomic,
)
from gmm_desktop.data.errors import clip_text
from gmm_desktop.engine import GaussianMixture, SelectionResult, select_models
from gmm_desktop.engine.anomaly import (
    Scores,
    Threshold,
    ThresholdSpec,
    contamination_cutoff,
    feature_contributions,
    run_refit,
    score_rows,
    threshold_from,
)
from gmm_desktop.engine.selection import information_criteria
from gmm_desktop.errors import GmmDesktopError
from gmm_desktop.registry import get_registry

__all__ = [
    "OutputError",
    "check_output",
    "detect",
    "export_rows",
    "file_sha256",
    "fit",
    "learn_threshold",
    "load",
    "prepare",
    "refit",
    "result_frame",
    "sample",
    "score",
    "sweep",
]

#: Rows scored at a time (memory stays bounded by a chunk of rows × components).
SCORE_CHUNK = 200_000


class OutputError(GmmDesktopError, ValueError):
    """An output would overwrite or sit inside an input, or cannot be written there."""


# --------------------------------------------------------------------------- files


def file_sha256(path: str | os.PathLike[str]) -> str | None:
    """The SHA-256 of a file (provenance); ``None`` for a folder or an unreadable file."""
    p = Path(path)
    if not p.is_file():
        return None
    digest = hashlib.sha256()
    try:
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def _resolved(path: str | os.PathLike[str], what: str) -> Path:
    """The absolute path behind ``path`` (a loop of symbolic links is refused clearly)."""
    try:
        return Path(path).expanduser().resolve()
    except (RuntimeError, OSError) as exc:  # 3.11: RuntimeError("Symlink loop ...")
        raise OutputError(
            f"the {what} {clip_text(str(path), 200)} cannot be resolved: it is a loop of "
            "symbolic links or an unreadable path. Choose another file."
        ) from exc


def check_output(output: str | os.PathLike[str], inputs: Sequence[str | None],
                 *, what: str = "output") -> Path:
    """Refuse an output that is an input, lies inside an input folder or contains one.

    Returns the output path. Called before any work, so a wrong name costs nothing.
    """
    out = _resolved(output, what)
    for item in inputs:
        if not item:
            continue
        src = _resolved(item, "input")
        if out == src or src in out.parents or out in src.parents:
            relation = ("is" if out == src else "is inside" if src in out.parents
                        else "contains")
            raise OutputError(
                f"the {what} {output} {relation} the input {item}; writing it would "
                "destroy the data. Choose another file name."
            )
    return out


# --------------------------------------------------------------------------- load, prepare


def load(
    source: Any,
    *,
    id_column: str | None = None,
    sheet: str | int | None = None,
    read: ReadOptions | None = None,
    demo: str | None = None,
    generation: int = 0,
    progress: ProgressCallback | None = None,
    **options: Any,
) -> Loaded:
    """Read a table: a file path, a pandas DataFrame or a 2-D array.

    ``read`` (:class:`~gmm_desktop.data.ReadOptions`) says how a text file is read;
    ``options`` (delimiter, decimal, header, missing_values, text_columns) are laid over it,
    as :func:`gmm_desktop.data.load_table` does. The file's SHA-256 is recorded for
    provenance; the options used are the table's ``read`` and what was detected its
    ``dialect``.
    """
    report = Reporter(progress, "load")
    if isinstance(source, str | os.PathLike):
        path = Path(source).expanduser()
        ds = load_table(path, read=read, sheet=sheet, id_column=id_column,
                        progress=report.part(0.0, 0.95).data_callback(), **options)
        report(0.96, f"checksum of {path.name}")
        src = SourceInfo(path=str(path.resolve()), name=ds.name, n_rows=ds.n_rows,
                         id_column=ds.id_column, sheet=sheet, demo=demo,
                         sha256=file_sha256(path))
    else:
        if sheet is not None or options or (read is not None and not read.is_default):
            raise ConfigError("a table passed in memory takes no sheet or reading options")
        attrs = getattr(source, "attrs", None)  # a DataFrame may carry df.attrs["name"]
        name = attrs.get("name") if isinstance(attrs, dict) else None
        ds = load_frame(source, id_column=id_column,
                        name=name if isinstance(name, str) and name else "data frame")
        src = SourceInfo(path=None, name=ds.name, n_rows=ds.n_rows, id_column=ds.id_column)
    report(1.0, f"loaded {ds.name}")
    return Loaded(source=src, generation=generation, table=ds)


def prepare(
    loaded: Loaded,
    *,
    columns: Sequence[str] | None = None,
    missing: str = "drop",
    scaling: str = "standardize",
    bundle: ModelBundle | None = None,
    generation: int = 0,
    sample_size: int | None = None,
    progress: ProgressCallback | None = None,
) -> Prepared:
    """The feature matrix: ``columns`` (default: every numeric column) with the
    missing-value policy and the scaling. With a model ``bundle``, the model's own columns,
    scaler and training medians are used instead, so new data is prepared exactly as the
    model's data was."""
    if loaded.big:
        from gmm_desktop.core import bigdata

        return bigdata.prepare(loaded, columns=columns, missing=missing, scaling=scaling,
                               bundle=bundle, generation=generation, sample_size=sample_size,
                               progress=progress)
    report = Reporter(progress, "prepare")
    ds = loaded.table
    assert ds is not None
    if bundle is not None:
        if bundle.columns is None:
            if columns is None or len(columns) != bundle.n_features:
                raise ConfigError(
                    f"the model does not record its columns: choose {bundle.n_features} "
                    "feature column(s) in the model's order"
                )
            use = list(columns)
        else:
            bundle.check_columns(ds.columns, source=ds.name)
            use = list(bundle.columns)
        raw = prepare_features(ds, use, bundle.missing, "none", medians=bundle.medians)
        features = PreparedFeatures(
            bundle.scaler.transform(raw.X), raw.row_ids, raw.row_index, raw.columns,
            bundle.scaler, raw.report, raw.warnings,
        )
        missing = bundle.missing
    else:
        use_columns = list(columns) if columns is not None else default_columns(ds)
        features = prepare_features(ds, use_columns, missing, scaling)
    report(1.0, f"{features.n_samples:,} rows × {features.n_features} features")
    X = np.ascontiguousarray(features.X, dtype=float)
    X.flags.writeable = False
    features = PreparedFeatures(X, frozen(features.row_ids), frozen(features.row_index),
                                list(features.columns), features.scaler, features.report,
                                features.warnings)
    return Prepared(loaded=loaded, features=features, missing=missing, generation=generation,
                    n_rows_used=features.n_samples)


# --------------------------------------------------------------------------- fitting


def fit_rows(prepared: Prepared, labels: Labels) -> tuple[np.ndarray, np.ndarray]:
    """The rows a fit uses (not marked outlier or excluded) and the identities left out."""
    left_out = labels.fit_excluded
    if left_out.size == 0:
        return prepared.X, left_out
    keep = ~np.isin(prepared.row_ids, left_out)
    return prepared.X[keep], np.asarray(prepared.row_ids)[~keep]


def _check_rows(n: int, config: RunConfig, labelled: bool) -> None:
    k = min(config.component_candidates)
    if n < max(2, k):
        more = (" after the rows marked outlier or excluded; clear some labels" if labelled
                else "; choose fewer components or a missing-value policy that keeps more rows")
        raise ConfigError(f"{n} usable rows are too few for {k} component(s){more}.")


def degenerate_notes(model: Any, n_rows: int) -> tuple[str, ...]:
    """Components too small to have a covariance of their own (fewer than d + 1 rows)."""
    d = int(model.n_features_in_)
    notes = []
    for k, w in enumerate(np.asarray(model.weights_, dtype=float)):
        rows = w * n_rows
        if rows < d + 1:
            notes.append(
                f"component {k + 1} holds about {rows:.1f} rows, fewer than d + 1 = {d + 1}: its "
                "covariance is degenerate (a spike on a few rows). Fit fewer components or "
                "raise reg_covar."
            )
    return tuple(notes)


def fit(
    prepared: Prepared,
    config: RunConfig,
    *,
    labels: Labels | None = None,
    progress: ProgressCallback | None = None,
) -> Fitted:
    """Fit the mixture of ``config`` (choosing by the criterion among several counts or
    covariance types) on the prepared rows not labelled outlier or excluded."""
    if prepared.big:
        from gmm_desktop.core import bigdata

        return bigdata.fit(prepared, config, progress=progress)
    labels = labels or Labels()
    X, left_out = fit_rows(prepared, labels)
    _check_rows(X.shape[0], config, left_out.size > 0)
    report = Reporter(progress, "fit")
    selection: SelectionResult | None = None
    robust: Any = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if config.method == "robust":
            robust = fit_robust_route(X, config, report)
            model = robust.model
        elif config.selects_model:
            selection = select_models(
                X, list(config.component_candidates), list(config.covariance_types),
                criterion=config.criterion, callback=report.fit_callback(), keep_models=True,
                **config.gmm_params(),
            )
            model = selection.best.model
            assert model is not None
        else:
            model = GaussianMixture(
                n_components=config.component_candidates[0],
                covariance_type=config.covariance_types[0], **config.gmm_params(),
            )
            model.fit(X, callback=report.fit_callback())
    notes = tuple(dict.fromkeys(
        str(w.message) for w in caught if "gmm_desktop" in str(getattr(w, "filename", ""))
        or issubclass(w.category, UserWarning)
    ))
    notes += degenerate_notes(model, X.shape[0])
    if selection is not None and selection.best.degenerate:
        notes += (f"every candidate model is degenerate on {X.shape[0]} rows (the chosen one: "
                  f"{selection.best.degenerate}); use fewer components or more rows.",)
    columns = prepared.columns
    fitted_rows = prepared.scaler.inverse_transform(X)
    medians = {c: float(v) for c, v in zip(columns, np.median(fitted_rows, axis=0), strict=True)}
    bundle = ModelBundle(
        model=model, columns=columns, scaler=prepared.scaler, missing=prepared.missing,
        medians=medians, threshold=None,
        config=config.replace(columns=columns, missing=prepared.missing,
                              scaling=prepared.scaling),
        source=prepared.source, fit_excluded=tuple(np.asarray(left_out).tolist()),
    )
    return Fitted(bundle=bundle, prepared_generation=prepared.generation, selection=selection,
                  warnings=notes, robust=robust)


def sweep(
    prepared: Prepared,
    config: RunConfig,
    n_components: Sequence[int],
    covariance_types: Sequence[str],
    *,
    criterion: str = "bic",
    labels: Labels | None = None,
    progress: ProgressCallback | None = None,
) -> SelectionResult:
    """Fit every (count, covariance type) cell (the BIC/AIC table); the run is unchanged."""
    if prepared.big:
        raise ConfigError("model selection over a grid needs the rows in memory")
    X, _ = fit_rows(prepared, labels or Labels())
    report = Reporter(progress, "select")
    return select_models(
        X, list(n_components), list(covariance_types), criterion=criterion,
        callback=report.fit_callback(), keep_models=True, **config.gmm_params(),
    )


# --------------------------------------------------------------------------- scoring


def score_all(model: Any, X: np.ndarray, report: Reporter | None = None) -> Scores:
    """:func:`~gmm_desktop.engine.anomaly.score_rows` over chunks of rows."""
    n = X.shape[0]
    if n <= SCORE_CHUNK:
        return score_rows(model, X)
    parts = []
    for start in range(0, n, SCORE_CHUNK):
        parts.append(score_rows(model, X[start:start + SCORE_CHUNK]))
        if report is not None:
            report(min(1.0, (start + SCORE_CHUNK) / n), "scoring")
    def joined(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in parts])

    return Scores(
        log_density=joined("log_density"), component=joined("component"),
        responsibilities=joined("responsibilities"), mahalanobis=joined("mahalanobis"),
        tail_probability=joined("tail_probability"), mahalanobis_all=joined("mahalanobis_all"),
        n_features=parts[0].n_features,
    )


def score(
    prepared: Prepared, bundle: ModelBundle, *, progress: ProgressCallback | None = None
) -> Scored:
    """Every per-row score of the prepared rows, the sorted log-densities (fast threshold
    counts), the total log-likelihood and the information criteria."""
    if bundle.n_features != prepared.X.shape[1]:
        raise ConfigError(
            f"the model has {bundle.n_features} features but {prepared.X.shape[1]} are "
            f"prepared ({', '.join(prepared.columns)})"
        )
    if prepared.big:
        from gmm_desktop.core import bigdata

        return bigdata.score(prepared, bundle, progress=progress)
    report = Reporter(progress, "score")
    scores = score_all(bundle.model, prepared.X, report)
    ld = scores.log_density
    loglik = float(np.sum(ld))
    n = int(ld.shape[0])
    bic, aic = information_criteria(loglik, bundle.model.n_parameters(), n)
    return Scored(bundle=bundle, scores=scores, density=DensityIndex.build(ld),
                  log_likelihood=loglik, n_rows=n, bic=bic, aic=aic,
                  prepared_generation=prepared.generation)


# --------------------------------------------------------------------------- thresholds


def learn_threshold(prepared: Prepared, scored: Scored, spec: ThresholdSpec,
                    labels: Labels | None = None) -> Threshold:
    """Learn ``spec`` on the prepared rows (rows marked outlier are left out of the
    contamination count). Out of core this is the estimate on the plotted sample."""
    scores = scored.scores
    outlier = _masks(prepared, labels)["outlier"]
    if spec.kind == "contamination" and outlier.any():
        ordered = np.sort(scores.log_density[~outlier])
        cutoff_for = lambda q: contamination_cutoff(ordered, q)  # noqa: E731
        n = int(ordered.shape[0])
    else:
        cutoff_for = scored.density.cutoff_for_share
        n = scored.n_rows
    return threshold_from(spec, scored.model, n_features=scores.n_features, n_rows=n,
                          cutoff_for=cutoff_for)


def _masks(prepared: Prepared, labels: Labels | None) -> dict[str, np.ndarray]:
    if labels is None or labels.empty:
        z = np.zeros(prepared.n_view_rows, dtype=bool)
        return {"outlier": z, "normal": z, "excluded": z}
    return labels.masks(prepared.row_ids)


def detect(
    prepared: Prepared,
    scored: Scored,
    spec: ThresholdSpec,
    *,
    labels: Labels | None = None,
    pinned: Threshold | None = None,
    from_refit: str | None = None,
) -> Detection:
    """Flag the prepared rows: under ``pinned`` (a saved or refitted model's own rule) when
    given, else under ``spec`` learned on these rows. Rows marked outlier are always
    flagged and rows marked normal never."""
    masks = _masks(prepared, labels)
    threshold = pinned if pinned is not None else learn_threshold(prepared, scored, spec, labels)
    flags = threshold.flags(scored.scores, exclude=masks["outlier"], never_flag=masks["normal"])
    if prepared.big:
        from gmm_desktop.core import bigdata

        return bigdata.estimate_detection(scored, threshold, flags, pinned=pinned is not None)
    return Detection(threshold=threshold, flags=frozen(flags), n_flagged=int(flags.sum()),
                     n_rows=int(flags.shape[0]), exact=True, how="counted over every row",
                     from_refit=from_refit, pinned=pinned is not None)


# --------------------------------------------------------------------------- refit


def refit(
    prepared: Prepared,
    scored: Scored,
    current: Detection,
    spec: ThresholdSpec,
    strategy: str,
    params: dict[str, Any] | None = None,
    *,
    labels: Labels | None = None,
    progress: ProgressCallback | None = None,
) -> RefitProposal:
    """Run a refit strategy on the current model; the result waits to be accepted.

    The strategy sees copies of the rows not labelled excluded; rows marked outlier are
    never used in its fits and always flagged, rows marked normal never flagged. The new
    flags are the new model's own rule applied to every prepared row, so the window, the
    export, a reopened session and ``gmm-desktop score`` agree.
    """
    if prepared.big:
        raise ConfigError("refit strategies need the rows in memory")
    plugin = get_registry().create("refit", strategy)
    plugin.set_params(**(params or {}))
    masks = _masks(prepared, labels)
    use = ~masks["excluded"]
    report = Reporter(progress, "refit")
    base = scored.bundle
    model_copy = copy.deepcopy(base.model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run_refit(
            plugin, model_copy, np.array(prepared.X[use]), spec,
            exclude=masks["outlier"][use].copy(), never_flag=masks["normal"][use].copy(),
            callback=report.part(0.0, 0.9).refit_callback(),
        )
    assert result.refit is not None
    new_model, threshold = _aligned(base.model, result.refit.model, result.threshold)
    record = RefitRecord(
        strategy=strategy,
        params=tuple(sorted(plugin.values.items())),
        spec=spec,
        info=dict(result.refit.info),
        history=tuple(vars(r) for r in result.refit.history),
    )
    bundle = replace(base, model=new_model, threshold=threshold, refit=record,
                     config=base.config.replace(refit=strategy,
                                                refit_params=dict(plugin.values)))
    report(0.92, "scoring with the refitted model")
    new_scored = score(prepared, bundle)
    detection = detect(prepared, new_scored, spec, labels=labels, pinned=threshold,
                       from_refit=strategy)
    strategy_flags = np.zeros(prepared.n_view_rows, dtype=bool)
    strategy_flags[use] = result.flags
    return RefitProposal(base=base, bundle=bundle, scored=new_scored, detection=detection,
                         record=record, old_flags=frozen(current.flags),
                         strategy_flags=frozen(strategy_flags),
                         prepared_generation=prepared.generation)


def _aligned(old: Any, new: Any, threshold: Threshold) -> tuple[Any, Threshold]:
    """The refitted model with its components in the old model's order (matched by their
    means, Hungarian algorithm), so that numbers and colours do not change under the
    analyst's eyes; the threshold's component indices follow."""
    from scipy.optimize import linear_sum_assignment

    if int(new.n_components) != int(old.n_components) or int(old.n_components) < 2:
        return new, threshold
    a, b = np.asarray(old.means_), np.asarray(new.means_)
    cost = ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2)
    _rows, order = linear_sum_assignment(cost)  # order[i]: the new component matching old i
    if np.array_equal(order, np.arange(order.size)):
        return new, threshold
    position = np.empty_like(order)
    position[order] = np.arange(order.size)
    moved = tuple(sorted(int(position[c]) for c in threshold.anomalous_components))
    return new.reordered(order), replace(threshold, anomalous_components=moved)


# --------------------------------------------------------------------------- export


@dataclass(frozen=True, eq=False)
class Explanation:
    """Why rows are (or are not) flagged: each feature's contribution to the squared
    Mahalanobis distance from the row's most likely component (they sum to it exactly; see
    :func:`gmm_desktop.engine.anomaly.feature_contributions` for the decomposition)."""

    positions: np.ndarray  # positions among the prepared rows
    component: np.ndarray  # 0-based component of each row
    contributions: np.ndarray  # (rows, features)
    columns: tuple[str, ...]

    @property
    def distance_squared(self) -> np.ndarray:
        return self.contributions.sum(axis=1)

    @property
    def top(self) -> np.ndarray:
        """Index of the feature contributing most to each row's distance."""
        return self.contributions.argmax(axis=1)

    @property
    def top_feature(self) -> list[str]:
        return [self.columns[j] for j in self.top]


def explain(prepared: Prepared, scored: Scored,
            positions: np.ndarray | None = None) -> Explanation:
    """Feature contributions of the prepared rows at ``positions`` (default: every row)."""
    pos = (np.arange(prepared.n_view_rows) if positions is None
           else np.asarray(positions, dtype=np.int64))
    comp = scored.scores.component[pos]
    contrib, _ = feature_contributions(scored.model, prepared.X[pos], comp)
    return Explanation(pos, comp, contrib, prepared.columns)


def result_frame(prepared: Prepared, scored: Scored, detection: Detection, *,
                 only_flagged: bool = False, rows: np.ndarray | None = None) -> pd.DataFrame:
    """The scored rows: row identity, every original column, the scores, the explanation
    and the flag. Components are numbered from 1, as everywhere the user sees them.

    An export of every row (``only_flagged=False`` without ``rows``) also holds the rows the
    missing-value policy left out, unscored, with a ``status`` saying why.
    """
    ds = prepared.loaded.table
    if ds is None:
        raise ConfigError("a table read lazily is exported partition by partition")
    feats = prepared.features
    if rows is not None:
        pos = np.asarray(rows, dtype=np.int64)
    elif only_flagged:
        pos = np.flatnonzero(np.asarray(detection.flags))
    else:
        pos = np.arange(prepared.n_view_rows)
    row_index = np.asarray(feats.row_index)[pos]
    base = ds.frame.iloc[row_index].reset_index(drop=True)
    taken = set(map(str, base.columns))

    def name(wanted: str) -> str:
        out = wanted
        while out in taken:
            out = "gmm_" + out
        taken.add(out)
        return out

    s = scored.scores
    why = explain(prepared, scored, pos)
    ident: dict[str, Any] = {} if ds.id_column is not None else {
        name("row_id"): np.asarray(feats.row_ids)[pos]}
    comp = name("component")
    extra: dict[str, Any] = {name("log_density"): s.log_density[pos],
                             comp: s.component[pos] + 1}
    for k in range(s.responsibilities.shape[1]):
        extra[name(f"resp_{k + 1}")] = s.responsibilities[pos, k]
    extra[name("mahalanobis")] = s.mahalanobis[pos]
    extra[name("chi2_tail")] = s.tail_probability[pos]
    for j, col in enumerate(prepared.columns):
        extra[name(f"contribution_{col}")] = why.contributions[:, j]
    extra[name("top_feature")] = why.top_feature
    flag = name("flag")
    extra[flag] = np.asarray(detection.flags)[pos]
    frame = pd.concat([pd.DataFrame(ident), base, pd.DataFrame(extra)], axis=1)
    if rows is None and not only_flagged:
        frame = _with_unscored_rows(frame, prepared, status=name("status"), flag=flag,
                                    component=comp,
                                    ident=next(iter(ident), None))
    return frame


def _with_unscored_rows(frame: pd.DataFrame, prepared: Prepared, *, status: str, flag: str,
                        component: str, ident: str | None) -> pd.DataFrame:
    """Every row of the table, in file order: the scored ones and, unscored, those the
    missing-value policy left out, with a ``status`` column saying which is which."""
    ds = prepared.loaded.table
    assert ds is not None
    scored_index = np.asarray(prepared.features.row_index)
    frame[status] = "scored"
    left = np.setdiff1d(np.arange(ds.n_rows), scored_index)
    if left.size == 0:
        return frame
    rest = ds.frame.iloc[left].reset_index(drop=True)
    if ident is not None:
        rest.insert(0, ident, np.asarray(ds.row_ids)[left])
    cols = list(prepared.columns)
    values = rest[cols].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    rest[status] = [
        "not scored: a missing or infinite value in "
        + ", ".join(c for c, ok in zip(cols, np.isfinite(row), strict=True) if not ok)
        for row in values
    ]
    rest[flag] = False
    out = pd.concat([frame, rest], ignore_index=True)
    out[component] = out[component].astype("Int64")
    order = np.argsort(np.r_[scored_index, left], kind="stable")
    return out.iloc[order].reset_index(drop=True)


def export_rows(
    path: str | os.PathLike[str],
    prepared: Prepared,
    scored: Scored,
    detection: Detection,
    *,
    only_flagged: bool = True,
    config: RunConfig | None = None,
    rows: np.ndarray | None = None,
    progress: ProgressCallback | None = None,
) -> Path:
    """Write the flagged rows (or every scored row, or ``rows``) with their scores, and the
    JSON sidecar of :func:`~gmm_desktop.core.modelfile.export_metadata`, atomically."""
    check_output(path, [prepared.loaded.source.path])
    if prepared.big:
        from gmm_desktop.core import bigdata

        return bigdata.export(path, prepared, scored, detection, only_flagged=only_flagged,
                              config=config, progress=progress)
    out = Path(path)
    frame = result_frame(prepared, scored, detection, only_flagged=only_flagged, rows=rows)
    meta = export_metadata(
        scored.bundle, output=out, only_flagged=only_flagged and rows is None,
        n_scored=detection.n_rows, n_flagged=detection.n_flagged,
        threshold=detection.threshold, source=prepared.source,
        columns_written=[str(c) for c in frame.columns], config=config,
    )
    if rows is not None:
        meta["rows"] = f"{len(frame)} selected rows"
    return write_table_atomic(frame, out, sidecar=meta)


# --------------------------------------------------------------------------- sample


def sample(bundle: ModelBundle, n: int, *, seed: int | None = None) -> pd.DataFrame:
    """``n`` synthetic rows from the model, in the data's units and column names, with the
    component of each (column ``component``), shuffled."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ConfigError(f"the number of rows to draw must be a positive integer, got {n!r}")
    drawer = copy.deepcopy(bundle.model)
    drawer.random_state = seed
    X, comp = drawer.sample(int(n))
    columns = list(bundle.columns) if bundle.columns is not None else [
        f"x{j}" for j in range(bundle.n_features)]
    frame = pd.DataFrame(bundle.scaler.inverse_transform(X), columns=columns)
    frame["component" if "component" not in columns else "gmm_component"] = comp
    rng = np.random.RandomState(seed)
    return frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)


#: Rows drawn and written at a time by :func:`write_sample`.
SAMPLE_CHUNK = 1_000_000
#: Bytes per value in a CSV sample (for the free-space check).
_CSV_BYTES_PER_VALUE = 20


def sample_chunks(bundle: ModelBundle, n: int, *, seed: int | None = None,
                  chunk: int = SAMPLE_CHUNK) -> Any:
    """:func:`sample` in chunks of at most ``chunk`` rows (a generator of DataFrames); a
    single chunk is exactly :func:`sample`'s draw."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ConfigError(f"the number of rows to draw must be a positive integer, got {n!r}")
    if n <= chunk:
        yield sample(bundle, int(n), seed=seed)
        return
    rng = np.random.RandomState(seed)
    done = 0
    while done < n:
        size = min(chunk, n - done)
        yield sample(bundle, size, seed=int(rng.randint(0, 2**31 - 1)))
        done += size


def write_sample(bundle: ModelBundle, n: int, path: str | os.PathLike[str], *,
                 seed: int | None = None, model_file: str | None = None) -> Path:
    """Draw ``n`` rows and write them chunk by chunk (memory bounded by a chunk), with a
    JSON sidecar; refused up front if the file would not fit on the disk."""
    import datetime as dt
    import shutil

    from gmm_desktop import __version__
    from gmm_desktop.data import write_table_chunks_atomic

    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ConfigError(f"the number of rows to draw must be a positive integer, got {n!r}")
    out = Path(path)
    check_table_suffix(out)
    width = bundle.n_features + 1
    estimate = int(n) * width * _CSV_BYTES_PER_VALUE
    free = shutil.disk_usage(out.parent if out.parent.is_dir() else Path.cwd()).free
    if estimate > free:
        raise ConfigError(
            f"{n:,} rows of {width} values need about {estimate / 1e9:,.1f} GB, but the disk has "
            f"{free / 1e9:,.1f} GB free. Draw fewer rows.")
    meta = {
        "written_by": f"gmm-desktop {__version__}",
        "written_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "what": "synthetic rows drawn from a fitted Gaussian mixture",
        "model_file": model_file,
        "seed": seed,
        "n": int(n),
        "source": None if bundle.source is None else bundle.source.to_dict(),
    }
    if out.suffix.lower() == ".xlsx" or n <= SAMPLE_CHUNK:
        return write_table_atomic(sample(bundle, int(n), seed=seed), out, sidecar=meta)
    return write_table_chunks_atomic(sample_chunks(bundle, int(n), seed=seed), out,
                                     sidecar=meta)


def check_table_suffix(path: str | os.PathLike[str]) -> None:
    """Refuse an export name whose extension no writer handles (before any work)."""
    from gmm_desktop.data import WRITABLE_SUFFIXES

    suffix = Path(path).suffix.lower()
    if suffix not in WRITABLE_SUFFIXES:
        raise DataError(
            f"cannot write a table with the extension '{Path(path).suffix or '(none)'}'.",
            remedy="Use one of: " + ", ".join(WRITABLE_SUFFIXES) + ".",
        )

