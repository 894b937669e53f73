// The plane's base canvas, drawn once per size, theme or data: axes, the encoded test
// set, the prior's contours and the Manifold page's grid range.
import { el } from "./dom.js";
import { minus } from "./format.js";
import { withAlpha } from "./theme.js";
import { px, py } from "./view.js";

const PRIOR_LEVELS = [1, 2, 3];

function niceStep(range, target) {
  const raw = range / target;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 5, 10]) if (m * mag >= raw) return m * mag;
  return 10 * mag;
}

function haloText(ctx, text, x, y, halo) {
  ctx.save();
  ctx.setLineDash([]);
  ctx.lineWidth = 5;
  ctx.lineJoin = "round";
  ctx.strokeStyle = halo;
  ctx.strokeText(text, x, y);
  ctx.restore();
  ctx.fillText(text, x, y);
}

// canvas: the plane's base canvas; a page with two planes passes each its own.
export function drawBase(state, canvas = el.base) {
  const { view, colors: c, points, args } = state;
  if (!view) return;
  const X = (x) => px(view, x);
  const Y = (y) => py(view, y);
  const dpr = canvas.width / view.size;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, view.size, view.size);
  const { left, top, plotW, plotH } = view;
  const font = getComputedStyle(document.body).fontFamily;

  ctx.fillStyle = c.panel;
  ctx.fillRect(left, top, plotW, plotH);

  // Grid and ticks.
  const step = niceStep(Math.min(view.x1 - view.x0, view.y1 - view.y0), 8);
  ctx.font = "15px " + font;
  ctx.fillStyle = c.text;
  ctx.strokeStyle = withAlpha(c.text, 0.1);
  ctx.lineWidth = 1;
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (let v = Math.ceil(view.x0 / step) * step; v <= view.x1 + 1e-9; v += step) {
    const x = Math.round(X(v)) + 0.5;
    ctx.strokeStyle = withAlpha(c.text, Math.abs(v) < 1e-9 ? 0.28 : 0.1);
    ctx.beginPath();
    ctx.moveTo(x, top);
    ctx.lineTo(x, top + plotH);
    ctx.stroke();
    ctx.fillText(minus(String(+v.toFixed(6))), x, top + plotH + 6);
  }
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (let v = Math.ceil(view.y0 / step) * step; v <= view.y1 + 1e-9; v += step) {
    const y = Math.round(Y(v)) + 0.5;
    ctx.strokeStyle = withAlpha(c.text, Math.abs(v) < 1e-9 ? 0.28 : 0.1);
    ctx.beginPath();
    ctx.moveTo(left, y);
    ctx.lineTo(left + plotW, y);
    ctx.stroke();
    ctx.fillText(minus(String(+v.toFixed(6))), left - 8, y);
  }
  ctx.font = "italic 20px " + font;
  ctx.textAlign = "center";
  ctx.textBaseline = "bottom";
  ctx.fillText("z\u2081", left + plotW / 2, view.size - 4);
  ctx.save();
  ctx.translate(16, top + plotH / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textBaseline = "middle";
  ctx.fillText("z\u2082", 0, 0);
  ctx.restore();

  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top, plotW, plotH);
  ctx.clip();

  // The encoded test set, in data order (the test set is shuffled, so no class hides
  // another), translucent so dense regions read darker.
  if (points) {
    const palette = (args && args.palette) || [];
    const r = view.size > 500 ? 1.9 : 1.6;
    ctx.globalAlpha = c.dark ? 0.6 : 0.5;
    const { xy, labels, n } = points;
    let last = -1;
    for (let i = 0; i < n; i++) {
      const lab = labels[i];
      if (lab !== last) {
        ctx.fillStyle = palette[lab % palette.length] || c.text;
        last = lab;
      }
      ctx.beginPath();
      ctx.arc(X(xy[2 * i]), Y(xy[2 * i + 1]), r, 0, 2 * Math.PI);
      ctx.fill();
    }
    ctx.globalAlpha = 1;
  }

  // The prior's 1σ, 2σ, 3σ contours: circles, since p(z) = N(0, I).
  ctx.strokeStyle = withAlpha(c.text, 0.8);
  ctx.lineWidth = 1.6;
  ctx.setLineDash([2, 4]);
  for (const k of PRIOR_LEVELS) {
    ctx.beginPath();
    ctx.arc(X(0), Y(0), k * view.scale, 0, 2 * Math.PI);
    ctx.stroke();
  }

  // The Manifold page's grid range: a dashed square.
  const m = args && args.manifold_range;
  if (m) {
    ctx.setLineDash([8, 6]);
    ctx.lineWidth = 1.6;
    ctx.strokeStyle = withAlpha(c.text, 0.6);
    const x = X(m[0]);
    const y = Y(m[1]);
    const s = (m[1] - m[0]) * view.scale;
    ctx.strokeRect(x, y, s, s);
    ctx.font = "15px " + font;
    ctx.fillStyle = withAlpha(c.text, 0.85);
    ctx.textAlign = "left";
    ctx.textBaseline = "top";
    haloText(ctx, "manifold grid", x + 4, y + 4, c.panel);
  }
  ctx.setLineDash([]);
  // Labels last, with a halo, so no line or point crosses them.
  ctx.font = "bold 16px " + font;
  ctx.fillStyle = c.text;
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  for (const k of PRIOR_LEVELS) {
    const a = -Math.PI / 5; // lower right: clear of the manifold grid's label
    haloText(ctx, k + "\u03c3", X(k * Math.cos(a)), Y(k * Math.sin(a)), c.panel);
  }
  ctx.restore();
}
