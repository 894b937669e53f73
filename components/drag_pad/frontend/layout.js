// Sizes of the plane, the image and the side column for the frame's width, and the
// frame's height sent to Streamlit.
import { el } from "./dom.js";
import { setFrameHeight } from "./protocol.js";
import { makeView, refreshRect } from "./view.js";

const SIDE_MIN = 224; // px: room for the readout's widest line, "p(z) = 1.23×10⁻⁵"
const GAP = 20; // px between the plane and the side column (as in the CSS)

// Returns true when the canvases were resized (so the layers need drawing again).
export function layout(state) {
  const args = state.args;
  const width = Math.max(280, document.documentElement.clientWidth || window.innerWidth);
  const height = Math.max(320, (args && args.height) || 560);
  // The image: a whole number of screen pixels per model pixel, 6 to 12 (168-336 px for
  // 28 px), about a third of the width; the side column is wide enough for the readout.
  const h = state.imageShape ? state.imageShape[0] : 28;
  const w = state.imageShape ? state.imageShape[1] : 28;
  let zoom = Math.max(6, Math.min(12, Math.floor((width * 0.33) / w)));
  let sideW = Math.max(zoom * w, SIDE_MIN);
  const stacked = width - sideW - GAP < 300;
  if (stacked) {
    zoom = Math.max(4, Math.min(12, Math.floor(Math.min(width, 336) / w)));
    sideW = width;
  }
  const size = stacked ? Math.min(width, height) : Math.min(width - sideW - GAP, height);
  el.pad.classList.toggle("stacked", stacked);
  el.side.style.width = sideW + "px";
  el.image.style.width = zoom * w + "px";
  el.image.style.height = zoom * h + "px";

  const key = [size, window.devicePixelRatio, JSON.stringify(args && args.extent)].join("|");
  if (key === state.sizeKey && state.view) return false;
  state.sizeKey = key;
  const dpr = window.devicePixelRatio || 1;
  el.plane.style.width = el.plane.style.height = size + "px";
  for (const c of [el.base, el.overlay]) {
    c.width = Math.round(size * dpr);
    c.height = Math.round(size * dpr);
    c.style.width = c.style.height = size + "px";
  }
  refreshRect(state);
  state.view = makeView(size, args && args.extent);
  return true;
}

export function sendFrameHeight() {
  setFrameHeight(Math.ceil(el.pad.getBoundingClientRect().height) + 6);
}
