"""The command line reads the kind table: its help, ``KIND get ID`` for every kind."""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import attrs
import orjson
import pytest

from atomscale_async import Client
from atomscale_async._cli import main
from atomscale_async._cli._demo import _kind_order
from atomscale_async._generated.kinds import KINDS, Kind
from atomscale_async._model import ResultModel
from atomscale_async.sandbox import SandboxServer

#: The kinds whose ``get`` prints the result's fields (SIMS and OES have summaries of their own).
FIELDS_KINDS = [name for name, kind in KINDS.items() if kind.canonical not in ("sims", "oes")]


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(entries=300, seed=11) as server:
        yield server


@pytest.fixture
def api(server: SandboxServer) -> list[str]:
    assert server.api_key is not None
    return ["--base-url", server.base_url, "--api-key", server.api_key]


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_the_help_names_every_kind_of_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(capsys, "--help")
    assert status == 0
    text = " ".join(out.split())
    assert "SIMS and OES" not in text
    assert "sims, oes, xps, xrd, photoluminescence (pl), raman" in text
    for name in KINDS:
        assert main([name, "get", "--help"]) == 0
        assert f"{KINDS[name].canonical} get [-h]" in capsys.readouterr().out
    status, out, _ = _run(capsys, "search", "--help")
    assert "photoluminescence (pl)" in " ".join(out.split())


@pytest.mark.parametrize("kind", FIELDS_KINDS)
def test_get_of_a_kind_prints_its_result_as_json(
    kind: str, server: SandboxServer, api: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    data_id = server.state.ids(kind)[0]
    status, out, err = _run(capsys, *api, kind, "get", data_id)
    assert status == 0, err
    with Client(api_key=server.api_key, base_url=server.base_url) as client:
        expected = client.get([data_id], data_type=kind)[0]
    assert orjson.loads(out) == orjson.loads(orjson.dumps(expected.to_dict()))


#: The axis of each kind as its ``get`` table names it, with its unit, and the peaks' first column.
AXES = {
    "xps": ("binding energy (eV)", "BINDING ENERGY (eV)"),
    "xrd": ("2θ (°)", "2θ (°)"),
    "photoluminescence": ("energy (eV)", "BAND"),
    "raman": ("Raman shift (cm⁻¹)", "MODE"),
}


@pytest.mark.parametrize("kind", FIELDS_KINDS)
def test_get_of_a_kind_prints_its_summary_with_units_and_its_peaks_as_rows(
    kind: str, server: SandboxServer, api: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    data_id = server.state.ids(kind)[0]
    status, out, err = _run(capsys, *api, "--format", "table", kind, "get", data_id)
    assert status == 0, err
    fields, _, peaks = out.partition("\n\n")
    lines = fields.splitlines()
    name = KINDS[kind].model.__name__.removesuffix("Result")
    assert lines[0].split() == [name if name.isupper() else name.lower(), data_id]
    rows = {line[: line.index("  ")]: line[line.index("  ") :].strip() for line in lines[1:]}
    axis, first_column = AXES[KINDS[kind].canonical]
    with Client(api_key=server.api_key, base_url=server.base_url) as client:
        result: Any = client.get([data_id], data_type=kind)[0]
    low, high = min(result._axis()), max(result._axis())
    assert rows[axis] == f"{low:g} \N{EN DASH} {high:g}"
    assert rows["points"] == f"{len(result.intensities):,}"
    assert "data id" not in rows
    assert "items" not in out  # no "peaks: 2 items, excitation_nm: 325"
    if KINDS[kind].canonical == "xrd":
        assert rows["radiation"] == "Cu K\N{GREEK SMALL LETTER ALPHA}, λ = 1.5406 Å"
    if KINDS[kind].canonical == "photoluminescence":
        assert rows["excitation"] == "325 nm (3.81 eV)"
    pytest.importorskip("pandas")
    expected = result.peaks_frame()
    assert rows["peaks"] == str(len(expected))
    if expected.empty:
        assert not peaks
    else:
        header, *cells = peaks.splitlines()
        assert header.startswith(first_column)
        assert len(cells) == len(expected)
        if kind == "raman":  # one row per mode: its label, then its shift
            for line, mode in zip(cells, expected.itertuples(), strict=True):
                assert line.split("  ")[0] == mode.label
                assert float(line.split()[-1]) == mode.position


def test_get_of_an_unknown_id_is_one_error_line(
    server: SandboxServer, api: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _run(capsys, *api, "raman", "get", "no-such-id")
    assert status == 1
    assert out == ""
    [line] = err.splitlines()
    assert line.startswith("error: GET ")
    assert "404" in line
    assert str(server.api_key) not in err


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="needs matplotlib")
def test_get_of_a_kind_saves_its_plot(
    server: SandboxServer, api: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    png = tmp_path / "xrd.png"
    status, _, err = _run(
        capsys, *api, "xrd", "get", server.state.ids("xrd")[0], "--plot", str(png)
    )
    assert status == 0, err
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert f"saved the plot to {png}" in err


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="needs matplotlib")
@pytest.mark.parametrize("kind", ["sims", "oes", "xps", "raman"])
def test_a_saved_plot_names_the_sample_from_the_catalogue(
    kind: str,
    server: SandboxServer,
    api: list[str],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from matplotlib.figure import Figure

    titles: list[str] = []
    save = Figure.savefig

    def spy(figure: Figure, *args: Any, **kwargs: Any) -> None:
        titles.extend(ax.get_title() for ax in figure.axes)
        save(figure, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", spy)
    data_id = server.state.ids(kind)[0]
    status, _, err = _run(capsys, *api, kind, "get", data_id, "--plot", str(tmp_path / "p.png"))
    assert status == 0, err
    sample = server.state.catalogue.record(data_id)[0]["physical_sample_name"]
    [title] = titles
    assert sample in title
    assert data_id in title


def test_the_demo_orders_kinds_as_the_table_does() -> None:
    kinds = ["raman", "hologram", "oes", "pl", "sims", "xps"]
    assert sorted(kinds, key=_kind_order) == ["sims", "oes", "xps", "pl", "raman", "hologram"]


@attrs.frozen(kw_only=True)
class HologramResult(ResultModel):
    """A kind described without hand-written behaviour: attrs' repr, no plot."""

    _kind = "hologram"
    data_id: str
    phase: list[float]


def test_a_kind_without_a_repr_or_plot_of_its_own_is_described_briefly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from types import MappingProxyType

    from atomscale_async import _export
    from atomscale_async._bulk import Outcome
    from atomscale_async._cli import _commands
    from atomscale_async._cli._output import CLIError, Output

    table = dict(KINDS)
    table["hologram"] = Kind(
        name="hologram",
        canonical="hologram",
        attribute="hologram",
        method="get",
        path="/hologram/{data_id}",
        model=HologramResult,
    )
    monkeypatch.setattr(_export, "KINDS", MappingProxyType(table))
    result = HologramResult(data_id="h1", phase=[0.25] * 10_000)
    kind, text = _commands._describe(Outcome("h1", cast(Any, result)))
    assert kind == "hologram"
    assert text.startswith("HologramResult(data_id='h1', phase=[0.25, ")
    assert len(text) == 120
    assert text.endswith("…")
    out = Output(io.StringIO(), io.StringIO(), "table", None)
    pytest.importorskip("matplotlib")
    with pytest.raises(CLIError, match="no plot is written for 'hologram' results"):
        _commands._save_plot(cast(Any, result), tmp_path / "h.png", out)
    assert not (tmp_path / "h.png").exists()
