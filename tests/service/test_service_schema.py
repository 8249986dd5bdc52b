"""Property-based: requests generated from the OpenAPI schema never get a 5xx (schemathesis + hypothesis)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

#: Generated requests per operation (about 20 operations): keeps the run well under a minute.
EXAMPLES = 15


@pytest.mark.slow
def test_no_generated_request_gets_a_server_error(make_app: Callable[..., Any]) -> None:
    # The app has no job runner: POST /train is fuzzed too, and what it accepts just stays queued.
    schema = schemathesis.openapi.from_asgi("/openapi.json", make_app())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            case.call_and_validate(checks=[not_a_server_error])

        check()
