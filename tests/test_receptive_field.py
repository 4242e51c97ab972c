"""Receptive fields: the slides' stacked convs, and a brute-force check that enumerates which input
positions an output position depends on, for random small nets."""
from __future__ import annotations

import itertools
import random
from fractions import Fraction

import pytest

import cnncalc
from cnncalc.analysis.engine import analyze
from cnncalc.layers.window import RFAxis
from cnncalc.spec.graph import build
from cnncalc.spec.spec import parse_spec


def fields(text: str):
    report = analyze(build(parse_spec(text)))
    return {row.name: row.receptive_field for row in report.rows}


def stack(layers: list[str], size: int = 32) -> str:
    return f"input: [1, {size}, {size}]\nlayers:\n" + "".join(f"  - {layer}\n" for layer in layers)


@pytest.mark.parametrize("count,expected", [(1, 3), (2, 5), (3, 7)])
def test_stacked_3x3_convs(count, expected):
    # The slides: two 3x3 convs see 5x5, three see 7x7 (each adds K - 1 = 2)
    result = fields(stack(["{op: conv, out: 1, kernel: 3, pad: 1}"] * count))
    height, width = list(result.values())[-1]
    assert (height.size, width.size) == (expected, expected)
    assert height.jump == 1 and height.start == 0


def brute_force(layers: list[tuple[int, int, int, int]]) -> tuple[int, int, float]:
    """(size, jump, centre) of output 0's field along one axis, by enumerating the input positions
    (padding included) that output positions 0 and 1 read through every layer."""
    def reads(position: int) -> set[int]:
        positions = {position}
        for kernel, stride, pad, dilation in reversed(layers):
            positions = {p * stride - pad + t * dilation for p in positions for t in range(kernel)}
        return positions

    first, second = reads(0), reads(1)
    return max(first) - min(first) + 1, min(second) - min(first), (max(first) + min(first)) / 2


@pytest.mark.parametrize("seed", range(25))
def test_matches_brute_force_on_random_nets(seed):
    rng = random.Random(seed)
    layers, yaml_layers = [], []
    for _ in range(rng.randint(1, 5)):
        kernel, stride, dilation = rng.choice([1, 2, 3, 5, 7]), rng.choice([1, 1, 2, 3]), rng.choice([1, 1, 2])
        pad = rng.randint(0, (dilation * (kernel - 1)) // 2)
        op = rng.choice(["conv", "maxpool"]) if dilation == 1 else "conv"
        extra = ", out: 1" if op == "conv" else ""
        dilated = f", dilation: {dilation}" if dilation > 1 else ""
        layers.append((kernel, stride, pad, dilation))
        yaml_layers.append(f"{{op: {op}, kernel: {kernel}, stride: {stride}, pad: {pad}{dilated}{extra}}}")
    result = fields(stack(yaml_layers, size=400))
    height, width = list(result.values())[-1]
    size, jump, centre = brute_force(layers)
    assert (height.size, height.jump, height.start) == (size, jump, centre), yaml_layers
    assert width == height


def test_dag_takes_the_largest_field_over_paths():
    result = fields("""
input: [1, 32, 32]
layers:
  - {op: conv, name: small, out: 1, kernel: 1}
  - {op: conv, name: big, in: input, out: 1, kernel: 3, pad: 1}
  - {op: conv, name: bigger, out: 1, kernel: 3, pad: 1}
  - {op: concat, name: cat, in: [small, bigger]}
  - {op: add, name: sum, in: [bigger, small]}
""")
    assert result["small"][0].size == 1
    assert result["bigger"][0].size == 5
    assert result["cat"][0].size == 5 and result["sum"][0].size == 5


def test_zero_padding_shifts_the_centre():
    result = fields(stack(["{op: zeropad, pad: 2}", "{op: conv, out: 1, kernel: 3}"]))
    # output 0 of the conv reads padded positions 0..2, which are input positions -2..0: centre -1
    assert (result["conv1"][0].size, result["conv1"][0].start) == (3, -1)


def test_alexnet_and_resnet18_fields():
    # AlexNet: 11 -> 19 -> 51 -> 67 -> 99 -> 131 -> 163 -> 195 (the well-known 195 of pool5)
    alexnet = {row.name: row.receptive_field[0].size for row in cnncalc.analyze("alexnet").rows}
    assert [alexnet[n] for n in ("conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5", "pool5")] == \
        [11, 19, 51, 67, 99, 131, 163, 195]
    # ResNet-18's last stage: 435 pixels, jump 32
    resnet = {row.name: row.receptive_field[0] for row in cnncalc.analyze("resnet18").collapse(1).rows}
    assert (resnet["layer4"].size, resnet["layer4"].jump) == (435, 32)


def test_json_has_receptive_field_and_jump():
    import json

    from cnncalc.render import to_json

    layer = json.loads(to_json(cnncalc.analyze("alexnet")))["layers"][1]
    assert layer["receptive_field"] == [19, 19] and layer["jump"] == [8, 8] and layer["rf_start"] == [9, 9]


@pytest.mark.parametrize("start", [0, 3, -2, Fraction(1, 2), Fraction(-3, 2), Fraction(5, 1), Fraction(7, 4)])
def test_window_centre_is_exact_as_in_fractions(start):
    """RFAxis.window computes a centre in doubled integers (a half-pixel centre without Fraction
    arithmetic): the value and the type must be those of c_in + (D·(K - 1)/2 - P)·j_in computed in
    Fractions, an int only where the input's centre is an int and D·(K - 1) is even."""
    for kernel, dilation, pad, jump, stride in itertools.product((1, 2, 3, 4, 7), (1, 2), (0, 1, 3), (1, 2, 8),
                                                                  (1, 2)):
        got = RFAxis(5, jump, start).window(kernel, stride, pad, dilation)
        reach = dilation * (kernel - 1)
        half = reach // 2 if reach % 2 == 0 else Fraction(reach, 2)
        centre = start + (half - pad) * jump
        assert got == (5 + reach * jump, jump * stride, centre), (start, kernel, dilation, pad, jump)
        assert type(got.start) is type(centre), (start, kernel, dilation, pad, jump)


def test_square_and_oblong_windows_step_each_axis():
    """A square field through a square window is stepped once for both axes; an oblong kernel or
    stride, or an asymmetric 'same' padding, still steps each axis by its own numbers."""
    result = fields(stack(["{op: conv, out: 1, kernel: 2, stride: 2}", "{op: conv, out: 1, kernel: [3, 5], pad: [1, 0]}",
                           "{op: conv, out: 1, kernel: 3, stride: [1, 2]}", "{op: maxpool, kernel: 2, stride: 1, pad: same}"]))
    first, oblong, strided, pooled = result.values()
    # kernel 2, stride 2: r = 1 + 1·1 = 2, j = 2, c = 0 + (1/2 - 0)·1 = 1/2 on both axes
    assert first[0] == first[1] == (2, 2, Fraction(1, 2))
    # H: r = 2 + 2·2 = 6, c = 1/2 + (1 - 1)·2 = 1/2; W: r = 2 + 4·2 = 10, c = 1/2 + (2 - 0)·2 = 9/2
    assert oblong == ((6, 2, Fraction(1, 2)), (10, 2, Fraction(9, 2)))
    # H: stride 1, j = 2; W: stride 2, j = 4; r += 2·2, c += (1 - 0)·2
    assert strided == ((10, 2, Fraction(5, 2)), (14, 4, Fraction(13, 2)))
    # 'same' pool of 2 with stride 1 pads 0 before, 1 after: r += 1·j, c += (1/2)·j
    assert pooled == ((12, 2, Fraction(7, 2)), (18, 4, Fraction(17, 2)))
