// The plane's overlay, redrawn on every update: q(z|x)'s mean and its 1σ and 2σ
// ellipses at their true size, and, since a trained encoder's σ is often a few
// hundredths (a pixel on the plane), a zoom inset around μ that says how much it
// magnifies.
import { withAlpha } from "../components.drag_pad.drag_pad/theme.js";
import { px, py } from "../components.drag_pad.drag_pad/view.js";

const INSET_FRACTION = 0.36; // of the plot's width
const INSET_MIN = 120; // px: room for its two labels
const INSET_FILL = 0.42; // the 2σ ellipse's larger half-axis, as a fraction of the inset

function ellipses(ctx, cx, cy, rx, ry, color, width) {
  ctx.strokeStyle = color;
  ctx.lineWidth = width;
  for (const [k, dash] of [
    [1, []],
    [2, [5, 4]],
  ]) {
    ctx.setLineDash(dash);
    ctx.beginPath();
    ctx.ellipse(cx, cy, Math.max(k * rx, 0.5), Math.max(k * ry, 0.5), 0, 0, 2 * Math.PI);
    ctx.stroke();
  }
  ctx.setLineDash([]);
}

function muDot(ctx, x, y, c, q) {
  ctx.lineWidth = 2;
  ctx.strokeStyle = c.bg;
  ctx.fillStyle = q;
  ctx.beginPath();
  ctx.arc(x, y, 5, 0, 2 * Math.PI);
  ctx.fill();
  ctx.stroke();
}

const zoomText = (z) => "\u00d7" + (z < 10 ? z.toFixed(1) : String(Math.round(z)));

// state: {view, colors, points, args, mu, sigma}; canvas: the overlay. Returns the
// inset's zoom factor (1 means true size), or null when there is nothing to show.
export function drawPosterior(state, canvas, q) {
  const { view, colors: c, mu, sigma, points } = state;
  if (!view) return null;
  const dpr = canvas.width / view.size;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, view.size, view.size);
  if (!mu) return null;
  const font = getComputedStyle(document.body).fontFamily;
  const mx = px(view, mu[0]);
  const my = py(view, mu[1]);

  // The inset: top right of the plot, centred on μ.
  const s = Math.round(Math.min(view.plotW / 2, Math.max(INSET_MIN, view.plotW * INSET_FRACTION)));
  const ix = view.left + view.plotW - s - 6;
  const iy = view.top + 6;
  const scale = Math.max(view.scale, (INSET_FILL * s) / (2 * Math.max(sigma[0], sigma[1])));
  const zoom = scale / view.scale;
  const X = (x) => ix + s / 2 + (x - mu[0]) * scale;
  const Y = (y) => iy + s / 2 - (y - mu[1]) * scale;

  // A leader from μ on the plane to the inset, so the eye finds which point it magnifies.
  ctx.strokeStyle = withAlpha(q, 0.55);
  ctx.lineWidth = 1.2;
  ctx.beginPath();
  ctx.moveTo(mx, my);
  ctx.lineTo(ix + s / 2, iy + s);
  ctx.stroke();

  ctx.save();
  ctx.beginPath();
  ctx.rect(view.left, view.top, view.plotW, view.plotH);
  ctx.clip();
  ellipses(ctx, mx, my, sigma[0] * view.scale, sigma[1] * view.scale, q, 2);
  muDot(ctx, mx, my, c, q);
  ctx.restore();

  ctx.fillStyle = c.bg;
  ctx.fillRect(ix, iy, s, s);
  ctx.strokeStyle = withAlpha(c.text, 0.5);
  ctx.lineWidth = 1;
  ctx.strokeRect(ix + 0.5, iy + 0.5, s - 1, s - 1);
  ctx.save();
  ctx.beginPath();
  ctx.rect(ix, iy, s, s);
  ctx.clip();
  if (points) {
    // The test digits that fall inside the inset, so the magnified ellipse has neighbours.
    const palette = (state.args && state.args.palette) || [];
    const half = s / 2 / scale;
    ctx.globalAlpha = 0.6;
    const { xy, labels, n } = points;
    for (let i = 0; i < n; i++) {
      const x = xy[2 * i];
      const y = xy[2 * i + 1];
      if (Math.abs(x - mu[0]) > half || Math.abs(y - mu[1]) > half) continue;
      ctx.fillStyle = palette[labels[i] % palette.length] || c.text;
      ctx.beginPath();
      ctx.arc(X(x), Y(y), 2, 0, 2 * Math.PI);
      ctx.fill();
    }
    ctx.globalAlpha = 1;
  }
  ellipses(ctx, X(mu[0]), Y(mu[1]), sigma[0] * scale, sigma[1] * scale, q, 2);
  muDot(ctx, X(mu[0]), Y(mu[1]), c, q);
  ctx.fillStyle = c.text;
  ctx.font = "bold 13px " + font;
  ctx.textAlign = "left";
  ctx.textBaseline = "top";
  const label = zoom < 1.05 ? "true size" : "zoom " + zoomText(zoom);
  ctx.fillText(label, ix + 5, iy + 4);
  ctx.font = "12px " + font;
  ctx.textBaseline = "bottom";
  ctx.fillText("q(z|x): 1σ, 2σ", ix + 5, iy + s - 4);
  ctx.restore();
  return zoom;
}
