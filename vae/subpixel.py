"""Keras's Conv2DTranspose, computed as an ordinary convolution.

On CPUs, TensorFlow runs a transposed convolution as the input gradient of a
convolution, which is several times slower per FLOP than a forward convolution. A
stride-2, 3x3, "same" transposed convolution equals a 2x2 convolution to four times
the channels (one set per output phase) followed by ``depth_to_space``, the
sub-pixel convolution of Shi et al. (2016). The layer keeps Keras's variables and their layout
(kernel [kh, kw, out, in], bias [out]), so checkpoints and the browser export
(which reads layers by class name) are unchanged; other settings fall back to
Keras's own computation (for stride 1 a flipped-kernel convolution measured slower
than Keras's, so it is left alone).
"""

from __future__ import annotations

import keras
import tensorflow as tf

# For output phase a (0 = even row, 1 = odd row) and tap t of the 2x2 kernel (t = 0
# reads the input row before, t = 1 the row itself): the 3x3 kernel row it uses.
# Row 3 is a zero row: the odd phase reads one input row only. Derived from
# out[2m + a] = sum over k of in[(2m + a - k) / 2] w[k] for whole (2m + a - k) / 2,
# with TensorFlow's SAME padding of the transposed conv, which pads nothing before.
_PHASE_TAPS = ((2, 0), (3, 1))


class Conv2DTranspose(keras.layers.Conv2DTranspose):
    """A drop-in ``keras.layers.Conv2DTranspose``; same weights, same outputs, faster."""

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
