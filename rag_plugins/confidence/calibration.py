"""Map raw confidence features to calibrated probabilities: Platt (logistic) or isotonic."""

from __future__ import annotations

from typing import Any

import numpy as np

from rag_plugins.errors import CalibrationError


class PlattCalibrator:
    """Logistic regression on standardised features, fitted by Newton's method with a
    small L2 penalty (Platt scaling generalised to several features). JSON round-trips.

    >>> x = np.arange(12.0)[:, None]; y = (x[:, 0] > 5).astype(int)
    >>> cal = PlattCalibrator().fit(x, y)
    >>> bool(cal.predict(np.array([[11.0]]))[0] > 0.5 > cal.predict(np.array([[0.0]]))[0])
    True
    """

    kind = "platt"

    def __init__(self, l2: float = 1.0):
        self.l2 = l2
        self.mean: np.ndarray | None = None
        self.scale: np.ndarray | None = None
        self.coef: np.ndarray | None = None  # bias first

    def fit(self, x: np.ndarray, y: np.ndarray) -> "PlattCalibrator":
        x, y = _check_xy(x, y)
        self.mean = x.mean(axis=0)
        self.scale = np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
        design = np.hstack([np.ones((len(x), 1)), (x - self.mean) / self.scale])
        w = np.zeros(design.shape[1])
        penalty = np.full(len(w), self.l2)
        penalty[0] = 0.0
        for _ in range(100):
            p = _sigmoid(design @ w)
            grad = design.T @ (p - y) + penalty * w
            hess = (design * (p * (1 - p))[:, None]).T @ design + np.diag(penalty + 1e-9)
            step = np.linalg.solve(hess, grad)
            w -= step
            if np.abs(step).max() < 1e-10:
                break
        self.coef = w
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self.coef is None:
            raise CalibrationError("the calibrator is not fitted; call fit() or load a fitted one")
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        return _sigmoid(self.coef[0] + ((x - self.mean) / self.scale) @ self.coef[1:])

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "l2": self.l2, "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "coef": self.coef.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "PlattCalibrator":
        cal = cls(l2=float(data["l2"]))
        cal.mean, cal.scale, cal.coef = (np.asarray(data[k], dtype=np.float64) for k in ("mean", "scale", "coef"))
        if not (len(cal.mean) == len(cal.scale) == len(cal.coef) - 1):
            raise CalibrationError("the calibration file's mean, scale and coef lengths disagree")
        return cal


class IsotonicCalibrator:
    """A logistic model's output mapped through an isotonic (monotone, pool-adjacent-
    violators) fit: no shape assumption beyond "more evidence is not worse"."""

    kind = "isotonic"

    def __init__(self, l2: float = 1.0):
        self.base = PlattCalibrator(l2)
        self.knots_x: np.ndarray | None = None
        self.knots_y: np.ndarray | None = None

    def fit(self, x: np.ndarray, y: np.ndarray) -> "IsotonicCalibrator":
        x, y = _check_xy(x, y)
        raw = self.base.fit(x, y).predict(x)
        self.knots_x, self.knots_y = _pav(raw, y)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self.knots_x is None:
            raise CalibrationError("the calibrator is not fitted; call fit() or load a fitted one")
        return np.interp(self.base.predict(x), self.knots_x, self.knots_y)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "base": self.base.to_dict(), "knots_x": self.knots_x.tolist(),
                "knots_y": self.knots_y.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "IsotonicCalibrator":
        cal = cls()
        cal.base = PlattCalibrator.from_dict(data["base"])
        cal.knots_x = np.asarray(data["knots_x"], dtype=np.float64)
        cal.knots_y = np.asarray(data["knots_y"], dtype=np.float64)
        return cal


CALIBRATORS = {"platt": PlattCalibrator, "isotonic": IsotonicCalibrator}


def calibrator_from_dict(data: dict[str, Any]) -> PlattCalibrator | IsotonicCalibrator:
    kind = data.get("kind")
    if kind not in CALIBRATORS:
        raise CalibrationError(f"unknown calibrator kind {kind!r}; expected one of {sorted(CALIBRATORS)}")
    return CALIBRATORS[kind].from_dict(data)


def _check_xy(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if len(x) != len(y):
        raise CalibrationError(f"got {len(x)} feature rows but {len(y)} labels")
    if len(y) < 10:
        raise CalibrationError(f"calibration needs at least 10 labelled queries, got {len(y)}")
    if not np.isfinite(x).all():
        raise CalibrationError("calibration features contain NaN or infinite values")
    if y.min() == y.max():
        raise CalibrationError("calibration labels are all the same; the split needs both successes and failures")
    return x, y


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _pav(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pool adjacent violators: the non-decreasing step fit of y on x, as knots."""
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order]
    blocks: list[list[float]] = []  # [sum_y, count, x_min, x_max]
    for xv, yv in zip(xs, ys):
        blocks.append([yv, 1.0, xv, xv])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] >= blocks[-1][0] / blocks[-1][1]:
            s, c, lo, hi = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += c
            blocks[-1][3] = hi
    knots_x, knots_y = [], []
    for s, c, lo, hi in blocks:
        knots_x.extend([lo, hi])
        knots_y.extend([s / c, s / c])
    return np.asarray(knots_x), np.asarray(knots_y)
