"""Physically plausible XPS, XRD, photoluminescence and Raman results for the sandbox.

Each sample name prefix stands for a grown stack (`MATERIALS`); a spectrum shows what that
stack would show on a real instrument:

- XPS: a survey from 0 to 1,200 eV with the core levels of the surface's elements at their
  tabulated binding energies (Ga 2p3/2 at 1117 eV, N 1s at 397 eV, Ti 2p3/2 at 458.5 eV...),
  adventitious carbon at 284.8 eV, areas weighted by the elements' sensitivity factors, on a
  step background that rises below each line.
- XRD: a symmetric 2θ scan with Cu K-alpha (1.5406 Å) whose peaks sit at the Bragg angles of
  the film's and the substrate's out-of-plane reflections (GaN (0002) at 34.57°, sapphire
  (0006) at 41.68°, SrTiO3 (002) at 46.47°...), the substrate's narrow and strong, each
  broadened by the diffractometer's resolution (wider than the scan step). A detected
  peak's intensity is the scan's highest count within its half width, as a peak search
  over the scan would report it.
- Photoluminescence: bands at the emitters' energies (GaN near-band-edge at 3.42 eV, its
  yellow band at 2.2 eV, InGaN wells near 2.85 eV...), excited by a HeCd laser (325 nm) or,
  for a stack emitting above its 3.81 eV, a frequency-quadrupled one (266 nm); the spectrum
  stops below the laser line, which an edge filter blocks.
- Raman: the phonon modes of the layers and the substrate (Si at 520.7 cm^-1, GaN E2(high)
  at 568 cm^-1 and A1(LO) at 734 cm^-1, sapphire's A1g at 418 cm^-1...).

Everything is a pure function of the seed and the entry, like the rest of the sandbox.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import attrs

JSONObject = dict[str, Any]

CU_K_ALPHA: Final = 1.5406
"""The X-ray wavelength of the sandbox's diffractometers (Å)."""


@attrs.frozen
class Material:
    """A grown stack, as the spectra see it.

    Args:
        surface: Element -> atomic fraction of the top layer (XPS).
        reflections: (label, d-spacing in Å, relative intensity, width in degrees) of the
            out-of-plane reflections in a symmetric scan (XRD).
        emission: (label, energy in eV, relative intensity, width in eV) (photoluminescence).
        modes: (label, shift in cm^-1, relative intensity, width in cm^-1) (Raman).
        excitation_nm: The wavelength of the laser that excites the photoluminescence (nm).
    """

    surface: dict[str, float]
    reflections: tuple[tuple[str, float, float, float], ...]
    emission: tuple[tuple[str, float, float, float], ...]
    modes: tuple[tuple[str, float, float, float], ...]
    excitation_nm: float = 325.0


def _wurtzite(label: str, c: float, strength: float, width: float) -> list[Any]:
    return [
        (f"{label} (0002)", c / 2, strength, width),
        (f"{label} (0004)", c / 4, strength / 8, width),
    ]


_SAPPHIRE_XRD: Final = (("Al2O3 (0006)", 12.991 / 6, 30.0, 0.02),)
_SAPPHIRE_RAMAN: Final = (
    ("Al2O3 A1g", 418.0, 0.5, 4.0),
    ("Al2O3 Eg", 750.0, 0.25, 6.0),
    ("Al2O3 Eg", 378.0, 0.1, 5.0),
)
_SI_RAMAN: Final = (("Si TO", 520.7, 3.0, 3.5), ("Si 2TA", 302.0, 0.08, 25.0))
_GAN_RAMAN: Final = (
    ("GaN E2(high)", 568.0, 1.0, 4.0),
    ("GaN A1(LO)", 734.0, 0.45, 8.0),
    ("GaN E2(low)", 144.0, 0.3, 2.5),
)
_GAN_PL: Final = (
    ("GaN near-band-edge", 3.42, 1.0, 0.06),
    ("GaN yellow band", 2.2, 0.25, 0.42),
)

MATERIALS: Final[dict[str, Material]] = {
    "Si": Material(
        {"Si": 0.6, "O": 0.4},
        (("Si (004)", 5.431 / 4, 40.0, 0.01),),
        (("Si band edge (phonon-assisted)", 1.1, 0.01, 0.08),),
        _SI_RAMAN,
    ),
    "GaN": Material(
        {"Ga": 0.5, "N": 0.5},
        (*_wurtzite("GaN", 5.185, 8.0, 0.08), *_SAPPHIRE_XRD),
        _GAN_PL,
        (*_GAN_RAMAN, *_SAPPHIRE_RAMAN),
    ),
    "pGaN": Material(
        {"Ga": 0.49, "N": 0.49, "Mg": 0.02},
        (*_wurtzite("GaN:Mg", 5.186, 7.0, 0.1), *_SAPPHIRE_XRD),
        (
            ("Mg acceptor DAP", 3.27, 0.5, 0.1),
            ("Mg blue band", 2.9, 0.8, 0.35),
            ("GaN near-band-edge", 3.42, 0.2, 0.06),
        ),
        (*_GAN_RAMAN, *_SAPPHIRE_RAMAN),
    ),
    "InGaN": Material(
        {"Ga": 0.5, "N": 0.5},
        (
            *_wurtzite("GaN", 5.185, 8.0, 0.08),
            ("In0.15Ga0.85N (0002)", 5.263 / 2, 1.5, 0.25),
            *_SAPPHIRE_XRD,
        ),
        (("InGaN QW emission", 2.85, 1.0, 0.15), ("GaN near-band-edge", 3.42, 0.15, 0.06)),
        (*_GAN_RAMAN, ("InGaN A1(LO)", 722.0, 0.15, 15.0), *_SAPPHIRE_RAMAN),
    ),
    "AlN": Material(
        {"Al": 0.5, "N": 0.5},
        (*_wurtzite("AlN", 4.980, 6.0, 0.15), ("Si (111)", 3.1356, 30.0, 0.01)),
        (("AlN deep level", 3.1, 0.2, 0.5),),
        (
            ("AlN E2(high)", 657.0, 1.0, 6.0),
            ("AlN A1(TO)", 611.0, 0.3, 8.0),
            ("AlN E2(low)", 248.0, 0.3, 3.0),
            *_SI_RAMAN,
        ),
    ),
    "AlGaN": Material(
        {"Al": 0.125, "Ga": 0.375, "N": 0.5},
        (
            *_wurtzite("GaN", 5.185, 8.0, 0.08),
            ("Al0.25Ga0.75N (0002)", 5.134 / 2, 1.2, 0.2),
            ("4H-SiC (0004)", 10.053 / 4, 30.0, 0.015),
            ("4H-SiC (0008)", 10.053 / 8, 4.0, 0.015),
        ),
        (("AlGaN near-band-edge", 3.95, 0.4, 0.08), *_GAN_PL),
        (
            *_GAN_RAMAN,
            ("AlGaN A1(LO)", 790.0, 0.2, 14.0),
            ("4H-SiC E2", 776.0, 0.8, 4.0),
            ("4H-SiC A1(LO)", 964.0, 0.3, 6.0),
        ),
        excitation_nm=266.0,  # the AlGaN band edge (3.95 eV) is above a HeCd laser's 3.81 eV
    ),
    "BaTiO3": Material(
        {"Ba": 0.2, "Ti": 0.2, "O": 0.6},
        (
            ("BaTiO3 (001)", 4.036, 2.0, 0.2),
            ("BaTiO3 (002)", 4.036 / 2, 4.0, 0.2),
            ("SrTiO3 (002)", 3.905 / 2, 1.0, 0.15),
            ("Si (004)", 5.431 / 4, 40.0, 0.01),
        ),
        (("oxygen-vacancy band", 2.5, 0.05, 0.6),),
        (
            ("BaTiO3 E(TO2)", 307.0, 0.6, 6.0),
            ("BaTiO3 A1(TO2)", 260.0, 0.5, 50.0),
            ("BaTiO3 A1(TO3)", 520.0, 0.45, 40.0),
            ("BaTiO3 A1(LO3)", 715.0, 0.25, 30.0),
            *_SI_RAMAN,
        ),
    ),
    "SrTiO3": Material(
        {"Sr": 0.2, "Ti": 0.2, "O": 0.6},
        (
            ("SrTiO3 (001)", 3.905, 3.0, 0.02),
            ("SrTiO3 (002)", 3.905 / 2, 30.0, 0.015),
            ("SrTiO3 (003)", 3.905 / 3, 5.0, 0.02),
        ),
        (("SrTiO3 blue emission", 2.9, 0.3, 0.45), ("SrTiO3 green band", 2.4, 0.1, 0.5)),
        (
            ("SrTiO3 second order", 310.0, 0.4, 80.0),
            ("SrTiO3 second order", 625.0, 0.3, 60.0),
            ("SrTiO3 second order", 700.0, 0.25, 50.0),
        ),
    ),
    "TiN": Material(
        {"Ti": 0.45, "N": 0.45, "O": 0.1},
        (("TiN (002)", 4.24 / 2, 5.0, 0.25), ("MgO (002)", 4.212 / 2, 30.0, 0.015)),
        (("MgO F-centre band", 2.3, 0.02, 0.5),),
        (
            ("TiN TA", 230.0, 0.6, 45.0),
            ("TiN LA", 320.0, 0.4, 50.0),
            ("TiN TO", 560.0, 0.5, 70.0),
        ),
    ),
}

# The stack behind each sample name prefix of the catalogue.
SAMPLE_MATERIALS: Final = {
    "Si-IMP": "Si",
    "Si-WAFER": "Si",
    "GaN-S": "GaN",
    "pGaN-LED": "pGaN",
    "InGaN-MQW": "InGaN",
    "AlN-T": "AlN",
    "AlGaN-HEMT": "AlGaN",
    "BTO-Si": "BaTiO3",
    "STO-H": "SrTiO3",
    "TiN-M": "TiN",
}

# The samples each new technique measures (by sample name prefix).
KIND_PREFIXES: Final = {
    "xps": tuple(SAMPLE_MATERIALS),
    "xrd": ("GaN-S", "InGaN-MQW", "AlN-T", "AlGaN-HEMT", "BTO-Si", "STO-H", "TiN-M"),
    "photoluminescence": ("GaN-S", "pGaN-LED", "InGaN-MQW", "AlGaN-HEMT", "STO-H"),
    "pl": ("GaN-S", "pGaN-LED", "InGaN-MQW"),
    "raman": tuple(SAMPLE_MATERIALS),
}

# (binding energy in eV, orbital, relative sensitivity factor) of each element's main line,
# and further lines of the same element shown in a survey.
_CORE_LEVELS: Final[dict[str, tuple[tuple[float, str, float], ...]]] = {
    "C": ((284.8, "1s", 1.0),),
    "O": ((530.0, "1s", 2.93),),
    "N": ((397.0, "1s", 1.8),),
    "Ga": ((1117.0, "2p3/2", 27.9), (1144.0, "2p1/2", 13.9), (19.5, "3d", 1.1)),
    "Al": ((74.0, "2p", 0.54), (119.0, "2s", 0.75)),
    "In": ((444.5, "3d5/2", 13.3), (452.0, "3d3/2", 9.2)),
    "Si": ((99.3, "2p", 0.82), (150.5, "2s", 0.96)),
    "Ti": ((458.5, "2p3/2", 5.22), (464.2, "2p1/2", 2.7)),
    "Ba": ((779.0, "3d5/2", 25.8), (794.3, "3d3/2", 17.9)),
    "Sr": ((133.0, "3d", 5.2),),
    "Mg": ((1303.5, "1s", 8.0), (49.5, "2p", 0.25)),
}
_XPS_RANGE: Final = (0.0, 1200.0, 0.5)
_XRD_RANGE: Final = (20.0, 80.0, 0.02)
#: The diffractometer's resolution (FWHM in degrees), added in quadrature to a peak's width.
_XRD_RESOLUTION: Final = 0.04
#: The lowest photon energy and the step of a photoluminescence spectrum (eV).
_PL_RANGE: Final = (1.5, 0.0025)
#: How far below the laser line the edge filter lets light through (eV).
_PL_FILTER_EV: Final = 0.1
#: Planck's constant times the speed of light (eV nm): a photon of λ nm carries HC / λ eV.
HC_EV_NM: Final = 1239.84
_RAMAN_RANGE: Final = (100.0, 1000.0, 0.5)


def _axis(first: float, last: float, step: float) -> list[float]:
    count = round((last - first) / step) + 1
    return [round(first + i * step, 6) for i in range(count)]


def _sig(value: float, digits: int = 5) -> float:
    return float(f"{value:.{digits}g}")


def _shape(axis: Sequence[float], center: float, width: float, height: float) -> list[float]:
    """A pseudo-Voigt line (half Gaussian, half Lorentzian) of full width `width`."""
    half = width / 2
    out = [0.0] * len(axis)
    first, step = axis[0], axis[1] - axis[0]
    reach = max(half * 30, step * 3)
    lo = max(0, int((center - reach - first) / step))
    hi = min(len(axis), int((center + reach - first) / step) + 2)
    for i in range(lo, hi):
        x = (axis[i] - center) / half
        out[i] = height * (0.5 * math.exp(-math.log(2) * x * x) + 0.5 / (1 + x * x))
    return out


def _add(total: list[float], part: Sequence[float]) -> None:
    for i, value in enumerate(part):
        if value:
            total[i] += value


def material_of(sample_name: str) -> Material:
    """The stack a sample was grown as, from its name's prefix (GaN for an unknown one)."""
    prefix = sample_name.rsplit("-", 1)[0]
    return MATERIALS[SAMPLE_MATERIALS.get(prefix, "GaN")]


def _last_updated(collected: datetime, rng: random.Random) -> str:
    moment = collected + timedelta(minutes=rng.randrange(5, 24 * 60))
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def xps_result(rng: random.Random, sample_name: str, collected: datetime) -> JSONObject:
    """A survey spectrum of the sample's surface, with adventitious carbon and oxygen."""
    material = material_of(sample_name)
    surface = {element: share * 0.7 for element, share in material.surface.items()}
    surface["C"] = surface.get("C", 0.0) + 0.2
    surface["O"] = surface.get("O", 0.0) + 0.1
    total = sum(surface.values())
    composition = {element: round(share / total, 4) for element, share in sorted(surface.items())}
    energies = _axis(*_XPS_RANGE)
    counts = [200.0 + 3.0 * e for e in energies]  # secondary-electron background
    peaks: list[JSONObject] = []
    for element, share in composition.items():
        for energy, orbital, sensitivity in _CORE_LEVELS.get(element, ()):
            shift = rng.gauss(0.0, 0.15)
            width = 1.4 + rng.random() * 0.6
            area = share * sensitivity * 20000.0
            height = area / width
            center = energy + shift
            _add(counts, _shape(energies, center, width, height))
            # Inelastic losses raise the background on the high binding energy side.
            step_height = height * 0.15
            for i, e in enumerate(energies):
                if e > center:
                    counts[i] += step_height * (1 - math.exp(-(e - center) / 8.0))
            peaks.append(
                {
                    "binding_energy": round(center, 2),
                    "element": element,
                    "orbital": orbital,
                    "peak_area": _sig(area),
                    "fwhm": round(width, 2),
                }
            )
    noisy = [_sig(max(c + rng.gauss(0.0, math.sqrt(c)), 0.0), 5) for c in counts]
    return {
        "xps_id": f"xps_{rng.getrandbits(32):08x}",
        "binding_energies": energies,
        "intensities": noisy,
        "predicted_composition": composition,
        "detected_peaks": sorted(peaks, key=lambda p: -float(p["binding_energy"])),
        "set_elements": rng.random() < 0.3,
        "last_updated": _last_updated(collected, rng),
    }


def bragg_two_theta(d_spacing: float, wavelength: float = CU_K_ALPHA) -> float:
    """The 2θ (degrees) at which a reflection of this d-spacing (Å) diffracts."""
    return 2 * math.degrees(math.asin(wavelength / (2 * d_spacing)))


def xrd_result(rng: random.Random, sample_name: str, collected: datetime) -> JSONObject:
    """A symmetric 2θ-ω scan with the stack's reflections at their Bragg angles."""
    material = material_of(sample_name)
    two_theta = _axis(*_XRD_RANGE)

    def background(t: float) -> float:
        return 40.0 + 2000.0 / t

    counts = [background(t) for t in two_theta]
    reflections: list[tuple[float, float, float]] = []  # (2θ, FWHM, d-spacing)
    for _label, d_spacing, strength, width in material.reflections:
        angle = bragg_two_theta(d_spacing) + rng.gauss(0.0, 0.01)
        if not two_theta[0] < angle < two_theta[-1]:
            continue
        intrinsic = width * (0.9 + rng.random() * 0.2)
        fwhm = math.hypot(intrinsic, _XRD_RESOLUTION)
        height = strength * 2000.0 * (0.7 + rng.random() * 0.6)
        _add(counts, _shape(two_theta, angle, fwhm, height))
        reflections.append((round(angle, 3), round(fwhm, 3), d_spacing))
    noisy = [_sig(max(c + rng.gauss(0.0, math.sqrt(c)), 0.0), 5) for c in counts]
    peaks: list[JSONObject] = []
    for angle, fwhm, d_spacing in reflections:
        # What a peak search over the scan reports: its highest count, above the background.
        top = max(c for t, c in zip(two_theta, noisy, strict=True) if abs(t - angle) <= fwhm / 2)
        peaks.append(
            {
                "two_theta": angle,
                "intensity": top,
                "d_spacing_angstrom": round(d_spacing, 4),
                "prominence": _sig(max(top - background(angle), 1.0)),
                "fwhm_degrees": fwhm,
            }
        )
    return {
        "id": f"xrd_{rng.getrandbits(32):08x}",
        "two_theta": two_theta,
        "intensities": noisy,
        "detected_peaks": sorted(peaks, key=lambda p: float(p["two_theta"])),
        "wavelength_angstrom": CU_K_ALPHA,
        "two_theta_unit": "degrees",
        "spectral_metadata": {
            "scan": "2theta-omega",
            "anode": "Cu",
            "step_degrees": _XRD_RANGE[2],
            "sample": sample_name,
        },
        "last_updated": _last_updated(collected, rng),
    }


def photoluminescence_result(
    rng: random.Random, sample_name: str, collected: datetime
) -> JSONObject:
    """A room-temperature PL spectrum with the stack's emission bands."""
    material = material_of(sample_name)
    first, step = _PL_RANGE
    # The laser line and what is above it never reach the detector.
    last = math.floor((HC_EV_NM / material.excitation_nm - _PL_FILTER_EV - first) / step) * step
    energies = _axis(first, first + last, step)
    counts = [5.0] * len(energies)
    found: list[JSONObject] = []
    for label, energy, strength, width in material.emission:
        if not energies[0] < energy < energies[-1]:
            continue
        center = energy + rng.gauss(0.0, 0.01)
        height = strength * 10000.0 * (0.6 + rng.random() * 0.8)
        _add(counts, _shape(energies, center, width, height))
        found.append({"energy_ev": round(center, 3), "intensity": _sig(height), "label": label})
    noisy = [_sig(max(c + rng.gauss(0.0, math.sqrt(c)), 0.0), 5) for c in counts]
    id_key = "photoluminescence_id" if rng.random() < 0.5 else "id"
    return {
        id_key: f"pl_{rng.getrandbits(32):08x}",
        "energies": energies,
        "intensities": noisy,
        "detected_peaks": {"peaks": found, "excitation_nm": round(material.excitation_nm)},
        "last_updated": _last_updated(collected, rng),
    }


def raman_result(rng: random.Random, sample_name: str, collected: datetime) -> JSONObject:
    """A Raman spectrum with the phonon modes of the layers and the substrate."""
    material = material_of(sample_name)
    shifts = _axis(*_RAMAN_RANGE)
    counts = [50.0 + 0.02 * s for s in shifts]
    found: dict[str, Any] = {}
    for label, shift, strength, width in material.modes:
        center = shift + rng.gauss(0.0, 0.3)
        height = strength * 3000.0 * (0.7 + rng.random() * 0.6)
        _add(counts, _shape(shifts, center, width, height))
        found.setdefault(label, round(center, 1))
    noisy = [_sig(max(c + rng.gauss(0.0, math.sqrt(c)), 0.0), 5) for c in counts]
    id_key = "raman_id" if rng.random() < 0.5 else "id"
    axis_key = "wavenumbers" if rng.random() < 0.5 else "energies"
    found["laser"] = "532 nm"
    return {
        id_key: f"raman_{rng.getrandbits(32):08x}",
        axis_key: shifts,
        "intensities": noisy,
        "detected_peaks": found,
        "last_updated": _last_updated(collected, rng),
    }


GENERATORS: Final = {
    "xps": xps_result,
    "xrd": xrd_result,
    "photoluminescence": photoluminescence_result,
    "pl": photoluminescence_result,
    "raman": raman_result,
}
"""The result generator of each new kind, by `char_source_type`."""
