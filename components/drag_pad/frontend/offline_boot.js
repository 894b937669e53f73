// Starts the page that `python -m vae export-html` writes: one file, opened from disk.
// A page opened from file:// cannot load ES modules from other files, so the drag pad's
// modules travel inside the page as text (the JSON block #vae-export). Each becomes a
// blob: URL, its `from "./x.js"` pointed at the blob: URL of x, made before it:
// vae/export_html.py lists the modules with every module after the ones it imports.
// A classic script, not a module, so it runs from an inline <script> as it is.
(function () {
  const block = document.getElementById("vae-export");
  const data = JSON.parse(block.textContent);
  block.remove(); // the text is parsed: the strings below are all the page keeps
  const urls = {};
  for (const [name, source] of data.modules) {
    const linked = source.replace(/(\bfrom\s*)"\.\/([\w.-]+\.js)"/g, (whole, from, dep) =>
      urls[dep] ? from + JSON.stringify(urls[dep]) : whole,
    );
    urls[name] = URL.createObjectURL(new Blob([linked], { type: "text/javascript" }));
  }
  delete data.modules;
  window.vaeExport = data;
  import(urls[data.entry]).catch((err) => {
    const status = document.getElementById("status");
    status.textContent = "This page could not start: " + err.message;
    status.classList.add("error");
  });
})();
