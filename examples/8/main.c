/* sum - adds 1 to 100, as Gauss did not. */
#include <stdio.h>

int main(void)
{
    int sum = 0;

    for (int i = 1; i <= 100; i++)
        sum += i;
    printf("sum of 1..100 is %d\n", sum);
    return 0;
}
