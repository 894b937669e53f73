// The plane's geometry: latent z <-> pixels of the plane, for a view made by layout.js.
// view = {size, left, top, plotW, plotH, scale, x0, x1, y0, y1}: the plot's square,
// its offset in the plane and its z range, one scale on both axes.
import { el } from "./dom.js";

const MARGIN = { left: 50, right: 10, top: 10, bottom: 50 };

export function makeView(size, extent) {
  // Equal scale on both axes: widen the shorter range of the extent to fill the square.
  const [ex0, ex1, ey0, ey1] = extent || [-4, 4, -4, 4];
  const plotW = size - MARGIN.left - MARGIN.right;
  const plotH = size - MARGIN.top - MARGIN.bottom;
  const scale = Math.min(plotW / (ex1 - ex0), plotH / (ey1 - ey0));
  const cx = (ex0 + ex1) / 2;
  const cy = (ey0 + ey1) / 2;
  return {
    size: size,
    left: MARGIN.left,
    top: MARGIN.top,
    plotW: plotW,
    plotH: plotH,
    scale: scale,
    x0: cx - plotW / scale / 2,
    x1: cx + plotW / scale / 2,
    y0: cy - plotH / scale / 2,
    y1: cy + plotH / scale / 2,
  };
}

export const px = (view, x) => view.left + (x - view.x0) * view.scale;
export const py = (view, y) => view.top + (view.y1 - y) * view.scale;

// Read when the pointer enters or presses rather than on every move: reading the box
// after the readout's text changed would force a layout each frame.
export function refreshRect(state) {
  state.planeRect = el.plane.getBoundingClientRect();
}

export function toZ(state, clientX, clientY) {
  const { view, planeRect: r } = state;
  const x = view.x0 + (clientX - r.left - view.left) / view.scale;
  const y = view.y1 - (clientY - r.top - view.top) / view.scale;
  return [x, y];
}

const round3 = (v) => Math.round(v * 1000) / 1000;

export function clampToView(view, x, y) {
  return [
    round3(Math.min(view.x1, Math.max(view.x0, x))),
    round3(Math.min(view.y1, Math.max(view.y0, y))),
  ];
}

export function insidePlot(state, clientX, clientY) {
  const { view, planeRect: r } = state;
  const x = clientX - r.left - view.left;
  const y = clientY - r.top - view.top;
  return x >= 0 && y >= 0 && x <= view.plotW && y <= view.plotH;
}

// Where (z1, z2) is drawn, in this frame's client pixels.
export function clientPoint(state, z1, z2) {
  refreshRect(state);
  const r = state.planeRect;
  return { x: r.left + px(state.view, z1), y: r.top + py(state.view, z2) };
}
