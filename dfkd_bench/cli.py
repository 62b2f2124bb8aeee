"""Command line: parse and call; the logic lives in runner, overview, train and teachers."""

from __future__ import annotations

import errno
import json
import sys
from pathlib import Path

import click
from rich.console import Console

from dfkd_bench.engine.spec import RunOptions
from dfkd_bench.errors import EXIT_BAD_INPUT, EXIT_HELD, BadInput
from dfkd_bench.launch_settings import LaunchSettings

console = Console() if sys.stdout.isatty() else Console(width=160)


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


def _ints(value: str | None, what: str) -> list[int]:
    try:
        return [int(v) for v in _csv(value)]
    except ValueError as err:
        raise BadInput(f"{what} must be comma-separated integers, got '{value}'") from err


common_run_options = [
    click.option("--out", type=click.Path(path_type=Path), default=Path("results/runs"), show_default=True),
    click.option("--data-root", default=None, help="folder holding the data sets (CIFAR, Fashion-MNIST, ...)"),
    click.option("--download", is_flag=True, help="download a missing data set into --data-root"),
    click.option("--teachers", type=click.Path(path_type=Path), default=None, help="teacher store folder"),
    click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N"),
    click.option("--set", "assignments", multiple=True, help="config override, e.g. --set train.epochs=2"),
    click.option("--force", is_flag=True, help="start over cells that are done or whose config changed"),
    click.option("--retry-failed", is_flag=True, help="resume cells that failed"),
    click.option(
        "--loggers",
        default=None,
        help="comma list of experiment loggers mirroring each epoch: tensorboard, wandb (extras; default: none)",
    ),
]


def with_run_options(func):
    for option in reversed(common_run_options):
        func = option(func)
    return func


class BadInputExit(click.ClickException):
    """A one-line `error: ...` on stderr and exit code 2, for bad input, usage and file-system errors alike."""

    exit_code = EXIT_BAD_INPUT

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def _usage_line(err: click.UsageError) -> str:
    """Click's usage error on one line: its message (with any 'Did you mean' or valid choices) and where help is."""
    message = " ".join(err.format_message().split())
    return f"{message} (see '{err.ctx.command_path} --help')" if err.ctx is not None else message


def _os_line(err: OSError) -> str:
    where = f"{err.filename}: " if err.filename is not None else ""
    return f"{where}{err.strerror or err}"


class Group(click.Group):
    """Turns BadInput, click usage errors and file-system errors into one `error:` line (exit 2); `--help` and a
    bare group's help stay as click prints them."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as err:
            raise BadInputExit(_usage_line(err)) from err

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BadInput as err:
            raise BadInputExit(str(err)) from err
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as err:
            raise BadInputExit(_usage_line(err)) from err
        except OSError as err:
            if err.errno == errno.EPIPE:  # click's own handling: a closed pipe ends quietly
                raise
            raise BadInputExit(_os_line(err)) from err


def _check_out(out: Path, writable: bool) -> None:
    from dfkd_bench.files import require_folder

    require_folder(out, "--out", writable)


def _check_teachers(teachers: Path | None, writable: bool) -> None:
    """The teacher store (--teachers, else DFKD_BENCH_TEACHERS or results/teachers) must be a folder, and one this
    process can write where the command saves a teacher."""
    from dfkd_bench.files import require_folder
    from dfkd_bench.teachers import TeacherStore

    require_folder(TeacherStore(teachers).root, "--teachers" if teachers else "the teacher store", writable)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dfkd-bench", prog_name="dfkd-bench")
def cli() -> None:
    """dfkd-bench: data-free knowledge distillation benchmark harness.

    Shell completion (bash): eval "$(_DFKD_BENCH_COMPLETE=bash_source dfkd-bench)"; zsh_source and fish_source
    for zsh and fish."""


def _options(loggers: str | None = None, **options) -> RunOptions:
    """RunOptions from the shared run options, by keyword (two neighbouring flags can never swap); the loggers are
    checked (known, their extra installed) before anything is written."""
    from dfkd_bench.loggers import check_loggers

    return RunOptions(loggers=check_loggers(_csv(loggers)), **options)


@cli.command()
@click.option(
    "--methods",
    default=None,
    help="comma list of method cards or wildcards, or 'all' (default: every card of the default run; "
    "`dfkd-bench list methods`)",
)
@click.option(
    "--pairs", default=None, help="comma list of teacher-student pairs, or 'all' (default: each dataset's first pair)"
)
@click.option("--datasets", default=None, help="comma list of datasets (default: mnist)")
@click.option(
    "--scales", default=None, help="comma list of data scales: images (5000), percent (10%) or auto (default: auto)"
)
@click.option("--seeds", default=None, help="comma list of seeds (default: 0)")
@click.option("--preset", default=None, help="a paper grid (`dfkd-bench list presets`), e.g. table2")
@click.option(
    "--budget",
    default=None,
    help="a named budget of the cards' dataset blocks (default: quick when neither --methods, --datasets nor "
    "--preset is given, else the preset's, else each card's own)",
)
@click.option("--dry-run", is_flag=True, help="list the cells, their state and the estimated time left; run nothing")
@click.option("--calibrate", is_flag=True, help="with --dry-run: time 2 epochs of each unmeasured cell kind")
@click.option(
    "--calibrate-from",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="with --dry-run: estimate unmeasured cells from a saved `dfkd-bench bench --json` file",
)
@click.option("--launcher", default="inline", show_default=True, help="inline, local (one worker per GPU) or slurm")
@click.option("--gpus", default=None, help="local launcher: GPU ids, e.g. 0,1,2,3 (default: every visible GPU)")
@click.option(
    "--workers",
    default=LaunchSettings.workers,
    show_default=True,
    help="local launcher without GPUs: CPU worker processes",
)
@click.option("--slurm-partition", default=None, help="slurm: the partition to submit to (default: the cluster's)")
@click.option("--slurm-cluster", default=None, help="submitit cluster: slurm (default with sbatch), local, debug")
@click.option(
    "--timeout-min",
    default=LaunchSettings.timeout_min,
    show_default=True,
    help="slurm: minutes per task before requeue",
)
@click.option(
    "--array-parallelism",
    default=LaunchSettings.array_parallelism,
    show_default=True,
    help="slurm: tasks running at once",
)
@click.option("--wait", is_flag=True, help="slurm: wait for every task and print the results")
@with_run_options
def run(methods, pairs, datasets, scales, seeds, preset, budget, dry_run, calibrate, launcher, gpus, workers, **kw):
    """Run a grid of cells (resuming what is there); with no arguments, the embedded MNIST default."""
    calibrate_from = kw.pop("calibrate_from")
    from dfkd_bench.config import parse_assignments
    from dfkd_bench.grid import GridRequest
    from dfkd_bench.runner import run_request

    overrides = parse_assignments(kw.pop("assignments"))
    request = GridRequest(
        _csv(methods), _csv(pairs), _csv(datasets), _csv(scales), _ints(seeds, "--seeds"), overrides, budget, preset
    )
    settings = LaunchSettings(
        gpus=_csv(gpus) or None,
        workers=workers,
        slurm_cluster=kw.pop("slurm_cluster"),
        slurm_partition=kw.pop("slurm_partition"),
        timeout_min=kw.pop("timeout_min"),
        array_parallelism=kw.pop("array_parallelism"),
        wait=kw.pop("wait"),
    )
    _check_out(kw["out"], writable=not dry_run)
    _check_teachers(kw["teachers"], writable=False)
    if launcher == "slurm" and not dry_run:
        from dfkd_bench.launch.slurm import check_cluster

        check_cluster(settings.slurm_cluster)
    if calibrate_from is not None and not dry_run:
        raise BadInput("--calibrate-from goes with --dry-run (it only estimates)")
    measure = None
    if calibrate_from is not None:
        from dfkd_bench.bench.calibration import bench_measure

        measure = bench_measure(calibrate_from)
    outcome = run_request(request, _options(**kw), dry_run, launcher, settings, calibrate, measure)
    for shown in outcome.shown:
        console.print(shown)
    if not dry_run:
        console.print(f"results in {kw['out']} (summary.csv); `dfkd-bench status {kw['out']}` for the grid")
    if not outcome.complete:
        sys.exit(1)


@cli.command("run-one")
@click.option("--index", type=int, default=None, help="cell I of <out>/grid.json (what launchers call)")
@click.option("--method", default=None, help="a method card, for a cell described instead of indexed")
@click.option("--pair", default=None, help="teacher-student pair (default: the dataset's first pair)")
@click.option("--dataset", default="mnist", show_default=True)
@click.option("--scale", default=None, help="data scale: images, percent (10%) or auto")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--budget", default=None, help="a named budget of the card's dataset block, e.g. quick")
@with_run_options
def run_one_command(index, method, pair, dataset, scale, seed, budget, **kw) -> None:
    """Run (or resume) one cell: `--index I` of a recorded grid, or one described by --method/--pair/...

    Exit 0 when the cell is done, 1 when it failed, 75 when another worker holds it, 2 for bad input."""
    from dfkd_bench.config import parse_assignments
    from dfkd_bench.grid import GridRequest
    from dfkd_bench.runner import run_described, run_index

    overrides = parse_assignments(kw.pop("assignments"))
    opts = _options(**kw)
    # With --index and no folder yet, cell_at's "no grid" error is the useful one.
    _check_out(opts.out, writable=index is None or opts.out.is_dir())
    _check_teachers(opts.teachers, writable=False)
    if index is None:
        if method is None:
            raise BadInput("run-one needs --index I (a cell of <out>/grid.json) or --method NAME")
        request = GridRequest([method], _csv(pair), [dataset], _csv(scale), [seed], overrides, budget)
        status = run_described(request, opts)
    elif overrides or method:
        raise BadInput("--index runs the recorded cell as it is; drop --method/--set or leave out --index")
    else:
        status = run_index(index, opts)
    sys.exit({"done": 0, "held": EXIT_HELD}.get(status, 1))


@cli.command("list")
@click.argument("what", type=click.Choice(["models", "methods", "presets", "datasets", "pairs", "teachers"]))
@click.argument("pattern", default="*")
@click.option("--teachers", type=click.Path(path_type=Path), default=None, help="teacher store folder (list teachers)")
@click.option("--json", "as_json", is_flag=True, help="print the rows as JSON (one object per row)")
def list_command(what: str, pattern: str, teachers: Path | None, as_json: bool) -> None:
    """List registered models, method cards, presets, datasets, pairs or stored teachers (PATTERN filters models
    and methods by wildcard)."""
    from dfkd_bench.overview import LISTINGS

    if what == "teachers":
        _check_teachers(teachers, writable=False)
    arguments = {"models": (pattern,), "methods": (pattern,), "teachers": (teachers,)}.get(what, ())
    listing = LISTINGS[what](*arguments)
    if as_json:
        click.echo(json.dumps(listing.records(), indent=1))
    else:
        console.print(listing)


@cli.group()
def show() -> None:
    """Show a resolved configuration."""


@show.command("method")
@click.argument("name")
@click.option("--dataset", default="mnist", show_default=True)
@click.option("--pair", default=None, help="default: the dataset's first pair")
@click.option("--scale", default=None, help="data scale: images, percent (10%) or auto")
@click.option("--budget", default=None, help="a named budget of the card's dataset block, e.g. quick or proxy")
@click.option("--set", "assignments", multiple=True, help="override a config key, e.g. --set train.kd_passes=1")
def show_method(
    name: str, dataset: str, pair: str | None, scale: str | None, budget: str | None, assignments: tuple[str, ...]
) -> None:
    """The method card resolved for one cell, its KD steps per epoch, and its deviations from the reference."""
    from dfkd_bench.config import parse_assignments
    from dfkd_bench.overview import show_method as render
    from dfkd_bench.pairs import pairs_for

    pair = pair or (pairs_for(dataset) or ("",))[0]
    click.echo(render(name, dataset, pair, parse_assignments(assignments), budget, scale))


@cli.command()
@click.argument("out", type=click.Path(path_type=Path), default=Path("results/runs"))
@click.option("--json", "as_json", is_flag=True, help="print the grid's state and every run's numbers as JSON")
def status(out: Path, as_json: bool) -> None:
    """Cells of the grid in OUT by state, stale and failed cells with their logs, and every run's numbers."""
    from dfkd_bench.overview import grid_status, status_tables

    if as_json:
        click.echo(json.dumps(grid_status(out), indent=1))
        return
    tables, notes = status_tables(out)
    for table in tables:
        console.print(table)
    for line in notes:
        click.echo(line)


@cli.command()
@click.option("--methods", default=None, help="comma list of method cards or wildcards (default: the default run's)")
@click.option("--pairs", default=None, help="comma list of teacher-student pairs, or 'all' (default: the first)")
@click.option("--datasets", default=None, help="comma list of datasets (default: mnist)")
@click.option("--scales", default=None, help="comma list of data scales (default: auto)")
@click.option("--budget", default=None, help="a named budget of the cards' dataset blocks, e.g. proxy")
@click.option("--set", "assignments", multiple=True, help="config override, e.g. --set method.g_steps=20")
@click.option(
    "--precision",
    type=click.Choice(["auto", "fp32", "bf16"]),
    default="auto",
    show_default=True,
    help="the KD step's precision (train.precision; auto: fp32; bf16 is opt-in until checked on a GPU)",
)
@click.option("--compile", "compile_models", is_flag=True, help="torch.compile the KD forwards (train.compile)")
@click.option("--kd-steps", type=click.IntRange(min=1), default=48, show_default=True, help="timed KD steps")
@click.option("--warmup-steps", type=click.IntRange(min=0), default=3, show_default=True, help="untimed steps first")
@click.option("--synthesis-rounds", type=click.IntRange(min=1), default=2, show_default=True, help="timed rounds")
@click.option(
    "--peak-tflops",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="the device's peak TFLOP/s (default: a GPU data-sheet table, else a measured matmul peak)",
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N")
@click.option("--data-root", default=None, help="folder holding the data sets (CIFAR, Fashion-MNIST, ...)")
@click.option("--teachers", type=click.Path(path_type=Path), default=None, help="teacher store folder")
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
@click.option("--markdown", type=click.Path(path_type=Path), default=None, help="also write the result as markdown")
@click.option("--from-json", type=click.Path(path_type=Path), default=None, help="render a saved --json result")
def bench(methods, pairs, datasets, scales, budget, assignments, precision, compile_models, **kw) -> None:
    """Measure each cell briefly (not a run): synthesis and KD images/s, the KD step's FLOPs, achieved TFLOP/s,
    utilisation of the device's peak, and the harness overhead of the KD step against its bare network passes."""
    from dfkd_bench.bench.measure import BenchSettings
    from dfkd_bench.bench.render import bench_table, markdown
    from dfkd_bench.bench.suite import read_bench, run_bench
    from dfkd_bench.config import parse_assignments
    from dfkd_bench.files import atomic_write_text, require_folder
    from dfkd_bench.grid import GridRequest

    overrides = parse_assignments(assignments)
    if precision != "auto":
        overrides["train.precision"] = precision
    if compile_models:
        overrides["train.compile"] = True
    request = GridRequest(_csv(methods), _csv(pairs), _csv(datasets), _csv(scales), [0], overrides, budget)
    out, saved = kw.pop("markdown"), kw.pop("from_json")
    if out is not None:
        require_folder(out.parent, "--markdown", writable=True)
    if saved is not None:
        if methods or pairs or datasets or scales or budget or overrides:
            raise BadInput("--from-json renders a saved result; drop the cell options (--methods, --set, ...)")
        result = read_bench(saved)
    else:
        counts = ("kd_steps", "warmup_steps", "synthesis_rounds", "peak_tflops")
        settings = BenchSettings(**{name: kw[name] for name in counts})
        opts = RunOptions(device=kw["device"], data_root=kw["data_root"], teachers=kw["teachers"])
        result = run_bench(request, opts, settings, lambda r: click.echo(f"measured {r['method']}", err=True))
    if out is not None:
        atomic_write_text(out, markdown(result))
    if kw["as_json"]:
        click.echo(json.dumps(result, indent=1))
    else:
        console.print(bench_table(result))


@cli.command()
@click.argument("runs", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--out", type=click.Path(path_type=Path), default=None, help="report folder (default: reports/<RUNS>)")
@click.option("--format", "formats", default="md,html", show_default=True, help="comma list of md, html, tex, csv")
@click.option("--compare", type=click.Choice(["published", "none"]), default="published", show_default=True)
@click.option("--accuracy", type=click.Choice(["best", "last"]), default="best", show_default=True)
@click.option("--time", "time_kind", type=click.Choice(["total", "synthesis"]), default="total", show_default=True)
@click.option("--note", default=None, help="a paragraph under the title: the budget or regime the runs are in")
def report(
    runs: Path, out: Path | None, formats: str, compare: str, accuracy: str, time_kind: str, note: str | None
) -> None:
    """The paper's Tables 1-4 and Figures 1, 2, 4 from the runs under RUNS, next to the published numbers."""
    from dfkd_bench.files import require_folder
    from dfkd_bench.report.build import write_report

    target = out or Path("reports") / runs.resolve().name
    require_folder(target, "--out", writable=True)
    for path in write_report(runs, target, _csv(formats), compare, accuracy, time_kind, note, click.echo):
        console.print(f"wrote {path}")


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--keep", type=click.Choice(["best", "last", "both"]), default="both", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="folder for the files (default: RUN_DIR)")
def export(run_dir: Path, keep: str, out: Path | None) -> None:
    """The distilled student of the finished run in RUN_DIR as weights alone: student_best.pt (the best epoch),
    student_last.pt (the last), each with a JSON sidecar naming the architecture and what it scored."""
    from dfkd_bench.export import export_student

    for path in export_student(run_dir, keep, out):
        console.print(f"wrote {path}")


@cli.command()
@click.option("--model", required=True)
@click.option("--dataset", required=True)
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="override the recipe's epochs")
@click.option("--budget", default=None, help="a named budget of the dataset's recipe, e.g. quick")
@click.option("--set", "assignments", multiple=True, help="override a recipe key, e.g. --set recipe.lr=0.05")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--data-root", default=None)
@click.option("--download", is_flag=True, help="download a missing data set into --data-root")
@click.option("--teachers", type=click.Path(path_type=Path), default=None)
@click.option("--device", default="auto", show_default=True)
@click.option("--force", is_flag=True, help="replace a teacher already in the store")
def train(model, dataset, epochs, budget, assignments, seed, data_root, download, teachers, device, force) -> None:
    """Train a model on real data with its dataset's recipe and keep it in the teacher store.

    --budget, --set and --epochs (in that order) shorten or change the recipe; its LR steps scale with its epochs.
    A stored teacher is replaced only with --force: the runs distilled from it record its sha256."""
    from dfkd_bench.config import parse_assignments
    from dfkd_bench.data import get_spec
    from dfkd_bench.engine.evaluate import headline
    from dfkd_bench.models import MODELS
    from dfkd_bench.progress import Reporter
    from dfkd_bench.recipes import describe_recipe, recipe_for
    from dfkd_bench.teachers import TeacherStore, describe_score
    from dfkd_bench.train import train_into_store

    MODELS.get(model)
    get_spec(dataset)
    overrides = parse_assignments(assignments)
    recipe = recipe_for(dataset, epochs, overrides, budget)
    _check_teachers(teachers, writable=True)
    store = TeacherStore(teachers)
    store.refuse_replacing(dataset, model, force)
    console.print(f"{dataset}/{model}: {describe_recipe(recipe)}")
    with Reporter() as reporter:
        record = train_into_store(
            model,
            dataset,
            store,
            data_root,
            device,
            epochs,
            seed,
            download,
            on_epoch=lambda e, n, r: reporter.update(f"train {dataset}/{model}", e + 1, n, headline(r)),
            overrides=overrides,
            budget=budget,
        )
    console.print(
        f"{dataset}/{model}: {describe_score(record)} in {record['train_seconds']} s (sha256 {record['sha256'][:12]})"
    )


@cli.group()
def teacher() -> None:
    """The teacher store."""


@teacher.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--model", required=True)
@click.option("--dataset", required=True)
@click.option("--data-root", default=None)
@click.option("--download", is_flag=True, help="download a missing data set into --data-root")
@click.option("--teachers", type=click.Path(path_type=Path), default=None)
@click.option("--device", default="auto", show_default=True)
@click.option("--force", is_flag=True, help="replace a teacher already in the store")
def teacher_import(file, model, dataset, data_root, download, teachers, device, force) -> None:
    """Import a reference checkpoint (<dataset>_<arch>.pth with key state_dict), check keys, measure it."""
    from dfkd_bench.envinfo import resolve_device
    from dfkd_bench.models import MODELS
    from dfkd_bench.teachers import TeacherStore, describe_score
    from dfkd_bench.train import import_teacher

    MODELS.get(model)
    _check_teachers(teachers, writable=True)
    store = TeacherStore(teachers)
    store.refuse_replacing(dataset, model, force)
    record = import_teacher(store, file, model, dataset, data_root, resolve_device(device), download)
    console.print(f"imported {dataset}/{model}: {describe_score(record)} (sha256 {record['sha256'][:12]})")


@teacher.command("list")
@click.option("--teachers", type=click.Path(path_type=Path), default=None)
def teacher_list(teachers: Path | None) -> None:
    """Stored teachers with their measured accuracy."""
    from dfkd_bench.overview import teachers_listing

    _check_teachers(teachers, writable=False)

    console.print(teachers_listing(teachers))


def main() -> None:
    cli(prog_name="dfkd-bench")
