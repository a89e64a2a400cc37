# Fresh machine with Python 3.11 + pip: `make replicate` or `make test`.
# Both install the exact versions of requirements.lock (`make lock` regenerates it from pyproject.toml).
PYTHON ?= python3
VENV   ?= .venv
CORES  ?= 2
CONFIG ?=
# SET="deep_linear.dynamics.snr=[3,5,6] deep_linear.noise_std=0.5": change single values (dotted keys, YAML values)
SET    ?=
BIN    := $(VENV)/bin
LOCK   := requirements.lock
OVERRIDE := results/config.override.yaml
CONFIGS  := $(strip $(CONFIG) $(if $(SET),$(OVERRIDE)))
SMK    := $(BIN)/snakemake --workflow-profile workflow/profiles/default --cores $(CORES) $(if $(CONFIGS),--configfiles $(CONFIGS))

.PHONY: setup replicate quick report test slurm-test lint lock benchmark clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r $(LOCK)
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

## every figure, claim, scorecard and the HTML report (CONFIG=config/quick.yaml for the CI scale)
replicate: setup
	$(BIN)/python -m spdl.config --configfile config/config.yaml $(addprefix --configfile ,$(CONFIG))
ifneq ($(SET),)
	mkdir -p results && $(BIN)/python -m spdl.config --configfile config/config.yaml $(addprefix --configfile ,$(CONFIG)) $(SET) > $(OVERRIDE)
endif
	$(SMK)
	$(SMK) --report results/report.html

quick:
	$(MAKE) replicate CONFIG=config/quick.yaml

## unit tests + an end-to-end quick-scale run in a temporary directory
test: setup
	$(BIN)/python -m pytest -q

## the Slurm tests only, on a single-node cluster started here and stopped afterwards (root/sudo, Debian)
slurm-test: setup
	.ci/slurm/start.sh
	$(BIN)/python -m pytest -q -s tests/test_slurm.py; status=$$?; .ci/slurm/stop.sh; exit $$status

lint: setup
	$(BIN)/snakemake --lint
	$(BIN)/ruff check .
	$(BIN)/snakefmt --check workflow/ Snakefile

## rewrite requirements.lock: pyproject.toml (+ test extras) resolved in a clean venv, every version pinned
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install -q --upgrade pip
	.lock-venv/bin/python -m pip install -q ".[test]"
	{ echo "# Exact versions of every package: 'make lock' resolved pyproject.toml (+ the test extras) in a"; \
	  echo "# clean venv and froze it (local labels such as +cpu dropped, so either torch build satisfies it)."; \
	  echo "# Built with Python $$(.lock-venv/bin/python -c 'import platform; print(platform.python_version())')."; \
	  echo "# Used by 'make setup' (replicate, test): pip install -r requirements.lock, then the project --no-deps."; \
	  .lock-venv/bin/python -m pip freeze --exclude spdl | sed -E 's/\+[A-Za-z0-9.]+$$//'; } > $(LOCK)
	rm -rf .lock-venv

benchmark: setup
	$(SMK) benchmark_engine

clean:
	rm -rf results/* .snakemake
	git checkout -- results/README.md
