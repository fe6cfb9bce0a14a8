"""The command line: ``gmm-desktop`` opens the GUI; with a subcommand it works headless.

Subcommands: ``detect``, ``score``, ``select``, ``sample`` and ``plugins`` (see ``--help`` of
each). They drive the application core (:mod:`gmm_desktop.core`), the same run the window
drives, with the same defaults (:class:`~gmm_desktop.core.RunConfig`). Bad input ends with
exit status 2 and a one-line message on stderr, never a traceback; every argument is
checked before any work. Progress goes to stderr when stderr is a terminal (or with
``--progress``); notes about the data go to stderr too (``--quiet`` hides them).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from gmm_desktop import __version__
from gmm_desktop.errors import Cancelled, GmmDesktopError

__all__ = ["main"]

PROG = "gmm-desktop"
EXIT_OK, EXIT_USAGE = 0, 2


class UsageError(Exception):
    """Bad command-line input (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) and status 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


# --------------------------------------------------------------------------- argument types


def parse_components(text: str) -> int | list[int]:
    """``"3"`` → 3; ``"1-8"`` → [1, ..., 8]; ``"1,2,5"`` → [1, 2, 5] (the limits are the
    core's: at most ``MAX_CANDIDATES`` counts, none above ``MAX_COMPONENTS``)."""
    from gmm_desktop.core.config import MAX_CANDIDATES, MAX_COMPONENTS
    from gmm_desktop.data.errors import clip_text

    try:
        if "-" in text:
            low, high = (int(v) for v in text.split("-", 1))
            if low < 1 or high < low:
                raise ValueError
            values: list[int] = [low, high]
            if high - low + 1 > MAX_CANDIDATES:
                raise OverflowError
            values = list(range(low, high + 1))
        elif "," in text:
            values = sorted({int(v) for v in text.split(",") if v.strip()})
            if not values or values[0] < 1:
                raise ValueError
        else:
            values = [int(text)]
            if values[0] < 1:
                raise ValueError
        if len(values) > MAX_CANDIDATES or values[-1] > MAX_COMPONENTS:
            raise OverflowError
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{clip_text(text)}' is not a number of components: give K (e.g. 3), a range "
            "(1-8) or a list (1,2,5) of positive integers"
        ) from None
    except OverflowError:
        raise argparse.ArgumentTypeError(
            f"'{clip_text(text)}': try at most {MAX_CANDIDATES} counts of components, none "
            f"above {MAX_COMPONENTS} (for example 1-10)"
        ) from None
    return values if len(values) > 1 or "-" in text or "," in text else values[0]


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    return value


def _parse_value(text: str) -> Any:
    low = text.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _refit_params(items: Sequence[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or ():
        if "=" not in item:
            raise UsageError(f"--refit-param needs NAME=VALUE, got '{item}'")
        key, value = item.split("=", 1)
        out[key.strip()] = _parse_value(value.strip())
    return out


def _covariance_types(text: str) -> list[str]:
    from gmm_desktop.data.errors import clip_text
    from gmm_desktop.registry import get_registry

    names = get_registry().names("covariance")
    if text == "all":
        return names
    wanted = [t.strip() for t in text.split(",") if t.strip()]
    for name in wanted:
        if name not in names:
            raise UsageError(
                f"unknown covariance type '{clip_text(name)}'; available: {', '.join(names)} "
                "or 'all'"
            )
    return wanted


def _columns(values: Sequence[str] | None) -> list[str] | None:
    if not values:
        return None
    return [c.strip() for v in values for c in v.split(",") if c.strip()]


# --------------------------------------------------------------------------- progress


class _ProgressPrinter:
    """Progress lines on stderr, at most a few per second (the core's ProgressEvent)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.last = 0.0
        self.shown = False

    def __call__(self, event: Any) -> bool:
        if not self.enabled:
            return False
        now = time.monotonic()
        if now - self.last < 0.2 and event.fraction < 1.0:
            return False
        self.last = now
        text = f"{100 * event.fraction:5.1f}%  {event.message or event.stage}"
        if self.tty:
            sys.stderr.write("\r\033[K" + text[:150])
            self.shown = True
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()
        return False

    def close(self) -> None:
        if self.enabled and self.tty and self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self.shown = False


def _note(text: str, args: argparse.Namespace) -> None:
    """A warning about the data, one line on stderr (``--quiet`` hides them)."""
    if not getattr(args, "quiet", False):
        print(f"{PROG}: note: {_one_line(text)[:500]}", file=sys.stderr)


# --------------------------------------------------------------------------- building the run


def _threshold(args: argparse.Namespace, default: Any) -> Any:
    from gmm_desktop.engine.anomaly import ThresholdSpec

    share = args.small_component
    if args.threshold is not None:
        return ThresholdSpec("log_density", args.threshold, share)
    if args.sigma is not None:
        return ThresholdSpec("sigma", args.sigma, share)
    if args.chi2 is not None:
        return ThresholdSpec("chi2", args.chi2, share)
    if args.contamination is not None:
        return ThresholdSpec("contamination", args.contamination, share)
    if share is not None:
        return ThresholdSpec(default.kind, default.value, share)
    return default


def _config(args: argparse.Namespace, base: Any = None) -> Any:
    """The run's configuration: the defaults (or a session's), then every option given."""
    from gmm_desktop.core import RunConfig

    cfg = base or RunConfig()
    changes: dict[str, Any] = {}
    simple = {
        "id_column": "id_column", "sheet": "sheet", "missing": "missing", "scaling": "scaling",
        "n_components": "components", "criterion": "criterion", "init_params": "init_params",
        "n_init": "n_init", "max_iter": "max_iter", "tol": "tol", "reg_covar": "reg_covar",
        "random_state": "seed", "refit": "refit", "method": "method", "trim": "trim",
    }
    for field_name, arg in simple.items():
        value = getattr(args, arg, None)
        if value is not None:
            changes[field_name] = value
    columns = _columns(getattr(args, "columns", None))
    if columns is not None:
        changes["columns"] = tuple(columns)
    if getattr(args, "covariance_type", None) is not None:
        changes["covariance_types"] = tuple(_covariance_types(args.covariance_type))
    if getattr(args, "refit_param", None):
        if getattr(args, "refit", None) is None and cfg.refit is None:
            raise UsageError("--refit-param sets a parameter of a refit strategy: give the "
                             "strategy with --refit NAME (see 'gmm-desktop plugins')")
        changes["refit_params"] = _refit_params(args.refit_param)
    if hasattr(args, "contamination"):
        changes["threshold"] = _threshold(args, cfg.threshold)
    changes["read"] = _read_options(args, cfg.read)
    cfg = cfg.replace(**changes)
    if cfg.refit is not None:
        from gmm_desktop.registry import get_registry

        get_registry().create("refit", cfg.refit).set_params(**cfg.refit_options)
    return cfg


def _check_outputs(args: argparse.Namespace, inputs: list[str | None], *, lazy: bool) -> None:
    """Every output name is checked before any work: its extension, and that it is not
    (inside) an input."""
    from gmm_desktop.core.steps import check_output, check_table_suffix

    html = getattr(args, "func", None) is cmd_report
    for attr, what in (("output", "report" if html else "output"), ("model_out", "model file"),
                       ("session_out", "session file"), ("report", "report")):
        value = getattr(args, attr, None)
        if value is None:
            continue
        check_output(value, inputs, what=what)
        if attr == "output" and not lazy and not html:
            check_table_suffix(value)
        if (attr == "report" or (html and attr == "output")) and Path(value).suffix.lower() \
                not in (".html", ".htm"):
            raise UsageError("the report is an HTML file: give a name ending in .html")
        if attr in ("model_out", "session_out") and Path(value).suffix.lower() != ".json":
            raise UsageError(f"--{attr.replace('_', '-')} is written as JSON: give a name "
                             "ending in .json")
    if lazy and getattr(args, "output", None) and not html and not str(
            args.output).lower().endswith((".parquet", ".pq", ".parq")):
        raise UsageError(
            "out of core, --output is a Parquet dataset folder: give a name ending in .parquet"
        )


def _show_data_notes(det: Any, args: argparse.Namespace) -> None:
    loaded, prepared = det.loaded, det.prepared
    if loaded is not None and loaded.table is not None:
        for w in loaded.table.warnings:
            _note(w.render(cli_hint), args)
    if prepared is not None:
        report = prepared.features.report
        if report is not None and (report.rows_dropped or report.rows_imputed):
            _note(report.summary, args)
        for w in prepared.features.warnings:
            _note(str(w), args)


def _load(det: Any, args: argparse.Namespace, progress: _ProgressPrinter, *,
          big: bool | None = None) -> None:
    det.load(args.data, big=big or None)
    progress.close()
    _show_data_notes(det, args)


def _summary(det: Any, out: Any) -> None:
    prepared, d, bundle = det.prepared, det.detection, det.bundle
    model = bundle.model
    ds = det.loaded
    mode = "; out of core" if det.big else ""
    print(
        f"data: {ds.name} ({prepared.source.n_rows} rows, {prepared.n_rows_used} used; "
        f"columns {', '.join(prepared.columns)}; scaling {prepared.scaling}{mode})",
        file=out,
    )
    how = ""
    if det.robust is not None:
        rf = det.robust
        how = (f", robust route: chosen by trimmed BIC from {len(rf.cells)} candidates, "
               f"trimming {rf.info.get('trim', 0):.2f}")
        if rf.outlier_components:
            how += f"; {len(rf.outlier_components)} outlier cluster(s) set apart"
    elif det.selection is not None:
        how = (f", selected by {det.selection.criterion.upper()} from "
               f"{len(det.selection.cells)} candidates")
    print(f"model: {model.n_components} component(s), {model.covariance_type}{how}", file=out)
    for note in det.fit_warnings:
        print(f"warning: {_one_line(note)}", file=out)
    if bundle.refit is not None and det.pinned:
        rec = bundle.refit
        info = ", ".join(
            f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
            for k, v in rec.info.items()
            if not isinstance(v, list | dict)
        )
        print(f"refit: {rec.strategy} ({info})", file=out)
    print(f"threshold: {d.threshold.describe()}", file=out)
    share = 100 * d.share
    exact = "" if d.exact else " (estimated)"
    print(f"flagged: {d.n_flagged} of {d.n_rows} rows ({share:.1f}%){exact}", file=out)
    if not det.big:
        ids = prepared.row_ids[np.asarray(d.flags)]
        if ids.size:
            shown = ", ".join(str(v) for v in ids[:50])
            more = f", ... ({ids.size - 50} more)" if ids.size > 50 else ""
            print(f"flagged rows: {shown}{more}", file=out)


def _write_outputs(det: Any, args: argparse.Namespace) -> None:
    if getattr(args, "func", None) is cmd_report:
        from gmm_desktop.core.report import write_report

        print(f"report: {write_report(det, args.output)}")
        return
    if getattr(args, "report", None):
        from gmm_desktop.core.report import write_report

        print(f"report: {write_report(det, args.report)}")
    if getattr(args, "output", None):
        path = det.export(args.output, only_flagged=not args.all_rows)
        print(f"wrote: {path}")
    if getattr(args, "model_out", None):
        path = det.save_model(args.model_out)
        print(f"model: saved to {path}")
    if getattr(args, "session_out", None):
        path = det.save_session(args.session_out)
        print(f"session: saved to {path}")


def _read_labels(path: str) -> Any:
    from gmm_desktop.core import Labels
    from gmm_desktop.fileio import read_json

    doc = read_json(path, what="labels", error=UsageError)
    if isinstance(doc, dict) and "analysis" in doc:  # a session file: its labels
        doc = doc["analysis"].get("labels") if isinstance(doc["analysis"], dict) else None
    try:
        return Labels.from_dict(doc)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{path}: {exc}") from None


# --------------------------------------------------------------------------- commands


def cmd_detect(args: argparse.Namespace, progress: _ProgressPrinter) -> int:
    from gmm_desktop.core import OUT_OF_CORE, Detector
    from gmm_desktop.core.bigdata import looks_lazy
    from gmm_desktop.core.session import parse_session, read_session

    contents = None
    if args.session is not None:
        contents = parse_session(read_session(args.session), args.session)
        for problem in contents.problems:
            _note(f"{args.session}: {problem}", args)
    if args.data is None:
        if contents is None or contents.data is None:
            raise UsageError("give the data file (or --session FILE with a data file)")
        from gmm_desktop.core.run import resolve_data_path

        args.data = resolve_data_path(contents.data)
    config = _config(args, contents.config if contents is not None else None)
    lazy = args.scheduler is not None or looks_lazy(args.data)
    _check_outputs(args, [args.data], lazy=lazy)
    det = Detector(config, progress=progress, scheduler=args.scheduler)
    if lazy:
        from gmm_desktop.core.bigdata import ensure_dask

        ensure_dask()
        refused = OUT_OF_CORE.refusals(config)  # reading options too: declared there
        if args.labels is not None:
            refused.append(OUT_OF_CORE.refusal("labels"))
        if refused:
            raise UsageError("not available out of core (a folder, a glob or --scheduler): "
                             + "; ".join(refused))
    try:
        _load(det, args, progress, big=lazy)
        if args.labels is not None:
            det.set_labels(_read_labels(args.labels))
        elif contents is not None:
            det.set_labels(contents.labels)
        det.fit()
        det.detect()
        progress.close()
        _summary(det, sys.stdout)
        _write_outputs(det, args)
    finally:
        det.close()
    return EXIT_OK


def cmd_report(args: argparse.Namespace, progress: _ProgressPrinter) -> int:
    """``detect`` (or ``score`` with ``--model``) whose output is the HTML report."""
    if args.model is not None:
        if args.data is None:
            raise UsageError("give the data file to apply the model to")
        return cmd_score(args, progress)
    return cmd_detect(args, progress)


def cmd_score(args: argparse.Namespace, progress: _ProgressPrinter) -> int:
    from gmm_desktop.core import Detector, RunConfig
    from gmm_desktop.core.bigdata import looks_lazy

    read = _read_options(args, RunConfig().read)  # checked before any work
    lazy = looks_lazy(args.data)
    _check_outputs(args, [args.data, args.model], lazy=lazy)
    det = Detector.from_model_file(args.model, progress=progress)
    det.config = det.config.replace(read=read)
    if args.id_column is not None or args.sheet is not None:
        det.config = det.config.replace(
            id_column=args.id_column if args.id_column is not None else det.config.id_column,
            sheet=args.sheet)
    try:
        _load(det, args, progress, big=lazy)
        det.score()
        progress.close()
        _summary(det, sys.stdout)
        _write_outputs(det, args)
    finally:
        det.close()
    return EXIT_OK


def cmd_select(args: argparse.Namespace, progress: _ProgressPrinter) -> int:
    from gmm_desktop.core import Detector

    config = _config(args)
    det = Detector(config, progress=progress)
    _load(det, args, progress)
    result = det.select()
    progress.close()
    prepared = det.prepared
    print(
        f"data: {det.loaded.name} ({prepared.n_rows_used} rows used; columns "
        f"{', '.join(prepared.columns)}; scaling {prepared.scaling})"
    )
    print(result.to_text(mclust_sign=args.mclust))
    if args.mclust:
        print()
        print(result.to_grid(mclust_sign=True))
    best = result.best
    print(
        f"best by {result.criterion.upper()}: {best.n_components} component(s), "
        f"{best.covariance_type}"
    )
    return EXIT_OK


def cmd_sample(args: argparse.Namespace, progress: _ProgressPrinter) -> int:
    from gmm_desktop.core import read_model_file
    from gmm_desktop.core.steps import check_output, check_table_suffix, write_sample

    check_table_suffix(args.output)
    check_output(args.output, [args.model])
    bundle = read_model_file(args.model)
    path = write_sample(bundle, args.n, args.output, seed=args.seed,
                        model_file=str(Path(args.model).resolve()))
    columns = [*(bundle.columns or ()), "component"]
    print(f"wrote {args.n} synthetic rows ({', '.join(map(str, columns))}) to {path}")
    return EXIT_OK


def cmd_plugins(args: argparse.Namespace, progress: _ProgressPrinter) -> int:
    from gmm_desktop.registry import format_plugin_table, get_registry, plugin_table

    records = sorted(get_registry().load_all(), key=lambda r: (r.kind, r.name))
    print(format_plugin_table(plugin_table(records)))
    return EXIT_OK


# --------------------------------------------------------------------------- parser


def _add_data_options(p: argparse.ArgumentParser, *, columns: bool = True,
                      optional_data: bool = False) -> None:
    p.add_argument("data", nargs="?" if optional_data else None,
                   help="the data file (CSV, TSV, Parquet, Excel, .npy, .npz), or a Parquet "
                   "folder / quoted glob of CSV files (read lazily, out of core)")
    if columns:
        p.add_argument(
            "--columns", nargs="+", metavar="COL",
            help="feature columns (space- or comma-separated; default: every numeric column)",
        )
    p.add_argument("--sheet", help="worksheet (Excel) or array (npz) to read")
    p.add_argument("--id-column", help="column that identifies the rows (default: row number)")
    _add_read_options(p)
    p.add_argument("--quiet", action="store_true",
                   help="do not print notes about the data (dropped rows, suspicious columns)")


def _add_read_options(p: argparse.ArgumentParser) -> None:
    """How a text data file is read (the import dialog's choices; default: detected)."""
    g = p.add_argument_group(
        "reading a text file (CSV/TSV/TXT; every option is detected when not given)")
    g.add_argument("--delimiter", metavar="CHAR",
                   help="field separator: one character (, ; |), 'tab', or 'whitespace' for "
                   "runs of blanks")
    g.add_argument("--decimal", metavar="MARK", help="decimal mark: '.' or ','")
    g.add_argument("--header", action=argparse.BooleanOptionalAction, default=None,
                   help="the first line (after --skip-rows) names the columns (--no-header: "
                   "it is data)")
    g.add_argument("--skip-rows", metavar="N", type=_count,
                   help="lines to skip above the header (a title, an instrument's notes)")
    g.add_argument("--comment", metavar="CHAR",
                   help="comment marker: the rest of a line from it on is ignored")
    g.add_argument("--missing-values", metavar="TEXT", action="append",
                   help="extra text meaning 'missing' in number columns (repeatable or "
                   "comma-separated; write --missing-values=-99 for a value starting with -)")
    g.add_argument("--encoding", metavar="NAME",
                   help="text encoding: utf-8, latin-1, cp1252, utf-16, ...")
    g.add_argument("--text-columns", metavar="COL", action="append",
                   help="columns to keep as text even if they hold numbers (repeatable or "
                   "comma-separated)")


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a number of lines: give a whole number, 0 or more")
    return value


def _split_list(values: Sequence[str] | None) -> list[str]:
    return [v.strip() for item in values or () for v in item.split(",") if v.strip()]


def cli_hint(hint: Any) -> str:
    """The command line's words for a reading-option hint: ``pass --missing-values '?'``."""
    import shlex

    option, value = hint.option, hint.value
    if option == "header":
        return "pass --header" if value else "pass --no-header"
    flag = "--" + option.replace("_", "-")
    if option == "delimiter":
        value = {"\t": "tab", "whitespace": "whitespace"}.get(value, value)
    text = str(value)
    shown = f"'{text}'" if len(text) == 1 and not text.isalnum() else shlex.quote(text)
    if text.startswith("-"):
        return f"pass {flag}={shown}"
    return f"pass {flag} {shown}"


def _read_options(args: argparse.Namespace, base: Any) -> Any:
    """The reading options: a session's (or the defaults), then every option given."""
    changes: dict[str, Any] = {}
    for name in ("delimiter", "decimal", "header", "skip_rows", "comment", "encoding"):
        value = getattr(args, name, None)
        if value is not None:
            changes[name] = value
    for name in ("missing_values", "text_columns"):
        values = _split_list(getattr(args, name, None))
        if values:
            changes[name] = values
    return base.replace(**changes) if changes else base


def _add_fit_options(p: argparse.ArgumentParser) -> None:
    from gmm_desktop.core import RunConfig

    d = RunConfig()
    p.add_argument(
        "--scaling", choices=("none", "standardize", "robust"), default=None,
        help=f"feature scaling before fitting (default: {d.scaling})",
    )
    p.add_argument(
        "--missing", choices=("drop", "median"), default=None,
        help=f"rows with missing values: drop them or fill in the median (default: {d.missing})",
    )
    p.add_argument("--init-params", metavar="NAME",
                   help=f"initializer: kmeans, k-means++, random, random_from_data or a plugin "
                   f"(default: {d.init_params})")
    p.add_argument("--n-init", type=int, help=f"EM restarts per model (default: {d.n_init})")
    p.add_argument("--max-iter", type=int,
                   help=f"EM iterations per restart (default: {d.max_iter})")
    p.add_argument("--tol", type=float,
                   help=f"stop when the mean log-likelihood improves less (default: {d.tol})")
    p.add_argument("--reg-covar", type=float,
                   help=f"added to every covariance's diagonal (default: {d.reg_covar})")
    p.add_argument("--seed", type=int, help=f"random seed (default: {d.random_state})")


def _add_detect_options(p: argparse.ArgumentParser, *, report: bool = False) -> None:
    """The options of ``detect`` (``report`` takes the same, its output being the HTML)."""
    _add_data_options(p, optional_data=True)
    from gmm_desktop.core import DEFAULT_COMPONENTS, DEFAULT_CONTAMINATION

    p.add_argument(
        "--components", type=parse_components, default=None, metavar="K|A-B",
        help=f"number of components, or a range chosen by the criterion (default: "
        f"{DEFAULT_COMPONENTS[0]}-{DEFAULT_COMPONENTS[-1]})",
    )
    p.add_argument(
        "--covariance-type", default=None, metavar="TYPE",
        help="full, tied, diag, spherical (any registered type with --method plain), a comma "
        "list, or 'all' (default: full,tied,diag,spherical)",
    )
    p.add_argument("--criterion", choices=("bic", "aic"), default=None,
                   help="what picks the model among several with --method plain (default: bic)")
    p.add_argument("--method", choices=("robust", "plain"), default=None,
                   help="robust (the default): trimmed fits over the components x covariance "
                   "types grid, chosen by a trimmed BIC, reweighted, small far components "
                   "declared outlier clusters; plain: EM on every row, chosen by BIC")
    p.add_argument("--trim", type=_fraction, metavar="SHARE",
                   help="share of rows the robust route leaves out of its trimmed fits "
                   "(default: the contamination, at least 0.25)")
    gate = p.add_mutually_exclusive_group()
    gate.add_argument("--contamination", type=_fraction, metavar="Q",
                      help=f"flag the lowest-density fraction Q of the rows (default: "
                      f"{DEFAULT_CONTAMINATION})")
    gate.add_argument("--threshold", type=_fraction, metavar="T",
                      help="flag rows whose log-density is below T")
    gate.add_argument("--sigma", type=_fraction, metavar="K",
                      help="flag rows outside every component's K-sigma ellipsoid")
    gate.add_argument("--chi2", type=_fraction, metavar="P",
                      help="flag rows outside every component's chi-square P ellipsoid")
    p.add_argument("--small-component", type=_fraction, metavar="SHARE",
                   help="declare components with a weight below SHARE anomalous")
    p.add_argument("--refit", metavar="STRATEGY",
                   help="outlier removal and refit: trim-and-refit, iterative-trimming, "
                   "noise-component, or an installed strategy (see 'gmm-desktop plugins')")
    p.add_argument("--refit-param", action="append", metavar="NAME=VALUE",
                   help="a parameter of the refit strategy (repeatable), e.g. alpha=0.2")
    p.add_argument("--labels", metavar="LABELS.json",
                   help="manual labels by row identity: a JSON object with lists 'outlier' "
                   "(left out of the fit, always flagged), 'normal' (never flagged) and "
                   "'excluded' (left out of the fit), or a session file's labels")
    p.add_argument("--session", metavar="SESSION.json",
                   help="start from a session saved by the window (its data, settings and "
                   "labels); options given here override its settings")
    if report:
        p.add_argument("--output", metavar="REPORT.html", required=True,
                       help="the HTML report to write (one self-contained file)")
        p.add_argument("--model", metavar="MODEL.json",
                       help="report on a saved model applied to DATA instead of fitting one")
    else:
        p.add_argument("--output", metavar="FLAGGED",
                       help="write the flagged rows (.csv, .tsv, .parquet, .xlsx) with a .json "
                       "sidecar")
        p.add_argument("--report", metavar="REPORT.html",
                       help="also write the HTML report of the run")
    p.add_argument("--all-rows", action="store_true",
                   help="write every scored row with a flag column, not only the flagged ones")
    p.add_argument("--model-out", metavar="MODEL.json",
                   help="save the model with its scaler, columns and threshold")
    p.add_argument("--session-out", metavar="SESSION.json",
                   help="save the run as a session the window opens (File > Open session)")
    p.add_argument("--scheduler", metavar="local|ADDRESS",
                   help="fit out of core on Dask (data bigger than memory): 'local' starts "
                   "worker processes on this machine, an address (tcp://host:8786) uses a "
                   "running cluster. DATA may then be a Parquet dataset folder or a quoted "
                   "glob of CSV files (a folder or glob is read lazily even without it, on "
                   "threads); --output writes a Parquet folder")
    _add_fit_options(p)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Anomaly detection with Gaussian mixture models. Without a subcommand "
        "the desktop application opens.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  gmm-desktop detect data.csv --components 1-6 --contamination 0.02 "
        "--output flagged.csv",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument(
        "--progress", action="store_true", help="show progress on stderr even when not a terminal"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def add(name: str, help_: str, example: str) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name, help=help_, description=help_,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            epilog="example:\n  " + example,
        )
        p.add_argument(
            "--progress", action="store_true", default=argparse.SUPPRESS,
            help="show progress on stderr even when not a terminal",
        )
        return p

    p = add(
        "detect",
        "fit a mixture, flag the anomalous rows, and optionally export them and save the model",
        "gmm-desktop detect sensors.csv --columns temp,pressure --components 1-8 "
        "--contamination 0.01 --refit iterative-trimming --output flagged.csv "
        "--model-out model.json",
    )
    _add_detect_options(p)
    p.set_defaults(func=cmd_detect)

    p = add(
        "score",
        "score new rows with a saved model and its threshold (novelty detection)",
        "gmm-desktop score new-batch.csv --model model.json --output flagged.csv",
    )
    _add_data_options(p, columns=False)
    p.add_argument("--model", required=True, metavar="MODEL.json", help="a saved model")
    p.add_argument("--output", metavar="FLAGGED", help="write the flagged rows")
    p.add_argument("--all-rows", action="store_true", help="write every row with a flag column")
    p.add_argument("--session-out", metavar="SESSION.json",
                   help="save the run as a session the window opens")
    p.add_argument("--report", metavar="REPORT.html", help="also write the HTML report")
    p.set_defaults(func=cmd_score)

    p = add(
        "select",
        "fit a grid of component counts and covariance types and print the BIC/AIC table",
        "gmm-desktop select faithful.csv --components 1-10 --covariance-type all",
    )
    _add_data_options(p)
    p.add_argument("--components", type=parse_components, default=None,
                   metavar="A-B", help="component counts to try (default: 1-6)")
    p.add_argument("--covariance-type", default=None, metavar="TYPE",
                   help="a type, a comma list, or 'all' (default: full,tied,diag,spherical)")
    p.add_argument("--mclust", action="store_true",
                   help="show BIC in mclust's convention, 2 logL - p ln n (higher is better), "
                   "and the components x covariance-types grid as mclust prints it")
    p.add_argument("--criterion", choices=("bic", "aic"), default=None,
                   help="what picks the best model (default: bic)")
    _add_fit_options(p)
    p.set_defaults(func=cmd_select)

    p = add(
        "sample",
        "draw synthetic rows from a saved model, in the data's original units and column names",
        "gmm-desktop sample --model model.json -n 1000 --seed 7 --output synthetic.csv",
    )
    p.add_argument("--model", required=True, metavar="MODEL.json", help="a saved model")
    p.add_argument("-n", type=int, required=True, metavar="N", help="number of rows to draw")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    p.add_argument("--output", required=True, metavar="SYNTH",
                   help="the file to write (.csv, .tsv, .parquet, .xlsx)")
    p.set_defaults(func=cmd_sample)

    p = add(
        "report",
        "detect (or apply a saved model) and write one self-contained HTML report: data, "
        "preparation, model, model selection, plots, threshold, flagged rows with their "
        "explanations, provenance",
        "gmm-desktop report sensors.csv --columns temp,pressure --contamination 0.01 "
        "--output report.html",
    )
    _add_detect_options(p, report=True)
    p.set_defaults(func=cmd_report)

    p = add("plugins", "list every plugin, built-in or installed, with its status",
            "gmm-desktop plugins")
    p.set_defaults(func=cmd_plugins)
    return parser


# --------------------------------------------------------------------------- entry


#: The headless subcommands; any other first argument opens the application.
SUBCOMMANDS = ("detect", "score", "select", "sample", "report", "plugins")


def _opens_the_application(first: str) -> bool:
    """True for the application's own arguments: ``--demo`` or an existing file."""
    if first.split("=")[0] == "--demo":
        return True
    return first not in SUBCOMMANDS and not first.startswith("-") and Path(first).exists()


def run_gui(argv: Sequence[str]) -> int:
    """Open the desktop application (imported lazily; the CLI never needs Qt)."""
    try:
        app = importlib.import_module("gmm_desktop.gui.app")
    except ImportError as exc:
        if getattr(exc, "name", None) in ("gmm_desktop.gui.app", "gmm_desktop.gui"):
            print(f"{PROG}: the desktop application is not available in this build; use a "
                  "subcommand (see 'gmm-desktop --help')", file=sys.stderr)
        else:
            print(f"{PROG}: the desktop application cannot start: {_one_line(exc)}",
                  file=sys.stderr)
        return EXIT_USAGE
    result = app.main(list(argv))
    return int(result or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or _opens_the_application(args_list[0]):
        # `gmm-desktop`, `gmm-desktop FILE`, `gmm-desktop --demo NAME`: the application.
        return run_gui(args_list)
    parser = build_parser()
    progress = _ProgressPrinter(False)
    try:
        args = parser.parse_args(args_list)
        if getattr(args, "func", None) is None:
            raise UsageError("give a subcommand: detect, score, select, sample or plugins")
        progress = _ProgressPrinter(bool(args.progress) or sys.stderr.isatty())
        return int(args.func(args, progress))
    except UsageError as exc:
        progress.close()
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except Cancelled as exc:
        progress.close()
        print(f"{PROG}: {_one_line(exc)}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `gmm-desktop detect ... | head`: the reader left
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")
        return EXIT_OK
    except (GmmDesktopError, ValueError, OSError, KeyError) as exc:
        progress.close()
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        if hasattr(exc, "hints") and hasattr(exc, "render"):  # a DataError: this face's words
            message = exc.render(cli_hint)
        print(f"{PROG}: error: {_one_line(message)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        progress.close()
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
