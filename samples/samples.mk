# samples/samples.mk: builds the sample guests into samples/build/. Included by the top
# Makefile; self-contained on purpose: guests are freestanding code for another machine, so
# nothing of the host's CFLAGS (pkg-config, sanitizers) may reach them. Debian's gcc, as and
# ld build all of them, 16-, 32- and 64-bit, without a cross compiler. Objects and the
# linked ELF of each raw image (symbols at their guest addresses) stay in samples/build/obj/.

SAMPLE_DIR     := samples
SAMPLE_OUT     := samples/build
SAMPLE_OBJ     := $(SAMPLE_OUT)/obj
SAMPLE_CC      := gcc
SAMPLE_LD      := ld
SAMPLE_OBJCOPY := objcopy

SAMPLE_BOOT    := boot16 triple halt echo
SAMPLE_TARGETS := $(SAMPLE_BOOT:%=$(SAMPLE_OUT)/%.bin) $(SAMPLE_OUT)/counter.bin \
		  $(SAMPLE_OUT)/mb32.elf $(SAMPLE_OUT)/hello64.elf $(SAMPLE_OUT)/devtest.elf \
		  $(SAMPLE_OUT)/irq32.elf $(SAMPLE_OUT)/smp32.elf \
		  $(SAMPLE_OUT)/loop.elf

SAMPLE_CFLAGS  := -std=gnu11 -O2 -g -Wall -Wextra -Werror -ffreestanding -fno-pic -fno-pie \
		  -fno-stack-protector -fno-asynchronous-unwind-tables -fcf-protection=none \
		  -fno-builtin -fno-tree-loop-distribute-patterns -mgeneral-regs-only \
		  -fno-inline-functions -fno-inline-small-functions \
		  -fno-inline-functions-called-once -I$(SAMPLE_DIR) -MMD -MP
SAMPLE_CFLAGS32 := $(SAMPLE_CFLAGS) -m32 -march=i686
SAMPLE_CFLAGS64 := $(SAMPLE_CFLAGS) -m64 -mno-red-zone -mcmodel=small
SAMPLE_ASFLAGS := -Wall -Werror -I$(SAMPLE_DIR) -Wa,--noexecstack -Wa,--fatal-warnings -MMD -MP
SAMPLE_LDFLAGS := -nostdlib --build-id=none -z noexecstack -z max-page-size=0x1000 \
		  --no-warn-rwx-segments --fatal-warnings

.PHONY: samples initramfs
samples: $(SAMPLE_TARGETS)

# Not part of `samples`: it needs busybox-static and cpio (the script installs them).
initramfs: $(SAMPLE_OUT)/initramfs.cpio.gz
$(SAMPLE_OUT)/initramfs.cpio.gz: $(SAMPLE_DIR)/mkinitramfs.sh
	$(SAMPLE_DIR)/mkinitramfs.sh $@

# 16- and 32-bit assembly: .code16/.code32 inside the source pick the mode.
$(SAMPLE_OBJ)/%.o: $(SAMPLE_DIR)/%.S | $(SAMPLE_OBJ)
	$(SAMPLE_CC) -m32 $(SAMPLE_ASFLAGS) -c $< -o $@

$(SAMPLE_OBJ)/64/%.o: $(SAMPLE_DIR)/%.S | $(SAMPLE_OBJ)/64
	$(SAMPLE_CC) -m64 $(SAMPLE_ASFLAGS) -c $< -o $@

$(SAMPLE_OBJ)/32/%.o: $(SAMPLE_DIR)/%.c | $(SAMPLE_OBJ)/32
	$(SAMPLE_CC) $(SAMPLE_CFLAGS32) -c $< -o $@

$(SAMPLE_OBJ)/64/%.o: $(SAMPLE_DIR)/%.c | $(SAMPLE_OBJ)/64
	$(SAMPLE_CC) $(SAMPLE_CFLAGS64) -c $< -o $@

$(SAMPLE_OBJ) $(SAMPLE_OBJ)/32 $(SAMPLE_OBJ)/64:
	@mkdir -p $@

# Boot sectors: 512 bytes at 0x7c00.
$(SAMPLE_BOOT:%=$(SAMPLE_OBJ)/%.elf): $(SAMPLE_OBJ)/%.elf: $(SAMPLE_OBJ)/%.o $(SAMPLE_DIR)/boot.ld
	$(SAMPLE_LD) -m elf_i386 $(SAMPLE_LDFLAGS) -T $(SAMPLE_DIR)/boot.ld -o $@ $<

$(SAMPLE_OBJ)/counter.elf: $(SAMPLE_OBJ)/counter.o $(SAMPLE_DIR)/counter.ld
	$(SAMPLE_LD) -m elf_i386 $(SAMPLE_LDFLAGS) -T $(SAMPLE_DIR)/counter.ld -o $@ $<

$(SAMPLE_OUT)/%.bin: $(SAMPLE_OBJ)/%.elf
	$(SAMPLE_OBJCOPY) -O binary $< $@

# ELF kernels at 1 MiB.
$(SAMPLE_OUT)/mb32.elf: $(SAMPLE_OBJ)/mb32_entry.o $(SAMPLE_OBJ)/32/mb32.o \
			$(SAMPLE_OBJ)/32/serial.o $(SAMPLE_DIR)/kernel.ld
	$(SAMPLE_LD) -m elf_i386 $(SAMPLE_LDFLAGS) -T $(SAMPLE_DIR)/kernel.ld -o $@ \
		$(filter %.o,$^)

$(SAMPLE_OUT)/hello64.elf: $(SAMPLE_OBJ)/64/hello64_entry.o $(SAMPLE_OBJ)/64/hello64.o \
			   $(SAMPLE_OBJ)/64/serial.o $(SAMPLE_DIR)/kernel.ld
	$(SAMPLE_LD) -m elf_x86_64 $(SAMPLE_LDFLAGS) -T $(SAMPLE_DIR)/kernel.ld -o $@ \
		$(filter %.o,$^)

$(SAMPLE_OUT)/irq32.elf: $(SAMPLE_OBJ)/irq32.o $(SAMPLE_DIR)/kernel.ld
	$(SAMPLE_LD) -m elf_i386 $(SAMPLE_LDFLAGS) -T $(SAMPLE_DIR)/kernel.ld -o $@ \
		$(filter %.o,$^)

$(SAMPLE_OUT)/smp32.elf: $(SAMPLE_OBJ)/smp32.o $(SAMPLE_DIR)/kernel.ld
	$(SAMPLE_LD) -m elf_i386 $(SAMPLE_LDFLAGS) -T $(SAMPLE_DIR)/kernel.ld -o $@ $<

$(SAMPLE_OUT)/devtest.elf: $(SAMPLE_OBJ)/devtest.o $(SAMPLE_DIR)/kernel.ld
	$(SAMPLE_LD) -m elf_i386 $(SAMPLE_LDFLAGS) -T $(SAMPLE_DIR)/kernel.ld -o $@ $<

# The soft CPU's compute benchmark (bench/soft.sh): 32-bit multiboot, inc/cmp/jne N times.
$(SAMPLE_OUT)/loop.elf: $(SAMPLE_OBJ)/loop.o $(SAMPLE_DIR)/kernel.ld
	$(SAMPLE_LD) -m elf_i386 $(SAMPLE_LDFLAGS) -T $(SAMPLE_DIR)/kernel.ld -o $@ $<

-include $(wildcard $(SAMPLE_OBJ)/*.d $(SAMPLE_OBJ)/*/*.d)
