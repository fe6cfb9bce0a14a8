"""Every title and fixed sentence the controller shows the user, in one place."""

from __future__ import annotations

from typing import Any

#: The title of the error dialog when a background task of this kind fails.
TASK_FAILED = {
    "load": "Cannot open",
    "prepare": "Cannot prepare the features",
    "fit": "Fit failed",
    "sweep": "Model selection failed",
    "score": "Scoring failed",
    "refit": "Refit failed",
    "export": "Export failed",
    "threshold": "Threshold failed",
    "warmup": "Start-up",
}
#: What the status bar says while a task of this kind runs.
TASK_RUNNING = {
    "load": "opening", "prepare": "preparing", "fit": "fitting", "sweep": "model selection",
    "score": "scoring", "refit": "refit", "export": "exporting", "threshold": "counting",
}

NO_DATA = "Open a dataset first (File ▸ Open)."
NO_MODEL = "Fit a model first: nothing is flagged yet."
EMPTY_SELECTION = "Select rows first (lasso, rectangle or click)."
ALREADY_RUNNING = "A {kind} is already running; cancel it first."
STALE_FEATURES = "The features changed while it ran; its result was not used."
STALE_MODEL = "The model changed while the refit ran; its result was dropped."
REFIT_KEPT = "Refit discarded; the previous model is kept."
MODEL_KEPT_OTHER_FEATURES = (
    "The model was fitted on other features ({columns}); it is kept, but fit again (or load "
    "it with File ▸ Load model) to see it on this choice."
)
PLUGIN_TOGGLED = (
    "{name} ({kind}) {state}; the registry applies it at once (the lists in open panels "
    "refresh at the next start)."
)
NOT_REPRODUCIBLE = "Nothing to reproduce yet: fit a model first."

#: Where each reading option is set in the window (the import dialog's control labels).
IMPORT_DIALOG = "the import dialog (File ▸ Open…)"
READ_CONTROLS = {
    "delimiter": "Delimiter",
    "decimal": "Decimal mark",
    "header": "Header row",
    "skip_rows": "Rows to skip",
    "comment": "Comment marker",
    "missing_values": "Missing-value markers",
    "encoding": "Encoding",
    "text_columns": "Keep as text",
    "id_column": "ID column",
    "sheet": "Sheet",
}
_SHOWN = {"\t": "Tab", "whitespace": "Whitespace"}


def window_hint(hint: Any) -> str:
    """The window's words for a reading-option hint (a DataError's ``hints``): the control
    of the import dialog to change, e.g. "add ? to 'Missing-value markers' in the import
    dialog (File ▸ Open…)"."""
    option, value = hint.option, hint.value
    if option == "sheet":
        return f"choose the sheet {value} in 'Sheet' of {IMPORT_DIALOG}"
    if option == "id_column":
        return (f"choose {value} as the ID column in the Dataset panel or in "
                f"{IMPORT_DIALOG}")
    control = READ_CONTROLS.get(option, option)
    if option in ("missing_values", "text_columns"):
        return f"add {value} to '{control}' in {IMPORT_DIALOG}"
    if option == "header":
        value = "the first row names the columns" if value else "no header (the first row is data)"
    else:
        value = _SHOWN.get(str(value), str(value))
    return f"set '{control}' to {value} in {IMPORT_DIALOG}"


def window_message(exc: BaseException) -> str:
    """An error's message for the window: a data error's hints name the dialog's controls."""
    render = getattr(exc, "render", None)
    if render is not None and hasattr(exc, "hints"):
        return str(render(window_hint))
    return str(exc)
