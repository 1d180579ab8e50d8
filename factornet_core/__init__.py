"""FactorNet core library: data, model, training, prediction, metrics and interpretation.

The library never parses command lines, prints or exits; user-facing problems are raised as
:class:`factornet_core.errors.FactorNetError` and turned into one clean line by the CLI.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("factornet")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.1.0"

from factornet_core.errors import FactorNetError  # noqa: E402

__all__ = ["FactorNetError", "__version__"]
