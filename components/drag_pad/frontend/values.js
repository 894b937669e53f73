// What the pad sends to Python: the point on release and, in server mode, live moves.
// Python hears only the release in browser mode, since a rerun costs 100 ms or more.
import { padState } from "./hooks.js";
import { setComponentValue } from "./protocol.js";

const LIVE_TIMEOUT = 600; // server mode: ms to wait for an answer before sending again
const ECHOES_KEPT = 50;

function sendValue(state, final) {
  state.seq += 1;
  const z = Array.from(state.marker);
  const value = { z: z, seq: Date.now() * 1000 + (state.seq % 1000) };
  if (state.decoderUrl === null) value.final = final;
  state.recentlySent.push(JSON.stringify(z));
  if (state.recentlySent.length > ECHOES_KEPT) state.recentlySent.shift();
  padState.sent = value;
  setComponentValue(value);
}

export function release(state) {
  clearTimeout(state.sendTimer);
  state.sendTimer = null;
  state.livePending = false;
  sendValue(state, true);
}

// Server mode: one live value in flight; the next goes when Python answers (a render).
export function sendLive(state) {
  if (state.decoderUrl !== null) return;
  if (state.liveInFlight && performance.now() - state.liveInFlight < LIVE_TIMEOUT) {
    state.livePending = true;
    return;
  }
  state.livePending = false;
  state.liveInFlight = performance.now();
  sendValue(state, false);
}

// Python answered a live value: the next pending move may go.
export function liveAnswered(state) {
  state.liveInFlight = 0;
  if (state.livePending) sendLive(state);
}
