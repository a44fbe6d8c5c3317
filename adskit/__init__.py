"""adskit: unsupervised anomalous sound detection of machines (batch uniformization, Neyman-Pearson)."""

from importlib.metadata import version

from ._utils import resolve_device, seed_everything

__version__ = version("adskit")
__all__ = ["__version__", "resolve_device", "seed_everything"]
