"""Feed hundreds of bad inputs to the command line, the Python API and the window, and
count what happens: a clear error, a traceback, a hang, or data lost.

Command line (one subprocess per input, ``python -m gmm_desktop ...``): bad data files for
``detect``/``score``/``select``, bad options, bad model files for ``score``/``sample``.
A *clear error* is exit status 2 with exactly one ``gmm-desktop:`` line on stderr (at most
2,000 characters) and no traceback. Python API (a worker process, restarted after a hang):
bad arguments to ``load_table``, ``prepare_features``, ``GaussianMixture``, ``load_model``,
``write_table_atomic``, ``score_rows``...; a clear error is one of the documented
exception types (the project's own errors, ``ValueError``, ``TypeError``, ``OSError`` for
file operations) with a message of at most 2,000 characters. The window (one offscreen
process, see :data:`WINDOW_WORKER`): every bad data file through File ▸ Open and every bad
model file through File ▸ Load model, after a good file was opened and fitted; a clear
error is the error dialog with a bounded message, and *data lost* there also means the
window lost the dataset or the model it had.

*Data lost*: a file given as input (data, model) changed or disappeared. *Hang*: no
answer within ``--timeout`` seconds. Some inputs are valid but unusual (UTF-16 without a
byte-order mark, CR-only line endings, 20-digit IDs): they must succeed, and a refusal
is counted as *valid input refused*.

Run by hand (takes several minutes)::

    .venv/bin/python benchmarks/bad_inputs.py            # the table, then every problem
    .venv/bin/python benchmarks/bad_inputs.py --only api --verbose
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MESSAGE_LIMIT = 2_000


@dataclass
class Case:
    name: str
    kind: str  # "cli", "api" or "window"
    argv: list[str] = field(default_factory=list)
    code: str = ""
    inputs: list[str] = field(default_factory=list)
    valid: bool = False  # a valid (if unusual) input: it must succeed


@dataclass
class Outcome:
    case: Case
    verdict: str  # ok, clear, unclear, traceback, hang, refused
    detail: str = ""
    lost: list[str] = field(default_factory=list)
    seconds: float = 0.0


# --------------------------------------------------------------------------- input files


def _write(folder: Path, name: str, content: bytes | str) -> Path:
    path = folder / name
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def make_data_files(folder: Path) -> dict[str, Path]:
    """Bad (and a few valid but unusual) data files, by name."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    good = pd.DataFrame({
        "id": [f"r{i}" for i in range(300)],
        "x": np.r_[rng.normal(0, 1, 150), rng.normal(5, 1, 150)],
        "y": np.r_[rng.normal(0, 1, 150), rng.normal(3, 0.5, 150)],
    })
    body = good.to_csv(index=False)
    files: dict[str, Path] = {}

    def add(name: str, content: bytes | str) -> None:
        files[name] = _write(folder, name, content)

    add("empty.csv", b"")
    add("blank_lines.csv", "\n\n  \n\t\n")
    add("header_only.csv", "x,y\n")
    add("one_row.csv", "x,y\n1,2\n")
    add("two_rows.csv", "x,y\n1,2\n3,4\n")
    add("text_only.csv", "a,b\nfoo,bar\nbaz,qux\n")
    add("ragged.csv", "x,y\n1,2\n3,4,5\n6,7\n")
    add("short_row.csv", "x,y,z\n1,2,3\n4,5\n6,7,8\n")
    add("unbalanced_quote.csv", 'x,y\n1,"2\n3,4\n5,6\n')
    add("nul_bytes.csv", b"x,y\n1,2\x00\x00\n3,4\n")
    add("random_bytes.csv", bytes(rng.integers(0, 256, 4096, dtype=np.uint8)))
    add("high_bytes.csv", bytes(rng.integers(128, 256, 8192, dtype=np.uint8)) + b"\n")
    add("zip_as.csv", b"PK\x03\x04" + bytes(200))
    add("gzip_as.csv", b"\x1f\x8b\x08" + bytes(200))
    add("pdf_as.csv", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")
    add("parquet_magic.csv", b"PAR1" + bytes(100) + b"PAR1")
    add("npy_as.csv", b"\x93NUMPY\x01\x00" + bytes(100))
    add("xls_magic.csv", b"\xd0\xcf\x11\xe0" + bytes(100))
    add("huge_field.csv", "x,y\n" + "\n".join(f"{i}.5,{i}" for i in range(40)) + "\n"
        + "z" * 1_000_000 + ",1\n")
    add("huge_header.csv", "h" * 1_000_000 + ",y\n1,2\n3,4\n")
    add("long_line.csv", "x,y\n" + ",".join(["1"] * 200_000) + "\n1,2\n")
    add("nan_column.csv", "x,y\n" + "\n".join(f"NaN,{i}" for i in range(30)) + "\n")
    add("inf_values.csv", "x,y\n" + "\n".join(f"{'inf' if i % 3 else i},{i}" for i in range(30))
        + "\n")
    add("all_missing.csv", "x,y\n" + "NA,NA\n" * 30)
    add("constant.csv", "x,y\n" + "5,5\n" * 50)
    add("duplicated_rows.csv", "x,y\n" + "1,2\n3,4\n" * 50)
    add("tiny_values.csv", "x,y\n" + "\n".join(f"{v:.3e},{w:.3e}" for v, w in
                                               rng.normal(0, 1e-200, (50, 2))) + "\n")
    add("huge_values.csv", "x,y\n" + "\n".join(f"{v:.3e},{w:.3e}" for v, w in
                                               rng.normal(0, 1e300, (50, 2))) + "\n")
    add("mostly_numeric.csv", "x,y\n" + "\n".join(f"{i},{i % 7}" for i in range(40))
        + "\noops,1\n")
    add("thousands.csv", 'x,y\n"1,234",5\n' + "\n".join(f"{i},{i}" for i in range(30)) + "\n")
    add("semicolon_decimal_comma.csv", "x;y\n" + "\n".join(f"{i},5;{i * 2},25" for i in
                                                          range(30)) + "\n")
    add("whitespace.txt", "x y\n" + "\n".join(f"{i} {i * i}" for i in range(30)) + "\n")
    add("latin1.csv", "name,x\n" + "\n".join(f"caf\xe9{i},{i}" for i in range(30)),)
    files["latin1.csv"].write_bytes(files["latin1.csv"].read_text("utf-8").encode("latin-1"))
    add("deep_brackets.csv", "x,t\n" + "\n".join(f'{i},"{"[" * 5000}"' for i in range(30))
        + "\n")
    add("formula_cells.csv", "id,x,y\n" + "\n".join(f'"=HYPERLINK(""x"",{i})",{i},{i % 5}'
                                                    for i in range(30)) + "\n")
    add("dup_ids.csv", "id,x,y\n" + "\n".join(f"a,{i},{i}" for i in range(30)) + "\n")
    add("missing_ids.csv", "id,x,y\n" + "\n".join(f"{'' if i == 4 else i},{i},{i}"
                                                  for i in range(30)) + "\n")
    add("many_columns.csv", pd.DataFrame(np.round(rng.normal(size=(100, 2000)), 2),
                                         columns=[f"c{j}" for j in range(2000)]).to_csv(
                                             index=False))
    add("bom_only.csv", b"\xef\xbb\xbf")
    add("control_chars.csv", "x,y\n" + "\n".join(f"{i}\x07,{i}" for i in range(30)) + "\n")
    # Valid but unusual: these must load.
    add("cr_only.csv", body.replace("\n", "\r"))
    add("utf16_no_bom.csv", body.encode("utf-16-le"))
    add("utf16_bom.csv", body.encode("utf-16"))
    add("ids20.csv", "id,x,y\n" + "\n".join(f"{50_000_000_000_000_000_000 + i},{x},{y}"
                                            for i, (x, y) in enumerate(good[["x", "y"]].values))
        + "\n")
    add("good.csv", body)
    # Other formats.
    add("truncated.parquet", b"PAR1" + bytes(50))
    good.to_parquet(folder / "good.parquet")
    files["good.parquet"] = folder / "good.parquet"
    add("cut.parquet", (folder / "good.parquet").read_bytes()[:300])
    pd.DataFrame({"t": ["a", "b"]}).to_parquet(folder / "text.parquet")
    files["text.parquet"] = folder / "text.parquet"
    add("damaged.xlsx", b"PK\x03\x04" + bytes(300))
    with pd.ExcelWriter(folder / "two_sheets.xlsx") as writer:
        good.to_excel(writer, sheet_name="A", index=False)
        good.to_excel(writer, sheet_name="B", index=False)
    files["two_sheets.xlsx"] = folder / "two_sheets.xlsx"
    np.save(folder / "objects.npy", np.array([{"a": 1}, None], dtype=object))
    files["objects.npy"] = folder / "objects.npy"
    np.save(folder / "cube.npy", np.zeros((3, 3, 3)))
    files["cube.npy"] = folder / "cube.npy"
    np.save(folder / "complex.npy", np.zeros((5, 2), dtype=complex))
    files["complex.npy"] = folder / "complex.npy"
    np.savez(folder / "empty.npz")
    files["empty.npz"] = folder / "empty.npz"
    np.savez(folder / "objects.npz", a=np.array([None, 1], dtype=object))
    files["objects.npz"] = folder / "objects.npz"
    add("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500))
    add("unknown.xyz", bytes(range(256)))
    (folder / "a_folder.csv").mkdir()
    files["a_folder.csv"] = folder / "a_folder.csv"
    os.symlink(folder / "loop_b.csv", folder / "loop_a.csv")
    os.symlink(folder / "loop_a.csv", folder / "loop_b.csv")
    files["symlink_loop.csv"] = folder / "loop_a.csv"
    fifo = folder / "fifo.csv"
    os.mkfifo(fifo)
    files["fifo.csv"] = fifo
    files["dev_zero.csv"] = Path("/dev/zero")
    files["missing.csv"] = folder / "does_not_exist.csv"
    return files


VALID_FILES = {"cr_only.csv", "utf16_no_bom.csv", "utf16_bom.csv", "ids20.csv", "good.csv",
               "good.parquet", "latin1.csv", "semicolon_decimal_comma.csv", "whitespace.txt",
               "formula_cells.csv", "constant.csv", "duplicated_rows.csv", "deep_brackets.csv"}


def make_model_files(folder: Path, good_model: Path) -> dict[str, Path]:
    """Bad model files derived from a valid one."""
    import copy

    doc = json.loads(good_model.read_text())
    files: dict[str, Path] = {}

    def add(name: str, content: Any) -> None:
        text = content if isinstance(content, (str, bytes)) else json.dumps(content)
        files[name] = _write(folder, f"model_{name}.json", text)

    def edited(name: str, edit) -> None:
        d = copy.deepcopy(doc)
        edit(d)
        add(name, d)

    add("empty", b"")
    add("binary", bytes(range(256)) * 4)
    add("truncated", good_model.read_text()[:200])
    add("not_json", "hello")
    add("list", [1, 2, 3])
    add("deep", '{"a": ' + "[" * 5000 + "]" * 5000 + "}")
    add("deep_objects", '{"a": ' + '{"b": ' * 5000 + "1" + "}" * 5000 + "}")
    add("nan", good_model.read_text().replace('"weights": [', '"weights": [NaN, ', 1))
    add("utf16", good_model.read_text().encode("utf-16"))
    edited("format", lambda d: d.update(format="other"))
    edited("newer", lambda d: d.update(format_version=99))
    edited("version_str", lambda d: d.update(format_version="1"))
    edited("cov_type_dict", lambda d: d["params"].update(covariance_type={"a": 1}))
    edited("cov_type_list", lambda d: d["params"].update(covariance_type=["full"]))
    edited("cov_type_unknown", lambda d: d["params"].update(covariance_type="mystery"))
    edited("n_components_str", lambda d: d["params"].update(n_components="2"))
    edited("n_components_huge", lambda d: d["params"].update(n_components=10**12))
    edited("tol_str", lambda d: d["params"].update(tol="abc"))
    edited("params_list", lambda d: d.update(params=[1]))
    edited("params_missing", lambda d: d.pop("params"))
    edited("weights_sum", lambda d: d.update(weights=[0.9] * len(d["weights"])))
    edited("weights_negative", lambda d: d["weights"].__setitem__(0, -1.0))
    edited("weights_text", lambda d: d["weights"].__setitem__(0, "0.5"))
    edited("means_shape", lambda d: d.update(means=[[0.0]]))
    edited("means_null", lambda d: d["means"][0].__setitem__(0, None))
    edited("means_huge_literal", lambda d: None)
    files["means_huge_literal"].write_text(
        files["means_huge_literal"].read_text().replace('"means": [[', '"means": [[1e999, ', 1))
    edited("cov_asymmetric", lambda d: d["covariances"][0][0].__setitem__(1, 0.3))
    edited("cov_not_pd", lambda d: d["covariances"][0][0].__setitem__(0, -5.0))
    edited("cov_string", lambda d: d.update(covariances="x" * 100_000))
    edited("cov_shape", lambda d: d.update(covariances=[[1.0]]))
    edited("n_features_huge", lambda d: d.update(n_features_in=10**6))
    edited("extra_list", lambda d: d.update(extra=[1]))
    edited("app_missing", lambda d: d["extra"].pop("gmm_desktop", None))
    edited("app_str", lambda d: d["extra"].update(gmm_desktop="abc"))
    edited("schema_newer", lambda d: d["extra"]["gmm_desktop"].update(schema=99))
    edited("schema_str", lambda d: d["extra"]["gmm_desktop"].update(schema="2"))
    edited("config_str", lambda d: d["extra"]["gmm_desktop"].update(config="abc"))
    edited("config_list", lambda d: d["extra"]["gmm_desktop"].update(config=[1, 2]))
    edited("config_bad_n_init", lambda d: d["extra"]["gmm_desktop"]["config"].update(n_init="x"))
    edited("config_bad_method", lambda d: d["extra"]["gmm_desktop"]["config"].update(method=7))
    edited("config_threshold_bad",
           lambda d: d["extra"]["gmm_desktop"]["config"].update(threshold={"kind": "q"}))
    edited("features_str", lambda d: d["extra"]["gmm_desktop"].update(features="x"))
    edited("columns_str", lambda d: d["extra"]["gmm_desktop"]["features"].update(columns="x"))
    edited("columns_short", lambda d: d["extra"]["gmm_desktop"]["features"].update(columns=["x"]))
    edited("columns_unknown", lambda d: d["extra"]["gmm_desktop"]["features"].update(
        columns=["nope"] * len(d["means"][0])))
    edited("columns_duplicate", lambda d: d["extra"]["gmm_desktop"]["features"].update(
        columns=["a"] * len(d["means"][0])))
    edited("scaler_str", lambda d: d["extra"]["gmm_desktop"]["features"].update(scaler="abc"))
    edited("scaler_bad", lambda d: d["extra"]["gmm_desktop"]["features"]["scaler"].update(
        method="zzz"))
    edited("scaler_zero", lambda d: d["extra"]["gmm_desktop"]["features"]["scaler"].update(
        scale=[0.0] * len(d["means"][0])))
    edited("scaler_short", lambda d: d["extra"]["gmm_desktop"]["features"]["scaler"].update(
        center=[0.0]))
    edited("missing_bad", lambda d: d["extra"]["gmm_desktop"]["features"].update(missing="zzz"))
    edited("threshold_str", lambda d: d["extra"]["gmm_desktop"].update(threshold="abc"))
    edited("threshold_bad_kind", lambda d: d["extra"]["gmm_desktop"]["threshold"]["spec"].update(
        kind="nope"))
    edited("threshold_bad_value", lambda d: d["extra"]["gmm_desktop"]["threshold"]["spec"].update(
        value=5.0))
    edited("threshold_cutoff_str", lambda d: d["extra"]["gmm_desktop"]["threshold"].update(
        log_density_cutoff="low"))
    edited("medians_str", lambda d: d["extra"]["gmm_desktop"]["features"].update(medians="abc"))
    edited("medians_text_values", lambda d: d["extra"]["gmm_desktop"]["features"].update(
        medians={"x": "a"}))
    edited("source_deep", lambda d: d["extra"]["gmm_desktop"].update(source=[[[[[[[[[[[[[[[[[[[1]]]
                                                                                         ]]]]]]
                                                                                   ]]]]]]]]]]))
    edited("source_str", lambda d: d["extra"]["gmm_desktop"].update(source="abc"))
    edited("refit_str", lambda d: d["extra"]["gmm_desktop"].update(refit="abc"))
    edited("fit_excluded_str", lambda d: d["extra"]["gmm_desktop"].update(fit_excluded="abc"))
    # the 0.1 dialects still load (migration); broken ones are refused clearly
    edited("legacy_anomaly_broken", lambda d: d.update(extra={"anomaly": {"config": "abc"}}))
    edited("legacy_window_broken", lambda d: d.update(extra={"columns": 5, "scaler": "x"}))
    add("big_format", {**doc, "format": "F" * 1_000_000})
    return files


# --------------------------------------------------------------------------- cases


def cli_cases(data: dict[str, Path], models: dict[str, Path], good_model: Path,
              folder: Path) -> list[Case]:
    cases: list[Case] = []
    out = str(folder / "out")
    good = str(data["good.csv"])

    def cli(name: str, argv: list[str], inputs: list[Path | str] = (), valid: bool = False):
        cases.append(Case(name, "cli", argv=[str(a) for a in argv],
                          inputs=[str(p) for p in inputs], valid=valid))

    for name, path in data.items():
        valid = name in VALID_FILES
        protect = [path] if path.is_file() and not name.startswith(("fifo", "dev_")) else []
        cli(f"detect {name}", ["detect", path, "--components", "1-2", "--output",
                               f"{out}_{name}.csv"], protect, valid)
        cli(f"score {name}", ["score", path, "--model", good_model], [*protect, good_model],
            valid and name in {"good.csv", "good.parquet", "cr_only.csv", "utf16_no_bom.csv",
                               "utf16_bom.csv"})
        cli(f"select {name}", ["select", path, "--components", "1-2"], protect, valid)
    cli("detect ids20 --id-column", ["detect", data["ids20.csv"], "--id-column", "id",
                                     "--output", f"{out}_ids.xlsx"], [data["ids20.csv"]], True)
    # the robust default refuses more features than rows (and says to use plain diag EM)
    cli("detect wide diag", ["detect", data["many_columns.csv"], "--method", "plain",
                             "--covariance-type", "diag"],
        [data["many_columns.csv"]], True)
    cli("detect wide full", ["detect", data["many_columns.csv"]], [data["many_columns.csv"]])
    cli("detect two sheets no --sheet", ["detect", data["two_sheets.xlsx"]],
        [data["two_sheets.xlsx"]])
    cli("detect two sheets --sheet 7", ["detect", data["two_sheets.xlsx"], "--sheet", "7"],
        [data["two_sheets.xlsx"]])
    cli("detect two sheets --sheet long", ["detect", data["two_sheets.xlsx"], "--sheet",
                                           "s" * 5000], [data["two_sheets.xlsx"]])

    options = [
        ["--components", "0"], ["--components", "-1"], ["--components", "abc"],
        ["--components", "3-1"], ["--components", "1-"], ["--components", "1,,2"],
        ["--components", "400"], ["--components", "1-100000000"], ["--components", "1e3"],
        ["--covariance-type", "bogus"], ["--covariance-type", ""], ["--covariance-type", ",,"],
        ["--covariance-type", "x" * 10_000],
        ["--contamination", "2"], ["--contamination", "-0.1"], ["--contamination", "nan"],
        ["--contamination", "inf"], ["--contamination", "abc"], ["--contamination", "1"],
        ["--threshold", "nan"], ["--threshold", "-inf"], ["--sigma", "-1"], ["--sigma", "0"],
        ["--chi2", "1.5"], ["--chi2", "0"], ["--small-component", "2"],
        ["--small-component", "-1"], ["--contamination", "0.1", "--sigma", "2"],
        ["--columns", "nope"], ["--columns", "id"], ["--columns", "x", "x"],
        ["--columns", ","], ["--columns", "n" * 100_000], ["--id-column", "nope"],
        ["--id-column", "x"], ["--id-column", ""], ["--sheet", "A"],
        ["--refit", "bogus"], ["--refit", "trim-and-refit", "--refit-param", "nope=1"],
        ["--refit", "trim-and-refit", "--refit-param", "novalue"],
        ["--refit", "iterative-trimming", "--refit-param", "alpha=abc"],
        ["--refit", "iterative-trimming", "--refit-param", "alpha=5"],
        ["--refit-param", "a=1"], ["--missing", "bogus"], ["--scaling", "bogus"],
        ["--n-init", "0"], ["--n-init", "-3"], ["--n-init", "abc"], ["--seed", "-1"],
        ["--seed", "99999999999999999999"], ["--seed", "abc"],
        ["--output", str(folder / "x.json")], ["--output", str(folder / "x")],
        ["--output", str(folder / "nodir" / "x.csv")], ["--output", str(folder)],
        ["--output", str(folder / "x.xls")], ["--model-out", str(folder / "nodir" / "m.json")],
        ["--model-out", str(folder)], ["--all-rows", "--output", str(folder / "y.tsv")],
        ["--unknown-option"], ["--scheduler", "nowhere:1"], ["--progress"],
    ]
    for opts in options:
        shown = " ".join(o if len(o) < 40 else o[:20] + "…" for o in opts)
        valid = opts in (["--progress"], ["--all-rows", "--output", str(folder / "y.tsv")],
                         ["--components", "1,,2"])
        cli(f"detect good.csv {shown}", ["detect", good, *opts], [good], valid)
    # Outputs that are the inputs (data loss if overwritten).
    for flag in ("--output", "--model-out"):
        copy_path = folder / f"victim_{flag[2:]}.csv"
        copy_path.write_bytes(data["good.csv"].read_bytes())
        cli(f"detect {flag} = the input file", ["detect", copy_path, flag, copy_path],
            [copy_path])
    victim = folder / "victim_model.json"
    victim.write_bytes(good_model.read_bytes())
    cli("score --output = the model", ["score", good, "--model", victim, "--output", victim],
        [victim, good])
    cli("sample --output = the model", ["sample", "--model", victim, "-n", "5", "--output",
                                        victim], [victim])

    for name, path in models.items():
        cli(f"score --model {name}", ["score", good, "--model", path], [path, good])
        cli(f"sample --model {name}", ["sample", "--model", path, "-n", "10", "--output",
                                       f"{out}_sample_{name}.csv"], [path])
    for n in ["0", "-5", "abc", "1.5", "10000000000", "99999999999999999999999"]:
        cli(f"sample -n {n}", ["sample", "--model", good_model, "-n", n, "--output",
                               f"{out}_s.csv"], [good_model])
    for opts in (["--seed", "-1"], ["--seed", "abc"], ["--output", str(folder / "s.json")],
                 ["--output", str(folder / "nodir" / "s.csv")]):
        cli(f"sample {' '.join(opts)}", ["sample", "--model", good_model, "-n", "5",
                                         "--output", f"{out}_s2.csv", *opts], [good_model])
    cli("sample no --output", ["sample", "--model", good_model, "-n", "5"], [good_model])
    cli("sample missing model", ["sample", "--model", folder / "nope.json", "-n", "5",
                                 "--output", f"{out}_s3.csv"])
    cli("score missing model", ["score", good, "--model", folder / "nope.json"], [good])
    cli("score model is a folder", ["score", good, "--model", folder], [good])
    cli("score model is the data", ["score", good, "--model", good], [good])
    cli("select --components 0", ["select", good, "--components", "0"], [good])
    cli("select --covariance-type bogus", ["select", good, "--covariance-type", "bogus"], [good])
    cli("select --criterion bogus", ["select", good, "--criterion", "bogus"], [good])
    cli("select all types", ["select", good, "--components", "1-3", "--covariance-type", "all"],
        [good], True)
    for argv in (["bogus"], ["detect"], ["score", good], ["sample"], [], ["--demo", "nope"],
                 ["plugins", "extra"], ["detect", "--help"]):
        cli(f"argv {' '.join(argv) or '(nothing)'}", argv, [], argv == ["detect", "--help"])
    return [c for c in cases if c.argv != []]  # (no arguments opens the window)


API_SETUP = """
import numpy as np, pandas as pd, json, math
from pathlib import Path
from gmm_desktop.data import load_table, prepare_features, write_table_atomic, Scaler
from gmm_desktop.data.writing import verify_sidecar
from gmm_desktop.engine import GaussianMixture, load_model, model_from_dict, save_model
from gmm_desktop.engine import select_models
from gmm_desktop.engine.anomaly import ThresholdSpec, score_rows, detect, run_refit, fit_threshold
from gmm_desktop.registry import get_registry
GOOD = Path({good!r}); MODEL = Path({model!r}); FOLDER = Path({folder!r})
X = np.random.RandomState(0).randn(100, 2)
FITTED = GaussianMixture(2, random_state=0).fit(X)
DS = load_table(GOOD, id_column="id")
FRAME = pd.DataFrame({{"a": [1.0, 2.0], "b": ["x", "=y"]}})
"""

API_CASES: list[tuple[str, str, bool]] = [
    # load_table
    ("load_table(None)", "load_table(None)", False),
    ("load_table(123)", "load_table(123)", False),
    ("load_table([path])", "load_table([GOOD])", False),
    ("load_table('')", "load_table('')", False),
    ("load_table(sheet=dict)", "load_table(GOOD, sheet={'a': 1})", False),
    ("load_table(id_column=5)", "load_table(GOOD, id_column=5)", False),
    ("load_table(id_column=list)", "load_table(GOOD, id_column=['id'])", False),
    ("load_table(delimiter='')", "load_table(GOOD, delimiter='')", False),
    ("load_table(delimiter='ab')", "load_table(GOOD, delimiter='ab')", False),
    ("load_table(delimiter=5)", "load_table(GOOD, delimiter=5)", False),
    ("load_table(decimal='x')", "load_table(GOOD, decimal='x')", False),
    ("load_table(decimal=5)", "load_table(GOOD, decimal=5)", False),
    ("load_table(missing_values=5)", "load_table(GOOD, missing_values=5)", False),
    ("load_table(text_columns=5)", "load_table(GOOD, text_columns=5)", False),
    ("load_table(text_columns=[None])", "load_table(GOOD, text_columns=[None])", False),
    ("load_table(header='x')", "load_table(GOOD, header='x')", False),
    ("load_table(progress=5)", "load_table(GOOD, progress=5)", False),
    ("load_table(directory)", "load_table(FOLDER)", False),
    # prepare_features
    ("prepare(columns=5)", "prepare_features(DS, 5)", False),
    ("prepare(columns=[5])", "prepare_features(DS, [5])", False),
    ("prepare(columns=[])", "prepare_features(DS, [])", False),
    ("prepare(columns=dup)", "prepare_features(DS, ['x', 'x'])", False),
    ("prepare(columns=id)", "prepare_features(DS, ['id'])", False),
    ("prepare(missing=bogus)", "prepare_features(DS, missing='bogus')", False),
    ("prepare(missing=None)", "prepare_features(DS, missing=None)", False),
    ("prepare(scaling=bogus)", "prepare_features(DS, scaling='bogus')", False),
    ("prepare(scaling=[])", "prepare_features(DS, scaling=[])", False),
    ("prepare(medians=str)", "prepare_features(DS, missing='median', medians='abc')", False),
    ("prepare(medians text)", "prepare_features(DS, missing='median', medians={'x': 'a'})",
     False),
    ("prepare(dataset=None)", "prepare_features(None)", False),
    ("prepare(dataset=frame)", "prepare_features(FRAME)", False),
    # GaussianMixture data
    ("fit(None)", "GaussianMixture().fit(None)", False),
    ("fit('abc')", "GaussianMixture().fit('abc')", False),
    ("fit(text cells)", "GaussianMixture().fit([[1, 'a'], [2, 'b']])", False),
    ("fit([[]])", "GaussianMixture().fit([[]])", False),
    ("fit([])", "GaussianMixture().fit([])", False),
    ("fit(0 rows)", "GaussianMixture().fit(np.zeros((0, 2)))", False),
    ("fit(1-D)", "GaussianMixture().fit(np.zeros(5))", False),
    ("fit(3-D)", "GaussianMixture().fit(np.zeros((5, 2, 2)))", False),
    ("fit(complex)", "GaussianMixture().fit(np.zeros((5, 2), complex))", False),
    ("fit(dicts)", "GaussianMixture().fit(np.array([[{}], [{}]], dtype=object))", False),
    ("fit(inf)", "GaussianMixture().fit([[1e400, 1], [1, 2], [3, 4]])", False),
    ("fit(NaN)", "GaussianMixture().fit([[np.nan, 1], [1, 2], [3, 4]])", False),
    ("fit(huge int)", "GaussianMixture().fit([[10**400, 1], [1, 2], [3, 4]])", False),
    ("fit(1e300)", "GaussianMixture(2).fit(X * 1e300)", False),
    ("fit(1e-300)", "GaussianMixture(2).fit(X * 1e-300)", False),
    ("fit(one row)", "GaussianMixture().fit([[1, 2]])", False),
    ("fit(K > rows)", "GaussianMixture(500).fit(X)", False),
    ("fit(K > distinct rows)", "GaussianMixture(5).fit(np.repeat(X[:3], 20, axis=0))", True),
    ("fit(constant)", "GaussianMixture(2).fit(np.ones((50, 2)))", True),
    ("fit(wide full)", "GaussianMixture().fit(np.random.randn(50, 5000))", False),
    ("fit(wide diag)", "GaussianMixture(covariance_type='diag').fit(np.random.randn(50, 5000))",
     True),
    ("fit(bool)", "GaussianMixture().fit(np.random.rand(50, 2) > 0.5)", True),
    ("fit(DataFrame text)", "GaussianMixture().fit(pd.DataFrame({'a': ['x', 'y']}))", False),
    ("fit(sparse)", "import scipy.sparse as sp; GaussianMixture().fit(sp.eye(5))", False),
    # GaussianMixture parameters
    *[(f"GaussianMixture({p})", f"GaussianMixture({p}).fit(X)", False) for p in [
        "n_components=0", "n_components=-1", "n_components='3'", "n_components=2.5",
        "n_components=None", "n_components=10**9", "covariance_type='bogus'",
        "covariance_type=None", "covariance_type=5", "covariance_type=['full']", "tol=-1",
        "tol='a'", "tol=float('nan')", "reg_covar=-1", "reg_covar=float('inf')", "max_iter=-1",
        "max_iter=1.5", "n_init=0", "init_params='bogus'", "init_params=None",
        "init_params=['kmeans']", "weights_init=[1.0]", "weights_init=[0.7, 0.7]",
        "n_components=2, weights_init='ab'", "n_components=2, means_init=[[0, 0]]",
        "n_components=2, means_init=[[0, 0], [1, np.nan]]",
        "n_components=2, precisions_init=np.zeros((2, 2, 2))",
        "n_components=2, precisions_init=[[[1, 2], [3, 4]], [[1, 0], [0, 1]]]",
        "random_state='x'", "random_state=-1", "random_state=2**40", "chunk_size=0",
        "chunk_size=-5", "chunk_size='a'", "verbose=-1", "verbose_interval=0",
    ]],
    ("fit(sample_weight negative)", "GaussianMixture().fit(X, sample_weight=-np.ones(100))",
     False),
    ("fit(sample_weight short)", "GaussianMixture().fit(X, sample_weight=np.ones(3))", False),
    ("fit(sample_weight NaN)", "GaussianMixture().fit(X, sample_weight=np.full(100, np.nan))",
     False),
    ("fit(sample_weight text)", "GaussianMixture().fit(X, sample_weight=['a'] * 100)", False),
    ("fit(sample_weight zeros)", "GaussianMixture().fit(X, sample_weight=np.zeros(100))", False),
    # fitted model
    ("predict(wrong width)", "FITTED.predict(np.zeros((3, 5)))", False),
    ("predict(unfitted)", "GaussianMixture().predict(X)", False),
    ("score_samples(NaN)", "FITTED.score_samples([[np.nan, 1]])", False),
    ("sample(0)", "FITTED.sample(0)", False),
    ("sample(-1)", "FITTED.sample(-1)", False),
    ("sample('a')", "FITTED.sample('a')", False),
    ("sample(1.5)", "FITTED.sample(1.5)", False),
    ("bic(wrong width)", "FITTED.bic(np.zeros((3, 5)))", False),
    ("set_params(bogus)", "FITTED.set_params(bogus=1)", False),
    # models on disk
    ("load_model(missing)", "load_model(FOLDER / 'nope.json')", False),
    ("load_model(folder)", "load_model(FOLDER)", False),
    ("load_model(data file)", "load_model(GOOD)", False),
    ("load_model(None)", "load_model(None)", False),
    ("model_from_dict(None)", "model_from_dict(None)", False),
    ("model_from_dict([])", "model_from_dict([])", False),
    ("model_from_dict(str)", "model_from_dict('abc')", False),
    ("model_from_dict(deep)", "d = {}\nfor _ in range(100000): d = {'a': d}\nmodel_from_dict(d)",
     False),
    ("save_model(unfitted)", "save_model(GaussianMixture(), FOLDER / 'u.json')", False),
    ("save_model(no folder)", "save_model(FITTED, FOLDER / 'nodir' / 'm.json')", False),
    ("save_model(extra NaN)", "save_model(FITTED, FOLDER / 'n.json', extra={'a': float('nan')})",
     False),
    ("save_model(extra object)", "save_model(FITTED, FOLDER / 'o.json', extra={'a': object()})",
     False),
    # writing
    ("write(None)", "write_table_atomic(None, FOLDER / 'w.csv')", False),
    ("write(array)", "write_table_atomic(X, FOLDER / 'w.csv')", False),
    ("write(bad extension)", "write_table_atomic(FRAME, FOLDER / 'w.doc')", False),
    ("write(folder)", "write_table_atomic(FRAME, FOLDER)", False),
    ("write(no folder)", "write_table_atomic(FRAME, FOLDER / 'nodir' / 'w.csv')", False),
    ("write(sidecar NaN)", "write_table_atomic(FRAME, FOLDER / 'w.csv', sidecar={'a': math.nan})",
     False),
    ("write(sidecar object)",
     "write_table_atomic(FRAME, FOLDER / 'w.csv', sidecar={'a': object()})", False),
    ("write(sidecar not a dict)", "write_table_atomic(FRAME, FOLDER / 'w.csv', sidecar=[1])",
     False),
    ("write(xlsx long cell)",
     "write_table_atomic(pd.DataFrame({'a': ['x' * 40000]}), FOLDER / 'w.xlsx')", False),
    ("write(xlsx control chars)",
     "write_table_atomic(pd.DataFrame({'a': ['a\\x00b']}), FOLDER / 'w.xlsx')", True),
    ("write(xlsx tz datetimes)",
     "write_table_atomic(pd.DataFrame({'t': pd.date_range('2020', periods=2, tz='UTC')}),"
     " FOLDER / 'w.xlsx')", True),
    ("write(xlsx objects)",
     "write_table_atomic(pd.DataFrame({'o': [{'a': 1}, [1, 2]]}), FOLDER / 'w.xlsx')", True),
    ("write(parquet mixed objects)",
     "write_table_atomic(pd.DataFrame({'o': [1, 'a', {}]}), FOLDER / 'w.parquet')", False),
    ("write(duplicate column names)",
     "write_table_atomic(pd.DataFrame([[1, 2]], columns=['a', 'a']), FOLDER / 'w.parquet')",
     False),
    ("verify_sidecar(folder)", "verify_sidecar(FOLDER)", True),
    ("verify_sidecar(None)", "verify_sidecar(None)", False),
    # scores and thresholds
    ("score_rows(None model)", "score_rows(None, X)", False),
    ("score_rows(unfitted)", "score_rows(GaussianMixture(), X)", False),
    ("score_rows(wrong width)", "score_rows(FITTED, np.zeros((3, 5)))", False),
    ("score_rows(NaN)", "score_rows(FITTED, [[np.nan, 1]])", False),
    ("score_rows(text)", "score_rows(FITTED, [['a', 'b']])", False),
    ("score_rows(1-D)", "score_rows(FITTED, np.zeros(2))", False),
    ("score_rows(empty)", "score_rows(FITTED, np.zeros((0, 2)))", False),
    ("ThresholdSpec(kind)", "ThresholdSpec('bogus', 0.1)", False),
    ("ThresholdSpec(value str)", "ThresholdSpec('contamination', 'a')", False),
    ("ThresholdSpec(nan)", "ThresholdSpec('contamination', float('nan'))", False),
    ("ThresholdSpec(share)", "ThresholdSpec('contamination', 0.1, 2.0)", False),
    ("ThresholdSpec(share str)", "ThresholdSpec('contamination', 0.1, 'a')", False),
    ("ThresholdSpec.from_dict(str)", "ThresholdSpec.from_dict('abc')", False),
    ("detect(threshold None)", "detect(FITTED, X, None)", False),
    ("detect(masks wrong)", "detect(FITTED, X, ThresholdSpec(), exclude=[1, 2])", False),
    ("run_refit(None strategy)", "run_refit(None, FITTED, X, ThresholdSpec())", False),
    ("run_refit(unknown)", "run_refit(get_registry().create('refit', 'bogus'), FITTED, X,"
     " ThresholdSpec())", False),
    ("refit param bad", "get_registry().create('refit', 'iterative-trimming').set_params(a=1)",
     False),
    ("select_models(ks=[0])", "select_models(X, [0], ['full'])", False),
    ("select_models(types bogus)", "select_models(X, [1, 2], ['bogus'])", False),
    ("select_models(ks=str)", "select_models(X, 'ab', ['full'])", False),
    ("Scaler.from_dict(str)", "Scaler.from_dict('abc')", False),
    ("Scaler.from_dict(bad)", "Scaler.from_dict({'method': 'standardize', 'center': 'a'})",
     False),
]

API_WORKER = r"""
import json, sys, traceback, warnings
setup = sys.stdin.readline()
namespace = {}
exec(json.loads(setup), namespace)
from gmm_desktop.errors import GmmDesktopError
DOCUMENTED = (GmmDesktopError, ValueError, TypeError, OSError)
print("READY", flush=True)
for line in sys.stdin:
    code = json.loads(line)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(code, dict(namespace))
        result = {"verdict": "ok", "detail": ""}
    except DOCUMENTED as exc:
        text = str(exc)
        clear = bool(text.strip()) and len(text) <= LIMIT
        result = {"verdict": "clear" if clear else "unclear",
                  "detail": f"{type(exc).__name__}: {text[:300]}"}
    except BaseException as exc:
        frames = traceback.extract_tb(exc.__traceback__)
        where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
        result = {"verdict": "traceback",
                  "detail": f"{type(exc).__name__}: {str(exc)[:200]} (at {where})"}
    print(json.dumps(result), flush=True)
""".replace("LIMIT", str(MESSAGE_LIMIT))


# --------------------------------------------------------------------------- running


def _digest(path: str) -> str | None:
    p = Path(path)
    if not p.exists():
        return None
    if p.is_dir():
        return "dir:" + ",".join(sorted(x.name for x in p.iterdir()))
    return hashlib.sha256(p.read_bytes()).hexdigest()


def run_cli(case: Case, timeout: float, cwd: Path, env: dict[str, str]) -> Outcome:
    before = {p: _digest(p) for p in case.inputs}
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "gmm_desktop", *case.argv], capture_output=True,
            text=True, errors="replace", timeout=timeout, cwd=cwd, env=env,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return Outcome(case, "hang", f"no answer in {timeout:.0f} s",
                       seconds=time.perf_counter() - start)
    seconds = time.perf_counter() - start
    lost = [p for p, d in before.items() if d is not None and _digest(p) != d]
    stderr = done.stderr
    # the error line(s); notes about the data ("gmm-desktop: note: ...") are not errors
    lines = [ln for ln in stderr.splitlines()
             if ln.startswith("gmm-desktop:") and not ln.startswith("gmm-desktop: note:")]
    last = (stderr.strip().splitlines() or [""])[-1][:300]
    if "Traceback (most recent call last)" in stderr or done.returncode not in (0, 2, 130):
        verdict, detail = "traceback", f"exit {done.returncode}: {last}"
    elif done.returncode == 0:
        verdict, detail = "ok", ""
    elif len(lines) == 1 and len(lines[0]) <= MESSAGE_LIMIT:
        verdict, detail = "clear", lines[0][:300]
    else:
        longest = max((len(ln) for ln in stderr.splitlines()), default=0)
        verdict = "unclear"
        detail = f"{len(lines)} error line(s), longest stderr line {longest:,} chars: {last}"
    if case.valid and verdict != "ok":
        verdict = "refused" if verdict in ("clear", "unclear") else verdict
    return Outcome(case, verdict, detail, lost, seconds)


class ApiRunner:
    def __init__(self, setup: str, timeout: float, cwd: Path, env: dict[str, str]):
        self.setup, self.timeout, self.cwd, self.env = setup, timeout, cwd, env
        self.proc: subprocess.Popen | None = None

    def _start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", API_WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True, cwd=self.cwd, env=self.env,
        )
        self.proc.stdin.write(json.dumps(self.setup) + "\n")
        self.proc.stdin.flush()
        ready = self.proc.stdout.readline()
        if not ready.startswith("READY"):
            raise RuntimeError("the API worker did not start")

    def run(self, case: Case) -> Outcome:
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        assert self.proc is not None
        before = {p: _digest(p) for p in case.inputs}
        start = time.perf_counter()
        self.proc.stdin.write(json.dumps(case.code) + "\n")
        self.proc.stdin.flush()
        box: dict[str, str] = {}
        with cf.ThreadPoolExecutor(1) as pool:
            future = pool.submit(self.proc.stdout.readline)
            try:
                box["line"] = future.result(timeout=self.timeout)
            except cf.TimeoutError:
                self.proc.kill()
                self.proc.wait()
                self.proc = None
                return Outcome(case, "hang", f"no answer in {self.timeout:.0f} s",
                               seconds=time.perf_counter() - start)
        seconds = time.perf_counter() - start
        if not box["line"]:
            self.proc = None
            return Outcome(case, "traceback", "the worker process died", seconds=seconds)
        result = json.loads(box["line"])
        lost = [p for p, d in before.items() if d is not None and _digest(p) != d]
        verdict = result["verdict"]
        if case.valid and verdict != "ok":
            verdict = "refused" if verdict in ("clear", "unclear") else verdict
        return Outcome(case, verdict, result["detail"], lost, seconds)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


# --------------------------------------------------------------------------- the window

#: Runs in its own process (offscreen Qt): the real main window opens a good file and fits,
#: then opens each bad data file (File > Open) and loads each bad model file (File > Load
#: model). After each: an error dialog with a bounded message is *clear*; an exception that
#: reached the event loop is a *traceback*; neither an error nor a change is *silent*; and
#: if the good data or model the window had is gone, *data lost*.
WINDOW_WORKER = r"""
import json, os, sys, time
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PySide6.QtWidgets import QApplication
app = QApplication([])
from gmm_desktop.gui.main_window import MainWindow

cases = json.loads(sys.stdin.readline())
good, timeout = cases["good"], cases["timeout"]
hooked = []
sys.excepthook = lambda t, e, tb: hooked.append(f"{t.__name__}: {str(e)[:200]}")
w = MainWindow(ask_restore=lambda p: False)
w.resize(1200, 800)
w.show()
c = w.controller

def wait_idle():
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        app.processEvents()
        if not c.is_busy():
            for _ in range(5):
                app.processEvents()
                time.sleep(0.01)
            if not c.is_busy():
                return True
        time.sleep(0.01)
    return False

def baseline():
    w.open_path(good)
    wait_idle()
    w.model_panel.method.setCurrentIndex(w.model_panel.method.findData("plain"))
    w.model_panel.n_components.setValue(2)
    w.model_panel.auto_k.setChecked(False)
    c.fit()
    wait_idle()
    assert c.has_model, "the baseline fit failed"

baseline()
print("READY", flush=True)
for case in cases["cases"]:
    before_data = c.run.loaded
    before_model = c.run.bundle
    w.last_error = None
    hooked.clear()
    start = time.monotonic()
    try:  # what a menu's slot would run (an exception there reaches sys.excepthook)
        if case["kind"] == "data":
            w.open_path(case["path"])
        else:
            c.load_model(case["path"])
    except Exception as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    finished = wait_idle()
    seconds = time.monotonic() - start
    error = w.last_error
    changed = c.run.loaded is not before_data or c.run.bundle is not before_model
    if not finished:
        verdict, detail = "hang", f"still busy after {timeout:.0f} s"
        c.cancel(); wait_idle()
    elif hooked:
        verdict, detail = "traceback", hooked[0]
    elif error is not None:
        message = f"{error[0]}: {error[1]}"
        ok = len(message) <= LIMIT and "Traceback" not in message
        verdict, detail = ("clear" if ok else "unclear"), message[:300]
    elif changed:
        verdict, detail = "ok", ""
    else:
        verdict, detail = "unclear", "nothing happened and nothing was said"
    lost = []
    if verdict != "ok":
        if c.run.loaded is None or (before_data is not None and c.run.loaded is not before_data):
            lost.append("the open dataset")
        if before_model is not None and c.run.bundle is None:
            lost.append("the fitted model")
    print(json.dumps({"name": case["name"], "verdict": verdict, "detail": detail,
                      "lost": lost, "seconds": seconds}), flush=True)
    if verdict == "ok" or lost:
        baseline()
""".replace("LIMIT", str(MESSAGE_LIMIT))


def window_cases(data: dict[str, Path], models: dict[str, Path]) -> list[Case]:
    """Every data file through File > Open, every model file through File > Load model
    (the special files that would block a file dialog's reader are left to the other faces:
    the window reads a FIFO like the command line does)."""
    valid = {"good.csv", "good.parquet", "cr_only.csv", "utf16_no_bom.csv", "utf16_bom.csv"}
    skip = {"fifo.csv", "dev_zero.csv"}
    cases = [Case(f"open {name}", "window", code="data", inputs=[str(path)],
                  valid=name in valid, argv=[str(path)])
             for name, path in data.items() if name not in skip]
    cases += [Case(f"load model {name}", "window", code="model", inputs=[str(path)],
                   argv=[str(path)]) for name, path in models.items()]
    return cases


def run_window(cases: list[Case], good: Path, timeout: float, cwd: Path,
               env: dict[str, str]) -> list[Outcome]:
    env = {**env, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.Popen([sys.executable, "-c", WINDOW_WORKER], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            cwd=cwd, env=env)
    assert proc.stdin is not None and proc.stdout is not None
    before = {p: _digest(p) for c in cases for p in c.inputs}
    proc.stdin.write(json.dumps({"good": str(good), "timeout": timeout, "cases": [
        {"name": c.name, "kind": c.code, "path": c.argv[0]} for c in cases]}) + "\n")
    proc.stdin.flush()
    if not proc.stdout.readline().startswith("READY"):
        raise RuntimeError("the window worker did not start")
    by_name = {c.name: c for c in cases}
    outcomes: list[Outcome] = []
    for line in proc.stdout:
        r = json.loads(line)
        case = by_name[r["name"]]
        lost = [p for p in case.inputs if before[p] is not None and _digest(p) != before[p]]
        verdict = r["verdict"]
        if case.valid and verdict != "ok":
            verdict = "refused" if verdict in ("clear", "unclear") else verdict
        outcomes.append(Outcome(case, verdict, r["detail"], lost + r["lost"], r["seconds"]))
    proc.wait()
    done = {o.case.name for o in outcomes}
    for case in cases:  # the worker died on this one (or later)
        if case.name not in done:
            outcomes.append(Outcome(case, "traceback", "the window process died"))
            break
    return outcomes


# --------------------------------------------------------------------------- report


def report(outcomes: list[Outcome], verbose: bool) -> None:
    def count(kind: str | None = None, verdict: str | None = None, lost: bool = False) -> int:
        return sum(1 for o in outcomes if (kind is None or o.case.kind == kind)
                   and (verdict is None or o.verdict == verdict) and (not lost or o.lost))

    rows = [("inputs tried", None, None, False), ("clear errors", None, "clear", False),
            ("succeeded (valid or accepted)", None, "ok", False),
            ("valid input refused", None, "refused", False),
            ("unclear errors", None, "unclear", False),
            ("tracebacks", None, "traceback", False), ("hangs", None, "hang", False),
            ("data lost", None, None, True)]
    print(f"\n{'':32s}{'command line':>14s}{'Python API':>12s}{'window':>8s}{'total':>8s}")
    for label, _, verdict, lost in rows:
        print(f"{label:32s}{count('cli', verdict, lost):>14d}{count('api', verdict, lost):>12d}"
              f"{count('window', verdict, lost):>8d}{count(None, verdict, lost):>8d}")
    problems = [o for o in outcomes if o.verdict in ("traceback", "hang", "unclear", "refused")
                or o.lost]
    if problems:
        print("\nEvery problem:")
        for o in problems:
            what = o.verdict + (" + DATA LOST " + ", ".join(Path(p).name for p in o.lost)
                                if o.lost else "")
            shown = " ".join(a if len(a) < 60 else a[:40] + "…" for a in o.case.argv) \
                if o.case.kind in ("cli", "window") else o.case.code.replace("\n", "; ")[:100]
            print(f"  [{o.case.kind}] {o.case.name}: {what}\n      {shown}\n      {o.detail}")
    if verbose:
        print("\nEvery input:")
        for o in outcomes:
            print(f"  [{o.case.kind}] {o.verdict:9s} {o.seconds:6.1f}s  {o.case.name}: "
                  f"{o.detail[:160]}")
    slow = sorted(outcomes, key=lambda o: -o.seconds)[:5]
    print("\nSlowest: " + "; ".join(f"{o.case.name} {o.seconds:.1f} s" for o in slow))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("cli", "api", "window"))
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per input")
    parser.add_argument("--jobs", type=int, default=2, help="command-line inputs at a time")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--json", metavar="FILE", help="also write every outcome as JSON")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()}; OPENBLAS_CORETYPE="
          f"{os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, OPENBLAS_L2_SIZE="
          f"{os.environ.get('OPENBLAS_L2_SIZE', '(unset)')}")
    with tempfile.TemporaryDirectory(prefix="gmm-bad-inputs-") as tmp:
        folder = Path(tmp)
        (folder / "data").mkdir()
        (folder / "config").mkdir()
        env = {**os.environ, "GMM_DESKTOP_CONFIG_DIR": str(folder / "config"),
               "GMM_DESKTOP_STATE_DIR": str(folder / "config"), "PYTHONPATH": ""}
        env.pop("GMM_DESKTOP_PLUGIN_PATH", None)
        data = make_data_files(folder / "data")
        good_model = folder / "good_model.json"
        made = subprocess.run(
            [sys.executable, "-m", "gmm_desktop", "detect", str(data["good.csv"]),
             "--id-column", "id", "--components", "2", "--covariance-type", "full",
             "--model-out", str(good_model)],
            capture_output=True, text=True, cwd=folder, env=env,
        )
        if made.returncode != 0:
            print(made.stderr)
            return 1
        models = make_model_files(folder, good_model)
        cases: list[Case] = []
        if args.only in (None, "cli"):
            cases += cli_cases(data, models, good_model, folder)
        if args.only in (None, "api"):
            protected = [str(data["good.csv"]), str(good_model)]
            cases += [Case(name, "api", code=textwrap.dedent(code), inputs=protected,
                           valid=valid) for name, code, valid in API_CASES]
        print(f"{len(cases)} inputs ({sum(c.kind == 'cli' for c in cases)} command line, "
              f"{sum(c.kind == 'api' for c in cases)} Python API)", flush=True)
        outcomes: list[Outcome] = []
        start = time.perf_counter()
        cli = [c for c in cases if c.kind == "cli"]
        with cf.ThreadPoolExecutor(max(1, args.jobs)) as pool:
            for outcome in pool.map(lambda c: run_cli(c, args.timeout, folder, env), cli):
                outcomes.append(outcome)
                if outcome.verdict not in ("ok", "clear") or outcome.lost:
                    print(f"  {outcome.verdict}: {outcome.case.name}", flush=True)
        api = [c for c in cases if c.kind == "api"]
        if api:
            setup = API_SETUP.format(good=str(data["good.csv"]), model=str(good_model),
                                     folder=str(folder / "api"))
            (folder / "api").mkdir()
            runner = ApiRunner(setup, args.timeout, folder, env)
            try:
                for case in api:
                    outcome = runner.run(case)
                    outcomes.append(outcome)
                    if outcome.verdict not in ("ok", "clear") or outcome.lost:
                        print(f"  {outcome.verdict}: {outcome.case.name}", flush=True)
            finally:
                runner.close()
        if args.only in (None, "window"):
            window = window_cases(data, models)
            print(f"{len(window)} window inputs", flush=True)
            for outcome in run_window(window, data["good.csv"], args.timeout, folder, env):
                outcomes.append(outcome)
                if outcome.verdict not in ("ok", "clear") or outcome.lost:
                    print(f"  {outcome.verdict}: {outcome.case.name}", flush=True)
        report(outcomes, args.verbose)
        print(f"\n{time.perf_counter() - start:.0f} s; load average {os.getloadavg()}")
        if args.json:
            Path(args.json).write_text(json.dumps([
                {"kind": o.case.kind, "name": o.case.name, "verdict": o.verdict,
                 "detail": o.detail, "lost": o.lost, "seconds": o.seconds}
                for o in outcomes], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
