"""XPS, XRD, photoluminescence and Raman results in brief: ``summary()`` and the notebook table."""

from __future__ import annotations

from typing import Any

import pytest

from atomscale_async import (
    PhotoluminescenceResult,
    RamanResult,
    SpectrumSummary,
    XPSResult,
    XRDResult,
)
from atomscale_async._convert import structure

DASH = "\N{EN DASH}"
UPDATED = "2025-01-02T03:04:05Z"


def _rows(summary: SpectrumSummary) -> dict[str, str]:
    return {label: value for label, value in summary.rows()}


def xps(peaks: Any = None) -> XPSResult:
    return structure(
        {
            "data_id": "x1",
            "binding_energies": [0.0 + 0.5 * i for i in range(2401)],
            "intensities": [100.0] * 2401,
            "predicted_composition": {"C": 0.2, "O": 0.5, "Ga": 0.3},
            "detected_peaks": peaks
            if peaks is not None
            else [
                {"binding_energy": 530.1, "element": "O", "orbital": "1s", "fwhm": 1.5},
                {"binding_energy": 284.8, "element": "C", "orbital": "1s", "peak_area": 4000},
            ],
            "set_elements": True,
            "last_updated": UPDATED,
        },
        XPSResult,
        "test",
    )


def test_xps_summary_names_its_axis_unit_composition_and_peaks() -> None:
    summary = xps().summary()
    assert isinstance(summary, SpectrumSummary)
    assert summary.axis_label == "binding energy (eV)"
    assert summary.describe() == f"2,401 points, binding energy 0 {DASH} 1200 eV, 2 peaks"
    rows = _rows(summary)
    assert rows["binding energy (eV)"] == f"0 {DASH} 1200"
    assert rows["composition"] == "O 50.0%, Ga 30.0%, C 20.0%"
    assert rows["elements set by hand"] == "yes"
    assert rows["last updated"] == "2025-01-02T03:04:05+00:00"
    assert summary.peak_header == ("binding energy (eV)", "element", "orbital", "area", "FWHM (eV)")
    assert summary.peaks == (("530.1", "O", "1s", "", "1.5"), ("284.8", "C", "1s", "4000", ""))


def test_xrd_summary_states_its_radiation_and_reflections() -> None:
    result = structure(
        {
            "data_id": "d1",
            "two_theta": [20.0, 50.0, 80.0],
            "intensities": [5.0, 900.0, 6.0],
            "detected_peaks": [
                {"two_theta": 34.57, "intensity": 900.0, "d_spacing_angstrom": 2.5925}
            ],
            "spectral_metadata": {"step_degrees": 0.02},
        },
        XRDResult,
        "test",
    )
    summary = result.summary()
    rows = _rows(summary)
    assert rows["2θ (°)"] == f"20 {DASH} 80"
    assert rows["radiation"] == "Cu K\N{GREEK SMALL LETTER ALPHA}, λ = 1.5406 Å"
    assert rows["step degrees"] == "0.02"
    assert "last updated" not in rows
    assert summary.peak_header == ("2θ (°)", "intensity", "d-spacing (Å)")  # no empty columns
    assert summary.peaks == (("34.57", "900", "2.5925"),)


def test_photoluminescence_summary_states_its_excitation() -> None:
    result = structure(
        {
            "data_id": "p1",
            "energies": [1.5, 2.5, 3.7],
            "intensities": [1, 50, 2],
            "detected_peaks": {
                "peaks": [{"energy_ev": 3.42, "intensity": 1500.0, "label": "GaN NBE"}],
                "excitation_nm": 325,
            },
        },
        PhotoluminescenceResult,
        "test",
    )
    summary = result.summary()
    rows = _rows(summary)
    assert rows["energy (eV)"] == f"1.5 {DASH} 3.7"
    assert rows["excitation"] == "325 nm (3.81 eV)"
    assert "items" not in str(summary.rows())  # not "peaks: 1 items, excitation_nm: 325"
    assert summary.peak_header == ("band", "energy (eV)", "intensity")
    assert summary.peaks == (("GaN NBE", "3.42", "1500"),)


def test_raman_summary_lists_modes_and_keeps_the_laser_apart() -> None:
    result = structure(
        {
            "data_id": "r1",
            "wavenumbers": [100.0, 1000.0],
            "intensities": [1, 9],
            "detected_peaks": {"Si TO": 520.7, "GaN E2(high)": 568.0, "laser": "532 nm"},
        },
        RamanResult,
        "test",
    )
    summary = result.summary()
    rows = _rows(summary)
    assert rows["Raman shift (cm⁻¹)"] == f"100 {DASH} 1000"
    assert rows["laser"] == "532 nm"
    assert rows["peaks"] == "2"
    assert summary.peak_header == ("mode", "Raman shift (cm⁻¹)")
    assert summary.peaks == (("Si TO", "520.7"), ("GaN E2(high)", "568"))


def test_the_notebook_shows_tables_not_text() -> None:
    page = xps()._repr_html_()
    assert page.startswith("<table><caption>XPS · x1</caption>")
    assert '<th style="text-align:left">binding energy (eV)</th>' in page
    assert "<thead><tr><th>binding energy (eV)</th><th>element</th>" in page
    assert "<tr><td>530.1</td><td>O</td><td>1s</td><td></td><td>1.5</td></tr>" in page
    assert len(page) < 2500  # 2,401 points, not one of them listed


def test_the_notebook_table_escapes_and_cuts_long_peak_lists() -> None:
    peaks = [{"binding_energy": float(i), "element": f"<E{i}>"} for i in range(50)]
    page = xps(peaks)._repr_html_()
    assert "&lt;E0&gt;" in page
    assert "<E0>" not in page
    assert "… 30 more" in page
    assert page.count("<td>") < 50 + 2 * 20 + 2


@pytest.mark.parametrize(
    ("result", "caption"),
    [
        (structure({"data_id": "d", "two_theta": [], "intensities": []}, XRDResult, "t"), "XRD"),
        (
            structure(
                {"data_id": "d", "energies": [], "intensities": []}, PhotoluminescenceResult, "t"
            ),
            "Photoluminescence",
        ),
    ],
)
def test_an_empty_spectrum_is_summarised_too(result: Any, caption: str) -> None:
    summary = result.summary()
    assert summary.describe() == "0 points, 0 peaks"
    assert f"<caption>{caption} · d</caption>" in result._repr_html_()
    assert _rows(summary)["intensity"] == "\N{EM DASH}"
