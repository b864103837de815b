# fuzz/fuzz.mk: libFuzzer targets (issue 17). Included by the top Makefile.
#   make fuzz-build                  build every target into build-fuzz/fuzz/
#   make fuzz                        build, then run each FUZZ_SECONDS (default 60) on a
#                                    copy of its seed corpus (build-fuzz/corpus/<target>/)
#   make fuzz FUZZ_TARGETS=fuzz_loader FUZZ_SECONDS=600    one target, longer
#   make fuzz FUZZ_JOBS=4            4 processes per target (libFuzzer -jobs, logs in fuzz-N.log)
#   make fuzz-clean                  remove build-fuzz/
# The library sources are compiled again with clang (libFuzzer is clang's), with
# -fsanitize=fuzzer-no-link,address,undefined, into build-fuzz/libhvwb-fuzz.a; only
# the objects a target uses are linked from it. Own FUZZ_ variables: nothing of
# the gcc build's flags reaches these objects. See fuzz/README.md.

FUZZ_CC      ?= clang
FUZZ_BUILD   := build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_JOBS    ?= 1
FUZZ_OPTS    ?= -timeout=5 -rss_limit_mb=2048
FUZZ_ALL     := $(patsubst fuzz/%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_TARGETS ?= $(FUZZ_ALL)
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
		-fno-sanitize=function
FUZZ_CFLAGS  := -std=gnu11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer -pthread \
		-Wall -Wextra -Wno-unused-command-line-argument -I. \
		$(PKG_CFLAGS) $(FUZZ_SAN)
FUZZ_LIBS    := $(PKG_LIBS) -lm
FUZZ_LIB_SRC := $(LIB_SRC)
FUZZ_LIB_OBJ := $(FUZZ_LIB_SRC:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_BINS    := $(FUZZ_ALL:%=$(FUZZ_BUILD)/fuzz/%)

.PHONY: fuzz fuzz-build fuzz-clean
$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/libhvwb-fuzz.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_BUILD)/fuzz/%: fuzz/%.c $(FUZZ_BUILD)/libhvwb-fuzz.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_BUILD)/libhvwb-fuzz.a $(FUZZ_LIBS)

fuzz-build: $(FUZZ_BINS)

# Each target runs on a copy of its seeds, so what it finds stays in build-fuzz/
# until someone adds it to fuzz/corpus/ on purpose; crashes land in build-fuzz/crashes/.
fuzz: fuzz-build
	@st=0; for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/crashes/$$t; \
		cp -n fuzz/corpus/$$t/* $(FUZZ_BUILD)/corpus/$$t/ 2>/dev/null || true; \
		echo "== $$t: $(FUZZ_SECONDS) s"; \
		UBSAN_OPTIONS=$${UBSAN_OPTIONS:-print_stacktrace=1} $(FUZZ_BUILD)/fuzz/$$t $(FUZZ_OPTS) -max_total_time=$(FUZZ_SECONDS) \
			$(if $(filter-out 1,$(FUZZ_JOBS)),-jobs=$(FUZZ_JOBS) -workers=$(FUZZ_JOBS)) -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_BUILD)/crashes/$$t/ $(FUZZ_BUILD)/corpus/$$t || \
			{ st=1; echo "== $$t FAILED: see $(FUZZ_BUILD)/crashes/$$t/"; }; \
	done; exit $$st

fuzz-clean:
	rm -rf $(FUZZ_BUILD)

-include $(FUZZ_LIB_OBJ:.o=.d)
