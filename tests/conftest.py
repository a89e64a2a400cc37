from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(autouse=True, scope="session")
def _single_thread_blas():
    """Tests use tiny matrices on a shared 2-core machine: BLAS threads spinning against other jobs cost 10x."""
    with threadpool_limits(limits=1):
        yield
