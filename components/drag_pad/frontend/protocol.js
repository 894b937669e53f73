// The Streamlit component protocol (API version 1), spoken directly with postMessage so
// the component needs no build step.
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
