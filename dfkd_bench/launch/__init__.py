"""Launchers decide where cells run; each one drives `run-one --out DIR --index I` (or its in-process twin)."""

from dfkd_bench.launch.base import LAUNCHERS, Launcher, LaunchSettings

__all__ = ["LAUNCHERS", "LaunchSettings", "Launcher"]

from dfkd_bench.launch import inline, local, slurm  # noqa: E402,F401  (registration)
