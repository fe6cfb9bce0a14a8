"""The command line: ``gmm-desktop`` opens the GUI; with a subcommand it works headless.

Subcommands: ``detect``, ``score``, ``select``, ``sample`` and ``plugins`` (see ``--help`` of
each). Bad input ends with exit status 2 and a one-line message on stderr, never a
traceback. Progress goes to stderr when stderr is a terminal (or with ``--progress``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

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
    """``"3"`` → 3; ``"1-8"`` → [1, ..., 8]; ``"1,2,5"`` → [1, 2, 5]."""
    try:
        if "-" in text:
            low, high = (int(v) for v in text.split("-", 1))
            if low < 1 or high < low:
                raise ValueError
            return list(range(low, high + 1))
        if "," in text:
            values = sorted({int(v) for v in text.split(",") if v.strip()})
            if not values or values[0] < 1:
                raise ValueError
            return values
        value = int(text)
        if value < 1:
            raise ValueError
        return value
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a number of components: give K (e.g. 3), a range (1-8) or a "
            "list (1,2,5) of positive integers"
        ) from None


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
    from gmm_desktop.registry import get_registry

    names = get_registry().names("covariance")
    if text == "all":
        return names
    wanted = [t.strip() for t in text.split(",") if t.strip()]
    for name in wanted:
        if name not in names:
            raise UsageError(
                f"unknown covariance type '{name}'; available: {', '.join(names)} or 'all'"
            )
    return wanted


def _columns(values: Sequence[str] | None) -> list[str] | None:
    if not values:
        return None
    return [c.strip() for v in values for c in v.split(",") if c.strip()]


# --------------------------------------------------------------------------- progress


class _ProgressPrinter:
    """Progress lines on stderr, at most a few per second."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.last = 0.0
        self.shown = False

    def __call__(self, stage: str, fraction: float) -> bool:
        if not self.enabled:
            return False
        now = time.monotonic()
        if now - self.last < 0.2 and fraction < 1.0:
            return False
        self.last = now
        text = f"{100 * fraction:5.1f}%  {stage}"
        if self.tty:
            sys.stderr.write("\r\033[K" + text)
            self.shown = True
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()
        return False

    def close(self) -> None:
        if self.enabled and self.tty and self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()


# --------------------------------------------------------------------------- commands


def _threshold(args: argparse.Namespace):
    from gmm_desktop.engine.anomaly import ThresholdSpec

    share = args.small_component
    if args.threshold is not None:
        return ThresholdSpec("log_density", args.threshold, share)
    if args.sigma is not None:
        return ThresholdSpec("sigma", args.sigma, share)
    if args.chi2 is not None:
        return ThresholdSpec("chi2", args.chi2, share)
    q = 0.05 if args.contamination is None else args.contamination
    return ThresholdSpec("contamination", q, share)


def _load(det: Any, args: argparse.Namespace) -> None:
    options: dict[str, Any] = {}
    if getattr(args, "sheet", None) is not None:
        options["sheet"] = args.sheet
    if getattr(args, "id_column", None) is not None:
        options["id_column"] = args.id_column
    det.load(args.data, **options)


def _summary(det: Any, out: Any) -> None:
    feats, res, model = det.features, det.result, det.model
    ds = det.dataset
    print(
        f"data: {ds.name} ({ds.n_rows} rows, {feats.X.shape[0]} used; columns "
        f"{', '.join(feats.columns)}; scaling {det.scaler.method})",
        file=out,
    )
    how = ""
    if det.selection is not None:
        how = f", selected by {det.selection.criterion.upper()} from {len(det.selection.cells)}"
        how += " candidates"
    print(f"model: {model.n_components} component(s), {model.covariance_type}{how}", file=out)
    if det.refit_record:
        rec = det.refit_record
        info = ", ".join(
            f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
            for k, v in rec["info"].items()
            if not isinstance(v, list)
        )
        print(f"refit: {rec['strategy']} ({info})", file=out)
    print(f"threshold: {res.threshold.describe()}", file=out)
    n = res.flags.size
    share = 100 * res.n_flagged / max(n, 1)
    print(f"flagged: {res.n_flagged} of {n} rows ({share:.1f}%)", file=out)
    ids = feats.row_ids[res.flags]
    if ids.size:
        shown = ", ".join(str(v) for v in ids[:50])
        more = f", ... ({ids.size - 50} more)" if ids.size > 50 else ""
        print(f"flagged rows: {shown}{more}", file=out)


def _is_lazy_source(path: str) -> bool:
    return any(ch in path for ch in "*?[") or Path(path).is_dir()


def _detect_out_of_core(args: argparse.Namespace, progress: _ProgressPrinter) -> int:
    """``detect`` on data bigger than memory: Dask, every pass partition by partition."""
    try:
        from gmm_desktop import outofcore
    except ImportError as exc:
        raise UsageError(
            f"out-of-core detection needs Dask: pip install 'gmm-desktop[dask]' ({exc})"
        ) from None
    types = _covariance_types(args.covariance_type)
    unsupported = []
    if not isinstance(args.components, int) or len(types) != 1:
        unsupported.append("a range of components or several covariance types (fit one K)")
    if args.refit is not None:
        unsupported.append("--refit")
    if args.missing != "drop":
        unsupported.append("--missing median")
    if getattr(args, "sheet", None) is not None:
        unsupported.append("--sheet")
    if unsupported:
        raise UsageError(
            "not available out of core (a folder, a glob or --scheduler): "
            + "; ".join(unsupported)
        )
    if args.output and not args.output.lower().endswith((".parquet", ".pq", ".parq")):
        raise UsageError(
            "out of core, --output is a Parquet dataset folder: give a name ending in .parquet"
        )
    result = outofcore.detect_dataset(
        args.data, scheduler=args.scheduler, columns=_columns(args.columns),
        id_column=args.id_column, n_components=int(args.components),
        covariance_type=types[0], scaling=args.scaling, missing=args.missing,
        threshold=_threshold(args), n_init=args.n_init, random_state=args.seed,
        output=args.output, only_flagged=not args.all_rows, model_out=args.model_out,
        progress=progress,
    )
    progress.close()
    feats, model = result.features, result.model
    print(
        f"data: {result.table.name} ({feats.n_rows} rows, {feats.n_used} used; columns "
        f"{', '.join(feats.columns)}; scaling {feats.scaler.method}; out of core)"
    )
    print(f"model: {model.n_components} component(s), {model.covariance_type}; "
          f"{model.n_iter_} EM iterations, lower bound {model.lower_bound_:.6g}")
    print(f"threshold: {result.threshold.describe()}")
    if result.n_flagged is not None:
        share = 100 * result.n_flagged / max(feats.n_used, 1)
        print(f"flagged: {result.n_flagged} of {feats.n_used} rows ({share:.1f}%)")
        print(f"wrote: {result.output}")
    if result.model_path is not None:
        print(f"model: saved to {result.model_path}")
    return EXIT_OK


def cmd_detect(args: argparse.Namespace, progress: _ProgressPrinter) -> int:
    from gmm_desktop.detector import Detector, DetectorConfig

    if args.scheduler is not None or _is_lazy_source(args.data):
        return _detect_out_of_core(args, progress)
    types = _covariance_types(args.covariance_type)
    config = DetectorConfig(
        columns=_columns(args.columns),
        n_components=args.components,
        covariance_types=types,
        scaling=args.scaling,
        missing=args.missing,
        threshold=_threshold(args),
        refit=args.refit,
        refit_params=_refit_params(args.refit_param),
        n_init=args.n_init,
        random_state=args.seed,
    )
    if args.refit is not None:
        from gmm_desktop.registry import get_registry

        get_registry().create("refit", args.refit).set_params(**config.refit_params)
    det = Detector(config, progress=progress)
    _load(det, args)
    det.fit()
    det.detect()
    progress.close()
    _summary(det, sys.stdout)
    if args.output:
        path = det.export(args.output, only_flagged=not args.all_rows)
        print(f"wrote: {path}", file=sys.stdout)
    if args.model_out:
        path = det.save_model(args.model_out)
        print(f"model: saved to {path}", file=sys.stdout)
    return EXIT_OK


def cmd_score(args: argparse.Namespace, progress: _ProgressPrinter) -> int:
    from gmm_desktop.detector import Detector

    det = Detector.from_model_file(args.model, progress=progress)
    _load(det, args)
    det.score()
    progress.close()
    _summary(det, sys.stdout)
    if args.output:
        path = det.export(args.output, only_flagged=not args.all_rows)
        print(f"wrote: {path}", file=sys.stdout)
    return EXIT_OK


def cmd_select(args: argparse.Namespace, progress: _ProgressPrinter) -> int:
    from gmm_desktop.detector import Detector, DetectorConfig

    ks = args.components if isinstance(args.components, list) else [args.components]
    types = _covariance_types(args.covariance_type)
    config = DetectorConfig(
        columns=_columns(args.columns),
        n_components=ks,
        covariance_types=types,
        scaling=args.scaling,
        missing=args.missing,
        n_init=args.n_init,
        random_state=args.seed,
    )
    det = Detector(config, progress=progress)
    _load(det, args)
    feats = det.prepare()
    result = det.select(criterion=args.criterion)
    progress.close()
    print(
        f"data: {det.dataset.name} ({feats.X.shape[0]} rows used; columns "
        f"{', '.join(feats.columns)}; scaling {feats.scaler.method})"
    )
    print(result.to_text(mclust_sign=args.mclust))
    if args.mclust:
        print()
        print(result.to_grid(mclust_sign=True))
    best = result.best
    print(
        f"best by {args.criterion.upper()}: {best.n_components} component(s), "
        f"{best.covariance_type}"
    )
    return EXIT_OK


def cmd_sample(args: argparse.Namespace, progress: _ProgressPrinter) -> int:
    from gmm_desktop.data import write_table_atomic
    from gmm_desktop.detector import Detector

    det = Detector.from_model_file(args.model)
    frame = det.sample(args.n, seed=args.seed)
    meta = {
        "written_by": f"gmm-desktop {__version__}",
        "what": "synthetic rows drawn from a fitted Gaussian mixture",
        "model_file": str(Path(args.model).resolve()),
        "seed": args.seed,
        "n": args.n,
        "source": det.source,
    }
    path = write_table_atomic(frame, args.output, sidecar=meta)
    print(f"wrote {len(frame)} synthetic rows ({', '.join(map(str, frame.columns))}) to {path}")
    return EXIT_OK


def cmd_plugins(args: argparse.Namespace, progress: _ProgressPrinter) -> int:
    from gmm_desktop.registry import format_plugin_table, get_registry, plugin_table

    records = sorted(get_registry().load_all(), key=lambda r: (r.kind, r.name))
    print(format_plugin_table(plugin_table(records)))
    return EXIT_OK


# --------------------------------------------------------------------------- parser


def _add_data_options(p: argparse.ArgumentParser, *, columns: bool = True) -> None:
    p.add_argument("data", help="the data file (CSV, TSV, Parquet, Excel, .npy, .npz)")
    if columns:
        p.add_argument(
            "--columns", nargs="+", metavar="COL",
            help="feature columns (space- or comma-separated; default: every numeric column)",
        )
    p.add_argument("--sheet", help="worksheet (Excel) or array (npz) to read")
    p.add_argument("--id-column", help="column that identifies the rows (default: row number)")


def _add_fit_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--scaling", choices=("none", "standardize", "robust"), default="standardize",
        help="feature scaling before fitting (default: standardize)",
    )
    p.add_argument(
        "--missing", choices=("drop", "median"), default="drop",
        help="rows with missing values: drop them or fill in the median (default: drop)",
    )
    p.add_argument("--n-init", type=int, default=1, help="EM restarts per model (default: 1)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")


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
    _add_data_options(p)
    p.add_argument(
        "--components", type=parse_components, default=1, metavar="K|A-B",
        help="number of components, or a range chosen by BIC (default: 1)",
    )
    p.add_argument(
        "--covariance-type", default="full", metavar="TYPE",
        help="full, tied, diag, spherical (any registered type), a comma list, or 'all' "
        "(chosen by BIC; default: full)",
    )
    gate = p.add_mutually_exclusive_group()
    gate.add_argument("--contamination", type=_fraction, metavar="Q",
                      help="flag the lowest-density fraction Q of the rows (default: 0.05)")
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
    p.add_argument("--output", metavar="FLAGGED",
                   help="write the flagged rows (.csv, .tsv, .parquet, .xlsx) with a .json "
                   "sidecar")
    p.add_argument("--all-rows", action="store_true",
                   help="write every scored row with a flag column, not only the flagged ones")
    p.add_argument("--model-out", metavar="MODEL.json",
                   help="save the model with its scaler, columns and threshold")
    p.add_argument("--scheduler", metavar="local|ADDRESS",
                   help="fit out of core on Dask (data bigger than memory): 'local' starts "
                   "worker processes on this machine, an address (tcp://host:8786) uses a "
                   "running cluster. DATA may then be a Parquet dataset folder or a quoted "
                   "glob of CSV files (a folder or glob is read lazily even without it, on "
                   "threads); --output writes a Parquet folder")
    _add_fit_options(p)
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
    p.set_defaults(func=cmd_score)

    p = add(
        "select",
        "fit a grid of component counts and covariance types and print the BIC/AIC table",
        "gmm-desktop select faithful.csv --components 1-10 --covariance-type all",
    )
    _add_data_options(p)
    p.add_argument("--components", type=parse_components, default=list(range(1, 7)),
                   metavar="A-B", help="component counts to try (default: 1-6)")
    p.add_argument("--covariance-type", default="full", metavar="TYPE",
                   help="a type, a comma list, or 'all' (default: full)")
    p.add_argument("--mclust", action="store_true",
                   help="show BIC in mclust's convention, 2 logL - p ln n (higher is better), "
                   "and the components x covariance-types grid as mclust prints it")
    p.add_argument("--criterion", choices=("bic", "aic"), default="bic",
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

    p = add("plugins", "list every plugin, built-in or installed, with its status",
            "gmm-desktop plugins")
    p.set_defaults(func=cmd_plugins)
    return parser


# --------------------------------------------------------------------------- entry


#: The headless subcommands; any other first argument opens the application.
SUBCOMMANDS = ("detect", "score", "select", "sample", "plugins")


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
    except (GmmDesktopError, ValueError, OSError, KeyError) as exc:
        progress.close()
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"{PROG}: error: {_one_line(message)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        progress.close()
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
