from __future__ import annotations

import pytest

from pvesim import Simulator


@pytest.fixture
def sim() -> Simulator:
    return Simulator()
