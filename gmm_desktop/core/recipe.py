"""Reproducing a run: a Python script and the equivalent command line.

A run is reproduced from what it recorded: the configuration its model was fitted with
(``bundle.config``), the rows left out of that fit, the accepted refit (strategy,
parameters, and the threshold it ran with), the labels and the current threshold. Both
outputs drive the same core, so they give the same model and the same flagged rows.
"""

from __future__ import annotations

import pprint
import shlex
from dataclasses import dataclass
from typing import Any

from gmm_desktop.core.config import RunConfig
from gmm_desktop.core.records import Labels, RefitRecord
from gmm_desktop.data import ReadOptions

__all__ = ["Recipe", "cli_command", "read_arguments", "script_text"]

#: The command-line option of each reading option.
READ_FLAGS = {
    "delimiter": "--delimiter", "decimal": "--decimal", "skip_rows": "--skip-rows",
    "comment": "--comment", "missing_values": "--missing-values", "encoding": "--encoding",
    "text_columns": "--text-columns",
}
_DELIMITER_WORDS = {"\t": "tab", " ": "whitespace"}


def read_arguments(read: ReadOptions) -> list[str]:
    """The command-line options that give ``read`` (nothing for what is detected).

    Values are written ``--option=value`` so that markers such as ``-`` or ``--`` stay
    values; list options repeat the flag once per value.
    """
    args: list[str] = []
    for name, value in read.changed().items():
        if name == "header":
            args.append("--header" if value else "--no-header")
        elif name in ("missing_values", "text_columns"):
            args += [f"{READ_FLAGS[name]}={v}" for v in value]
        elif name == "delimiter":
            args.append(f"--delimiter={_DELIMITER_WORDS.get(value, value)}")
        else:
            args.append(f"{READ_FLAGS[name]}={value}")
    return args

_GATE_FLAGS = {"contamination": "--contamination", "log_density": "--threshold",
               "sigma": "--sigma", "chi2": "--chi2"}


@dataclass(frozen=True)
class Recipe:
    """What a run did, enough to repeat it without the window."""

    data_path: str
    fit_config: RunConfig  # the configuration the model was fitted with
    fit_excluded: tuple[Any, ...]  # row identities left out of that fit
    labels: Labels  # the labels when the flags were drawn
    refit: RefitRecord | None
    threshold: dict[str, Any]  # the analyst's current threshold (ThresholdSpec.to_dict)
    pinned: bool  # the flags follow the refit's own rule (threshold unchanged since)

    @property
    def threshold_after_refit(self) -> bool:
        return self.refit is not None and not self.pinned


def _value(v: Any) -> str:
    return repr(v) if isinstance(v, float) else str(v)


def cli_command(r: Recipe, output: str = "flagged.csv",
                labels_file: str | None = None) -> tuple[str, list[str]]:
    """The equivalent ``gmm-desktop detect`` command line, and what it cannot express."""
    c = r.fit_config
    args = ["gmm-desktop", "detect", r.data_path]
    if c.sheet is not None:
        args.append(f"--sheet={c.sheet}")  # "=": a sheet named "-1" stays a value
    args += read_arguments(c.read)
    if c.id_column:
        args += ["--id-column", c.id_column]
    if c.columns:
        args += ["--columns", *c.columns]
    ks = c.component_candidates
    k_text = str(ks[0]) if len(ks) == 1 else (
        f"{ks[0]}-{ks[-1]}" if list(ks) == list(range(ks[0], ks[-1] + 1))
        else ",".join(map(str, ks)))
    args += ["--components", k_text, "--covariance-type", ",".join(c.covariance_types)]
    if c.criterion != "bic":
        args += ["--criterion", c.criterion]
    args += ["--method", c.method]  # the default route is robust; plain EM by name
    if c.trim is not None:
        args += ["--trim", repr(c.trim)]
    spec = r.refit.spec.to_dict() if (r.refit is not None and r.refit.spec) else r.threshold
    args.append(f"{_GATE_FLAGS[spec['kind']]}={spec['value']!r}")
    if spec.get("small_component_share") is not None:
        args.append(f"--small-component={spec['small_component_share']!r}")
    if r.refit is not None:
        args += ["--refit", r.refit.strategy]
        for k, v in r.refit.params:
            args += ["--refit-param", f"{k}={_value(v)}"]
    args += ["--scaling", c.scaling, "--missing", c.missing, "--init-params", c.init_params,
             "--n-init", str(c.n_init), "--max-iter", str(c.max_iter), "--tol", repr(c.tol),
             "--reg-covar", repr(c.reg_covar)]
    if c.random_state is not None:
        args += ["--seed", str(c.random_state)]
    gaps = []
    if labels_file is not None:
        args += ["--labels", labels_file]
    elif r.fit_excluded or not r.labels.empty:
        gaps.append("manual labels (pass them with --labels FILE.json)")
    if r.fit_excluded and set(r.fit_excluded) != set(r.labels.fit_excluded.tolist()):
        gaps.append("the labels changed after the fit (the command line labels the rows "
                    "before fitting)")
    if c.random_state is None:
        gaps.append("a random seed (the fit was not seeded)")
    if r.threshold_after_refit:
        gaps.append("a threshold changed after the refit")
    args += ["--output", output]
    return shlex.join(args), gaps


def script_text(r: Recipe, output: str = "flagged.csv") -> str:
    """A short Python script that repeats the model and the flags with the public API."""
    c = r.fit_config
    lines = [
        '"""Reproduce a gmm-desktop detection (written by File > Export as script)."""',
        "",
        "from gmm_desktop.core import Detector, Labels, RunConfig",
        "from gmm_desktop.engine.anomaly import ThresholdSpec",
        "",
        f"DATA = {r.data_path!r}",
        f"OUTPUT = {output!r}",
        "",
        "config = RunConfig.from_dict(",
        *("    " + line for line in pprint.pformat(c.to_dict(), sort_dicts=False,
                                                  width=88).splitlines()),
        ")",
        "det = Detector(config)",
        "det.load(DATA)",
    ]
    if r.fit_excluded:
        lines += [
            "# the rows left out of the fit (marked outlier or excluded at the time)",
            f"det.set_labels(Labels(excluded={list(r.fit_excluded)!r}))",
        ]
    lines.append("det.fit()")
    lines.append(f"det.set_labels(Labels.from_dict({r.labels.to_dict()!r}))")
    spec = r.refit.spec.to_dict() if (r.refit is not None and r.refit.spec) else r.threshold
    lines.append(f"det.set_threshold(ThresholdSpec.from_dict({spec!r}))")
    if r.refit is not None:
        lines.append(f"det.detect(refit=True)  # runs and accepts the refit {r.refit.strategy!r}")
        if r.threshold_after_refit:
            lines += [
                "# the threshold the analyst set after accepting the refit",
                f"det.set_threshold(ThresholdSpec.from_dict({r.threshold!r}))",
            ]
    else:
        lines.append("det.detect(refit=None)")
    lines += [
        "det.export(OUTPUT, only_flagged=True)",
        "d = det.detection",
        'print(f"flagged {d.n_flagged} of {d.n_rows} rows; wrote {OUTPUT}")',
        "",
    ]
    return "\n".join(lines)
