"""The sandbox's spectra obey their instruments' physics, for every stack it grows."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from atomscale_async import Client, PhotoluminescenceResult, XRDResult
from atomscale_async.sandbox import SandboxServer
from atomscale_async.sandbox._spectra import (
    SAMPLE_MATERIALS,
    photoluminescence_result,
    xrd_result,
)

#: Planck's constant times the speed of light, in eV nm: a photon of λ nm has HC / λ eV.
HC_EV_NM = 1239.84
COLLECTED = datetime(2025, 1, 1, tzinfo=UTC)
SAMPLES = [f"{prefix}-{n:02d}" for prefix in SAMPLE_MATERIALS for n in (1, 2, 3)]


@pytest.mark.parametrize("sample", SAMPLES)
def test_no_xrd_peak_is_narrower_than_the_scan_step(sample: str) -> None:
    for seed in range(5):
        result = xrd_result(random.Random(seed), sample, COLLECTED)
        axis = result["two_theta"]
        step = result["spectral_metadata"]["step_degrees"]
        assert axis[1] - axis[0] == pytest.approx(step)
        for peak in result["detected_peaks"]:
            assert peak["fwhm_degrees"] >= step, (sample, seed, peak)


@pytest.mark.parametrize("sample", SAMPLES)
def test_an_xrd_peaks_intensity_is_what_the_scan_shows_there(sample: str) -> None:
    for seed in range(5):
        result = xrd_result(random.Random(seed), sample, COLLECTED)
        axis, counts = result["two_theta"], result["intensities"]
        for peak in result["detected_peaks"]:
            assert peak["intensity"] <= max(counts), (sample, seed, peak)
            # The highest count within the peak's half width is the peak's intensity.
            half = peak["fwhm_degrees"] / 2
            near = [
                c for t, c in zip(axis, counts, strict=True) if abs(t - peak["two_theta"]) <= half
            ]
            assert peak["intensity"] == max(near), (sample, seed, peak)
            assert 0 < peak["prominence"] <= peak["intensity"]


@pytest.mark.parametrize("sample", SAMPLES)
def test_no_photoluminescence_above_the_excitation_energy(sample: str) -> None:
    for seed in range(5):
        result = photoluminescence_result(random.Random(seed), sample, COLLECTED)
        excitation = HC_EV_NM / result["detected_peaks"]["excitation_nm"]
        assert max(result["energies"]) < excitation, (sample, seed)
        for band in result["detected_peaks"]["peaks"]:
            assert band["energy_ev"] < excitation, (sample, seed, band)


def test_the_peaks_frames_agree_with_the_spectra_a_client_fetches() -> None:
    pytest.importorskip("pandas")
    with (
        SandboxServer(entries=300, seed=11) as server,
        Client(api_key=server.api_key, base_url=server.base_url) as client,
    ):
        xrd = client.get(server.state.ids("xrd"), data_type="xrd")
        pl = client.get(server.state.ids("photoluminescence"), data_type="photoluminescence")
    assert xrd
    assert pl
    for result in xrd:
        assert isinstance(result, XRDResult)
        frame = result.peaks_frame()
        assert (frame["intensity"] <= max(result.intensities)).all(), result.data_id
        assert (frame["fwhm_degrees"] >= result.two_theta[1] - result.two_theta[0]).all()
    for band in pl:
        assert isinstance(band, PhotoluminescenceResult)
        excitation = HC_EV_NM / band.detected_peaks["excitation_nm"]
        assert max(band.energies) < excitation, band.data_id
