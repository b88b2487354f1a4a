/* utf8.h - telling valid UTF-8 from bytes that only look like text. */
#ifndef BINRELAY_UTF8_H
#define BINRELAY_UTF8_H

#include <stddef.h>

/*
 * The length (1 to 4) of the UTF-8 character at 's', of which at most
 * 'avail' bytes (at least 1) may be read; 0 when it is none: a stray
 * continuation byte, a sequence cut short, an overlong form, a
 * surrogate or a code point past U+10FFFF.
 */
size_t utf8_len(const unsigned char *s, size_t avail);

#endif
