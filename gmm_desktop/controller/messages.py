"""Every title and fixed sentence the controller shows the user, in one place."""

from __future__ import annotations

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
