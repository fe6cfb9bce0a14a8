"""One detection run: its state and its steps (:class:`Detector`).

The state is a handful of immutable results (:mod:`gmm_desktop.core.state`) plus the
analyst's choices (the configuration, the manual labels, the row selection). Every step
exists twice on purpose:

* ``run.fit()``: compute and adopt at once (the command line, scripts);
* ``run.fit_job()`` and ``run.adopt_fit(result)``: a job computes on an immutable
  snapshot in any thread (the window's worker) and the run adopts its result in one thread
  (the GUI thread); a result computed on features that have changed since is refused.

Both routes run the same functions (:mod:`gmm_desktop.core.steps`), so the window, the
command line and Python give the same model and the same flagged rows.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd

from gmm_desktop.core import steps
from gmm_desktop.core.capabilities import IN_MEMORY, OUT_OF_CORE, Capabilities
from gmm_desktop.core.config import ConfigError, RunConfig
from gmm_desktop.core.modelfile import ModelBundle, read_model_file, write_model_file
from gmm_desktop.core.progress import ProgressCallback
from gmm_desktop.core.recipe import Recipe, cli_command, script_text
from gmm_desktop.core.records import Labels, plain
from gmm_desktop.core.session import (
    DataRef,
    SessionContents,
    parse_session,
    read_session,
    session_document,
    write_session,
)
from gmm_desktop.core.state import Detection, Fitted, Loaded, Prepared, RefitProposal, Scored
from gmm_desktop.data import ReadOptions
from gmm_desktop.engine import SelectionResult
from gmm_desktop.engine.anomaly import ThresholdSpec
from gmm_desktop.errors import GmmDesktopError

#: The older keyword arguments of ``load`` that are reading options.
_READ_FIELDS = frozenset({"delimiter", "decimal", "header", "skip_rows", "comment",
                          "missing_values", "encoding", "text_columns"})

__all__ = ["Detector", "DetectorError", "Job"]

T = TypeVar("T")


class DetectorError(GmmDesktopError, ValueError):
    """A step was asked for before what it needs (no data, no model), or is unavailable."""


@dataclass(frozen=True)
class Job(Generic[T]):
    """A step's work on an immutable snapshot: ``job.run(progress)`` in any thread."""

    kind: str
    work: Callable[[ProgressCallback | None], T]

    def run(self, progress: ProgressCallback | None = None) -> T:
        return self.work(progress)


@dataclass(frozen=True, eq=False)
class Opened:
    """The result of opening a table: the table and its prepared features."""

    loaded: Loaded
    prepared: Prepared
    scored: Scored | None = None  # with the model of a restored session or a loaded model
    bundle: ModelBundle | None = None


class Detector:
    """One detection run (see the module docstring)::

        spec = ThresholdSpec("contamination", 0.02)
        det = Detector(RunConfig(columns=("x", "y"), threshold=spec))
        det.load("measurements.csv")
        det.fit()                       # the best of 1..6 components by BIC (the default)
        det.detect()                    # scores, threshold, flags (and the refit, if set)
        det.export("flagged.csv")
        det.save_model("model.json")    # model + scaler + columns + threshold + config

        novelty = Detector.from_model_file("model.json")
        novelty.load("new-batch.csv")
        novelty.score()                 # the saved preparation and threshold, unchanged
    """

    def __init__(
        self,
        config: RunConfig | None = None,
        *,
        progress: ProgressCallback | None = None,
        scheduler: str | None = None,
    ) -> None:
        self.config = config or RunConfig()
        self.progress = progress
        self._generation = 0
        self.loaded: Loaded | None = None
        self.prepared: Prepared | None = None
        self.bundle: ModelBundle | None = None
        #: The model was loaded from a file (or a session) and is applied as saved: data
        #: are prepared with its columns and scaler, and its threshold is pinned.
        self.applied = False
        self.selection: SelectionResult | None = None
        #: The robust route's result (the trimmed-BIC table, the trimmed and clean rows).
        self.robust: Any = None
        self.fit_warnings: tuple[str, ...] = ()
        self.scored: Scored | None = None
        self.detection: Detection | None = None
        self.pinned = False
        self.labels = Labels()
        self.selected: np.ndarray = np.empty(0, dtype=np.int64)
        self.selected_component: int | None = None
        self.pending: RefitProposal | None = None
        self.demo: str | None = None
        self.sample_size: int | None = None
        self._scheduler = scheduler
        self._connection: Any = None
        #: Refits accepted since the model was fitted, and the labels of the last one (a
        #: reproduction needs one refit with the labels unchanged since).
        self._refits = 0
        self._labels_at_refit: Labels | None = None

    # ------------------------------------------------------------------ state

    @property
    def capabilities(self) -> Capabilities:
        return OUT_OF_CORE if self.big else IN_MEMORY

    @property
    def big(self) -> bool:
        return self.loaded is not None and self.loaded.big

    @property
    def spec(self) -> ThresholdSpec:
        return self.config.threshold

    @property
    def model(self) -> Any:
        return None if self.bundle is None else self.bundle.model

    @property
    def result(self) -> Detection | None:
        """The current detection (flags, threshold and counts)."""
        return self.detection

    @property
    def features(self) -> Any:
        return None if self.prepared is None else self.prepared.features

    @property
    def dataset(self) -> Any:
        return None if self.loaded is None else self.loaded.table

    def _next_generation(self) -> int:
        self._generation += 1
        return self._generation

    def _need_loaded(self) -> Loaded:
        if self.loaded is None:
            raise DetectorError("no data is loaded; load a table first")
        return self.loaded

    def _need_prepared(self) -> Prepared:
        if self.prepared is None:
            self.prepare()
        assert self.prepared is not None
        return self.prepared

    def _need_bundle(self) -> ModelBundle:
        if self.bundle is None:
            raise DetectorError("no model is fitted or loaded; fit one or load a model file")
        return self.bundle

    def _need_scored(self) -> Scored:
        if self.scored is None or not self.model_matches():
            self.score()
        assert self.scored is not None
        return self.scored

    def _refuse(self, feature: str) -> None:
        if not self.capabilities.allows(feature):
            raise DetectorError(self.capabilities.refusal(feature))

    def model_matches(self, prepared: Prepared | None = None) -> bool:
        """The current model applies to these prepared features (same columns and scaler)."""
        p = prepared or self.prepared
        b = self.bundle
        if p is None or b is None or b.n_features != p.X.shape[1]:
            return False
        if b.columns is not None and tuple(b.columns) != p.columns:
            return False
        return bool(b.scaler == p.scaler) and b.missing == p.missing

    @property
    def connection(self) -> Any:
        if self._connection is None:
            from gmm_desktop.core.bigdata import Connection

            self._connection = Connection(self._scheduler)
        return self._connection

    def set_scheduler(self, scheduler: str) -> None:
        self._scheduler = scheduler
        if self._connection is not None:
            self._connection.set_scheduler(scheduler)

    def close(self) -> None:
        """Release the Dask connection (if any)."""
        if self._connection is not None:
            self._connection.close()

    # ------------------------------------------------------------------ load and prepare

    def load_job(
        self,
        source: Any,
        *,
        columns: Sequence[str] | None = None,
        missing: str | None = None,
        scaling: str | None = None,
        demo: str | None = None,
        big: bool | None = None,
        sample_size: int | None = None,
        lenient: bool = False,
        **options: Any,
    ) -> Job[Opened]:
        """Read ``source`` (a path, a DataFrame or an array) and prepare its features.

        ``big=True`` (or a folder or glob path) opens it lazily for big data. With a model
        applied (loaded from a file), its columns and scaler prepare the new table; a table
        without the model's columns is refused, or with ``lenient`` (the window) prepared
        on its own and the model kept aside.
        """
        cfg = self.config.replace(**{k: v for k, v in (("columns", columns),
                                                        ("missing", missing),
                                                        ("scaling", scaling)) if v is not None})
        id_column = options.pop("id_column", cfg.id_column)
        sheet = options.pop("sheet", cfg.sheet)
        given_read = options.pop("read", None)
        read = ReadOptions.coerce(given_read if given_read is not None else cfg.read)
        legacy = {k: options.pop(k) for k in list(options) if k in _READ_FIELDS}
        if legacy:
            read = read.replace(**legacy)
        from gmm_desktop.core import bigdata

        lazy = big if big is not None else (
            isinstance(source, str | os.PathLike) and bigdata.looks_lazy(str(source)))
        bundle = self.bundle if self.applied else None
        gen = self._next_generation()
        connection = self.connection if lazy else None
        size = sample_size or self.sample_size

        def work(progress: ProgressCallback | None) -> Opened:
            from gmm_desktop.core.progress import Reporter

            report = Reporter(progress, "load")
            if lazy:
                if sheet is not None or options:
                    raise ConfigError(OUT_OF_CORE.refusal("sheet"))
                refused = OUT_OF_CORE.read_refusals(read)
                if refused:
                    raise ConfigError(f"Reading options not available {OUT_OF_CORE.name}: "
                                      + "; ".join(refused))
                assert connection is not None
                connection.ensure()
                loaded = bigdata.open_table(str(source), id_column=id_column, generation=gen,
                                            progress=report.part(0.0, 0.1).relay(), read=read)
            else:
                loaded = steps.load(source, id_column=id_column, sheet=sheet, read=read,
                                    demo=demo, generation=gen,
                                    progress=report.part(0.0, 0.7).relay(), **options)
            use = bundle
            if use is not None and lenient and use.columns is not None and not set(
                    use.columns) <= set(loaded.columns):
                use = None
            prepared = steps.prepare(
                loaded, columns=cfg.columns, missing=cfg.missing, scaling=cfg.scaling,
                bundle=use, generation=gen, sample_size=size,
                progress=report.part(0.7 if not lazy else 0.1, 0.25).relay(),
            )
            scored = None
            if use is not None:
                scored = steps.score(prepared, use, progress=report.part(0.95, 0.05).relay())
            return Opened(loaded, prepared, scored, use)

        return Job("load", work)

    def adopt_opened(self, opened: Opened) -> bool:
        """A new table: the selection and labels start empty, the model is kept."""
        if opened.loaded.generation < self._generation_of(self.loaded):
            return False
        self.loaded = opened.loaded
        self.demo = opened.loaded.source.demo
        self.labels = Labels()
        self.selected = np.empty(0, dtype=np.int64)
        self.selected_component = None
        self.pending = None
        self._set_prepared(opened.prepared)
        if self.applied and not self.model_matches():
            self.applied = False  # kept aside: it does not apply to this table
            self.pinned = False
        if opened.scored is not None and opened.bundle is self.bundle:
            self._adopt_scored(opened.scored)
        table = opened.loaded.table
        self.config = self.config.replace(
            id_column=opened.loaded.id_column,
            sheet=opened.loaded.source.sheet,
            read=table.read if table is not None else getattr(
                opened.loaded.lazy, "read", ReadOptions()),
            columns=opened.prepared.columns,
            missing=opened.prepared.missing,
            scaling=opened.prepared.scaling,
        )
        return True

    @staticmethod
    def _generation_of(item: Any) -> int:
        return -1 if item is None else int(item.generation)

    def _set_prepared(self, prepared: Prepared) -> None:
        self.prepared = prepared
        self.scored = None
        self.detection = None
        if self.pending is not None and self.pending.prepared_generation != prepared.generation:
            self.pending = None

    def load(self, source: Any, **options: Any) -> Loaded:
        """Read and prepare a table (see :meth:`load_job`)."""
        opened = self.load_job(source, **options).run(self.progress)
        self.adopt_opened(opened)
        if opened.scored is None and self.bundle is not None and self.model_matches():
            self.score()
        assert self.loaded is not None
        return self.loaded

    def prepare_job(
        self,
        columns: Sequence[str] | None = None,
        missing: str | None = None,
        scaling: str | None = None,
    ) -> Job[Prepared]:
        """Prepare the features again (another column choice or preprocessing)."""
        loaded = self._need_loaded()
        cfg = self.config
        use_cols = columns if columns is not None else cfg.columns
        use_missing = missing or cfg.missing
        use_scaling = scaling or cfg.scaling
        if missing is not None or scaling is not None or columns is not None:
            cfg = cfg.replace(columns=use_cols, missing=use_missing, scaling=use_scaling)
        bundle = self.bundle if self.applied and columns is None and scaling is None else None
        gen = self._next_generation()
        size = self.sample_size
        connection = self.connection if loaded.big else None

        def work(progress: ProgressCallback | None) -> Prepared:
            if connection is not None:
                connection.ensure()
            return steps.prepare(loaded, columns=use_cols, missing=use_missing,
                                 scaling=use_scaling, bundle=bundle, generation=gen,
                                 sample_size=size, progress=progress)

        return Job("prepare", work)

    def adopt_prepared(self, prepared: Prepared) -> bool:
        if prepared.loaded is not self.loaded and prepared.loaded.source != (
                self.loaded.source if self.loaded else None):
            if self.loaded is None or prepared.loaded.generation != self.loaded.generation:
                return False
        if self.prepared is not None and prepared.generation < self.prepared.generation:
            return False
        self._set_prepared(prepared)
        if prepared.loaded is not self.loaded:
            self.loaded = prepared.loaded
        self.config = self.config.replace(columns=prepared.columns, missing=prepared.missing,
                                          scaling=prepared.scaling)
        if self.applied and not self.model_matches():
            self.applied = False
            self.pinned = False
        return True

    def prepare(self, columns: Sequence[str] | None = None, missing: str | None = None,
                scaling: str | None = None) -> Prepared:
        prepared = self.prepare_job(columns, missing, scaling).run(self.progress)
        self.adopt_prepared(prepared)
        return prepared

    # ------------------------------------------------------------------ fit

    def fit_job(self, config: RunConfig | None = None) -> Job[tuple[Fitted, Scored]]:
        """Fit a new model with ``config`` (default: the run's) and score the rows with it.

        The rows labelled outlier or excluded are left out of the fit. The current model
        stays current until the result is adopted.
        """
        prepared = self._need_prepared()
        cfg = (config or self.config).replace(columns=prepared.columns,
                                              missing=prepared.missing,
                                              scaling=prepared.scaling)
        refused = self.capabilities.refusals(cfg)
        if refused:
            raise DetectorError(f"not available {self.capabilities.name}: " + "; ".join(refused))
        labels = self.labels
        connection = self.connection if prepared.big else None

        def work(progress: ProgressCallback | None) -> tuple[Fitted, Scored]:
            from gmm_desktop.core.progress import Reporter

            if connection is not None:
                connection.ensure()
            report = Reporter(progress, "fit")
            fitted = steps.fit(prepared, cfg, labels=labels,
                               progress=report.part(0.0, 0.85 if prepared.big else 0.95).relay())
            scored = steps.score(prepared, fitted.bundle,
                                 progress=report.part(0.85 if prepared.big else 0.95,
                                                      0.15 if prepared.big else 0.05).relay())
            return fitted, scored

        return Job("fit", work)

    def adopt_fit(self, result: tuple[Fitted, Scored], config: RunConfig | None = None) -> bool:
        fitted, scored = result
        if self.prepared is None or fitted.prepared_generation != self.prepared.generation:
            return False
        self.bundle = fitted.bundle
        self.applied = False
        self.pinned = False
        self.selection = fitted.selection
        self.robust = fitted.robust
        self.fit_warnings = fitted.warnings
        self.pending = None
        self._refits = 0
        cfg = config or self.config
        self.config = cfg.replace(columns=self.prepared.columns, missing=self.prepared.missing,
                                  scaling=self.prepared.scaling)
        self._adopt_scored(scored)
        return True

    def fit(self, config: RunConfig | None = None) -> Any:
        """Fit the mixture (see :meth:`fit_job`); returns the fitted estimator."""
        if config is not None:
            self.config = config
        self.adopt_fit(self.fit_job().run(self.progress))
        return self.model

    def sweep_job(self, n_components: Sequence[int], covariance_types: Sequence[str],
                  criterion: str = "bic") -> Job[SelectionResult]:
        """The BIC/AIC table over a grid; nothing of the run changes."""
        self._refuse("sweep")
        prepared = self._need_prepared()
        cfg, labels = self.config, self.labels

        def work(progress: ProgressCallback | None) -> SelectionResult:
            return steps.sweep(prepared, cfg, n_components, covariance_types,
                               criterion=criterion, labels=labels, progress=progress)

        return Job("sweep", work)

    def select(self, n_components: Sequence[int] | None = None,
               covariance_types: Sequence[str] | None = None,
               criterion: str | None = None) -> SelectionResult:
        """The BIC/AIC table over the configured (or given) grid."""
        cfg = self.config
        return self.sweep_job(n_components or cfg.component_candidates,
                              covariance_types or cfg.covariance_types,
                              criterion or cfg.criterion).run(self.progress)

    def adopt_model_job(self, bundle: ModelBundle) -> Job[Scored]:
        """Make another model (from a sweep cell) current: score the rows with it."""
        prepared = self._need_prepared()
        connection = self.connection if prepared.big else None

        def work(progress: ProgressCallback | None) -> Scored:
            if connection is not None:
                connection.ensure()
            return steps.score(prepared, bundle, progress=progress)

        return Job("score", work)

    def adopt_model(self, scored: Scored, *, applied: bool = False) -> bool:
        if self.prepared is None or scored.prepared_generation != self.prepared.generation:
            return False
        self.bundle = scored.bundle
        self.applied = applied
        self.pinned = applied and scored.bundle.threshold is not None
        self.pending = None
        if not applied:  # the settings that made this model (a sweep's cell)
            made = scored.bundle.config
            self.config = self.config.replace(n_components=made.n_components,
                                              covariance_types=made.covariance_types)
            self._refits = 0
        self._adopt_scored(scored)
        return True

    def bundle_for_cell(self, model: Any) -> ModelBundle:
        """A model of the current sweep as a bundle on the current features."""
        prepared = self._need_prepared()
        fitted_rows = prepared.scaler.inverse_transform(prepared.X)
        medians = {c: float(v) for c, v in zip(prepared.columns, np.median(fitted_rows, axis=0),
                                               strict=True)}
        cfg = self.config.replace(n_components=int(model.n_components),
                                  covariance_types=(str(model.covariance_type),))
        return ModelBundle(model=model, columns=prepared.columns, scaler=prepared.scaler,
                           missing=prepared.missing, medians=medians, config=cfg,
                           source=prepared.source,
                           fit_excluded=tuple(plain(v) for v in self.labels.fit_excluded))

    # ------------------------------------------------------------------ scores and flags

    def score_job(self) -> Job[Scored]:
        """Score the prepared rows with the current model."""
        prepared, bundle = self._need_prepared(), self._need_bundle()
        connection = self.connection if prepared.big else None

        def work(progress: ProgressCallback | None) -> Scored:
            if connection is not None:
                connection.ensure()
            return steps.score(prepared, bundle, progress=progress)

        return Job("score", work)

    def adopt_scored(self, scored: Scored) -> bool:
        if (self.prepared is None or scored.prepared_generation != self.prepared.generation
                or scored.bundle is not self.bundle):
            return False
        self._adopt_scored(scored)
        return True

    def _adopt_scored(self, scored: Scored) -> None:
        self.scored = scored
        self._redetect()

    def _redetect(self) -> None:
        """Flags under the current threshold (fast: sorted log-densities; out of core an
        estimate until :meth:`count_job` has counted every row)."""
        if self.scored is None or self.prepared is None:
            self.detection = None
            return
        bundle = self.scored.bundle
        pinned = bundle.threshold if self.pinned else None
        from_refit = bundle.refit.strategy if (self.pinned and bundle.refit is not None) else None
        self.detection = steps.detect(self.prepared, self.scored, self.spec, labels=self.labels,
                                      pinned=pinned, from_refit=from_refit)

    def score(self) -> Detection:
        """Score the loaded data with the current model: a model loaded from a file keeps
        its saved threshold (novelty detection); a fitted one learns the run's threshold."""
        bundle = self._need_bundle()
        if self.prepared is None or not self.model_matches():
            if self.applied:
                self.prepare()
            else:
                raise DetectorError(
                    "the model does not match the prepared features; load the data it was "
                    "fitted on or fit a new model")
        self.adopt_scored(self.score_job().run(self.progress))
        if self.applied and bundle.threshold is None and self.detection is not None:
            pass  # no saved threshold: the run's own threshold was learned on this data
        if self.big:
            self.count()
        assert self.detection is not None
        return self.detection

    def set_threshold(self, spec: ThresholdSpec | str, value: float | None = None,
                      small_component_share: float | None = None) -> Detection | None:
        """The analyst's threshold; flags follow at once (a pinned rule is released)."""
        if not isinstance(spec, ThresholdSpec):
            spec = ThresholdSpec(str(spec), float(value if value is not None else 0.05),
                                 small_component_share)
        self.config = self.config.replace(threshold=spec)
        self.pinned = False
        self._redetect()
        return self.detection

    def count_job(self) -> Job[Detection]:
        """Big data: learn the threshold on every row and count the flags exactly."""
        prepared, scored = self._need_prepared(), self.scored
        if scored is None:
            raise DetectorError("score the rows first")
        spec = self.spec
        pinned = scored.bundle.threshold if self.pinned else None
        connection = self.connection if prepared.big else None

        def work(progress: ProgressCallback | None) -> Detection:
            from gmm_desktop.core import bigdata

            if connection is None:
                return steps.detect(prepared, scored, spec, pinned=pinned)
            connection.ensure()
            return bigdata.count_pass(prepared, scored, spec, pinned=pinned, progress=progress)

        return Job("threshold", work)

    def adopt_count(self, detection: Detection) -> bool:
        cur = self.detection
        if cur is None or self.scored is None:
            return False
        if detection.threshold.spec != cur.threshold.spec or (
                cur.pinned and detection.threshold != cur.threshold):
            return False
        self.detection = detection
        return True

    def count(self) -> Detection:
        self.adopt_count(self.count_job().run(self.progress))
        assert self.detection is not None
        return self.detection

    def detect(self, *, refit: str | bool | None = True) -> Detection:
        """Score the rows, learn the threshold on them, flag, and run the configured refit
        strategy (``refit=True``), another one (a name) or none (``None``/``False``); a
        refit is accepted at once here (the window asks first)."""
        self._need_bundle()
        self._need_scored()
        self.pinned = False
        self._redetect()
        name = self.config.refit if refit is True else (refit or None)
        if name:
            self.adopt_refit(self.refit_job(name, self.config.refit_options
                                            if name == self.config.refit else {})
                             .run(self.progress))
            self.accept_refit()
        elif self.big:
            self.count()
        assert self.detection is not None
        return self.detection

    # ------------------------------------------------------------------ labels, selection

    def set_labels(self, labels: Labels) -> None:
        self._refuse("labels")
        self.labels = labels
        self._redetect()

    def label(self, ids: Any, label: str | None) -> None:
        """Give rows (by identity) a manual label (``None`` clears it)."""
        self.set_labels(self.labels.with_label(ids, label))

    def label_mask(self, mask: Any, label: str) -> None:
        """Label the prepared rows where ``mask`` is true (a mask over the prepared rows)."""
        prepared = self._need_prepared()
        m = np.asarray(mask, dtype=bool)
        if m.shape != (prepared.n_view_rows,):
            raise DetectorError(f"the mask must have one value per prepared row "
                                f"({prepared.n_view_rows})")
        self.label(prepared.row_ids[m], label)

    def select_rows(self, ids: Any, component: int | None = None) -> None:
        self._refuse("selection")
        arr = np.asarray(ids)
        self.selected = np.unique(arr) if arr.size else np.empty(0, dtype=np.int64)
        self.selected_component = component

    def positions(self, ids: np.ndarray) -> np.ndarray:
        """Positions among the prepared rows of the rows with these identities."""
        if self.prepared is None or np.asarray(ids).size == 0:
            return np.empty(0, dtype=np.int64)
        return np.flatnonzero(np.isin(self.prepared.row_ids, ids))

    # ------------------------------------------------------------------ refit

    def refit_job(self, name: str | None = None,
                  params: dict[str, Any] | None = None) -> Job[RefitProposal]:
        """Run a refit strategy on the current model (its result waits to be accepted)."""
        self._refuse("refit")
        name = name or self.config.refit
        if not name:
            raise DetectorError("no refit strategy is chosen")
        prepared, scored = self._need_prepared(), self._need_scored()
        current = self.detection
        assert current is not None
        spec, labels = self.spec, self.labels
        params = dict(params if params is not None else self.config.refit_options)

        def work(progress: ProgressCallback | None) -> RefitProposal:
            return steps.refit(prepared, scored, current, spec, name, params, labels=labels,
                               progress=progress)

        return Job("refit", work)

    def adopt_refit(self, proposal: RefitProposal) -> bool:
        """Hold a refit's result for the analyst (accept or reject)."""
        if (self.prepared is None or proposal.prepared_generation != self.prepared.generation
                or proposal.base is not self.bundle):
            return False
        self.pending = proposal
        return True

    def accept_refit(self) -> Detection:
        """The pending refit's model becomes current; its own rule gives the flags."""
        p = self.pending
        if p is None:
            raise DetectorError("no refit is waiting to be accepted")
        self.pending = None
        self.bundle = p.bundle
        self.applied = False
        self.pinned = True
        self._refits += 1
        self._labels_at_refit = self.labels
        self.config = self.config.replace(refit=p.record.strategy,
                                          refit_params=dict(p.record.params))
        self.scored = p.scored
        self.detection = p.detection
        if self.big:  # pragma: no cover - refits are refused out of core
            self.count()
        return p.detection

    def reject_refit(self) -> None:
        self.pending = None

    # ------------------------------------------------------------------ models on disk

    def save_model(self, path: str | os.PathLike[str]) -> Path:
        """Save the model with its preparation, threshold, configuration and provenance."""
        bundle = self._need_bundle()
        if self.loaded is not None:
            steps.check_output(path, [self.loaded.source.path], what="model file")
        threshold = self.detection.threshold if self.detection is not None else bundle.threshold
        out = replace(bundle, threshold=threshold,
                      config=bundle.config.replace(threshold=self.spec))
        return write_model_file(path, out)

    def apply_model(self, bundle: ModelBundle) -> None:
        """Use a saved model as it is (novelty detection): its columns, scaler, medians and
        threshold; the run's configuration becomes the model's."""
        self.bundle = bundle
        self.applied = True
        self.pinned = bundle.threshold is not None
        self.pending = None
        self.scored = None
        self.detection = None
        spec = bundle.threshold.spec if bundle.threshold is not None else self.spec
        self.config = bundle.config.replace(
            threshold=spec,
            id_column=self.config.id_column or bundle.config.id_column,
            sheet=self.config.sheet,
            read=self.config.read,  # how a file is read belongs to the file, not the model
        )

    def load_model(self, path: str | os.PathLike[str]) -> ModelBundle:
        """Read a model file (any version) and apply it (see :meth:`apply_model`); if data
        is loaded, it is prepared with the model and scored."""
        bundle = read_model_file(path)
        if self.loaded is not None:
            bundle.check_columns(self.loaded.columns, source=self.loaded.name)
        self.apply_model(bundle)
        if self.loaded is not None:
            self.prepare()
            self.score()
        return bundle

    @classmethod
    def from_model_file(cls, path: str | os.PathLike[str], *,
                        progress: ProgressCallback | None = None) -> Detector:
        """A run holding a saved model, ready to :meth:`score` new data."""
        det = cls(progress=progress)
        det.apply_model(read_model_file(path))
        return det

    # ------------------------------------------------------------------ results

    def result_frame(self, *, only_flagged: bool = False) -> pd.DataFrame:
        prepared, scored, det = self._need_prepared(), self.scored, self.detection
        if scored is None or det is None:
            raise DetectorError("nothing is scored yet; run a detection or score first")
        return steps.result_frame(prepared, scored, det, only_flagged=only_flagged)

    def explain(self, positions: Any = None) -> Any:
        """Why the prepared rows at ``positions`` (default: every row) are (not) flagged:
        each feature's contribution to the squared Mahalanobis distance from the row's
        component (:class:`~gmm_desktop.core.steps.Explanation`)."""
        scored = self._need_scored()
        return steps.explain(self._need_prepared(), scored,
                             None if positions is None else np.asarray(positions))

    def export_job(self, path: str | os.PathLike[str], *, only_flagged: bool = True,
                   rows: np.ndarray | None = None) -> Job[Path]:
        prepared, scored, det = self._need_prepared(), self.scored, self.detection
        if scored is None or det is None:
            raise DetectorError("nothing is flagged yet: fit a model or load one first")
        steps.check_output(path, [prepared.loaded.source.path])
        if not prepared.big:
            steps.check_table_suffix(path)
        config = self.config
        connection = self.connection if prepared.big else None

        def work(progress: ProgressCallback | None) -> Path:
            if connection is not None:
                connection.ensure()
            return steps.export_rows(path, prepared, scored, det, only_flagged=only_flagged,
                                     config=config, rows=rows, progress=progress)

        return Job("export", work)

    def export(self, path: str | os.PathLike[str], *, only_flagged: bool = True) -> Path:
        """Write the flagged rows (or every row with its flag) and the JSON sidecar."""
        return self.export_job(path, only_flagged=only_flagged).run(self.progress)

    def export_selection_job(self, path: str | os.PathLike[str]) -> Job[Path]:
        self._refuse("selection")
        pos = self.positions(self.selected)
        if pos.size == 0:
            raise DetectorError("the selection is empty")
        if self.scored is None or self.detection is None:
            prepared = self._need_prepared()
            steps.check_output(path, [prepared.loaded.source.path])
            steps.check_table_suffix(path)
            ds = prepared.loaded.table
            assert ds is not None
            frame = ds.frame.iloc[np.asarray(prepared.features.row_index)[pos]]

            def work(progress: ProgressCallback | None) -> Path:
                from gmm_desktop.data import write_table_atomic

                return write_table_atomic(frame.reset_index(drop=True), Path(path))

            return Job("export", work)
        return self.export_job(path, only_flagged=False, rows=pos)

    def report_job(self, path: str | os.PathLike[str], *,
                   title: str | None = None) -> Job[Path]:
        """Write the self-contained HTML report (:mod:`gmm_desktop.core.report`) of an
        immutable snapshot of the run."""
        from types import SimpleNamespace

        from gmm_desktop.core.report import write_report

        scored = self._need_scored()
        if self.loaded is not None:
            steps.check_output(path, [self.loaded.source.path], what="report")
        try:
            cli = self.cli_command("flagged.csv")
        except DetectorError as exc:
            cli = (f"(no command line: {exc})", [])
        snapshot = SimpleNamespace(
            prepared=self.prepared, scored=scored, detection=self.detection,
            bundle=self.bundle, selection=self.selection, robust=self.robust,
            labels=self.labels,
            config=self.config, fit_warnings=self.fit_warnings,
            cli_command=lambda _output: cli,
        )
        return Job("export", lambda _p: write_report(snapshot, path, title=title))

    def report(self, path: str | os.PathLike[str], *, title: str | None = None) -> Path:
        """Write the self-contained HTML report of the run."""
        return self.report_job(path, title=title).run(self.progress)

    def sample(self, n: int, *, seed: int | None = None) -> pd.DataFrame:
        """``n`` synthetic rows from the model, in the data's units and column names."""
        return steps.sample(self._need_bundle(), n, seed=seed)

    # ------------------------------------------------------------------ reproduction

    def recipe(self) -> Recipe:
        """What this run did, to repeat it (raises :class:`DetectorError` with the reason
        when one ``detect`` cannot repeat it)."""
        bundle = self._need_bundle()
        if self.loaded is None or self.loaded.source.path is None:
            raise DetectorError("the data was not read from a file, so a script cannot "
                                "read it again")
        if self.applied:
            raise DetectorError("the model was loaded from a file: apply it to data with "
                                "'gmm-desktop score DATA --model MODEL.json'")
        if self._refits > 1:
            raise DetectorError("the model is a refit of a refit, which one detect run "
                                "cannot repeat")
        if bundle.refit is not None and self._labels_at_refit is not None \
                and self._labels_at_refit != self.labels:
            raise DetectorError("the labels changed after the refit, which one detect run "
                                "cannot repeat")
        return Recipe(data_path=self.loaded.source.path, fit_config=bundle.config,
                      fit_excluded=tuple(bundle.fit_excluded), labels=self.labels,
                      refit=bundle.refit, threshold=self.spec.to_dict(), pinned=self.pinned)

    def script_text(self, output: str = "flagged.csv") -> str:
        return script_text(self.recipe(), output)

    def cli_command(self, output: str = "flagged.csv",
                    labels_file: str | None = None) -> tuple[str, list[str]]:
        return cli_command(self.recipe(), output, labels_file)

    # ------------------------------------------------------------------ sessions

    def data_ref(self) -> DataRef | None:
        if self.loaded is None or self.loaded.source.path is None:
            return None
        return DataRef(path=self.loaded.source.path, demo=self.demo, big=self.big,
                       sample_size=self.sample_size)

    def session_document(self, view: dict[str, Any] | None = None) -> dict[str, Any]:
        """The run as a session document (:mod:`gmm_desktop.core.session`)."""
        bundle = self.bundle
        if bundle is not None and self.detection is not None:
            bundle = replace(bundle, threshold=self.detection.threshold
                             if self.pinned else bundle.threshold)
        return session_document(
            data=self.data_ref(), config=self.config, bundle=bundle, pinned=self.pinned,
            applied=self.applied, labels=self.labels,
            selection=[plain(v) for v in self.selected], view=view,
        )

    def save_session(self, path: str | os.PathLike[str],
                     view: dict[str, Any] | None = None) -> Path:
        if self.loaded is not None:
            steps.check_output(path, [self.loaded.source.path], what="session file")
        write_session(path, self.session_document(view))
        return Path(path)

    def restore_job(self, contents: SessionContents) -> Job[Opened | None]:
        """Open the session's data with its configuration (and its model, if any)."""
        self.config = contents.config
        if contents.bundle is not None and contents.applied:
            self.apply_model(contents.bundle)
            self.config = contents.config
        data = contents.data
        if data is None:
            return Job("load", lambda _p: None)
        path = resolve_data_path(data)
        self.sample_size = data.sample_size
        bundle = contents.bundle
        load = self.load_job(path, demo=data.demo, big=data.big)

        def work(progress: ProgressCallback | None) -> Opened | None:
            opened = load.run(progress)
            if bundle is not None and opened.scored is None:
                try:
                    scored = steps.score(opened.prepared, bundle)
                except (GmmDesktopError, ValueError):
                    scored = None
                return replace(opened, scored=scored, bundle=bundle)
            return opened

        return Job("load", work)

    def adopt_restored(self, opened: Opened | None, contents: SessionContents) -> list[str]:
        """Adopt a restored session's data and model; returns what could not be restored."""
        problems = list(contents.problems)
        if opened is None:
            if contents.bundle is not None:
                self.bundle = contents.bundle
            return problems
        self.adopt_opened(opened)
        bundle = contents.bundle
        if bundle is not None:
            self.bundle = bundle
            self.applied = contents.applied
            self.pinned = contents.pinned
            scored = opened.scored
            if scored is not None and scored.bundle is bundle and self.model_matches():
                self._adopt_scored(scored)
            else:
                problems.append("the model does not match the session's data; it is kept but "
                                "not shown (fit again, or open its data)")
        self.config = contents.config.replace(columns=self.prepared.columns
                                              if self.prepared else contents.config.columns)
        try:
            self.labels = contents.labels
            ids = np.asarray(contents.selection)
            self.selected = np.unique(ids) if ids.size else np.empty(0, dtype=np.int64)
        except (TypeError, ValueError) as exc:
            problems.append(f"the labels or the selection were not restored: {exc}")
        self._redetect()
        return problems

    def open_session(self, path: str | os.PathLike[str]) -> list[str]:
        """Restore a session file; returns the problems met (sections not restored)."""
        contents = parse_session(read_session(path), str(path))
        job = self.restore_job(contents)
        return self.adopt_restored(job.run(self.progress), contents)


def resolve_data_path(data: DataRef) -> str:
    """The session's data file; a bundled demo is found again if its path moved."""
    path = data.path
    if path and Path(path).exists():
        return path
    if data.demo:
        from gmm_desktop.data import demo_datasets

        demos = demo_datasets()
        if data.demo in demos:
            return str(demos[data.demo])
    raise DetectorError(
        f"the session's data file {path} does not exist any more. Move it back, or open the "
        "data file and load the model instead."
    )
