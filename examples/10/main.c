/* broken - fails to compile on purpose: a result of compile_error. */
#include <stdio.h>

int main(void)
{
    printf("%d\n", undeclared_total);
    return 0;
}
