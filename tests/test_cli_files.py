"""``atomscale-async upload`` and ``download`` against the sandbox and its S3 server."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from atomscale_async.sandbox import SandboxServer

from .files_sandbox import sandbox
from .test_cli import KEY, run

__all__ = ["sandbox"]


def test_upload_prints_the_new_ids_one_a_line_and_download_fetches_them_back(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    files = [tmp_path / "a.vms", tmp_path / "b.csv"]
    for path in files:
        path.write_bytes(os.urandom(3000))
    api = ["--base-url", sandbox.base_url, "--api-key", KEY]
    uploaded = run("upload", *map(str, files), "--metadata", '{"operator": "ada"}', *api)
    assert uploaded.status == 0, uploaded.stderr
    ids = uploaded.stdout.split()
    assert len(ids) == 2
    assert KEY not in uploaded.stdout + uploaded.stderr
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text(uploaded.stdout)
    downloaded = run("download", "--ids-file", str(ids_file), "--out", str(tmp_path / "out"), *api)
    assert downloaded.status == 0, downloaded.stderr
    written = [Path(line) for line in downloaded.stdout.splitlines()]
    assert [p.name for p in written] == ["a.vms", "b.csv"]
    for source, copy in zip(files, written, strict=True):
        assert (
            hashlib.sha3_256(copy.read_bytes()).digest()
            == hashlib.sha3_256(source.read_bytes()).digest()
        )


def test_upload_of_a_missing_file_fails_that_file_only(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    good = tmp_path / "good.vms"
    good.write_bytes(b"x" * 100)
    api = ["--base-url", sandbox.base_url, "--api-key", KEY]
    result = run("upload", str(tmp_path / "missing.vms"), str(good), *api)
    assert result.status == 1
    assert len(result.stdout.split()) == 1
    assert "missing.vms" in result.stderr


def test_upload_refuses_metadata_that_is_not_a_json_object(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    api = ["--base-url", sandbox.base_url, "--api-key", KEY]
    result = run("upload", str(tmp_path / "x.vms"), "--metadata", "[1]", *api)
    assert result.status == 2
    assert "--metadata must be a JSON object" in result.one_error_line()
