// Drag pad: the latent plane with the test set's encodings, a draggable marker, and the
// decoded image beside it, redrawn on every pointer move.
//
// A Streamlit rerun costs 100 ms or more and Streamlit cannot stream drag events, so the
// decoder runs here (network.js, called from show.js) and Python hears only the release
// (values.js). This module only wires the others to one state object (state.js); the
// hooks tests and benchmarks read are described in hooks.js.
import { exposePadPoint } from "./hooks.js";
import { bindInput } from "./input.js";
import { start } from "./protocol.js";
import { onResize, render } from "./render.js";
import { createState } from "./state.js";
import { clientPoint } from "./view.js";

const state = createState();
bindInput(state);
window.addEventListener("resize", () => onResize(state));
// In presentation mode the plane follows the browser window's height, which a frame's
// own resize event does not report when only the height changes.
try {
  window.parent.addEventListener("resize", () => onResize(state));
} catch (err) {
  // A host page from another origin: the frame's width alone decides.
}
exposePadPoint((z1, z2) => clientPoint(state, z1, z2));
start((args, theme) => render(state, args, theme));
