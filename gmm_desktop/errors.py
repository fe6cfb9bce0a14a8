"""The project's own exception types, shared by every layer (no Qt here).

Every error meant for a user carries a message that says what is wrong and what to do.
The GUI and the command line show ``str(error)``; they never show a traceback for these.
"""

from __future__ import annotations


class GmmDesktopError(Exception):
    """Base class of every error gmm-desktop raises on purpose."""


class Cancelled(GmmDesktopError):
    """Long work stopped because its progress callback asked it to stop."""


class FitCancelled(Cancelled):
    """An EM fit was cancelled; the estimator is left exactly as it was before ``fit``."""


class FitError(GmmDesktopError, ValueError):
    """A fit could not produce a model (for example every restart hit a singular covariance)."""


class ModelFileError(GmmDesktopError, ValueError):
    """A saved model document is missing, corrupt or inconsistent."""


class PluginError(GmmDesktopError):
    """A plugin failed to load, has the wrong shape, or returned nonsense when used.

    ``plugin`` names the plugin so that messages can say which one failed.
    """

    def __init__(self, message: str, plugin: str | None = None) -> None:
        super().__init__(message)
        self.plugin = plugin


class NotPositiveDefiniteError(GmmDesktopError, ValueError):
    """A covariance matrix is not positive definite (singular or degenerate component)."""
