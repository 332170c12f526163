"""The ``ehx`` command: run the exchange, feed it records, and look at what it holds.

Every query command takes ``--json``. Errors are one plain line naming the cause,
and never echo the records' content.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ehx import links_cli, reading_cli
from ehx.adapters.ingest import IngestSummary
from ehx.agencies_cli import app as agencies_app
from ehx.audit_cli import app as audit_app
from ehx.broker import telemetry
from ehx.broker.admin import TopicReport, TopicState, apply_topology
from ehx.broker.embedded import answers
from ehx.broker.heap import keep_long_lived_out_of_collections
from ehx.broker.logs import protect_logs
from ehx.broker.settings import BrokerSettings
from ehx.checkout import NotACheckout, use_development_tools
from ehx.consent_cli import app as consent_app
from ehx.linker.evaluate import LabelledRecord, evaluate_sample, read_sample
from ehx.organisations_cli import app as organisations_app
from ehx.people_cli import app as people_app
from ehx.rights_cli import app as rights_app
from ehx.runtime import (
    alive,
    broker_for_command,
    read_state,
    require_bootstrap,
    start_background,
    start_services,
    stop_background,
)
from ehx.schemas import Agency, ExchangeError, KeyStore, export_json_schemas
from ehx.schemas.signing import KeySettings

console = Console()
errors = Console(stderr=True)

app = typer.Typer(
    name="ehx",
    help=(
        "Early Help Exchange: moves safeguarding information between agencies, "
        "with the family's consent or, where a child is at risk of significant harm, "
        "to the MASH with the override recorded.\n\n"
        "Start here: **ehx demo** runs the whole thing once on this machine.\n\n"
        "Day to day: **ehx up** starts a local broker and the services in the "
        "background; **ehx ingest police FILE** feeds records in; "
        "**ehx events** shows what arrived; **ehx down** stops it all.\n\n"
        "Against a real cluster: set EHX_BOOTSTRAP_SERVERS (and EHX_SECURITY_PROTOCOL, "
        "EHX_SASL_*), EHX_DATABASE_URL and EHX_KEY_DIR; see the README."
    ),
    no_args_is_help=True,
    # Markdown: a docstring's lines join into paragraphs (in "rich" mode every line
    # break of the source stays, and a command's summary wraps mid-sentence).
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
)
topics_app = typer.Typer(help="The Kafka topics the exchange uses.", no_args_is_help=True)
schemas_app = typer.Typer(help="The canonical event schema agencies map to.", no_args_is_help=True)
keys_app = typer.Typer(help="Agency signing keys (Ed25519).", no_args_is_help=True)
app.add_typer(topics_app, name="topics")
app.add_typer(schemas_app, name="schemas")
app.add_typer(keys_app, name="keys")
links_app = typer.Typer(help="Identity and family linking.", no_args_is_help=True)
app.add_typer(links_app, name="links")
links_app.command("review")(links_cli.review)
links_app.command("decide")(links_cli.decide)
links_app.command("person")(links_cli.person)
links_app.command("family")(links_cli.family)
links_app.command("merge")(links_cli.merge)
links_app.command("split")(links_cli.split)
links_app.command("train")(links_cli.train)
app.add_typer(agencies_app, name="agencies")
app.add_typer(organisations_app, name="organisations")
app.add_typer(consent_app, name="consent")
app.command("timeline")(reading_cli.timeline)
app.command("find")(reading_cli.find)
app.add_typer(reading_cli.alerts_app, name="alerts")
app.add_typer(reading_cli.encompass_app, name="encompass")
app.add_typer(audit_app, name="audit")
app.add_typer(people_app, name="people")
app.add_typer(rights_app, name="rights")

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


# --- running it --------------------------------------------------------------------


@app.command()
def demo(
    as_json: JsonOption = False,
) -> None:
    """Run the exchange once, start to finish, on this machine.

    Starts an embedded Kafka-compatible broker and the services, ingests the agencies'
    example records (and three that must be refused), waits until the intake service
    has verified every event, prints what happened, and stops everything.
    """
    from ehx.demo import run_demo

    report = asyncio.run(run_demo(BrokerSettings(), quiet=as_json))
    if as_json:
        _print_json(report.as_dict())
    else:
        report.render(console)
    if not report.complete:
        raise typer.Exit(1)


@app.command()
def up() -> None:
    """Start the embedded broker and the services in the background.

    State and logs go under EHX_DATA_DIR (default ./.ehx). Later commands find the
    broker by themselves. The embedded broker keeps topics in memory: `ehx down`
    loses them (the database keeps what the services stored).
    """
    settings = BrokerSettings()
    if settings.bootstrap_servers:
        raise typer.BadParameter(
            "EHX_BOOTSTRAP_SERVERS is set: `ehx up` only starts the local embedded broker"
        )
    state = read_state(settings)
    if state and alive(state.broker.pid):
        console.print(f"Already running: broker at [bold]{state.bootstrap}[/bold] (ehx status).")
        return
    from ehx.consent import load_policy

    load_policy()  # a bad policy file stops here, naming its line, before anything starts
    state = start_background(settings)
    asyncio.run(apply_topology(state.bootstrap, settings))
    KeyStore.from_settings().init()
    state = start_services(settings, state)
    console.print(f"Broker at [bold]{state.bootstrap}[/bold] (pid {state.broker.pid})")
    pids = ", ".join(f"{name} {process.pid}" for name, process in state.services.items())
    console.print(
        f"Services running, one process each ({pids}); logs in {settings.data_dir / 'logs'}"
    )
    console.print("Next: [bold]ehx ingest police FILE[/bold], then [bold]ehx events[/bold].")


@app.command()
def status(as_json: JsonOption = False) -> None:
    """Show what runs and where."""
    settings = BrokerSettings()
    state = read_state(settings)
    rows: list[dict[str, Any]] = []
    if settings.bootstrap_servers:
        rows.append({"part": "broker", "where": settings.bootstrap_servers, "state": "configured"})
    elif state is None:
        rows.append({"part": "broker", "where": "-", "state": "not running (ehx up)"})
    else:
        up_now = alive(state.broker.pid) and answers(state.port)
        rows.append(
            {
                "part": "broker (embedded, in memory)",
                "where": state.bootstrap,
                "pid": state.broker.pid,
                "state": "running" if up_now else "stopped",
                "since": state.broker.started_at,
                "log": state.broker.log,
            }
        )
        for name, process in state.services.items():
            rows.append(
                {
                    "part": f"service: {name}"
                    if name != "timeline"
                    else "service: timeline, alerts",
                    "where": "-",
                    "pid": process.pid,
                    "state": "running" if alive(process.pid) else "stopped",
                    "since": process.started_at,
                    "log": process.log,
                }
            )
    from ehx.database.settings import DatabaseSettings

    rows.append({"part": "database", "where": _redact_url(DatabaseSettings().url), "state": "-"})
    if as_json:
        _print_json(rows)
        return
    table = Table("part", "where", "pid", "state", "since", "log")
    for row in rows:
        table.add_row(
            *(str(row.get(col, "")) for col in ("part", "where", "pid", "state", "since", "log"))
        )
    console.print(table)


def _redact_url(url: str) -> str:
    """Hide a password in a database URL."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command()
def down() -> None:
    """Stop what `ehx up` started (services first, then the broker)."""
    stopped = stop_background(BrokerSettings())
    if not stopped:
        console.print("Nothing was running.")
    for item in stopped:
        console.print(f"Stopped {item}")


@app.command(hidden=True)
def services(
    bootstrap: Annotated[str, typer.Option(help="Broker to consume from.")],
    only: Annotated[
        list[str] | None,
        typer.Option(help="Run only these (repeatable): intake, linker, consent, timeline, audit."),
    ] = None,
) -> None:
    """Run the services in the foreground (what `ehx up` starts in the background)."""
    from ehx.services import services_app

    refuse_unencrypted_keys_in_production(BrokerSettings())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(services_app(bootstrap, frozenset(only) if only else None).run())


# --- topics, schemas, keys ----------------------------------------------------------


@topics_app.command("apply")
def topics_apply(
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 if any topic drifts from the topology.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Create missing topics and report drift; safe to run any number of times.

    Uses EHX_BOOTSTRAP_SERVERS, else the broker `ehx up` started, else a throwaway
    embedded broker (useful only to see what would be created).
    """
    settings = BrokerSettings()
    with broker_for_command(settings) as bootstrap:
        reports = asyncio.run(apply_topology(bootstrap, settings))
    if as_json:
        _print_json([report.__dict__ for report in reports])
    else:
        _render_topics(reports)
    if check and any(report.state is TopicState.DRIFT for report in reports):
        raise typer.Exit(1)


def _render_topics(reports: list[TopicReport]) -> None:
    from ehx.broker.topics import SPECS

    table = Table("topic", "partitions", "key", "state", "notes")
    for report in reports:
        spec = SPECS[report.topic]
        notes = "; ".join(report.drift) or (
            f"broker does not report: {', '.join(report.unverified)}" if report.unverified else ""
        )
        style = {"created": "green", "ok": "default", "drift": "bold red"}[report.state.value]
        table.add_row(
            report.topic, str(spec.partitions), spec.key, f"[{style}]{report.state}[/]", notes
        )
    console.print(table)


@schemas_app.command("export")
def schemas_export(
    directory: Annotated[Path, typer.Argument(help="Folder to write the JSON Schema files into.")],
) -> None:
    """Write the canonical event's JSON Schema, for agencies building their mapping."""
    for path in export_json_schemas(directory):
        console.print(f"Wrote {path}")


@keys_app.command("init")
def keys_init() -> None:
    """Create an Ed25519 key pair for each agency, and the audit ledger's checkpoint key.

    Existing keys are kept. Keys go to EHX_KEY_DIR (default <data dir>/keys), private
    keys readable by the owner only, and encrypted when EHX_KEY_PASSPHRASE is set.
    """
    store = KeyStore.from_settings()
    created = store.init()
    for name in [*(agency.value for agency in Agency), KeyStore.LEDGER]:
        state = "created" if name in created else "kept"
        console.print(f"{name:8} {state}  {store.directory / (name + '.pub')}")
    if store.passphrase is None:
        errors.print(
            "[bold red]Warning:[/] the private keys are not encrypted: anyone who can read "
            f"{store.directory} can sign as an agency. Set EHX_KEY_PASSPHRASE before "
            "`ehx keys init` for real use; `ehx serve` and `ehx services` refuse to start "
            "without it against a broker with TLS or SASL."
        )


def refuse_unencrypted_keys_in_production(settings: BrokerSettings) -> None:
    """A broker with TLS or SASL is a real deployment: its private keys must be encrypted."""
    if settings.security_protocol != "PLAINTEXT" and KeySettings().key_passphrase is None:
        errors.print(
            "EHX_KEY_PASSPHRASE is not set, and the broker is a real deployment "
            f"({settings.security_protocol}): set it, so the agencies' private keys are "
            "encrypted at rest, and start again."
        )
        raise typer.Exit(2)


# --- records in ---------------------------------------------------------------------


@app.command()
def ingest(
    agency: Annotated[Agency, typer.Argument(help="Which agency's format the files are in.")],
    files: Annotated[
        list[Path], typer.Argument(help="Files to import.", exists=True, dir_okay=False)
    ],
    org: Annotated[
        str | None,
        typer.Option(
            "--org",
            help="The sending organisation's code (a school's URN, a trust's ODS code) for "
            "records that do not name it; a record naming another is refused.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Import agency files: each record is published once, or refused with its reason.

    Refused records go to the ehx.quarantine topic with their original bytes, file and
    line. Sending the same record (reference and version) again publishes nothing; a
    higher version supersedes the earlier one; a lower one is refused as stale.
    Needs a running broker: `ehx up`, or EHX_BOOTSTRAP_SERVERS.
    """
    from ehx.ingesting import ingest_files

    bootstrap = require_bootstrap(BrokerSettings())
    telemetry.configure("adapters")
    keep_long_lived_out_of_collections()  # a file's batches are the services' kind of load
    total = sum(path.stat().st_size for path in files)
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=errors,
        disable=as_json or total < 1_000_000,
    )
    with progress:
        task = progress.add_task(f"{agency.value}", total=total)
        summary = asyncio.run(
            ingest_files(
                bootstrap,
                agency,
                files,
                on_progress=lambda done: progress.update(task, completed=done),
                organisation=org,
            )
        )
    if as_json:
        _print_json(summary.as_dict())
    else:
        from ehx.ingesting import render_summary

        render_summary(summary, console)
    if summary.refused:
        raise typer.Exit(3)


@app.command()
def watch(
    agency: Annotated[Agency, typer.Argument(help="Which agency's format the files are in.")],
    folder: Annotated[Path, typer.Argument(help="Folder the agency system drops files into.")],
    interval: Annotated[float, typer.Option(help="Seconds between looks.")] = 2.0,
    once: Annotated[
        bool, typer.Option("--once", help="Ingest what is there now, then stop.")
    ] = False,
    marker: Annotated[
        str | None,
        typer.Option(
            help="Take a file only once the agency has dropped NAME plus this suffix "
            "beside it (for example .done): the surest sign a file is complete."
        ),
    ] = None,
) -> None:
    """Ingest every file dropped into FOLDER, once; processed files move to FOLDER/processed.

    A file is taken when its marker is there (--marker), or else when it has not changed
    for a second and does not end in .part or .tmp; a file that grows after it was taken
    is read again, so nothing is lost. Links are left alone: only the folder's own
    regular files are read. Each processed file gets a NAME.summary.json beside it
    saying what was accepted and what was refused (positions and reasons, never
    content). Stop with Ctrl-C.
    """
    from ehx.adapters.watch import FolderWatcher
    from ehx.ingesting import ingest_files

    settings = BrokerSettings()
    bootstrap = require_bootstrap(settings)
    if not folder.is_dir():
        raise typer.BadParameter(f"{folder} is not a folder")

    async def ingest_one(path: Path) -> IngestSummary:
        return await ingest_files(bootstrap, agency, [path])

    def report(path: Path, summary: IngestSummary) -> None:
        console.print(
            f"{path.name}: {summary.accepted} accepted, {summary.duplicates} duplicates, "
            f"{len(summary.refused)} refused"
        )

    telemetry.configure("adapters")
    watcher = FolderWatcher(folder, ingest_one, marker=marker)
    if once:
        for path, summary in asyncio.run(watcher.poll_once()):
            report(path, summary)
        return
    console.print(f"Watching {folder} for {agency.value} files (Ctrl-C to stop)")
    try:
        asyncio.run(watcher.run(interval, report))
    except KeyboardInterrupt:
        console.print("Stopped watching.")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs) and the console (sign in at /login).

    Agency systems authenticate with a token from `ehx agencies token AGENCY`; auditors'
    systems with `ehx audit token`; people sign in to the console with an account from
    `ehx people add`.
    """
    import uvicorn

    from ehx.web import create_app

    refuse_unencrypted_keys_in_production(BrokerSettings())
    bootstrap = require_bootstrap(BrokerSettings())
    telemetry.configure("api")
    keep_long_lived_out_of_collections()
    uvicorn.run(create_app(bootstrap), host=host, port=port, log_level="warning")


def _development_tools() -> None:
    try:
        use_development_tools()
    except NotACheckout as exc:
        errors.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


@app.command()
def bench(
    records: Annotated[int, typer.Option(help="Records per agency file.")] = 100_000,
    repeat: Annotated[int, typer.Option(help="Repetitions; the report gives medians.")] = 3,
    out: Annotated[Path, typer.Option(help="Folder for benchmarks.json and .md.")] = Path("docs"),
    agency: Annotated[
        list[Agency] | None, typer.Option(help="Only these agencies (repeatable).")
    ] = None,
    suite: Annotated[
        list[str] | None,
        typer.Option(
            help="Only these benchmarks (repeatable): ingest, pipeline, consent, latency, "
            "timeline, audit, console, linking, replay, faults; pipeline-cluster and "
            "faults-cluster run on Apache Kafka itself (three KRaft brokers: a JDK and Maven)."
        ),
    ] = None,
    people: Annotated[int, typer.Option(help="People in the consent benchmark's city.")] = 20_000,
    fault_people: Annotated[
        int,
        typer.Option(help="People in the fault runs' city (about 1.5 records each: 100,000)."),
    ] = 65_000,
    fault_rate: Annotated[
        float,
        typer.Option(help="Records/s under each fault; the burst is 10x a tenth of it, 60 s."),
    ] = 200.0,
    replay_events: Annotated[
        int, typer.Option(help="Views on the share topics for the replay (timeline rebuild).")
    ] = 1_000_000,
    cluster_people: Annotated[
        int,
        typer.Option(help="People in the city the Kafka cluster's pipeline and faults runs use."),
    ] = 6_000,
    postgres_url: Annotated[
        str | None,
        typer.Option(
            help="A PostgreSQL server for the timeline and audit suites (a scratch database)."
        ),
    ] = None,
    harsh_people: Annotated[
        list[int] | None,
        typer.Option(
            help="People in the linking suite's harsh samples (repeatable; default 20,000 "
            "and 200,000; 1,000,000 takes about 20 minutes)."
        ),
    ] = None,
) -> None:
    """Measure: ingest against a bare aiokafka producer; the whole pipeline against a bare
    aiokafka passthrough (--people's city); consent decisions/s; alert latency
    at 100, 300 and 1,000 records/s, and at 1,000/s with another process keeping half a
    core busy (the goal's margin); timeline queries at 10, 1,000 and 10,000 entries; the
    audit ledger's append and verify rates against plain inserts; the fault runs (kills,
    SIGTERMs, pauses, a broker pause, a PostgreSQL restart, a burst), each checked for
    anything lost, duplicated or out of order; and, with faults-cluster, a broker killed
    or paused on a three-node Apache Kafka cluster, checked the same way.

    Ingest runs on fresh embedded brokers. Writes OUT/benchmarks.json and
    OUT/benchmarks.md; a suite not run keeps its last figures, dated.
    """
    _development_tools()
    from bench import run_benchmarks
    from bench.run import SUITES

    # The driver sends as `ehx ingest` does, and collects garbage as it does.
    keep_long_lived_out_of_collections()

    chosen = tuple(suite) if suite else SUITES
    unknown = [s for s in chosen if s not in SUITES]
    if unknown:
        raise typer.BadParameter(f"unknown suite {', '.join(unknown)}; one of {', '.join(SUITES)}")
    run_benchmarks(
        records,
        repeat,
        out,
        tuple(agency) if agency else tuple(Agency),
        say=lambda line: errors.print(line, highlight=False),
        suites=chosen,
        people=people,
        postgres_url=postgres_url,
        fault_people=fault_people,
        fault_rate=fault_rate,
        replay_events=replay_events,
        cluster_people=cluster_people,
        harsh_people=tuple(harsh_people) if harsh_people else (20_000, 200_000),
    )
    console.print((out / "benchmarks.md").read_text(), markup=False, highlight=False)


@app.command("bench-compare")
def bench_compare(
    ref: Annotated[
        str, typer.Argument(help="The git ref to measure against: main, HEAD~1, a sha.")
    ],
    rate: Annotated[int, typer.Option(help="Records/s the driver sends.")] = 1000,
    seconds: Annotated[float, typer.Option(help="How long each run sends for.")] = 10.0,
    rounds: Annotated[int, typer.Option(help="Rounds; each runs REF, then this checkout.")] = 3,
    relative_to: Annotated[
        str,
        typer.Option(
            help="Divide each process's CPU a record by this unchanged process's, run by "
            "run (cancels the machine's drift); 'none' for plain milliseconds."
        ),
    ] = "linker",
    as_json: Annotated[bool, typer.Option("--json", help="The whole report as JSON.")] = False,
) -> None:
    """Measure this checkout against REF: the latency benchmark, in turns.

    REF is checked out into a scratch git worktree. Each round runs the
    latency benchmark (one process per service) on REF, then on this
    checkout, uncommitted changes included. Prints each variant's medians:
    alerts seen, p50 and p99, CPU a record, and each process's CPU over the
    linker's in the same run, the figure that shows a cut of a few per cent
    through the machine's noise. Three rounds at 1,000/s take about seven
    minutes.

    Example: ehx bench-compare HEAD --rounds 3
    """
    _development_tools()
    from bench.compare import CompareFailed, compare, render

    try:
        report = compare(
            ref,
            rate,
            seconds,
            rounds,
            None if relative_to == "none" else relative_to,
            say=lambda line: errors.print(line, highlight=False),
        )
    except CompareFailed as exc:
        errors.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    if as_json:
        console.print_json(json.dumps(report))
    else:
        console.print(render(report), markup=False, highlight=False)


@links_app.command("evaluate")
def links_evaluate(
    records: Annotated[
        Path | None,
        typer.Option(
            "--records",
            help="A labelled sample to link instead of a synthetic city: CSV with the "
            "header record_id,given_name,family_name,date_of_birth,postcode,cluster.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    harsh: Annotated[
        bool,
        typer.Option(
            help="Instead of the city, people with harsh corruptions (typos, nicknames, "
            "swapped names, missing fields, moved house), in the --records format."
        ),
    ] = False,
    learn: Annotated[
        bool,
        typer.Option(
            help="Learn the model from the sample's own records first (no labels used), as "
            "`ehx links train` learns from the records on file; else the stored model."
        ),
    ] = False,
    people: Annotated[int, typer.Option(help="People in the synthetic city.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Seed: the same seed makes the same city.")] = 2026,
    as_json: JsonOption = False,
) -> None:
    """Measure linking: precision, recall and F1 before review, the review queue's size
    and purity, and the blocking passes' pair completeness.

    With `--records`, on a sample your own staff labelled: each row a record and, in
    `cluster`, the true person it is (any label; rows with one label are one person).
    An empty field is a missing value; `date_of_birth` is YYYY-MM-DD; the postcode is
    kept as written. The sample is linked in a fresh index, in file order, with the
    model the linker uses (the last `ehx links train` stored, or the hand-set one), or
    with `--learn` one learnt from the sample itself; nothing is stored. A wrong line
    refuses the file, with every line and its reason.

    ```
    ehx links evaluate --records labelled.csv --json
    ```

    Without it, a synthetic city's records (from a checkout of the project): person
    linking and family grouping against the city's kept truth, and throughput.
    """
    if records is not None:
        _print_sample_evaluation(_read_sample(records), learn, as_json)
        return
    _development_tools()
    if harsh:
        from bench.corruptions import harsh_sample

        _print_sample_evaluation(harsh_sample(people, seed), learn, as_json)
        return
    from bench.evaluate import evaluate

    result = evaluate(people=people, seed=seed)
    if as_json:
        _print_json(result.as_dict())
        return
    table = Table("", "precision", "recall", "true pairs", "predicted pairs", title="Linking")
    for name, scores in (("people", result.persons), ("families", result.families)):
        table.add_row(
            name,
            f"{scores.precision:.4f}",
            f"{scores.recall:.4f}",
            f"{scores.true_pairs:,}",
            f"{scores.predicted_pairs:,}",
        )
    console.print(table)
    console.print(
        f"{result.people:,} people, {result.records:,} records, {result.mentions:,} mentions; "
        f"{result.review_items:,} pairs for clerical review; "
        f"{result.pair_completeness:.2%} of true pairs share a blocking key (the most "
        f"recall can be); {result.records_per_second:,.0f} records/s."
    )


def _read_sample(path: Path) -> list[LabelledRecord]:
    """The labelled sample in ``path``, or every wrong line printed and exit 2."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        errors.print(f"{path}: refused: not UTF-8 (byte {exc.start} cannot be read)")
        raise typer.Exit(2) from None
    sample, problems = read_sample(text)
    if problems:
        errors.print(f"{path}: refused, nothing linked ({len(problems)} line(s) wrong):")
        for problem in problems[:50]:
            errors.print(f"  {problem}", markup=False, highlight=False)
        if len(problems) > 50:
            errors.print(f"  and {len(problems) - 50} more")
        raise typer.Exit(2)
    return sample


def _print_sample_evaluation(sample: list[LabelledRecord], learn: bool, as_json: bool) -> None:
    if learn:
        from ehx.linker.training import train

        with errors.status(f"Learning the model from {len(sample):,} records..."):
            model = train([item.record for item in sample]).model
    else:
        model = links_cli.stored_model()
    result = evaluate_sample(sample, model=model)
    if as_json:
        _print_json(result.as_dict() | {"model": model.source, **model.policy.as_dict()})
        return
    scores = result.scores
    table = Table("precision", "recall", "F1", "true pairs", "pairs linked", title="Linking")
    table.add_row(
        f"{scores.precision:.4f}",
        f"{scores.recall:.4f}",
        f"{scores.f1:.4f}",
        f"{scores.true_pairs:,}",
        f"{scores.predicted_pairs:,}",
    )
    console.print(table)
    purity = (
        f", {result.review_purity:.0%} of them truly one person"
        if result.review_purity is not None
        else ""
    )
    console.print(
        f"{result.records:,} records of {result.clusters:,} people, before any review; "
        f"{result.review_items:,} pairs would wait for a person to decide{purity}; "
        f"{result.pair_completeness:.2%} of true pairs share a blocking key (the most "
        f"recall can be). Model: {model.source}; links at {model.policy.upper:g} bits."
    )


# --- looking ------------------------------------------------------------------------


@app.command()
def events(
    limit: Annotated[int, typer.Option(help="How many events to list.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Show the events the intake service has verified and stored, by agency and type."""
    from ehx.database import open_engine
    from ehx.intake.store import IntakeStore

    store = IntakeStore(open_engine())
    try:
        counts = store.count_by_type()
        recent = store.recent(limit)
    except Exception as exc:
        raise ExchangeError(
            "the database has no events table yet: run `ehx up` or `ehx demo` first"
        ) from exc
    if as_json:
        _print_json(
            {
                "counts": [
                    {"agency": a, "event_type": t, "events": n}
                    for (a, t), n in sorted(counts.items())
                ],
                "events": recent,
            }
        )
        return
    table = Table("agency", "event type", "events", title="Verified events")
    for (agency_name, event_type), count in sorted(counts.items()):
        table.add_row(agency_name, event_type, str(count))
    console.print(table)


def main() -> None:
    """Entry point: run the app, turning known errors into one clear line and exit code 2."""
    protect_logs()
    try:
        app()
    except ExchangeError as exc:
        errors.print(f"[bold red]error:[/] {exc}", soft_wrap=True, highlight=False)
        sys.exit(2)
