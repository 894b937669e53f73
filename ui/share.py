"""The line under a page's title: the active model's name and "Copy link to this view".

The address bar already holds the view (ui/url_state.py keeps it there); the button
copies it in one click. A page served over plain http to other machines (a lecture
hall's laptop on the LAN) is not a secure context, and there the browser has no
clipboard API: the button then shows the link, selected, to copy by hand.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ui import state
from vae import checkpoint

COPY_LABEL = "Copy link to this view"
COPIED_LABEL = "Link copied ✓"
BUTTON_HEIGHT = 44  # px: the iframe's height; a finger-sized target on a phone

_ICON = (
    '<svg aria-hidden="true" viewBox="0 0 24 24" width="18" height="18" fill="currentColor">'
    '<path d="M3.9 12c0-1.71 1.39-3.1 3.1-3.1h4V7H7a5 5 0 0 0 0 10h4v-1.9H7c-1.71 0-3.1-1.39'
    "-3.1-3.1zM8 13h8v-2H8v2zm9-6h-4v1.9h4c1.71 0 3.1 1.39 3.1 3.1s-1.39 3.1-3.1 3.1h-4V17h4a5"
    ' 5 0 0 0 0-10z"/></svg>'
)
# Plain HTML and JavaScript: nothing to build, nothing fetched from elsewhere. The
# iframe is same-origin (srcdoc), so it reads the page's address and its text colour.
# The icon is inline SVG (Material's "link"): an emoji is a blank box on a machine
# without an emoji font.
_BUTTON = (
    """
<style>
  html, body { margin: 0; background: transparent; overflow: hidden; }
  body { font: 15px "Source Sans Pro", "Source Sans 3", sans-serif; }
  button, input {
    box-sizing: border-box; height: 40px; margin: 2px 0; border-radius: 8px;
    font: inherit; color: inherit; background: transparent;
    border: 1px solid rgba(128, 128, 128, 0.45);
  }
  button {
    display: inline-flex; align-items: center; gap: 6px;
    padding: 0 14px; cursor: pointer; white-space: nowrap;
  }
  button:hover, button:focus-visible { border-color: currentColor; }
  input { width: 100%; padding: 0 8px; }
  [hidden] { display: none !important; }
</style>
<button id="copy" type="button" aria-live="polite">__ICON__<span id="label">__COPY__</span></button>
<input id="link" readonly hidden aria-label="Link to this view: copy it by hand">
<script>
  const button = document.getElementById("copy");
  const link = document.getElementById("link");
  const label = document.getElementById("label");
  try {
    document.body.style.color = getComputedStyle(window.parent.document.body).color;
  } catch (e) {}
  function showLink(href) {
    link.value = href;
    button.hidden = true;
    link.hidden = false;
    link.focus();
    link.select();
  }
  button.addEventListener("click", async () => {
    const href = window.parent.location.href;
    try {
      await navigator.clipboard.writeText(href);
      label.textContent = "__COPIED__";
      setTimeout(() => { label.textContent = "__COPY__"; }, 2500);
    } catch (e) {
      showLink(href);
    }
  });
  link.addEventListener("blur", () => { link.hidden = true; button.hidden = false; });
</script>
""".replace("__COPIED__", COPIED_LABEL)
    .replace("__COPY__", COPY_LABEL)
    .replace("__ICON__", _ICON)
)


def copy_link_button() -> None:
    """The button that copies the page's address, which holds the view."""
    st.iframe(_BUTTON, height=BUTTON_HEIGHT, width="stretch")


def model_line(ckpt: checkpoint.Checkpoint) -> str:
    c = ckpt.config
    return f"Model **`{ckpt.path.name}`** · {c.dataset}, J = {c.latent_dim}, {c.decoder} decoder"


def share_bar(ckpt: checkpoint.Checkpoint) -> None:
    """Names the active model (it survives a reload: it is in the URL) and copies the link."""
    name, button = st.columns([3, 1], vertical_alignment="center")
    name.markdown(model_line(ckpt))
    with button:
        copy_link_button()


def name_active() -> None:
    """Names the active model without loading it: for a page that does not use it."""
    st.markdown(
        f"Active model **`{Path(state.active_path()).name}`**: training leaves it active; "
        "choose a finished run on the **Model** page."
    )
