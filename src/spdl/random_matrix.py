"""Random-matrix laws: the Marchenko-Pastur law of noise singular values and the spiked model.

Conventions (those of ``spdl.studies.deep_linear``, which imports these functions)
- ``Z`` is an ``N3 x N1`` matrix with i.i.d. entries ``N(0, 1/N1)``; the aspect ratio is
  ``A = N3 / N1``. For ``A <= 1`` the ``N3`` singular values of ``Z`` follow the Marchenko-Pastur
  law on ``[1 - sqrt(A), 1 + sqrt(A)]``, with mean square 1.
- ``A > 1`` is supported: the law of the ``min(N1, N3) = N1`` non-zero singular values, on
  ``[sqrt(A) - 1, sqrt(A) + 1]``, with mean square ``A``.
- A spiked matrix is ``sbar u v^T + Z`` with unit vectors ``u, v``; above the detection
  threshold ``sbar > A^(1/4)`` its top singular value ``shat`` separates from the bulk and its
  singular vectors overlap the spike's (Benaych-Georges & Nadakuditi 2012).

Every function is pure numpy/scipy and broadcasts over its array arguments.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import integrate

__all__ = [
    "check_aspect",
    "detection_threshold",
    "mp_support",
    "mp_density",
    "mp_cdf",
    "mp_quantiles",
    "mp_integral",
    "spiked_shat",
    "spiked_overlap",
    "shat_to_sbar",
]


def detection_threshold(aspect):
    """Detection threshold ``sbar_c = A^(1/4)`` (deep_linear spec, Theory; 0.84 at A = 1/2).

    Teacher modes with ``sbar <= A^(1/4)`` are lost in the noise bulk.
    """
    return np.asarray(aspect, dtype=float) ** 0.25


def check_aspect(aspect):
    """The aspect ratio as a float array; ValueError unless every entry is > 0."""
    a = np.asarray(aspect, dtype=float)
    if np.any(~(a > 0)):
        raise ValueError(f"aspect ratio must be > 0, got {aspect!r}")
    return a


def mp_density(s, aspect):
    """Marchenko-Pastur density of the noise singular values (deep_linear spec, Theory).

    ``p(s) = sqrt(4A - (s^2 - 1 - A)^2) / (pi A s)`` on
    ``[1 - sqrt(A), 1 + sqrt(A)]`` and 0 outside, for ``A = N3/N1 <= 1`` and
    noise entries of variance ``1/N1``.  It is the density of the singular
    values of ``Z`` (``N3 x N1``) and satisfies ``int p = 1`` and
    ``int s^2 p = (1/N3) E tr Z Z^T = 1``.

    At ``A = 1`` the lower edge is 0 and the density tends to the finite
    quarter-circle value ``sqrt(4 - s^2)/pi`` (``2/pi`` at ``s = 0``), which is
    returned there instead of ``0/0``.

    For ``A > 1`` (not in the paper) the normalised density of the
    ``min(N1, N3) = N1`` non-zero singular values is returned:
    support ``[sqrt(A) - 1, sqrt(A) + 1]`` and the prefactor ``1/(pi A s)``
    becomes ``1/(pi s)``; then ``int s^2 p = A``.
    """
    a = check_aspect(aspect)
    s = np.asarray(s, dtype=float)
    s, a = np.broadcast_arrays(s, a)
    ra = np.sqrt(a)
    lo, hi = np.abs(1.0 - ra), 1.0 + ra
    # (hi^2 - s^2)(s^2 - lo^2) == 4A - (s^2 - 1 - A)^2, factorised so that the
    # A = 1 case is an exact s^2 (4 - s^2).
    inside = (s >= lo) & (s <= hi) & (s > 0)
    s_safe = np.where(inside, s, 1.0)
    rad = (hi * hi - s_safe**2) * (s_safe - lo) * (s_safe + lo)
    dens = np.sqrt(np.clip(rad, 0.0, None)) / (np.pi * np.minimum(a, 1.0) * s_safe)
    out = np.where(inside, dens, 0.0)
    # limit at s = 0 when the lower edge is 0 (A == 1)
    out = np.where((s == 0) & (lo == 0), 2.0 / np.pi, out)
    return out[()] if out.ndim == 0 else out


def mp_support(aspect):
    """Edges ``(|1 - sqrt(A)|, 1 + sqrt(A))`` of the law of the non-zero singular values."""
    ra = np.sqrt(check_aspect(aspect))
    return np.abs(1.0 - ra), 1.0 + ra


@functools.lru_cache(maxsize=64)
def _mp_cdf_table(aspect: float, n_grid: int = 100_001):
    """CDF of the MP law in the angle variable ``s^2 = 1 + A - 2 sqrt(A) cos(theta)``.

    In that variable the density is ``2 max(A,1) sin^2(theta) / (pi s^2)`` on
    ``[0, pi]``: smooth, with no square-root edge, so the cumulative trapezoid
    is accurate to ~1e-10 on this grid.
    """
    theta = np.linspace(0.0, np.pi, n_grid)
    lam = 1.0 + aspect - 2.0 * np.sqrt(aspect) * np.cos(theta)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = 2.0 * max(aspect, 1.0) * np.sin(theta) ** 2 / (np.pi * lam)
    f[~np.isfinite(f)] = 2.0 / np.pi if aspect == 1.0 else 0.0  # theta=0 at A=1
    cdf = integrate.cumulative_trapezoid(f, theta, initial=0.0)
    cdf /= cdf[-1]
    return theta, cdf, lam


def mp_cdf(s, aspect):
    """Marchenko-Pastur CDF ``P(S <= s)`` of the noise singular values (scalar aspect).

    Same law and normalisation as :func:`mp_density` (including ``A > 1``); 0 below the lower
    edge, 1 above the upper one.  Read off the tabulated CDF in the angle variable
    ``s^2 = 1 + A - 2 sqrt(A) cos(theta)`` (see ``_mp_cdf_table``), accurate to ~1e-6.
    """
    a = float(check_aspect(aspect))
    theta, cdf, _ = _mp_cdf_table(a)
    s = np.asarray(s, dtype=float)
    cos_theta = (1.0 + a - s * s) / (2.0 * np.sqrt(a))
    out = np.interp(np.arccos(np.clip(cos_theta, -1.0, 1.0)), theta, cdf)
    out = np.where(s < 0, 0.0, np.where(np.isnan(s), np.nan, out))
    return out[()] if out.ndim == 0 else out


def mp_quantiles(n, aspect):
    """``n`` typical noise singular values: MP quantiles at probabilities
    ``(i - 0.5)/n``, ``i = 1..n``, returned in DESCENDING order.

    These replace the authors' Riemann sums over the MP density (deep_linear spec, Theory)
    by a deterministic "typical spectrum".  The CDF is inverted on a fine grid
    in the angle variable (see ``_mp_cdf_table``), accurate to ~1e-5 in ``s``.
    Same normalisation as :func:`mp_density` (also valid for ``A > 1``).
    """
    n = int(n)
    if n <= 0:
        return np.zeros(0)
    a = float(check_aspect(aspect))
    theta, cdf, _ = _mp_cdf_table(a)
    prob = (np.arange(1, n + 1) - 0.5) / n
    th = np.interp(prob, cdf, theta)
    s = np.sqrt(1.0 + a - 2.0 * np.sqrt(a) * np.cos(th))
    return s[::-1].copy()


def mp_integral(f, aspect, prob_lo=0.0, prob_hi=1.0, n_nodes=256):
    """``int f(s) p(s) ds`` over the part of the Marchenko-Pastur law between its quantiles
    ``prob_lo`` and ``prob_hi`` (probability mass; the full law by default), by quadrature.

    The authors of the deep_linear study integrate the MP density; this replaces sums over MP
    quantiles, which are a midpoint rule in probability and are 1-4 % off the integral at
    N3 = 25-50 (deep_linear spec, last section). The integral is taken in the angle variable
    ``s^2 = 1 + A - 2 sqrt(A) cos(theta)``, where the law has the smooth density
    ``2 max(A, 1) sin^2(theta) / (pi s^2)`` on ``[0, pi]`` (no square-root edges), with
    Gauss-Legendre quadrature of ``n_nodes`` nodes (``scipy.integrate.fixed_quad``). The
    quantile bounds are read off the tabulated CDF (``_mp_cdf_table``, ~1e-6).

    ``f`` is called once with a 1-d array of singular values (the nodes) and must return an
    array whose LAST axis runs over them (leading axes, e.g. time, are kept in the result).
    Same law and normalisation as :func:`mp_density` (scalar aspect, also ``A > 1``).
    """
    a = float(check_aspect(aspect))
    if not 0.0 <= prob_lo <= prob_hi <= 1.0:
        raise ValueError(f"need 0 <= prob_lo <= prob_hi <= 1, got {prob_lo}, {prob_hi}")
    theta, cdf, _ = _mp_cdf_table(a)
    th_lo, th_hi = np.interp([prob_lo, prob_hi], cdf, theta)
    ra = np.sqrt(a)

    def integrand(th):
        s2 = 1.0 + a - 2.0 * ra * np.cos(th)
        weight = 2.0 * max(a, 1.0) * np.sin(th) ** 2 / (np.pi * s2)
        return np.asarray(f(np.sqrt(s2)), dtype=float) * weight

    if th_hi <= th_lo:
        return np.zeros(np.shape(integrand(np.array([0.5 * np.pi])))[:-1])[()]
    val, _ = integrate.fixed_quad(integrand, th_lo, th_hi, n=int(n_nodes))
    return val[()] if np.ndim(val) == 0 else val


def spiked_shat(sbar, aspect):
    """Top singular value of ``sbar u v^T + Z`` (Benaych-Georges & Nadakuditi;
    deep_linear spec, Theory): ``sqrt((1 + sbar^2)(A + sbar^2)) / sbar`` for
    ``sbar > A^(1/4)``, else the bulk edge ``1 + sqrt(A)``.
    """
    a = check_aspect(aspect)
    sb = np.asarray(sbar, dtype=float)
    sb, a = np.broadcast_arrays(sb, a)
    above = sb > a**0.25
    sb_safe = np.where(above, sb, 1.0)
    val = np.sqrt((1.0 + sb_safe**2) * (a + sb_safe**2)) / sb_safe
    out = np.where(above, val, 1.0 + np.sqrt(a))
    return out[()] if out.ndim == 0 else out


def spiked_overlap(sbar, aspect):
    """Overlap ``O(sbar) = |uhat.ubar| |vhat.vbar|`` (deep_linear spec, Theory):

    ``sqrt(1 - A(1+sbar^2)/(sbar^2 (A+sbar^2))) * sqrt(1 - (A+sbar^2)/(sbar^2 (1+sbar^2)))``
    above ``sbar > A^(1/4)``, 0 below.
    """
    a = check_aspect(aspect)
    sb = np.asarray(sbar, dtype=float)
    sb, a = np.broadcast_arrays(sb, a)
    above = sb > a**0.25
    x = np.where(above, sb, 1.0) ** 2
    f1 = 1.0 - a * (1.0 + x) / (x * (a + x))
    f2 = 1.0 - (a + x) / (x * (1.0 + x))
    val = np.sqrt(np.clip(f1, 0.0, None) * np.clip(f2, 0.0, None))
    out = np.where(above, val, 0.0)
    return out[()] if out.ndim == 0 else out


def shat_to_sbar(shat, aspect):
    """Inverse of :func:`spiked_shat` above the bulk edge.

    ``shat^2 sbar^2 = (1 + sbar^2)(A + sbar^2)`` is a quadratic in
    ``x = sbar^2``: ``x^2 + (1 + A - shat^2) x + A = 0``; the larger root
    (``x >= sqrt(A)``, i.e. ``sbar >= A^(1/4)``) is the detectable branch.
    Returns ``A^(1/4)`` at ``shat = 1 + sqrt(A)`` and ``nan`` for
    ``shat < 1 + sqrt(A)`` (no detectable spike: the inverse is undefined).
    """
    a = check_aspect(aspect)
    sh = np.asarray(shat, dtype=float)
    sh, a = np.broadcast_arrays(sh, a)
    b = sh**2 - 1.0 - a
    disc = b * b - 4.0 * a
    ok = (sh >= 1.0 + np.sqrt(a)) & (disc >= -1e-12)
    x = 0.5 * (b + np.sqrt(np.clip(disc, 0.0, None)))
    out = np.where(ok, np.sqrt(np.clip(x, 0.0, None)), np.nan)
    return out[()] if out.ndim == 0 else out

