"""atomscale-async: an async-first Python SDK for the Atomscale materials-data API.

Example:
    >>> from atomscale_async import AsyncClient
    >>> async with AsyncClient() as client:  # doctest: +SKIP
    ...     results = await client.get(data_ids=ids)
"""

from ._arrays import FloatArray
from ._bulk import Outcome, Result, UnknownDataTypeWarning, UnknownResult
from ._client import AsyncClient
from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AtomscaleError,
    AuthenticationError,
    BadRequestError,
    BulkFetchError,
    ConflictError,
    ExportCorruptError,
    InternalServerError,
    MalformedResponseError,
    MissingAPIKeyError,
    NotFoundError,
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
    OESResult,
    PhotoluminescenceResult,
    PhysicalSample,
    Project,
    ProjectRef,
    RamanResult,
    SIMSDepthProfile,
    SIMSResult,
    SynthesisInstrument,
    SynthSourceType,
    TargetMaterial,
    TargetMaterialCreate,
    TargetMaterialLayerCreate,
    TargetMaterialSample,
    TargetMaterialSampleCreate,
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
    "Client",
    "ConflictError",
    "ConstraintMode",
    "DamagedPart",
    "DataEntry",
    "DetailNote",
    "DetectedPeak",
    "ExportCorruptError",
    "ExportSummary",
    "FloatArray",
    "InternalServerError",
    "MalformedResponseError",
    "MissingAPIKeyError",
    "MissingExtraError",
    "Model",
    "NotFoundError",
    "OESResult",
    "OESSummary",
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
    "XPSResult",
    "XRDPeak",
    "XRDResult",
    "__version__",
    "results_to_frames",
]
