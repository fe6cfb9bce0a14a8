"""A report to hand on: one self-contained HTML file describing a run.

It holds the data summary, the preparation, the model and its parameters (in the data's
units), the model-selection table, the plots (inline SVG), the threshold, the flagged rows
with their explanations, and the provenance (the file's checksum, every setting, the
library versions), so that a reviewer can check the result without the program. The window
(File ▸ Export report) and the command line (``gmm-desktop report``) write the same file.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from gmm_desktop import __version__
from gmm_desktop.colours import categorical_hex
from gmm_desktop.core import steps, svgplot
from gmm_desktop.fileio import atomic_write_text

__all__ = ["FLAGGED_ROWS_SHOWN", "build_report", "write_report"]

FLAGGED_ROWS_SHOWN = 500
QQ_POINTS = 300

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;
max-width:1100px;color:#222;line-height:1.45}
h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ccc;margin-top:1.8em}
table{border-collapse:collapse;font-size:.9em;margin:.6em 0}
td,th{border:1px solid #ccc;padding:.2em .5em;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}
.note{color:#555;font-size:.9em}.figs{display:flex;flex-wrap:wrap;gap:1em}
figure{margin:0}figcaption{font-size:.85em;color:#555;max-width:560px}
code,pre{background:#f6f6f6;font-size:.85em}pre{padding:.6em;overflow:auto}
.neg{color:#0072B2}.flag{font-weight:bold}
"""


def _num(v: Any, digits: int = 5) -> str:
    if v is None:
        return ""
    if isinstance(v, bool | np.bool_):
        return "yes" if v else "no"
    if isinstance(v, int | np.integer):
        return f"{int(v):,}"
    if isinstance(v, float | np.floating):
        return "" if not np.isfinite(v) else f"{float(v):.{digits}g}"
    return escape(str(v))


_SHOWN_DELIMITER = {"\t": "tab", "whitespace": "runs of blanks"}


def reading_text(read: Any, dialect: Any) -> str:
    """How the file was read, each aspect marked detected or given (provenance)."""
    parts: list[str] = []
    detected = set((dialect or {}).get("detected", ()))
    if dialect is not None:
        for key, label in (("delimiter", "delimiter"), ("decimal", "decimal mark"),
                           ("header", "header line"), ("encoding", "encoding")):
            value = dialect.get(key)
            shown = ("yes" if value else "no") if key == "header" else \
                _SHOWN_DELIMITER.get(value, f"'{value}'") if key == "delimiter" else value
            parts.append(f"{label} {shown} ({'detected' if key in detected else 'given'})")
    if read.skip_rows:
        parts.append(f"{read.skip_rows} line(s) skipped above the header")
    if read.comment is not None:
        parts.append(f"comment marker '{read.comment}'")
    if read.missing_values:
        parts.append("missing-value markers " + ", ".join(f"'{v}'" for v in read.missing_values)
                     + " (besides the usual ones: empty, NA, NaN, ...)")
    if read.text_columns:
        parts.append("kept as text: " + ", ".join(read.text_columns))
    if dialect is None and read.header is not None:
        parts.append(f"header row {'yes' if read.header else 'no'} (given)")
    return "; ".join(parts)


def _table(header: list[str], rows: list[list[Any]], left: int = 1) -> str:
    head = "".join(f'<th class="{"l" if i < left else ""}">{escape(h)}</th>'
                   for i, h in enumerate(header))
    body = "".join(
        "<tr>" + "".join(f'<td class="{"l" if i < left else ""}">{_num(v)}</td>'
                         for i, v in enumerate(r)) + "</tr>"
        for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _kv(pairs: list[tuple[str, Any]]) -> str:
    return _table(["", ""], [[k, v] for k, v in pairs], left=1).replace(
        "<tr><th class=\"l\"></th><th class=\"\"></th></tr>", "")


def _versions() -> list[tuple[str, str]]:
    import pandas as pd
    import scipy

    out = [("gmm-desktop", __version__), ("Python", platform.python_version()),
           ("numpy", np.__version__), ("scipy", scipy.__version__), ("pandas", pd.__version__)]
    try:
        import sklearn

        out.append(("scikit-learn", sklearn.__version__))
    except ImportError:  # pragma: no cover - a dependency
        pass
    out.append(("platform", platform.platform()))
    return out


def _plots(run: Any) -> str:
    """The scatter of the first two features with ellipses and flags, the log-density
    histogram with the threshold, and a chi-square Q-Q plot per component."""
    prepared, scored, det = run.prepared, run.scored, run.detection
    bundle = scored.bundle
    model = bundle.model
    k = int(model.n_components)
    colours = categorical_hex(k)
    figs = []
    X = bundle.scaler.inverse_transform(prepared.X)
    cols = prepared.columns
    flags = np.asarray(det.flags)
    if X.shape[1] >= 1:
        i, j = (0, 1) if X.shape[1] >= 2 else (0, 0)
        means = bundle.means_original()[:, [i, j]]
        covs = bundle.covariances_original()[:, [i, j]][:, :, [i, j]]
        t = np.linspace(0, 2 * np.pi, 97)
        ellipses = []
        for c in range(k):
            sym = 0.5 * (covs[c] + covs[c].T)
            vals, vecs = np.linalg.eigh(sym)
            factor = vecs * np.sqrt(np.clip(vals, 0, None))
            for r in (1.0, 2.0, 3.0):
                pts = means[c][:, None] + r * factor @ np.vstack([np.cos(t), np.sin(t)])
                ellipses.append((pts[0], pts[1], colours[c]))
        svg, note = svgplot.scatter_svg(
            X[:, i], X[:, j], scored.scores.component, colours, flags, ellipses=ellipses,
            xlabel=cols[i], ylabel=cols[j], title=f"{cols[i]} and {cols[j]}")
        caption = (f"{cols[i]} against {cols[j]}: points coloured by their most likely "
                   "component, ellipses at 1, 2 and 3 standard deviations, flagged rows as "
                   "black crosses" + (f"; {note}" if note else "") + ".")
        if X.shape[1] > 2:
            caption += (f" The model has {X.shape[1]} features: a row can be flagged for a "
                        "feature this plot does not show (see its explanation below).")
        figs.append((svg, caption))
    dens = scored.density
    cutoff = det.threshold.log_density_cutoff
    lo, hi, below = dens.view_range(cutoff)
    caption = ("The log-density of every row under the mixture; rows left of the threshold "
               "are flagged." if cutoff is not None else
               "The log-density of every row under the mixture (the gate is a Mahalanobis "
               "radius, so it is not a line here).")
    if below:
        caption += f" {below:,} rows lie below the range shown."
    figs.append((svgplot.histogram_svg(dens.counts, dens.edges, cutoff, xlim=(lo, hi),
                                       title="log-density of the rows"), caption))
    d = prepared.X.shape[1]
    d2 = scored.scores.mahalanobis ** 2
    theo, obs, labels, cols_qq = [], [], [], []
    for c in range(k):
        own = np.sort(d2[scored.scores.component == c])
        if own.size < 3:
            continue
        pick = np.unique(np.linspace(0, own.size - 1, min(QQ_POINTS, own.size)).astype(int))
        probs = (pick + 0.5) / own.size
        theo.append(stats.chi2.ppf(probs, d))
        obs.append(own[pick])
        labels.append(f"component {c + 1} ({own.size:,} rows)")
        cols_qq.append(colours[c])
    if theo:
        figs.append((svgplot.qq_svg(theo, obs, cols_qq, labels,
                                    title="chi-square Q-Q of the components"),
                     f"Squared Mahalanobis distance of the rows of each component against the "
                     f"quantiles of χ² with {d} degrees of freedom: points on the dashed line "
                     "mean the component is Gaussian; points rising above it at the right are "
                     "rows further out than a Gaussian allows (hollow triangles: beyond the "
                     "top of the plot)."))
    return '<div class="figs">' + "".join(
        f"<figure>{svg}<figcaption>{escape(cap)}</figcaption></figure>" for svg, cap in figs
    ) + "</div>"


def build_report(run: Any, *, title: str | None = None) -> str:
    """The report of a scored run (a :class:`~gmm_desktop.core.run.Detector`) as HTML."""
    prepared, scored, det, bundle = run.prepared, run.scored, run.detection, run.bundle
    if prepared is None or scored is None or det is None or bundle is None:
        raise ValueError("nothing to report yet: load data and fit (or load) a model first")
    src = prepared.source
    model = bundle.model
    cols = prepared.columns
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    title = title or f"Anomaly detection report: {src.name}"
    out = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>"
           f"{escape(title)}</title><style>{_CSS}</style></head><body>",
           f"<h1>{escape(title)}</h1>",
           f'<p class="note">Written by gmm-desktop {escape(__version__)} on {now}. '
           "Everything needed to check the result is on this page.</p>"]

    # summary
    out.append("<h2>Summary</h2>")
    out.append(f"<p><b>{det.n_flagged:,} of {det.n_rows:,} rows flagged "
               f"({100 * det.share:.2f} %)</b> by a mixture of {model.n_components} Gaussian "
               f"component(s) ({escape(str(model.covariance_type))} covariances) on "
               f"{len(cols)} feature(s): {escape(', '.join(cols))}. Threshold: "
               f"{escape(det.threshold.describe())}.</p>")

    # data
    out.append("<h2>Data</h2>")
    ds = prepared.loaded.table
    pairs: list[tuple[str, Any]] = [
        ("file", src.path or src.name), ("SHA-256", src.sha256 or "(not read from a file)"),
        ("rows in the table", src.n_rows), ("rows used", prepared.n_rows_used),
        ("row identity", f"column {src.id_column}" if src.id_column else "row position (from 0)"),
    ]
    if src.sheet is not None:
        pairs.append(("sheet", src.sheet))
    if ds is not None and (ds.dialect is not None or not ds.read.is_default):
        pairs.append(("read as", reading_text(ds.read, ds.dialect)))
    lazy = prepared.loaded.lazy
    if ds is None and lazy is not None and getattr(lazy, "dialect", None) is not None:
        pairs.append(("read as", reading_text(lazy.read, lazy.dialect)))
    if ds is not None:
        pairs.append(("columns", ", ".join(map(str, ds.columns))))
    out.append(_kv(pairs))
    notes = [str(w) for w in (ds.warnings if ds is not None else ())]
    if notes:
        out.append("<p>Notes from reading the file:</p><ul>"
                   + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>")

    # preparation
    out.append("<h2>Preparation</h2>")
    feats = prepared.features
    report = feats.report
    out.append(f"<p>Missing values: <b>{escape(prepared.missing)}</b>. "
               f"{escape(report.summary if report is not None else '')}</p>")
    sc = bundle.scaler
    out.append(f"<p>Scaling: <b>{escape(sc.method)}</b> (the model works on (x − center) / "
               "scale; every figure below is back in the data's own units).</p>")
    out.append(_table(["feature", "center", "scale"],
                      [[c, float(sc.center_[j]), float(sc.scale_[j])]
                       for j, c in enumerate(cols)]))
    for w in feats.warnings or ():
        out.append(f'<p class="note">{escape(str(w))}</p>')

    # model
    out.append("<h2>Model</h2>")
    cfg = bundle.config
    out.append(_kv([
        ("components", model.n_components), ("covariance type", model.covariance_type),
        ("initializer", model.init_params), ("restarts", model.n_init),
        ("converged", bool(model.converged_)), ("EM iterations", model.n_iter_),
        ("log-likelihood (total)", scored.log_likelihood),
        ("BIC (lower is better)", scored.bic), ("AIC", scored.aic),
        ("free parameters", model.n_parameters()), ("random seed", cfg.random_state),
        ("rows left out of the fit (manual labels)", len(bundle.fit_excluded)),
    ]))
    for note in run.fit_warnings:
        out.append(f'<p class="note">Warning: {escape(note)}</p>')
    means, covs = bundle.means_original(), bundle.covariances_original()
    rows = []
    for c in range(model.n_components):
        rows.append([f"component {c + 1}", float(model.weights_[c]),
                     *[float(v) for v in means[c]],
                     *[float(np.sqrt(max(covs[c][j, j], 0.0))) for j in range(len(cols))]])
    out.append(_table(["", "weight", *[f"mean {c}" for c in cols],
                       *[f"sd {c}" for c in cols]], rows))
    if len(cols) > 1:
        out.append("<details><summary>Covariance matrices (data units)</summary>")
        for c in range(model.n_components):
            out.append(f"<p>component {c + 1}</p>")
            out.append(_table(["", *cols], [[cols[i], *map(float, covs[c][i])]
                                            for i in range(len(cols))]))
        out.append("</details>")
    if bundle.refit is not None:
        rec = bundle.refit
        out.append(f"<h3>Refit: {escape(rec.strategy)}</h3>")
        out.append(_kv([(k, v) for k, v in rec.params] +
                       [(k, v) for k, v in rec.info.items() if not isinstance(v, list | dict)]))
        if rec.history:
            out.append(_table(["round", "flagged", "changed", "mean log-likelihood", "note"],
                              [[h.get("round"), h.get("n_flagged"), h.get("n_changed"),
                                h.get("log_likelihood"), h.get("note", "")]
                               for h in rec.history]))

    # model selection
    sel = run.selection
    robust = getattr(run, "robust", None)
    if robust is not None:
        info = robust.info
        out.append("<h2>Model selection</h2>")
        out.append(
            f"<p>The robust route: every cell of the grid fitted by TCLUST with "
            f"{100 * float(info.get('trim', 0)):.0f} % of the rows trimmed, chosen by the "
            "trimmed BIC (−2·trimmed log-likelihood + p·ln h, lower is better; a refused cell "
            "says why), then refitted on the rows inside the reweighting gate.</p>")
        out.append(_table(
            ["covariance type", "K", "parameters", "trimmed log-likelihood", "trimmed BIC",
             "fewest rows in a component", "note"],
            [[c["covariance_type"], c["n_components"], c["n_parameters"],
              c["trimmed_log_likelihood"], c["trimmed_bic"], c["smallest_component"],
              "chosen" if c["chosen"] else (c["refused"] or "")] for c in robust.table()]))
        if robust.outlier_components:
            out.append(f"<p>{len(robust.outlier_components)} small, far component(s) were set "
                       "apart as clusters of outliers (the small-component rule): their rows "
                       "score as far from every normal component.</p>")
    elif sel is not None:
        out.append("<h2>Model selection</h2>")
        out.append(f"<p>Chosen by {escape(sel.criterion.upper())} among {len(sel.cells)} "
                   "candidates (lower is better; a failed cell says why).</p>")
        best = (sel.best.n_components, sel.best.covariance_type)
        out.append(_table(
            ["covariance type", "K", "log-likelihood", "parameters", "BIC", "AIC", "note"],
            [[c.covariance_type, c.n_components, c.log_likelihood, c.n_parameters, c.bic,
              c.aic, ("best" if (c.n_components, c.covariance_type) == best else "")
              + (c.error or "")] for c in sel.cells]))

    # plots
    out.append("<h2>Plots</h2>")
    out.append(_plots(run))

    # threshold and flagged rows
    out.append("<h2>Threshold</h2>")
    thr = det.threshold
    out.append(_kv([("rule", thr.describe()), ("kind", thr.spec.kind),
                    ("value", thr.spec.value),
                    ("learned log-density cut-off", thr.log_density_cutoff),
                    ("Mahalanobis radius", thr.radius),
                    ("small-component share", thr.spec.small_component_share),
                    ("components declared anomalous",
                     ", ".join(str(k + 1) for k in thr.anomalous_components) or "none"),
                    ("the model's own rule (saved or refit)", det.pinned),
                    ("rows marked outlier / normal / excluded by hand",
                     f"{run.labels.outlier.size} / {run.labels.normal.size} / "
                     f"{run.labels.excluded.size}")]))
    out.append("<h2>Flagged rows</h2>")
    flagged = np.flatnonzero(np.asarray(det.flags))
    order = flagged[np.argsort(scored.scores.log_density[flagged], kind="stable")]
    shown = order[:FLAGGED_ROWS_SHOWN]
    if shown.size:
        why = steps.explain(prepared, scored, shown)
        values = bundle.scaler.inverse_transform(prepared.X[shown])
        total = why.distance_squared
        rows = []
        for n, p in enumerate(shown):
            share = why.contributions[n] / total[n] if total[n] > 0 else why.contributions[n]
            rows.append([str(prepared.row_ids[p]), float(scored.scores.log_density[p]),
                         int(scored.scores.component[p]) + 1, float(total[n]),
                         why.top_feature[n],
                         *[f"{values[n, j]:.5g} ({100 * share[j]:+.0f} %)"
                           for j in range(len(cols))]])
        out.append(
            f"<p>Lowest log-density first{'' if order.size <= FLAGGED_ROWS_SHOWN else f'; the first {FLAGGED_ROWS_SHOWN:,} of {order.size:,}'}. "  # noqa: E501
            "For each feature: the row's value and its share of the squared Mahalanobis "
            "distance to its component. The shares add up to 100 %: each is "
            "(x − μ)ⱼ·(Σ⁻¹(x − μ))ⱼ, the Shapley value of the distance with the component's "
            "mean as the baseline; a negative share means the value is what the other "
            "features predict.</p>")
        out.append(_table(["row", "log-density", "component", "distance²", "top feature",
                           *cols], rows, left=1))
    else:
        out.append("<p>No row is flagged.</p>")

    # provenance
    out.append("<h2>Provenance</h2>")
    out.append("<p>The settings of the run (a <code>RunConfig</code>; "
               "<code>gmm_desktop.core.RunConfig.from_dict</code> reads them back):</p>")
    out.append(f"<pre>{escape(json.dumps(run.config.to_dict(), indent=1))}</pre>")
    try:
        cli, gaps = run.cli_command("flagged.csv")
    except (ValueError, TypeError) as exc:  # e.g. data not from a file
        cli, gaps = f"(no command line: {exc})", []
    out.append("<p>The same detection on the command line:</p>"
               f"<pre>{escape(cli)}</pre>")
    if gaps:
        out.append(f'<p class="note">Not expressible on the command line: '
                   f"{escape('; '.join(gaps))}.</p>")
    out.append(_kv(_versions()))
    out.append("</body></html>")
    return "\n".join(out)


def write_report(run: Any, path: str | os.PathLike[str], *, title: str | None = None) -> Path:
    """Write :func:`build_report` atomically."""
    atomic_write_text(path, build_report(run, title=title))
    return Path(path)
