"""Path and query parameters shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$"

ModelId = Annotated[str, Path(pattern=ID_PATTERN, description="A model id (GET /models).")]
JobId = Annotated[str, Path(pattern=ID_PATTERN, description="A job id (GET /jobs).")]
CohortId = Annotated[str, Path(pattern=ID_PATTERN, description="A cohort id (a search's cohort_id).")]
Limit = Annotated[int, Query(ge=1, le=1000, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000, description="Rows to skip.")]
