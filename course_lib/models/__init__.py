"""Keras models the chapters build, train and take apart.

- ``course_lib.models.cnn``: the lecture notes' family, described once
  (``CNNSpec``), and the notes' network (``notes_cnn``);
- ``course_lib.models.small``: a two-block CNN (chapters "Convolution" and
  "Pooling") and MobileNet-style models ("Depthwise separable convolution");
- ``course_lib.models.initializers``: the signal's size through a network at
  initialization, and depthwise kernels initialized with the right fan-in;
- ``course_lib.models.macs``: multiply-adds of a built model;
- ``course_lib.models.backbones``: backbones to transfer, and the surgery
  that freezes, re-heads and fine-tunes them ("Transfer learning").

Everything is importable from ``course_lib.models``.
"""

from course_lib.models.backbones import (
    APPLICATIONS,
    BACKBONE,
    BACKBONE_SPEC,
    FreezableDropout,
    WeightsUnavailableError,
    applications_backbone,
    backbone_blocks,
    backbone_classifier,
    backbone_of,
    copy_model,
    freeze,
    keras_models_dir,
    unfreeze_top,
    with_new_head,
)
from course_lib.models.cnn import (
    BN_POSITIONS,
    CONV_KINDS,
    HEADS,
    NOTES_CNN_PARAMS,
    NOTES_SPEC,
    CNNSpec,
    notes_cnn,
)
from course_lib.models.initializers import DEPTHWISE_HE_NORMAL, depthwise_he_normal, layer_rms
from course_lib.models.macs import count_macs, layer_macs
from course_lib.models.small import (
    MOBILENET_BLOCKS,
    feature_extractor,
    mlp,
    mobilenet_block,
    mobilenet_cnn,
    small_cnn,
)

__all__ = [
    "CNNSpec",
    "CONV_KINDS",
    "HEADS",
    "BN_POSITIONS",
    "NOTES_SPEC",
    "NOTES_CNN_PARAMS",
    "notes_cnn",
    "DEPTHWISE_HE_NORMAL",
    "depthwise_he_normal",
    "layer_rms",
    "small_cnn",
    "mlp",
    "feature_extractor",
    "mobilenet_block",
    "mobilenet_cnn",
    "MOBILENET_BLOCKS",
    "layer_macs",
    "count_macs",
    "BACKBONE",
    "BACKBONE_SPEC",
    "FreezableDropout",
    "backbone_classifier",
    "copy_model",
    "freeze",
    "with_new_head",
    "backbone_of",
    "backbone_blocks",
    "unfreeze_top",
    "APPLICATIONS",
    "WeightsUnavailableError",
    "keras_models_dir",
    "applications_backbone",
]
