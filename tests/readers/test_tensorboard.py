"""TensorBoard event files, written by a real writer library (tensorboardX) and
read back by curvediag's dependency-free reader.

Provenance: PyTorch/Lightning/Hugging Face log ``simple_value`` scalars
(``SummaryWriter.add_scalar``); TF2/Keras' TensorBoard callback logs 0-d float
tensors (``tensor_content``) under ``epoch_loss``/``epoch_accuracy`` in
``train/`` and ``validation/`` subfolders — built here with tensorboardX's own
protobuf classes, the same messages TensorFlow writes.
"""

from __future__ import annotations

import json
import math
import struct

import pytest
from typer.testing import CliRunner

import curvediag
from curvediag.cli import app
from curvediag.errors import InputError

tbx = pytest.importorskip("tensorboardX")
from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata  # noqa: E402
from tensorboardX.proto.tensor_pb2 import TensorProto  # noqa: E402


def tensor_scalar(writer, tag, value, step):
    meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="scalars"))
    t = TensorProto(dtype=1, tensor_content=struct.pack("<f", value))
    writer.file_writer.add_summary(Summary(value=[Summary.Value(tag=tag, tensor=t, metadata=meta)]), step)


def keras_logs(root, n=20):
    for sub in ("train", "validation"):
        w = tbx.SummaryWriter(str(root / sub))
        for e in range(n):
            val = sub == "validation"
            tensor_scalar(w, "epoch_loss", 2 * math.exp(-e / 4) + 0.1 * val + 0.03 * max(0, e - 8) * val, e)
            tensor_scalar(w, "epoch_accuracy", 1 - math.exp(-e / 4) - 0.05 * val, e)
        w.close()
    return root


def pytorch_log(root):
    w = tbx.SummaryWriter(str(root))
    for s in range(0, 1000, 10):
        w.add_scalar("train_loss", 2 * math.exp(-s / 300), s)
    for s in range(99, 1000, 100):
        w.add_scalar("val_loss", 2.1 * math.exp(-s / 300), s)
        w.add_scalar("val_acc", 1 - math.exp(-s / 300), s)
    w.close()
    return next(root.glob("events.out.tfevents.*"))


def test_simple_value_scalars_from_a_pytorch_writer(tmp_path):
    f = pytorch_log(tmp_path / "pt")
    rep = curvediag.diagnose(f)
    assert rep.source.format == "tensorboard" and rep.source.axis == "step"
    m = {x.name: x for x in rep.metrics}
    assert m["train_loss"].points == 100 and m["val_loss"].points == 10
    assert m["val_loss"].first == pytest.approx(2.1 * math.exp(-99 / 300), rel=1e-6)  # float32 on disk
    assert rep.verdict == "still_improving"


def test_keras_tensor_scalars_in_train_and_validation_folders(tmp_path):
    root = keras_logs(tmp_path / "logs")
    rep = curvediag.diagnose(root)
    assert rep.source.columns == {
        "train_loss": "train/epoch_loss", "val_loss": "validation/epoch_loss",
        "train_acc": "train/epoch_accuracy", "val_acc": "validation/epoch_accuracy",
    }
    assert rep.verdict == "overfitting" and rep.metrics[0].points == 20


def test_cli_on_an_event_file_and_a_truncated_one(tmp_path):
    f = pytorch_log(tmp_path / "pt")
    r = CliRunner().invoke(app, ["analyze", str(f), "--format", "json", "--fail-on", "never"])
    assert r.exit_code == 0 and json.loads(r.stdout)[0]["source"]["format"] == "tensorboard"
    data = f.read_bytes()
    cut = tmp_path / "events.out.tfevents.cut"
    cut.write_bytes(data[: len(data) // 2])  # a run still being written
    assert curvediag.diagnose(cut).metrics[0].points < 100


def test_event_file_without_scalars_and_broken_protobuf(tmp_path):
    w = tbx.SummaryWriter(str(tmp_path / "empty"))
    w.add_text("note", "hello", 0)
    w.close()
    f = next((tmp_path / "empty").glob("events.out.tfevents.*"))
    with pytest.raises(InputError, match="no scalar summaries"):
        curvediag.diagnose(f)
    bad = tmp_path / "events.out.tfevents.bad"
    good = f.read_bytes()
    payload = b"\x0a\xff\xff\xff\xff\x0f" + b"brain.Event:2"  # a length far past the end
    bad.write_bytes(good[:40] + struct.pack("<Q", len(payload)) + b"\0\0\0\0" + payload + b"\0\0\0\0")
    with pytest.raises(InputError, match="broken TensorBoard event file"):
        curvediag.diagnose(bad)
