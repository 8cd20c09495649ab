"""``python -m webui``: serve the web UI."""

from webui.app import main

main()
