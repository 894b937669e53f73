"""The server's configuration: upload cap, XSRF, hidden tracebacks, the shared-server switch."""

from __future__ import annotations

import tomllib

from page_sandbox import (
    ROOT,
    button,
    open_train_page,
    runs_folder,  # noqa: F401 (fixture)
    tiny_mnist,  # noqa: F401 (fixture)
)

from vae import upload


def test_config_caps_uploads_and_hides_tracebacks():
    path = ROOT / ".streamlit" / "config.toml"
    config = tomllib.loads(path.read_text())
    assert config["server"]["maxUploadSize"] == 16
    # One cap: the server's in MB, the app's (checkpoints and digits alike) in bytes.
    assert upload.MAX_UPLOAD_BYTES == config["server"]["maxUploadSize"] * 2**20 == 16 * 2**20
    lines = path.read_text().splitlines()
    why = lines[lines.index("maxUploadSize = 16") - 1]
    assert why.startswith("#") and "16 MB" in why and "checkpoints" in why
    assert config["server"]["enableXsrfProtection"] is True
    assert config["client"]["showErrorDetails"] == "none"
    readme = (ROOT / "README.md").read_text()
    assert "VAE_SHARED_SERVER=1" in readme


def test_shared_server_refuses_a_forged_start(runs, tiny_data, monkeypatch):
    monkeypatch.setenv("VAE_SHARED_SERVER", "1")
    at = open_train_page()
    start = button(at, "Start training")
    assert start.disabled
    start._value = True  # what a forged websocket message could send
    at.run()
    assert not at.exception and not at.error
    assert "train_job" not in at.session_state and list(runs.iterdir()) == []
    assert "switched off on this shared server" in at.info[0].value
