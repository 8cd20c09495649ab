# Local all-in-one runtime. `make up` installs what is missing, then starts every service.
.PHONY: bootstrap up down status

VENV_BIN := .venv/bin

bootstrap:
	scripts/bootstrap.sh

up: bootstrap
	$(VENV_BIN)/appliance up

down:
	$(VENV_BIN)/appliance down

status:
	$(VENV_BIN)/appliance status

# The test suite runs against the real local services, so it brings them up first; after
# lint, the playbooks against booted Debian 12 nodes (test-deploy, below).
.PHONY: test lint
test: up
	$(VENV_BIN)/python -m pytest
	$(MAKE) lint
	$(MAKE) test-deploy

lint: bootstrap
	$(VENV_BIN)/ruff check .
	$(VENV_BIN)/ruff format --check .
	$(VENV_BIN)/mypy
	$(VENV_BIN)/yamllint -s .
	$(VENV_BIN)/ansible-lint --offline playbooks/

# Real Ansible against booted Debian 12 nodes (debootstrap + systemd-nspawn, as root): the
# offline bundle and root filesystem built once per run; an online single-node install from
# mirror and directory nodes; preflight refusals; one offline deploy shared by a chat through
# nginx, changed=0 on a second run, status, a GPU node added, a rolling upgrade while users
# chat and a backup, then a restore onto a fresh control node. About 30 minutes on two cores.
.PHONY: test-deploy
test-deploy: bootstrap
	$(VENV_BIN)/python -m pytest tests/deploy --durations=0

# The reliability proof at full scale: every chaos scenario (load, faults, hostile input,
# backup drill; within 30 minutes on two cores), then ops/reliability/REPORT.md and its
# plots from the recorded figures. The report is written even when a scenario fails; the
# target then fails too.
.PHONY: chaos
chaos: up
	rm -rf var/chaos/results
	CHAOS_SCALE=full $(VENV_BIN)/python -m pytest tests/chaos --junitxml=var/chaos/junit.xml; \
	status=$$?; $(VENV_BIN)/python -m bench.reliability.report --collect; exit $$status

# The web UI in a real browser (Debian's chromium) against the running appliance.
.PHONY: e2e screenshots
e2e: up
	$(VENV_BIN)/python -m pytest tests/e2e

screenshots: up
	$(VENV_BIN)/python -m bench.screenshots
