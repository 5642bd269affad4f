"""The generated layer matches the API description, and the description is well-formed."""

from __future__ import annotations

from pathlib import Path

import pytest

from atomscale_async import _codegen


def test_generated_files_match_the_api_description() -> None:
    expected = _codegen.render()
    for name, text in expected.items():
        on_disk = (_codegen.OUT / name).read_text(encoding="utf-8")
        assert on_disk == text, f"_generated/{name} drifted: run `nox -s generate`"


def test_check_mode_reports_drift(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, text in _codegen.render().items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    monkeypatch.setattr(_codegen, "OUT", tmp_path)
    assert _codegen.main(["--check"]) == 0
    (tmp_path / "models.py").write_text("# edited by hand\n", encoding="utf-8")
    assert _codegen.main(["--check"]) == 1


def test_a_new_endpoint_is_described_then_generated(tmp_path: Path) -> None:
    spec = _codegen.load_spec()
    spec["paths"]["/xps/{data_id}"] = {
        "get": {
            "operationId": "getXps",
            "summary": "Get the XPS result of a data entry.",
            "x-sdk-resource": {"attribute": "xps", "method": "get"},
            "parameters": [
                {"name": "data_id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": {
                    "description": "ok",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/XPSResult"}}
                    },
                }
            },
        }
    }
    spec["components"]["schemas"]["XPSResult"] = {
        "type": "object",
        "required": ["data_id", "binding_energies"],
        "properties": {
            "data_id": {"type": "string"},
            "binding_energies": {
                "type": "array",
                "items": {"type": "number"},
                "x-numeric-array": True,
            },
        },
    }
    files = _codegen.Generator(spec).files()
    assert "class XPSResult(Model):" in files["models.py"]
    assert "binding_energies: FloatArray" in files["models.py"]
    assert "async def get(self, data_id: str) -> XPSResult:" in files["resources.py"]
    assert "self.xps = AsyncXps(client)" in files["resources.py"]
    assert "def get(self, data_id: str) -> XPSResult:" in files["sync_resources.py"]
    for name in ("models.py", "resources.py", "sync_resources.py"):
        compile(files[name], name, "exec")  # valid Python


def test_the_api_description_is_valid_openapi_3_1() -> None:
    from openapi_spec_validator import validate

    spec = _codegen.load_spec()
    assert spec["openapi"].startswith("3.1")
    validate(spec)  # raises on an invalid document
    documented = {
        "/instruments/synthesis/",
        "/target-materials/",
        "/sims/{data_id}",
        "/oes/{data_id}",
        "/data_entries/",
    }
    assert documented <= set(spec["paths"])
    for path, item in spec["paths"].items():
        if path not in documented:  # what no reference page describes says so
            assert all(op.get("x-sdk-inferred") is True for op in item.values()), path
            assert all("inferred" in op["description"].lower() for op in item.values()), path
    inferred = {n for n, s in spec["components"]["schemas"].items() if s.get("x-sdk-inferred")}
    assert {"DataEntry", "PhysicalSample", "Project", "XPSResult", "RamanResult"} <= inferred


def test_a_request_body_schema_must_be_marked_as_input() -> None:
    spec = _codegen.load_spec()
    del spec["components"]["schemas"]["TargetMaterialLayerCreate"]["x-sdk-input"]
    with pytest.raises(ValueError, match=r"x-sdk-input: \['TargetMaterialLayerCreate'\]"):
        _codegen.Generator(spec)
    marked = _codegen.Generator(_codegen.load_spec()).files()["models.py"]
    assert marked.count("_input: ClassVar[bool] = True") == 5
