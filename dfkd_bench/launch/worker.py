"""The primitive every launcher calls: claim one cell, run (or resume) it, release it."""

from __future__ import annotations

from typing import Any

from dfkd_bench.claims import Claim, claim_folder
from dfkd_bench.engine.run import CellAbandoned, EpochObserver, run_cell
from dfkd_bench.engine.spec import ResolvedCell, RunOptions, RunSpec
from dfkd_bench.errors import BadInput
from dfkd_bench.loggers import mirrored
from dfkd_bench.summary import update_summary

HELD = "held"
"""Status of a cell another live worker holds: try it again later."""


class _ClaimGuard:
    """Stops the cell at the epoch boundary, before it writes the epoch, when another worker has taken its claim
    over (seen by the heartbeat thread or on disk now)."""

    def __init__(self, claim: Claim, inner: EpochObserver | None) -> None:
        self.claim, self.inner = claim, inner

    def before_save(self, spec: RunSpec) -> None:
        if self.claim.lost.is_set() or not self.claim.still_held():
            raise CellAbandoned(spec.label)

    def epoch_done(self, spec: RunSpec, record: dict[str, Any], epochs: int) -> None:
        if self.inner is not None:
            self.inner.epoch_done(spec, record, epochs)


def _identity(spec: RunSpec, status: str, error: str | None = None) -> dict[str, Any]:
    return {"status": status, **spec.identity(), "error": error}


def execute(
    cell: ResolvedCell, opts: RunOptions, observer: EpochObserver | None = None, claim: Claim | None = None
) -> dict[str, Any]:
    """Run one resolved cell under a claim. A failing cell is recorded and returned, never raised (bad input is
    raised); a cell held by another live worker returns status 'held'."""
    spec, path = cell.spec, cell.path
    claim = claim or Claim(claim_folder(opts.out, path))
    if not claim.try_acquire():
        return _identity(spec, HELD)
    with claim:
        try:
            with mirrored(cell, opts, observer) as watched:
                result = run_cell(cell, opts, _ClaimGuard(claim, watched))
        except (BadInput, KeyboardInterrupt):
            raise
        except CellAbandoned:
            return _identity(spec, HELD)
        except Exception as err:
            result = _identity(spec, "failed", f"{type(err).__name__}: {err}")
    update_summary(opts.out, path)
    return result
