# Fresh machine with Python 3.11 + pip: `make replicate` or `make test`.
PYTHON ?= python3
VENV   ?= .venv
CORES  ?= 2
CONFIG ?=
# SET="deep_linear.dynamics.snr=[3,5,6] deep_linear.noise_std=0.5": change single values (dotted keys, YAML values)
SET    ?=
BIN    := $(VENV)/bin
OVERRIDE := results/config.override.yaml
CONFIGS  := $(strip $(CONFIG) $(if $(SET),$(OVERRIDE)))
SMK    := $(BIN)/snakemake --workflow-profile workflow/profiles/default --cores $(CORES) $(if $(CONFIGS),--configfiles $(CONFIGS))

.PHONY: setup replicate quick report test slurm-test lint benchmark clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@

## every figure, claim, scorecard and the HTML report (CONFIG=config/quick.yaml for the CI scale)
replicate: setup
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

benchmark: setup
	$(SMK) benchmark_engine

clean:
	rm -rf results/* .snakemake
	git checkout -- results/README.md
