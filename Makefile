# Two commands for the first hour:  make onboard  (set up, then the quiz)  and  make test.
# The work is done by ./dev (plain POSIX sh): `./dev onboard` and `./dev test` do the same without make.
# Set-up is skipped while nothing changed (a stamp in .venv keyed on pyproject.toml); see ./dev help
# for how torch is chosen (CPU vs CUDA) and the TORCH_INDEX / TORCH_SPEC overrides.
#
#   make test ARGS="tests/chat -x"     extra pytest arguments

.PHONY: help setup onboard test test-quick test-pythons torch-plan

help:
	@./dev help

setup:
	@./dev setup

onboard:
	@./dev onboard

test:
	@./dev test $(ARGS)

test-quick:
	@./dev test-quick $(ARGS)

test-pythons:
	@./dev test-pythons $(ARGS)

torch-plan:
	@./dev torch-plan
