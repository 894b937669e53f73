// Sizes of the plane, the image and the side column for the frame's width, and the
// frame's height sent to Streamlit.
import { el } from "./dom.js";
import { setFrameHeight } from "./protocol.js";
import { makeView, refreshRect } from "./view.js";

const SIDE_MIN = 224; // px: room for the readout's widest line, "p(z) = 1.23×10⁻⁵"
const SIDE_MIN_PRESENT = 300; // the same line at presentation size
const GAP = 20; // px between the plane and the side column (as in the CSS)
const PLANE_MIN = 300; // px: below this the image goes above the plane instead of beside it
const VIEWPORT_MARGIN = 16; // px kept free below the plane in presentation mode
// px of the side column that is not the image in presentation mode: its caption, the
// four readout lines at 36 px and the legend. The image gets the rest of the window's height.
const SIDE_TEXT_PRESENT = 300;

// Presentation mode: the plane as tall as the browser window allows below the frame's
// top. The frame is served from the app's own origin, so the window is readable; if a
// host page embeds the app from elsewhere, the height Python asked for is used instead.
function viewportHeight(fallback) {
  try {
    const frame = window.frameElement;
    const top = Math.max(0, frame.getBoundingClientRect().top);
    return Math.floor(window.parent.innerHeight - top - VIEWPORT_MARGIN);
  } catch (err) {
    return fallback;
  }
}

// Returns true when the canvases were resized (so the layers need drawing again).
export function layout(state) {
  const args = state.args;
  const present = !!(args && args.present);
  document.body.classList.toggle("present", present);
  const width = Math.max(280, document.documentElement.clientWidth || window.innerWidth);
  const asked = Math.max(320, (args && args.height) || 560);
  const height = present ? Math.max(320, viewportHeight(asked)) : asked;
  // The image: a whole number of screen pixels per model pixel, about a third of the
  // width (6 to 12 times, 16 on a projector); the side column fits the readout.
  const h = state.imageShape ? state.imageShape[0] : 28;
  const w = state.imageShape ? state.imageShape[1] : 28;
  const zoomMax = present ? Math.min(16, Math.floor((height - SIDE_TEXT_PRESENT) / h)) : 12;
  let zoom = Math.max(6, Math.min(zoomMax, Math.floor((width * 0.33) / w)));
  let sideW = Math.max(zoom * w, present ? SIDE_MIN_PRESENT : SIDE_MIN);
  const stacked = width - sideW - GAP < PLANE_MIN;
  if (stacked) {
    // A phone: the image beside its figures, above the plane, about 40% of the width.
    zoom = Math.max(3, Math.min(12, Math.floor((width * 0.4) / w)));
    sideW = width;
  }
  const size = stacked ? Math.min(width, height) : Math.min(width - sideW - GAP, height);
  el.pad.classList.toggle("stacked", stacked);
  el.side.style.width = el.foot.style.width = sideW + "px";
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
