// The pad's mutable state: one object, created once and handed to every module.
export function createState() {
  return {
    // From Python's last render.
    args: null,
    theme: {},
    colors: null, // themeColors() plus derived shades: worked out per theme, not per move
    lastReset: undefined, // the `reset` counter of the last render
    lastZInit: null, // JSON of the last z_init, so an unchanged one is ignored

    // What the pad shows.
    decoder: null, // fromSpec() object in browser mode
    decoderUrl: undefined, // undefined until the first render; null means server mode
    points: null, // {xy: Float32Array [2N], labels: Uint8Array [N], n}
    pointsUrl: null,
    imageShape: null, // [H, W, C]
    marker: null, // Float64Array [J]: the marker's z
    markerProbs: null, // copy of the marker's decoding, shown again when the hover ends
    hoverZ: null, // z under the pointer while hovering (browser mode)

    // Geometry.
    view: null, // {size, left, top, plotW, plotH, scale, x0, x1, y0, y1}
    sizeKey: "", // what the canvases were last sized for
    planeRect: null, // the plane's client box, read on pointer enter and press only

    // Input.
    dragging: null, // pointerId during a drag
    grab: [0, 0], // offset from the pointer to the marker's centre, in px
    lastPointer: null, // "touch" or "mouse": the input the hint speaks of, once one is used
    pointerFocus: false, // focus is arriving from a press, not the Tab key
    resizeQueued: false,

    // Values sent to Python.
    seq: 0,
    recentlySent: [], // JSON of recent z values sent, so their echo does not move the marker
    sendTimer: null, // the release that follows the last arrow key
    liveInFlight: 0, // server mode: time the last live value was sent (0 = none)
    livePending: false,

    // Drawing caches, reused on every move.
    imageData: null, // the one ImageData the decoded image is copied into
    densityHtml: null, // the p(z) readout last written
    lastDecodeMs: null, // smoothed decode time for the status line
    frameStart: null, // earliest event time not yet followed by an animation frame
  };
}
