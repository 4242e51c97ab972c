"""The zoo's YOLOv8 and the specs `cnncalc import` writes, against what Ultralytics itself builds.

Ultralytics cannot share the test environment: it depends on ultralytics-thop, which replaces the
`thop` module tests/test_conventions.py proves against. So .ci/run installs ultralytics==8.4.190 and
OpenCV without their dependencies into the folder `.ultralytics-ref`, and the reference,
tests/reference/ultralytics_reference.py, runs in a subprocess of this Python (its torch, fvcore and
the real thop) with that folder on its PYTHONPATH; or in the Python that CNNCALC_ULTRALYTICS_PYTHON
names (an environment of its own). Without either, or without torch and fvcore, these tests skip. The figures hold for the pinned version only: Ultralytics'
YOLOv8 head changed between releases (8.3.0 builds yolov8n with 2,724,448 parameters, 8.4.190 with
3,157,200; docs/import.md).

The importer itself needs no Ultralytics: its error tests run everywhere.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cnncalc
from cnncalc.cli import app
from cnncalc.core.errors import SpecError
from cnncalc.spec.ultralytics import ULTRALYTICS_VERSION, import_ultralytics

from .conftest import ROOT

REFERENCE = ROOT / "tests" / "reference" / "ultralytics_reference.py"
SCALES = "nsmlx"
# The shipped YAMLs whose every module `cnncalc import` reproduces (docs/import.md lists the others).
SUPPORTED = ("v8/yolov8.yaml", "v8/yolov8-p2.yaml", "v8/yolov8-p6.yaml", "v5/yolov5.yaml", "v5/yolov5-p6.yaml",
             "11/yolo11.yaml", "12/yolo12.yaml")
ZOO = {"yolov8": "v8/yolov8.yaml", "yolo11": "11/yolo11.yaml"}  # the zoo's specs of shipped YAMLs
runner = CliRunner()


LOCAL = ROOT / ".ultralytics-ref"  # ultralytics and cv2 alone, made by .ci/run


def reference_command() -> tuple[list[str], dict[str, str]] | None:
    """How to run the reference script: the interpreter and the environment, or None where there is none."""
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    given = os.environ.get("CNNCALC_ULTRALYTICS_PYTHON")
    if given:
        return [given, str(REFERENCE)], env
    needed = ("torch", "torchvision", "fvcore")
    if not (LOCAL / "ultralytics").is_dir() or not all(importlib.util.find_spec(name) for name in needed):
        return None
    path = os.pathsep.join(filter(None, [str(LOCAL), env.get("PYTHONPATH")]))
    return [sys.executable, str(REFERENCE)], {**env, "PYTHONPATH": path}


@functools.cache
def _reference_info() -> dict:
    command = reference_command()
    if command is None:
        pytest.skip(f"no Ultralytics reference: .ci/run installs ultralytics=={ULTRALYTICS_VERSION} into "
                    ".ultralytics-ref (torch and fvcore come from this environment), or set "
                    "CNNCALC_ULTRALYTICS_PYTHON")
    argv, env = command
    out = subprocess.run([*argv, "--list"], capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    info = json.loads(out.stdout)
    if info["version"] != ULTRALYTICS_VERSION:
        pytest.skip(f"the reference has ultralytics {info['version']}; these figures are {ULTRALYTICS_VERSION}'s")
    return info


_SHARED: list[Path] = []  # the folder all xdist workers of this run share, under pytest's own (rotated) temp root


@pytest.fixture(scope="session", autouse=True)
def _shared_folder(tmp_path_factory):
    _SHARED[:] = [tmp_path_factory.getbasetemp().parent]  # a worker's basetemp is <run root>/popen-gwN


def measure(requests: list[dict]) -> list[dict]:
    """The reference's answers, once per test run: under pytest-xdist the workers share them through
    files (each reference run builds and traces every model again, minutes of CPU)."""
    _reference_info()
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run is None:
        return _run_reference(requests)
    from filelock import FileLock  # torch's dependency, present wherever the reference can run

    plain = [{key: value for key, value in r.items() if key != "export"} for r in requests]  # paths differ
    key = hashlib.sha256(json.dumps(plain, sort_keys=True).encode()).hexdigest()[:16]
    folder = (_SHARED[0] if _SHARED else Path(tempfile.gettempdir())) / f"cnncalc-ultralytics-answers-{run}"
    folder.mkdir(exist_ok=True)
    cached = folder / f"{key}.json"
    with FileLock(f"{cached}.lock"):
        if not cached.exists():
            cached.write_text(json.dumps(_run_reference(requests)), encoding="utf-8")
        return json.loads(cached.read_text(encoding="utf-8"))


def _run_reference(requests: list[dict]) -> list[dict]:
    argv, env = reference_command() or ([], {})
    out = subprocess.run(argv, input=json.dumps(requests), capture_output=True, text=True, timeout=1200, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


SIZES = [(320, 320), (256, 384)]  # two sizes, one not square; the proof holds at 640 too (test below)


EXPORTED = tempfile.TemporaryDirectory(prefix="cnncalc-yolo-")


@functools.cache
def _zoo_reference(name: str) -> dict[str, dict]:
    _reference_info()
    exported = Path(EXPORTED.name) / f"{name}n.py"  # as exported, the spec's size (640²) only
    result = runner.invoke(app, ["export", name, "--to", "pytorch", "-o", str(exported), "--force"])
    assert result.exit_code == 0, result.output
    # scale n at 640² too, in the same subprocess (each start imports torch, Ultralytics and fvcore again)
    requests = [{"yaml": ZOO[name], "scale": scale, "sizes": SIZES + [(640, 640)] * (scale == "n"),
                 "fvcore": True} for scale in SCALES]
    requests[0]["export"] = {"path": str(exported), "cls": name.capitalize(), "size": [640, 640]}
    return dict(zip(SCALES, measure(requests)))


@pytest.mark.slow
@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("name", ZOO)
def test_zoo_yolo_equals_detection_model(name, scale):
    """Parameters (the frozen DFL conv's 16 included, as model.parameters() counts them), BatchNorm
    statistics, the eval output's shape at two sizes and fvcore's total there (YOLO11's attention:
    its matmuls, as fvcore counts them)."""
    reference = _zoo_reference(name)[scale]
    report = cnncalc.analyze(name, set={"scale": scale})
    assert report.totals.params == reference["params"]
    assert report.totals.buffers == reference["buffers"]
    for size in reference["sizes"]:
        report = cnncalc.analyze(name, set={"scale": scale}, input=(3, *size["size"]), convention="fvcore")
        assert report.outputs[0][1] == tuple(size["shape"]), size["size"]
        assert report.totals.macs == size["fvcore"], (size["size"], size["by_operator"])


def test_zoo_yolov8n_has_the_published_figures():
    # the YAML's own comment: "YOLOv8n summary: 129 layers, 3157200 parameters, 3157184 gradients"
    report = cnncalc.analyze("yolov8", convention="fvcore")
    assert report.totals.params == 3_157_200
    assert report.outputs == (("m22.y", (84, 8400)),)  # 4 box coordinates + 80 classes at 80² + 40² + 20² anchors
    # fvcore at 640 (measured on 8.4.190): conv 4,371,993,600 + batch norm 27,776,000 + upsampling 1,228,800
    assert report.totals.macs == 4_400_998_400


@pytest.mark.parametrize("scale, params", [
    # the YAML's own comments: "summary: 181 layers, 2624080 parameters, 2624064 gradients, 6.6 GFLOPs" ...
    ("n", 2_624_080), ("s", 9_458_752), ("m", 20_114_688), ("l", 25_372_160), ("x", 56_966_176)])
def test_zoo_yolo11_has_the_published_parameters(scale, params):
    assert cnncalc.analyze("yolo11", set={"scale": scale}).totals.params == params


def test_zoo_yolo11n_has_the_published_figures():
    report = cnncalc.analyze("yolo11", convention="fvcore")
    assert report.outputs == (("m23.y", (84, 8400)),)
    # fvcore at 640 (measured on 8.4.190): conv 3,240,531,200 + batch norm 32,704,000 + matmul 30,720,000
    # + upsampling 1,228,800. The matmuls are C2PSA's attention at 20x20 = 400 positions, 2 heads of
    # key_dim 32 and head_dim 64: q^T k 2*400*32*400 = 10,240,000 and v attn^T 2*64*400*400 = 20,480,000.
    assert report.totals.macs == 3_305_184_000
    matmuls = [row for row in report.rows if row.name.endswith(("attn.scores", "attn.mixed"))]
    assert [row.macs for row in matmuls] == [10_240_000, 20_480_000]


@pytest.mark.slow
@pytest.mark.parametrize("name", ZOO)
def test_zoo_yolo_n_at_640_equals_fvcore_on_detection_model(name):
    reference = _zoo_reference(name)["n"]["sizes"][-1]
    assert reference["size"] == [640, 640]
    assert reference["fvcore"] == cnncalc.analyze(name, convention="fvcore").totals.macs


@pytest.mark.slow
@pytest.mark.parametrize("name", ZOO)
def test_the_exported_yolo_n_loads_detection_model_weights_and_computes_its_output(name):
    """`cnncalc export yolov8 --to pytorch` follows Ultralytics' module paths (model.22.dfl.conv...,
    model.10.m.0.attn.qkv.conv): DetectionModel's state_dict loads strictly, and the outputs agree on a
    random image."""
    assert _zoo_reference(name)["n"]["export_max_diff"] < 1e-3  # outputs reach 640 (box coordinates in pixels)


@functools.cache
def _import_reference() -> dict[tuple[str, str], dict]:
    # fvcore at scale n only: a trace per model costs more than building it
    requests = [{"yaml": yaml, "scale": scale, "sizes": [(256, 256)], "fvcore": scale == "n"}
                for yaml in SUPPORTED for scale in SCALES]
    return {(r["yaml"], r["scale"]): m for r, m in zip(requests, measure(requests))}


@pytest.mark.slow
@pytest.mark.parametrize("yaml_name", SUPPORTED)
def test_imported_specs_equal_detection_model_at_every_scale(yaml_name, tmp_path):
    source = Path(_reference_info()["cfg"]) / yaml_name
    target = tmp_path / "imported.yaml"
    result = runner.invoke(app, ["import", str(source), "--scale", "n", "-o", str(target)])
    assert result.exit_code == 0, result.output
    for scale in SCALES:
        reference = _import_reference()[(yaml_name, scale)]
        report = cnncalc.analyze(str(target), set={"scale": scale}, input=(3, 256, 256))
        assert (report.totals.params, report.totals.buffers) == (reference["params"], reference["buffers"]), scale
        assert report.outputs[0][1] == tuple(reference["sizes"][0]["shape"]), scale
        if "fvcore" in reference["sizes"][0]:
            report = cnncalc.analyze(str(target), set={"scale": scale}, input=(3, 256, 256), convention="fvcore")
            assert report.totals.macs == reference["sizes"][0]["fvcore"], reference["sizes"][0]["by_operator"]


@pytest.mark.slow
def test_the_exported_imported_yolo12n_loads_detection_model_weights_and_computes_its_output(tmp_path):
    """Area attention's permutes, written as pairs of transposes, compute what AAttn computes: the file
    `cnncalc export` writes for the imported yolo12 (scale n: no residual gamma) loads DetectionModel's
    state_dict strictly and its output agrees on a random image."""
    source = Path(_reference_info()["cfg"]) / "12/yolo12.yaml"
    spec, exported = tmp_path / "yolo12.yaml", tmp_path / "yolo12n.py"
    assert runner.invoke(app, ["import", str(source), "--scale", "n", "-o", str(spec)]).exit_code == 0
    result = runner.invoke(app, ["export", str(spec), "--to", "pytorch", "-o", str(exported)])
    assert result.exit_code == 0, result.output
    request = {"yaml": "12/yolo12.yaml", "scale": "n", "sizes": [],
               "export": {"path": str(exported), "cls": "Yolo12", "size": [640, 640]}}
    assert measure([request])[0]["export_max_diff"] < 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("scale", ["l", "x"])
def test_the_exported_imported_yolo12_with_residual_gamma_loads_detection_model_weights(scale, tmp_path):
    """At scales l and x A2C2f adds gamma * y to its input, gamma a bare nn.Parameter of the block (key
    `model.6.gamma`, shape [c2]): the spec's `layer_scale` with `bare: true` exports it under that key,
    so DetectionModel's state_dict loads strictly and the outputs agree (box coordinates in pixels)."""
    source = Path(_reference_info()["cfg"]) / "12/yolo12.yaml"
    spec, exported = tmp_path / "yolo12.yaml", tmp_path / f"yolo12{scale}.py"
    assert runner.invoke(app, ["import", str(source), "-o", str(spec)]).exit_code == 0
    result = runner.invoke(app, ["export", str(spec), "--to", "pytorch", "-o", str(exported), "--set",
                                 f"scale={scale}", "--input", "3,256,256"])
    assert result.exit_code == 0, result.output
    assert "BareScale(" in exported.read_text(encoding="utf-8")
    request = {"yaml": "12/yolo12.yaml", "scale": scale, "sizes": [],
               "export": {"path": str(exported), "cls": "Yolo12", "size": [256, 256]}}
    assert measure([request])[0]["export_max_diff"] <= 1e-5


# C3k2's third form (attn: a Bottleneck and a PSABlock per repeat), which no shipped detection YAML
# that imports uses (YOLO26's end2end head is refused), and C2PSA with one and with two heads.
ATTENTION = """nc: 3
scales:
  n: [0.5, 0.25, 1024]
  m: [0.5, 1.0, 512]
backbone:
  - [-1, 1, Conv, [64, 3, 2]]
  - [-1, 1, Conv, [128, 3, 2]]
  - [-1, 2, C3k2, [256, False, 0.25]]
  - [-1, 1, Conv, [256, 3, 2]]
  - [-1, 2, C3k2, [256, True, 0.5, True]]
  - [-1, 1, SPPF, [256, 5]]
  - [-1, 2, C2PSA, [256]]
head:
  - [[4, 6], 1, Detect, [nc]]
"""


@pytest.mark.slow
def test_c3k2_with_attention_equals_detection_model(tmp_path):
    source = tmp_path / "attention.yaml"  # a name without a scale letter: Ultralytics would read one from it
    source.write_text(ATTENTION, encoding="utf-8")
    target = tmp_path / "imported.yaml"
    result = runner.invoke(app, ["import", str(source), "-o", str(target)])
    assert result.exit_code == 0, result.output
    requests = [{"yaml": str(source), "scale": scale, "sizes": [(128, 160)], "fvcore": True} for scale in "nm"]
    for scale, reference in zip("nm", measure(requests)):
        report = cnncalc.analyze(str(target), set={"scale": scale}, input=(3, 128, 160), convention="fvcore")
        assert (report.totals.params, report.totals.buffers) == (reference["params"], reference["buffers"]), scale
        assert report.outputs[0][1] == tuple(reference["sizes"][0]["shape"]), scale
        assert report.totals.macs == reference["sizes"][0]["fvcore"], reference["sizes"][0]["by_operator"]


@pytest.mark.slow
def test_every_shipped_detection_yaml_is_imported_or_refused_by_name():
    """Every YAML Ultralytics ships either imports (and is in SUPPORTED, proven above) or is refused
    with a located error naming what is not supported: nothing is imported silently wrong."""
    cfg = Path(_reference_info()["cfg"])
    imported = []
    for path in sorted(cfg.rglob("*.yaml")):
        try:
            import_ultralytics(path.read_text(encoding="utf-8"), str(path), None, "model")
        except SpecError as exc:
            assert exc.loc is not None and ("unknown module" in exc.message or "not supported" in exc.message
                                            or "supported as" in exc.message or "takes at most" in exc.message), \
                (path, exc.message)
            continue
        imported.append(str(path.relative_to(cfg)))
    assert sorted(imported) == sorted(SUPPORTED)


# ---- the importer's own rules (no Ultralytics needed) ------------------------------------------

TINY = """nc: 3
scales:
  n: [0.5, 0.25, 64]
backbone:
  - [-1, 1, Conv, [64, 3, 2]]
  - [-1, 2, C2f, [64, True]]
  - [-1, 1, SPPF, [64, 5]]
head:
  - [[-1, 1], 1, Concat, [1]]
  - [[3], 1, Detect, [nc]]
"""


def test_import_writes_a_spec_that_reads_like_the_yaml():
    text = import_ultralytics(TINY, "tiny.yaml", "n", "tiny")
    # row 1 is read again by row 3 ([-1, 1]): DetectionModel keeps its output in `y` (its save list) until the end
    assert "  - {op: C2f, name: m1, n: 2, c2: 64, shortcut: true, held: true, module: model.1}  # [-1, 2, C2f, [64, True]]" \
        in text
    assert "  - {op: SPPF, name: m2, c2: 64, k: 5, module: model.2}  # [-1, 1, SPPF, [64, 5]]" in text  # read as -1 only
    assert "  - {op: Detect, name: m4, nc: nc, strides: [2], module: model.4}  # [[3], 1, Detect, [nc]]" in text
    report = cnncalc.analyze(text).collapse(1)
    # m0: 64 * 0.25 = 16 channels (a multiple of 8); Conv 3 -> 16, 3x3: 16*3*9 = 432 weights + 32 BN
    assert report.rows[0].params == 432 + 2 * 16
    assert report.outputs[0][1] == (4 + 3, 320 * 320)  # 4 box coordinates + 3 classes at 320² anchors


def test_import_follows_parse_model_for_c3k2():
    """A C3k2 row builds C3k blocks at scales m, l and x whatever its c3k argument says, and makes the
    Detect head after it YOLO11's (depthwise class branches, legacy false)."""
    text = import_ultralytics(TINY.replace("C2f, [64, True]", "C3k2, [64, False, 0.25]"), "tiny.yaml", "n", "tiny")
    assert "c3k_at_scale: {n: false}" in text
    assert '{op: C3k2, name: m1, n: 2, c2: 64, c3k: "c3k_at_scale[scale]", e: 0.25, held: true, module: model.1}' in text
    assert "legacy: false" in text
    report = cnncalc.analyze(text).collapse(1)
    # m1: c2 = 64 * 0.25 = 16, c = int(16 * 0.25) = 4; cv1 16 -> 8 (128 + 16 BN), one Bottleneck 4 -> 2 -> 4
    # (e = 0.5: 4*2*9 + 4 and 2*4*9 + 8), cv2 (2 + 1) * 4 = 12 -> 16 (192 + 32)
    assert report.rows[1].params == (128 + 16) + (72 + 4 + 72 + 8) + (192 + 32)
    legacy = import_ultralytics(TINY, "tiny.yaml", "n", "tiny")
    assert "legacy: false" not in legacy and "c3k_at_scale" not in legacy


def test_import_follows_parse_model_for_a2c2f():
    """YOLO12's A2C2f: at scales l and x parse_model appends (residual True, mlp_ratio 1.2) to its
    arguments; elsewhere the block keeps mlp_ratio 2.0 and no residual gamma."""
    yaml = TINY.replace("n: [0.5, 0.25, 64]", "n: [0.5, 1.0, 1024]\n  l: [1.0, 1.0, 1024]").replace(
        "C2f, [64, True]", "A2C2f, [64, True, 1]")
    text = import_ultralytics(yaml, "tiny.yaml", "n", "tiny")
    assert "a2_residual_at_scale: {n: false, l: true}" in text
    assert ('{op: A2C2f, name: m1, n: 2, c2: 64, a2: true, area: 1, residual: "a2_residual_at_scale[scale]", '
            'mlp_ratio: "1.2 if a2_residual_at_scale[scale] else 2.0", held: true, module: model.1}') in text
    # m1 (64 -> 64 channels, c = 32: one head): cv1 64 -> 32 (2,048 + 64 BN). Per ABlock: qkv 32 -> 96
    # (3,072 + 192), pe depthwise 7x7 (1,568 + 64), proj (1,024 + 64), mlp 32 -> 64 -> 32 (2,048 + 128,
    # 2,048 + 64): 10,272; at n one unit of two ABlocks (round(2 * 0.5)); cv2 (1 + 1) * 32 -> 64 (4,096 + 128)
    n = cnncalc.analyze(text).collapse(1).rows[1].params
    assert n == 2_112 + 2 * 10_272 + 4_224
    # at l: two units; mlp_ratio 1.2 makes the mlp 32 -> int(38.4) = 38 -> 32 (1,216 + 76, 1,216 + 64),
    # so an ABlock has 3,264 + 1,632 + 1,088 + 2,572 = 8,556; cv2 (1 + 2) * 32 -> 64 (6,144 + 128); gamma 64
    large = cnncalc.analyze(text, set={"scale": "l"}).collapse(1).rows[1].params
    assert large == 2_112 + 2 * 2 * 8_556 + 6_272 + 64


@pytest.mark.parametrize("text, fragment, line", [
    (TINY.replace("C2f, [64, True]", "SCDown, [64, 3, 2]"), "row 1: unknown module 'SCDown' (not supported yet)", 6),
    (TINY.replace("SPPF, [64, 5]", "MyBlock, [64]"), "row 2: unknown module 'MyBlock'", 7),
    (TINY.replace("[[3], 1, Detect", "[[9], 1, Detect"), "row 4: 'from' must name an earlier row", 10),
    # C2PSA after C2f's 64 * 0.25 = 16 channels, asked for 32 * 0.25 = 8: C2PSA.__init__ asserts c1 == c2
    (TINY.replace("SPPF, [64, 5]", "C2PSA, [32]"), "row 2: C2PSA needs as many output channels as input "
     "channels (Ultralytics asserts c1 == c2): 16 in, 8 out at scale n", 7),
    # equal at n (SPPF min(1024, 64) * 0.25 = 16, C2PSA min(512, 64) * 0.25 = 16), not at l (1,024 and 512):
    # refused whatever --scale says, since the written spec offers every scale
    (TINY.replace("SPPF, [64, 5]", "SPPF, [1024, 5]]\n  - [-1, 1, C2PSA, [512]").replace(
        "n: [0.5, 0.25, 64]", "n: [0.5, 0.25, 64]\n  l: [1.0, 1.0, 1024]"), "row 3: C2PSA needs as many output "
     "channels as input channels (Ultralytics asserts c1 == c2): 1024 in, 512 out at scale l", 9),
    (TINY + "activation: nn.ReLU()\n", "'activation: nn.ReLU()' is not supported", 11),
    (TINY.replace("Conv, [64, 3, 2]", "Conv, [64, 3, 2, 1, 1, 1, False]"), "Conv takes at most 5 arguments", 5),
    (TINY.replace("[-1, 1, Conv", "[-1, 0, Conv"), "repeats must be a whole number from 1 to 1000", 5),
    ("nc: 3\nbackbone: 1\n", "no 'backbone' list", 2),
    ("nc: !!python/object/apply:os.system ['true']\n", "unsupported YAML tag", 1),
])
def test_import_errors_are_located_and_name_the_module(text, fragment, line, tmp_path):
    path = tmp_path / "model.yaml"
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["import", str(path), "--scale", "n"])
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr, result.stderr
    assert result.stderr.startswith(f"{path}:{line}:"), result.stderr


def test_import_refuses_a_scale_the_yaml_lacks(tmp_path):
    path = tmp_path / "model.yaml"
    path.write_text(TINY, encoding="utf-8")
    result = runner.invoke(app, ["import", str(path), "--scale", "q"])
    assert result.exit_code == 2 and "--scale q: the YAML's scales are n" in result.stderr


def _csv_rows(text: str) -> dict[str, dict[str, str]]:
    import csv
    import io

    return {row["layer"]: row for row in csv.DictReader(io.StringIO(text))}


def test_csv_gives_the_whole_shape_of_tensors_that_are_not_images():
    """c_out/h_out/w_out only fit C×H×W: the Detect head's [84, 8400] and attention's rank-4 tensors keep
    every axis in `in_shape`/`out_shape` (as the JSON's shapes do); a multi-input row lists each input's."""
    result = runner.invoke(app, ["table", "yolo11", "--format", "csv", "--depth", "9"])
    assert result.exit_code == 0, result.output
    rows = _csv_rows(result.stdout)
    # the output: 4 box coordinates + 80 classes at 80² + 40² + 20² = 8,400 anchors; a tensor of two axes reads
    # as a sequence [L, D], with no c, h or w (tests/test_token_tables.py)
    assert (rows["m23.y"]["c_out"], rows["m23.y"]["h_out"], rows["m23.y"]["out_shape"]) == ("", "", "84x8400")
    assert rows["m23.y"]["in_shape"] == "4x8400;80x8400"  # concat of the boxes and the class scores
    # C2PSA at 20x20: qkv's 256 channels viewed as 2 heads of 128 rows by 400 positions
    assert rows["m10.m.0.attn.heads"]["out_shape"] == "2x128x400"
    assert rows["m10.m.0.attn.scores"]["out_shape"] == "2x400x400"  # per head, q^T k over 400 positions
    collapsed = _csv_rows(runner.invoke(app, ["table", "yolo11", "--format", "csv", "--depth", "1"]).stdout)
    assert collapsed["m23"]["in_shape"] == "64x80x80;128x40x40;256x20x20"  # Detect reads three maps


def test_csv_gives_area_attention_its_rank_5_shapes(tmp_path):
    """YOLO12's area attention (A2C2f at 64 channels, one 32-channel head, area 4) at 64x64 input:
    m1 runs at 32x32 = 1,024 positions, 4 areas of 256 each."""
    source = tmp_path / "a2.yaml"
    source.write_text(TINY.replace("n: [0.5, 0.25, 64]", "n: [0.5, 1.0, 1024]").replace(
        "C2f, [64, True]", "A2C2f, [64, True, 4]"), encoding="utf-8")
    spec = tmp_path / "spec.yaml"
    assert runner.invoke(app, ["import", str(source), "-o", str(spec)]).exit_code == 0
    result = runner.invoke(app, ["table", str(spec), "--format", "csv", "--depth", "9", "--input", "3,64,64"])
    assert result.exit_code == 0, result.output
    rows = _csv_rows(result.stdout)
    heads = rows["m1.m.0.b0.attn.heads"]
    # [area, heads, 3 * head_dim, positions per area] = 4 x 1 x 96 x 256, from the transpose before it
    assert heads["out_shape"] == "4x1x96x256" and heads["in_shape"] == "4x1x256x96"
    assert rows["m1.m.0.b0.attn.scores"]["out_shape"] == "4x1x256x256"


# ---- memory: cnncalc's schedule against MemTracker on DetectionModel itself -----------------------------------
MEMORY_YAMLS = ("v8/yolov8.yaml", "11/yolo11.yaml", "12/yolo12.yaml")
MEMORY_SIZES = ((128, 128), (160, 160))
# (mode, optimizer, state counted as it exists): inference at both sizes, a training step at the first
MEMORY_CASES = [("infer", "adamw", True, *MEMORY_SIZES[0]), ("infer", "adamw", True, *MEMORY_SIZES[1]),
                ("train", "momentum", True, *MEMORY_SIZES[0]), ("train", "adam", False, *MEMORY_SIZES[0])]


@functools.cache
def _memory_reference() -> dict[str, list]:
    requests = [{"yaml": yaml, "scale": "n", "memory": [[*case, 2] for case in MEMORY_CASES]} for yaml in MEMORY_YAMLS]
    return {yaml: answer["memory"] for yaml, answer in zip(MEMORY_YAMLS, measure(requests))}


def anchor_adjusted(schedule, graph, mode: str, batch: int = 2) -> tuple[int, ...]:
    """The schedule's peak by category with Ultralytics' anchor cache: Detect makes its anchors ([2, A]) and
    strides ([1, A]) once and keeps them, where the spec's dist2bbox (as cnncalc's lowered module) makes both in
    every forward and keeps the strides for backward. MemTracker counts a tensor from the first op that outputs
    its storage: in a training step (the model has run once) that is `self.anchors.unsqueeze(0)` in the
    decoding, 8·A bytes that stay to the step's end, the strides never (no op outputs them); at a first
    inference pass make_anchors itself, 12·A bytes. So after dist2bbox's forward DetectionModel has +8·A less
    the spec's kept strides (4·A) in training, +12·A at inference, and +8·A once dist2bbox's backward is done."""
    dbox = next(layer for layer in schedule.layers if layer.name.endswith(".dbox"))
    anchors = next(node for node in graph.nodes if node.name == dbox.name).output_shape[-1]
    best: tuple[int, ...] = ()
    for index, sample in enumerate(schedule.samples):
        extra = 0
        if index >= dbox.forward[1]:
            extra = 12 * anchors if mode == "infer" else 4 * anchors
        if mode == "train" and index >= dbox.backward[1]:
            extra = 8 * anchors
        sizes = list(sample.bytes(batch))
        sizes[4] += extra  # activations
        if sum(sizes) > sum(best):
            best = tuple(sizes)
    return best


@pytest.mark.slow
@pytest.mark.parametrize("yaml_name", MEMORY_YAMLS)
def test_imported_memory_equals_memtracker_on_detection_model(yaml_name):
    """`cnncalc import`'s spec against MemTracker on Ultralytics' DetectionModel (scale n, batch 2): the
    inference peak at two sizes, a training step with SGD momentum (state resident) and with Adam (state
    counted when touched), category by category (docs/import.md, memory). Equal once the Detect head's anchor
    cache is counted (anchor_adjusted); before the spec said what C2f's list holds (held:), yolo11n's inference
    peak at 128² was 1,703,936 bytes of activations against DetectionModel's 2,097,152."""
    from cnncalc.analysis.memory import MemoryOptions, memory_schedule
    from cnncalc.api import load_graph

    source = Path(_reference_info()["cfg"]) / yaml_name
    text = import_ultralytics(source.read_text(encoding="utf-8"), str(source), "n", "model")
    for (mode, optimizer, resident, height, width), measured in zip(MEMORY_CASES, _memory_reference()[yaml_name]):
        graph = load_graph(text, input=(3, height, width))[0]
        schedule = memory_schedule(graph, MemoryOptions(mode=mode, optimizer=optimizer,
                                                        protocol="resident" if resident else "touched"))
        assert anchor_adjusted(schedule, graph, mode) == tuple(measured), (mode, optimizer, height)
        if mode == "infer":  # the peak lies before the head: no adjustment
            index, _ = schedule.peak(2)
            assert schedule.samples[index].bytes(2) == tuple(measured)


# Older Ultralytics skipped the width scaling of a row whose c2 equals nc (`if c2 != nc:`); 8.4.190's parse_model
# scales every base module's c2 but Classify's (`if m is not Classify:`, Classify refused by the importer), so a
# Conv of nc channels next to the head is scaled like any other.
NC_CONV = TINY.replace("nc: 3\n", "nc: 64\n").replace("  - [[3], 1, Detect, [nc]]\n",
                                                      "  - [2, 1, Conv, [64, 1, 1]]\n  - [[4], 1, Detect, [nc]]\n")


def test_import_scales_a_conv_whose_channels_equal_nc():
    text = import_ultralytics(NC_CONV, "nc.yaml", "n", "nc")
    report = cnncalc.analyze(text).collapse(1)
    conv = next(row for row in report.rows if row.name == "m4")
    # SPPF's 64 * 0.25 = 16 channels in; c2 = make_divisible(min(64, 64) * 0.25, 8) = 16 out, not nc = 64:
    # 16 * 16 weights + 2 * 16 BN
    assert conv.params == 16 * 16 + 2 * 16


@pytest.mark.slow
def test_a_conv_whose_channels_equal_nc_equals_detection_model(tmp_path):
    source = tmp_path / "nc.yaml"
    source.write_text(NC_CONV, encoding="utf-8")
    text = import_ultralytics(NC_CONV, str(source), "n", "nc")
    reference = measure([{"yaml": str(source), "scale": "n", "sizes": [(64, 64)]}])[0]
    report = cnncalc.analyze(text, input=(3, 64, 64))
    assert (report.totals.params, report.totals.buffers) == (reference["params"], reference["buffers"])
    assert report.outputs[0][1] == tuple(reference["sizes"][0]["shape"])
