"""What a user's type checker sees: ``get``/``iter_results`` typed by kind, every result plots.

The snippet below is checked by ``mypy --strict`` in the suite: each line marked
``# E: <code>`` must give exactly that error and every other line none, so a
wrong overload (or a lost one) fails here, not in a user's editor.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import attrs
import pytest

from atomscale_async import DataEntry, UnknownResult
from atomscale_async._generated.kinds import KINDS
from atomscale_async._model import ResultModel

mypy_api = pytest.importorskip("mypy.api")

ROOT = Path(__file__).resolve().parent.parent
# mypy's cache records the installed packages it read: one per environment, since
# sessions on other Pythons or dependency floors run side by side and would corrupt
# a shared one ("Cannot find component ... for 'anyio.abc...'").
_PREFIX = Path(sys.prefix)
CACHE_DIR = (_PREFIX if os.access(_PREFIX, os.W_OK) else ROOT / ".mypy_cache") / (
    f".mypy_cache_typing_{sys.version_info[0]}{sys.version_info[1]}"
)


def _snippet() -> str:
    kinds = "\n".join(
        f"    assert_type(await client.get(ids, data_type={name!r}), list[{kind.model.__name__}])\n"
        f"    assert_type(client_sync.get(ids, data_type={name!r}), list[{kind.model.__name__}])\n"
        f"    assert_type(\n"
        f"        await client.get(ids, data_type={name!r}, errors='return'),\n"
        f"        list[{kind.model.__name__} | Exception],\n"
        f"    )\n"
        f"    async for a{i} in client.iter_results(ids, data_type={name!r}):\n"
        f"        assert_type(a{i}, Outcome[{kind.model.__name__}])\n"
        f"    for s{i} in client_sync.iter_results(ids, data_type={name!r}):\n"
        f"        assert_type(s{i}, Outcome[{kind.model.__name__}])"
        for i, (name, kind) in enumerate(KINDS.items())
    )
    models = sorted({kind.model.__name__ for kind in KINDS.values()})
    return f"""\
from typing import assert_type

from atomscale_async import AsyncClient, Client, Outcome, Result, {", ".join(models)}


async def per_kind(client: AsyncClient, client_sync: Client, ids: list[str]) -> None:
{kinds}


async def any_kind(client: AsyncClient, client_sync: Client, ids: list[str], kind: str) -> None:
    assert_type(await client.get(ids), list[Result])
    assert_type(await client.get(ids, data_type=kind), list[Result])
    assert_type(client_sync.get(ids, errors="return"), list[Result | Exception])
    for outcome in client_sync.iter_results(ids):
        assert_type(outcome, Outcome[Result])
        if outcome.result is not None:
            outcome.result.plot()
            outcome.result.to_pandas()
    results = await client.get(ids)
    results[0].plot()
    results[0].to_pandas()
    client_sync.get(ids, data_type="oes")[0].plot(peaks=False)


def wrong(client_sync: Client, ids: list[str]) -> None:
    assert_type(client_sync.get(ids, data_type="oes"), list[SIMSResult])  # E: assert-type
    client_sync.get(ids, data_type="oes")[0].depth_profiles  # E: attr-defined
    client_sync.get(ids, data_type="sims", errors="ignore")  # E: call-overload
"""


def test_get_and_iter_results_are_typed_by_kind(tmp_path: Path) -> None:
    source = _snippet()
    path = tmp_path / "snippet.py"
    path.write_text(source, encoding="utf-8")
    out, err, _status = mypy_api.run(
        [
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(CACHE_DIR),
            "--no-error-summary",
            "--show-error-codes",
            "--hide-error-context",
            str(path),
        ]
    )
    assert not err, err
    found = {
        (int(m["line"]), m["code"])
        for m in re.finditer(r"snippet\.py:(?P<line>\d+): error: .*\[(?P<code>[\w-]+)\]", out)
    }
    expected = {
        (number, m.group(1))
        for number, line in enumerate(source.splitlines(), 1)
        if (m := re.search(r"# E: ([\w-]+)", line))
    }
    assert found == expected, out


@attrs.frozen
class _Untyped(ResultModel):
    _kind = "eos"
    data_id: str = "d1"


def test_a_kind_without_a_frame_or_plot_says_so() -> None:
    match = r"no frame is written for 'eos' results \(_Untyped\)"
    with pytest.raises(NotImplementedError, match=match):
        _Untyped().to_pandas()
    with pytest.raises(NotImplementedError, match=r"no plot is written for 'eos' results"):
        _Untyped().plot()


def test_an_unknown_result_names_its_kind_when_asked_to_plot_or_frame() -> None:
    entry = DataEntry(data_id="d1", char_source_type="rheed_image")
    unknown = UnknownResult(data_id="d1", data_type="rheed_image", catalogue_entry=entry)
    with pytest.raises(NotImplementedError, match=r"no plot for 'd1': its kind 'rheed_image'"):
        unknown.plot()
    with pytest.raises(NotImplementedError, match=r"no frame for 'd1': its kind 'rheed_image'"):
        unknown.to_pandas()
