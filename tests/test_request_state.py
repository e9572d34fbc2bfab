"""The requestState cipher: keyed at start-up, built on first use, and as strict as the SDK's own."""

from __future__ import annotations

import os

import pytest
from mcp.server.request_state import InvalidRequestState

from pvemcp.server.app import LazyStateCodec


def test_the_cipher_is_built_only_when_state_is_first_sealed() -> None:
    codec = LazyStateCodec([os.urandom(32)])
    before = codec.built  # a session that never confirms never pays for it
    token = codec.seal(b'{"kind":"pvemcp.confirm/1"}')
    assert (before, codec.built) == (False, True)
    assert codec.unseal(token) == b'{"kind":"pvemcp.confirm/1"}'


def test_a_tampered_or_foreign_token_is_refused() -> None:
    codec, other = LazyStateCodec([os.urandom(32)]), LazyStateCodec([os.urandom(32)])
    token = codec.seal(b"state")
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    for bad in (flipped, other.seal(b"state"), "v1.garbage"):
        with pytest.raises(InvalidRequestState):
            codec.unseal(bad)
