from __future__ import annotations

import gc
import importlib.util
import os
import sys
import weakref
from pathlib import Path

import pytest
import typer.testing

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
GOLDEN = Path(__file__).resolve().parent / "golden"

# torch on one thread per process unless told otherwise (read when torch is first imported, after this
# file): with `pytest -n N`, N workers share the cores; without, on cores other work shares, two OpenMP
# threads that wait on each other make the torch tests several times slower (test_conventions on
# ResNet-152 and DenseNet-121, one process: 32 s against 108 s on 2 busy cores)
for _threads in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_threads, "1")

# typer's CliRunner.invoke builds the click command of the whole app again on every call (about 12 ms of the
# 18 ms of `table lenet5`; the fast lane makes about 760 calls); a click command is made to be run many
# times, as `cnncalc` itself runs its one, so each app's is built once (where typer has that helper).
_COMMANDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_build_command = getattr(typer.testing, "_get_command", None)


def _command_once(app):
    if app not in _COMMANDS:
        _COMMANDS[app] = _build_command(app)
    return _COMMANDS[app]


if _build_command is not None:
    typer.testing._get_command = _command_once

# Torch models and the peers' hooks make reference cycles (ptflops binds its methods to the model it counts,
# autograd graphs, FakeTensorMode): a model that lived through a few tests reaches the collector's oldest
# generation, which CPython collects only when it has grown by a quarter; until then it holds its tensors. A
# worker kept every model it had built (test_conventions alone: 7 GB, of which 4 GB such garbage). So a test
# after which the worker has grown by GROWTH_BYTES since the last full collection is followed by one (about
# 0.25 s of CPU with torch imported; cheap tests never pay it).
GROWTH_BYTES = 256 * 2**20
_collected_at: list[int] = []


def _resident_bytes() -> int | None:
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):  # no procfs (macOS): no collections here
        return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    yield  # the test, with its fixtures torn down
    resident = _resident_bytes()
    if resident is None:
        return
    if not _collected_at or resident < _collected_at[0]:
        _collected_at[:] = [resident]
    elif resident - _collected_at[0] > GROWTH_BYTES:
        gc.collect()
        _collected_at[:] = [_resident_bytes() or resident]


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session):
    """The last collection here, after the session's fixtures, not in pytest's cleanup after the session:
    there pytest-xdist gives a worker 5 s before it interrupts it (KeyboardInterrupt in a tensor's
    finalizer, PytestUnraisableExceptionWarning, 5 s more per run). pytest's own collection then finds
    nothing to free."""
    gc.collect()


# --symbolic needs the optional sympy; the bare environment of .ci/run has none.
needs_sympy = pytest.mark.skipif(importlib.util.find_spec("sympy") is None, reason="sympy (the symbolic extra) is not installed")


# Golden outputs and docs examples include what these print (verify, the peer conventions): they
# are rewritten only where all of them are installed, never from a partial environment.
GOLDEN_NEEDS = ("torch", "torchvision", "fvcore", "ptflops", "thop", "torchinfo", "onnx", "sympy", "matplotlib")


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite tests/golden/*, the docs' examples and generated tables from the current output")


def pytest_configure(config):
    if config.getoption("--update-golden"):
        import importlib.util

        missing = [name for name in GOLDEN_NEEDS if importlib.util.find_spec(name) is None]
        if missing:
            pytest.exit(f"--update-golden needs the test extra; missing: {', '.join(missing)} "
                        "(pip install -e '.[test]')", returncode=2)


@pytest.fixture
def golden(request):
    """golden(name, text): compare text with tests/golden/NAME, or rewrite it with --update-golden."""
    update = request.config.getoption("--update-golden")

    def check(name: str, text: str) -> None:
        path = GOLDEN / name
        if update:
            path.write_text(text, encoding="utf-8")
            return
        assert path.exists(), f"missing golden file {path}; run pytest --update-golden"
        assert text == path.read_text(encoding="utf-8"), f"output differs from {path}"

    return check


@pytest.fixture
def analyze_text():
    """analyze_text(yaml, **options) -> Report."""
    from cnncalc.analysis.engine import analyze
    from cnncalc.spec.graph import build
    from cnncalc.spec.spec import parse_spec

    def run(text: str, input_shape=None, **options):
        return analyze(build(parse_spec(text, "test.yaml"), input_shape), **options)

    return run


# What collection imported of the heavy packages, for tests/test_collection.py: every xdist worker
# collects every test module, so an import at the top of one costs each worker, whatever -m selects.
HEAVY_PACKAGES = ("torch", "torchvision", "timm", "onnx", "onnxruntime", "onnxscript", "fvcore", "ptflops", "thop",
                  "torchinfo", "numpy", "matplotlib", "openpyxl")
HEAVY_AT_COLLECTION: dict[str, str] = {}  # package -> the first module whose collection imported it


def pytest_collectreport(report):
    for name in HEAVY_PACKAGES:
        if name in sys.modules and name not in HEAVY_AT_COLLECTION:
            HEAVY_AT_COLLECTION[name] = report.nodeid or "(before the first test module)"


# The heavy references, imported by the first test that asks for one and skipped where missing; never
# at collection, which every xdist worker pays for tests `-m "not slow"` may deselect
# (tests/test_collection.py keeps it so).
@pytest.fixture(scope="session")
def torch():
    return pytest.importorskip("torch")


@pytest.fixture(scope="session")
def torchvision(torch):
    return pytest.importorskip("torchvision")


@pytest.fixture(scope="session")
def timm(torch):
    return pytest.importorskip("timm")


# With `-n N` (xdist), the tests that import PyTorch or a peer tool all run in one worker (the group
# "torch"), so that one worker pays for those imports (~5 s of CPU), not each of them. The `--dist load`
# that -n implies becomes `loadgroup`, which runs every other test as `load` does; a --dist given on
# the command line is kept. xdist tells its workers only the command line, hence `cnncalc_loadgroup`.
def pytest_cmdline_main(config):  # after xdist's (tryfirst) has set `load`, before the session runs
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        config.option.loadgroup = config.option.loadgroup or workerinput.get("cnncalc_loadgroup", False)
    elif getattr(config.option, "dist", None) == "load" and \
            not any(arg.startswith(("--dist", "-d")) for arg in config.invocation_params.args):
        config.option.dist = "loadgroup"


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    node.workerinput["cnncalc_loadgroup"] = node.config.getvalue("dist") == "loadgroup"


def pytest_collection_modifyitems(config, items):
    if not getattr(config.option, "loadgroup", False):
        return
    # xdist hands out its work units in collection order (after the groups of several tests): a long test that
    # starts when the other worker is nearly done lengthens the run by about its own length (the DetectionModel
    # references, test_ultralytics.py, came last). The slow tests are the long ones, so they go first and the
    # short ones fill in behind them; a stable sort keeps each part in collection order.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
    for item in items:  # the slow tests are torch's anyway: grouping them would put most of them on one worker
        if (item.get_closest_marker("torch") or item.get_closest_marker("peers")) and not item.get_closest_marker("slow"):
            _join_group(item, "torch")
        elif getattr(item, "originalname", None) == "test_zoo_equals_memtracker_on_torchvision":
            # a model's five cases share one MemTracker session (DenseNet-121's: about 90 s of CPU) only when
            # they run in one worker: spread over two, both paid for it
            _join_group(item, f"memtracker-{item.callspec.params['name']}")


def _join_group(item, group: str) -> None:
    """What xdist does for `@pytest.mark.xdist_group(group)`: the scheduler reads the group from the test's
    id. xdist 3.8 writes `item._nodeid`, which pytest 9.2 no longer reads (pytest-xdist issue #1386)."""
    nodeid = f"{item.nodeid}@{group}"
    if hasattr(item, "_id"):  # pytest >= 9.2: a structured id
        from _pytest.nodeid import coerce_node_id

        item._id = coerce_node_id(nodeid)
    else:
        item._nodeid = nodeid


def one_layer(layer: str, input_shape: str = "[3, 32, 32]") -> str:
    """A spec with a single layer, written as a YAML flow mapping."""
    return f"input: {input_shape}\nlayers:\n  - {layer}\n"
