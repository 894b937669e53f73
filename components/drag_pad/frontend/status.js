// The status line: where decoding happens and how long it takes, or what went wrong.
import { padState } from "./hooks.js";
import { el, setText } from "./dom.js";

export function showStatus(state) {
  if (padState.error) return;
  const j = state.marker ? state.marker.length : 0;
  const held =
    j > 2
      ? " z\u2083\u2026z" + (j <= 9 ? String.fromCharCode(0x2080 + j) : "_" + j) + " held fixed."
      : "";
  if (state.decoder) {
    const last = state.lastDecodeMs;
    const ms = last === null ? "" : " · " + last.toFixed(1) + " ms a frame";
    setText(el.status, "Decoding in your browser" + ms + "." + held);
  } else if (state.decoderUrl === null) {
    setText(el.status, "Decoding on the server: each move costs a round trip." + held);
  }
}

export function showLoading() {
  el.status.textContent = "Loading…";
}

export function fail(message) {
  padState.error = message;
  el.status.textContent = message;
  el.status.classList.add("error");
}
