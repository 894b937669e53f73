// What the pad does with each render from Python: adopt new args, theme and marker,
// load new data, and draw what changed.
import { drawBase } from "./base_layer.js";
import { padState } from "./hooks.js";
import { drawImage } from "./image.js";
import { layout, sendFrameHeight } from "./layout.js";
import { drawLegend } from "./legend.js";
import { loadDecoder, loadPoints } from "./loading.js";
import { drawOverlay } from "./marker_layer.js";
import { show } from "./show.js";
import { showHint } from "./hint.js";
import { fail, showLoading } from "./status.js";
import { applyTheme } from "./theme.js";
import { liveAnswered } from "./values.js";

// The points, a marker, and a way to decode: the browser's decoder or the server's image.
function canStart(state) {
  const decodes = state.decoder || (state.decoderUrl === null && state.imageShape);
  return !!(state.points && state.marker && decodes);
}

function ready(state) {
  padState.mode = state.decoder ? "browser" : "server";
  padState.ready = canStart(state);
  if (state.decoder) {
    state.decoder.decode(state.marker); // the first call compiles; keep it out of the timings
    state.lastDecodeMs = null;
  }
  layout(state);
  drawBase(state);
  drawLegend(state.args);
  showHint(state);
  show(state, state.marker);
  sendFrameHeight();
}

// A z_init the pad itself sent is an echo of a move and leaves the marker alone; a
// changed `reset` means Python placed the marker on purpose, so it always moves.
function adoptZInit(state, zInit, forced) {
  const key = JSON.stringify(zInit);
  if (key === state.lastZInit && !forced) return false;
  state.lastZInit = key;
  const sameSize = state.marker && state.marker.length === zInit.length;
  if (!forced && sameSize && (state.recentlySent.includes(key) || state.dragging !== null)) {
    return false;
  }
  state.marker = Float64Array.from(zInit);
  state.markerProbs = null;
  return true;
}

// Starts fetching whatever changed; returns the promises.
function startLoads(state, a) {
  const jobs = [];
  if (a.points_url !== state.pointsUrl) {
    state.pointsUrl = a.points_url;
    state.points = null;
    jobs.push(
      loadPoints(state.pointsUrl).then((p) => {
        if (state.pointsUrl === a.points_url) state.points = p;
      }),
    );
  }
  if (a.decoder_url !== state.decoderUrl) {
    state.decoderUrl = a.decoder_url;
    state.decoder = null;
    state.markerProbs = null;
    if (state.decoderUrl) {
      jobs.push(
        loadDecoder(state.decoderUrl).then((d) => {
          if (state.decoderUrl !== a.decoder_url) return;
          const j = state.marker.length;
          if (d.latentDim !== j) {
            throw new Error("the decoder takes " + d.latentDim + " numbers, z has " + j);
          }
          state.decoder = d;
          state.imageShape = d.outputShape;
        }),
      );
    }
  }
  return jobs;
}

export function render(state, a, th) {
  const prevArgs = state.args;
  state.args = a;
  const newTheme = JSON.stringify(th || {}) !== JSON.stringify(state.theme);
  state.theme = th || {};
  if (newTheme || state.colors === null) applyTheme(state);
  const forced = a.reset !== state.lastReset;
  state.lastReset = a.reset;
  const moved = adoptZInit(state, a.z_init, forced);

  if (a.server_image) {
    state.imageShape = a.server_image.shape;
    const probs = Float32Array.from(a.server_image.data);
    drawImage(state, probs, state.imageShape);
    padState.probs = probs;
    padState.z = a.z_init.slice(); // Python decoded the point it passes as z_init
    liveAnswered(state);
  }

  const jobs = startLoads(state, a);
  const drawn = (x) => JSON.stringify([x.extent, x.manifold_range, x.palette, x.height, x.present]);
  const layoutChanged = !prevArgs || drawn(prevArgs) !== drawn(a);
  if (layoutChanged) state.sizeKey = "";

  if (jobs.length) {
    padState.ready = false;
    showLoading();
    Promise.all(jobs)
      .then(() => ready(state))
      .catch((err) => fail("The pad could not start: " + err.message));
    if (layout(state)) drawBase(state);
    sendFrameHeight();
    return;
  }
  // A rerun that changed nothing (the echo of a release) leaves the pad as it is, so a
  // hover preview in progress is not interrupted.
  if (layout(state) || newTheme || layoutChanged) {
    drawBase(state);
    drawOverlay(state);
  }
  if (newTheme || layoutChanged) drawLegend(state.args);
  showHint(state);
  if (!padState.ready) {
    if (canStart(state)) ready(state);
  } else if (moved) {
    state.hoverZ = null;
    show(state, state.marker);
  }
  sendFrameHeight();
}

// Redraw for a new frame width, at most once per animation frame.
export function onResize(state) {
  if (state.resizeQueued || !state.args) return;
  state.resizeQueued = true;
  requestAnimationFrame(() => {
    state.resizeQueued = false;
    if (layout(state)) {
      drawBase(state);
      drawOverlay(state);
      sendFrameHeight();
    }
  });
}
