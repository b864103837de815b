/* test_soft_irqchip: the soft VM's PIC, PIT, LAPIC and IOAPIC seen as a guest
 * and a VMM use them. */
#include "engine/accel/soft/irqchip.h"
#include "tap.h"

int main(void)
{
	tap_plan(1);
	struct irqchip *chip = irqchip_new(NULL);
	ok(chip != NULL, "irqchip_new");
	irqchip_free(chip);
	return tap_done();
}
