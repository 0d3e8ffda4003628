"""Top-k probabilities averaged over the last n results (``--smooth N``)."""
from __future__ import annotations

import collections
from typing import Sequence

TopK = Sequence[tuple[str, float]]


class TopKSmoother:
    """Mean probability of each label over the last ``n`` results.

    A label missing from a result's top-k counts as 0 there, so a label that drops out
    fades instead of freezing at its last value. ``n = 1`` shows each result as it is.
    """

    def __init__(self, n: int = 1) -> None:
        if n < 1:
            raise ValueError(f"smoothing needs n >= 1, got {n}")
        self.n = int(n)
        self._history: collections.deque[dict[str, float]] = collections.deque(maxlen=self.n)

    def push(self, topk: TopK) -> list[tuple[str, float]]:
        """Add one result; the smoothed top-k (as many entries as ``topk`` has)."""
        self._history.append(dict(topk))
        if self.n == 1:
            return [(label, float(p)) for label, p in topk]
        totals: dict[str, float] = {}
        for probs in self._history:
            for label, p in probs.items():
                totals[label] = totals.get(label, 0.0) + p
        count = len(self._history)
        ranked = sorted(totals.items(), key=lambda item: item[1], reverse=True)
        return [(label, total / count) for label, total in ranked[: len(topk)]]

    def clear(self) -> None:
        """Forget the history (after a vocabulary edit: removed labels must not linger)."""
        self._history.clear()
