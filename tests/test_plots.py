"""Quick-look plots of SIMS and OES results, rendered with the Agg backend."""

from __future__ import annotations

import io
import itertools
import math
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from atomscale_async import MissingExtraError, OESResult, SIMSResult
from atomscale_async._convert import structure
from atomscale_async._plots import format_species, format_unit

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
plt = pytest.importorskip("matplotlib.pyplot")
np = pytest.importorskip("numpy")
Text = pytest.importorskip("matplotlib.text").Text

SIMS_ID = "11111111-1111-4111-8111-111111111111"
OES_ID = "22222222-2222-4222-8222-222222222222"
STAMP = "2025-01-02T03:04:05Z"


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def profile_json(
    species: str,
    depths: list[float],
    concentrations: list[float],
    concentration_units: str = "atoms/cm^3",
) -> dict[str, Any]:
    return {
        "data_id": SIMS_ID,
        "id": f"profile-{species}",
        "processed_data_id": "33333333-3333-4333-8333-333333333333",
        "species_name": species,
        "depths": depths,
        "depth_units": "nm",
        "concentrations": concentrations,
        "concentration_units": concentration_units,
        "species_metadata": {},
        "last_updated": STAMP,
    }


def make_sims(profiles: list[dict[str, Any]] | None = None) -> SIMSResult:
    if profiles is None:
        depths = [float(d) for d in range(0, 500, 5)]
        profiles = [
            profile_json(
                "B", depths, [1e19 * math.exp(-(((d - 80) / 40) ** 2)) + 1e14 for d in depths]
            ),
            profile_json("H", depths, [1e17 + 1e21 * math.exp(-d / 10) for d in depths]),
            profile_json(
                "P", depths, [5e18 * math.exp(-(((d - 150) / 90) ** 2)) + 2e14 for d in depths]
            ),
        ]
    return structure({"data_id": SIMS_ID, "depth_profiles": profiles}, SIMSResult, "test")


#: Peaks by element, and their heights. The Al lines are 1.75 nm apart: one label, no
#: leader (their markers overlap); the Ar lines 8 nm apart: one label, a leader to the lower.
LINES = {
    "N2": [337.13, 357.69, 380.49],
    "Al": [394.4, 396.15],
    "Ga": [403.3, 460.0],
    "Ar": [750.0, 758.0],
    "N": [868.03],
}
HEIGHTS = {337.13: 4000, 357.69: 6000, 380.49: 8000, 394.4: 1400, 396.15: 1700, 403.3: 2600}
HEIGHTS |= {460.0: 2500, 750.0: 3400, 758.0: 1500, 868.03: 900}


def make_oes(points: int = 2048, **changes: Any) -> OESResult:
    wavelengths = [200.0 + i * 700.0 / (points - 1) for i in range(points)]
    spectrum = [
        5.0 + sum(h * math.exp(-(((w - c) / 0.4) ** 2)) for c, h in HEIGHTS.items())
        for w in wavelengths
    ]
    peaks = [
        {"peak_id": f"p{i}", "wavelength_nm": w, "element": element}
        for i, (element, w) in enumerate(
            (element, w) for element, lines in LINES.items() for w in lines
        )
    ]
    payload: dict[str, Any] = {
        "data_id": OES_ID,
        "id": "oes-1",
        "wavelengths": wavelengths,
        "wavelength_unit": "nm",
        "sample": [v + 1000.0 for v in spectrum],
        "reference": None,
        "dark": None,
        "scope_corrected": spectrum,
        "spectrum_type": "sample",
        "detected_peaks": peaks,
        "constraint_mode": "auto",
        "spectral_metadata": {},
        "last_updated": STAMP,
    }
    payload.update(changes)
    return structure(payload, OESResult, "test")


def render(ax: Any) -> bytes:
    """Render the figure to PNG bytes (any warning fails the test)."""
    buffer = io.BytesIO()
    ax.figure.savefig(buffer, format="png")
    return buffer.getvalue()


# -- SIMS ---------------------------------------------------------------------------------


def test_sims_plot_draws_one_log_line_per_species() -> None:
    result = make_sims()
    ax: Any = result.plot()
    assert render(ax).startswith(b"\x89PNG")
    assert [line.get_label() for line in ax.get_lines()] == ["B", "H", "P"]
    for line, profile in zip(ax.get_lines(), result.depth_profiles, strict=True):
        assert line.get_xdata().tolist() == list(profile.depths)
        assert line.get_ydata().tolist() == list(profile.concentrations)
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() == "Depth (nm)"
    assert ax.get_ylabel() == "Concentration (atoms/cm$^{3}$)"
    legend = ax.get_legend()
    assert legend is not None
    assert [text.get_text() for text in legend.get_texts()] == ["B", "H", "P"]
    assert SIMS_ID in ax.get_title()


def test_sims_plot_draws_in_the_given_axes() -> None:
    _, axes = plt.subplots(1, 2)
    axes[1].set_title("mine")
    ax: Any = make_sims().plot(ax=axes[1], species="H")
    assert ax is axes[1]
    assert [line.get_label() for line in ax.get_lines()] == ["H"]
    assert not axes[0].get_lines()
    assert ax.get_title() == "mine"
    render(ax)


def test_sims_plot_selects_species() -> None:
    ax: Any = make_sims().plot(species=["P", "B"])
    assert [line.get_label() for line in ax.get_lines()] == ["B", "P"]
    with pytest.raises(ValueError, match=r"no profile of Zn in .* \(species: B, H, P\)"):
        make_sims().plot(species="Zn")


def test_sims_plot_with_mixed_units_puts_them_in_the_legend() -> None:
    result = make_sims(
        [
            profile_json("Si", [0.0, 1.0], [2e4, 3e4], concentration_units="counts/s"),
            profile_json("B", [0.0, 1.0], [1e17, 1e16]),
        ]
    )
    ax: Any = result.plot()
    assert [line.get_label() for line in ax.get_lines()] == [
        "Si (counts/s)",
        "B (atoms/cm$^{3}$)",
    ]
    assert ax.get_ylabel() == "Concentration"
    render(ax)


def test_sims_plot_masks_values_a_log_axis_cannot_show() -> None:
    result = make_sims([profile_json("B", [0.0, 1.0, 2.0, 3.0], [1e17, 0.0, -5.0, 1e16])])
    ax: Any = result.plot()
    render(ax)
    low, high = ax.get_ylim()
    assert 0 < low < 1e16
    assert high > 1e17


def test_sims_plot_without_profiles() -> None:
    ax: Any = make_sims([]).plot()
    render(ax)
    assert not ax.get_lines()
    assert ax.get_legend() is None
    assert [text.get_text() for text in ax.texts] == ["no depth profiles"]
    assert ax.get_yscale() == "log"


# -- OES ----------------------------------------------------------------------------------


def label_texts(ax: Any) -> list[str]:
    return [text.get_text() for text in ax.texts if text.get_text()]


def leaders(ax: Any) -> list[Any]:
    """The leader lines drawn from a shared label to its peaks (text-less annotations)."""
    return [text for text in ax.texts if not text.get_text()]


def test_oes_plot_draws_the_scope_corrected_spectrum_and_labels_peaks() -> None:
    result = make_oes()
    ax: Any = result.plot()
    render(ax)
    spectrum = ax.get_lines()[0]
    assert spectrum.get_xdata().tolist() == list(result.wavelengths)
    assert spectrum.get_ydata().tolist() == list(result.scope_corrected)
    assert ax.get_xlabel() == "Wavelength (nm)"
    assert ax.get_ylabel() == "Scope-corrected intensity"
    assert ax.get_yscale() == "linear"
    # One marker line per element, one marker per peak.
    markers = ax.get_lines()[1:]
    assert len(markers) == 5
    assert sorted(len(line.get_xdata()) for line in markers) == [1, 2, 2, 2, 3]
    # The Al lines and the Ar lines share a label each; every other peak has its own.
    assert sorted(label_texts(ax)) == sorted(
        ["N$_{2}$", "N$_{2}$", "N$_{2}$", "Al", "Ga", "Ga", "Ar", "N"]
    )
    (leader,) = leaders(ax)
    assert leader.xy[0] == 758.0
    assert 1400 < leader.xy[1] <= 1505


def test_oes_peak_labels_sit_on_their_peaks_and_do_not_overlap() -> None:
    result = make_oes()
    ax: Any = result.plot()
    render(ax)
    renderer = ax.figure.canvas.get_renderer()
    labels = [text for text in ax.texts if text.get_text()]
    for label in labels:
        x, y = label.xy
        element = next(e for e in LINES if format_species(e) == label.get_text())
        lines = LINES[element]
        spots = lines + [(a + b) / 2 for a, b in itertools.pairwise(lines)]
        assert any(math.isclose(x, spot) for spot in spots), (element, x)
        assert y > 500  # at the top of its peak, not on the baseline
    boxes = [
        Text.get_window_extent(label, renderer)  # the text only, not its leader line
        for label in labels
    ]
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b), (a, b)
    axes_box = ax.get_window_extent(renderer)
    for box in boxes:
        assert box.y1 <= axes_box.y1 + 1  # the y range grew to fit the labels
        assert axes_box.x0 - 1 <= box.x0
        assert box.x1 <= axes_box.x1 + 1


def test_oes_plot_without_peak_labels() -> None:
    ax: Any = make_oes().plot(peaks=False)
    render(ax)
    assert not ax.texts
    assert len(ax.get_lines()) == 1


def test_oes_plot_with_missing_spectra_and_no_peaks() -> None:
    ax: Any = make_oes(reference=None, dark=None, detected_peaks=[]).plot()
    render(ax)
    assert not ax.texts


def test_oes_plot_draws_in_the_given_axes() -> None:
    _, axes = plt.subplots(2, 1, figsize=(6, 6))
    ax: Any = make_oes().plot(ax=axes[0])
    assert ax is axes[0]
    assert ax.texts
    render(ax)


def test_oes_plot_places_nm_peaks_on_an_angstrom_axis() -> None:
    result = make_oes()
    angstrom = make_oes(
        wavelengths=[w * 10 for w in result.wavelengths],
        wavelength_unit="Å",
        detected_peaks=[{"peak_id": "p", "wavelength_nm": 750.0, "element": "N"}],
    )
    ax: Any = angstrom.plot()
    render(ax)
    assert ax.get_xlabel() == "Wavelength (Å)"
    (label,) = ax.texts
    assert math.isclose(label.xy[0], 7500.0)
    assert label.xy[1] > 3000


def test_oes_plot_of_an_empty_spectrum() -> None:
    result = make_oes(
        wavelengths=[], sample=[], scope_corrected=[], detected_peaks=[], reference=None
    )
    ax: Any = result.plot()
    render(ax)
    assert ax.get_lines()[0].get_xdata().size == 0


# -- labels and missing extras ------------------------------------------------------------


@pytest.mark.parametrize(
    ("unit", "label"),
    [
        ("atoms/cm^3", "atoms/cm$^{3}$"),
        ("cm^-3", "cm$^{-3}$"),
        ("nm", "nm"),
        ("$/kg", r"\$/kg"),
    ],
)
def test_format_unit(unit: str, label: str) -> None:
    assert format_unit(unit) == label


@pytest.mark.parametrize(
    ("name", "label"),
    [("N2", "N$_{2}$"), ("Ga", "Ga"), ("TiO2+", "TiO$_{2}$+"), ("11B+", "11B+"), ("a$b", r"a\$b")],
)
def test_format_species(name: str, label: str) -> None:
    assert format_species(name) == label


def test_missing_matplotlib_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingExtraError, match=r"pip install -e '\.\[plot\]'") as info:
        make_sims().plot()
    assert str(info.value).startswith("SIMSResult.plot() requires matplotlib")
    with pytest.raises(MissingExtraError, match=r"OESResult\.plot\(\) requires matplotlib"):
        make_oes().plot()
    assert np is not None


def test_oes_plot_skips_peaks_off_the_spectrum() -> None:
    peaks = [
        {"peak_id": "in", "wavelength_nm": 750.0, "element": "N"},
        {"peak_id": "off", "wavelength_nm": 1200.0, "element": "H"},
    ]
    ax: Any = make_oes(detected_peaks=peaks).plot()
    render(ax)
    assert label_texts(ax) == ["N"]
    assert ax.get_xlim() == (200.0, 900.0)
