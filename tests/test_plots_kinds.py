"""The XPS, XRD, photoluminescence and Raman plots: labels inside the frame, apart, titled."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any, cast

import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("numpy")

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.text import Text

from atomscale_async import Client, DataEntry, RamanResult, XRDResult
from atomscale_async._convert import structure
from atomscale_async.sandbox import SandboxServer
from atomscale_async.sandbox._spectra import KIND_PREFIXES

SPECTRA = ("xps", "xrd", "photoluminescence", "raman")


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def fetched() -> dict[str, list[tuple[Any, DataEntry]]]:
    """One result of each kind for each sample the kind measures, with its catalogue entry."""
    with (
        SandboxServer(entries=600, seed=5) as server,
        Client(api_key=server.api_key, base_url=server.base_url) as client,
    ):
        found = client.search(data_type=list(SPECTRA))
        picked: dict[str, dict[str, DataEntry]] = {kind: {} for kind in SPECTRA}
        for entry in found:
            prefix = str(entry.physical_sample_name).rsplit("-", 1)[0]
            picked[entry.kind].setdefault(prefix, entry)
        results = {
            kind: list(zip(client.get(list(entries.values())), entries.values(), strict=True))
            for kind, entries in picked.items()
        }
    for kind in SPECTRA:  # most samples the sandbox measures with the kind are drawn
        samples = {str(e.physical_sample_name).rsplit("-", 1)[0] for _, e in results[kind]}
        assert samples <= set(KIND_PREFIXES[kind])
        assert len(samples) >= len(KIND_PREFIXES[kind]) - 1, (kind, samples)
    # Si TO (520.7 cm⁻¹) beside BaTiO3 A1(TO3) (520 cm⁻¹), and the XRD of a TiN stack.
    assert any(str(e.physical_sample_name).startswith("BTO-Si") for _, e in results["raman"])
    assert any(str(e.physical_sample_name).startswith("TiN-M") for _, e in results["xrd"])
    return results


def _labels(ax: Any) -> list[Text]:
    return [text for text in ax.texts if text.get_text()]


def _draw(ax: Any) -> Any:
    figure = ax.figure
    figure.canvas.draw()
    return figure.canvas.get_renderer()


@pytest.mark.parametrize("kind", SPECTRA)
def test_no_peak_label_is_clipped_by_the_frame(
    kind: str, fetched: dict[str, list[tuple[Any, DataEntry]]]
) -> None:
    for result, entry in fetched[kind]:
        ax = result.plot(entry=entry)
        renderer = _draw(ax)
        frame = ax.get_window_extent(renderer)
        labels = _labels(ax)
        assert labels, (kind, entry.physical_sample_name)
        for label in labels:
            box = Text.get_window_extent(label, renderer)  # the text, not its leader
            where = (kind, entry.physical_sample_name, label.get_text())
            assert frame.x0 <= box.x0, where
            assert box.x1 <= frame.x1, where
            assert frame.y0 <= box.y0, where
            assert box.y1 <= frame.y1, where
        plt.close("all")


@pytest.mark.parametrize("kind", SPECTRA)
def test_peak_labels_do_not_overlap(
    kind: str, fetched: dict[str, list[tuple[Any, DataEntry]]]
) -> None:
    for result, entry in fetched[kind]:
        ax = result.plot(entry=entry)
        renderer = _draw(ax)
        boxes = [(t.get_text(), Text.get_window_extent(t, renderer)) for t in _labels(ax)]
        for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2):
            assert not box_a.overlaps(box_b), (kind, entry.physical_sample_name, a, b)
        plt.close("all")


@pytest.mark.parametrize("kind", SPECTRA)
def test_no_leader_line_runs_through_another_label(
    kind: str, fetched: dict[str, list[tuple[Any, DataEntry]]]
) -> None:
    import numpy as np

    for result, entry in fetched[kind]:
        ax = result.plot(entry=entry)
        renderer = _draw(ax)
        labels = _labels(ax)
        boxes = [Text.get_window_extent(t, renderer).expanded(0.95, 0.8) for t in labels]
        for i, label in enumerate(labels):
            arrow = cast(Any, label).arrow_patch
            if arrow is None:
                continue
            ends = arrow.get_path().vertices  # display pixels
            (x0, y0), (x1, y1) = ends[0], ends[-1]
            for t in np.linspace(0.05, 0.95, 40):
                x, y = x0 + (x1 - x0) * t, y0 + (y1 - y0) * t
                for j, box in enumerate(boxes):
                    where = (
                        kind,
                        entry.physical_sample_name,
                        label.get_text(),
                        labels[j].get_text(),
                    )
                    assert j == i or not box.contains(x, y), where
        plt.close("all")


def test_raman_labels_of_modes_a_few_wavenumbers_apart_are_staggered() -> None:
    shifts = [100.0 + 0.5 * i for i in range(1801)]
    result = structure(
        {
            "data_id": "r1",
            "wavenumbers": shifts,
            "intensities": [50.0 + 3000.0 * (abs(s - 520.5) < 3) for s in shifts],
            "detected_peaks": {"BaTiO3 A1(TO3)": 519.6, "Si TO": 520.7, "laser": "532 nm"},
        },
        RamanResult,
        "test",
    )
    ax: Any = result.plot()
    renderer = _draw(ax)
    texts = {t.get_text(): t for t in _labels(ax)}
    assert set(texts) == {"BaTiO3 A1(TO3)", "Si TO"}
    first, second = (Text.get_window_extent(t, renderer) for t in texts.values())
    assert not first.overlaps(second)
    frame = ax.get_window_extent(renderer)
    for box in (first, second):
        assert frame.x0 <= box.x0
        assert box.x1 <= frame.x1
        assert box.y1 <= frame.y1
    # The label moved off its peak has a leader line to it.
    assert any(cast(Any, t).arrow_patch is not None for t in texts.values())


def test_a_label_at_the_edge_of_the_axis_stays_inside_the_frame() -> None:
    angles = [20.0 + 0.02 * i for i in range(3001)]
    result = structure(
        {
            "data_id": "x1",
            "two_theta": angles,
            "intensities": [100.0 + 5e4 * (abs(t - 79.99) < 0.03) for t in angles],
            "detected_peaks": [{"two_theta": 79.99, "d_spacing_angstrom": 1.1986}],
        },
        XRDResult,
        "test",
    )
    ax: Any = result.plot()
    renderer = _draw(ax)
    (label,) = _labels(ax)
    assert label.get_text() == "1.199 Å"
    box = Text.get_window_extent(label, renderer)
    frame = ax.get_window_extent(renderer)
    assert frame.x0 <= box.x0
    assert box.x1 <= frame.x1
    assert box.y1 <= frame.y1  # on a log scale too
    assert ax.get_yscale() == "log"


@pytest.mark.parametrize("kind", SPECTRA)
def test_the_title_names_the_sample_and_the_id(
    kind: str, fetched: dict[str, list[tuple[Any, DataEntry]]]
) -> None:
    result, entry = fetched[kind][0]
    ax = result.plot(entry=entry)
    title = ax.get_title()
    assert str(entry.physical_sample_name) in title
    assert str(entry.sample_name) in title
    assert result.data_id in title
    box = ax.title.get_window_extent(_draw(ax))
    assert ax.figure.bbox.x0 <= box.x0  # a long title takes two lines rather than be cut
    assert box.x1 <= ax.figure.bbox.x1
    other = fetched[kind][1][1]
    with pytest.raises(ValueError, match="catalogue entry of"):
        result.plot(entry=other)


def test_xrd_names_its_sample_from_its_metadata_and_states_its_radiation(
    fetched: dict[str, list[tuple[Any, DataEntry]]],
) -> None:
    result, entry = fetched["xrd"][0]
    ax = result.plot()
    assert f"{entry.physical_sample_name} · {result.data_id}" in ax.get_title()
    assert ax.get_xlabel() == "2θ (°) · Cu K\N{GREEK SMALL LETTER ALPHA}, λ = 1.5406 Å"
    mo = structure(
        {
            "data_id": "m",
            "two_theta": [10.0, 20.0],
            "intensities": [1.0, 2.0],
            "wavelength_angstrom": 0.7093,
        },
        XRDResult,
        "test",
    )
    assert mo.plot().get_xlabel().endswith("Mo K\N{GREEK SMALL LETTER ALPHA}, λ = 0.7093 Å")
    odd = structure(
        {
            "data_id": "o",
            "two_theta": [10.0, 20.0],
            "intensities": [1.0, 2.0],
            "wavelength_angstrom": 1.2,
            "two_theta_unit": "rad",
        },
        XRDResult,
        "test",
    )
    assert odd.plot().get_xlabel() == "2θ (rad) · λ = 1.2 Å"
