"""Input hardening: no code runs from untrusted files, and no allocation follows from header fields.

Fast, in-process checks (no DDS): the source audit over the whole package, the image codec on
hostile headers whose data must not even be touched, decompression bombs in CompressedImage,
weights carrying a pickle payload, and the fuzz generator's verdicts checked against the codec.
"""

from __future__ import annotations

import json
import pickle
import struct
import time
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from node_test_support import REPO, weights_for_tests

from face_anything_ros.devtools.reliability.faults import bad_weights_files
from face_anything_ros.devtools.reliability.fuzz_inputs import PROCESSED, FuzzInputs
from face_anything_ros.devtools.reliability.source_audit import REVIEWED, scan_tree, unsafe_calls
from face_anything_ros.outputs.image_codec import (
    MAX_IMAGE_PIXELS,
    ImageDecodeError,
    compressed_to_rgb8,
    image_to_rgb8,
)


class UntouchableData:
    """Image data that fails the test if anything reads it (len, bytes, buffer, iteration)."""

    def _touched(self, *args, **kwargs):
        raise AssertionError("the image data was read before the header was validated")

    __len__ = __bytes__ = __iter__ = __buffer__ = __getitem__ = _touched


def test_package_source_has_no_loader_that_can_execute_code():
    assert scan_tree(REPO / "face_anything_ros") == []


def test_reviewed_exceptions_still_exist_and_are_the_only_ones_skipped():
    everything = scan_tree(REPO / "face_anything_ros", reviewed={})
    skipped = {(f.split(":")[0], f.split(": ", 1)[1]) for f in everything}
    assert skipped == set(REVIEWED)  # a stale or widened exception fails here


def test_the_source_audit_flags_each_unsafe_loader():
    snippet = "\n".join(
        [
            "torch.load(path)",
            "torch.load(path, weights_only=False)",
            "pickle.loads(blob)",
            "yaml.load(text)",
            "yaml.unsafe_load(text)",
            "np.load(path, allow_pickle=True)",
            "eval(text)",
            "subprocess.run(cmd, shell=True)",
            # safe forms: not flagged
            "torch.load(path, weights_only=True)",
            "yaml.safe_load(text)",
            "yaml.load(text, Loader=yaml.SafeLoader)",
            "np.load(path, allow_pickle=False)",
            "model.eval()",
        ]
    )
    findings = unsafe_calls(snippet)
    assert [int(f.split(":")[1]) for f in findings] == list(range(1, 9))


@pytest.mark.parametrize("width,height", [(20_000, 20_000), (2**32 - 1, 2**32 - 1), (100_000, 1_000)])
def test_a_huge_image_header_is_refused_before_its_data_is_touched(width, height):
    msg = SimpleNamespace(
        encoding="rgb8", width=width, height=height, step=3 * width, is_bigendian=0, data=UntouchableData()
    )
    with pytest.raises(ImageDecodeError, match="exceeds the limit") as info:
        image_to_rgb8(msg)
    assert info.value.kind == "too_large" and width * height > MAX_IMAGE_PIXELS


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(64)))


@pytest.mark.parametrize("side", [9_000, 60_000])
def test_a_compressed_image_claiming_a_huge_size_is_refused_from_its_header(side):
    start = time.perf_counter()
    with pytest.raises(ImageDecodeError) as info:
        compressed_to_rgb8(_png_header_only(side, side), "png")
    assert info.value.kind == "too_large"
    assert time.perf_counter() - start < 1.0  # nothing was decoded


def test_a_valid_compressed_image_still_decodes():
    import cv2

    rgb = np.zeros((12, 20, 3), np.uint8)
    rgb[..., 0] = 200
    encoded = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[1]
    np.testing.assert_array_equal(compressed_to_rgb8(encoded, "png"), rgb)


def test_garbage_compressed_data_is_refused_as_an_encoding_problem():
    with pytest.raises(ImageDecodeError) as info:
        compressed_to_rgb8(b"definitely not an image", "jpeg")
    assert info.value.kind == "encoding"


@pytest.fixture(scope="module")
def weights() -> str:
    return weights_for_tests()


def test_weights_with_a_live_pickle_payload_are_refused_without_running_it(weights, tmp_path):
    from face_anything_ros.model import load_model
    from face_anything_ros.model.io import WeightsError

    hostile, marker = bad_weights_files(weights, tmp_path)["pickle_payload"]
    assert json.loads(hostile.with_suffix(".json").read_text())["sha256"]  # the sidecar vouches for it
    with pytest.raises(WeightsError, match="could not be read"):
        load_model(hostile)
    assert not marker.exists()
    # the payload is real: an unrestricted unpickler runs it
    pickle.loads(hostile.read_bytes())
    assert marker.exists()


def test_fuzz_generator_verdicts_match_the_codec_on_600_cases():
    """Every case's expected verdict is what the decoder does (so the node-level fuzz checks the node)."""
    cases = FuzzInputs(np.zeros((48, 64, 3), np.uint8), seed=7).cases(600)
    seen = set()
    for case in cases:
        try:
            image_to_rgb8(SimpleNamespace(**case.image))
            verdict = PROCESSED
        except ImageDecodeError as exc:
            verdict = exc.kind
        assert verdict == case.expect, f"{case.name}: decoder says {verdict}"
        seen.add(verdict)
    assert seen == {PROCESSED, "encoding", "size", "too_large"}


def test_bad_weights_cases_are_really_damaged(weights, tmp_path):
    cases = bad_weights_files(weights, tmp_path)
    original = Path(weights).read_bytes()
    assert not cases["missing"][0].exists()
    for name in ("corrupted", "truncated"):
        damaged = cases[name][0].read_bytes()
        assert damaged != original and len(damaged) <= len(original)


def _hostile_mcap_records(case: str) -> bytes:
    if case == "record_length":
        return bytes([0x01]) + struct.pack("<Q", 2**50) + b"x" * 100
    compression = b"zstd"
    chunk = struct.pack("<QQQI", 0, 0, 2**40, 0) + struct.pack("<I", len(compression)) + compression
    chunk += struct.pack("<Q", 4) + b"abcd"
    return bytes([0x06]) + struct.pack("<Q", len(chunk)) + chunk


@pytest.mark.parametrize("case", ["record_length", "chunk_uncompressed_size"])
def test_a_bag_whose_length_fields_claim_terabytes_is_refused_cleanly(case, tmp_path):
    from face_anything_ros.offline.bag_replay import ReplayError, replay_bag
    from face_anything_ros.offline.bag_salvage import MCAP_MAGIC
    from face_anything_ros.outputs.params import NodeParams

    bag = tmp_path / "hostile"
    bag.mkdir()
    (bag / "hostile_0.mcap").write_bytes(MCAP_MAGIC + _hostile_mcap_records(case))
    with pytest.raises(ReplayError, match="claims"):  # not MemoryError
        replay_bag(bag, tmp_path / "out", pipeline=None, params=NodeParams())
