import os

import matplotlib
import pytest

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_collection_modifyitems(config, items):
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def synthetic_data_dir(tmp_path_factory):
    """A data folder for the session (ADSKIT_DATA), so tests never write into the user's cache."""
    return tmp_path_factory.mktemp("adskit-data")


@pytest.fixture
def one_thread():
    """Torch on one thread for the test: small networks run faster so, and two threads on a busy 2-core machine
    spin-wait (10-100x slower). Modules opt in with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
