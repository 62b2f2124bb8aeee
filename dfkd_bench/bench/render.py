"""A bench result as a terminal table and as the markdown of a committed report (reports/bench-cpu.md), both from
the JSON `bench --json` prints, so a report can be regenerated from a saved result without measuring again."""

from __future__ import annotations

from typing import Any

from dfkd_bench.terminal import Column, FitTable

OVERHEAD_LIMIT = 0.05
"""The share of a KD step allowed outside the network passes for pool methods (issue 15's target)."""

# What `method.sample()` does for each algorithm, named in the reason for an overhead above the limit.
SAMPLE_WORK = {
    "generative": "a generator forward for every KD batch",
    "kd": "real-data augmentation (crop, flip, normalise)",
    "supervised": "real-data augmentation (crop, flip, normalise)",
    "ssdkd": "priority sampling and replay augmentation (crop, flip, normalise)",
}
REPLAY = "replay augmentation (crop, flip, normalise)"

COLUMNS = (
    Column("method"),
    Column("dataset", context=True),
    Column("pair", context=True),
    Column("precision", context=True),
    Column("synth img/s", justify="right"),
    Column("KD img/s", justify="right"),
    Column("GFLOP/step", keep=2, justify="right"),
    Column("TFLOP/s", justify="right"),
    Column("util.", justify="right"),
    Column("overhead", justify="right"),
    Column("epoch s", keep=1, justify="right"),
)


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _share(value: float) -> str:
    return f"{100 * value:.1f} %"


def _synthesis_rate(cell: dict[str, Any]) -> float | None:
    return cell["synthesis"]["images_per_s"] if cell["synthesis"] else None


def overhead_reason(cell: dict[str, Any]) -> str:
    """Why a cell's KD step spends more than OVERHEAD_LIMIT outside its network passes: the measured shares of
    `sample()` and of the rest of the step (loss parts, optimiser step, statistics, after-step hooks)."""
    parts = cell["overhead_parts"]
    work = SAMPLE_WORK.get(cell["algorithm"], REPLAY)
    return (
        f"sample() {_share(parts['sample'])} of the step ({work}); loss parts, optimiser step and statistics "
        f"{_share(parts['step'])}"
    )


def bench_table(result: dict[str, Any]) -> FitTable:
    peaks = "; ".join(f"{p} {v['tflops']:.3g} TFLOP/s ({v['source']})" for p, v in result["peaks"].items())
    caption = (
        "overhead: share of a real KD step outside its bare network passes; epoch s: estimated seconds of a KD "
        "epoch at this cell's budget"
    )
    table = FitTable(f"bench on {result['device']}, peak {peaks}", COLUMNS, caption=caption)
    for cell in result["cells"]:
        table.add_row(
            cell["method"],
            cell["dataset"],
            cell["pair"],
            cell["fast_path"]["precision"],
            _rate(_synthesis_rate(cell)),
            _rate(cell["kd"]["images_per_s"]),
            f"{cell['flops']['kd_step'] / 1e9:.3g}",
            f"{cell['achieved_tflops']:.3g}",
            _share(cell["utilisation"]),
            _share(cell["harness_overhead"]),
            f"{cell['epoch_seconds']['kd']:.1f}",
        )
    return table


def default_title(result: dict[str, Any]) -> str:
    """'KD-step bench: mnist, lenet5_bn-lenet5_half_bn, proxy budget' from what the cells share."""
    cells = result["cells"]
    facts = [", ".join(dict.fromkeys(str(c[key]) for c in cells)) for key in ("dataset", "pair")]
    budgets = ", ".join(dict.fromkeys(c["budget"] or "default" for c in cells))
    return f"KD-step bench: {'; '.join(facts)}; {budgets} budget"


def markdown(result: dict[str, Any], title: str | None = None) -> str:
    """The report: how it was measured, the table, the overhead verdict for pool methods, and the definitions."""
    title = title or default_title(result)
    settings = result["settings"]
    peaks = "; ".join(f"{p}: {v['tflops']:.3g} TFLOP/s ({v['source']})" for p, v in result["peaks"].items())
    lines = [
        f"# {title}",
        "",
        f"Measured {result['measured_at']} on {result['device']} (torch {result['torch']}) with `dfkd-bench "
        f"bench`: per cell one warm-up synthesis round, then {settings['synthesis_rounds']} timed round(s); "
        f"{settings['warmup_steps']} warm-up KD steps, then {settings['kd_steps']} timed ones in "
        f"{settings['blocks']} blocks alternating with the bare passes (the fastest block counts). Peak {peaks}.",
        "",
        "| method | pair | precision | synthesis img/s | KD img/s | KD step (ms) | bare passes (ms) | harness "
        "overhead | GFLOP / KD step | achieved GFLOP/s | utilisation | KD epoch (s, est.) | reason (overhead > 5 %) |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for cell in result["cells"]:
        over = cell["harness_overhead"] > OVERHEAD_LIMIT
        lines.append(
            f"| {cell['method']} | {cell['pair']} | {cell['fast_path']['precision']} | "
            f"{_rate(_synthesis_rate(cell))} | {_rate(cell['kd']['images_per_s'])} | "
            f"{1e3 * cell['kd']['seconds_per_step']:.2f} | {1e3 * cell['bare_seconds_per_step']:.2f} | "
            f"{_share(cell['harness_overhead'])} | {cell['flops']['kd_step'] / 1e9:.3g} | "
            f"{cell['achieved_tflops'] * 1e3:.3g} | {_share(cell['utilisation'])} | "
            f"{cell['epoch_seconds']['kd']:.1f} | {overhead_reason(cell) if over else ''} |"
        )
    pool = [c for c in result["cells"] if c["pool"]]
    above = [c["method"] for c in pool if c["harness_overhead"] > OVERHEAD_LIMIT]
    verdict = (
        f"Harness overhead of the KD step is at most {OVERHEAD_LIMIT:.0%} for every pool method "
        f"({', '.join(c['method'] for c in pool)})."
        if not above
        else f"Harness overhead is above {OVERHEAD_LIMIT:.0%} for the pool method(s) {', '.join(above)}; the reason "
        "column gives the measured shares."
    )
    lines += [
        "",
        verdict if pool else "No pool method was measured.",
        "",
        "- **KD step**: the engine's own `kd_step` (sample, teacher forward, student forward and backward, the "
        "method's loss parts, SGD step, after-step hooks, statistics kept on the device), timed as a block.",
        "- **Bare passes**: teacher forward, student forward and backward of a plain KD loss on one fixed batch, "
        "same precision and memory format; harness overhead = 1 - bare / KD step.",
        "- **FLOPs**: `torch.utils.flop_counter.FlopCounterMode` over one step's passes (matrix products and "
        "convolutions, forward and backward) plus `sample()` (a generator forward for generator methods); "
        "achieved = FLOPs / KD step time; utilisation = achieved / peak.",
        "- **KD epoch (est.)**: synthesis rounds x round time + KD steps x step time + one evaluation, at the "
        "cell's budget; what `run --dry-run` can use before any cell has finished.",
        "- Timings on a shared machine are noisy; regenerate with `bash scripts/bench_cpu.sh` on a quiet one.",
    ]
    if result.get("notes"):
        lines += ["", *(f"- {note}" for note in result["notes"])]
    return "\n".join(lines) + "\n"
