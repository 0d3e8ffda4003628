"""Can this domain show the failure EZSR's Lemma 1 describes? A geometry diagnostic.

InfoNCE distillation constrains the event embedding only through its similarities to
the image embeddings, so directions the images do not span are left free. That costs
zero-shot accuracy only if the *text* class directions have energy there. This module
measures, for a teacher and a labelled image set:

* how many directions the images really use (participation ratio of the covariance's
  eigenvalues, and the dimension covering ``variance`` of it);
* how much of the images' variance the class explains (between-class / total);
* the share of the text class-difference energy outside the image subspace;
* RGB zero-shot accuracy as is, after centring, after whitening inside the image
  subspace, and with random components of norm ``noise_norm`` added outside it (what an
  InfoNCE student may do at no cost to its own loss).

If null-space noise leaves the zero-shot accuracy where it was, no student can fail the
way Lemma 1 says on this domain, and a comparison of losses on it cannot test the claim.
Pure numpy over embeddings: it works for any open_clip model (``ezsr geometry``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

#: null-space noise that costs at least this much RGB zero-shot accuracy means the
#: directions the images leave free carry class information in text
LEMMA1_ACCURACY_DROP = 0.05


@dataclass(frozen=True)
class GeometryReport:
    images: int
    classes: int
    dim: int
    participation_ratio: float
    subspace_dim: int  # image principal directions covering `variance` of the variance
    variance: float
    class_variance_share: float  # between-class variance / total variance of the images
    text_energy_outside: float  # share of text class-difference energy outside the subspace
    zero_shot: float
    zero_shot_centred: float
    zero_shot_whitened: float
    zero_shot_null_noise: float
    noise_norm: float

    @property
    def null_noise_drop(self) -> float:
        return self.zero_shot - self.zero_shot_null_noise

    @property
    def can_show_lemma1(self) -> bool:
        return self.null_noise_drop >= LEMMA1_ACCURACY_DROP

    def to_json(self) -> dict:
        return {**asdict(self), "null_noise_drop": self.null_noise_drop, "can_show_lemma1": self.can_show_lemma1}

    def describe(self) -> str:
        verdict = ("yes: the directions the images leave free carry text class information"
                   if self.can_show_lemma1 else
                   "no: misalignment outside the image subspace costs (almost) nothing here")
        return "\n".join([
            f"{self.images} images, {self.classes} classes, {self.dim}-d embeddings",
            f"effective dimension (participation ratio): {self.participation_ratio:.1f} of {self.dim}; "
            f"{self.subspace_dim} directions hold {100 * self.variance:.0f} % of the variance",
            f"class explains {self.class_variance_share:.2f} of the image variance",
            f"text class-difference energy outside that subspace: {100 * self.text_energy_outside:.1f} %",
            f"RGB zero-shot: {100 * self.zero_shot:.1f} %; centred {100 * self.zero_shot_centred:.1f} %; "
            f"whitened {100 * self.zero_shot_whitened:.1f} %; null-space noise (norm {self.noise_norm:g}) "
            f"{100 * self.zero_shot_null_noise:.1f} %",
            f"can this domain show Lemma 1's failure? {verdict}",
        ])


def _normalise(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _accuracy(images: np.ndarray, text: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmax(_normalise(images) @ text.T, axis=1) == labels))


def diagnose(
    image_embeddings: np.ndarray,
    labels: np.ndarray,
    text_embeddings: np.ndarray,
    *,
    variance: float = 0.95,
    noise_norm: float = 1.0,
    seed: int = 0,
) -> GeometryReport:
    """``image_embeddings`` (N, D) and their class ``labels`` (N,) in 0..C-1;
    ``text_embeddings`` (C, D), one per class. Embeddings are L2-normalised first."""
    x = _normalise(np.asarray(image_embeddings, dtype=np.float64))
    t = _normalise(np.asarray(text_embeddings, dtype=np.float64))
    y = np.asarray(labels, dtype=np.int64)
    if x.ndim != 2 or t.ndim != 2 or x.shape[1] != t.shape[1] or len(y) != len(x):
        raise ValueError(f"shapes do not fit: images {x.shape}, labels {y.shape}, text {t.shape}")
    if len(x) < 2 or y.min() < 0 or y.max() >= len(t):
        raise ValueError("need at least two images whose labels index the text embeddings")
    if not 0 < variance <= 1:
        raise ValueError(f"variance must be in (0, 1], got {variance}")
    n, d = x.shape
    mean = x.mean(axis=0)
    xc = x - mean
    eigval, eigvec = np.linalg.eigh(xc.T @ xc / n)
    order = np.argsort(eigval)[::-1]
    eigval, eigvec = np.clip(eigval[order], 0.0, None), eigvec[:, order]
    total = float(eigval.sum())
    k = int(np.searchsorted(np.cumsum(eigval) / total, variance - 1e-12) + 1)
    basis = eigvec[:, :k]  # (D, k) image subspace

    class_means = np.stack([x[y == c].mean(axis=0) if np.any(y == c) else mean for c in range(len(t))])
    between = float(np.sum(np.linalg.norm(class_means[y] - mean, axis=1) ** 2) / n)

    tc = t - t.mean(axis=0)  # spans the pairwise class differences
    outside_t = tc - (tc @ basis) @ basis.T
    text_outside = float(np.sum(outside_t ** 2) / max(np.sum(tc ** 2), 1e-24))

    whitened = (xc @ basis) / np.sqrt(np.maximum(eigval[:k], 1e-12)) @ basis.T
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((n, d))
    noise -= (noise @ basis) @ basis.T  # only where the images do not vary
    noise = noise_norm * _normalise(noise) if k < d else np.zeros_like(noise)
    return GeometryReport(
        images=n, classes=len(t), dim=d,
        participation_ratio=float(total ** 2 / max(float(np.sum(eigval ** 2)), 1e-24)),
        subspace_dim=k, variance=variance,
        class_variance_share=between / max(total, 1e-24),
        text_energy_outside=text_outside,
        zero_shot=_accuracy(x, t, y),
        zero_shot_centred=_accuracy(xc, t, y),
        zero_shot_whitened=_accuracy(whitened, t, y),
        zero_shot_null_noise=_accuracy(x + noise, t, y),
        noise_norm=noise_norm,
    )
