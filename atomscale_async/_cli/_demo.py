"""The ``demo`` command: a local sandbox fetched in bulk, and a report of what came back."""

from __future__ import annotations

import argparse
import time
import warnings
from collections import Counter
from typing import TYPE_CHECKING, Any

import anyio

from .._bulk import UnknownDataTypeWarning, UnknownResult
from .._client import AsyncClient
from .._generated.kinds import KINDS, UNTYPED_KINDS
from .._generated.models import OESResult, SIMSResult
from .._kinds import canonical_kind
from ._commands import want_progress
from ._output import EXIT_FAILURE, EXIT_OK, SHOWN_FAILURES, Output
from ._sandbox import SANDBOX_KEY, start_sandbox

if TYPE_CHECKING:
    from ..sandbox import SandboxServer

__all__ = ["DemoReport", "run_demo"]


class DemoReport:
    """What a demo fetched, tallied for the summary."""

    def __init__(self, kinds: dict[str, str]) -> None:
        self.kinds = kinds
        self.fetched: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        #: Entries of a kind this SDK does not know: listed by the catalogue, never fetched.
        self.not_fetched: Counter[str] = Counter()
        self.failures: list[tuple[str, Exception]] = []
        self.species: Counter[str] = Counter()
        self.species_points: Counter[str] = Counter()
        self.sims_empty = 0
        self.elements: Counter[str] = Counter()
        self.element_spectra: Counter[str] = Counter()
        self.spectra = 0
        self.spectrum_points: Counter[int] = Counter()

    def add(self, data_id: str, result: object) -> None:
        """Count one result (or exception) of the bulk fetch."""
        kind = canonical_kind(self.kinds.get(data_id, "unknown"))  # one row for pl and its kind
        if isinstance(result, Exception):
            self.failed[kind] += 1
            self.failures.append((data_id, result))
            return
        if isinstance(result, UnknownResult):
            self.not_fetched[kind] += 1
            return
        self.fetched[kind] += 1
        if isinstance(result, SIMSResult):
            sims = result.summary()
            if not sims.profiles:
                self.sims_empty += 1
            for profile in sims.profiles:
                self.species[profile.species] += 1
                self.species_points[profile.species] += profile.points
        elif isinstance(result, OESResult):
            oes = result.summary()
            self.spectra += 1
            self.spectrum_points[oes.points] += 1
            for element, peaks in oes.elements:
                self.elements[element] += peaks
                self.element_spectra[element] += 1

    def render(self, out: Output) -> None:
        """Print the tables: kinds, SIMS species, OES elements, failures."""
        counts = (self.fetched, self.failed, self.not_fetched)
        kinds = sorted(set().union(*counts), key=_kind_order)
        rows: list[list[object]] = []
        for kind in kinds:
            note = ""
            if self.not_fetched[kind]:
                known = kind in UNTYPED_KINDS  # listed by the catalogue, not typed yet
                note = "searchable, not typed yet" if known else "a kind this SDK does not know"
            row = [count[kind] for count in counts]
            rows.append([kind, sum(row), *row, note])
        totals = [sum(count.values()) for count in counts]
        rows.append(["total", sum(totals), *totals, ""])
        out.table(["KIND", "ENTRIES", "FETCHED", "FAILED", "NOT FETCHED", ""], rows)

        if self.species or self.sims_empty:
            with_profiles = self.fetched["sims"] - self.sims_empty
            out.line()
            out.line(
                f"SIMS: {with_profiles:,} results with depth profiles, {self.sims_empty:,} without"
            )
            out.table(
                ["SPECIES", "PROFILES", "DEPTH POINTS"],
                [
                    *([s, n, self.species_points[s]] for s, n in sorted(self.species.items())),
                    ["total", sum(self.species.values()), sum(self.species_points.values())],
                ],
            )
        if self.spectra:
            sizes = ", ".join(f"{points:,}" for points in sorted(self.spectrum_points))
            total = sum(points * n for points, n in self.spectrum_points.items())
            out.line()
            out.line(f"OES: {self.spectra:,} spectra of {sizes} points ({total:,} points)")
            out.table(
                ["ELEMENT", "PEAKS", "SPECTRA"],
                [[e, n, self.element_spectra[e]] for e, n in sorted(self.elements.items())],
            )
        if self.failures:
            out.line()
            out.line(f"Failures ({len(self.failures):,}):")
            for data_id, exc in self.failures[:SHOWN_FAILURES]:
                out.line(f"  {data_id}: {type(exc).__name__}: {out.redact(str(exc))}")
            if len(self.failures) > SHOWN_FAILURES:
                out.line(f"  ... and {len(self.failures) - SHOWN_FAILURES:,} more")


def _kind_order(kind: str) -> tuple[int, str]:
    order = list(KINDS)  # the kind table's order; a kind it does not know comes last
    return (order.index(kind) if kind in KINDS else len(order), kind)


async def _fetch_demo(
    server: SandboxServer, concurrency: int | None, progress: bool
) -> tuple[list[Any], float]:
    # The sandbox's address and key, whatever the environment says: never the real API.
    options: dict[str, Any] = {"max_concurrency": concurrency} if concurrency else {}
    key = server.api_key or SANDBOX_KEY
    async with AsyncClient(key, base_url=server.base_url, **options) as client:
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnknownDataTypeWarning)
            results = await client.get(server.data_ids, errors="return", progress=progress)
        return results, time.perf_counter() - started


def run_demo(args: argparse.Namespace, out: Output) -> int:
    """The ``demo`` command: fetch a local sandbox in bulk and report what came back."""
    progress = want_progress(args.progress, out.stderr)
    out.note(f"Starting a local sandbox with {args.entries:,} entries (seed {args.seed})...")
    server = start_sandbox(args.entries, args.seed)
    try:
        out.note(f"Fetching every entry from {server.base_url} ...")
        results, elapsed = anyio.run(_fetch_demo, server, args.concurrency, progress)
        stats = server.stats()
        catalogue = server.state.catalogue
        kinds = {i: entry.kind for i in server.data_ids if (entry := catalogue.get(i))}
    finally:
        server.stop()
    report = DemoReport(kinds)
    for data_id, result in zip(server.data_ids, results, strict=True):
        report.add(data_id, result)
    if out.json:
        out.dump(
            {
                "entries": len(results),
                "fetched": dict(report.fetched),
                "failed": dict(report.failed),
                "not_fetched": dict(report.not_fetched),
                "sims_species": dict(report.species),
                "oes_elements": dict(report.elements),
                "elapsed_s": round(elapsed, 3),
                "results_per_s": round(len(results) / elapsed, 1),
                "requests": stats.requests,
                "bytes": stats.response_bytes,
            }
        )
        return EXIT_FAILURE if report.failures else EXIT_OK
    megabytes = stats.response_bytes / 1e6
    out.line(
        f"Fetched {len(results):,} entries from a local sandbox ({server.base_url}, "
        f"seed {args.seed}, concurrency {args.concurrency or 'default (32)'})"
    )
    out.line()
    report.render(out)
    out.line()
    out.line(
        f"Speed: {len(results):,} results in {elapsed:.2f} s = {len(results) / elapsed:,.0f} "
        f"results/s; {megabytes:,.1f} MB in {stats.requests:,} requests = "
        f"{megabytes / elapsed:,.1f} MB/s"
    )
    return EXIT_FAILURE if report.failures else EXIT_OK
