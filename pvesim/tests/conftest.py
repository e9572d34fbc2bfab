from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import pytest

from pvesim import Simulator
from sim_support import make_client


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def sim() -> Simulator:
    return Simulator()


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[httpx2.AsyncClient]:
    async with make_client(sim) as c:
        yield c
