/* vcpu_observers: the observers of every vCPU, in the order they are asked
 * (vcpu_observer.h), and the three calls the run loop makes. */
#include "engine/core/vcpu_observer.h"

#include <stddef.h>

#include "engine/debug/debug.h"
#include "engine/debug/fallback.h"

static const struct vcpu_observer *const vcpu_observers[] = {
	&debug_observer,     /* breakpoints, watchpoints, stepping */
	&fallback_observer,  /* instructions a host's KVM cannot emulate */
	NULL,
};

void vcpu_observe_enter(struct vcpu *v)
{
	for (size_t i = 0; vcpu_observers[i]; i++)
		if (vcpu_observers[i]->enter)
			vcpu_observers[i]->enter(v);
}

bool vcpu_observe_exit(struct vcpu *v)
{
	for (size_t i = 0; vcpu_observers[i]; i++)
		if (vcpu_observers[i]->exit && vcpu_observers[i]->exit(v))
			return true;
	return false;
}

enum vcpu_halt_verdict vcpu_observe_halted(struct vcpu *v)
{
	for (size_t i = 0; vcpu_observers[i]; i++) {
		enum vcpu_halt_verdict h = vcpu_observers[i]->halted ? vcpu_observers[i]->halted(v) : HALT_OK;
		if (h != HALT_OK)
			return h;
	}
	return HALT_OK;
}
