// SPDX-License-Identifier: GPL-2.0
/*
 * Target of the cr restart tests: prints 1, 2, 3, ... one number a line on
 * stdout, flushing each line, with a short sleep between lines.  A restored
 * copy must continue the sequence exactly where the checkpoint left it.
 *
 * Usage: counter [DELAY_US]	(default 20000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	useconds_t delay = argc > 1 ? strtoul(argv[1], NULL, 0) : 20000;
	unsigned long i = 0;

	for (;;) {
		printf("%lu\n", ++i);
		if (fflush(stdout))
			return 1;
		usleep(delay);
	}
}
