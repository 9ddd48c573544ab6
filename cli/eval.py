"""`enclave eval`: score retrieval (and answers) on a dataset, optionally against a baseline.

Exit status: 0 when the run finished (and no metric regressed), 1 when a quality metric fell
below the baseline by more than the tolerance, 2 when the dataset, baseline or configuration
cannot be used. Heavy imports happen inside the command so `enclave --help` stays fast.
"""

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from enclave.settings import ConfigurationError, Settings

console = Console(stderr=True)

_STAGES = {"index": "Indexing chunks", "questions": "Retrieving", "answers": "Answering"}


class _Bars:
    """One progress bar per stage, created when the stage reports first."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, object] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(_STAGES.get(stage, stage), total=total)
        self.progress.update(self.tasks[stage], completed=done, total=total)  # type: ignore[arg-type]


@click.command("eval")
@click.argument("dataset", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "dataset_format",
    type=click.Choice(["clapnq", "squad2", "jsonl"]),
    default=None,
    help="Dataset format (default: recognised from the file).",
)
@click.option(
    "--mode",
    type=click.Choice(["dense", "sparse", "hybrid"]),
    default=None,
    help="Search mode [ENCLAVE_SEARCH_MODE].",
)
@click.option(
    "--k",
    "k",
    default=5,
    show_default=True,
    type=click.IntRange(1),
    help="Passages per answer (and searched for the relevance calibration).",
)
@click.option("--answers", is_flag=True, help="Also answer each question with the LLM (slow).")
@click.option(
    "--limit",
    type=click.IntRange(1),
    default=None,
    help="Only the first N answerable and first N unanswerable questions.",
)
@click.option(
    "--json",
    "json_out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the scores to this JSON file.",
)
@click.option(
    "--baseline",
    type=click.Path(path_type=Path, dir_okay=False),
    help="An earlier --json file: exit 1 if a quality metric dropped beyond --tolerance.",
)
@click.option(
    "--tolerance",
    default=0.02,
    show_default=True,
    type=click.FloatRange(0),
    help="Allowed absolute drop per metric against --baseline.",
)
@click.option(
    "--temperature",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0.0, 2.0),
    help="Sampling temperature with --answers; 0 (greedy) makes two runs of one model agree "
    "[the service uses ENCLAVE_LLM_TEMPERATURE].",
)
@click.option("--reindex", is_flag=True, help="Embed the passages again even if indexed.")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@click.pass_obj
def eval_command(
    settings: Settings,
    dataset: Path,
    dataset_format: str | None,
    mode: str | None,
    k: int,
    answers: bool,
    limit: int | None,
    json_out: Path | None,
    baseline: Path | None,
    tolerance: float,
    temperature: float,
    reindex: bool,
    no_progress: bool,
) -> None:
    """Measure search (recall@1/5/10, MRR@10, nDCG@10) and, with --answers, answers (token
    F1, ROUGE-L, abstention, citation precision) on DATASET, plus latencies.

    DATASET is a ClapNQ folder or file, a SQuAD 2.0 JSON file, or Enclave JSON lines (see
    README.md). Its passages are indexed into a collection of their own (eval_<name>_<hash
    of the embedder and chunks>), reused by later runs; the main index is never touched.
    """
    from app.answering.evaluation.datasets import (
        DatasetError,
        DatasetFormat,
        describe,
        load_dataset,
    )
    from app.answering.evaluation.report import (
        BaselineError,
        compare,
        load_baseline,
        print_comparison,
        print_tables,
        setup_differences,
        summarize,
        write_json,
    )
    from app.answering.evaluation.runner import evaluate
    from enclave.vectorstore import SearchMode

    try:
        previous = load_baseline(baseline) if baseline else None
        data = load_dataset(dataset, DatasetFormat(dataset_format) if dataset_format else None)
        data = data.limited(limit)
        console.print(describe(data))
        progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=no_progress,
        )
        with progress:
            run = evaluate(
                data,
                settings.model_copy(update={"llm_temperature": temperature}),
                mode=SearchMode(mode or settings.search_mode),
                k=k,
                with_answers=answers,
                reindex=reindex,
                progress=_Bars(progress),
                on_stage=lambda message: progress.console.print(f"[dim]{message}[/dim]"),
            )
    except (DatasetError, BaselineError, ConfigurationError) as error:
        console.print(f"[red]error:[/red] {error}")
        sys.exit(2)

    summary = summarize(run)
    print_tables(summary, Console())
    if json_out:
        write_json(summary, json_out)
        console.print(f"scores written to {json_out}")
    if previous is None:
        return
    deltas = compare(summary, previous, tolerance)
    print_comparison(deltas, setup_differences(summary, previous), tolerance, Console())
    regressions = [d.metric for d in deltas if d.regression]
    if regressions:
        console.print(f"[red]regression beyond {tolerance:g}:[/red] {', '.join(regressions)}")
        sys.exit(1)
