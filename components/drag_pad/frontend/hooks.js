// What tests and benchmarks read from the page:
//   window.padState = {ready, mode ("browser" | "server"), z, probs, marker, hovering,
//                      sent, error}
//     z and probs describe the image on screen (probs: Float32Array, H*W*C, HWC order);
//     marker is the marker's z; sent is the last value sent to Python.
//   window.padStats = {latencies, frames, decodeMs, paints, moves, cap}
//     latencies: ms from the pointer (or key) event's timeStamp to the end of the frame's
//     drawing (image, marker, readout); frames: ms from the event to the next animation
//     frame (the paint follows it);
//     decodeMs: decode time alone; paints: performance.now() at each draw (for fps).
//     Each list keeps the last `cap` entries.
//   window.padPoint(z1, z2) -> {x, y}: where that point is drawn, in client pixels.
const CAP = 5000;

export const padStats = { latencies: [], frames: [], decodeMs: [], paints: [], moves: 0, cap: CAP };
export const padState = {
  ready: false,
  mode: null,
  z: null,
  probs: null,
  marker: null,
  hovering: false,
  sent: null,
  error: null,
};
window.padStats = padStats;
window.padState = padState;

export function record(list, v) {
  if (list.length >= CAP) list.shift();
  list.push(v);
}

export function exposePadPoint(fn) {
  window.padPoint = fn;
}
