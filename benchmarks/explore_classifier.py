"""Explore training recipes for the lecture notes' network (chapter "A CNN classifier").

Not a chapter: a way to see, over seeds and on the validation split only, how long the
notes' SGD stall lasts under each initialization, and how validation accuracy grows with
the epochs of each recipe. Meant for a GPU machine (see ../shared/gpu/README.md), one
process per (recipe, seed); prints one JSON line per run and writes it under $OUT.

Usage: ``python benchmarks/explore_classifier.py RECIPE SEED EPOCHS [TRAIN_SIZE]``
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

import keras

import course_lib  # noqa: F401  (first: quiet TensorFlow where it is installed)
from course_lib import data, models

RECIPES = {
    # the stall: plain SGD 0.01, batch 32, no batch norm
    "notes": dict(kind="sgd", batch=32, init="glorot_uniform", dw=None),
    "he": dict(kind="sgd", batch=32, init="he_normal", dw=None),
    "he_dw": dict(kind="sgd", batch=32, init="he_normal", dw=models.DEPTHWISE_HE_NORMAL),
    "glorot_dw": dict(kind="sgd", batch=32, init="glorot_uniform", dw=models.DEPTHWISE_HE_NORMAL),
    "momentum": dict(kind="momentum", batch=32, init="glorot_uniform", dw=None),
    "adam": dict(kind="adam", batch=32, init="glorot_uniform", dw=None),
    # final recipes: batch norm, dropout, Adam with cosine decay
    "bn_adam_b64": dict(kind="final", batch=64, init="he_normal", dw=None),
    "bn_adam_b128": dict(kind="final", batch=128, init="he_normal", dw=None),
    "bn_adam_b256": dict(kind="final", batch=256, init="he_normal", dw=None, lr=2e-3),
    "mlp": dict(kind="mlp", batch=64),
}


def main(recipe: str, seed: int, epochs: int, train_size: int = 55_000) -> dict:
    r = RECIPES[recipe]
    splits = data.standardize(data.load_splits())
    train = splits.train.take(train_size)
    keras.utils.set_random_seed(seed)
    steps = epochs * math.ceil(len(train) / r["batch"])
    if r["kind"] == "mlp":
        model = models.mlp(dropout=0.2, seed=seed)
        opt = keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(1e-3, steps))
    elif r["kind"] == "final":
        model = models.notes_cnn(
            batch_norm=True,
            block_dropout=0.25,
            dropout=0.5,
            kernel_initializer=r["init"],
            seed=seed,
        )
        opt = keras.optimizers.Adam(
            keras.optimizers.schedules.CosineDecay(r.get("lr", 1e-3), steps)
        )
    else:
        model = models.notes_cnn(
            kernel_initializer=r["init"], depthwise_initializer=r["dw"], seed=seed
        )
        opt = {
            "sgd": lambda: keras.optimizers.SGD(),
            "momentum": lambda: keras.optimizers.SGD(momentum=0.9),
            "adam": lambda: keras.optimizers.Adam(),
        }[r["kind"]]()
    model.compile(opt, "sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    history = model.fit(
        train.x,
        train.y,
        batch_size=r["batch"],
        epochs=epochs,
        validation_data=(splits.valid.x, splits.valid.y),
        verbose=0,
    )
    result = {
        "recipe": recipe,
        "seed": seed,
        "epochs": epochs,
        "train_size": len(train),
        "seconds": round(time.perf_counter() - start, 1),
        "loss": [round(v, 4) for v in history.history["loss"]],
        "val_accuracy": [round(v, 4) for v in history.history["val_accuracy"]],
        "rms": models.layer_rms(model, splits.valid.x[:256]).round(6).to_dict()
        if r["kind"] not in ("mlp", "final")
        else None,
    }
    out = Path(os.environ.get("OUT", "."))
    (out / f"{recipe}_{seed}.json").write_text(json.dumps(result))
    print(json.dumps({k: result[k] for k in ("recipe", "seed", "seconds", "val_accuracy")}))
    return result


if __name__ == "__main__":
    args = sys.argv[1:]
    main(args[0], int(args[1]), int(args[2]), *(int(a) for a in args[3:]))
