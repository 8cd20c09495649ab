"""Provisioning: what the CLI needs to install and operate a site with Ansible.

``runner`` runs one playbook through ansible-runner and ``events`` follows its event stream
(progress, per-host counts, the failing task) for ``appliance deploy`` and friends;
``node_launch_plan`` is ``appliance render-launch``: the vLLM replicas the ``vllm`` role
starts on one node, decided by ``appliance.sizing``; ``bundle`` builds and verifies the
signed offline bundle, with ``locked_wheels`` gathering PyPI's own files of the hash-locked
requirements files for every wheel directory, ``repack`` rebuilding wheels from an installed
environment only for a vLLM build not on PyPI,
``sbom`` writing and checking its CycloneDX SBOM, ``controller_bundle`` adding what an
air-gapped controller installs from (its wheels, ``install-controller.sh``) and the
hash-pinned requirements of every wheel directory, and ``bundle_model`` telling which
catalogue model a bundle carries; ``site_checks`` is what the
commands that touch nodes check on the controller first (vault placeholders and weak
secrets, unresolvable nodes, a model key that is not the bundle's), reading the inventory
through Ansible's own loader in ``inventory_vars``.

May import ``errors`` and ``sizing``; never the gateway or the runtime. What the roles do
on a node lives in ``playbooks/``, not here: a new deployment step is a role task; a new
operator command is a playbook plus a command in ``appliance/cli/deploy_cmds.py``; a new
artefact in the offline bundle goes in ``bundle``; a new check of the inventory that needs
no node goes in ``site_checks`` (one line naming the variable and the fix), one that needs
the node in the ``preflight`` role.
"""
