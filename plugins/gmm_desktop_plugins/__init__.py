"""The built-in plugins of gmm-desktop.

They are written against the public plugin API (:mod:`gmm_desktop.plugin_api`) only, and
registered through entry points in gmm-desktop's ``pyproject.toml``, exactly as a
third-party plugin package would be.
"""
