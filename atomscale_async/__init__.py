"""atomscale-async: an async-first Python SDK for the Atomscale materials-data API.

Example:
    >>> from atomscale_async import AsyncClient
    >>> async with AsyncClient() as client:  # doctest: +SKIP
    ...     results = await client.get(data_ids=ids)
"""

from ._arrays import FloatArray
from ._bulk import Outcome, Result, UnknownDataTypeWarning, UnknownResult
from ._client import AsyncClient
from ._download import DownloadOutcome
from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AtomscaleError,
    AuthenticationError,
    BadRequestError,
    BulkFetchError,
    ChecksumMismatchError,
    ConflictError,
    DiskFullError,
    ExportCorruptError,
    InternalServerError,
    MalformedResponseError,
    MissingAPIKeyError,
    NotFoundError,
    ObjectStoreError,
    PermissionDeniedError,
    RateLimitError,
    ResponseTooLargeError,
    ResponseValidationError,
    UnprocessableEntityError,
)
from ._export import DamagedPart, ExportSummary
from ._frames import results_to_frames
from ._generated.models import (
    CharSourceType,
    ConstraintMode,
    DataEntry,
    DetailNote,
    DetectedPeak,
    FileLocation,
    OESResult,
    PhotoluminescenceResult,
    PhysicalSample,
    Project,
    ProjectRef,
    RamanResult,
    SIMSDepthProfile,
    SIMSResult,
    StagedUploadPart,
    SynthesisInstrument,
    SynthSourceType,
    TargetMaterial,
    TargetMaterialCreate,
    TargetMaterialLayerCreate,
    TargetMaterialSample,
    TargetMaterialSampleCreate,
    UploadCompletion,
    UploadPartETag,
    XPSResult,
    XRDPeak,
    XRDResult,
)
from ._limiter import RateLimitState
from ._model import Model
from ._optional import MissingExtraError
from ._search import SearchResult
from ._summary import OESSummary, ProfileSummary, SIMSSummary, Span, SpectrumSummary
from ._sync import Client
from ._upload import UploadOutcome
from ._version import __version__

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncClient",
    "AtomscaleError",
    "AuthenticationError",
    "BadRequestError",
    "BulkFetchError",
    "CharSourceType",
    "ChecksumMismatchError",
    "Client",
    "ConflictError",
    "ConstraintMode",
    "DamagedPart",
    "DataEntry",
    "DetailNote",
    "DetectedPeak",
    "DiskFullError",
    "DownloadOutcome",
    "ExportCorruptError",
    "ExportSummary",
    "FileLocation",
    "FloatArray",
    "InternalServerError",
    "MalformedResponseError",
    "MissingAPIKeyError",
    "MissingExtraError",
    "Model",
    "NotFoundError",
    "OESResult",
    "OESSummary",
    "ObjectStoreError",
    "Outcome",
    "PermissionDeniedError",
    "PhotoluminescenceResult",
    "PhysicalSample",
    "ProfileSummary",
    "Project",
    "ProjectRef",
    "RamanResult",
    "RateLimitError",
    "RateLimitState",
    "ResponseTooLargeError",
    "ResponseValidationError",
    "Result",
    "SIMSDepthProfile",
    "SIMSResult",
    "SIMSSummary",
    "SearchResult",
    "Span",
    "SpectrumSummary",
    "StagedUploadPart",
    "SynthSourceType",
    "SynthesisInstrument",
    "TargetMaterial",
    "TargetMaterialCreate",
    "TargetMaterialLayerCreate",
    "TargetMaterialSample",
    "TargetMaterialSampleCreate",
    "UnknownDataTypeWarning",
    "UnknownResult",
    "UnprocessableEntityError",
    "UploadCompletion",
    "UploadOutcome",
    "UploadPartETag",
    "XPSResult",
    "XRDPeak",
    "XRDResult",
    "__version__",
    "results_to_frames",
]
