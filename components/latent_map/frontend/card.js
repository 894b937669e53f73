// The hover card: a digit's thumbnail, cut from one sprite sheet of every test image by
// CSS (Plotly's own hover labels hold text only), beside the pointer.
const card = document.getElementById("card");
const thumb = document.getElementById("thumb");
const label = document.getElementById("label");

export function styleCard(theme) {
  card.style.background = (theme && theme.secondaryBackgroundColor) || "#F0F2F6";
  card.style.color = (theme && theme.textColor) || "#31333F";
}

// i: the test image's index; sprite: {url, cols, cell_w, cell_h, width, height, scale};
// ev: the pointer event, if any.
export function showCard(i, name, sprite, ev) {
  const s = sprite.scale;
  const col = i % sprite.cols;
  const row = Math.floor(i / sprite.cols);
  thumb.style.width = sprite.cell_w * s + "px";
  thumb.style.height = sprite.cell_h * s + "px";
  thumb.style.backgroundImage = "url(" + sprite.url + ")";
  thumb.style.backgroundSize = sprite.width * s + "px " + sprite.height * s + "px";
  thumb.style.backgroundPosition =
    -col * sprite.cell_w * s + "px " + -row * sprite.cell_h * s + "px";
  label.textContent = "#" + i + " · " + name;
  card.style.display = "block";
  // Keep the card beside the pointer and inside the frame.
  const x = ev && ev.clientX !== undefined ? ev.clientX : window.innerWidth / 2;
  const y = ev && ev.clientY !== undefined ? ev.clientY : window.innerHeight / 2;
  const w = card.offsetWidth;
  const h = card.offsetHeight;
  card.style.left = (x + 16 + w > window.innerWidth ? x - 16 - w : x + 16) + "px";
  card.style.top = Math.max(0, Math.min(y - h / 2, window.innerHeight - h)) + "px";
}

export function hideCard() {
  card.style.display = "none";
}
