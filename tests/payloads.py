"""Response bodies from the Atomscale API reference's own examples."""

from __future__ import annotations

import copy
from typing import Any

DATA_ID = "d290f1ee-6c54-4b01-90e6-d701748f0851"

INSTRUMENT: dict[str, Any] = {
    "id": 7,
    "source_name": "MBE Chamber A",
    "source_manufacturer": "Veeco",
    "source_model": "GEN10",
    "source_makes_id": 3,
    "synth_source_type": "mbe",
    "synth_source_id": 42,
    "source_metadata": {"manufacture_year": 2021, "serial_identifier": "GEN10-00421", "inputs": 8},
    "detail_note_content": None,
    "detail_note_last_updated": None,
    "user_id": "user_abc123",
    "user_name": "Jane Smith",
    "last_updated": "2024-01-15T10:00:00Z",
}

TARGET_MATERIAL: dict[str, Any] = {
    "id": 42,
    "sample_id": 42,
    "sample_name": "BaTiO3 on Si",
    "substrate": "Si",
    "layer_id": 1,
    "composition_string": "BaTiO3",
    "element_dict": {"Ba": 1, "Ti": 1, "O": 3},
    "orientation": "001",
    "space_group": "P4mm",
    "mp_id": "mp-5020",
    "detail_notes_id": None,
    "detail_note_content": None,
    "sample_metadata": {},
    "user_id": "user_abc123",
    "user_name": "Jane Researcher",
    "version": "0.269.1",
    "last_updated": "2024-01-15T11:00:00Z",
}

CREATED_SAMPLE: dict[str, Any] = {
    "sample_id": 42,
    "sample_name": "BaTiO3 on Si",
    "substrate": "Si",
    "sample_metadata": {},
    "detail_notes_id": None,
    "user_id": "user_abc123",
    "version": "0.269.1",
    "last_updated": "2024-01-15T11:00:00Z",
}

SIMS_PROFILE: dict[str, Any] = {
    "data_id": DATA_ID,
    "id": "sims_001",
    "processed_data_id": "f47ac10b-58cc-4372-a567-0e02b2c3d479",
    "species_name": "Si",
    "depths": [0, 10, 20, 30, 40],
    "depth_units": "nm",
    "concentrations": [1.2e18, 3.4e18, 5.1e18, 2.0e18, 8.0e17],
    "concentration_units": "atoms/cm^3",
    "species_metadata": {},
    "last_updated": "2024-01-15T10:35:00Z",
}

OES: dict[str, Any] = {
    "data_id": DATA_ID,
    "id": "oes_001",
    "wavelengths": [400.0, 400.5, 401.0, 401.5],
    "wavelength_unit": "nm",
    "sample": [1200, 1350, 4100, 1280],
    "reference": [1100, 1150, 1180, 1120],
    "dark": [50, 52, 51, 49],
    "scope_corrected": [1150, 1298, 4049, 1231],
    "spectrum_type": "sample",
    "detected_peaks": [{"peak_id": "p1", "wavelength_nm": 401.0, "element": "Ga"}],
    "constraint_mode": "auto",
    "constrained_elements": None,
    "spectral_metadata": {},
    "last_updated": "2024-01-15T10:35:00Z",
}


def fresh(payload: dict[str, Any]) -> dict[str, Any]:
    """A deep copy a test may change."""
    return copy.deepcopy(payload)
