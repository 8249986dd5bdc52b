"""Checks of a request that need the feature store or the registry, before any data is read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from walkforward.errors import InvalidInputError
from walkforward.request import SearchRequest, SearchStrategy, TrainRequest

if TYPE_CHECKING:
    from walkforward.features.store import FeatureStore
    from walkforward.registry import ModelStore


def check_request(req: TrainRequest, *, store: FeatureStore, registry: ModelStore | None = None) -> None:
    """What needs the store or registry, before any data is read: symbols, features, parent, estimator.

    Raises
    ------
    InvalidInputError
        With the same message whichever entry point (CLI, API, job worker, library) asked.
    """
    held = store.symbols()
    missing = [s for s in req.symbols if s not in held]
    unfinished = [s for s in missing if store.unfinished(s)]
    if unfinished:
        raise InvalidInputError(
            f"{', '.join(unfinished)}: an ingest did not finish, so the store holds none of its data; "
            "rerun `walkforward ingest` with its bars"
        )
    if missing:
        holds = ", ".join(held[:20]) if held else "nothing yet"
        raise InvalidInputError(
            f"unknown symbol(s) {', '.join(missing)}: the feature store holds {holds}; "
            "ingest the bars first (`walkforward ingest FILE`) or fix the symbol"
        )
    if req.feature_whitelist is not None:
        known = _known_features(store, req.symbols, req.data_options)
        unknown = [f for f in req.feature_whitelist if f not in known]
        if unknown:
            raise InvalidInputError(
                f"feature_whitelist names unknown feature(s) {', '.join(unknown[:8])}: "
                f"see `walkforward dataset {req.symbol}` for the available ones"
            )
    if req.parent_model_id is not None and registry is not None:
        from walkforward.registry import ModelNotFoundError

        try:
            registry.get(req.parent_model_id)
        except ModelNotFoundError:
            raise InvalidInputError(
                f"unknown parent_model_id {req.parent_model_id}: no such model in the registry; "
                "give the full id of a registered model, or no parent (`walkforward models list` shows the ids)"
            ) from None
    try:
        req.spec.probe(req.hyperparameters)
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from None
    if isinstance(req, SearchRequest) and req.search != SearchStrategy.NONE:
        for name, param in req.spec.grid_names.items():
            for value in req.grids.get(name, ()):
                try:
                    req.spec.probe({**req.hyperparameters, param: value})
                except ValueError as exc:
                    raise InvalidInputError(f"{exc} (in {name})") from None


def _known_features(store: FeatureStore, symbols: Sequence[str], options: str | None) -> set[str]:
    known = set(store.feature_names(symbols[0], options))
    for sym in symbols[1:]:
        suffix = "_" + sym.replace(".", "_").replace("-", "_")  # the loader's naming of context features
        known |= {f"{f}{suffix}" for f in store.feature_names(sym, options)}
    return known


__all__ = ["check_request"]
