// Stands in for Streamlit (protocol.js) in the file that `python -m vae export-html`
// writes: the pad's arguments come from the page itself, the plane is sized to the
// window, and nothing is sent anywhere: no server hears a release.
import { el } from "./dom.js";

const MARGIN = 12; // px kept free below the plane, so its bottom axis is in view

export function setComponentValue() {}

export function setFrameHeight() {} // a page of its own scrolls; there is no frame to size

function theme() {
  return window.matchMedia("(prefers-color-scheme: dark)").matches ? { base: "dark" } : {};
}

// The plane as tall as the window allows below what sits above it. If the image sits
// below the plane (a layout for narrow screens), it must fit in the window too: a
// finger dragging on the plane should see the image change.
function fittedHeight() {
  const plane = el.plane.getBoundingClientRect();
  const image = el.image.getBoundingClientRect();
  let room = window.innerHeight - (plane.top + window.scrollY) - MARGIN;
  if (image.top >= plane.bottom) room -= image.bottom - plane.bottom;
  return Math.floor(room);
}

// Calls onRender(args, theme) as Streamlit would, again whenever the window's size changes.
export function start(onRender) {
  const about = document.getElementById("about");
  if (about) (el.foot || el.side).appendChild(about);
  const args = window.vaeExport.args;
  let height = null;
  const fit = () => {
    // Twice at most: where the plane sits depends on the layout the first pass chose.
    for (let pass = 0; pass < 2; pass++) {
      const h = fittedHeight();
      if (h === height) return;
      height = h;
      onRender(Object.assign({}, args, { height: h }), theme());
    }
  };
  fit();
  window.addEventListener("resize", () => requestAnimationFrame(fit));
}
