// The page's elements (index.html), looked up once.
const byId = (id) => document.getElementById(id);

export const el = {
  pad: byId("pad"),
  plane: byId("plane"),
  base: byId("base"),
  overlay: byId("overlay"),
  side: byId("side"),
  foot: byId("foot"),
  hint: byId("hint"),
  image: byId("image"),
  imageCap: byId("image-cap"),
  status: byId("status"),
  legend: byId("legend"),
  z1: byId("z1-val"),
  z2: byId("z2-val"),
  p: byId("p-val"),
  r: byId("r-val"),
};

// Runs on every pointer move: touch the DOM only when the text really changes.
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}
