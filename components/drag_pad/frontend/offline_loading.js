// Stands in for loading.js in the file that `python -m vae export-html` writes: the
// decoder and the points come from the page itself (base64 in its data block, which
// offline_boot.js puts on window.vaeExport), so nothing is fetched.
import { fromSpec } from "./network.js";

function bytes(base64) {
  const text = atob(base64);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out.buffer;
}

// name is args.points_url: float32 xy [2N] and uint8 labels [N], little-endian.
export async function loadPoints(name) {
  const p = window.vaeExport[name];
  const labels = new Uint8Array(bytes(p.labels));
  return { xy: new Float32Array(bytes(p.xy)), labels: labels, n: labels.length };
}

// name is args.decoder_url: the spec and float32 weights that vae/export.py makes.
export async function loadDecoder(name) {
  const d = window.vaeExport[name];
  return fromSpec(d.spec, bytes(d.weights));
}
