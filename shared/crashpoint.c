/* crashpoint.c - SIGKILL on demand at a named step, for fault tests. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "crashpoint.h"
#include "log.h"

void crashpoint(const char *name)
{
    static const char *armed;
    static int looked;

    if (!looked) {
        armed = getenv("BINRELAY_CRASHPOINT");
        looked = 1;
    }
    if (armed == NULL || strcmp(armed, name) != 0)
        return;
    log_warn("crashpoint reached, killing myself", "point=%s", name);
    raise(SIGKILL);
}
