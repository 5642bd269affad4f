"""Files in the sandbox: an S3 object store (moto's server) and the API's file endpoints.

The staging call answers presigned part URLs on the object store; the part PUTs and the
file GETs go to it directly, without the API key, by S3's rules (ETags, ``Content-Length``,
ranges), as on the platform. ``complete`` assembles the object, computes its ``sha3_256``
and adds a catalogue entry whose kind comes from the file's suffix, ``pending`` and then
``success``. A seeded entry's raw file is a small synthetic file of its kind's format,
made when first asked for (and its catalogue ``sha3_256`` set to the file's); its
processed file is its result as JSON.

The store starts on the first file request (or `SandboxFiles.start`), so that a sandbox
that never sees one does not pay for it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import random
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

import attrs
import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from atomscale_async._generated.kinds import KINDS
from atomscale_async._optional import require

if TYPE_CHECKING:
    from atomscale_async.sandbox._state import Answer, SandboxState

__all__ = [
    "KIND_BY_SUFFIX",
    "ObjectStore",
    "SandboxFiles",
    "StoreFaults",
    "file_routes",
    "raw_file",
]

#: The catalogue kind of an uploaded file, by its suffix; any other is ``unknown``.
KIND_BY_SUFFIX: Final = {
    ".vms": "xps",
    ".xrdml": "xrd",
    ".xy": "xrd",
    ".spc": "oes",
    ".csv": "sims",
    ".txt": "photoluminescence",
    ".mp4": "rheed",
    ".imm": "rheed",
    ".png": "rheed_image",
}
_REGION: Final = "us-east-1"
_CHUNK: Final = 1 << 20
_URL_SECONDS: Final = 3600


@attrs.define
class StoreFaults:
    """Faults of the object store, drawn per request (part PUTs and file GETs).

    Attributes:
        error_rate: Fraction answered 500 (S3's ``InternalError``) after reading the body.
        drop_rate: Fraction whose connection is dropped halfway through the body (a PUT's
            request body, or a GET's response body).
        latency_ms: Milliseconds added before each answer (a slow store).
        seed: Seed of the draws.
    """

    error_rate: float = 0.0
    drop_rate: float = 0.0
    latency_ms: int = 0
    seed: int = 0


class _FaultyStore:
    """A WSGI middleware injecting `StoreFaults` in front of moto's S3 app."""

    def __init__(self, app: Any, faults: StoreFaults) -> None:
        self.app = app
        self.faults = faults
        self.random = random.Random(f"atomscale-sandbox:{faults.seed}:store")
        self.lock = threading.Lock()
        self.injected = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        faults = self.faults
        method = environ.get("REQUEST_METHOD", "")
        if method not in ("PUT", "GET") or "X-Amz-Signature" not in environ.get("QUERY_STRING", ""):
            return self.app(environ, start_response)  # the sandbox's own calls: no faults
        with self.lock:
            error = self.random.random() < faults.error_rate
            drop = self.random.random() < faults.drop_rate
            self.injected += error or drop
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if drop and method == "PUT":
            environ["wsgi.input"].read(length // 2)
            self._drop(environ)
            return []
        if error:
            environ["wsgi.input"].read(length)
            body = b"<Error><Code>InternalError</Code><Message>injected</Message></Error>"
            start_response(
                "500 Internal Server Error",
                [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))],
            )
            return [body]
        answer = self.app(environ, start_response)
        if drop and method == "GET":
            return self._half(answer, environ)
        return answer

    def _half(self, answer: Any, environ: dict[str, Any]) -> Any:
        content = b"".join(answer)
        yield content[: len(content) // 2]
        self._drop(environ)

    @staticmethod
    def _drop(environ: dict[str, Any]) -> None:
        connection = environ.get("werkzeug.socket")
        if connection is not None:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        raise ConnectionResetError("injected: connection dropped")


def _json(body: Any, status: int = 200) -> Answer:
    return status, orjson.dumps(body)


class ObjectStore:
    """moto's S3 server on 127.0.0.1 (a random free port) and one bucket on it.

    Presigned URLs (SigV4 query form, made by boto3) point at it.

    Args:
        host: Address to listen on.
        port: Port to listen on; 0 picks a free one.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, faults: StoreFaults | None = None
    ) -> None:
        self.host = host
        self._faults = faults if faults is not None else StoreFaults()
        self._middleware: _FaultyStore | None = None
        self._requested_port = port
        self.bucket = f"atomscale-sandbox-{uuid.uuid4().hex[:12]}"
        self._server: Any = None
        self._client: Any = None
        self.endpoint_url = ""

    @property
    def faults(self) -> StoreFaults:
        """The store's faults now; assign new `StoreFaults` to change them while serving."""
        return self._faults

    @faults.setter
    def faults(self, faults: StoreFaults) -> None:
        self._faults = faults
        if self._middleware is not None:
            self._middleware.faults = faults
            self._middleware.random = random.Random(f"atomscale-sandbox:{faults.seed}:store")

    @property
    def injected(self) -> int:
        """How many requests got a 500 or a dropped connection so far."""
        return 0 if self._middleware is None else self._middleware.injected

    @property
    def running(self) -> bool:
        """Whether the server is serving."""
        return self._server is not None

    def start(self) -> None:
        """Start the server and create the bucket (idempotent)."""
        if self._server is not None:
            return
        require("the sandbox's object store", "sandbox", "moto.server", "boto3")
        import boto3
        from botocore.config import Config

        _FaultyMotoServer = _faulty_server_class()

        # werkzeug logs every request of the S3 server: keep that out of the sandbox's output.
        werkzeug = logging.getLogger("werkzeug")
        if werkzeug.level == logging.NOTSET:
            werkzeug.setLevel(logging.ERROR)
        server = _FaultyMotoServer(ip_address=self.host, port=self._requested_port, verbose=False)
        server.store = self
        server.start()
        host, port = server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        self._client = boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=_REGION,
            aws_access_key_id="sandbox",
            aws_secret_access_key="sandbox-secret",  # moto checks no signature
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                proxies={},
                retries={"max_attempts": 1},
            ),
        )
        self._client.create_bucket(Bucket=self.bucket)
        self._server = server

    def stop(self) -> None:
        """Stop the server (idempotent)."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    @property
    def client(self) -> Any:
        """The boto3 S3 client of the store (started on first use)."""
        self.start()
        return self._client

    def create_multipart(self, key: str) -> str:
        """Start a multipart upload of ``key``; its upload id."""
        answer = self.client.create_multipart_upload(Bucket=self.bucket, Key=key)
        return str(answer["UploadId"])

    def part_url(self, key: str, upload_id: str, part: int) -> str:
        """The presigned PUT URL of one part."""
        params = {"Bucket": self.bucket, "Key": key, "UploadId": upload_id, "PartNumber": part}
        return str(
            self.client.generate_presigned_url("upload_part", Params=params, ExpiresIn=_URL_SECONDS)
        )

    def complete(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> None:
        """Assemble the parts (number, ETag); S3's error when one is missing or wrong."""
        self.client.complete_multipart_upload(
            Bucket=self.bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in parts]},
        )

    def sha3_and_size(self, key: str) -> tuple[str, int]:
        """The ``sha3_256`` (hex) and size of an object, read as a stream."""
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        digest, size = hashlib.sha3_256(), 0
        for chunk in iter(lambda: body.read(_CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
        return digest.hexdigest(), size

    def put(self, key: str, content: bytes) -> None:
        """Store an object."""
        self.client.put_object(Bucket=self.bucket, Key=key, Body=content)

    def get_url(self, key: str) -> str:
        """The presigned GET URL of an object."""
        params = {"Bucket": self.bucket, "Key": key}
        return str(
            self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=_URL_SECONDS)
        )


def _faulty_server_class() -> Any:
    """The ThreadedMotoServer of moto, serving its S3 app behind `_FaultyStore`."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from moto.server import ThreadedMotoServer
    from werkzeug.serving import make_server

    class FaultyMotoServer(ThreadedMotoServer):
        store: ObjectStore

        def _server_entry(self) -> None:
            # As ThreadedMotoServer serves, with the fault middleware in front.
            app = DomainDispatcherApplication(create_backend_app)
            middleware = _FaultyStore(app, self.store.faults)
            self.store._middleware = middleware
            self._server = make_server(
                self._ip_address, self._port, middleware, True, request_handler=MotoRequestHandler
            )
            self._server_ready_event.set()
            self._server.serve_forever()

    return FaultyMotoServer


def raw_file(seed: int, data_id: str, kind: str, size: int) -> tuple[str, bytes]:
    """A small synthetic raw file of a kind's format: (suffix, content) of about ``size`` bytes.

    Example:
        >>> suffix, content = raw_file(0, "4e7e978f-39f9-415c-b72b-b444d58ed29e", "xps", 4096)
        >>> suffix, content[:5]
        ('vms', b'VAMAS')
    """
    rng = random.Random(f"atomscale-sandbox:{seed}:{data_id}:raw")
    if kind.startswith("rheed"):
        # An ISO base media file's first box, then stand-in frames.
        head = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
        return "mp4", head + rng.randbytes(max(0, size - len(head)))
    suffix, header = {
        "xps": (
            "vms",
            "VAMAS Surface Chemical Analysis Standard Data Transfer Format 1988 May 4\n",
        ),
        "sims": ("csv", "depth_nm,counts\n"),
        "oes": ("csv", "wavelength_nm,intensity\n"),
    }.get(kind, ("csv", "x,y\n"))
    lines = [header]
    length = len(header)
    x = 0.0
    while length < size:
        x += 0.1
        line = f"{x:.1f},{rng.random() * 1e4:.3f}\n"
        lines.append(line)
        length += len(line)
    return suffix, "".join(lines).encode()[: max(size, len(header))]


@attrs.define
class _Staged:
    key: str
    original_filename: str
    data_id: str
    metadata: Mapping[str, Any] | None


class SandboxFiles:
    """The file endpoints of one sandbox, over its catalogue and an `ObjectStore`.

    Args:
        state: The sandbox's state (its catalogue gets the uploaded entries).
        store: The object store; a new one on 127.0.0.1 when None.
    """

    def __init__(self, state: SandboxState, store: ObjectStore | None = None) -> None:
        self.state = state
        self.store = store if store is not None else ObjectStore()
        self._staged: dict[str, _Staged] = {}
        self._files: dict[tuple[str, str], tuple[str, str]] = {}
        self._lock = threading.Lock()
        self._timers: list[threading.Timer] = []

    def start(self) -> None:
        """Start the object store now rather than on the first file request."""
        self.store.start()

    def close(self) -> None:
        """Stop the object store and any pending analysis (idempotent)."""
        for timer in self._timers:
            timer.cancel()
        self.store.stop()

    # -- upload ---------------------------------------------------------------------------

    def answer_stage(self, query: Mapping[str, list[str]], body: bytes) -> Answer:
        """``POST data_entries/raw_data/staged/upload_urls/``: one presigned URL a part."""
        name = (query.get("original_filename") or [""])[-1]
        if not name or "/" in name or "\x00" in name or len(name) > 255:
            return _json({"detail": "original_filename must be a file name"}, 422)
        try:
            num_parts = int((query.get("num_parts") or [""])[-1])
        except ValueError:
            return _json({"detail": "num_parts must be an integer"}, 422)
        if not 1 <= num_parts <= 10_000:
            return _json({"detail": "num_parts must be from 1 to 10000"}, 422)
        metadata = None
        if body.strip():
            try:
                metadata = orjson.loads(body)
            except orjson.JSONDecodeError:
                return _json({"detail": "the body must be a JSON object"}, 422)
            if not isinstance(metadata, dict):
                return _json({"detail": "the body must be a JSON object"}, 422)
        data_id = str(uuid.uuid4())
        # The store's key is the name percent-encoded: any name the API accepts is a key S3
        # takes (a control character or a lone "." is not); the entry keeps the name as sent.
        key = f"staged/{data_id}/{quote(name, safe='')}"
        upload_id = self.store.create_multipart(key)
        with self._lock:
            self._staged[upload_id] = _Staged(key, name, data_id, metadata)
        parts = [
            {
                "part": n,
                "url": self.store.part_url(key, upload_id, n),
                "upload_id": upload_id,
                "new_filename": key,
                "data_id": data_id,
            }
            for n in range(1, num_parts + 1)
        ]
        return _json(parts)

    def answer_complete(self, body: bytes) -> Answer:
        """``POST .../upload_urls/complete/``: assemble, hash, add the catalogue entry."""
        try:
            sent = orjson.loads(body)
            upload_id, new_filename = str(sent["upload_id"]), str(sent["new_filename"])
            parts = [(int(p["PartNumber"]), str(p["ETag"])) for p in sent["etag_data"]]
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return _json({"detail": "expected upload_id, new_filename and etag_data"}, 422)
        if not parts or not all(1 <= number <= 10_000 and etag for number, etag in parts):
            return _json({"detail": "etag_data needs parts numbered 1 to 10000 with ETags"}, 422)
        with self._lock:
            staged = self._staged.get(upload_id)
        if staged is None or staged.key != new_filename:
            return _json({"detail": f"No staged upload {upload_id}."}, 404)
        if not all(etag.isascii() and etag.isprintable() for _, etag in parts):
            # No stored part has such an ETag (S3's are quoted hex), and the XML sent to S3
            # could not even carry it.
            return _json({"detail": "an ETag does not match the stored part"}, 409)
        from botocore.exceptions import ClientError

        try:
            self.store.complete(staged.key, upload_id, parts)
        except ClientError as exc:
            # The upload's parts do not match what was sent: a conflict with its state.
            return _json({"detail": f"S3 refused to complete the upload: {exc}"}, 409)
        with self._lock:
            self._staged.pop(upload_id, None)
        sha3, size = self.store.sha3_and_size(staged.key)
        self._add_entry(staged, sha3, size)
        return _json({"data_id": staged.data_id, "status": "pending"})

    def _add_entry(self, staged: _Staged, sha3: str, size: int) -> None:
        from atomscale_async.sandbox._data import CatalogueEntry
        from atomscale_async.sandbox._search import entry_details, entry_json

        catalogue = self.state.catalogue
        suffix = PurePath(staged.original_filename).suffix.lower()
        kind = KIND_BY_SUFFIX.get(suffix, "unknown")
        now = datetime.now(UTC)
        sample_name = f"{catalogue.sample_prefixes(kind)[0]}-{len(catalogue) % 400 + 1:03d}"
        entry = CatalogueEntry(len(catalogue), staged.data_id, kind, now, sample_name)
        details = attrs.evolve(
            entry_details(self.state.seed, staged.data_id, kind, now),
            status="pending",
            upload=now,
            last_accessed=None,
            size_bytes=size,
            owner_name="Sandbox Researcher",
        )
        record = entry_json(
            self.state.seed,
            index=entry.index,
            data_id=entry.data_id,
            kind=kind,
            collected=now,
            sample_name=sample_name,
            details=details,
        )
        record.update(
            raw_name=staged.original_filename,
            raw_file_type=suffix.lstrip(".") or None,
            sha3_256=sha3,
            bucket_file_name=staged.key,
            file_metadata={
                "size_bytes": size,
                "original_name": staged.original_filename,
                **(staged.metadata or {}),
            },
        )
        with self._lock:
            catalogue.add(entry, record, details)
            self._files[(staged.data_id, "raw")] = (staged.key, staged.original_filename)
        delay = self.state.config.analysis_seconds
        timer = threading.Timer(delay, self._analysed, (staged.data_id,))
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def _analysed(self, data_id: str) -> None:
        with self._lock:
            self.state.catalogue.set_status(data_id, "success")

    # -- download -------------------------------------------------------------------------

    def answer_location(self, which: str, data_id: str) -> Answer:
        """``GET data_entries/{raw_data|processed_data}/{data_id}``: a presigned URL."""
        catalogue = self.state.catalogue
        entry = catalogue.get(data_id)
        if entry is None:
            return _json({"detail": f"Data entry {data_id} not found."}, 404)
        with self._lock:
            found = self._files.get((data_id, which))
        if found is None:
            if which == "processed" and entry.kind not in KINDS:
                return _json({"detail": f"Data entry {data_id} has no processed data."}, 404)
            found = self._make_file(which, data_id, entry.kind)
        key, name = found
        suffix = PurePath(name).suffix.lstrip(".") or None
        return _json({"url": self.store.get_url(key), "file_name": name, "file_format": suffix})

    def _make_file(self, which: str, data_id: str, kind: str) -> tuple[str, str]:
        catalogue = self.state.catalogue
        record, _details = catalogue.record(data_id)
        if which == "processed":
            content = catalogue.result_json(data_id)
            name = f"{PurePath(str(record.get('raw_name') or data_id)).stem}.json"
        else:
            suffix, content = raw_file(
                self.state.seed, data_id, kind, self.state.config.raw_file_bytes
            )
            name = f"{PurePath(str(record.get('raw_name') or data_id)).stem}.{suffix}"
        key = f"{which}/{data_id}/{name}"
        self.store.put(key, content)
        with self._lock:
            if which == "raw":  # the catalogue's checksum is the file's, as on the platform
                catalogue.set_raw_file(data_id, hashlib.sha3_256(content).hexdigest(), name)
            self._files[(data_id, which)] = (key, name)
        return key, name


def file_routes(files: SandboxFiles) -> list[Route]:
    """The Starlette routes of the file endpoints (S3 calls run in a worker thread)."""

    def respond(answer: Answer) -> Response:
        status, body = answer
        return Response(body, status, media_type="application/json")

    async def stage(request: Request) -> Response:
        query = {key: request.query_params.getlist(key) for key in request.query_params}
        body = await request.body()
        return respond(await run_in_threadpool(files.answer_stage, query, body))

    async def complete(request: Request) -> Response:
        body = await request.body()
        return respond(await run_in_threadpool(files.answer_complete, body))

    def location(which: str) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            data_id = request.path_params["data_id"]
            return respond(await run_in_threadpool(files.answer_location, which, data_id))

        return endpoint

    staged = "/data_entries/raw_data/staged/upload_urls/"
    return [
        Route(staged, stage, methods=["POST"]),
        Route(f"{staged}complete/", complete, methods=["POST"]),
        Route("/data_entries/raw_data/{data_id}", location("raw"), methods=["GET"]),
        Route("/data_entries/processed_data/{data_id}", location("processed"), methods=["GET"]),
    ]
