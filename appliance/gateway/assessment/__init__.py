"""The GB/T 45654 assessment reports (``/api/assessment/reports``): handed in by the
assessment's service account (``appliance assess``) or the secadmin, read by the secadmin
and the auditor. The logic is in ``serving``, the tables and queries in ``appliance.assess``.
"""
