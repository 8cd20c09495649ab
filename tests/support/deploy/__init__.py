"""Booted Debian 12 nodes for the deployment suite (``tests/deploy``): the nodes themselves
(``nodes``: debootstrap, systemd-nspawn, network namespaces), the offline bundle
(``bundle``), the package mirror (``mirror``), the LDAP directory (``directory``), what
a deployed site answers (``deployed``), and a site's inventory made from an example the way
ops/runbooks/install.md says (``runbook``: its tagged shell blocks, run as written). May
import ``appliance`` and ``webui``; nothing of a suite. The suite's fixtures, in
``tests/deploy/conftest.py``, put these together."""
