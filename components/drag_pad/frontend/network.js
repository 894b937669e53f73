// The VAE's networks in plain JavaScript: runs any spec that vae/export.py writes.
//
// The drag pad decodes on every pointer move, so a round trip to Python (100 ms or
// more) is out; TensorFlow.js would be 1 MB of library for five layers, so the few
// layer types the exporter admits are written out here instead. The interpreter is
// generic: it reads layer types, shapes, strides, padding and activations from the
// spec, so a retrained model, another latent size or the encoder needs no change here.
//
// Layout: every tensor is row-major, images are [H, W, C] (channels last, like Keras),
// a Dense kernel is [in, out], a Conv2D kernel [kh, kw, in, out], a Conv2DTranspose
// kernel [kh, kw, out, in].
// Intermediate values are float64 (JavaScript's own numbers): the sums then round
// less than TensorFlow's float32 and stay well inside the 1e-4 parity budget.
//
// An ES module: the pad imports it, and so does the parity test in tests/test_export.py.
export const FORMAT = "vae-network/1";

const sigmoid = (v) => 1 / (1 + Math.exp(-v));

function tensor(weights, ref) {
  const n = ref.shape.reduce((a, b) => a * b, 1);
  if (ref.offset + n > weights.length) throw new Error("the weights are truncated");
  return weights.subarray(ref.offset, ref.offset + n);
}

function activate(buf, name) {
  if (name === "relu") {
    for (let i = 0; i < buf.length; i++) if (buf[i] < 0) buf[i] = 0;
  } else if (name === "sigmoid") {
    for (let i = 0; i < buf.length; i++) buf[i] = sigmoid(buf[i]);
  } else if (name !== "linear") {
    throw new Error("unsupported activation " + name);
  }
}

function denseLayer(spec, weights, inShape) {
  const nIn = inShape.reduce((a, b) => a * b, 1);
  const units = spec.units;
  const kernel = tensor(weights, spec.kernel);
  const bias = spec.bias ? tensor(weights, spec.bias) : null;
  if (spec.kernel.shape[0] !== nIn || spec.kernel.shape[1] !== units) {
    throw new Error("dense layer " + spec.name + " does not fit its input");
  }
  const out = new Float64Array(units);
  return {
    shape: [units],
    run(x) {
      for (let o = 0; o < units; o++) out[o] = bias ? bias[o] : 0;
      for (let i = 0; i < nIn; i++) {
        const v = x[i];
        if (v === 0) continue;
        const row = i * units;
        for (let o = 0; o < units; o++) out[o] += v * kernel[row + o];
      }
      activate(out, spec.activation);
      return out;
    },
  };
}

function reshapeLayer(spec, inShape) {
  const n = inShape.reduce((a, b) => a * b, 1);
  const shape = spec.target_shape.map((d) => (d === -1 ? n : d));
  if (shape.reduce((a, b) => a * b, 1) !== n) {
    throw new Error("reshape " + spec.name + " does not fit its input");
  }
  return { shape: shape, run: (x) => x }; // row-major data needs no copy
}

function activationLayer(spec, inShape) {
  return {
    shape: inShape,
    run(x) {
      const out = Float64Array.from(x);
      activate(out, spec.activation);
      return out;
    },
  };
}

// out[y, x, o] = bias[o] + sum over (a, b, c) of in[y*sh + a - padTop, x*sw + b - padLeft, c]
// * K[a, b, c, o], zero outside the image: Keras' Conv2D (a cross-correlation). Keras'
// kernel is already [a, b, c, o], so the inner loop walks it and the output pixel
// contiguously; zero inputs (ReLU's, a binary image's background) are skipped.
function conv2dLayer(spec, weights, inShape) {
  const [hIn, wIn, cIn] = inShape;
  const [kh, kw] = spec.kernel_size;
  const [sh, sw] = spec.strides;
  const [padTop, padLeft] = spec.pad_before;
  const [hOut, wOut] = spec.output_shape;
  const f = spec.filters;
  if (spec.input_shape[0] !== hIn || spec.input_shape[1] !== wIn) {
    throw new Error("conv2d " + spec.name + " does not fit its input");
  }
  const [kh2, kw2, c2, f2] = spec.kernel.shape;
  if (kh2 !== kh || kw2 !== kw || c2 !== cIn || f2 !== f) {
    throw new Error("conv2d " + spec.name + " kernel does not fit");
  }
  const k = Float64Array.from(tensor(weights, spec.kernel));
  const bias = spec.bias ? tensor(weights, spec.bias) : null;
  const out = new Float64Array(hOut * wOut * f);
  return {
    shape: [hOut, wOut, f],
    run(x) {
      for (let y = 0; y < hOut; y++) {
        for (let xo = 0; xo < wOut; xo++) {
          const outBase = (y * wOut + xo) * f;
          for (let o = 0; o < f; o++) out[outBase + o] = bias ? bias[o] : 0;
          for (let a = 0; a < kh; a++) {
            const i = y * sh + a - padTop;
            if (i < 0 || i >= hIn) continue;
            for (let b = 0; b < kw; b++) {
              const j = xo * sw + b - padLeft;
              if (j < 0 || j >= wIn) continue;
              const inBase = (i * wIn + j) * cIn;
              const kBase = (a * kw + b) * cIn * f;
              for (let c = 0; c < cIn; c++) {
                const v = x[inBase + c];
                if (v === 0) continue;
                const kc = kBase + c * f;
                for (let o = 0; o < f; o++) out[outBase + o] += v * k[kc + o];
              }
            }
          }
        }
      }
      activate(out, spec.activation);
      return out;
    },
  };
}

// out[y, x, o] = bias[o] + sum over (i, j, a, b, c) with y = i*sh + a - padTop and
// x = j*sw + b - padLeft of in[i, j, c] * K[a, b, o, c]: the gradient of a strided
// convolution, scattered from each input pixel. ReLU leaves many inputs at zero, and
// scattering skips them; the kernel is reordered to [a, b, c, o] once, so the inner
// loop walks both the kernel and the output contiguously.
function conv2dTransposeLayer(spec, weights, inShape) {
  const [hIn, wIn, cIn] = inShape;
  const [kh, kw] = spec.kernel_size;
  const [sh, sw] = spec.strides;
  const [padTop, padLeft] = spec.pad_before;
  const [hOut, wOut] = spec.output_shape;
  const f = spec.filters;
  if (spec.input_shape[0] !== hIn || spec.input_shape[1] !== wIn) {
    throw new Error("conv2d_transpose " + spec.name + " does not fit its input");
  }
  const k = tensor(weights, spec.kernel);
  const [kh2, kw2, f2, c2] = spec.kernel.shape;
  if (kh2 !== kh || kw2 !== kw || f2 !== f || c2 !== cIn) {
    throw new Error("conv2d_transpose " + spec.name + " kernel does not fit");
  }
  const kr = new Float64Array(kh * kw * cIn * f); // [a, b, c, o]
  for (let a = 0; a < kh; a++)
    for (let b = 0; b < kw; b++)
      for (let o = 0; o < f; o++)
        for (let c = 0; c < cIn; c++)
          kr[((a * kw + b) * cIn + c) * f + o] = k[((a * kw + b) * f + o) * cIn + c];
  const bias = spec.bias ? tensor(weights, spec.bias) : null;
  const out = new Float64Array(hOut * wOut * f);
  return {
    shape: [hOut, wOut, f],
    run(x) {
      for (let p = 0; p < hOut * wOut; p++)
        for (let o = 0; o < f; o++) out[p * f + o] = bias ? bias[o] : 0;
      for (let i = 0; i < hIn; i++) {
        for (let j = 0; j < wIn; j++) {
          const inBase = (i * wIn + j) * cIn;
          for (let a = 0; a < kh; a++) {
            const y = i * sh + a - padTop;
            if (y < 0 || y >= hOut) continue;
            for (let b = 0; b < kw; b++) {
              const xo = j * sw + b - padLeft;
              if (xo < 0 || xo >= wOut) continue;
              const outBase = (y * wOut + xo) * f;
              const kBase = (a * kw + b) * cIn * f;
              // Four input channels per pass: one read and one write of the output
              // row serve four multiply-adds (a third faster than one at a time).
              let c = 0;
              for (; c + 3 < cIn; c += 4) {
                const v0 = x[inBase + c];
                const v1 = x[inBase + c + 1];
                const v2 = x[inBase + c + 2];
                const v3 = x[inBase + c + 3];
                if (v0 === 0 && v1 === 0 && v2 === 0 && v3 === 0) continue;
                const k0 = kBase + c * f;
                const k1 = k0 + f;
                const k2 = k1 + f;
                const k3 = k2 + f;
                for (let o = 0; o < f; o++) {
                  out[outBase + o] +=
                    v0 * kr[k0 + o] + v1 * kr[k1 + o] + v2 * kr[k2 + o] + v3 * kr[k3 + o];
                }
              }
              for (; c < cIn; c++) {
                const v = x[inBase + c];
                if (v === 0) continue;
                const kc = kBase + c * f;
                for (let o = 0; o < f; o++) out[outBase + o] += v * kr[kc + o];
              }
            }
          }
        }
      }
      activate(out, spec.activation);
      return out;
    },
  };
}

const size = (shape) => shape.reduce((a, b) => a * b, 1);
const softplus = (v) => (v > 0 ? v + Math.log1p(Math.exp(-v)) : Math.log1p(Math.exp(v)));

function buildLayers(spec, weights) {
  let shape = spec.input_shape.slice();
  const layers = spec.layers.map((l) => {
    let layer;
    if (l.type === "dense") layer = denseLayer(l, weights, shape);
    else if (l.type === "reshape") layer = reshapeLayer(l, shape);
    else if (l.type === "activation") layer = activationLayer(l, shape);
    else if (l.type === "conv2d") layer = conv2dLayer(l, weights, shape);
    else if (l.type === "conv2d_transpose") layer = conv2dTransposeLayer(l, weights, shape);
    else throw new Error("unsupported layer type " + l.type);
    shape = layer.shape;
    return layer;
  });
  if (shape.join(",") !== spec.output_shape.join(",")) {
    throw new Error(
      spec.network + " output " + shape + " does not match the spec's " + spec.output_shape,
    );
  }
  return layers;
}

// The spec's head decides what the object offers: decode() for a sigmoid head (the
// decoder), encode() for a gaussian head (the encoder).
export function fromSpec(spec, buffer) {
  if (!spec || spec.format !== FORMAT) {
    throw new Error("not a " + FORMAT + " spec");
  }
  const weights = buffer instanceof Float32Array ? buffer : new Float32Array(buffer);
  const layers = buildLayers(spec, weights);
  const input = new Float64Array(size(spec.input_shape));
  const forward = (xIn) => {
    if (xIn.length !== input.length) {
      throw new Error("the " + spec.network + " needs " + input.length + " numbers");
    }
    for (let i = 0; i < input.length; i++) input[i] = xIn[i];
    let h = input;
    for (const layer of layers) h = layer.run(h);
    return h;
  };
  const J = spec.latent_dim;
  const base = {
    network: spec.network,
    latentDim: J,
    inputShape: spec.input_shape.slice(),
    outputShape: spec.output_shape.slice(),
  };
  const head = spec.head ? spec.head.type : undefined;
  if (head === "sigmoid") {
    const n = size(spec.output_shape);
    const probs = new Float32Array(n);
    return {
      ...base,
      // z: J numbers -> H*W*C pixel probabilities (the Bernoulli mean), row-major HWC.
      // The returned array is reused by the next call; copy it to keep it.
      decode(z) {
        const h = forward(z);
        for (let i = 0; i < n; i++) probs[i] = sigmoid(h[i]);
        return probs;
      },
    };
  }
  if (head === "gaussian") {
    const minStd = spec.head.min_std;
    // "log_var": the second half is z_log_var itself (the Keras examples' encoders).
    const logVar = (spec.head.sigma || "softplus") === "log_var";
    if (!logVar && spec.head.sigma && spec.head.sigma !== "softplus") {
      throw new Error("unsupported sigma " + spec.head.sigma);
    }
    return {
      ...base,
      // x: H*W*C pixel values, row-major HWC -> { zMean, zLogVar }, J numbers each:
      // what VAE.encode returns, with sigma = softplus(raw) + min_std and
      // zLogVar = 2 log sigma, or zLogVar = raw for a "log_var" head. Fresh arrays on
      // every call.
      encode(x) {
        const h = forward(x);
        const zMean = new Float64Array(J);
        const zLogVar = new Float64Array(J);
        for (let i = 0; i < J; i++) {
          zMean[i] = h[i];
          zLogVar[i] = logVar ? h[J + i] : 2 * Math.log(softplus(h[J + i]) + minStd);
        }
        return { zMean: zMean, zLogVar: zLogVar };
      },
    };
  }
  throw new Error("unsupported head " + head);
}

export async function load(jsonUrl, binUrl) {
  const [specResp, binResp] = await Promise.all([fetch(jsonUrl), fetch(binUrl)]);
  if (!specResp.ok || !binResp.ok) throw new Error("could not fetch the network");
  return fromSpec(await specResp.json(), await binResp.arrayBuffer());
}
