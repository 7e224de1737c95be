"""How big a network's signal is at initialization, and a depthwise kernel initialized right.

Defined in chapter "A CNN classifier".

Keras computes the fan-in of every convolution kernel of shape
``(k, k, C_in, C_out)`` as ``k * k * C_in``. That is right for a ``Conv2D``, whose
outputs each sum over all input channels, but a ``DepthwiseConv2D`` (and the
depthwise half of a ``SeparableConv2D``) has kernels of shape ``(k, k, C, 1)``
whose outputs each see one channel: ``k * k`` inputs. Its fan-in is counted ``C``
times too large, so every variance-scaling initializer ("glorot_uniform",
"he_normal", ...) starts a depthwise kernel about ``sqrt(C)`` times too small.
``depthwise_he_normal`` counts the fan-in per channel; ``layer_rms`` measures
what either does to the signal, layer by layer.
"""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd

from course_lib import _checks

__all__ = ["DEPTHWISE_HE_NORMAL", "depthwise_he_normal", "layer_rms"]

DEPTHWISE_HE_NORMAL = "depthwise_he_normal"
"""The name ``CNNSpec(depthwise_initializer=...)`` takes for ``depthwise_he_normal()``."""


def depthwise_he_normal(seed: int | None = None) -> keras.initializers.HeNormal:
    """He initialization for depthwise kernels, with the fan-in counted per channel.

    Defined in chapter "A CNN classifier".

    A depthwise kernel of shape ``(k, k, C, m)`` is drawn from a truncated
    normal with standard deviation ``sqrt(2 / (k * k))``: each output sums
    ``k * k`` inputs of one channel. Keras' "he_normal" divides by
    ``k * k * C`` instead. This is Keras' own ``HeNormal`` with the axes of the
    fans given (``input_axes=[0, 1]``, ``output_axes=[0, 1, 3]``), so a model
    that uses it saves and loads like any other.

    Parameters
    ----------
    seed : int, optional
        Seed of the random draw; None: not reproducible.

    Examples
    --------
    >>> import numpy as np
    >>> kernel = depthwise_he_normal(seed=0)((3, 3, 64, 1))
    >>> round(float(np.std(kernel)), 1)  # sqrt(2 / 9) = 0.47; Keras' he_normal: 0.06
    0.5
    """
    seed = _checks.check_seed(seed, "depthwise_he_normal")
    return keras.initializers.HeNormal(seed=seed, input_axes=[0, 1], output_axes=[0, 1, 3])


def layer_rms(model: keras.Model, x: np.ndarray) -> pd.Series:
    """Root mean square of each layer's output on the images ``x``.

    Defined in chapter "A CNN classifier".

    The size of the signal as it travels through the network: a value that
    shrinks from layer to layer means the last layers see almost nothing of
    the input, and the gradients flowing back shrink the same way.

    Parameters
    ----------
    model : keras.Model
        A built model with one input, such as ``CNNSpec.build()``.
    x : np.ndarray
        A batch of inputs the model accepts, e.g. 256 standardized images.

    Returns
    -------
    pandas.Series
        Indexed by layer name (in order), the RMS of the layer's output over
        the whole batch; named "rms".

    Raises
    ------
    TypeError
        If ``model`` is not a Keras model.
    ValueError
        If ``x`` does not match the model's input shape.
    """
    fn = "layer_rms"
    if not isinstance(model, keras.Model):
        raise TypeError(f"{fn}: model must be a keras.Model; got {type(model).__name__}.")
    x = np.asarray(x, dtype=np.float32)
    expected = tuple(model.inputs[0].shape[1:])
    if x.ndim != len(expected) + 1 or any(
        e is not None and e != s for e, s in zip(expected, x.shape[1:], strict=True)
    ):
        raise ValueError(
            f"{fn}: x must be a batch of shape (N, {', '.join(map(str, expected))}) for this "
            f"model; got {x.shape}."
        )
    probe = keras.Model(model.inputs[0], [layer.output for layer in model.layers])
    outputs = probe(x, training=False)
    values = [float(np.sqrt(np.mean(np.square(keras.ops.convert_to_numpy(o))))) for o in outputs]
    return pd.Series(values, index=[layer.name for layer in model.layers], name="rms")
