"""The decoder's stride-2 Conv2DTranspose as a sub-pixel convolution: measured, not adopted.

A stride-2, 3x3, "same" transposed convolution equals a 2x2 convolution to four times
the channels (one set per output phase) followed by ``depth_to_space`` (Shi et al.,
2016), with Keras's own variables and layout (kernel [kh, kw, out, in], bias [out]).
This script checks that the two give the same outputs (within 1e-5) and gradients on
the default decoder's layers, then times the whole default model both ways,
interleaved in one process: training (``fit``, batch 128) and decoding (batch 128 and
1,024). Prints one JSON line.

    python bench/subpixel_deconv.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from unittest import mock

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from vae.config import VAEConfig  # noqa: E402
from vae.model import build_vae  # noqa: E402

# For output phase a (0 = even row, 1 = odd row) and tap t of the 2x2 kernel (t = 0
# reads the input row before, t = 1 the row itself): the 3x3 kernel row it uses.
# Row 3 is a zero row: the odd phase reads one input row only. Derived from
# out[2m + a] = sum over k of in[(2m + a - k) / 2] w[k] for whole (2m + a - k) / 2,
# with TensorFlow's SAME padding of the transposed conv, which pads nothing before.
_PHASE_TAPS = ((2, 0), (3, 1))


class SubPixelConv2DTranspose(keras.layers.Conv2DTranspose):
    """A drop-in ``keras.layers.Conv2DTranspose``: the same weights and outputs."""

    @property
    def is_subpixel(self) -> bool:
        """True when this layer runs as a sub-pixel convolution."""
        return (
            self.data_format == "channels_last"
            and tuple(self.dilation_rate) == (1, 1)
            and self.output_padding is None
            and self.padding == "same"
            and tuple(self.kernel_size) == (3, 3)
            and tuple(self.strides) == (2, 2)
        )

    def call(self, inputs):
        if not self.is_subpixel:
            return super().call(inputs)
        kernel = tf.cast(self.kernel, self.compute_dtype)  # [3, 3, out, in]
        y = tf.nn.depth_to_space(self._phase_conv(inputs, kernel), 2)
        if self.use_bias:
            y = tf.nn.bias_add(y, tf.cast(self.bias, self.compute_dtype))
        return self.activation(y) if self.activation is not None else y

    def _phase_conv(self, inputs, kernel):
        """[N, H, W, in] -> [N, H, W, 4 out], channels ordered (row phase, col phase, out)."""
        out_ch, in_ch = self.filters, inputs.shape[-1]
        w = tf.pad(tf.transpose(kernel, [0, 1, 3, 2]), [[0, 1], [0, 1], [0, 0], [0, 0]])
        w = tf.gather(w, _PHASE_TAPS, axis=0)  # [a, t_h, 4, in, out]
        w = tf.gather(w, _PHASE_TAPS, axis=2)  # [a, t_h, b, t_w, in, out]
        w = tf.reshape(tf.transpose(w, [1, 3, 4, 0, 2, 5]), [2, 2, in_ch, 4 * out_ch])
        padded = tf.pad(inputs, [[0, 0], [1, 0], [1, 0], [0, 0]])
        return tf.nn.conv2d(padded, w, strides=1, padding="VALID")


def check_equal() -> float:
    """Largest |difference| of outputs and gradients over the default decoder's two layers."""
    worst = 0.0
    for in_ch, out_ch, side in ((32, 64, 7), (64, 32, 14)):
        x = tf.random.stateless_normal([3, side, side, in_ch], seed=[1, 2])
        ref = keras.layers.Conv2DTranspose(out_ch, 3, strides=2, padding="same", activation="relu")
        ours = SubPixelConv2DTranspose(out_ch, 3, strides=2, padding="same", activation="relu")
        ref(x), ours(x)
        for a, b in zip(ref.weights, ours.weights, strict=True):
            b.assign(a)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            y_ref, y_ours = ref(x), ours(x)
            l_ref, l_ours = tf.reduce_sum(tf.sin(y_ref)), tf.reduce_sum(tf.sin(y_ours))
        pairs = [(y_ref, y_ours)] + list(
            zip(
                tape.gradient(l_ref, [x, ref.kernel]),
                tape.gradient(l_ours, [x, ours.kernel]),
                strict=True,
            )
        )
        worst = max(worst, *(float(tf.reduce_max(tf.abs(a - b))) for a, b in pairs))
    return worst


def make(layer_class, x: np.ndarray):
    with mock.patch.object(keras.layers, "Conv2DTranspose", layer_class):
        model = build_vae(VAEConfig())
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(x[:256], batch_size=128, epochs=1, verbose=0)  # trace
    return model


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    diff = check_equal()
    assert diff < 1e-4, f"the sub-pixel layer differs from Keras's by {diff}"
    x = (np.random.default_rng(0).random((128 * 30, 28, 28, 1)) < 0.3).astype(np.float32)
    plain = keras.layers.Conv2DTranspose
    models = {"keras": make(plain, x), "subpixel": make(_stride2_only(plain), x)}
    rates = {k: {"train": [], "decode128": [], "decode1024": []} for k in models}
    load = [os.getloadavg()[0]]
    for _ in range(args.rounds):
        for name, model in models.items():
            start = time.perf_counter()
            model.fit(x, batch_size=128, epochs=1, verbose=0)
            rates[name]["train"].append(len(x) / (time.perf_counter() - start))
            for batch in (128, 1024):
                z = tf.random.normal([batch, 2])
                model.decode_fn(z)
                start = time.perf_counter()
                for _ in range(5):
                    model.decode_fn(z)
                rates[name][f"decode{batch}"].append(5 * batch / (time.perf_counter() - start))
    load.append(os.getloadavg()[0])
    median = {k: {m: round(float(np.median(v))) for m, v in r.items()} for k, r in rates.items()}
    ratio = {m: round(median["subpixel"][m] / median["keras"][m], 2) for m in median["keras"]}
    print(json.dumps({"max_abs_diff": diff, "img_per_s": median, "subpixel_over_keras": ratio,
                      "load_average": [round(v, 1) for v in load]}))  # fmt: skip


def _stride2_only(plain):
    """Keras's class for every layer but the stride-2 3x3 ones, which become sub-pixel."""

    def make_layer(filters, kernel_size, strides=1, **kwargs):
        if strides == 2 and kernel_size == 3 and kwargs.get("padding") == "same":
            return SubPixelConv2DTranspose(filters, kernel_size, strides=strides, **kwargs)
        return plain(filters, kernel_size, strides=strides, **kwargs)

    return make_layer


if __name__ == "__main__":
    main()
