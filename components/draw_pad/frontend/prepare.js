// The drawing -> a 28x28 digit centred as MNIST's were: the same steps, in the same
// order, as vae/digit.py's prepare_digit (polarity from the border, contrast stretch,
// noise floor, crop, LANCZOS into the 20x20 box, centre of mass at the field's centre),
// so the live encoding sees what the server would. Its constants come from Python
// (the `prep` argument), never from here. tests/test_browser_draw.py holds the two
// side by side on drawn shapes.

// Python's round(): halves go to the even neighbour (JavaScript's Math.round goes up).
export function roundHalfEven(v) {
  const f = Math.floor(v);
  const d = v - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

// The k-th smallest value (0-based) of a 256-bin histogram.
function kth(hist, k) {
  let seen = 0;
  for (let v = 0; v < 256; v++) {
    seen += hist[v];
    if (seen > k) return v;
  }
  return 255;
}

// numpy's percentile (linear interpolation) and median, exactly, on 8-bit values.
function percentile(hist, n, q) {
  const pos = (q / 100) * (n - 1);
  const lo = Math.floor(pos);
  const a = kth(hist, lo);
  const b = lo + 1 < n ? kth(hist, lo + 1) : a;
  return a + (pos - lo) * (b - a);
}

// PIL's LANCZOS (a = 3) filter and resampling coefficients (libImaging/Resample.c).
function sinc(x) {
  if (x === 0) return 1;
  x *= Math.PI;
  return Math.sin(x) / x;
}
const lanczos = (x) => (-3 <= x && x < 3 ? sinc(x) * sinc(x / 3) : 0);

function coefficients(inSize, outSize) {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = 3 * filterscale;
  const out = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    const k = new Float64Array(xmax);
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      k[x] = lanczos((x + xmin - center + 0.5) / filterscale);
      ww += k[x];
    }
    if (ww !== 0) for (let x = 0; x < xmax; x++) k[x] /= ww;
    out.push({ xmin: xmin, k: k });
  }
  return out;
}

// A float image [h, w] -> [outH, outW], as PIL resizes a mode "F" image: horizontal pass
// first, each pass summed in double and stored as float32.
function resizeLanczos(src, w, h, outW, outH) {
  let cur = src;
  let cw = w;
  if (outW !== w) {
    const cs = coefficients(w, outW);
    const tmp = new Float32Array(outW * h);
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < outW; xx++) {
        const { xmin, k } = cs[xx];
        let s = 0;
        for (let x = 0; x < k.length; x++) s += cur[y * cw + xmin + x] * k[x];
        tmp[y * outW + xx] = s;
      }
    }
    cur = tmp;
    cw = outW;
  }
  if (outH !== h) {
    const cs = coefficients(h, outH);
    const tmp = new Float32Array(cw * outH);
    for (let yy = 0; yy < outH; yy++) {
      const { xmin, k } = cs[yy];
      for (let x = 0; x < cw; x++) {
        let s = 0;
        for (let y = 0; y < k.length; y++) s += cur[(xmin + y) * cw + x] * k[y];
        tmp[yy * cw + x] = s;
      }
    }
    cur = tmp;
  }
  return cur;
}

// gray: 8-bit pixels [h, w], row-major; prep: vae/digit.py's constants (see
// components/draw_pad/__init__.py). Returns {image: Uint8Array [field * field]} or
// {reason} when there is no digit to see, as prepare_digit's NoDigitError would.
export function prepareDigit(gray, w, h, prep) {
  const n = w * h;
  const borderHist = new Uint32Array(256);
  let nb = 0;
  const addBorder = (v) => {
    borderHist[v]++;
    nb++;
  };
  for (let x = 0; x < w; x++) addBorder(gray[x]);
  for (let x = 0; x < w; x++) addBorder(gray[(h - 1) * w + x]);
  for (let y = 1; y < h - 1; y++) addBorder(gray[y * w]);
  for (let y = 1; y < h - 1; y++) addBorder(gray[y * w + w - 1]);
  let background = percentile(borderHist, nb, 50) / 255;
  // A light background is paper: the ink is the dark part.
  const invert = background > 0.5;
  if (invert) background = 1 - background;
  const hist = new Uint32Array(256);
  for (let i = 0; i < n; i++) hist[invert ? 255 - gray[i] : gray[i]]++;
  const peak =
    (n > prep.percentile_min_pixels ? percentile(hist, n, prep.peak_percentile) : kth(hist, n - 1)) /
    255;
  if (peak - background < prep.min_contrast) return { reason: "blank" };

  const ink = new Float32Array(n);
  let r0 = h, r1 = -1, c0 = w, c1 = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const g = (invert ? 255 - gray[y * w + x] : gray[y * w + x]) / 255;
      let v = Math.min(1, Math.max(0, (g - background) / (peak - background)));
      if (v < prep.noise_floor) v = 0;
      ink[y * w + x] = v;
      if (v > 0) {
        if (y < r0) r0 = y;
        if (y > r1) r1 = y;
        if (x < c0) c0 = x;
        if (x > c1) c1 = x;
      }
    }
  }
  const ch = r1 - r0 + 1;
  const cw = c1 - c0 + 1;
  const crop = new Float32Array(cw * ch);
  for (let y = 0; y < ch; y++) {
    for (let x = 0; x < cw; x++) crop[y * cw + x] = ink[(r0 + y) * w + c0 + x];
  }
  const scale = prep.box / Math.max(ch, cw);
  const bw = Math.max(1, roundHalfEven(cw * scale));
  const bh = Math.max(1, roundHalfEven(ch * scale));
  const box = resizeLanczos(crop, cw, ch, bw, bh);
  let top = 0;
  for (let i = 0; i < box.length; i++) {
    box[i] = Math.min(1, Math.max(0, box[i]));
    if (box[i] > top) top = box[i];
  }
  if (top <= 0) return { reason: "thin" };
  let mass = 0, mr = 0, mc = 0;
  for (let y = 0; y < bh; y++) {
    for (let x = 0; x < bw; x++) {
      const v = (box[y * bw + x] /= top);
      mass += v;
      mr += v * y;
      mc += v * x;
    }
  }
  const field = prep.field;
  const clamp = (v, hi) => Math.min(hi, Math.max(0, v));
  const y0 = clamp(roundHalfEven(field / 2 - mr / mass), field - bh);
  const x0 = clamp(roundHalfEven(field / 2 - mc / mass), field - bw);
  const image = new Uint8Array(field * field);
  for (let y = 0; y < bh; y++) {
    for (let x = 0; x < bw; x++) {
      image[(y0 + y) * field + x0 + x] = Math.trunc(box[y * bw + x] * 255 + 0.5);
    }
  }
  return { image: image };
}

// uint8 pixels -> the model's input, as vae/data.py's to_model_input: "bernoulli"
// binarizes (x / 255 > 0.5, i.e. x >= 128), "gaussian" scales to [0, 1].
export function toModelInput(image, decoder, out) {
  for (let i = 0; i < image.length; i++) {
    out[i] = decoder === "bernoulli" ? (image[i] >= 128 ? 1 : 0) : image[i] / 255;
  }
  return out;
}
