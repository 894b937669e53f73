// The Streamlit component protocol (API version 1), spoken directly with postMessage so
// the component needs no build step. The drag pad has the same module: Streamlit serves
// each component from its own folder only, so the two cannot share one file.
function send(type, data) {
  window.parent.postMessage(Object.assign({ isStreamlitMessage: true, type: type }, data), "*");
}

export function setComponentValue(value) {
  send("streamlit:setComponentValue", { value: value, dataType: "json" });
}

export function setFrameHeight(height) {
  send("streamlit:setFrameHeight", { height: height });
}

// Calls onRender(args, theme) for every render Python sends, then says the frame is ready.
export function start(onRender) {
  window.addEventListener("message", (event) => {
    const msg = event.data;
    if (msg && msg.type === "streamlit:render") onRender(msg.args, msg.theme);
  });
  send("streamlit:componentReady", { apiVersion: 1 });
}
