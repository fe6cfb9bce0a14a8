"""More views of a mixture (issue 13): a scatter matrix with every component's ellipses,
per-feature marginal histograms with the fitted densities, a χ² Q–Q plot per component and
an uncertainty view; each exports to PNG/SVG. Their data are built Qt-free by
:mod:`gmm_desktop.controller.mixture_views`."""

from gmm_desktop.gui.views.panel import MixtureViews

__all__ = ["MixtureViews"]
