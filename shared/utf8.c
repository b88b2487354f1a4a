/* utf8.c - one UTF-8 check for the logs and the manifests' build logs. */
#include <stdint.h>

#include "utf8.h"

size_t utf8_len(const unsigned char *s, size_t avail)
{
    static const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    size_t n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
    uint32_t cp = s[0] & (0x7f >> n);

    if (s[0] < 0x80)
        return 1;
    if (n == 0 || s[0] > 0xf7 || n > avail)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < least[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}
