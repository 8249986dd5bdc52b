"""The fitted object an ensemble's artifact holds: its members' fitted pipelines and the final combination.

It predicts like any registered model's pipeline (``predict``, and ``predict_proba`` for classifiers)
on a frame holding every member's input features; each member reads only its own columns, so
members may use different feature subsets. Nothing is fitted here: the members were fitted when
they were trained, the weights or meta-model on their out-of-sample predictions of every fold
(:func:`walkforward.ensembles.nested.choose` with ``fold=None``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from walkforward.ensembles.nested import FoldChoice


@dataclass(frozen=True)
class Member:
    """One member: its registry id, fitted pipeline and the input columns it was fitted on."""

    model_id: str
    pipeline: Any
    input_features: tuple[str, ...]


class EnsembleEstimator:
    """Members' forecasts combined by fixed weights or a fitted meta-model (see :class:`FoldChoice`).

    ``members`` are the chosen members only (in the order of ``choice.members``' columns).
    """

    def __init__(self, *, members: Sequence[Member], choice: FoldChoice, method: str, classifier: bool) -> None:
        self.members = list(members)
        self.choice = choice
        self.method = method
        self.classifier = classifier

    @property
    def input_features(self) -> list[str]:
        """Every member's input columns, once each, in first-seen order."""
        return list(dict.fromkeys(c for m in self.members for c in m.input_features))

    def member_forecasts(self, X: pd.DataFrame) -> np.ndarray:
        """Rows x members: each member's prediction (P(up) for classifiers) from its own columns."""
        columns = []
        for m in self.members:
            Xm = X.loc[:, list(m.input_features)]
            if self.classifier:
                columns.append(np.asarray(m.pipeline.predict_proba(Xm)[:, 1], dtype=float))
            else:
                columns.append(np.asarray(m.pipeline.predict(Xm), dtype=float))
        return np.column_stack(columns)

    def _combined(self, X: pd.DataFrame) -> np.ndarray:
        forecasts = self.member_forecasts(X)
        # The choice indexes columns of the candidates' matrix; here the columns are the members, in order.
        return _positional(self.choice).combine(forecasts, classifier=self.classifier)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The combined forecast (regressors) or the 0/1 label of P(up) >= 0.5 (classifiers)."""
        combined = self._combined(X)
        return (combined >= 0.5).astype(np.int64) if self.classifier else combined

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Classifiers: [P(down), P(up)] per row."""
        if not self.classifier:
            raise AttributeError("a regression ensemble has no predict_proba")
        p = np.clip(self._combined(X), 0.0, 1.0)
        return np.column_stack([1.0 - p, p])


def _positional(choice: FoldChoice) -> FoldChoice:
    import dataclasses

    return dataclasses.replace(choice, members=tuple(range(len(choice.members))))
