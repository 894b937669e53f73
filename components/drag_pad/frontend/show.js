// One frame of the pad: decode z, draw the image, the marker and the readout, and time it.
// Runs synchronously in the pointermove handler: Chromium already coalesces pointer
// events to one per animation frame, so a 5 ms decode keeps up with 60 frames per second
// and the image is never a frame behind the marker.
import { padState, padStats, record } from "./hooks.js";
import { el } from "./dom.js";
import { drawImage, setCaption } from "./image.js";
import { drawOverlay } from "./marker_layer.js";
import { readout } from "./readout.js";
import { fail, showStatus } from "./status.js";

// eventTime is the triggering event's timeStamp. The latency is taken after all the
// synchronous work, so it counts the whole frame's cost, not the decode alone.
export function show(state, z, eventTime, preview) {
  let decodeMs = null;
  if (state.decoder) {
    const t0 = performance.now();
    let probs;
    try {
      probs = state.decoder.decode(z);
    } catch (err) {
      fail("Decoding failed: " + err.message);
      return;
    }
    decodeMs = performance.now() - t0;
    drawImage(state, probs, state.imageShape);
    padState.z = Array.from(z);
    padState.probs = probs;
    if (!preview) {
      // decode() reuses its output, so the marker's image is kept in a buffer of its own.
      if (state.markerProbs && state.markerProbs.length === probs.length) {
        state.markerProbs.set(probs);
      } else {
        state.markerProbs = Float32Array.from(probs);
      }
    }
    // Smoothed, so the status line does not flicker between 4.1 and 5.3.
    state.lastDecodeMs =
      state.lastDecodeMs === null ? decodeMs : 0.9 * state.lastDecodeMs + 0.1 * decodeMs;
  }
  padState.marker = Array.from(state.marker);
  padState.hovering = !!preview;
  setCaption(state, preview);
  readout(state, z);
  drawOverlay(state);
  showStatus(state);
  if (decodeMs !== null && eventTime !== undefined) {
    const now = performance.now();
    record(padStats.decodeMs, decodeMs);
    record(padStats.latencies, now - eventTime);
    record(padStats.paints, now);
    padStats.moves += 1;
    if (state.frameStart === null) {
      state.frameStart = eventTime;
      requestAnimationFrame(() => {
        record(padStats.frames, performance.now() - state.frameStart);
        state.frameStart = null;
      });
    }
  }
}

// Back from a hover preview to the marker's own image, without decoding it again.
export function showMarker(state) {
  state.hoverZ = null;
  if (state.decoder && state.markerProbs) {
    drawImage(state, state.markerProbs, state.imageShape);
    padState.z = Array.from(state.marker);
    padState.probs = state.markerProbs;
    padState.hovering = false;
    el.imageCap.textContent = "decoded at the marker";
    el.imageCap.classList.remove("preview");
    readout(state, state.marker);
    drawOverlay(state);
  } else {
    show(state, state.marker);
  }
}
