"""The lecture notes' network, layer by layer, and its variants."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from course_lib import models  # noqa: E402

# The notes' model summary: (layer type, output shape, parameters).
SEED_SUMMARY = [
    ("Conv2D", (None, 28, 28, 32), 320),
    ("SeparableConv2D", (None, 28, 28, 32), 1344),
    ("MaxPooling2D", (None, 14, 14, 32), 0),
    ("Conv2D", (None, 14, 14, 64), 18496),
    ("SeparableConv2D", (None, 14, 14, 64), 4736),
    ("MaxPooling2D", (None, 7, 7, 64), 0),
    ("Conv2D", (None, 7, 7, 128), 73856),
    ("SeparableConv2D", (None, 7, 7, 128), 17664),
    ("MaxPooling2D", (None, 3, 3, 128), 0),
    ("Flatten", (None, 1152), 0),
    ("Dense", (None, 128), 147584),
    ("Dense", (None, 10), 1290),
]


def test_seed_cnn_matches_the_notes_layer_by_layer():
    model = models.seed_cnn()
    got = [(layer.__class__.__name__, tuple(layer.output.shape), layer.count_params()) for layer in model.layers]
    assert got == SEED_SUMMARY
    assert model.count_params() == 265_290


def test_seed_cnn_variants():
    assert models.seed_cnn(conv="standard").count_params() == 435_306
    assert models.seed_cnn(conv="separable").count_params() == 183_987
    bn = models.seed_cnn(batch_norm=True, dropout=0.5)
    names = [layer.__class__.__name__ for layer in bn.layers]
    assert names.count("BatchNormalization") == 7 and "Dropout" in names
    # BatchNormalization replaces the biases: 7 layers lose theirs, gain 4 per channel.
    channels = 2 * (32 + 64 + 128) + 128
    assert bn.count_params() == 265_290 - channels + 4 * channels


@pytest.mark.parametrize(
    "kwargs, match",
    [({"conv": "depthwise"}, "conv must be"), ({"dropout": 1.0}, r"dropout must be in \[0, 1\)")],
)
def test_seed_cnn_rejects_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        models.seed_cnn(**kwargs)


def test_seed_cnn_block_dropout_after_each_pooling():
    model = models.seed_cnn(block_dropout=0.25)
    names = [layer.__class__.__name__ for layer in model.layers]
    after_pooling = [names[i + 1] for i, n in enumerate(names) if n == "MaxPooling2D"]
    assert after_pooling == ["Dropout"] * 3
    assert model.count_params() == 265_290
    with pytest.raises(ValueError, match="block_dropout must be in"):
        models.seed_cnn(block_dropout=-0.1)
