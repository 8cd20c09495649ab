"""Provisioning: the ansible-runner wrapper behind ``appliance deploy`` and friends, the
launch profiles the ``vllm`` role renders, and the offline bundle."""
