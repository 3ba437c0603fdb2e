"""encode_json: as json.dumps would, with Embedded values spliced in and the body streamed in parts."""

from __future__ import annotations

import json

import pytest

from shared.platform.json_body import Embedded, Spliced, encode_json


def test_a_body_without_embedded_values_is_plain_json_bytes() -> None:
    assert encode_json({"a": [1, "é"]}) == json.dumps({"a": [1, "é"]}).encode()


def test_embedded_values_are_spliced_where_they_stand_and_the_length_is_exact() -> None:
    data = bytearray(b"QUJD" * 1000)
    body = encode_json({"m": {"attachments": [{"name": "a", "base64": Embedded(data)},
                                              {"contentUrl": Embedded(data, "data:image/png;base64,")}]}})  # fmt: skip
    assert isinstance(body, Spliced)
    sent = body.reader().read()
    assert len(sent) == body.length
    assert json.loads(sent) == {"m": {"attachments": [
        {"name": "a", "base64": data.decode()}, {"contentUrl": "data:image/png;base64," + data.decode()}
    ]}}  # fmt: skip
    assert body.reader().read() == sent  # a retry reads the whole body again


def test_a_value_that_is_not_base64_text_cannot_be_embedded() -> None:
    with pytest.raises(ValueError):
        Embedded(b'ab"c')
    with pytest.raises(TypeError):
        encode_json({"x": object()})
