// SPDX-License-Identifier: GPL-2.0
/*
 * Target of the cr tests of per-task settings made with prctl(): takes on
 * the one its argument names, then once a tick prints "tick N V", V being
 * the setting as it reads it back.
 *
 * Usage: prctl pdeath|slack|subreaper|thp|thpadvised
 *	pdeath: PR_SET_PDEATHSIG SIGUSR2 (restored); slack: PR_SET_TIMERSLACK
 *	123456 ns; subreaper: PR_SET_CHILD_SUBREAPER; thp: PR_SET_THP_DISABLE;
 *	thpadvised: the same with PR_THP_DISABLE_EXCEPT_ADVISED
 *	(the last three are refused at checkpoint).
 *
 * Output: "START" once set up (or "FAIL ..." and exit 2), then the ticks.
 */
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

#ifndef PR_THP_DISABLE_EXCEPT_ADVISED	/* Linux 6.18; older headers lack it */
#define PR_THP_DISABLE_EXCEPT_ADVISED	(1 << 1)
#endif
#include "prog.h"

int main(int argc, char **argv)
{
	unsigned long i;
	int v = 0, r = -1;

	if (argc != 2)
		return 2;
	if (!strcmp(argv[1], "pdeath"))
		r = prctl(PR_SET_PDEATHSIG, SIGUSR2);
	else if (!strcmp(argv[1], "slack"))
		r = prctl(PR_SET_TIMERSLACK, 123456);
	else if (!strcmp(argv[1], "subreaper"))
		r = prctl(PR_SET_CHILD_SUBREAPER, 1);
	else if (!strcmp(argv[1], "thp"))
		r = prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
	else if (!strcmp(argv[1], "thpadvised"))
		r = prctl(PR_SET_THP_DISABLE, 1, PR_THP_DISABLE_EXCEPT_ADVISED, 0, 0);
	if (r) {
		say("FAIL %s\n", argv[1]);
		return 2;
	}
	say("START\n");
	for (i = 1;; i++) {
		if (!strcmp(argv[1], "pdeath"))
			prctl(PR_GET_PDEATHSIG, &v);
		else if (!strcmp(argv[1], "slack"))
			v = prctl(PR_GET_TIMERSLACK);
		else if (!strcmp(argv[1], "subreaper"))
			prctl(PR_GET_CHILD_SUBREAPER, &v);
		else
			v = prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0);
		say("tick %lu %d\n", i, v);
		nap(100000);
	}
}
