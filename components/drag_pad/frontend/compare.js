// Compare: two models' latent planes side by side and ONE marker. A drag on either plane
// moves both markers, and each model's decoder, running here, redraws its image on every
// move; Python hears only the release, which puts the marker in the page's link.
//
// Both planes live in this one frame, so no server message sits between a pointer move
// and the second plane. The drawing, the network interpreter and the protocol are the
// drag pad's own modules; this file and compare_layout.js only arrange two of everything.
//
// What tests read:
//   window.compareState = {ready, z, planes: [{ready, z, marker, probs}], sent, moves, error}
//     z: the shared marker (z₁, z₂); planes[i].z: the point its image was decoded at
//     (its model's J numbers); marker: where its marker is drawn (clamped to its plane).
//   window.comparePoint(i, z1, z2) -> {x, y}: where plane i draws (z1, z2), client pixels.
import { drawBase } from "./base_layer.js";
import { layoutPlanes, sendHeight } from "./compare_layout.js";
import { drawImage } from "./image.js";
import { loadDecoder, loadPoints } from "./loading.js";
import { drawOverlay } from "./marker_layer.js";
import { fmt2, fmtDensity } from "./format.js";
import { normSq, priorDensity } from "./prior.js";
import { setComponentValue, start } from "./protocol.js";
import { applyTheme } from "./theme.js";
import { clampToView, px, py } from "./view.js";

const ECHOES_KEPT = 50; // recent values sent, so their echo in z_init does not move the marker
const HINT_MOUSE =
  "Drag on either plane, or click to jump there: both markers follow, and each model " +
  "decodes the same z. Let go to put the point in the link.";
const HINT_TOUCH =
  "Drag on either plane with your finger, or tap: both markers follow, and each model " +
  "decodes the same z.";

const byId = (id) => document.getElementById(id);
const panels = [0, 1].map((i) => {
  const plane = byId("plane" + i);
  const side = byId("side" + i);
  return {
    i: i,
    plane: plane,
    base: plane.querySelector(".base"),
    overlay: plane.querySelector(".overlay"),
    side: side,
    name: side.querySelector(".name"),
    image: side.querySelector(".image"),
    cap: side.querySelector(".cap"),
    mass: side.querySelector(".mass .v"),
    // What the shared drawing modules read (base_layer.js, marker_layer.js, image.js).
    view: null,
    colors: null,
    points: null,
    args: null,
    marker: null, // where its marker is drawn: the shared z, clamped to this plane
    hoverZ: null,
    dragging: null,
    imageData: null,
    // Its own.
    decoder: null,
    z: null, // Float64Array [J]: the shared z₁, z₂ and the other dimensions held at 0
    probs: null,
    spec: null, // this plane's part of Python's args
    rect: null,
  };
});

const app = {
  args: null,
  theme: {},
  colors: null,
  z: [0, 0],
  lastZInit: null,
  recentlySent: [],
  dragging: null, // {panel, pointerId}
  lastPointer: null,
  seq: 0,
  loadKey: null,
};

export const compareState = { ready: false, z: null, planes: [{}, {}], sent: null, moves: 0, error: null };
window.compareState = compareState;

const el = {
  cmp: byId("cmp"),
  z1: byId("z1"),
  z2: byId("z2"),
  r: byId("r"),
  p: byId("p"),
  hint: byId("hint"),
  status: byId("status"),
};

function fail(message) {
  compareState.error = message;
  el.status.textContent = message;
  el.status.classList.add("error");
}

function ready() {
  return panels.every((p) => p.decoder && p.points && p.view);
}

// Decode the shared z in both models and draw both planes' markers and images.
function showAll() {
  for (const p of panels) {
    if (!p.decoder || !p.view) continue;
    p.z[0] = app.z[0];
    p.z[1] = app.z[1];
    let probs;
    try {
      probs = p.decoder.decode(p.z);
    } catch (err) {
      fail("Decoding failed: " + err.message);
      return;
    }
    drawImage(p, probs, p.decoder.outputShape, p.image);
    p.probs = probs;
    p.marker = clampToView(p.view, app.z[0], app.z[1]);
    drawOverlay(p, p.overlay);
    const off = p.marker[0] !== app.z[0] || p.marker[1] !== app.z[1];
    p.cap.textContent = off ? "decoded at z, beyond this plane's edge" : "decoded at the marker";
    Object.assign(compareState.planes[p.i], {
      ready: true,
      z: Array.from(p.z),
      marker: Array.from(p.marker),
      probs: probs,
    });
  }
  el.z1.textContent = fmt2(app.z[0]);
  el.z2.textContent = fmt2(app.z[1]);
  el.r.textContent = Math.sqrt(normSq(app.z)).toFixed(2);
  el.p.innerHTML = fmtDensity(priorDensity(app.z));
  compareState.z = app.z.slice();
  compareState.moves += 1;
}

function drawPlanes() {
  for (const p of panels) {
    p.colors = app.colors;
    if (p.view) drawBase(p, p.base);
  }
}

function relayout(force) {
  if (layoutPlanes(panels, app, el.cmp, force)) drawPlanes();
  if (ready()) showAll();
  sendHeight(el.cmp);
}

function showHint() {
  const touch = app.lastPointer
    ? app.lastPointer === "touch"
    : window.matchMedia("(hover: none) and (pointer: coarse)").matches;
  el.hint.textContent = touch ? HINT_TOUCH : HINT_MOUSE;
  el.hint.dataset.input = touch ? "touch" : "mouse";
}

function showStatus() {
  if (compareState.error) return;
  el.status.textContent = ready()
    ? "Both models decode in your browser."
    : "Loading the two models' decoders…";
}

// --- input: a pointer on either plane moves the one marker ----------------------------
function zAt(p, clientX, clientY) {
  const v = p.view;
  const x = v.x0 + (clientX - p.rect.left - v.left) / v.scale;
  const y = v.y1 - (clientY - p.rect.top - v.top) / v.scale;
  return clampToView(v, x, y);
}

function release() {
  app.seq += 1;
  const z = app.z.slice();
  const value = { z: z, seq: Date.now() * 1000 + (app.seq % 1000) };
  app.recentlySent.push(JSON.stringify(z));
  if (app.recentlySent.length > ECHOES_KEPT) app.recentlySent.shift();
  compareState.sent = value;
  setComponentValue(value);
}

function bind(p) {
  p.plane.addEventListener("pointerdown", (e) => {
    if (!ready() || app.dragging !== null) return; // a second finger does not take over
    if (e.pointerType === "mouse" && e.button !== 0) return;
    const kind = e.pointerType === "touch" ? "touch" : "mouse";
    if (kind !== app.lastPointer) {
      app.lastPointer = kind;
      showHint();
    }
    p.rect = p.plane.getBoundingClientRect();
    e.preventDefault();
    app.dragging = { panel: p.i, pointerId: e.pointerId };
    p.plane.setPointerCapture(e.pointerId);
    app.z = zAt(p, e.clientX, e.clientY);
    showAll();
  });
  p.plane.addEventListener("pointermove", (e) => {
    const d = app.dragging;
    if (!d || d.panel !== p.i || d.pointerId !== e.pointerId) return;
    app.z = zAt(p, e.clientX, e.clientY);
    showAll();
  });
  const end = (e) => {
    const d = app.dragging;
    if (!d || d.panel !== p.i || d.pointerId !== e.pointerId) return;
    app.dragging = null;
    if (p.plane.hasPointerCapture(e.pointerId)) p.plane.releasePointerCapture(e.pointerId);
    release();
  };
  p.plane.addEventListener("pointerup", end);
  p.plane.addEventListener("pointercancel", end);
}
panels.forEach(bind);

window.comparePoint = (i, z1, z2) => {
  const p = panels[i];
  const r = p.plane.getBoundingClientRect();
  return { x: r.left + px(p.view, z1), y: r.top + py(p.view, z2) };
};

// --- what Python sends ------------------------------------------------------------------
function load(a) {
  const key = JSON.stringify(a.planes.map((s) => [s.decoder_url, s.points_url]));
  if (key === app.loadKey) return;
  app.loadKey = key;
  compareState.ready = false;
  for (const p of panels) {
    p.decoder = null;
    p.points = null;
  }
  const jobs = panels.map((p) => {
    const s = a.planes[p.i];
    return Promise.all([loadDecoder(s.decoder_url), loadPoints(s.points_url)]).then(([d, pts]) => {
      if (app.loadKey !== key) return;
      p.decoder = d;
      p.points = pts;
      p.z = new Float64Array(d.latentDim);
      d.decode(p.z); // the first call compiles; keep it out of the first drag's frame
    });
  });
  Promise.all(jobs)
    .then(() => {
      if (app.loadKey !== key) return;
      relayout(true);
      compareState.ready = ready();
      showStatus();
    })
    .catch((err) => fail("The planes could not start: " + err.message));
}

function render(a, th) {
  app.args = a;
  const theme = th || {};
  if (JSON.stringify(theme) !== JSON.stringify(app.theme) || app.colors === null) {
    app.theme = theme;
    applyTheme(app);
  }
  // A z_init the frame itself sent is the echo of a release: the marker stays put.
  const zKey = JSON.stringify(a.z_init);
  if (zKey !== app.lastZInit) {
    app.lastZInit = zKey;
    if (!app.recentlySent.includes(zKey) && app.dragging === null) app.z = a.z_init.slice(0, 2);
  }
  document.body.classList.toggle("present", !!a.present);
  for (const p of panels) {
    p.spec = a.planes[p.i];
    p.args = { palette: p.spec.palette, manifold_range: null };
    // A run's name may break after its folder ("runs/" + name), not inside a word.
    p.name.textContent = p.spec.name.replaceAll("/", "/\u200b");
    p.mass.textContent = (100 * p.spec.empty_prior_mass).toFixed(1) + "%";
  }
  showHint();
  showStatus();
  load(a);
  relayout(true);
}

function onResize() {
  if (!app.args || app.resizeQueued) return;
  app.resizeQueued = true;
  requestAnimationFrame(() => {
    app.resizeQueued = false;
    relayout(false);
  });
}
window.addEventListener("resize", onResize);
try {
  // In presentation mode and on a phone the planes follow the window's height.
  window.parent.addEventListener("resize", onResize);
} catch (err) {
  // A host page from another origin: the frame's width alone decides.
}
start(render);
