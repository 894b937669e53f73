// Drag pad: the latent plane with the test set's encodings, a draggable marker, and the
// decoded image beside it, redrawn on every pointer move.
//
// A Streamlit rerun costs 100 ms or more and Streamlit cannot stream drag events, so the
// decoder runs here (decoder.js) and Python hears only the release. Decoding happens
// synchronously in the pointermove handler: Chromium already coalesces pointer events to
// one per animation frame, so a 5 ms decode keeps up with 60 frames per second and the
// image is never a frame behind the marker. The Streamlit component protocol (API
// version 1) is spoken directly with postMessage, so there is no build step.
//
// For tests and benchmarks:
//   window.padState = {ready, mode ("browser" | "server"), z, probs, marker, hovering,
//                      sent, error}
//     z and probs describe the image on screen (probs: Float32Array, H*W*C, HWC order);
//     marker is the marker's z; sent is the last value sent to Python.
//   window.padStats = {latencies, frames, decodeMs, paints, moves, cap}
//     latencies: ms from the pointer (or key) event's timeStamp to the end of the frame's
//     drawing (image, marker, readout); frames: ms from the event to the next animation
//     frame (the paint follows it);
//     decodeMs: decode time alone; paints: performance.now() at each draw (for fps).
//     Each list keeps the last `cap` entries.
//   window.padPoint(z1, z2) -> {x, y}: where that point is drawn, in client pixels.
"use strict";

const CAP = 5000;
const KEY_STEP = 0.05; // z units per arrow press; Shift multiplies by 5
const SEND_DELAY = 300; // ms after the last arrow key before the point goes to Python
const LIVE_TIMEOUT = 600; // server mode: ms to wait for an answer before sending again
const PRIOR_LEVELS = [1, 2, 3];

const plane = document.getElementById("plane");
const base = document.getElementById("base");
const overlay = document.getElementById("overlay");
const imageCanvas = document.getElementById("image");
const imageCap = document.getElementById("image-cap");
const pad = document.getElementById("pad");
const side = document.getElementById("side");
const statusEl = document.getElementById("status");
const legendEl = document.getElementById("legend");
const z1Val = document.getElementById("z1-val");
const z2Val = document.getElementById("z2-val");
const pVal = document.getElementById("p-val");
const rVal = document.getElementById("r-val");

window.padStats = { latencies: [], frames: [], decodeMs: [], paints: [], moves: 0, cap: CAP };
window.padState = {
  ready: false,
  mode: null,
  z: null,
  probs: null,
  marker: null,
  hovering: false,
  sent: null,
  error: null,
};

// --- state ---------------------------------------------------------------------------
let args = null;
let theme = {};
let colors = null; // themeColors() plus derived shades: worked out per theme, not per move
let decoder = null; // VAEDecoder object in browser mode
let decoderUrl; // undefined until the first render; null means server mode
let points = null; // {xy: Float32Array [2N], labels: Uint8Array [N], n}
let pointsUrl = null;
let marker = null; // Float64Array [J]: the marker's z
let markerProbs = null; // copy of the marker's decoding, shown again when the hover ends
let imageShape = null; // [H, W, C]
let lastZInit = null;
let lastReset; // the `reset` counter of the last render
const recentlySent = []; // JSON of recent z values sent, so their echo does not move the marker
let view = null; // {x0, x1, y0, y1, left, top, size, scale}
let dragging = null; // pointerId during a drag
let grab = [0, 0]; // offset from the pointer to the marker's centre, in px
let hoverZ = null; // z under the pointer while hovering (browser mode)
let sendTimer = null;
let liveInFlight = 0; // server mode: time the last live value was sent (0 = none)
let livePending = false;
let seq = 0;
let lastDecodeMs = null;
let frameStart = null; // earliest event time not yet followed by an animation frame
let sizeKey = "";

// --- protocol ------------------------------------------------------------------------
function send(type, data) {
  window.parent.postMessage(Object.assign({ isStreamlitMessage: true, type: type }, data), "*");
}

function sendValue(final) {
  seq += 1;
  const z = Array.from(marker);
  const value = { z: z, seq: Date.now() * 1000 + (seq % 1000) };
  if (decoderUrl === null) value.final = final;
  recentlySent.push(JSON.stringify(z));
  if (recentlySent.length > 50) recentlySent.shift();
  window.padState.sent = value;
  send("streamlit:setComponentValue", { value: value, dataType: "json" });
}

function release() {
  clearTimeout(sendTimer);
  sendTimer = null;
  livePending = false;
  sendValue(true);
}

// Server mode: one live value in flight; the next goes when Python answers (a render).
function sendLive() {
  if (decoderUrl !== null) return;
  if (liveInFlight && performance.now() - liveInFlight < LIVE_TIMEOUT) {
    livePending = true;
    return;
  }
  livePending = false;
  liveInFlight = performance.now();
  sendValue(false);
}

// --- maths ---------------------------------------------------------------------------
function normSq(z) {
  let s = 0;
  for (let i = 0; i < z.length; i++) s += z[i] * z[i];
  return s;
}

// The prior N(0, I_J) at z: (2π)^(-J/2) exp(-|z|²/2).
function priorDensity(z) {
  return Math.exp(-0.5 * z.length * Math.log(2 * Math.PI) - 0.5 * normSq(z));
}

const round3 = (v) => Math.round(v * 1000) / 1000;
const minus = (s) => s.replace("-", "\u2212");
const fmt2 = (v) => minus((Math.abs(v) < 0.005 ? 0 : v).toFixed(2));

// HTML: 0.0123, or 1.23×10⁻⁵ with a real superscript.
function fmtDensity(p) {
  if (p >= 0.001) return p.toPrecision(3);
  const [m, e] = p.toExponential(2).split("e");
  return m + "\u00d710<sup>" + minus(String(Number(e))) + "</sup>";
}

// --- colours -------------------------------------------------------------------------
function themeColors() {
  const dark = theme.base === "dark";
  return {
    dark: dark,
    bg: theme.backgroundColor || (dark ? "#0e1117" : "#ffffff"),
    text: theme.textColor || (dark ? "#fafafa" : "#31333f"),
    panel: theme.secondaryBackgroundColor || (dark ? "#262730" : "#f0f2f6"),
    primary: theme.primaryColor || "#ff4b4b",
  };
}

function withAlpha(color, alpha) {
  // Accepts #rgb, #rrggbb or rgb(...); canvas has no colour-mix, so parse it.
  const c = color.trim();
  let r, g, b;
  if (c[0] === "#") {
    const h = c.length === 4 ? c.replace(/#(.)(.)(.)/, "#$1$1$2$2$3$3") : c;
    r = parseInt(h.slice(1, 3), 16);
    g = parseInt(h.slice(3, 5), 16);
    b = parseInt(h.slice(5, 7), 16);
  } else {
    const m = c.match(/[\d.]+/g);
    if (!m) return c;
    [r, g, b] = m.map(Number);
  }
  return "rgba(" + r + "," + g + "," + b + "," + alpha + ")";
}

function applyTheme() {
  const c = themeColors();
  colors = Object.assign({ radius: withAlpha(c.text, 0.35) }, c);
  const root = document.documentElement.style;
  root.setProperty("--bg", c.bg);
  root.setProperty("--text", c.text);
  root.setProperty("--panel", c.panel);
  root.setProperty("--primary", c.primary);
  root.setProperty("--muted", withAlpha(c.text, 0.68));
}

// --- layout --------------------------------------------------------------------------
const MARGIN = { left: 50, right: 10, top: 10, bottom: 50 };
const SIDE_MIN = 224; // px: room for the readout's widest line, "p(z) = 1.23×10⁻⁵"
const GAP = 20; // px between the plane and the side column (as in the CSS)

function layout() {
  const width = Math.max(280, document.documentElement.clientWidth || window.innerWidth);
  const height = Math.max(320, (args && args.height) || 560);
  // The image: a whole number of screen pixels per model pixel, 6 to 12 (168-336 px for
  // 28 px), about a third of the width; the side column is wide enough for the readout.
  const h = imageShape ? imageShape[0] : 28;
  const w = imageShape ? imageShape[1] : 28;
  let zoom = Math.max(6, Math.min(12, Math.floor((width * 0.33) / w)));
  let sideW = Math.max(zoom * w, SIDE_MIN);
  const stacked = width - sideW - GAP < 300;
  if (stacked) {
    zoom = Math.max(4, Math.min(12, Math.floor(Math.min(width, 336) / w)));
    sideW = width;
  }
  const size = stacked ? Math.min(width, height) : Math.min(width - sideW - GAP, height);
  pad.classList.toggle("stacked", stacked);
  side.style.width = sideW + "px";
  imageCanvas.style.width = zoom * w + "px";
  imageCanvas.style.height = zoom * h + "px";

  const key = [size, window.devicePixelRatio, JSON.stringify(args && args.extent)].join("|");
  if (key === sizeKey && view) return false;
  sizeKey = key;
  const dpr = window.devicePixelRatio || 1;
  plane.style.width = plane.style.height = size + "px";
  for (const c of [base, overlay]) {
    c.width = Math.round(size * dpr);
    c.height = Math.round(size * dpr);
    c.style.width = c.style.height = size + "px";
  }
  refreshRect();
  // Equal scale on both axes: widen the shorter range of the extent to fill the square.
  const [ex0, ex1, ey0, ey1] = (args && args.extent) || [-4, 4, -4, 4];
  const plotW = size - MARGIN.left - MARGIN.right;
  const plotH = size - MARGIN.top - MARGIN.bottom;
  const scale = Math.min(plotW / (ex1 - ex0), plotH / (ey1 - ey0));
  const cx = (ex0 + ex1) / 2;
  const cy = (ey0 + ey1) / 2;
  view = {
    size: size,
    left: MARGIN.left,
    top: MARGIN.top,
    plotW: plotW,
    plotH: plotH,
    scale: scale,
    x0: cx - plotW / scale / 2,
    x1: cx + plotW / scale / 2,
    y0: cy - plotH / scale / 2,
    y1: cy + plotH / scale / 2,
  };
  return true;
}

function frameHeight() {
  send("streamlit:setFrameHeight", { height: Math.ceil(pad.getBoundingClientRect().height) + 6 });
}

const px = (x) => view.left + (x - view.x0) * view.scale;
const py = (y) => view.top + (view.y1 - y) * view.scale;

// The plane's box, read when the pointer enters or presses rather than on every move:
// reading it after the readout's text changed would force a layout each frame.
let planeRect = null;
function refreshRect() {
  planeRect = plane.getBoundingClientRect();
}

function toZ(clientX, clientY) {
  const r = planeRect;
  const x = view.x0 + (clientX - r.left - view.left) / view.scale;
  const y = view.y1 - (clientY - r.top - view.top) / view.scale;
  return [x, y];
}

// Where (z1, z2) is drawn, in this frame's client pixels: for tests and benchmarks
// that drive the pad with real pointer events.
window.padPoint = (z1, z2) => {
  refreshRect();
  return { x: planeRect.left + px(z1), y: planeRect.top + py(z2) };
};

function clampToView(x, y) {
  return [
    round3(Math.min(view.x1, Math.max(view.x0, x))),
    round3(Math.min(view.y1, Math.max(view.y0, y))),
  ];
}

function insidePlot(clientX, clientY) {
  const r = planeRect;
  const x = clientX - r.left - view.left;
  const y = clientY - r.top - view.top;
  return x >= 0 && y >= 0 && x <= view.plotW && y <= view.plotH;
}

// --- drawing: the base layer (once per size, theme or data) ---------------------------
function niceStep(range, target) {
  const raw = range / target;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 5, 10]) if (m * mag >= raw) return m * mag;
  return 10 * mag;
}

function haloText(ctx, text, x, y, halo) {
  ctx.save();
  ctx.setLineDash([]);
  ctx.lineWidth = 5;
  ctx.lineJoin = "round";
  ctx.strokeStyle = halo;
  ctx.strokeText(text, x, y);
  ctx.restore();
  ctx.fillText(text, x, y);
}

function drawBase() {
  if (!view) return;
  const c = colors;
  const dpr = base.width / view.size;
  const ctx = base.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, view.size, view.size);
  const { left, top, plotW, plotH } = view;

  ctx.fillStyle = c.panel;
  ctx.fillRect(left, top, plotW, plotH);

  // Grid and ticks.
  const step = niceStep(Math.min(view.x1 - view.x0, view.y1 - view.y0), 8);
  ctx.font = "15px " + getComputedStyle(document.body).fontFamily;
  ctx.fillStyle = c.text;
  ctx.strokeStyle = withAlpha(c.text, 0.1);
  ctx.lineWidth = 1;
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (let v = Math.ceil(view.x0 / step) * step; v <= view.x1 + 1e-9; v += step) {
    const x = Math.round(px(v)) + 0.5;
    ctx.strokeStyle = withAlpha(c.text, Math.abs(v) < 1e-9 ? 0.28 : 0.1);
    ctx.beginPath();
    ctx.moveTo(x, top);
    ctx.lineTo(x, top + plotH);
    ctx.stroke();
    ctx.fillText(minus(String(+v.toFixed(6))), x, top + plotH + 6);
  }
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (let v = Math.ceil(view.y0 / step) * step; v <= view.y1 + 1e-9; v += step) {
    const y = Math.round(py(v)) + 0.5;
    ctx.strokeStyle = withAlpha(c.text, Math.abs(v) < 1e-9 ? 0.28 : 0.1);
    ctx.beginPath();
    ctx.moveTo(left, y);
    ctx.lineTo(left + plotW, y);
    ctx.stroke();
    ctx.fillText(minus(String(+v.toFixed(6))), left - 8, y);
  }
  ctx.font = "italic 20px " + getComputedStyle(document.body).fontFamily;
  ctx.textAlign = "center";
  ctx.textBaseline = "bottom";
  ctx.fillText("z\u2081", left + plotW / 2, view.size - 4);
  ctx.save();
  ctx.translate(16, top + plotH / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textBaseline = "middle";
  ctx.fillText("z\u2082", 0, 0);
  ctx.restore();

  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top, plotW, plotH);
  ctx.clip();

  // The encoded test set, in data order (the test set is shuffled, so no class hides
  // another), translucent so dense regions read darker.
  if (points) {
    const palette = (args && args.palette) || [];
    const r = view.size > 500 ? 1.9 : 1.6;
    ctx.globalAlpha = c.dark ? 0.6 : 0.5;
    const { xy, labels, n } = points;
    let last = -1;
    for (let i = 0; i < n; i++) {
      const lab = labels[i];
      if (lab !== last) {
        ctx.fillStyle = palette[lab % palette.length] || c.text;
        last = lab;
      }
      ctx.beginPath();
      ctx.arc(px(xy[2 * i]), py(xy[2 * i + 1]), r, 0, 2 * Math.PI);
      ctx.fill();
    }
    ctx.globalAlpha = 1;
  }

  // The prior's 1σ, 2σ, 3σ contours: circles, since p(z) = N(0, I).
  ctx.strokeStyle = withAlpha(c.text, 0.8);
  ctx.lineWidth = 1.6;
  ctx.setLineDash([2, 4]);
  for (const k of PRIOR_LEVELS) {
    ctx.beginPath();
    ctx.arc(px(0), py(0), k * view.scale, 0, 2 * Math.PI);
    ctx.stroke();
  }

  // The Manifold page's grid range: a dashed square.
  const m = args && args.manifold_range;
  if (m) {
    ctx.setLineDash([8, 6]);
    ctx.lineWidth = 1.6;
    ctx.strokeStyle = withAlpha(c.text, 0.6);
    const x = px(m[0]);
    const y = py(m[1]);
    const s = (m[1] - m[0]) * view.scale;
    ctx.strokeRect(x, y, s, s);
    ctx.font = "15px " + getComputedStyle(document.body).fontFamily;
    ctx.fillStyle = withAlpha(c.text, 0.85);
    ctx.textAlign = "left";
    ctx.textBaseline = "top";
    haloText(ctx, "manifold grid", x + 4, y + 4, c.panel);
  }
  ctx.setLineDash([]);
  // Labels last, with a halo, so no line or point crosses them.
  ctx.font = "bold 16px " + getComputedStyle(document.body).fontFamily;
  ctx.fillStyle = c.text;
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  for (const k of PRIOR_LEVELS) {
    const a = -Math.PI / 5; // lower right: clear of the manifold grid's label
    haloText(ctx, k + "\u03c3", px(k * Math.cos(a)), py(k * Math.sin(a)), c.panel);
  }
  ctx.restore();
}

// --- drawing: markers (every move) ----------------------------------------------------
function drawOverlay() {
  if (!view) return;
  const c = colors;
  const dpr = overlay.width / view.size;
  const ctx = overlay.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, view.size, view.size);
  if (!marker) return;
  const mx = px(marker[0]);
  const my = py(marker[1]);
  // A faint radius from the prior's mean: |z| is the readout's distance in σ.
  ctx.strokeStyle = c.radius;
  ctx.lineWidth = 1.2;
  ctx.beginPath();
  ctx.moveTo(px(0), py(0));
  ctx.lineTo(mx, my);
  ctx.stroke();
  if (hoverZ && dragging === null) {
    const hx = px(hoverZ[0]);
    const hy = py(hoverZ[1]);
    ctx.setLineDash([4, 3]);
    ctx.lineWidth = 2;
    ctx.strokeStyle = c.text;
    ctx.beginPath();
    ctx.arc(hx, hy, 10, 0, 2 * Math.PI);
    ctx.stroke();
    ctx.setLineDash([]);
  }
  ctx.lineWidth = 3;
  ctx.strokeStyle = c.bg;
  ctx.fillStyle = c.primary;
  ctx.beginPath();
  ctx.arc(mx, my, 11, 0, 2 * Math.PI);
  ctx.fill();
  ctx.stroke();
  ctx.lineWidth = 2;
  ctx.strokeStyle = c.primary;
  ctx.beginPath();
  ctx.arc(mx, my, 16, 0, 2 * Math.PI);
  ctx.stroke();
}

// --- the image -----------------------------------------------------------------------
let imageData = null;

function drawImage(probs, shape) {
  const [h, w, ch] = shape;
  if (imageCanvas.width !== w || imageCanvas.height !== h || !imageData) {
    imageCanvas.width = w;
    imageCanvas.height = h;
    imageData = imageCanvas.getContext("2d").createImageData(w, h);
  }
  const d = imageData.data;
  for (let p = 0, n = h * w; p < n; p++) {
    const o = 4 * p;
    const v0 = probs[p * ch];
    if (ch >= 3) {
      d[o] = 255 * v0 + 0.5;
      d[o + 1] = 255 * probs[p * ch + 1] + 0.5;
      d[o + 2] = 255 * probs[p * ch + 2] + 0.5;
    } else {
      d[o] = d[o + 1] = d[o + 2] = 255 * v0 + 0.5; // Uint8ClampedArray clamps and rounds
    }
    d[o + 3] = 255;
  }
  imageCanvas.getContext("2d").putImageData(imageData, 0, 0);
}

function readout(z) {
  setText(z1Val, fmt2(z[0]));
  setText(z2Val, fmt2(z[1]));
  const p = fmtDensity(priorDensity(z));
  if (p !== lastDensity) {
    pVal.innerHTML = p; // may hold a <sup>; rebuilt only when the figure changes
    lastDensity = p;
  }
  setText(rVal, Math.sqrt(normSq(z)).toFixed(2));
}

let lastDensity = null;

// Runs on every pointer move: touch the DOM only when the text really changes.
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

function record(list, v) {
  if (list.length >= CAP) list.shift();
  list.push(v);
}

// Decode z, draw it, update the marker and readout; eventTime is the triggering event's
// timeStamp. The latency is taken after all of that synchronous work, so it counts the
// whole frame's cost, not the decode alone.
function show(z, eventTime, preview) {
  const st = window.padState;
  let decodeMs = null;
  if (decoder) {
    const t0 = performance.now();
    let probs;
    try {
      probs = decoder.decode(z);
    } catch (err) {
      fail("Decoding failed: " + err.message);
      return;
    }
    decodeMs = performance.now() - t0;
    drawImage(probs, imageShape);
    st.z = Array.from(z);
    st.probs = probs;
    if (!preview) {
      // decode() reuses its output, so the marker's image is kept in a buffer of its own.
      if (markerProbs && markerProbs.length === probs.length) markerProbs.set(probs);
      else markerProbs = Float32Array.from(probs);
    }
    // Smoothed, so the status line does not flicker between 4.1 and 5.3.
    lastDecodeMs = lastDecodeMs === null ? decodeMs : 0.9 * lastDecodeMs + 0.1 * decodeMs;
  }
  st.marker = Array.from(marker);
  st.hovering = !!preview;
  setText(
    imageCap,
    preview
      ? "preview at the pointer: click to place"
      : decoder
        ? "decoded at the marker"
        : "decoded on the server at the marker",
  );
  imageCap.classList.toggle("preview", !!preview);
  readout(z);
  drawOverlay();
  status();
  if (decodeMs !== null && eventTime !== undefined) {
    const now = performance.now();
    const stats = window.padStats;
    record(stats.decodeMs, decodeMs);
    record(stats.latencies, now - eventTime);
    record(stats.paints, now);
    stats.moves += 1;
    if (frameStart === null) {
      frameStart = eventTime;
      requestAnimationFrame(() => {
        record(stats.frames, performance.now() - frameStart);
        frameStart = null;
      });
    }
  }
}

function showMarker() {
  hoverZ = null;
  if (decoder && markerProbs) {
    drawImage(markerProbs, imageShape);
    window.padState.z = Array.from(marker);
    window.padState.probs = markerProbs;
    window.padState.hovering = false;
    imageCap.textContent = "decoded at the marker";
    imageCap.classList.remove("preview");
    readout(marker);
    drawOverlay();
  } else {
    show(marker);
  }
}

function status() {
  if (window.padState.error) return;
  const j = marker ? marker.length : 0;
  const held =
    j > 2
      ? " z\u2083\u2026z" + (j <= 9 ? String.fromCharCode(0x2080 + j) : "_" + j) + " held fixed."
      : "";
  if (decoder) {
    const ms = lastDecodeMs === null ? "" : " · " + lastDecodeMs.toFixed(1) + " ms a frame";
    setText(statusEl, "Decoding in your browser" + ms + "." + held);
  } else if (decoderUrl === null) {
    setText(statusEl, "Decoding on the server: each move costs a round trip." + held);
  }
}

function fail(message) {
  window.padState.error = message;
  statusEl.textContent = message;
  statusEl.classList.add("error");
}

function drawLegend() {
  const names = (args && args.class_names) || [];
  const palette = (args && args.palette) || [];
  legendEl.classList.toggle("long", names.some((s) => s.length > 4));
  legendEl.innerHTML = "";
  names.forEach((name, i) => {
    const row = document.createElement("div");
    const sw = document.createElement("span");
    sw.className = "sw";
    sw.style.background = palette[i % palette.length];
    row.appendChild(sw);
    row.appendChild(document.createTextNode(name));
    legendEl.appendChild(row);
  });
}

// --- interaction ---------------------------------------------------------------------
function setMarkerFrom(clientX, clientY) {
  const [x, y] = clampToView(...toZ(clientX, clientY));
  marker[0] = x;
  marker[1] = y;
}

function interactive() {
  return view && marker && (decoder || decoderUrl === null) && points !== null;
}

// Focus that arrives by the Tab key shows the ring at once; focus by a click does not.
let pointerFocus = false;
plane.addEventListener("focus", () => {
  if (!pointerFocus) plane.classList.add("keys");
});
plane.addEventListener("pointerenter", refreshRect);
plane.addEventListener("pointerdown", (e) => {
  refreshRect();
  if (!interactive() || dragging !== null) return; // a second finger does not take over
  if (e.pointerType === "mouse" && e.button !== 0) return;
  if (!insidePlot(e.clientX, e.clientY)) return;
  e.preventDefault();
  plane.classList.remove("keys");
  pointerFocus = true;
  plane.focus({ preventScroll: true });
  pointerFocus = false;
  const r = planeRect;
  const dx = px(marker[0]) - (e.clientX - r.left);
  const dy = py(marker[1]) - (e.clientY - r.top);
  const hit = e.pointerType === "mouse" ? 20 : 36; // a fingertip is wider than a cursor
  grab = Math.hypot(dx, dy) <= hit ? [dx, dy] : [0, 0]; // grab the marker, or jump there
  dragging = e.pointerId;
  plane.setPointerCapture(e.pointerId);
  hoverZ = null;
  setMarkerFrom(e.clientX + grab[0], e.clientY + grab[1]);
  show(marker, e.timeStamp);
  sendLive();
});

plane.addEventListener("pointermove", (e) => {
  if (!interactive()) return;
  if (dragging === e.pointerId) {
    setMarkerFrom(e.clientX + grab[0], e.clientY + grab[1]);
    show(marker, e.timeStamp);
    sendLive();
  } else if (dragging === null && e.pointerType === "mouse" && decoder) {
    // Hover: preview the decoding under the pointer without moving the marker.
    if (insidePlot(e.clientX, e.clientY)) {
      const [x, y] = clampToView(...toZ(e.clientX, e.clientY));
      hoverZ = Float64Array.from(marker);
      hoverZ[0] = x;
      hoverZ[1] = y;
      show(hoverZ, e.timeStamp, true);
    } else if (hoverZ) {
      showMarker();
    }
  }
});

function endDrag(e) {
  if (dragging !== e.pointerId) return;
  dragging = null;
  if (plane.hasPointerCapture(e.pointerId)) plane.releasePointerCapture(e.pointerId);
  showMarker();
  release();
}
plane.addEventListener("pointerup", endDrag);
plane.addEventListener("pointercancel", endDrag);
plane.addEventListener("pointerleave", () => {
  if (dragging === null && hoverZ) showMarker();
});

plane.addEventListener("keydown", (e) => {
  if (!interactive()) return;
  const step = KEY_STEP * (e.shiftKey ? 5 : 1);
  const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] };
  let target;
  if (moves[e.key]) {
    const [mx, my] = moves[e.key];
    target = [marker[0] + mx * step, marker[1] + my * step];
  } else if (e.key === "Home") {
    target = [0, 0];
  } else {
    return;
  }
  e.preventDefault();
  plane.classList.add("keys");
  const [x, y] = clampToView(target[0], target[1]);
  marker[0] = x;
  marker[1] = y;
  hoverZ = null;
  show(marker, e.timeStamp);
  sendLive();
  clearTimeout(sendTimer);
  sendTimer = setTimeout(release, SEND_DELAY);
});

// --- loading -------------------------------------------------------------------------
async function loadPoints(url) {
  const resp = await fetch(url);
  if (!resp.ok) throw new Error("could not fetch the points (" + resp.status + ")");
  const buf = await resp.arrayBuffer();
  const n = buf.byteLength / 9; // float32 x, float32 y, uint8 label
  if (!Number.isInteger(n)) throw new Error("the points file is malformed");
  return { xy: new Float32Array(buf, 0, 2 * n), labels: new Uint8Array(buf, 8 * n, n), n: n };
}

function ready() {
  const st = window.padState;
  st.mode = decoder ? "browser" : "server";
  st.ready = !!(points && marker && (decoder || (decoderUrl === null && imageShape)));
  if (decoder) {
    decoder.decode(marker); // the first call compiles; keep it out of the timings
    lastDecodeMs = null;
  }
  layout();
  drawBase();
  drawLegend();
  show(marker);
  frameHeight();
}

// A z_init the pad itself sent is an echo of a move and leaves the marker alone; a
// changed `reset` means Python placed the marker on purpose, so it always moves.
function adoptZInit(zInit, forced) {
  const key = JSON.stringify(zInit);
  if (key === lastZInit && !forced) return false;
  lastZInit = key;
  const sameSize = marker && marker.length === zInit.length;
  if (!forced && sameSize && (recentlySent.includes(key) || dragging !== null)) return false;
  marker = Float64Array.from(zInit);
  markerProbs = null;
  return true;
}

function render(a, th) {
  const prevArgs = args;
  args = a;
  const newTheme = JSON.stringify(th || {}) !== JSON.stringify(theme);
  theme = th || {};
  if (newTheme || colors === null) applyTheme();
  const forced = a.reset !== lastReset;
  lastReset = a.reset;
  const moved = adoptZInit(a.z_init, forced);

  if (a.server_image) {
    imageShape = a.server_image.shape;
    const probs = Float32Array.from(a.server_image.data);
    drawImage(probs, imageShape);
    window.padState.probs = probs;
    window.padState.z = a.z_init.slice(); // Python decoded the point it passes as z_init
    liveInFlight = 0;
    if (livePending) sendLive();
  }

  const jobs = [];
  if (a.points_url !== pointsUrl) {
    pointsUrl = a.points_url;
    points = null;
    jobs.push(
      loadPoints(pointsUrl).then((p) => {
        if (pointsUrl === a.points_url) points = p;
      }),
    );
  }
  if (a.decoder_url !== decoderUrl) {
    decoderUrl = a.decoder_url;
    decoder = null;
    markerProbs = null;
    if (decoderUrl) {
      jobs.push(
        VAEDecoder.load(decoderUrl + ".json", decoderUrl + ".bin").then((d) => {
          if (decoderUrl !== a.decoder_url) return;
          if (d.latentDim !== marker.length) {
            throw new Error("the decoder takes " + d.latentDim + " numbers, z has " + marker.length);
          }
          decoder = d;
          imageShape = d.outputShape;
        }),
      );
    }
  }
  const layoutChanged =
    !prevArgs ||
    JSON.stringify([prevArgs.extent, prevArgs.manifold_range, prevArgs.palette, prevArgs.height]) !==
      JSON.stringify([a.extent, a.manifold_range, a.palette, a.height]);
  if (layoutChanged) sizeKey = "";

  if (jobs.length) {
    window.padState.ready = false;
    statusEl.textContent = "Loading…";
    Promise.all(jobs)
      .then(ready)
      .catch((err) => fail("The pad could not start: " + err.message));
    if (layout()) drawBase();
    frameHeight();
    return;
  }
  // A rerun that changed nothing (the echo of a release) leaves the pad as it is, so a
  // hover preview in progress is not interrupted.
  if (layout() || newTheme || layoutChanged) {
    drawBase();
    drawOverlay();
  }
  if (newTheme || layoutChanged) drawLegend();
  if (!window.padState.ready) {
    if (points && (decoder || (decoderUrl === null && imageShape))) ready();
  } else if (moved) {
    hoverZ = null;
    show(marker);
  }
  frameHeight();
}

window.addEventListener("message", (event) => {
  const msg = event.data;
  if (msg && msg.type === "streamlit:render") render(msg.args, msg.theme);
});

let resizeQueued = false;
window.addEventListener("resize", () => {
  if (resizeQueued || !args) return;
  resizeQueued = true;
  requestAnimationFrame(() => {
    resizeQueued = false;
    if (layout()) {
      drawBase();
      drawOverlay();
      frameHeight();
    }
  });
});

send("streamlit:componentReady", { apiVersion: 1 });
