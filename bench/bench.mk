# bench/bench.mk: builds what the benchmarks need and runs them (`make bench-run`; the top
# Makefile's `make bench` installs the dependencies first). Included by the top Makefile;
# its own BENCH_ variables so nothing of the library's flags (pkg-config, sanitizers)
# reaches the bare-KVM program, which must stay a plain, minimal KVM client.
#   make bench-run BENCH_N=300000   more port writes per I/O-exit run (default 200000)
#   make bench-run BENCH_ONLY=soft  only the soft accelerator's section (bench/soft.sh);
#                                   any of io start snapshot step gdb tui linux soft kvm

BENCH_DIR     := bench
BENCH_OUT     := $(BUILD)/bench
BENCH_CC      := gcc
BENCH_CFLAGS  := -std=gnu11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror
BENCH_N       ?= 200000
BENCH_ONLY    ?=
BENCH_BARE    := $(BENCH_OUT)/bare_kvm
BENCH_BARE_STEP := $(BENCH_OUT)/bare_step

.PHONY: bench-run
$(BENCH_BARE): $(BENCH_DIR)/bare_kvm.c $(BENCH_DIR)/bare_vm.c $(BENCH_DIR)/bare_vm.h
	@mkdir -p $(dir $@)
	$(BENCH_CC) $(BENCH_CFLAGS) -o $@ $< $(BENCH_DIR)/bare_vm.c

$(BENCH_BARE_STEP): $(BENCH_DIR)/bare_step.c $(BENCH_DIR)/bare_vm.c $(BENCH_DIR)/bare_vm.h
	@mkdir -p $(dir $@)
	$(BENCH_CC) $(BENCH_CFLAGS) -o $@ $< $(BENCH_DIR)/bare_vm.c

bench-run: $(BENCH_BARE) $(BENCH_BARE_STEP) $(BUILD)/hvwb $(SAMPLE_OUT)/counter.bin \
	   $(SAMPLE_OUT)/loop.elf
	@BENCH_ONLY="$(BENCH_ONLY)" BENCH_N=$(BENCH_N) BENCH_BARE=$(BENCH_BARE) BENCH_BARE_STEP=$(BENCH_BARE_STEP) HVWB=$(BUILD)/hvwb \
		COUNTER=$(SAMPLE_OUT)/counter.bin BENCH_LOOP=$(SAMPLE_OUT)/loop.elf $(BENCH_DIR)/run.sh
