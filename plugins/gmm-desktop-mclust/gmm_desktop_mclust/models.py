"""The fourteen parsimonious covariance models of Celeux & Govaert (1995), and mclust's E and V.

Each component covariance is decomposed as ``Σₖ = λₖ Dₖ Aₖ Dₖᵀ``: the volume ``λₖ`` (a
scalar), the shape ``Aₖ`` (diagonal, ``det Aₖ = 1``) and the orientation ``Dₖ``
(orthogonal). A model's name gives, in that order, whether volume, shape and orientation are
equal across components (``E``), vary (``V``) or are the identity (``I``). The names and the
parameter counts are mclust's (its ``nVarParams``), so BIC values agree with mclust's.

M-steps, with ``Wₖ`` the scatter of component ``k`` about its new mean (not divided by
``nₖ``) and ``n = Σₖ nₖ``:

* closed form: EII, VII, EEI, EVI, VVI, EEE, EEV, EVV, VVV (and the univariate E, V);
* iterative: VEI, VEE, VEV (alternating exact updates of the volumes and the common
  shape or matrix, Celeux & Govaert 1995) and EVE, VVE (the orientation by the
  majorization-minimization algorithm of Browne & McNicholas 2014, alternated with the
  closed-form volumes and shapes given the orientation). Each iteration can only lower the
  M-step's objective ``Σₖ nₖ log det Σₖ + tr(Σₖ⁻¹ Wₖ)``. A plugin instance keeps no state
  between calls, so the inner iteration starts every M-step from a closed-form
  approximation; its tolerance and iteration limit are the class attributes
  :attr:`inner_tol` and :attr:`inner_max_iter`.

``reg_covar`` is added to the diagonal of every covariance at the end, as the built-in
types do (so VII, VVI, EEE and VVV reproduce ``spherical``, ``diag``, ``tied`` and ``full``).

Storage: the diagonal models (``*I`` and E, V) store ``(K, d)`` diagonals (structure
``"diag"``); the others store ``(K, d, d)`` matrices (structure ``"full"``).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from gmm_desktop.plugin_api import CovarianceType, SufficientStatistics

__all__ = ["MODELS", "MODEL_NAMES", "MclustCovariance", "n_var_params"]

#: mclust's model names in its own order (multivariate first, then the univariate ones).
MODEL_NAMES = (
    "EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE", "VEE", "EVE", "VVE", "EEV", "VEV",
    "EVV", "VVV", "E", "V",
)


def n_var_params(model: str, n_components: int, n_features: int) -> int:
    """Number of free covariance parameters of ``model``, exactly as mclust's ``nVarParams``."""
    G, d = int(n_components), int(n_features)
    half = d * (d - 1) // 2  # free parameters of an orientation
    counts = {
        "E": 1,
        "V": G,
        "EII": 1,
        "VII": G,
        "EEI": d,
        "VEI": G + (d - 1),
        "EVI": 1 + G * (d - 1),
        "VVI": G * d,
        "EEE": d * (d + 1) // 2,
        "VEE": G + d * (d + 1) // 2 - 1,
        "EVE": 1 + G * (d - 1) + half,
        "VVE": G + G * (d - 1) + half,
        "EEV": 1 + (d - 1) + G * half,
        "VEV": G + (d - 1) + G * half,
        "EVV": 1 + G * (d * (d + 1) // 2 - 1),
        "VVV": G * d * (d + 1) // 2,
    }
    if model not in counts:
        raise ValueError(f"unknown mclust model {model!r}; known: {', '.join(MODEL_NAMES)}")
    return counts[model]


# --------------------------------------------------------------------------- helpers


def _geo(values: np.ndarray) -> np.ndarray:
    """Geometric mean along the last axis (the d-th root of a product of positive numbers)."""
    return np.exp(np.mean(np.log(values), axis=-1))


def _safe_inverse(values: np.ndarray) -> np.ndarray:
    """``1/v`` where ``v > 0``, else 0 (a component of zero volume gives no weight)."""
    out = np.zeros_like(values)
    np.divide(1.0, values, out=out, where=values > 0)
    return out


def _sym(m: np.ndarray) -> np.ndarray:
    return 0.5 * (m + np.swapaxes(m, -1, -2))


def _eigh_desc(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (descending) and eigenvectors (as columns) of symmetric matrices."""
    values, vectors = np.linalg.eigh(_sym(m))
    return values[..., ::-1], vectors[..., ::-1]


def _compose(orient: np.ndarray, diag: np.ndarray) -> np.ndarray:
    """``D diag(v) Dᵀ`` for stacks (orient (K, d, d) or (d, d); diag (K, d))."""
    orient = np.broadcast_to(orient, diag.shape + diag.shape[-1:])
    return _sym((orient * diag[:, None, :]) @ np.swapaxes(orient, 1, 2))


def _objective(scatter: np.ndarray, nk: np.ndarray, covs: np.ndarray) -> float:
    """``Σₖ nₖ log det Σₖ + tr(Σₖ⁻¹ Wₖ)`` (the M-step minimises it)."""
    sign, logdet = np.linalg.slogdet(covs)
    if np.any(sign <= 0):
        return np.inf
    traces = np.einsum("kii->k", np.linalg.solve(covs, scatter))
    return float(np.sum(nk * logdet + traces))


def _orthogonal_polar(m: np.ndarray) -> np.ndarray:
    """The orthogonal matrix ``Q`` maximising ``tr(Qᵀ m)`` (the polar factor of ``m``)."""
    u, _, vt = np.linalg.svd(m)
    return u @ vt


def _mm_orientation(
    scatter: np.ndarray, inv_diag: np.ndarray, orient: np.ndarray, largest: np.ndarray
) -> np.ndarray:
    """Two majorization-minimization steps for the common orientation ``D``.

    Minimises ``f(D) = Σₖ tr(Dᵀ Wₖ D Cₖ)`` (``Cₖ = diag(inv_diag[k])``) over orthogonal
    ``D``, by the two majorizers of Browne & McNicholas (2014): one uses the largest
    eigenvalue ``aₖ`` of ``Wₖ`` (``Wₖ − aₖ I`` is negative semi-definite, so the function is
    below its tangent), the other the largest entry ``ωₖ`` of ``Cₖ``. Each step minimises a
    linear majorizer over the orthogonal group (a polar decomposition), so ``f`` never rises.
    """
    d = orient.shape[0]
    eye = np.eye(d)
    # Step 1: tangent of tr(Dᵀ (Wₖ − aₖ I) D Cₖ) at D; minimise the linear part.
    shifted = scatter - largest[:, None, None] * eye
    grad = ((shifted @ orient) * inv_diag[:, None, :]).sum(axis=0)
    orient = _orthogonal_polar(-grad)
    # Step 2: the same with the roles of Wₖ and Cₖ swapped (Cₖ − ωₖ I ≤ 0).
    omega = inv_diag.max(axis=1)
    grad = ((scatter @ orient) * (inv_diag - omega[:, None])[:, None, :]).sum(axis=0)
    return _orthogonal_polar(-grad)


# --------------------------------------------------------------------------- base class


class MclustCovariance(CovarianceType):
    """Base class of the mclust models: parameter counts, storage and ``reg_covar``."""

    #: Whether the model is for univariate data only (mclust's E and V).
    univariate: ClassVar[bool] = False
    #: Inner iterations of the iterative M-steps: relative tolerance and iteration limit.
    inner_tol: ClassVar[float] = 1e-12
    inner_max_iter: ClassVar[int] = 1000

    def n_parameters(self, n_components: int, n_features: int) -> int:
        return n_var_params(self.name, n_components, n_features)

    def covariance_shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        if self.structure == "diag":
            return (int(n_components), int(n_features))
        return (int(n_components), int(n_features), int(n_features))

    def m_step(self, stats: SufficientStatistics, reg_covar: float) -> np.ndarray:
        if self.univariate and stats.n_features != 1:
            raise ValueError(
                f"the covariance model {self.name!r} is for univariate data (one feature), "
                f"but the data have {stats.n_features} features; use "
                f"{'EII' if self.name == 'E' else 'VII'} or another multivariate model"
            )
        nk = np.asarray(stats.nk, dtype=float)
        scatter = np.array(stats.scatter, dtype=float, copy=True)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            covs = self._estimate(scatter, nk)
        # A component whose maximum-likelihood covariance does not exist (a singular scatter
        # where the model needs its determinant or its inverse) gets a zero matrix: singular,
        # so the engine drops the restart unless reg_covar regularises it (mclust's NA).
        bad = ~np.all(np.isfinite(covs.reshape(covs.shape[0], -1)), axis=1)
        if np.any(bad):
            covs[bad] = 0.0
        d = stats.n_features
        if self.structure == "diag":
            return covs + reg_covar
        idx = np.arange(d)
        covs[:, idx, idx] += reg_covar
        return covs

    def _estimate(self, scatter: np.ndarray, nk: np.ndarray) -> np.ndarray:
        """Maximum-likelihood covariances (no regularisation) from the scatters."""
        raise NotImplementedError


# --------------------------------------------------------------------------- diagonal family


class _Diagonal(MclustCovariance):
    structure = "diag"


class EII(_Diagonal):
    """Spherical, equal volume: ``Σₖ = λ I``."""

    name = "EII"
    description = "mclust EII: spherical, equal volume (λI)"

    def _estimate(self, scatter, nk):
        k, d = scatter.shape
        lam = scatter.sum() / (nk.sum() * d)
        return np.full((k, d), lam)


class VII(_Diagonal):
    """Spherical, varying volume: ``Σₖ = λₖ I`` (scikit-learn's spherical)."""

    name = "VII"
    description = "mclust VII: spherical, varying volume (λₖI)"

    def _estimate(self, scatter, nk):
        _k, d = scatter.shape
        lam = scatter.sum(axis=1) / (nk * d)
        return np.repeat(lam[:, None], d, axis=1)


class EEI(_Diagonal):
    """Diagonal, equal volume and shape: ``Σₖ = λ A``."""

    name = "EEI"
    description = "mclust EEI: diagonal, equal volume and shape (λA)"

    def _estimate(self, scatter, nk):
        pooled = scatter.sum(axis=0) / nk.sum()
        return np.repeat(pooled[None], scatter.shape[0], axis=0)


class VEI(_Diagonal):
    """Diagonal, varying volume, equal shape: ``Σₖ = λₖ A`` (iterative M-step)."""

    name = "VEI"
    description = "mclust VEI: diagonal, varying volume, equal shape (λₖA)"

    def initial_estimate(self, scatter: np.ndarray, nk: np.ndarray) -> np.ndarray:
        """The inner iteration's closed-form start: VII (λₖ from the traces, A = I)."""
        return VII()._estimate(scatter, nk)

    def _estimate(self, scatter, nk):
        _k, d = scatter.shape
        lam = scatter.sum(axis=1) / (nk * d)  # start: the VII volumes
        previous = None
        for _ in range(self.inner_max_iter):
            s = (scatter * _safe_inverse(lam)[:, None]).sum(axis=0)
            shape = s / _geo(s)
            lam = (scatter / shape).sum(axis=1) / (nk * d)
            current = lam[:, None] * shape
            if previous is not None and np.max(np.abs(current - previous)) <= (
                self.inner_tol * np.max(np.abs(current))
            ):
                break
            previous = current
        return lam[:, None] * shape


class EVI(_Diagonal):
    """Diagonal, equal volume, varying shape: ``Σₖ = λ Aₖ``."""

    name = "EVI"
    description = "mclust EVI: diagonal, equal volume, varying shape (λAₖ)"

    def _estimate(self, scatter, nk):
        g = _geo(scatter)
        lam = g.sum() / nk.sum()
        return lam * scatter / g[:, None]


class VVI(_Diagonal):
    """Diagonal, varying volume and shape: ``Σₖ = λₖ Aₖ`` (scikit-learn's diag)."""

    name = "VVI"
    description = "mclust VVI: diagonal, varying volume and shape (λₖAₖ)"

    def _estimate(self, scatter, nk):
        return scatter / nk[:, None]


class E(EII):
    """Univariate, equal variance (mclust's E)."""

    name = "E"
    description = "mclust E: univariate, equal variance"
    univariate = True


class V(VII):
    """Univariate, varying variance (mclust's V)."""

    name = "V"
    description = "mclust V: univariate, varying variance"
    univariate = True


# --------------------------------------------------------------------------- general family


class _General(MclustCovariance):
    structure = "full"


class EEE(_General):
    """Ellipsoidal, equal volume, shape and orientation: ``Σₖ = λ D A Dᵀ`` (tied)."""

    name = "EEE"
    description = "mclust EEE: ellipsoidal, equal volume, shape and orientation (λDADᵀ)"

    def _estimate(self, scatter, nk):
        pooled = _sym(scatter.sum(axis=0)) / nk.sum()
        return np.repeat(pooled[None], scatter.shape[0], axis=0)


class VEE(_General):
    """Ellipsoidal, varying volume, equal shape and orientation: ``Σₖ = λₖ C`` (iterative)."""

    name = "VEE"
    description = "mclust VEE: ellipsoidal, varying volume, equal shape and orientation (λₖDADᵀ)"

    def initial_estimate(self, scatter: np.ndarray, nk: np.ndarray) -> np.ndarray:
        """The inner iteration's closed-form start: λₖ from the traces, C = I."""
        d = scatter.shape[1]
        lam = np.einsum("kii->k", scatter) / (nk * d)
        return lam[:, None, None] * np.eye(d)

    def _estimate(self, scatter, nk):
        _k, d = scatter.shape[:2]
        lam = np.einsum("kii->k", scatter) / (nk * d)  # start: as initial_estimate
        previous = None
        for _ in range(self.inner_max_iter):
            s = _sym((scatter * _safe_inverse(lam)[:, None, None]).sum(axis=0))
            _sign, logdet = np.linalg.slogdet(s)
            c = s / np.exp(logdet / d)
            lam = np.einsum("kii->k", np.linalg.solve(c[None], scatter)) / (nk * d)
            current = lam[:, None, None] * c
            if previous is not None and np.max(np.abs(current - previous)) <= (
                self.inner_tol * np.max(np.abs(current))
            ):
                break
            previous = current
        return lam[:, None, None] * c[None]


class _CommonOrientation(_General):
    """EVE and VVE: a common orientation D found by MM, shapes (and volumes) in closed form."""

    equal_volume: ClassVar[bool] = True

    def _given_orientation(self, scatter, nk, orient):
        """Closed-form eigenvalues ``λₖ Aₖ`` (K, d) given the orientation."""
        rotated = np.sum((scatter @ orient) * orient, axis=1)  # diag(Dᵀ Wₖ D)
        rotated = np.maximum(rotated, np.finfo(float).tiny)
        if self.equal_volume:  # EVE: λ common, Aₖ = Rₖ / geo(Rₖ)
            g = _geo(rotated)
            return (g.sum() / nk.sum()) * rotated / g[:, None]
        return rotated / nk[:, None]  # VVE: λₖAₖ = Rₖ / nₖ

    def initial_estimate(self, scatter: np.ndarray, nk: np.ndarray) -> np.ndarray:
        """The inner iteration's closed-form start: D the axes of Σₖ Wₖ, the rest given D."""
        scatter = _sym(scatter)
        _, orient = _eigh_desc(scatter.sum(axis=0))
        return _compose(orient, self._given_orientation(scatter, nk, orient))

    def _estimate(self, scatter, nk):
        scatter = _sym(scatter)
        _, orient = _eigh_desc(scatter.sum(axis=0))  # start: as initial_estimate
        largest = np.linalg.eigvalsh(scatter)[:, -1]
        eig = self._given_orientation(scatter, nk, orient)
        for _ in range(self.inner_max_iter):
            new_orient = _mm_orientation(scatter, 1.0 / eig, orient, largest)
            new_eig = self._given_orientation(scatter, nk, new_orient)
            change = max(
                float(np.max(np.abs(new_orient - orient))),
                float(np.max(np.abs(new_eig - eig)) / np.max(new_eig)),
            )
            orient, eig = new_orient, new_eig
            if change <= self.inner_tol:
                break
        return _compose(orient, eig)


class EVE(_CommonOrientation):
    """Ellipsoidal, equal volume and orientation, varying shape: ``Σₖ = λ D Aₖ Dᵀ``."""

    name = "EVE"
    description = "mclust EVE: ellipsoidal, equal volume and orientation (λDAₖDᵀ)"
    equal_volume = True


class VVE(_CommonOrientation):
    """Ellipsoidal, equal orientation, varying volume and shape: ``Σₖ = λₖ D Aₖ Dᵀ``."""

    name = "VVE"
    description = "mclust VVE: ellipsoidal, equal orientation (λₖDAₖDᵀ)"
    equal_volume = False


class EEV(_General):
    """Ellipsoidal, equal volume and shape, varying orientation: ``Σₖ = λ Dₖ A Dₖᵀ``."""

    name = "EEV"
    description = "mclust EEV: ellipsoidal, equal volume and shape (λDₖADₖᵀ)"

    def _estimate(self, scatter, nk):
        omega, vectors = _eigh_desc(scatter)
        omega = np.maximum(omega, 0.0)
        common = omega.sum(axis=0) / nk.sum()  # λA = Σₖ Ωₖ / n
        return _compose(vectors, np.broadcast_to(common, omega.shape))


class VEV(_General):
    """Ellipsoidal, equal shape, varying volume and orientation: ``Σₖ = λₖ Dₖ A Dₖᵀ``."""

    name = "VEV"
    description = "mclust VEV: ellipsoidal, equal shape (λₖDₖADₖᵀ)"

    def initial_estimate(self, scatter: np.ndarray, nk: np.ndarray) -> np.ndarray:
        """The inner iteration's closed-form start: Dₖ the axes of Wₖ, λₖ from traces, A = I."""
        d = scatter.shape[1]
        lam = np.einsum("kii->k", scatter) / (nk * d)
        return lam[:, None, None] * np.eye(d)

    def _estimate(self, scatter, nk):
        _k, d = scatter.shape[:2]
        omega, vectors = _eigh_desc(scatter)
        omega = np.maximum(omega, 0.0)
        lam = omega.sum(axis=1) / (nk * d)  # start: as initial_estimate
        previous = None
        for _ in range(self.inner_max_iter):
            s = (omega * _safe_inverse(lam)[:, None]).sum(axis=0)
            shape = s / _geo(s)
            lam = (omega / shape).sum(axis=1) / (nk * d)
            current = lam[:, None] * shape
            if previous is not None and np.max(np.abs(current - previous)) <= (
                self.inner_tol * np.max(np.abs(current))
            ):
                break
            previous = current
        return _compose(vectors, lam[:, None] * shape)


class EVV(_General):
    """Ellipsoidal, equal volume, varying shape and orientation: ``Σₖ = λ Cₖ``."""

    name = "EVV"
    description = "mclust EVV: ellipsoidal, equal volume (λDₖAₖDₖᵀ)"

    def _estimate(self, scatter, nk):
        d = scatter.shape[1]
        scatter = _sym(scatter)
        _, logdet = np.linalg.slogdet(scatter)
        g = np.exp(logdet / d)  # det(Wₖ)^(1/d)
        return (g.sum() / nk.sum()) * scatter / g[:, None, None]


class VVV(_General):
    """Ellipsoidal, everything varying: ``Σₖ = λₖ Dₖ Aₖ Dₖᵀ`` (scikit-learn's full)."""

    name = "VVV"
    description = "mclust VVV: ellipsoidal, varying volume, shape and orientation"

    def _estimate(self, scatter, nk):
        return scatter / nk[:, None, None]


#: The plugin classes by mclust model name.
MODELS: dict[str, type[MclustCovariance]] = {
    cls.name: cls
    for cls in (EII, VII, EEI, VEI, EVI, VVI, EEE, VEE, EVE, VVE, EEV, VEV, EVV, VVV, E, V)
}
