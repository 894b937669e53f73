// Fetching what the pad draws: the exported decoder and the encoded test set, served as
// static files from this folder (so they cross the wire once, not with every rerun).
import { load } from "./network.js";

// The points file: float32 x, float32 y per point, then one uint8 label per point.
export async function loadPoints(url) {
  const resp = await fetch(url);
  if (!resp.ok) throw new Error("could not fetch the points (" + resp.status + ")");
  const buf = await resp.arrayBuffer();
  const n = buf.byteLength / 9;
  if (!Number.isInteger(n)) throw new Error("the points file is malformed");
  return { xy: new Float32Array(buf, 0, 2 * n), labels: new Uint8Array(buf, 8 * n, n), n: n };
}

// stem is publish_decoder's "models/<digest>": the spec is <stem>.json, the weights <stem>.bin.
export function loadDecoder(stem) {
  return load(stem + ".json", stem + ".bin");
}
