// The one line that says how to move the marker, in the words of the input at hand: a
// finger cannot hover or press arrow keys, and a mouse user need not hear of tapping.
import { el, setText } from "./dom.js";

const MOUSE =
  "Drag the marker, or click to move it; hover to preview. Arrow keys move it once " +
  "the plane has focus (Shift: \u00d75). Let go to see the nearest test digits.";
const TOUCH =
  "Drag the marker with your finger, or tap to move it there. Lift your finger to " +
  "see the nearest test digits.";

// A touch screen whose main pointer is a finger: no hover, a coarse pointer.
const touchFirst = window.matchMedia("(hover: none) and (pointer: coarse)");

export function showHint(state) {
  const touch = state.lastPointer ? state.lastPointer === "touch" : touchFirst.matches;
  setText(el.hint, touch ? TOUCH : MOUSE);
  el.hint.dataset.input = touch ? "touch" : "mouse";
  el.plane.setAttribute("aria-label", "Latent plane. " + (touch ? TOUCH : MOUSE));
}
