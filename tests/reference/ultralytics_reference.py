"""What Ultralytics builds from its own model YAMLs, as JSON: run by tests/test_ultralytics.py in a
subprocess whose PYTHONPATH holds ultralytics (installed without its dependencies: its ultralytics-thop
would replace the `thop` module the other tests prove against; see docs/import.md).

Reads a JSON list of requests on stdin, {"yaml": "v8/yolov8.yaml", "scale": "n", "sizes": [[640, 640]],
"fvcore": true}, and prints one JSON object per request: parameters, trainable parameters, BatchNorm
statistics, and per size the eval output's shape and fvcore's count by operator; with "export":
{"path", "cls", "size"}, the largest difference between the model's output and that of the file
`cnncalc export` wrote, loaded with the model's weights; with "memory": [[mode, optimizer, resident, height,
width, batch], ...], MemTracker's peak per case (cnncalc/pytorch/memtrack.py: bytes per category, under fake
tensors), the Detect head decoding in training too (see _memory_model). With the argument
`--list` it prints the folder of the shipped YAMLs and the installed version instead. No weights are
downloaded: the models are built from the YAMLs with random weights."""
import json
import os
import sys
import tempfile
import warnings

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_VERBOSE", "False")
_SETTINGS = tempfile.TemporaryDirectory(prefix="cnncalc-ultralytics-settings-")  # removed at exit
os.environ.setdefault("YOLO_CONFIG_DIR", _SETTINGS.name)
warnings.simplefilter("ignore")

import torch  # noqa: E402
import ultralytics  # noqa: E402
from ultralytics.nn.tasks import DetectionModel, yaml_model_load  # noqa: E402

CFG = os.path.join(os.path.dirname(ultralytics.__file__), "cfg", "models")


def measure(request):
    cfg = yaml_model_load(os.path.join(CFG, request["yaml"]))
    cfg["scale"] = request["scale"]
    model = DetectionModel(cfg, verbose=False).eval()
    model.model[-1].export = True  # the eval output alone, as an exported model returns it
    out = {"params": sum(p.numel() for p in model.parameters()),
           "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
           "buffers": sum(b.numel() for k, b in model.named_buffers() if not k.endswith("num_batches_tracked")),
           "sizes": []}
    for height, width in request.get("sizes", []):
        x = torch.zeros(1, 3, height, width)
        with torch.no_grad():
            y = model(x)
        size = {"size": [height, width], "shape": list(y.shape[1:])}
        if request.get("fvcore"):
            from fvcore.nn import FlopCountAnalysis

            analysis = FlopCountAnalysis(model, x)
            analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
            size["fvcore"] = analysis.total()
            size["by_operator"] = dict(analysis.by_operator())
        out["sizes"].append(size)
    if request.get("memory"):
        from cnncalc.pytorch import memtrack

        out["memory"] = [list(memtrack.measure(lambda: _memory_model(request), batch, (3, height, width), mode,
                                               optimizer, resident)) for mode, optimizer, resident, height, width, batch
                         in request["memory"]]
    if request.get("export"):  # a file `cnncalc export --to pytorch` wrote: DetectionModel's weights, strictly
        out["export_max_diff"] = _exported_difference(model, **request["export"])
    return out


def _memory_model(request):
    """DetectionModel as the memory proof runs it: the eval output alone (export), and in training too the
    decoded output (the Detect module's own `training` flag stays False, its convolutions' and every other
    module's follow model.train()), which is the network the spec describes; the loss is its sum. Its
    strides become plain numbers: a real tensor attribute cannot meet fake tensors."""
    cfg = yaml_model_load(os.path.join(CFG, request["yaml"]))
    cfg["scale"] = request["scale"]
    model = DetectionModel(cfg, verbose=False)
    detect = model.model[-1]
    detect.export = True
    detect.stride = detect.stride.tolist()

    def train(self, mode=True):
        self.training = False
        for child in self.children():
            child.train(mode)
        return self

    detect.train = train.__get__(detect)
    return model


def _exported_difference(model, path, cls, size):
    import importlib.util

    spec = importlib.util.spec_from_file_location("exported", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    exported = getattr(module, cls)().eval()
    exported.load_state_dict(model.state_dict(), strict=True)
    x = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return (exported(x) - model(x)).abs().max().item()


if __name__ == "__main__":
    if "--list" in sys.argv:
        print(json.dumps({"version": ultralytics.__version__, "cfg": CFG}))
    else:
        print(json.dumps([measure(request) for request in json.loads(sys.stdin.read())]))
