// Drawing pad: draw a digit; on every pointer move (at most once an animation frame)
// the drawing is prepared as MNIST digits were (prepare.js), encoded, its q(z|x) drawn
// on the latent plane and its mean decoded, all here: a Streamlit rerun per move would
// cost 100 ms or more. Python hears each stroke's end only.
//
// What tests and benchmarks read:
//   window.drawState = {ready, mu, logVar, sigma, probs, image, zoom, updates, pending, sent,
//                       error}
//     mu, logVar, sigma: the encoding on screen (arrays of J); probs: the reconstruction
//     (H*W*C); image: the prepared 28x28 digit (784 ints); zoom: the inset's factor;
//     updates: how many times the encoding was drawn; pending: a move is not drawn yet;
//     sent: how many values went to Python.
//   window.drawStats = {latencies, updateMs, prepMs, encodeMs, decodeMs}: ms from the first
//     pointer event of a frame to the end of that frame's drawing; the whole update's own
//     time (prepare, encode, decode, draw) and its steps'.
//   window.drawRaw() -> the drawing's 8-bit pixels (draw_side²), row-major.
//   window.drawPoint(fx, fy) -> {x, y}: client pixels of a point of the drawing area,
//     given as fractions of its width and height.
import { drawBase } from "../components.drag_pad.drag_pad/base_layer.js";
import { fmt2, minus } from "../components.drag_pad.drag_pad/format.js";
import { drawImage } from "../components.drag_pad.drag_pad/image.js";
import { drawLegend } from "../components.drag_pad.drag_pad/legend.js";
import { loadDecoder, loadPoints } from "../components.drag_pad.drag_pad/loading.js";
import { load } from "../components.drag_pad.drag_pad/network.js";
import { setComponentValue, setFrameHeight, start } from "../components.drag_pad.drag_pad/protocol.js";
import { applyTheme } from "../components.drag_pad.drag_pad/theme.js";
import { makeView } from "../components.drag_pad.drag_pad/view.js";
import { drawPosterior } from "./posterior_layer.js";
import { prepareDigit, toModelInput } from "./prepare.js";

const GAP = 20; // px between the columns (as in the CSS)
const SIDE_W = 160; // px: the figures' column beside the plane
const SIDE_NARROW = 118; // px: the same column on a phone, beside the drawing
const SKETCH_MAX = 280; // px on screen
const PLANE_MIN = 300; // px: a narrower frame puts the plane below the drawing
const PLANE_MAX = 520;
const PIC_WIDE = 112; // px: the reconstruction and input pictures (4x)
const PIC_NARROW = 84; // (3x)
const CAP = 5000;

const $ = (id) => document.getElementById(id);
const el = {
  pad: $("draw-pad"),
  sketch: $("sketch"),
  grid: $("grid"),
  clear: $("clear"),
  plane: $("plane"),
  base: $("base"),
  overlay: $("overlay"),
  image: $("image"),
  input: $("input"),
  inputCap: $("input-cap"),
  mu: $("mu-val"),
  sigma: $("sigma-val"),
  status: $("status"),
};

const drawState = {
  ready: false,
  mu: null,
  logVar: null,
  sigma: null,
  probs: null,
  image: null,
  zoom: null,
  updates: 0,
  pending: false,
  sent: 0,
  error: null,
};
const drawStats = { latencies: [], updateMs: [], prepMs: [], encodeMs: [], decodeMs: [] };
window.drawState = drawState;
window.drawStats = drawStats;

// The plane's state, shaped as the drag pad's base_layer.js and image.js expect.
const state = {
  args: null,
  theme: {},
  colors: null,
  view: null,
  points: null,
  imageData: null,
  mu: null,
  sigma: null,
  encoder: null,
  decoder: null,
  urls: "",
  sizeKey: "",
  side: 0, // the drawing's own pixels a side
  gray: null, // Uint8Array [side²], reused
  modelX: null, // Float32Array [784], reused
  stroke: null, // {id, last: [x, y]} while drawing
  pendingSince: null, // timeStamp of the first event not yet drawn
  frameQueued: false,
  seq: 0,
};

function record(list, v) {
  if (list.length >= CAP) list.shift();
  list.push(v);
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function fail(message) {
  drawState.error = message;
  el.status.textContent = message;
  el.status.classList.add("error");
}

// --- the drawing ----------------------------------------------------------------------
const sketchCtx = () => el.sketch.getContext("2d", { willReadFrequently: true });

function wipe() {
  const ctx = sketchCtx();
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, state.side, state.side);
}

function toSketch(e) {
  const r = el.sketch.getBoundingClientRect();
  return [((e.clientX - r.left) * state.side) / r.width, ((e.clientY - r.top) * state.side) / r.height];
}

function segment(a, b) {
  const ctx = sketchCtx();
  ctx.strokeStyle = "#fff";
  ctx.fillStyle = "#fff";
  ctx.lineWidth = state.args.brush;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.beginPath();
  if (a[0] === b[0] && a[1] === b[1]) {
    ctx.arc(a[0], a[1], state.args.brush / 2, 0, 2 * Math.PI);
    ctx.fill();
  } else {
    ctx.moveTo(a[0], a[1]);
    ctx.lineTo(b[0], b[1]);
    ctx.stroke();
  }
}

function drawGrid(size) {
  // The model's 28x28 cells, faintly, so a person sees how coarse the input is.
  const dpr = window.devicePixelRatio || 1;
  const field = state.args.prep.field;
  el.grid.width = el.grid.height = Math.round(size * dpr);
  el.grid.style.width = el.grid.style.height = size + "px";
  const ctx = el.grid.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.strokeStyle = "rgba(255, 255, 255, 0.09)";
  ctx.lineWidth = 1;
  ctx.beginPath();
  for (let i = 1; i < field; i++) {
    const v = Math.round((i * size) / field) + 0.5;
    ctx.moveTo(v, 0);
    ctx.lineTo(v, size);
    ctx.moveTo(0, v);
    ctx.lineTo(size, v);
  }
  ctx.stroke();
}

// --- one update: prepare, encode, decode, draw ----------------------------------------
function readGray() {
  const n = state.side * state.side;
  if (!state.gray || state.gray.length !== n) state.gray = new Uint8Array(n);
  const rgba = sketchCtx().getImageData(0, 0, state.side, state.side).data;
  for (let i = 0; i < n; i++) state.gray[i] = rgba[4 * i]; // white on black: R is the gray
  return state.gray;
}

function drawInput(x, field) {
  const ctx = el.input.getContext("2d");
  const img = ctx.createImageData(field, field);
  for (let i = 0; i < field * field; i++) {
    const v = x ? 255 * x[i] : 0;
    img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = v;
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

function update() {
  if (!state.encoder || !state.decoder) return;
  const a = state.args;
  const t0 = performance.now();
  const prep = prepareDigit(readGray(), state.side, state.side, a.prep);
  const t1 = performance.now();
  record(drawStats.prepMs, t1 - t0);
  const field = a.prep.field;
  if (!prep.image) {
    state.mu = state.sigma = null;
    Object.assign(drawState, { mu: null, logVar: null, sigma: null, probs: null, image: null, zoom: null });
    drawInput(null, field);
    el.image.getContext("2d").clearRect(0, 0, el.image.width, el.image.height);
    setText(el.mu, "–");
    setText(el.sigma, "–");
    drawPosterior(state, el.overlay, a.q_color);
    drawState.updates++;
    return;
  }
  if (!state.modelX) state.modelX = new Float32Array(field * field);
  const x = toModelInput(prep.image, a.model_input, state.modelX);
  const { zMean, zLogVar } = state.encoder.encode(x);
  const t2 = performance.now();
  const probs = state.decoder.decode(zMean);
  const t3 = performance.now();
  record(drawStats.encodeMs, t2 - t1);
  record(drawStats.decodeMs, t3 - t2);
  const sigma = Array.from(zLogVar, (v) => Math.exp(0.5 * v));
  state.mu = Array.from(zMean);
  state.sigma = sigma;
  drawImage(state, probs, state.decoder.outputShape);
  drawInput(x, field);
  const zoom = drawPosterior(state, el.overlay, a.q_color);
  const two = (v) => "(" + v.slice(0, 2).join(", ") + (v.length > 2 ? ", …" : "") + ")";
  setText(el.mu, two(state.mu.map(fmt2)));
  setText(el.sigma, two(sigma.map((v) => minus(v.toFixed(3)))));
  Object.assign(drawState, {
    mu: state.mu,
    logVar: Array.from(zLogVar),
    sigma: sigma,
    probs: Float32Array.from(probs),
    image: Array.from(prep.image),
    zoom: zoom,
  });
  drawState.updates++;
}

function frame() {
  state.frameQueued = false;
  if (state.pendingSince === null) return;
  const t0 = performance.now();
  update();
  record(drawStats.updateMs, performance.now() - t0);
  record(drawStats.latencies, performance.now() - state.pendingSince);
  state.pendingSince = null;
  drawState.pending = false;
}

function queue(timeStamp) {
  if (state.pendingSince === null) state.pendingSince = timeStamp;
  drawState.pending = true;
  if (!state.frameQueued) {
    state.frameQueued = true;
    requestAnimationFrame(frame);
  }
}

// The end of a stroke (or a clear): the prepared digit goes to Python, once.
function release() {
  update();
  state.pendingSince = null;
  drawState.pending = false;
  drawState.sent++;
  setComponentValue({ image: drawState.image, seq: ++state.seq });
}

function bindInput() {
  el.sketch.addEventListener("pointerdown", (e) => {
    if (!state.args || state.stroke || (e.pointerType === "mouse" && e.button !== 0)) return;
    e.preventDefault();
    el.sketch.setPointerCapture(e.pointerId);
    const p = toSketch(e);
    state.stroke = { id: e.pointerId, last: p };
    segment(p, p);
    queue(e.timeStamp);
  });
  el.sketch.addEventListener("pointermove", (e) => {
    if (!state.stroke || e.pointerId !== state.stroke.id) return;
    // A fast pen sends several positions a frame; all of them belong to the stroke.
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
    for (const ev of events.length ? events : [e]) {
      const p = toSketch(ev);
      segment(state.stroke.last, p);
      state.stroke.last = p;
    }
    queue(e.timeStamp);
  });
  const end = (e) => {
    if (!state.stroke || e.pointerId !== state.stroke.id) return;
    state.stroke = null;
    release();
  };
  el.sketch.addEventListener("pointerup", end);
  el.sketch.addEventListener("pointercancel", end);
  el.clear.addEventListener("click", () => {
    if (!state.args) return;
    wipe();
    release();
  });
}

// --- sizes, loading, Streamlit's renders ----------------------------------------------
function layout() {
  const width = Math.max(280, document.documentElement.clientWidth || window.innerWidth);
  const besideW = width - SKETCH_MAX - SIDE_W - 2 * GAP;
  const stacked = besideW < PLANE_MIN;
  const sketch = stacked ? Math.min(SKETCH_MAX, width - SIDE_NARROW - 12) : SKETCH_MAX;
  const size = stacked ? Math.min(width, PLANE_MAX) : Math.min(besideW, PLANE_MAX);
  const pic = stacked ? PIC_NARROW : PIC_WIDE;
  el.pad.classList.toggle("stacked", stacked);
  for (const c of [el.image, el.input]) c.style.width = c.style.height = pic + "px";
  document.getElementById("side").style.width = (stacked ? SIDE_NARROW : SIDE_W) + "px";
  document.getElementById("foot").style.width = stacked ? size + "px" : SIDE_W + "px";

  const key = [size, sketch, window.devicePixelRatio, JSON.stringify(state.args.extent)].join("|");
  if (key === state.sizeKey && state.view) return false;
  state.sizeKey = key;
  el.sketch.style.width = el.sketch.style.height = sketch + "px";
  document.getElementById("sketch-box").style.width = sketch + "px";
  document.getElementById("sketch-box").style.height = sketch + "px";
  el.clear.style.width = sketch + "px";
  drawGrid(sketch);
  const dpr = window.devicePixelRatio || 1;
  el.plane.style.width = el.plane.style.height = size + "px";
  for (const c of [el.base, el.overlay]) {
    c.width = c.height = Math.round(size * dpr);
    c.style.width = c.style.height = size + "px";
  }
  state.view = makeView(size, state.args.extent);
  return true;
}

let frameHeight = 0;
// The status line's text can change the pad's height: the frame follows it.
function sendHeight() {
  const h = Math.ceil(el.pad.getBoundingClientRect().height) + 6;
  if (h !== frameHeight) setFrameHeight((frameHeight = h));
}

function redraw() {
  drawBase(state);
  drawPosterior(state, el.overlay, state.args.q_color);
  sendHeight();
}

function showStatus() {
  if (drawState.error) return;
  const ms = drawStats.latencies.length ? drawStats.latencies[drawStats.latencies.length - 1] : null;
  setText(
    el.status,
    "Encoded in your browser on every stroke" + (ms === null ? "." : " · " + ms.toFixed(1) + " ms."),
  );
  if (state.args) sendHeight();
}

async function loadAll(a) {
  const [encoder, decoder, points] = await Promise.all([
    load(a.encoder_url + ".json", a.encoder_url + ".bin"),
    loadDecoder(a.decoder_url),
    loadPoints(a.points_url),
  ]);
  return { encoder, decoder, points };
}

function render(a, theme) {
  const first = !state.args;
  state.args = a;
  if (first || JSON.stringify(theme || {}) !== JSON.stringify(state.theme)) {
    state.theme = theme || {};
    applyTheme(state);
    state.sizeKey = "";
  }
  if (first) {
    state.side = a.draw_side;
    el.sketch.width = el.sketch.height = a.draw_side;
    wipe();
    el.input.width = el.input.height = a.prep.field;
    drawLegend(a);
    el.inputCap.textContent = a.model_input === "bernoulli" ? "model input (binarized)" : "model input";
  }
  const urls = [a.encoder_url, a.decoder_url, a.points_url].join("|");
  if (urls !== state.urls) {
    state.urls = urls;
    drawState.ready = false;
    loadAll(a)
      .then((got) => {
        if (state.urls !== urls) return; // a newer model arrived meanwhile
        Object.assign(state, got);
        state.imageData = null;
        drawState.ready = true;
        update(); // a drawing made with the previous model is encoded by this one
        redraw();
        showStatus();
      })
      .catch((err) => fail("The drawing pad could not start: " + err.message));
  }
  layout();
  redraw();
}

bindInput();
// Layout and the status line follow the frame's width and each frame's timing.
window.addEventListener("resize", () => {
  if (state.args && layout()) redraw();
});
setInterval(showStatus, 500);
window.drawRaw = () => Array.from(readGray());
window.drawPoint = (fx, fy) => {
  const r = el.sketch.getBoundingClientRect();
  return { x: r.left + fx * r.width, y: r.top + fy * r.height };
};
start(render);
