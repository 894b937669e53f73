// The decoded image and its caption.
import { el, setText } from "./dom.js";

// probs: H*W*C probabilities, HWC order; shape: [H, W, C]. Copied into one reused buffer.
// canvas: the image's canvas; a page with two images passes each its own.
export function drawImage(state, probs, shape, canvas = el.image) {
  const [h, w, ch] = shape;
  if (canvas.width !== w || canvas.height !== h || !state.imageData) {
    canvas.width = w;
    canvas.height = h;
    state.imageData = canvas.getContext("2d").createImageData(w, h);
  }
  const d = state.imageData.data;
  for (let p = 0, n = h * w; p < n; p++) {
    const o = 4 * p;
    const v0 = probs[p * ch];
    if (ch >= 3) {
      d[o] = 255 * v0 + 0.5;
      d[o + 1] = 255 * probs[p * ch + 1] + 0.5;
      d[o + 2] = 255 * probs[p * ch + 2] + 0.5;
    } else {
      d[o] = d[o + 1] = d[o + 2] = 255 * v0 + 0.5; // Uint8ClampedArray clamps and rounds
    }
    d[o + 3] = 255;
  }
  canvas.getContext("2d").putImageData(state.imageData, 0, 0);
}

export function setCaption(state, preview) {
  setText(
    el.imageCap,
    preview
      ? "preview at the pointer: click to place"
      : state.decoder
        ? "decoded at the marker"
        : "decoded on the server at the marker",
  );
  el.imageCap.classList.toggle("preview", !!preview);
}
