/* hello - the smallest pipeline: one line out. */
#include <stdio.h>

int main(void)
{
    puts("hello from binrelay pipeline 3");
    return 0;
}
