// Pointer (mouse, pen, touch) and keyboard input on the plane.
import { el } from "./dom.js";
import { showHint } from "./hint.js";
import { sendFrameHeight } from "./layout.js";
import { show, showMarker } from "./show.js";
import { release, sendLive } from "./values.js";
import { clampToView, insidePlot, px, py, refreshRect, toZ } from "./view.js";

const KEY_STEP = 0.05; // z units per arrow press; Shift multiplies by 5
const SEND_DELAY = 300; // ms after the last arrow key before the point goes to Python
const KEY_MOVES = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] };

function interactive(state) {
  return (
    state.view &&
    state.marker &&
    (state.decoder || state.decoderUrl === null) &&
    state.points !== null
  );
}

function setMarkerFrom(state, clientX, clientY) {
  const [x, y] = clampToView(state.view, ...toZ(state, clientX, clientY));
  state.marker[0] = x;
  state.marker[1] = y;
}

function onPointerDown(state, e) {
  refreshRect(state);
  if (!interactive(state) || state.dragging !== null) return; // a second finger does not take over
  if (e.pointerType === "mouse" && e.button !== 0) return;
  const kind = e.pointerType === "touch" ? "touch" : "mouse";
  if (kind !== state.lastPointer) {
    // A laptop with a touch screen: the hint follows the hand in use.
    state.lastPointer = kind;
    showHint(state);
    sendFrameHeight();
  }
  if (!insidePlot(state, e.clientX, e.clientY)) return;
  e.preventDefault();
  const plane = el.plane;
  plane.classList.remove("keys");
  state.pointerFocus = true;
  plane.focus({ preventScroll: true });
  state.pointerFocus = false;
  const r = state.planeRect;
  const dx = px(state.view, state.marker[0]) - (e.clientX - r.left);
  const dy = py(state.view, state.marker[1]) - (e.clientY - r.top);
  const hit = e.pointerType === "mouse" ? 20 : 36; // a fingertip is wider than a cursor
  state.grab = Math.hypot(dx, dy) <= hit ? [dx, dy] : [0, 0]; // grab the marker, or jump there
  state.dragging = e.pointerId;
  plane.setPointerCapture(e.pointerId);
  state.hoverZ = null;
  setMarkerFrom(state, e.clientX + state.grab[0], e.clientY + state.grab[1]);
  show(state, state.marker, e.timeStamp);
  sendLive(state);
}

function onPointerMove(state, e) {
  if (!interactive(state)) return;
  if (state.dragging === e.pointerId) {
    setMarkerFrom(state, e.clientX + state.grab[0], e.clientY + state.grab[1]);
    show(state, state.marker, e.timeStamp);
    sendLive(state);
  } else if (state.dragging === null && e.pointerType === "mouse" && state.decoder) {
    // Hover: preview the decoding under the pointer without moving the marker.
    if (insidePlot(state, e.clientX, e.clientY)) {
      const [x, y] = clampToView(state.view, ...toZ(state, e.clientX, e.clientY));
      const hoverZ = Float64Array.from(state.marker);
      hoverZ[0] = x;
      hoverZ[1] = y;
      state.hoverZ = hoverZ;
      show(state, hoverZ, e.timeStamp, true);
    } else if (state.hoverZ) {
      showMarker(state);
    }
  }
}

function onPointerEnd(state, e) {
  if (state.dragging !== e.pointerId) return;
  state.dragging = null;
  if (el.plane.hasPointerCapture(e.pointerId)) el.plane.releasePointerCapture(e.pointerId);
  showMarker(state);
  release(state);
}

function onKeyDown(state, e) {
  if (!interactive(state)) return;
  const step = KEY_STEP * (e.shiftKey ? 5 : 1);
  const marker = state.marker;
  let target;
  if (KEY_MOVES[e.key]) {
    const [mx, my] = KEY_MOVES[e.key];
    target = [marker[0] + mx * step, marker[1] + my * step];
  } else if (e.key === "Home") {
    target = [0, 0];
  } else {
    return;
  }
  e.preventDefault();
  el.plane.classList.add("keys");
  const [x, y] = clampToView(state.view, target[0], target[1]);
  marker[0] = x;
  marker[1] = y;
  state.hoverZ = null;
  show(state, marker, e.timeStamp);
  sendLive(state);
  clearTimeout(state.sendTimer);
  state.sendTimer = setTimeout(() => release(state), SEND_DELAY);
}

export function bindInput(state) {
  const plane = el.plane;
  // Focus that arrives by the Tab key shows the ring at once; focus by a click does not.
  plane.addEventListener("focus", () => {
    if (!state.pointerFocus) plane.classList.add("keys");
  });
  plane.addEventListener("pointerenter", () => refreshRect(state));
  plane.addEventListener("pointerdown", (e) => onPointerDown(state, e));
  plane.addEventListener("pointermove", (e) => onPointerMove(state, e));
  plane.addEventListener("pointerup", (e) => onPointerEnd(state, e));
  plane.addEventListener("pointercancel", (e) => onPointerEnd(state, e));
  plane.addEventListener("pointerleave", () => {
    if (state.dragging === null && state.hoverZ) showMarker(state);
  });
  plane.addEventListener("keydown", (e) => onKeyDown(state, e));
}
