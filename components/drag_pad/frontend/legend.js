// The class legend beside the plane: one swatch per class, in the points' palette.
import { el } from "./dom.js";

export function drawLegend(args) {
  const names = (args && args.class_names) || [];
  const palette = (args && args.palette) || [];
  el.legend.classList.toggle("long", names.some((s) => s.length > 4));
  el.legend.innerHTML = "";
  names.forEach((name, i) => {
    const row = document.createElement("div");
    const sw = document.createElement("span");
    sw.className = "sw";
    sw.style.background = palette[i % palette.length];
    row.appendChild(sw);
    row.appendChild(document.createTextNode(name));
    el.legend.appendChild(row);
  });
}
