"""On-premise DeepSeek-R1 appliance: gateway, audit log, retrieval, provisioning."""

__version__ = "0.1.0"
