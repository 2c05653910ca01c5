// SPDX-License-Identifier: GPL-2.0
/*
 * Target of cr_signals: a process under seccomp, which checkpoint refuses
 * by name.  argv[1] "filter" installs an allow-everything filter (after
 * PR_SET_NO_NEW_PRIVS); "strict" enters strict mode.  It prints "READY"
 * and blocks reading stdin (read() is allowed in strict mode), then exits.
 */
#define _GNU_SOURCE
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog prog = { .len = 1, .filter = &allow };
	char c;

	if (argc > 1 && !strcmp(argv[1], "strict")) {
		if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT))
			return 2;
	} else if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
		   prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) {
		return 2;
	}
	if (write(1, "READY\n", 6) != 6)
		syscall(SYS_exit, 3);
	if (read(0, &c, 1) < 0)
		syscall(SYS_exit, 4);
	syscall(SYS_exit, 0);
	return 0;
}
