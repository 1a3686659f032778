#include "cnnviz.h"
#include <stdio.h>

int main(int argc, char **argv)
{
    fprintf(stderr, "cnnviz: not ready\n");
    return 2;
}
