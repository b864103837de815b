# hvwb: the hypervisor workbench.
#   make          build build/hvwb and the sample guests
#   make deps     install the Debian packages that are missing (apt-get)
#   make run      deps + build, then start the workbench
#   make check    deps + build, then run every test through prove
#   make bench    deps + build, then run the benchmarks in bench/
#   make asan     build with AddressSanitizer and UBSan into build-asan/
# Every library comes from a Debian package and is found with pkg-config.

BUILD    ?= build
PKGS     := lua5.4 libelf capstone ncursesw readline liblzma
OPT      ?= -O2 -g
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS   += -std=gnu11 -D_GNU_SOURCE $(OPT) -Wall -Wextra -Werror -pthread \
	    -I. $(PKG_CFLAGS) $(SAN)
LDFLAGS  += -pthread $(SAN)
LDLIBS   += $(PKG_LIBS) -lm

LIB_SRC  := $(wildcard util/*.c engine/*/*.c engine/*/*/*.c devices/*.c scripting/*.c tui/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(wildcard tests/unit/*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps run check test bench asan tsan clean samples tests
all: $(BUILD)/hvwb samples

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libhvwb.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/hvwb: $(BUILD)/main.o $(BUILD)/libhvwb.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# -MMD: a test is rebuilt when a header or .def file it includes changes.
$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libhvwb.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -Itests/unit -o $@ $< $(BUILD)/libhvwb.a $(LDFLAGS) $(LDLIBS)

tests: $(UNIT_BIN)

include samples/samples.mk
-include bench/bench.mk
-include fuzz/fuzz.mk

deps:
	@scripts/deps.sh

# Each of these re-enters make after `deps`, so pkg-config sees the packages
# that `deps` just installed.
run: deps
	@$(MAKE) --no-print-directory all
	$(BUILD)/hvwb

# The suite runs twice: on the normal build and under ASan+UBSan.
check: deps
	@scripts/linux-kernel.sh
	@$(MAKE) --no-print-directory all tests initramfs
	@$(MAKE) --no-print-directory asan
	@BUILDS="build build-asan" tests/run

test: all tests
	@tests/run

bench: deps
	@$(MAKE) --no-print-directory all bench-run

asan:
	@$(MAKE) --no-print-directory BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
		SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" all tests

# The tests where threads meet: several vCPUs, the dashboard reading counters
# while vCPUs write them, capstone on many threads, devices, clones. A race
# TSan reports makes hvwb exit non-zero, so the test fails.
TSAN_TESTS := test_soft_smp test_disasm_threads tests/lua/smp_debug_test.lua \
	      tests/lua/vm_test.lua tests/lua/multi_test.lua tests/lua/device_test.lua \
	      tests/lua/clone_test.lua tests/lua/pause_test.lua tests/sh/tui_test.sh
tsan:
	@$(MAKE) --no-print-directory BUILD=build-tsan OPT="-O1 -g -fno-omit-frame-pointer" \
		SAN="-fsanitize=thread" all tests
	@BUILDS=build-tsan TESTS="$(TSAN_TESTS)" tests/run

clean:
	rm -rf build build-asan samples/build

-include $(LIB_OBJ:.o=.d) $(BUILD)/main.d $(UNIT_BIN:=.d)
