"""Evaluation-format writer/reader round trip, clear errors on bad folders, and the synth CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from face_anything_ros.cli.main import main
from face_anything_ros.core.sequence_format import read_sequence, write_sequence
from face_anything_ros.synth import FaceSequenceGenerator, SynthConfig


@pytest.fixture(scope="module")
def sequence():
    return FaceSequenceGenerator(SynthConfig(queries_per_sequence=40), seed=4).sample_sequence(
        3, image_size=(48, 64)
    )


@pytest.fixture()
def folder(tmp_path, sequence):
    return write_sequence(tmp_path / "seq", sequence)


def test_round_trip_preserves_every_array(folder, sequence):
    data = read_sequence(folder)
    np.testing.assert_array_equal(data.frames, sequence["frames"])
    np.testing.assert_array_equal(data.depth, sequence["depth"])  # NaN compare equal positions
    np.testing.assert_array_equal(data.mask, sequence["mask"])
    np.testing.assert_array_equal(data.instances, sequence["instances"])
    np.testing.assert_allclose(data.canonical, sequence["canonical"], atol=1e-3)  # stored as float16
    np.testing.assert_array_equal(data.queries, sequence["queries"])
    np.testing.assert_array_equal(data.tracks, sequence["tracks"])
    np.testing.assert_array_equal(data.visible, sequence["visible"])
    np.testing.assert_array_equal(data.query_canonical, sequence["query_canonical"])
    assert data.intrinsics == pytest.approx(sequence["intrinsics"])
    assert data.num_frames == 3 and data.image_size == (48, 64)


def test_folder_layout_is_the_evaluation_format(folder):
    assert sorted(p.name for p in (folder / "frames").iterdir()) == ["000000.png", "000001.png", "000002.png"]
    assert (folder / "depth" / "000002.npy").is_file() and (folder / "mask" / "000000.png").is_file()
    assert set(json.loads((folder / "intrinsics.json").read_text())) == {
        "fx",
        "fy",
        "cx",
        "cy",
        "width",
        "height",
    }
    with np.load(folder / "tracks.npz") as npz:
        assert {"queries", "tracks", "visible"} <= set(npz.files)


def test_optional_parts_may_be_absent(tmp_path, sequence):
    minimal = {"frames": sequence["frames"], "intrinsics": sequence["intrinsics"]}
    data = read_sequence(write_sequence(tmp_path / "m", minimal))
    assert data.depth is None and data.mask is None and data.tracks is None and data.canonical is None


def test_zero_depth_reads_as_unknown(folder):
    depth = np.load(folder / "depth" / "000000.npy")
    depth[np.isnan(depth)] = 0.0
    np.save(folder / "depth" / "000000.npy", depth)
    assert np.isnan(read_sequence(folder).depth[0][depth == 0]).all()


def test_missing_folder_and_missing_frame_name_the_file(tmp_path, folder):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        read_sequence(tmp_path / "nowhere")
    (folder / "frames" / "000001.png").unlink()
    with pytest.raises((FileNotFoundError, ValueError), match=r"000001\.png"):
        read_sequence(folder)


def test_bad_json_and_wrong_intrinsics_are_reported(folder):
    path = folder / "intrinsics.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match=r"intrinsics\.json"):
        read_sequence(folder)
    path.write_text(json.dumps({"fx": 10, "fy": 10, "cx": 1, "cy": 1, "width": 999, "height": 48}))
    with pytest.raises(ValueError, match="does not match"):
        read_sequence(folder)
    path.write_text(json.dumps({"fx": 10, "fy": 10, "cx": 1}))
    with pytest.raises(ValueError, match="width"):
        read_sequence(folder)


def test_wrong_sized_depth_and_missing_mask_frame_are_reported(folder):
    np.save(folder / "depth" / "000001.npy", np.zeros((5, 5), np.float32))
    with pytest.raises(ValueError, match=r"000001\.npy"):
        read_sequence(folder)
    np.save(folder / "depth" / "000001.npy", np.full((48, 64), np.nan, np.float32))
    (folder / "mask" / "000002.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"000002\.png"):
        read_sequence(folder)


def test_bad_tracks_are_reported(folder, sequence):
    tracks = sequence["tracks"].copy()
    visible = sequence["visible"]
    t, j = np.argwhere(visible)[0]
    tracks[t, j] = np.nan
    np.savez(folder / "tracks.npz", queries=sequence["queries"], tracks=tracks, visible=visible)
    with pytest.raises(ValueError, match="NaN"):
        read_sequence(folder)
    np.savez(folder / "tracks.npz", queries=sequence["queries"], tracks=sequence["tracks"])
    with pytest.raises(ValueError, match="visible"):
        read_sequence(folder)
    (folder / "tracks.npz").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"tracks\.npz"):
        read_sequence(folder)


def test_writer_rejects_inconsistent_sequences(tmp_path, sequence):
    bad = dict(sequence, depth=sequence["depth"][:, :10])
    with pytest.raises(ValueError, match="depth"):
        write_sequence(tmp_path / "bad", bad)


def test_cli_writes_sequences_and_a_contact_sheet(tmp_path, capsys):
    out = tmp_path / "synth"
    assert main(["synth", "--out", str(out), "--sequences", "2", "--frames", "2", "--size", "48"]) == 0
    assert (out / "contact_sheet.png").is_file()
    assert read_sequence(out / "seq_0001").num_frames == 2
    assert "wrote 2 sequences" in capsys.readouterr().out


def test_cli_rejects_bad_arguments_with_one_line(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path / "x"), "--frames", "0"]) != 0
    assert "error:" in capsys.readouterr().err
    for bad in (
        ["--max-faces", "4"],
        ["--distance", "0.5", "0.4"],
        ["--distance", "0.1", "0.4"],
        ["--passing-occluders", "1.5"],
    ):
        assert main(["synth", "--out", str(tmp_path / "x"), *bad]) == 2
        assert "error: --" in capsys.readouterr().err


def test_cli_near_single_faces_are_one_per_frame_and_larger(tmp_path):
    """--max-faces 1 --distance: a split whose faces are as large as the real-texture sets' (one head near)."""
    areas = {}
    for name, extra in (("default", []), ("near", ["--max-faces", "1", "--distance", "0.3", "0.4"])):
        out = tmp_path / name
        args = [
            "synth",
            "--out",
            str(out),
            "--sequences",
            "3",
            "--frames",
            "2",
            "--size",
            "96",
            "--seed",
            "4",
        ]
        assert main(args + extra) == 0
        seqs = [read_sequence(out / f"seq_{i:04d}") for i in range(3)]
        if name == "near":
            assert all(len(np.unique(s.instances)) <= 2 for s in seqs)  # background + one face
        areas[name] = np.median([s.mask[0].sum() / max(len(np.unique(s.instances)) - 1, 1) for s in seqs])
    assert areas["near"] > 1.5 * areas["default"], areas


def test_instances_label_each_head_on_its_face_pixels_only():
    data = FaceSequenceGenerator(SynthConfig(queries_per_sequence=8, max_faces_per_frame=3), seed=2)
    for _ in range(6):  # until a sequence with two heads or more
        seq = data.sample_sequence(2, image_size=(96, 128))
        if len(np.unique(seq["instances"])) > 2:
            break
    instances, mask = seq["instances"], seq["mask"]
    assert len(np.unique(instances)) > 2  # background and at least two heads
    assert not instances[~mask].any()  # off-face pixels belong to no head
    assert (instances[mask] > 0).mean() > 0.99  # (a face pixel whose centre sample missed the mesh: none)
