"""The request loop's URL building matches httpx's own parsing."""

from __future__ import annotations

import httpx
import pytest

from atomscale_async._transport import URLJoiner


@pytest.mark.parametrize(
    "base",
    [
        "https://api.atomscale.ai/",
        "http://127.0.0.1:8000/",
        "https://host.example/api/v2/",
        "http://[::1]:9000/prefix/",
        "https://user@host.example:8443/a%20b/",
    ],
)
@pytest.mark.parametrize(
    "path",
    [
        "oes/d290f1ee-6c54-4b01-90e6-d701748f0851",
        "sims/a%2Fb%3Fc",
        "instruments/synthesis/",
        "data_entries/",
        "target-materials/",
        "oes/caf\u00e9",  # not pre-encoded: takes httpx's own parsing
        "oes/with space",
    ],
)
def test_joined_url_equals_httpx_parsing(base: str, path: str) -> None:
    joined = URLJoiner(base)(path)
    expected = httpx.URL(base + path)
    assert joined == expected
    assert str(joined) == str(expected)
    assert joined.raw_path == expected.raw_path
    assert joined.host == expected.host
    assert joined.port == expected.port


def test_query_params_merge_onto_a_joined_url() -> None:
    url = URLJoiner("https://host.example/api/")("data_entries/")
    request = httpx.Request("GET", url, params=(("data_ids", "a"), ("data_ids", "b")))
    assert str(request.url) == "https://host.example/api/data_entries/?data_ids=a&data_ids=b"
