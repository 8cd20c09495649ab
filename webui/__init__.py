"""The appliance's web UI: a Gradio app behind Keycloak sign-in that talks only to the gateway.

It runs as its own process (``python -m webui``) on 127.0.0.1:7860 and holds each user's
tokens server-side; the browser only ever gets a signed, HttpOnly session cookie.
"""
