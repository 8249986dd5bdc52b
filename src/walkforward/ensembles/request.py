"""What an ensemble is built from, declared once for the CLI, the API body and the library.

Apart from :mod:`walkforward.request`: an ensemble is not a training request (no data is loaded and
nothing is fitted on features); it names registered models and how to combine them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from walkforward.errors import InvalidInputError

_ID = r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$"
#: Most candidates an ensemble may be built from (each member's artifact is loaded into it).
MAX_CANDIDATES = 200


class EnsembleMethod(StrEnum):
    """How the chosen members' forecasts are combined."""

    AVERAGE = "average"
    INVERSE_VARIANCE = "inverse_variance"
    STACKING = "stacking"


class FirstFold(StrEnum):
    """The first fold has no earlier fold to choose on: combine every candidate equally, or leave it out."""

    EQUAL = "equal"
    SKIP = "skip"


class EnsembleRequest(BaseModel):
    """Registered models to combine (explicit ids or a cohort's) and how."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    models: tuple[Annotated[str, Field(pattern=_ID)], ...] | None = Field(
        default=None, min_length=2, max_length=MAX_CANDIDATES, description="Model ids to combine (at least two)."
    )
    from_cohort: str | None = Field(default=None, pattern=_ID, description="Combine this cohort's models.")
    top: int | None = Field(
        default=None,
        ge=1,
        le=MAX_CANDIDATES,
        description="Members per fold: the best K by their score on earlier folds (default: every candidate).",
    )
    method: EnsembleMethod = Field(
        default=EnsembleMethod.AVERAGE,
        description="average, inverse_variance (weights 1/MSE on earlier folds) or stacking (a meta-model "
        "fitted on earlier folds' predictions).",
    )
    first_fold: FirstFold = Field(
        default=FirstFold.EQUAL,
        description="The first fold, with no earlier fold: equal weights over every candidate, or skip it.",
    )

    @field_validator("models", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):  # "a,b,c" from a command line
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return value

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.models is None) == (self.from_cohort is None):
            raise ValueError(
                "name the members either by models (ids) or by from_cohort (a cohort id), not both or neither"
            )
        if self.models is not None and len(set(self.models)) != len(self.models):
            raise ValueError("models lists a model twice: list each once")
        return self


def parse_ensemble(data: dict[str, Any]) -> EnsembleRequest:
    """An :class:`EnsembleRequest` from plain values, or one line naming the field and the fix."""
    from walkforward.request import describe_errors

    try:
        return EnsembleRequest.model_validate(data)
    except ValidationError as exc:
        raise InvalidInputError(describe_errors(exc.errors())) from None
