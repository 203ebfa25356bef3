"""Package layout that pyproject.toml cannot say on its own: the top-level ``assets/`` folder is
installed inside the package as ``studio/assets`` (found by :func:`studio.paths.asset`), next to every
``studio`` package found on disk. Everything else is in pyproject.toml."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["studio", "studio.*"]), "studio.assets"],
    package_dir={"studio.assets": "assets"},
)
