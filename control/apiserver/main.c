/* capstan-apiserver - placeholder entry point while the server is built. */
#include <stdio.h>

int main(void)
{
	fprintf(stderr, "capstan-apiserver: not built yet\n");
	return 1;
}
