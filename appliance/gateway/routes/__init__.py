"""HTTP routes: each handler is a few lines that call into the gateway's services."""
