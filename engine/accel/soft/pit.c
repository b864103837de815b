/* pit: the 8254 programmable interval timer of a PC, counting at 1193182 Hz:
 * channel 0 drives GSI 0 (the system tick), channel 2 is gated by bit 0 of
 * port 0x61 and its output shows in bit 5 there (guests time their TSC with
 * it), and port 0x43 takes the control words: mode, access order, counter
 * latch and read-back. Nothing ticks in the background: a counter's value
 * and output are computed from the time its count was loaded, and
 * pit_poll() tells the chip when channel 0's output rose since the last
 * look; ticks the host was too busy to deliver are folded into one. The
 * state is KVM's kvm_pit_state2 with KVM's encodings of the access states. */
#include "engine/accel/soft/irqchip_priv.h"

#include <string.h>

/* Access states, the values KVM keeps in read_state/write_state/rw_mode. */
#define RW_LSB   1
#define RW_MSB   2
#define RW_WORD0 3             /* lo then hi: the lo byte comes next */
#define RW_WORD1 4             /* ... the hi byte comes next */

#define NS_PER_S 1000000000ull
#define PIT_MODE_NONE 0xff     /* after reset, until the guest programs it */
#define PIT_MAX_AGE_NS (3600 * NS_PER_S)

static uint64_t pit_ticks(const struct kvm_pit_channel_state *c, uint64_t now)
{
	int64_t ns = (int64_t)now - c->count_load_time;
	if (ns <= 0)
		return 0;
	return (uint64_t)((unsigned __int128)ns * PIT_HZ / NS_PER_S);
}

static uint64_t pit_ticks_to_ns(uint64_t ticks)
{
	return (uint64_t)(((unsigned __int128)ticks * NS_PER_S + PIT_HZ - 1) / PIT_HZ);
}

static bool pit_periodic(const struct kvm_pit_channel_state *c)
{
	return c->mode == 2 || c->mode == 3;
}

/* The counting element: modes 2 and 3 reload (mode 3 counts by two), the
 * others run down and wrap past zero. */
static uint32_t pit_counter(const struct kvm_pit_channel_state *c, uint64_t now)
{
	uint64_t d = pit_ticks(c, now), n = c->count;
	switch (c->mode) {
	case 2:
		return (n - d % n) & 0xffff;
	case 3:
		return (n - (2 * d) % n) & 0xffff;
	default:
		return (n - d) & 0xffff;
	}
}

/* OUT: mode 0/1 go high at terminal count; mode 2 is low for the one clock
 * the counter shows 1; mode 3 is high for the first half of each period;
 * modes 4/5 strobe low for one clock at terminal count. Modes 2 and 3 hold
 * OUT high while their gate is low. */
static bool pit_out(const struct kvm_pit_channel_state *c, uint64_t now)
{
	uint64_t d = pit_ticks(c, now), n = c->count;
	if (pit_periodic(c) && !c->gate)
		return true;
	switch (c->mode) {
	case 0: case 1:
		return d >= n;
	case 2:
		return d % n != n - 1;
	case 3:
		return d % n < (n + 1) / 2;
	case 4: case 5:
		return d != n;
	default:
		return false;
	}
}

/* How many rising edges channel 0's OUT had since the load: one per period
 * in modes 2 and 3, one at most for the one-shot modes. */
static uint64_t pit_edges(const struct kvm_pit_channel_state *c, uint64_t now)
{
	uint64_t d = pit_ticks(c, now);
	if (pit_periodic(c))
		return d / c->count;
	if (c->mode > 5)
		return 0;
	uint64_t at = c->mode >= 4 ? (uint64_t)c->count + 1 : c->count;
	return d >= at;
}

static uint8_t pit_bcd(uint32_t v)
{
	v %= 100;
	return (uint8_t)((v / 10) << 4 | v % 10);
}

static uint32_t pit_to_bcd(uint32_t v)
{
	return (uint32_t)pit_bcd(v / 100 % 100) << 8 | pit_bcd(v % 100);
}

static uint32_t pit_from_bcd(uint32_t v)
{
	return (v >> 12 & 0xf) * 1000 + (v >> 8 & 0xf) * 100 + (v >> 4 & 0xf) * 10 + (v & 0xf);
}

static void pit_load(struct pit *p, int ch, uint32_t val, uint64_t now)
{
	struct kvm_pit_channel_state *c = &p->st.channels[ch];
	if (c->bcd)
		val = pit_from_bcd(val);
	if (val == 0)
		val = c->bcd ? 10000 : 0x10000;
	c->count = val;
	c->count_load_time = (int64_t)now;
	if (ch == 0)
		p->ch0_ticks = 0;
}

void pit_reset(struct pit *p, uint64_t now)
{
	memset(p, 0, sizeof(*p));
	for (int i = 0; i < 3; i++) {
		struct kvm_pit_channel_state *c = &p->st.channels[i];
		c->mode = PIT_MODE_NONE;
		c->gate = i != 2;
		pit_load(p, i, 0, now);
	}
}

static uint32_t pit_read_value(const struct kvm_pit_channel_state *c, uint64_t now)
{
	uint32_t v = pit_counter(c, now);
	return c->bcd ? pit_to_bcd(v) : v;
}

static void pit_latch_count(struct kvm_pit_channel_state *c, uint64_t now)
{
	if (c->count_latched)
		return;
	c->latched_count = (uint16_t)pit_read_value(c, now);
	c->count_latched = c->rw_mode;
}

static void pit_latch_status(struct kvm_pit_channel_state *c, uint64_t now)
{
	if (c->status_latched)
		return;
	c->status = (uint8_t)(pit_out(c, now) << 7 | (c->rw_mode & 3) << 4 |
			      (c->mode & 7) << 1 | (c->bcd & 1));
	c->status_latched = 1;
}

static void pit_control(struct pit *p, uint8_t val, uint64_t now)
{
	int ch = val >> 6;
	if (ch == 3) {             /* read-back: bits 3:1 pick the channels */
		for (int i = 0; i < 3; i++) {
			if (!(val & (2 << i)))
				continue;
			if (!(val & 0x20))
				pit_latch_count(&p->st.channels[i], now);
			if (!(val & 0x10))
				pit_latch_status(&p->st.channels[i], now);
		}
		return;
	}
	struct kvm_pit_channel_state *c = &p->st.channels[ch];
	int access = (val >> 4) & 3;
	if (access == 0) {
		pit_latch_count(c, now);
		return;
	}
	c->rw_mode = access;
	c->read_state = c->write_state = access;
	c->mode = (val >> 1) & 7;
	if (c->mode > 5)
		c->mode -= 4;      /* 6 and 7 are 2 and 3 */
	c->bcd = val & 1;
}

static uint8_t pit_read_latched(struct kvm_pit_channel_state *c)
{
	uint16_t v = c->latched_count;
	switch (c->count_latched) {
	case RW_MSB:
		c->count_latched = 0;
		return v >> 8;
	case RW_WORD0:
		c->count_latched = RW_MSB;
		return v & 0xff;
	default:
		c->count_latched = 0;
		return v & 0xff;
	}
}

static uint8_t pit_read(struct kvm_pit_channel_state *c, uint64_t now)
{
	if (c->status_latched) {
		c->status_latched = 0;
		return c->status;
	}
	if (c->count_latched)
		return pit_read_latched(c);
	uint32_t v = pit_read_value(c, now);
	switch (c->read_state) {
	case RW_MSB:
		return v >> 8;
	case RW_WORD0:
		c->read_state = RW_WORD1;
		return v & 0xff;
	case RW_WORD1:
		c->read_state = RW_WORD0;
		return v >> 8;
	default:
		return v & 0xff;
	}
}

static void pit_write(struct pit *p, int ch, uint8_t val, uint64_t now)
{
	struct kvm_pit_channel_state *c = &p->st.channels[ch];
	switch (c->write_state) {
	case RW_MSB:
		pit_load(p, ch, (uint32_t)val << 8, now);
		break;
	case RW_WORD0:
		c->write_latch = val;
		c->write_state = RW_WORD1;
		break;
	case RW_WORD1:
		pit_load(p, ch, c->write_latch | (uint32_t)val << 8, now);
		c->write_state = RW_WORD0;
		break;
	default:
		pit_load(p, ch, val, now);
		break;
	}
}

/* Port 0x61 (the PC's system control port B): bit 0 gates channel 2, bit 1
 * enables the speaker, bit 4 toggles with DRAM refresh (every ~15 us; some
 * delay loops watch it), bit 5 is channel 2's OUT. A rising gate restarts
 * the count in the modes the gate triggers. */
static void pit_port61(struct pit *p, uint8_t *val, bool is_write, uint64_t now)
{
	struct kvm_pit_channel_state *c = &p->st.channels[2];
	if (!is_write) {
		bool spk = p->st.flags & KVM_PIT_FLAGS_SPEAKER_DATA_ON;
		*val = (uint8_t)((c->gate & 1) | spk << 1 | ((now >> 14) & 1) << 4 |
				 pit_out(c, now) << 5);
		return;
	}
	bool gate = *val & 1;
	if (gate && !c->gate && c->mode != 0 && c->mode != 4 && c->mode <= 5)
		c->count_load_time = (int64_t)now;
	c->gate = gate;
	if (*val & 2)
		p->st.flags |= KVM_PIT_FLAGS_SPEAKER_DATA_ON;
	else
		p->st.flags &= ~KVM_PIT_FLAGS_SPEAKER_DATA_ON;
}

bool pit_port(struct pit *p, uint16_t port, uint8_t *val, bool is_write, uint64_t now)
{
	if (port == 0x61) {
		pit_port61(p, val, is_write, now);
		return true;
	}
	if (port < 0x40 || port > 0x43)
		return false;
	if (port == 0x43) {
		if (is_write)
			pit_control(p, *val, now);
		else
			*val = 0xff;   /* the control register is write-only */
		return true;
	}
	if (is_write)
		pit_write(p, port - 0x40, *val, now);
	else
		*val = pit_read(&p->st.channels[port - 0x40], now);
	return true;
}

/* True when channel 0's OUT rose since the last call (or since its load):
 * the chip then pulses GSI 0 once, however many periods went by. */
bool pit_poll(struct pit *p, uint64_t now)
{
	if (p->st.flags & KVM_PIT_FLAGS_HPET_LEGACY)
		return false;      /* the HPET owns IRQ0, as in KVM */
	uint64_t edges = pit_edges(&p->st.channels[0], now);
	if (edges <= p->ch0_ticks)
		return false;
	p->ch0_ticks = edges;
	return true;
}

/* When channel 0's next rising edge is due, 0 if it will have none. */
uint64_t pit_deadline(const struct pit *p)
{
	const struct kvm_pit_channel_state *c = &p->st.channels[0];
	uint64_t k = p->ch0_ticks + 1, at;
	if (p->st.flags & KVM_PIT_FLAGS_HPET_LEGACY)
		return 0;
	if (pit_periodic(c))
		at = k * c->count;
	else if (c->mode <= 5 && k == 1)
		at = c->mode >= 4 ? (uint64_t)c->count + 1 : c->count;
	else
		return 0;
	return (uint64_t)c->count_load_time + pit_ticks_to_ns(at);
}

void pit_get(const struct pit *p, struct kvm_pit_state2 *out)
{
	*out = p->st;
	for (int i = 0; i < 3; i++)   /* wrapping: the shift of pit_set undone exactly */
		out->channels[i].count_load_time =
			(int64_t)((uint64_t)out->channels[i].count_load_time - (uint64_t)p->time_delta);
}

/* A restore: the load times are another clock's (KVM's ktime, or this chip
 * at another moment), so they are shifted together until the latest load is
 * now; each channel keeps its place relative to the others, and a get right
 * after shows the very same values. Edges before now are taken as seen. */
void pit_set(struct pit *p, const struct kvm_pit_state2 *in, uint64_t now)
{
	int64_t latest = in->channels[0].count_load_time;
	for (int i = 1; i < 3; i++)
		if (in->channels[i].count_load_time > latest)
			latest = in->channels[i].count_load_time;
	p->st = *in;
	p->time_delta = (int64_t)(now - (uint64_t)latest);   /* any two times: wrapping */
	for (int i = 0; i < 3; i++) {
		struct kvm_pit_channel_state *c = &p->st.channels[i];
		/* a foreign or crafted load time may lie any distance back; an
		 * hour is past any edge the channel can still owe */
		uint64_t age = (uint64_t)latest - (uint64_t)in->channels[i].count_load_time;
		if (age > PIT_MAX_AGE_NS)
			age = PIT_MAX_AGE_NS;
		c->count_load_time = (int64_t)(now - age);
		if (c->count == 0 || c->count > 0x10000)
			c->count = 0x10000;
	}
	p->ch0_ticks = pit_edges(&p->st.channels[0], now);
}
