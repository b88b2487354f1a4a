/* state.c - pipeline state names and their precedence. */
#include <string.h>

#include "state.h"

static const struct {
    const char *name;
    int rank;
} state_table[] = {
    [STATE_PENDING] = {"pending", 0},
    [STATE_COMPILING] = {"compiling", 1},
    [STATE_UPLOADING] = {"uploading", 2},
    [STATE_SUCCESS] = {"success", 4},
    [STATE_COMPILE_ERROR] = {"compile_error", 3},
    [STATE_SYSTEM_ERROR] = {"system_error", 3},
};

#define STATE_COUNT ((int)(sizeof(state_table) / sizeof(state_table[0])))

const char *state_name(enum state s)
{
    if ((int)s < 0 || (int)s >= STATE_COUNT)
        return "invalid";
    return state_table[s].name;
}

enum state state_parse(const char *s)
{
    for (int i = 0; i < STATE_COUNT; i++) {
        if (strcmp(s, state_table[i].name) == 0)
            return (enum state)i;
    }
    return STATE_INVALID;
}

int state_rank(enum state s)
{
    if ((int)s < 0 || (int)s >= STATE_COUNT)
        return -1;
    return state_table[s].rank;
}
