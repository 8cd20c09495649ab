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
