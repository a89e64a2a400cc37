import shutil
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ("Snakefile", "environment.yml", "config", "workflow", "notebooks", "src")


def copy_project(dest: Path) -> Path:
    """What a snakemake run of the project needs, copied into ``dest`` (tests run there, not in the checkout)."""
    for name in PROJECT:
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dest / name)
    return dest


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(autouse=True, scope="session")
def _single_thread_blas():
    """Tests use tiny matrices on a shared 2-core machine: BLAS threads spinning against other jobs cost 10x."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture
def one_thread():
    """One torch thread for a test that trains: bitwise comparisons and no oversubscription."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
