"""The vLLM replicas the gateway forwards chats to, and the HTTP session that reaches them.

``pool`` health-checks the replicas (actively and passively), knows which models each
serves and picks the least loaded one for a chat; ``client`` makes the one pooled aiohttp
session. The settings, the admin API, the metrics and the audit log call a replica a "backend"
(the operator's word, kept there unchanged); inside the gateway it is a replica, one name
for one thing.

May import: ``appliance.errors``, ``appliance.settings`` and libraries; no other gateway
package. A change to how replicas are chosen, checked or failed over between goes here;
what is sent to them, and the relay of their answers, is in ``appliance.gateway.chat``.
"""
