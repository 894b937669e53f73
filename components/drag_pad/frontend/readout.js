// The side column's text: z, p(z) and |z| at a point.
import { el, setText } from "./dom.js";
import { fmt2, fmtDensity } from "./format.js";
import { normSq, priorDensity } from "./prior.js";

export function readout(state, z) {
  setText(el.z1, fmt2(z[0]));
  setText(el.z2, fmt2(z[1]));
  const p = fmtDensity(priorDensity(z));
  if (p !== state.densityHtml) {
    el.p.innerHTML = p; // may hold a <sup>; rebuilt only when the figure changes
    state.densityHtml = p;
  }
  setText(el.r, Math.sqrt(normSq(z)).toFixed(2));
}
