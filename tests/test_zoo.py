"""Every bundled spec loads, analyzes without a warning, and describes itself."""
from __future__ import annotations

import pytest

import cnncalc
from cnncalc.spec.bundled import bundled_specs
from cnncalc.spec.spec import load_spec

ZOO = bundled_specs()


@pytest.mark.parametrize("name", sorted(ZOO))
def test_spec_is_clean(name):
    symbolic = name.startswith("lecture/")  # the lecture's symbolic comparisons
    if symbolic:
        pytest.importorskip("sympy")
    spec = load_spec(ZOO[name], symbolic=symbolic)
    assert spec.name == name.rpartition("/")[2], "name: must equal the file name"
    assert spec.description, "a one-line description is shown by 'cnncalc specs'"
    report = cnncalc.analyze(name, symbolic=symbolic)
    assert [w.render() for w in report.warnings] == []
    assert report.totals.params == sum(row.params for row in report.rows)


# ---- inference and training networks (train_only) ------------------------------------------------

def test_published_parameter_counts_of_the_inference_networks():
    """torchvision's model docs (weights metadata `num_params`): GoogLeNet_Weights.IMAGENET1K_V1 6,624,904
    (its weights drop the auxiliary classifiers) and Inception_V3_Weights.IMAGENET1K_V1 27,161,264 (its
    weights keep AuxLogits, so that figure is the training network's)."""
    assert cnncalc.analyze("googlenet").totals.params == 6_624_904
    assert cnncalc.analyze("inception_v3").totals.params == 23_834_568
    assert cnncalc.analyze("inception_v3", mode="train").totals.params == 27_161_264
    # aux1: conv 512 -> 128 (65,536) + BN (256) + fc1 2048 -> 1024 (2,098,176) + fc2 1024 -> 1000 (1,025,000)
    # = 3,188,968; aux2 the same from 528 channels: 67,584 + 256 + 2,098,176 + 1,025,000 = 3,191,016
    train = cnncalc.analyze("googlenet", mode="train")
    assert train.totals.params == 13_004_888 == 6_624_904 + 6_379_984
    assert train.training_only.totals.params == 6_379_984 and train.training_only.included
    assert train.training_only.items == ("aux1", "aux2")
