// Sizes for the Compare frame: two planes and their images for the frame's width and
// the window's height, and the frame's height sent to Streamlit.
import { setFrameHeight } from "./protocol.js";
import { makeView } from "./view.js";

const GAP = 16; // px between the grid's columns (as in compare.html's CSS)
const PLANE_MIN = 260; // px: a narrower plane puts its image above it, or on a phone
// both images above both planes
const SIDE_MIN = 150; // px: room for a model's name beside its plane
const TEXT_BELOW = 90; // px under the planes: the z readout and the hint
const TEXT_BELOW_PRESENT = 50; // in presentation mode only the readout, at 28 px
const SIDE_TEXT = 60; // px of a stacked side that is not the image: its name and figure
const HEADER = 60; // px of the window under Streamlit's top bar
const VIEWPORT_MARGIN = 16;

// The browser window's height below the frame's top; ``fallback`` if it cannot be read.
function viewportHeight(fallback) {
  try {
    const top = Math.max(0, window.frameElement.getBoundingClientRect().top);
    return Math.floor(window.parent.innerHeight - top - VIEWPORT_MARGIN);
  } catch (err) {
    return fallback;
  }
}

function windowHeight(fallback) {
  try {
    return window.parent.innerHeight;
  } catch (err) {
    return fallback;
  }
}

// Returns true when a plane's canvases were resized (so its base needs drawing again).
export function layoutPlanes(panels, app, root, force) {
  const a = app.args;
  const present = !!a.present;
  const width = Math.max(280, document.documentElement.clientWidth || window.innerWidth);
  const asked = Math.max(300, a.height || 520);
  const shapes = panels.map((p) => (p.decoder ? p.decoder.outputShape : [28, 28, 1]));
  const h = Math.max(...shapes.map((s) => s[0]));
  const w = Math.max(...shapes.map((s) => s[1]));
  const half = (width - GAP) / 2;
  let zoom = Math.max(4, Math.min(present ? 14 : 9, Math.floor((half * 0.3) / w)));
  let sideW = Math.max(zoom * w, SIDE_MIN);
  const beside = half - sideW - GAP >= PLANE_MIN;
  const stacked = !beside && half < PLANE_MIN;
  const tops = !beside && !stacked;
  let size;
  if (stacked) {
    // A phone: both images in a row on top, then the planes one under the other, each
    // small enough that both fit the window with the images (once scrolled to the frame).
    zoom = Math.max(3, Math.min(8, Math.floor((half * 0.75) / w)));
    sideW = half;
    const room = (windowHeight(asked * 2) - HEADER - zoom * h - SIDE_TEXT - TEXT_BELOW) / 2;
    size = Math.floor(Math.min(width, Math.max(220, room)));
  } else if (tops) {
    // Too narrow for an image beside each plane: each image above its plane.
    zoom = Math.max(3, Math.min(5, Math.floor((half * 0.3) / w)));
    sideW = half;
    size = Math.floor(Math.min(half, asked - zoom * h - TEXT_BELOW));
  } else {
    const tall = present ? Math.max(300, viewportHeight(asked)) : asked;
    const below = present ? TEXT_BELOW_PRESENT : TEXT_BELOW;
    size = Math.floor(Math.min(half - sideW - GAP, tall - below));
  }
  root.classList.toggle("tops", tops);
  root.classList.toggle("stacked", stacked);
  let resized = false;
  for (const p of panels) {
    const [ph, pw] = p.decoder ? p.decoder.outputShape : [28, 28];
    p.image.style.width = zoom * pw + "px";
    p.image.style.height = zoom * ph + "px";
    p.side.style.width = beside ? sideW + "px" : "";
    const extent = p.spec && p.spec.extent;
    const key = [size, window.devicePixelRatio, JSON.stringify(extent)].join("|");
    if (!force && key === p.sizeKey && p.view) continue;
    p.sizeKey = key;
    const dpr = window.devicePixelRatio || 1;
    p.plane.style.width = p.plane.style.height = size + "px";
    for (const c of [p.base, p.overlay]) {
      c.width = Math.round(size * dpr);
      c.height = Math.round(size * dpr);
      c.style.width = c.style.height = size + "px";
    }
    p.view = makeView(size, extent);
    resized = true;
  }
  return resized;
}

export function sendHeight(root) {
  setFrameHeight(Math.ceil(root.getBoundingClientRect().height) + 6);
}
