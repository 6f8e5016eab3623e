"""Linear models fitted with numpy alone: the trainable part of every custom model.

Frozen features make the problem convex, so full-batch Adam on an L2-regularised loss
converges in a few hundred steps, deterministically (no random state is involved: the
weights start at zero).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STEPS = 300
LEARNING_RATE = 0.05
L2 = 1e-3


@dataclass(frozen=True)
class Standardiser:
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> Standardiser:
        std = x.std(axis=0)
        # Constant features (a ReLU that never fires on this data) must not blow up.
        return cls(x.mean(axis=0), np.where(std > 1e-6, std, 1.0))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.std


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free


def _adam(grad_fn, shapes, steps: int, lr: float) -> list[np.ndarray]:
    params = [np.zeros(s, np.float64) for s in shapes]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    b1, b2, eps = 0.9, 0.999, 1e-8
    for t in range(1, steps + 1):
        grads = grad_fn(params)
        for p, g, mi, vi in zip(params, grads, m, v, strict=True):
            mi *= b1
            mi += (1 - b1) * g
            vi *= b2
            vi += (1 - b2) * g * g
            p -= lr * (mi / (1 - b1**t)) / (np.sqrt(vi / (1 - b2**t)) + eps)
    return params


def fit_softmax(
    x: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    *,
    sample_weight: np.ndarray | None = None,
    l2: float = L2,
    steps: int = STEPS,
    lr: float = LEARNING_RATE,
) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression: (W (d, k), b (k,)) for integer targets `y`."""
    n, d = x.shape
    onehot = np.zeros((n, n_classes))
    onehot[np.arange(n), y] = 1.0
    w_s = np.ones(n) if sample_weight is None else np.asarray(sample_weight, float)
    w_s = w_s / w_s.sum()

    def grads(params):
        w, b = params
        err = (softmax(x @ w + b) - onehot) * w_s[:, None]
        return [x.T @ err + l2 * w, err.sum(axis=0)]

    w, b = _adam(grads, [(d, n_classes), (n_classes,)], steps, lr)
    return w, b


def fit_sigmoid(
    x: np.ndarray,
    y: np.ndarray,
    *,
    l2: float = L2,
    steps: int = STEPS,
    lr: float = LEARNING_RATE,
) -> tuple[np.ndarray, np.ndarray]:
    """One-vs-rest logistic regressions, one per column of the 0/1 matrix `y` (n, k);
    each column's positives and negatives weigh the same in total (labels are rare)."""
    n, d = x.shape
    k = y.shape[1]
    pos = y.sum(axis=0)
    w_pos = np.where(pos > 0, 0.5 / np.maximum(pos, 1), 0.0)
    w_neg = np.where(n - pos > 0, 0.5 / np.maximum(n - pos, 1), 0.0)
    weights = y * w_pos + (1 - y) * w_neg

    def grads(params):
        w, b = params
        err = (sigmoid(x @ w + b) - y) * weights
        return [x.T @ err + l2 * w, err.sum(axis=0)]

    w, b = _adam(grads, [(d, k), (k,)], steps, lr)
    return w, b


def ridge(x: np.ndarray, y: np.ndarray, l2: float) -> tuple[np.ndarray, np.ndarray]:
    """Least squares with an L2 penalty on the weights (not the intercept): (W, b)."""
    xm, ym = x.mean(axis=0), y.mean(axis=0)
    xc = x - xm
    n, d = x.shape
    if d <= n:
        w = np.linalg.solve(xc.T @ xc + l2 * np.eye(d), xc.T @ (y - ym))
    else:  # the dual form is the smaller system when there are fewer samples than features
        a = np.linalg.solve(xc @ xc.T + l2 * np.eye(n), y - ym)
        w = xc.T @ a
    return w, ym - xm @ w
