"""Small-sample statistics for claims over seeds: Welch's t interval (with a t quantile of our own, so no SciPy),
a percentile bootstrap of a ratio of means, and a least-squares line with its R²."""

from __future__ import annotations

import math

import numpy as np

LEVEL = 0.95
BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0  # fixed: the same runs always give the same interval


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz, as in Numerical Recipes §6.4)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        for aa in (
            m * (b - m) * x / ((a - 1.0 + 2 * m) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 1.0 + 2 * m)),
        ):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b), for the t distribution without scipy."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T ≤ t) for Student's t with `df` (possibly fractional) degrees of freedom."""
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The t such that P(T ≤ t) = p, by bisection on `t_cdf` (Welch's df is fractional, so no table will do)."""
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        low, high = high, 2.0 * high
    for _ in range(200):
        mid = (low + high) / 2.0
        if t_cdf(mid, df) < p:
            low = mid
        else:
            high = mid
        if high - low < 1e-12:
            break
    return (low + high) / 2.0


def welch_ci(a: np.ndarray, b: np.ndarray, level: float = LEVEL) -> tuple[float, float, float]:
    """mean(a) − mean(b) and its Welch t interval (Welch–Satterthwaite df): seeds of two methods need not share a
    variance. The interval is NaN when a group has fewer than two values."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    diff = float(a.mean() - b.mean())
    if min(len(a), len(b)) < 2:
        return diff, math.nan, math.nan
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    if se == 0.0:  # every seed agrees: the difference is exact
        return diff, diff, diff
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = t_quantile(0.5 + level / 2.0, df) * se
    return diff, diff - half, diff + half


def bootstrap_ratio_ci(
    a: np.ndarray,
    b: np.ndarray,
    level: float = LEVEL,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float, float]:
    """mean(a) / mean(b) and its percentile-bootstrap interval, each group resampled on its own: a ratio of means
    has no simple closed-form interval. Deterministic (fixed RNG seed); NaN interval below two values a group."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    ratio = float(a.mean() / b.mean())
    if min(len(a), len(b)) < 2:
        return ratio, math.nan, math.nan
    rng = np.random.default_rng(seed)
    means_a = a[rng.integers(0, len(a), (resamples, len(a)))].mean(axis=1)
    means_b = b[rng.integers(0, len(b), (resamples, len(b)))].mean(axis=1)
    low, high = np.quantile(means_a / means_b, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return ratio, float(low), float(high)


def linear_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Least-squares slope, intercept and R² of y against x (R² is NaN when y is constant)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    slope, intercept = np.polyfit(x, y, 1)
    total = float(((y - y.mean()) ** 2).sum())
    residual = float(((y - (slope * x + intercept)) ** 2).sum())
    return float(slope), float(intercept), 1.0 - residual / total if total > 0 else math.nan
