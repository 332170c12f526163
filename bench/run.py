"""``ehx bench``: run the benchmarks and write ``docs/benchmarks.json`` and ``.md``."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.ingest import measure
from bench.records import write_file
from bench.report import fmt, machine, spread
from ehx.broker.heap import release_frozen
from ehx.schemas import Agency

#: The ingest target of the adapters issue, for CSV and JSON Lines, on one core.
INGEST_TARGET = 5_000


SUITES = (
    "ingest",
    "pipeline",
    "pipeline-cluster",
    "consent",
    "latency",
    "timeline",
    "audit",
    "console",
    "linking",
    "replay",
    "faults",
    "faults-cluster",
)


def run_benchmarks(
    records: int = 100_000,
    repeat: int = 3,
    out: Path = Path("docs"),
    agencies: tuple[Agency, ...] = tuple(Agency),
    say: Callable[[str], None] = print,
    suites: tuple[str, ...] = SUITES,
    people: int = 20_000,
    postgres_url: str | None = None,
    fault_people: int = 65_000,
    fault_rate: float = 200.0,
    cluster_people: int = 6_000,
    replay_events: int = 1_000_000,
    harsh_people: tuple[int, ...] = (20_000, 200_000),
) -> dict[str, Any]:
    """Run the chosen benchmarks; update the JSON report and the Markdown; return the report.

    Sections not run this time keep their last figures (each says when it was measured).
    """
    path = out / "benchmarks.json"
    report: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    report["machine"] = machine()

    def chosen(suite: str) -> bool:
        """Whether ``suite`` runs; if so, from a clean heap (nothing an earlier suite froze
        is carried on)."""
        if suite not in suites:
            return False
        release_frozen()
        return True

    if chosen("ingest"):
        report["ingest"] = _ingest(records, repeat, agencies, say)
        report["ingest_measured"] = report["machine"]["when"]
        report["records"], report["repeat"] = records, repeat
    if chosen("pipeline"):
        from bench.pipeline import run as pipeline_rates

        report["pipeline"] = pipeline_rates(people, repeat, say) | _measured()
    if chosen("pipeline-cluster"):
        from bench.pipeline import run as pipeline_rates

        found = pipeline_rates(cluster_people, repeat, say, cluster=True)
        report["pipeline_cluster"] = found | _measured()
    if chosen("consent"):
        report["consent"] = _consent(people, repeat, say)
    if chosen("latency"):
        report["latency"] = _latency(say)
    if chosen("timeline"):
        from bench.timeline import run as timeline_queries

        say("timeline queries: 10, 1,000 and 10,000 entries (filling takes minutes)")
        report["timeline"] = timeline_queries(postgres_url) | _measured()
    if chosen("linking"):
        from bench.linking import run as linking_rates

        sizes = ", ".join(f"{p:,}" for p in harsh_people)
        say(f"linking: cities of 20,000 and 60,000 people; harsh samples of {sizes}")
        report["linking"] = linking_rates(harsh_people) | _measured()
    if chosen("console"):
        from bench.console import run as console_pages

        say("console: family page time to first byte, 10 and 1,000 entries")
        report["console"] = console_pages() | _measured()
    if chosen("audit"):
        from bench.audit import run as audit_rates

        say("audit ledger: append and verify, 50,000 entries")
        report["audit"] = audit_rates(postgres_url, repeat=repeat) | _measured()
    if chosen("replay"):
        from bench.replay import measure as replay_rate

        report["replay"] = replay_rate(replay_events, say) | _measured()
    if chosen("faults"):
        from bench.faults import run as fault_runs

        report["faults"] = fault_runs(fault_people, fault_rate, say) | {**_measured()}
    if chosen("faults-cluster"):
        from bench.faults import cluster_run

        found = cluster_run(cluster_people, fault_rate, say)
        report["faults_cluster"] = found | {**_measured()}
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    (out / "benchmarks.md").write_text(markdown(report))
    return report


#: (records/s, seconds, one process per service?). 300/s sits between the goal's two
#: rates, below the pipeline's capacity here: where the knee is.
#: Rate, seconds, one process per service, share of a core another process keeps busy
#: meanwhile (the margin: how much of the machine the alert path can lose to other work).
LATENCY_RUNS = (
    (100, 30.0, False, 0.0),
    (100, 30.0, True, 0.0),
    (300, 20.0, True, 0.0),
    (1_000, 10.0, False, 0.0),
    (1_000, 10.0, True, 0.0),
    (1_000, 10.0, True, 0.5),
)


def _measured() -> dict[str, Any]:
    """When a section was measured, and how fast the machine was then."""
    now = machine()
    return {"measured": now["when"], "speed_probe_ms": now["speed_probe_ms"]}


def _when(section: dict[str, Any]) -> str:
    probe = section.get("speed_probe_ms")
    return f"{section['measured']}" + (f" (speed probe {probe} ms)" if probe else "")


def _latency(say: Callable[[str], None]) -> dict[str, Any]:
    import asyncio

    from bench.latency import measure

    runs = []
    for rate, seconds, separate, taken in LATENCY_RUNS:
        how = "one process per service" if separate else "the services in one process"
        if taken:
            how += f", {taken:g} of a core busy elsewhere"
        say(f"latency: {rate} records/s for {seconds:.0f}s, {how}")
        runs.append(asyncio.run(measure(rate, seconds, separate=separate, taken=taken)))
    return {"runs": runs, **_measured()}


def _consent(people: int, repeat: int, say: Callable[[str], None]) -> dict[str, Any]:
    from bench.consent import linked_city, measure, realistic_registry

    say(f"consent: linking a synthetic city of {people:,} people")
    events = linked_city(people)
    section: dict[str, Any] = {"people": people, "events": len(events)}
    for name, store in (("memory", False), ("sqlite", True)):
        runs = []
        for rep in range(repeat):
            say(f"consent ({name} ledger): run {rep + 1} of {repeat} ({len(events):,} events)")
            runs.append(measure(events, realistic_registry(events), store))
        section[name] = {
            "decisions_per_second": spread([r["decisions_per_second"] for r in runs]),
            "events_per_second": spread([r["events_per_second"] for r in runs]),
            "decisions": runs[0]["decisions"],
            "views": runs[0]["views"],
        }
    section |= _measured()
    return section


def _ingest(
    records: int, repeat: int, agencies: tuple[Agency, ...], say: Callable[[str], None]
) -> dict[str, Any]:
    ingest: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for agency in agencies:
            path = write_file(agency.value, records, Path(scratch))
            event_bytes = max(1, path.stat().st_size // records)
            runs = []
            for rep in range(repeat):
                say(f"ingest {agency.value}: run {rep + 1} of {repeat} ({records:,} records)")
                runs.append(measure(agency, path, records, event_bytes))
            rates = [r["ingest"]["records_per_second"] for r in runs]
            base = [r["baseline"]["records_per_second"] for r in runs]
            ingest[agency.value] = {
                "file_bytes": path.stat().st_size,
                "records_per_second": spread(rates),
                "baseline_records_per_second": spread(base),
                "ratio_to_baseline": spread([a / b for a, b in zip(rates, base, strict=True)]),
                "peak_rss_mb": spread([r["ingest"]["peak_rss_mb"] for r in runs]),
                "all_accepted": all(r["ingest"]["accepted"] == records for r in runs),
            }
    return ingest


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        "# Benchmarks",
        "",
        f"Latest run: {m['when']}, {m['cpus']} CPUs, Python {m['python']}, {m['platform']}.",
        "Figures are medians over the repetitions, with min–max. Speed probe (CPU ms of a",
        "fixed Python loop; these shared machines drift, so compare figures measured with",
        f"similar probes): {m.get('speed_probe_ms', 'not taken')}.",
        "",
    ]
    if "ingest" in report:
        lines += _ingest_markdown(report)
    if "pipeline" in report:
        lines += _pipeline_markdown(report["pipeline"])
    if "pipeline_cluster" in report:
        lines += _pipeline_markdown(report["pipeline_cluster"], cluster=True)
    if "consent" in report:
        lines += _consent_markdown(report["consent"], report.get("repeat", 3))
    if "latency" in report:
        lines += _latency_markdown(report["latency"])
    if "timeline" in report:
        lines += _timeline_markdown(report["timeline"])
    if "audit" in report:
        lines += _audit_markdown(report["audit"])
    if "console" in report:
        lines += _console_markdown(report["console"])
    if "linking" in report:
        lines += _linking_markdown(report["linking"])
    if "replay" in report:
        lines += _replay_markdown(report["replay"])
    if "faults" in report:
        lines += _faults_markdown(report["faults"])
    if "faults_cluster" in report:
        lines += _faults_markdown(report["faults_cluster"], cluster=True)
    return "\n".join(lines)


def _pipeline_markdown(section: dict[str, Any], cluster: bool = False) -> list[str]:
    first = section["runs"][0]
    lines = [
        "## The whole pipeline on Apache Kafka (`ehx bench --suite pipeline-cluster`)"
        if cluster
        else "## The whole pipeline (`ehx bench --suite pipeline`)",
        "",
        *(
            [
                "On a fresh three-node KRaft cluster each run, deploy/'s settings (TLS,",
                "SASL/SCRAM, replication 3, `min.insync.replicas` 2), each service its own",
                "principal; the baseline on the same cluster, its topics with three replicas.",
            ]
            if cluster
            else []
        ),
        f"Measured {_when(section)}. A synthetic city of {section['people']:,} people "
        f"({first['records']:,} records, {first['events']:,} events) sent through the",
        "adapters as fast as the driver can, then intake, linker, consent, timeline and alerts,",
        "and the audit ledger, one process per service, SQLite, signing, sealing and audit on;",
        "from the first record sent until every stage stops moving. Baseline, same runs and",
        "broker: the same events moved by a bare aiokafka consumer and producer. Median",
        f"(min–max) of {len(section['runs'])}; every run passed the fault checker: "
        f"{all(r['ok'] for r in section['runs'])}.",
        "",
        "| | per second |",
        "|---|---|",
        f"| pipeline, records | {fmt(section['records_per_second'])} |",
        f"| passthrough, events | {fmt(section['passthrough_per_second'])} |",
        f"| pipeline events ÷ passthrough | {fmt(section['ratio'], 3)} |",
    ]
    if "messages_per_event" in section:  # reports before 2026-12-04 did not count them
        lines += [
            f"| messages the topology carries an event | {fmt(section['messages_per_event'], 1)} |",
            "| passthrough ÷ those messages: the most this topology could move here, "
            f"no other work | {fmt(section['topology_bound_per_second'])} |",
            f"| pipeline events ÷ that bound | {fmt(section['share_of_bound'], 2)} |",
            "",
            "Messages by topic (first run): "
            + ", ".join(f"{t} {n:,}" for t, n in first["messages_by_topic"].items())
            + ".",
        ]
    lines += [
        "",
        "When each stage last moved (seconds after the first record, first run): "
        + ", ".join(f"{k} {v}" for k, v in first["stage_done_seconds"].items())
        + ". Peak resident memory per service (MB): "
        + ", ".join(f"{k} {v}" for k, v in first["peak_rss_mb"].items())
        + ".",
        "",
    ]
    if "cpu_ms_per_record" in first:
        cpu = first["cpu_ms_per_record"]
        lines += [
            "Where the two cores went (first run): CPU milliseconds per record, by process, "
            f"{sum(cpu.values()):.2f} in all: "
            + ", ".join(f"{k} {v:.2f}" for k, v in cpu.items())
            + ".",
            "",
        ]
    for service, seen in first.get("profile", {}).items():
        if seen.get("ours"):
            frames = "; ".join(f"{f} {share:.0%}" for f, share in seen["ours"][:3])
            leaves = "; ".join(f"{f} {share:.0%}" for f, share in seen["leaves"][:2])
            lines.append(f"- py-spy, {service}: ours: {frames}. Leaves: {leaves}.")
    return [*lines, ""]


def _replay_markdown(section: dict[str, Any]) -> list[str]:
    memory = ", ".join(f"{n:,}: {mb:.0f}" for n, mb in section["rss_mb_by_events"])
    return [
        "## Replay (`ehx bench --suite replay`)",
        "",
        f"Measured {_when(section)}. `timeline rebuild` of {section['events']:,} views",
        "(real sealed views from the consent engine, copied under fresh ids) from the share",
        "topics of a fresh embedded broker into an empty SQLite store: "
        f"**{section['events_per_second']:,.0f} events/s**, {section['seconds']:,.0f} s in all.",
        f"Resident memory of the rebuilding process (MB) by events replayed: {memory}.",
        f"The broker held {section['broker_rss_mb']:,} MB at the end (tansu keeps every record",
        "in memory and never frees it).",
        "",
    ]


def _faults_markdown(section: dict[str, Any], cluster: bool = False) -> list[str]:
    where = (
        [
            "## Faults on Apache Kafka (`ehx bench --suite faults-cluster`)",
            "",
            f"Measured {_when(section)}. The same checks on real replication: three KRaft",
            "brokers with deploy/'s settings (TLS, SASL/SCRAM, replication 3,",
            "`min.insync.replicas` 2) and ACLs, each service its own principal, SQLite; a",
            "broker killed, or paused past its 9 s session timeout, a third of the way in.",
        ]
        if cluster
        else [
            "## Faults (`ehx bench --suite faults`)",
            "",
            f"Measured {_when(section)}. A synthetic city streamed through the adapters into",
            "the five services, one process each, on a fresh embedded broker and a private",
            "PostgreSQL server, while something goes wrong.",
        ]
    )
    lines = [
        *where,
        "Then everything acknowledged at the input is compared with what intake, the",
        "linker, consent, every timeline and the audit ledger hold. Backlog cleared:",
        "seconds from the end of the stream until nothing is missing. Alert latency:",
        "accepted to MASH alert raised.",
        "",
        "| scenario | records | disruptions | lost | duplicated | out of order | "
        "backlog cleared s | alert p50 / p99 / max ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in section["runs"]:
        check, latency = run["check"], run["alert_latency"]
        alerts = (
            f"{_ms(latency.get('p50_ms'))} / {_ms(latency.get('p99_ms'))} / "
            f"{_ms(latency.get('max_ms'))}"
        )
        lines.append(
            f"| {run['scenario']} | {run['records']:,} | {len(run['disruptions'])} | "
            f"{sum(check['lost'].values())} | {sum(check['duplicated'].values())} | "
            f"{check['out_of_order_families']} | {_ms(run['backlog_cleared_seconds'])} | "
            f"{alerts} |"
        )
    return [*lines, ""]


def _linking_markdown(section: dict[str, Any]) -> list[str]:
    lines = [
        "## Linking (`ehx bench --suite linking`)",
        "",
        f"Measured {_when(section)}. Synthetic cities (seed 2026), records mapped to",
        "events first (the baseline: the adapters alone, records/s), then every mention",
        "linked to people and families in memory, timed, on one core; resident memory",
        "read before and after linking.",
        "",
        "| people | events | mentions | linking events/s | mapping records/s | memory MB |"
        " MB per million people |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in section["sizes"]:
        lines.append(
            f"| {row['people']:,} | {row['events']:,} | {row['mentions']:,} | "
            f"{row['linking_events_per_second']:,.0f} | {row['mapping_records_per_second']:,.0f}"
            f" | {row['memory_mb']:,.0f} | {row['memory_mb_per_million_people']:,} |"
        )
    harsh = section.get("harsh") or []
    if not harsh:
        return [*lines, ""]
    lines += [
        "",
        "The harsh sample (`bench/corruptions.py`, seed 1: an original and up to four copies",
        "a person, with nicknames, typos, swapped names, missing fields, birth dates",
        "mistyped or swapped, moved house; households with twins). For each size a model",
        "learnt from the sample itself (`ehx links train`'s way, no labels), then every",
        "record linked in a fresh index on one core and scored pairwise before review:",
        "",
        "| people | records | precision | recall | F1 | pair completeness | for review"
        " | of them one person | records/s | learning s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in harsh:
        got = row["learnt"]
        purity = "" if got["review_purity"] is None else f"{got['review_purity']:.0%}"
        lines.append(
            f"| {row['people']:,} | {row['records']:,} | {got['precision']:.4f} | "
            f"{got['recall']:.4f} | {got['f1']:.4f} | {got['pair_completeness']:.4f} | "
            f"{got['review_items']:,} | {purity} | {row['linking_records_per_second']:,.0f} | "
            f"{row['training_seconds']:,.0f} |"
        )
    first, last = harsh[0], harsh[-1]
    hand = first["hand_set"]
    ratio = last["linking_records_per_second"] / first["linking_records_per_second"]
    lines += [
        "",
        f"Baseline, same run: the hand-set model on the {first['people']:,}-person sample, "
        f"precision {hand['precision']:.4f}, recall {hand['recall']:.4f}. Linking rate at "
        f"{last['people']:,} people is {ratio:.2f} of the rate at {first['people']:,}.",
    ]
    return [*lines, ""]


def _console_markdown(section: dict[str, Any]) -> list[str]:
    lines = [
        "## Console pages (`ehx bench --suite console`)",
        "",
        f"Measured {_when(section)}. `ehx serve` on loopback (one uvicorn worker,",
        "SQLite, embedded broker), a practitioner signed in; time to first byte of the",
        "family page (the latest page of the timeline, at most 200 entries, read and opened",
        "with the reader's keys, the read put on ehx.audit; the family's level of need and",
        "Think Family problems from the whole timeline; the page rendered), median of seven",
        "(min–max). Baseline, same run:",
        f"the sign-in page, {fmt(section['baseline_login_page_ms'], 1)} ms.",
        "",
        "| entries | time to first byte ms |",
        "|---|---|",
    ]
    for row in section["pages"]:
        lines.append(f"| {row['entries']:,} | {fmt(row['ttfb_ms'], 1)} |")
    return [*lines, ""]


def _audit_markdown(section: dict[str, Any]) -> list[str]:
    lines = [
        "## Audit ledger (`ehx bench --suite audit`)",
        "",
        f"Measured {_when(section)}. Synthetic audit records (ids only) appended to a",
        "fresh ledger in batches of 500, a signed checkpoint every 1,000 entries; then the",
        "whole chain and every checkpoint verified. Baseline, same run and database: the same",
        "rows inserted in the same batches into a plain table (no chain, no subject index).",
        "Entries per second, median (min–max).",
        "",
        "| database | entries | append/s | verify/s | baseline insert/s | append ÷ baseline |",
        "|---|---|---|---|---|---|",
    ]
    for name in ("sqlite", "postgresql"):
        row = section.get(name)
        if row:
            lines.append(
                f"| {name} | {row['entries']:,} | {fmt(row['append_per_second'])} | "
                f"{fmt(row['verify_per_second'])} | {fmt(row['baseline_insert_per_second'])} | "
                f"{fmt(row['append_vs_baseline'], 2)} |"
            )
    return [*lines, ""]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _latency_markdown(section: dict[str, Any]) -> list[str]:
    lines = [
        "## Alert latency (`ehx bench --suite latency`)",
        "",
        f"Measured {_when(section)}. Police domestic abuse incidents (DASH high, a",
        "child present: each a significant-harm override, each a new family) sent at a",
        "steady rate to a fresh embedded broker, the services on SQLite one process each as",
        "`ehx up` runs them, or all in one background process (`ehx services`). From",
        "the adapter's acknowledged publish to the MASH alert first seen by a reader of",
        "the queue (looking every 50 ms; `raised_at` is stamped before it commits). Goal",
        "(timeline issue): p99 under one second. CPU: milliseconds a record, every process",
        "(services, broker, the driver's adapter), idle polling taken off. The last row",
        "has another process keep half a core busy throughout (`bench.latency.other_load`),",
        "as other work on a shared machine would: the goal's margin.",
        "",
        "| target rate | processes | offered/s | records | alerts | p50 ms | p99 ms | max ms |"
        " p50 to intake | p50 to decision | p50 to `raised_at` | CPU ms a record |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in section["runs"]:
        stages = run.get("stage_p50_ms", {})
        cpu = run.get("cpu_ms_per_record") or {}
        lines.append(
            f"| {run['rate']:,}/s | {_processes(run)} | "
            f"{run['offered_per_second']:,.0f} | {run['records']:,} | "
            f"{run['alerts_seen']:,} | {_ms(run['p50_ms'])} | {_ms(run['p99_ms'])} | "
            f"{_ms(run['max_ms'])} | {_ms(stages.get('intake_stored'))} | "
            f"{_ms(stages.get('consent_decided'))} | {_ms(stages.get('alert_raised'))} | "
            + (f"{sum(cpu.values()):.2f} |" if cpu else "|")
        )
    separate = [
        r
        for r in section["runs"]
        if r.get("cpu_ms_per_record")
        and r["rate"] >= 1000
        and r.get("processes") != "one"
        and not r.get("cpu_taken_elsewhere")
    ]
    if separate:
        run = separate[0]
        lines += [
            "",
            f"CPU ms a record by process at {run['rate']:,}/s ({run.get('processes')}): "
            + ", ".join(f"{k} {v:.2f}" for k, v in run["cpu_ms_per_record"].items())
            + ".",
        ]
    stopped = [r for r in section["runs"] if r.get("collector_stops")]
    if stopped:
        lines += [
            "",
            "The garbage collector's longest stop in each process during the run (its",
            "generation; all its stops together), which a record arriving then waits out:",
            "",
        ]
        lines += [
            f"- {r['rate']:,}/s, {_processes(r)}: " + collector_summary(r["collector_stops"])
            for r in stopped
        ]
    return [*lines, ""]


def _processes(run: dict[str, Any]) -> str:
    """``one per service``, and what else kept the machine busy, if anything."""
    taken = run.get("cpu_taken_elsewhere")
    how = run.get("processes", "one")
    return f"{how}, {taken:g} of a core busy elsewhere" if taken else how


def collector_summary(stops: dict[str, dict[str, dict[str, float]]]) -> str:
    """``timeline 312 ms (middle; 540 ms in all), ...``, longest first."""
    parts = []
    for name, generations in stops.items():
        if not generations:
            continue
        worst = max(generations, key=lambda g: generations[g]["longest_ms"])
        total = sum(g["total_ms"] for g in generations.values())
        parts.append((generations[worst]["longest_ms"], name, worst, total))
    return ", ".join(
        f"{name} {longest:,.0f} ms ({worst}; {total:,.0f} ms in all)"
        for longest, name, worst, total in sorted(parts, reverse=True)
    )


def _timeline_markdown(section: dict[str, Any]) -> list[str]:
    lines = [
        "## Timeline queries (`ehx bench --suite timeline`)",
        "",
        f"Measured {_when(section)}. One family's whole timeline as one recipient",
        "(among 1,000 entries of other families), and its latest page as the console shows",
        "it (the newest entries, at most a page); median of seven reads, with min–max.",
        "",
    ]
    rows = section.get("sqlite", [])
    page = next((r["page"] for r in rows if "page" in r), None)
    latest = f"latest {page}" if page else "latest page"
    lines += [
        f"| entries | SQLite ms | PostgreSQL ms | {latest}, SQLite ms | {latest}, PostgreSQL ms |",
        "|---|---|---|---|---|",
    ]
    postgres = {r["entries"]: r for r in section.get("postgresql", [])}
    for row in rows:
        pg = postgres.get(row["entries"])
        lines.append(
            f"| {row['entries']:,} | {fmt(row['ms'], 1)} | {fmt(pg['ms'], 1) if pg else '-'} "
            f"| {_page_ms(row)} | {_page_ms(pg)} |"
        )
    return [*lines, ""]


def _page_ms(row: dict[str, Any] | None) -> str:
    """A page read's time; '-' where it was not measured (reports from before pages)."""
    return fmt(row["page_ms"], 1) if row and "page_ms" in row else "-"


def _consent_markdown(section: dict[str, Any], repeat: int) -> list[str]:
    return [
        "## Consent decisions (`ehx bench --suite consent`)",
        "",
        f"Measured {_when(section)}. A synthetic city of {section['people']:,} people"
        f" ({section['events']:,} linked events); a third of its families with a parent's",
        "consent (a tenth of those withdrawn); the shipped policy. Every event decided for",
        "every recipient but its source, and each sharing decision's view built and sealed",
        "(AES-GCM), in batches of 500 on one core.",
        "",
        "| ledger | decisions/s | events/s | decisions | views |",
        "|---|---|---|---|---|",
        *(
            f"| {name} | {fmt(section[name]['decisions_per_second'])} | "
            f"{fmt(section[name]['events_per_second'])} | {section[name]['decisions']:,} | "
            f"{section[name]['views']:,} |"
            for name in ("memory", "sqlite")
            if name in section
        ),
        "",
        "memory: the rules and sealing alone; sqlite: with the embedded default's store",
        "(events on file, decisions, data keys) committed per batch.",
        "",
    ]


def _ingest_markdown(report: dict[str, Any]) -> list[str]:
    lines = [
        f"Ingest measured {report.get('ingest_measured', report['machine']['when'])}; reproduce"
        f" with `ehx bench --suite ingest --records {report['records']} --repeat"
        f" {report['repeat']}` (about ten minutes).",
        "",
        "## Ingest (`ehx ingest`: frame, validate, map, sign, publish, registry)",
        "",
        "One process, one core, the embedded broker on loopback. Baseline: a bare aiokafka",
        "producer sending the same number of messages of the same size to the same broker.",
        "",
        "| agency | records/s | baseline records/s | ratio | peak RSS MB | all accepted |",
        "|---|---|---|---|---|---|",
    ]
    for agency, row in report["ingest"].items():
        lines.append(
            f"| {agency} | {fmt(row['records_per_second'])} | "
            f"{fmt(row['baseline_records_per_second'])} | {fmt(row['ratio_to_baseline'], 2)} | "
            f"{fmt(row['peak_rss_mb'])} | {'yes' if row['all_accepted'] else 'NO'} |"
        )
    lines += [
        "",
        f"Target (adapters issue): at least {INGEST_TARGET:,} records/s for the CSV and JSON Lines",
        "formats (schools, police, housing).",
        "",
    ]
    return lines
