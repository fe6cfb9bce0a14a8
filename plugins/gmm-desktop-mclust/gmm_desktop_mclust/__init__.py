"""mclust's parsimonious Gaussian mixture models as gmm-desktop plugins.

Covariance types (entry-point group ``gmm_desktop.covariance_types``), named as in R's mclust:
EII, VII, EEI, VEI, EVI, VVI, EEE, VEE, EVE, VVE, EEV, VEV, EVV, VVV and the univariate E
and V (see :mod:`gmm_desktop_mclust.models`). Initializer (group
``gmm_desktop.initializers``): ``mclust-hc``, mclust's default model-based agglomerative
hierarchical clustering (see :mod:`gmm_desktop_mclust.hc`).

Only :mod:`gmm_desktop.plugin_api` is imported from gmm-desktop.
"""

from gmm_desktop_mclust.hc import MclustHierarchical, hierarchical_tree
from gmm_desktop_mclust.models import MODEL_NAMES, MODELS, MclustCovariance, n_var_params
from gmm_desktop_mclust.table import bic_grid

__all__ = [
    "MODELS",
    "MODEL_NAMES",
    "MclustCovariance",
    "MclustHierarchical",
    "bic_grid",
    "hierarchical_tree",
    "n_var_params",
]
__version__ = "0.1.0"
