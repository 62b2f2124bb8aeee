"""Listings that print cards, presets, data sets or pairs do not import torch (seconds of start-up for a table);
`list models`, which builds every model to count its parameters, does, and shows that the probe sees torch.

Each command runs in a fresh interpreter, through the CLI's own entry point, so that nothing this test session
imported hides an import. The check is on imports, not on time."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import json, sys
from dfkd_bench.cli import main

sys.argv = ["dfkd-bench", *sys.argv[1:]]
try:
    main()
    code = 0
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "torch": "torch" in sys.modules}))
"""


def _run(*args: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.parametrize(
    "args",
    [("list", "methods"), ("list", "datasets"), ("list", "presets"), ("list", "pairs"), ("list", "methods", "--json")],
    ids=" ".join,
)
def test_listings_do_not_import_torch(args: tuple[str, ...]):
    assert _run(*args) == {"code": 0, "torch": False}


def test_the_probe_sees_torch_when_a_listing_imports_it():
    assert _run("list", "models", "lenet5") == {"code": 0, "torch": True}
