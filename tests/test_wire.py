"""Proxmox's wire quirks, checked on the exact bytes real nodes send (some the simulator cannot: ASGI has no
reason phrase, and real pveproxy puts error text there)."""

from __future__ import annotations

import pytest

from pvemcp.pve import wire
from pvemcp.pve.errors import ErrorCode, ProxmoxApiError


def test_the_reason_phrase_carries_the_message_when_the_body_has_none() -> None:
    with pytest.raises(ProxmoxApiError) as caught:
        wire.unwrap(500, "VM 100 not running", "application/json;charset=UTF-8", b'{"data":null}')
    assert caught.value.code is ErrorCode.PROXMOX_SERVER_ERROR
    assert caught.value.message == "VM 100 not running"


def test_a_standard_reason_phrase_is_not_mistaken_for_proxmox_words() -> None:
    with pytest.raises(ProxmoxApiError) as caught:
        wire.unwrap(502, "Bad Gateway", "application/json", b"")
    assert caught.value.message == "HTTP 502 Bad Gateway"


def test_does_not_exist_on_a_500_is_a_not_found() -> None:
    body = b'{"data":null,"message":"Configuration file \'nodes/pve1/qemu-server/9.conf\' does not exist\\n"}'
    with pytest.raises(ProxmoxApiError) as caught:
        wire.unwrap(500, "Internal Server Error", "application/json", body)
    assert caught.value.code is ErrorCode.PROXMOX_NOT_FOUND


def test_parameter_errors_are_listed_in_the_message_and_details() -> None:
    body = b'{"data":null,"errors":{"vmid":"value must have a minimum value of 100"}}'
    with pytest.raises(ProxmoxApiError) as caught:
        wire.unwrap(400, "Parameter verification failed.", "application/json", body)
    assert caught.value.message == "Parameter verification failed: vmid: value must have a minimum value of 100"
    assert caught.value.details == {"errors": {"vmid": "value must have a minimum value of 100"}}


def test_parameters_encode_booleans_as_0_and_1_drop_none_and_repeat_lists() -> None:
    assert wire.encode_params({"a": True, "b": False, "c": None, "d": [1, 2], "e": 3.0}) == [
        ("a", "1"),
        ("b", "0"),
        ("d", "1"),
        ("d", "2"),
        ("e", "3"),
    ]


def test_path_values_are_encoded_as_single_segments() -> None:
    upid = "UPID:pve1:0001:0002:0003:qmstart:100:root@pam!t:"
    path = wire.expand_path("/nodes/{node}/tasks/{upid}/status", {"node": "pve1", "upid": upid})
    assert path == "/nodes/pve1/tasks/UPID%3Apve1%3A0001%3A0002%3A0003%3Aqmstart%3A100%3Aroot%40pam%21t%3A/status"
