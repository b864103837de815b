/* accel: choosing an accelerator by name, or the fastest one usable here. */
#include <errno.h>
#include <string.h>

#include "engine/accel/accel.h"
#include "util/err.h"

const struct accel_ops *const accel_all[] = { &accel_kvm, &accel_soft, NULL };

int accel_usable(const struct accel_ops *a)
{
	return a->usable ? a->usable() : 0; /* NULL: runs anywhere */
}

static const struct accel_ops *accel_named(const char *name)
{
	for (int i = 0; accel_all[i]; i++)
		if (strcmp(accel_all[i]->name, name) == 0)
			return accel_all[i];
	return NULL;
}

int accel_pick(const char *name, const struct accel_ops **out)
{
	if (name && strcmp(name, "auto") != 0) {
		const struct accel_ops *a = accel_named(name);
		if (!a)
			return err_set(-EINVAL, "no accelerator '%s' (this build has: kvm, soft)", name);
		int r = accel_usable(a);
		if (r < 0)
			return err_wrap(r, "the %s accelerator cannot run here", name);
		*out = a;
		return 0;
	}
	int first = 0;
	for (int i = 0; accel_all[i]; i++) {
		int r = accel_usable(accel_all[i]);
		if (r == 0) {
			*out = accel_all[i];
			return 0;
		}
		if (!first)
			first = r;
	}
	return first ? first : err_set(-ENOTSUP, "no accelerator can run here");
}
