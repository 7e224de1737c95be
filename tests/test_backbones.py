"""The chapter's classifier as backbone and head; new heads, freezing, fine-tuning; applications."""

import keras
import numpy as np
import pytest
from keras import layers

from course_lib.models import backbones


def bn_layers(model: keras.Model) -> list[layers.BatchNormalization]:
    return [layer for layer in model.layers if isinstance(layer, layers.BatchNormalization)]


# ---------------------------------------------------------------- the chapter's classifier


def test_backbone_classifier_is_the_notes_network_with_a_new_head():
    model = backbones.backbone_classifier(4)
    backbone = backbones.backbone_of(model)
    assert backbone.name == "backbone" and backbone.output_shape == (None, 128)
    assert model.output_shape == (None, 4)
    # notes_cnn with batch normalization (7 layers trade their biases for 4 weights
    # per channel), minus its Dense(10), plus a Dense(4)
    channels = 2 * (32 + 64 + 128) + 128
    with_bn = 265_290 - channels + 4 * channels
    assert model.count_params() == with_bn - 1290 + 129 * 4
    assert model.count_params() == backbones.BACKBONE_SPEC.replace(num_classes=4).count_params()
    head = [layer.__class__.__name__ for layer in model.layers[2:]]
    assert head == ["FreezableDropout", "Dense"]
    with pytest.raises(
        ValueError, match="backbone_classifier: num_classes must be an integer >= 2"
    ):
        backbones.backbone_classifier(1)
    with pytest.raises(TypeError, match="num_classes must be an integer"):
        backbones.backbone_classifier(4.0)


def test_backbone_classifier_is_seeded_locally():
    a = backbones.backbone_classifier(3, seed=5).get_weights()
    b = backbones.backbone_classifier(3, seed=5).get_weights()
    c = backbones.backbone_classifier(3, seed=6).get_weights()
    for wa, wb in zip(a, b):
        np.testing.assert_array_equal(wa, wb)
    assert not np.array_equal(a[0], c[0])


def test_backbone_blocks_of_the_notes_network():
    backbone = backbones.backbone_of(backbones.backbone_classifier(3))
    blocks = backbones.backbone_blocks(backbone)
    assert len(blocks) == 4
    for block in blocks[:3]:
        names = [layer.__class__.__name__ for layer in block]
        assert names[-2:] == ["MaxPooling2D", "FreezableDropout"]
        assert names.count("BatchNormalization") == 2
    last = [layer.__class__.__name__ for layer in blocks[3]]
    assert last == ["Flatten", "Dense", "BatchNormalization", "Activation"]


# ---------------------------------------------------------------- new heads


def test_with_new_head_copies_and_calls_the_backbone_in_inference_mode():
    source = backbones.backbone_classifier(3)
    backbone = backbones.backbone_of(source)
    model = backbones.with_new_head(backbone, 5)
    inner = backbones.backbone_of(model)
    assert inner is not backbone
    for a, b in zip(inner.get_weights(), backbone.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert model.output_shape == (None, 5)
    x = np.random.default_rng(0).normal(size=(8, 28, 28, 1)).astype("float32")
    # changing the copy leaves the original intact
    before = [w.copy() for w in backbone.get_weights()]
    for w in inner.trainable_weights:
        w.assign(np.zeros(w.shape, dtype=w.dtype))
    for w, w0 in zip(backbone.get_weights(), before):
        np.testing.assert_array_equal(w, w0)
    assert model(x).shape == (8, 5)


def test_with_new_head_seeds_the_head():
    backbone = backbones.backbone_of(backbones.backbone_classifier(3, seed=0))

    def head(seed):
        return backbones.with_new_head(backbone, 2, seed=seed).get_layer("head").get_weights()[0]

    np.testing.assert_array_equal(head(1), head(1))
    assert not np.array_equal(head(1), head(2))


def test_with_new_head_pools_feature_maps_and_checks_arguments():
    maps = keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(4, 3)], name="maps")
    model = backbones.with_new_head(maps, 3, dropout=0)
    assert model.output_shape == (None, 3)
    assert any(isinstance(layer, layers.GlobalAveragePooling2D) for layer in model.layers)
    with pytest.raises(ValueError, match="num_classes must be an integer >= 2"):
        backbones.with_new_head(maps, 1)
    with pytest.raises(ValueError, match=r"dropout must be a number in \[0, 1\)"):
        backbones.with_new_head(maps, 3, dropout=1.0)
    with pytest.raises(TypeError, match="backbone must be a keras.Model"):
        backbones.with_new_head(layers.Dense(3), 3)
    with pytest.raises(TypeError, match="seed must be an integer"):
        backbones.with_new_head(maps, 3, seed=0.5)


def test_backbone_of_needs_exactly_one_nested_model():
    flat = keras.Sequential([keras.Input((4,)), layers.Dense(2)], name="flat")
    with pytest.raises(ValueError, match="expected one nested backbone model in 'flat'; found 0"):
        backbones.backbone_of(flat)


# ---------------------------------------------------------------- freezing and fine-tuning


def test_freeze_and_unfreeze_top():
    model = backbones.with_new_head(backbones.backbone_of(backbones.backbone_classifier(3)), 2)
    inner = backbones.backbone_of(model)
    backbones.freeze(inner)
    assert inner.trainable_weights == []
    head_only = len(model.trainable_weights)
    assert head_only == 2  # the new Dense kernel and bias

    names = backbones.unfreeze_top(inner, 1)
    assert [inner.get_layer(n).__class__.__name__ for n in names] == ["Dense"]
    assert len(model.trainable_weights) == head_only + 1  # Dense(128) has no bias with batch norm

    names = backbones.unfreeze_top(inner, 4)
    kinds = {inner.get_layer(n).__class__.__name__ for n in names}
    assert kinds == {"Conv2D", "SeparableConv2D", "Dense"}, "batch normalization stays frozen"
    # Frozen batch normalization runs in inference mode even in a training call
    # (what fit makes), so its output does not depend on the batch.
    bn = bn_layers(inner)[0]
    z = np.random.default_rng(0).normal(3, 2, size=(8, 28, 28, 32)).astype("float32")
    np.testing.assert_allclose(
        np.asarray(bn(z, training=True)), np.asarray(bn(z, training=False)), rtol=1e-5, atol=1e-5
    )
    assert backbones.unfreeze_top(inner, 0) == []
    with pytest.raises(
        ValueError, match=r"n_blocks must be an integer in \[0, 4\]; got 5. The backbone has 4"
    ):
        backbones.unfreeze_top(inner, 5)
    with pytest.raises(TypeError, match="n_blocks must be an integer"):
        backbones.unfreeze_top(inner, 1.0)


def test_unfreeze_top_refuses_a_whole_model():
    # Given the whole model, the backbone is one layer of it: unfreezing that
    # layer used to make all 7 BatchNormalization layers inside it trainable.
    model = backbones.with_new_head(backbones.backbone_of(backbones.backbone_classifier(3)), 2)
    inner = backbones.freeze(backbones.backbone_of(model))
    with pytest.raises(
        ValueError, match=r"contains the model 'backbone'.*pass backbone_of\(model\)"
    ):
        backbones.unfreeze_top(model, 1)
    assert len(bn_layers(inner)) == 7
    assert not any(layer.trainable for layer in bn_layers(inner))
    assert inner.trainable_weights == [], "the refused call changed nothing"
    with pytest.raises(ValueError, match="pass backbone_of"):
        backbones.unfreeze_top(backbones.backbone_classifier(3), 1)


# ---------------------------------------------------------------- frozen features

IMAGES = np.random.default_rng(0).normal(size=(8, 28, 28, 1)).astype("float32")


def frozen_transfer_model(backbone: keras.Model | None = None) -> keras.Model:
    """The chapter's frozen model, head dropout off: its output in training mode
    depends on the backbone only."""
    if backbone is None:
        backbone = backbones.backbone_of(backbones.backbone_classifier(3, seed=0))
    model = backbones.with_new_head(backbone, 2, dropout=0, seed=0)
    backbones.freeze(backbones.backbone_of(model))
    return model


def training_mode_spread(model: keras.Model) -> float:
    """Largest gap between two training-mode forward passes (what fit runs) and inference."""
    a, b = (np.asarray(model(IMAGES, training=True)) for _ in range(2))
    c = np.asarray(model(IMAGES, training=False))
    return float(max(np.abs(a - b).max(), np.abs(a - c).max()))


def test_frozen_backbone_computes_fixed_features_in_training_mode():
    # fit calls the model with training=True, which overrides the training=False
    # recorded in the graph (keras-team/keras#20285); a frozen backbone must still
    # compute the same features as in inference: no dropout, no batch statistics.
    model = frozen_transfer_model()
    assert training_mode_spread(model) < 1e-5


def test_frozen_backbone_fit_sees_the_inference_features():
    # With a zero learning rate, the loss fit reports (training mode) is the loss
    # evaluate computes (inference mode) iff the frozen backbone is deterministic.
    model = frozen_transfer_model()
    model.compile(keras.optimizers.SGD(learning_rate=0.0), "sparse_categorical_crossentropy")
    y = np.arange(8) % 2
    fitted = model.fit(IMAGES, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    evaluated = model.evaluate(IMAGES, y, batch_size=8, verbose=0)
    assert fitted.history["loss"][0] == pytest.approx(evaluated, abs=1e-5)


def test_unfreeze_top_restores_dropout_in_the_unfrozen_blocks_only():
    model = frozen_transfer_model()
    inner = backbones.backbone_of(model)
    backbones.unfreeze_top(inner, 1)  # the dense block: no dropout in it
    assert training_mode_spread(model) < 1e-5
    backbones.unfreeze_top(inner, 2)  # the third convolution block ends with Dropout(0.25)
    assert training_mode_spread(model) > 1e-3
    blocks = backbones.backbone_blocks(inner)
    dropping = [
        layer.trainable for block in blocks for layer in block if isinstance(layer, layers.Dropout)
    ]
    assert dropping == [False, False, True]
    backbones.freeze(inner)
    assert training_mode_spread(model) < 1e-5


def test_freezable_dropout_is_dropout_until_frozen():
    x = np.ones((4, 64), dtype="float32")
    plain = layers.Dropout(0.5, seed=3)
    freezable = backbones.FreezableDropout(0.5, seed=3)
    # trainable: the same masks as keras Dropout with the same seed
    np.testing.assert_array_equal(
        np.asarray(freezable(x, training=True)), np.asarray(plain(x, training=True))
    )
    freezable.trainable = False
    np.testing.assert_array_equal(np.asarray(freezable(x, training=True)), x)
    assert not backbones.FreezableDropout.from_config(freezable.get_config()).trainable


def test_frozen_features_survive_copies_and_saving(tmp_path):
    model = frozen_transfer_model()
    inner = backbones.backbone_of(model)
    copied = backbones.copy_model(model)
    assert training_mode_spread(copied) < 1e-5
    model.save(tmp_path / "frozen.keras")
    loaded = keras.models.load_model(tmp_path / "frozen.keras")
    np.testing.assert_allclose(
        np.asarray(loaded(IMAGES, training=True)), np.asarray(model(IMAGES)), atol=1e-5
    )
    backbones.unfreeze_top(backbones.backbone_of(loaded), 4)
    assert training_mode_spread(loaded) > 1e-3, "the loaded model can be unfrozen"
    # a partly unfrozen backbone is copied with its per-layer flags
    backbones.unfreeze_top(inner, 2)
    copied = backbones.copy_model(model)
    flags = [layer.trainable for layer in backbones.backbone_of(copied).layers]
    assert flags == [layer.trainable for layer in inner.layers]
    assert training_mode_spread(copied) > 1e-3


def test_copy_model_keeps_the_flags_of_a_frozen_nested_backbone():
    # Model.trainable = value passes value down to every layer; copying a trainable
    # model must not thereby unfreeze its frozen or partly frozen backbone.
    model = backbones.with_new_head(backbones.backbone_of(backbones.backbone_classifier(3)), 2)
    inner = backbones.backbone_of(model)
    backbones.unfreeze_top(inner, 2)  # partly frozen, batch normalization frozen throughout
    expected = [layer.trainable for layer in inner.layers]
    assert model.trainable and inner.trainable and any(expected) and not all(expected)
    copied = backbones.copy_model(model)
    assert copied.trainable and backbones.backbone_of(copied).trainable
    assert [layer.trainable for layer in backbones.backbone_of(copied).layers] == expected
    assert len(copied.trainable_weights) == len(model.trainable_weights)
    # nested one level deeper: a model holding the whole transfer model
    outer = keras.Sequential([keras.Input((28, 28, 1)), model], name="outer")
    deep = backbones.backbone_of(backbones.backbone_of(backbones.copy_model(outer)))
    assert [layer.trainable for layer in deep.layers] == expected
    # wholly frozen backbone in a trainable model: only the head trains
    backbones.freeze(inner)
    copied = backbones.copy_model(model)
    assert copied.trainable and not backbones.backbone_of(copied).trainable
    assert len(copied.trainable_weights) == len(model.trainable_weights) == 2
    # the restoration itself, whatever the backend: after an assignment that reaches
    # every layer, the flags are those of the source again
    copied.trainable = False
    copied.trainable = True
    assert all(layer.trainable for layer in backbones.backbone_of(copied).layers)
    backbones._copy_trainable_flags(model, copied)
    assert not any(layer.trainable for layer in backbones.backbone_of(copied).layers)
    assert len(copied.trainable_weights) == 2


def test_plain_keras_dropout_is_made_freezable_by_copying():
    plain = keras.Sequential(
        [keras.Input((28, 28, 1)), layers.Flatten(), layers.Dense(16), layers.Dropout(0.5)],
        name="plain",
    )
    model = frozen_transfer_model(plain)  # with_new_head copies the backbone
    inner = backbones.backbone_of(model)
    assert isinstance(inner.layers[-1], backbones.FreezableDropout)
    assert inner.layers[-1].get_config()["rate"] == 0.5
    assert training_mode_spread(model) < 1e-5
    # in place, a plain Dropout would keep dropping: refused, nothing changed
    with pytest.raises(
        ValueError,
        match=r"freeze: model must not contain dropout layers .*'plain' contains \['dropout",
    ):
        backbones.freeze(plain)
    assert plain.trainable
    with pytest.raises(ValueError, match="unfreeze_top: backbone must not contain dropout"):
        backbones.unfreeze_top(plain, 0)
    backbones.freeze(keras.Sequential([keras.Input((4,)), layers.Dropout(0.0)]))  # drops nothing


# ---------------------------------------------------------------- keras.applications


def test_applications_backbone_adapts_small_grayscale_images():
    model = backbones.applications_backbone(
        "MobileNetV2", input_shape=(28, 28, 1), size=32, weights=None
    )
    assert model.output_shape == (None, 1280)
    names = [layer.name for layer in model.layers]
    assert "resize" in names and "gray_to_rgb" in names
    out = model(np.zeros((2, 28, 28, 1), dtype="float32"))
    assert tuple(out.shape) == (2, 1280)
    head = backbones.with_new_head(model, 3, copy=False)
    assert head.output_shape == (None, 3)
    with pytest.raises(ValueError, match="pass backbone_of"):
        backbones.unfreeze_top(model, 1)  # the application is nested in the adapter


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"name": "AlexNet"}, ValueError, "name must be one of .*got 'AlexNet'"),
        (
            {"input_shape": (28, 28, 2)},
            ValueError,
            r"input_shape must be \(height, width, 1 or 3 channels\)",
        ),
        ({"size": 16}, ValueError, "size must be an integer >= 32"),
        ({"size": 96.0}, TypeError, "size must be an integer"),
        ({"weights": "cifar"}, ValueError, r"weights must be one of \(None, 'imagenet'\)"),
    ],
)
def test_applications_backbone_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        backbones.applications_backbone(**kwargs)


def test_imagenet_weights_unavailable_gives_a_clear_error(monkeypatch, tmp_path):
    from keras.src.utils import file_utils

    def offline(fname=None, origin=None, **kwargs):
        raise Exception(
            f"URL fetch failure on {origin}: None -- "
            "[Errno -3] Temporary failure in name resolution"
        )

    monkeypatch.setattr(file_utils, "get_file", offline)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(backbones.WeightsUnavailableError) as info:
        backbones.applications_backbone("MobileNetV2", size=96, weights="imagenet")
    message = str(info.value)
    assert "could not be downloaded" in message
    assert "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5" in message
    assert str(tmp_path / "models") in message
    assert "weights=None" in message
