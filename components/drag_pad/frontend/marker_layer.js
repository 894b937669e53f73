// The plane's overlay canvas, redrawn on every move: the marker, its radius from the
// prior's mean, and the hover ring.
import { el } from "./dom.js";
import { px, py } from "./view.js";

// canvas: the plane's overlay; a page with two planes passes each its own.
export function drawOverlay(state, canvas = el.overlay) {
  const { view, colors: c, marker, hoverZ } = state;
  if (!view) return;
  const dpr = canvas.width / view.size;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, view.size, view.size);
  if (!marker) return;
  const mx = px(view, marker[0]);
  const my = py(view, marker[1]);
  // A faint radius from the prior's mean: |z| is the readout's distance in σ.
  ctx.strokeStyle = c.radius;
  ctx.lineWidth = 1.2;
  ctx.beginPath();
  ctx.moveTo(px(view, 0), py(view, 0));
  ctx.lineTo(mx, my);
  ctx.stroke();
  if (hoverZ && state.dragging === null) {
    ctx.setLineDash([4, 3]);
    ctx.lineWidth = 2;
    ctx.strokeStyle = c.text;
    ctx.beginPath();
    ctx.arc(px(view, hoverZ[0]), py(view, hoverZ[1]), 10, 0, 2 * Math.PI);
    ctx.stroke();
    ctx.setLineDash([]);
  }
  ctx.lineWidth = 3;
  ctx.strokeStyle = c.bg;
  ctx.fillStyle = c.primary;
  ctx.beginPath();
  ctx.arc(mx, my, 11, 0, 2 * Math.PI);
  ctx.fill();
  ctx.stroke();
  ctx.lineWidth = 2;
  ctx.strokeStyle = c.primary;
  ctx.beginPath();
  ctx.arc(mx, my, 16, 0, 2 * Math.PI);
  ctx.stroke();
}
