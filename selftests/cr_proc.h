/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fidelity check: what a process tree shows of itself in /proc, taken
 * just before a checkpoint and compared with the restored tree (cr_proc.c).
 * Included by cr_test.h, whose checkpoint_ex() takes the snapshot and
 * whose restart() compares, for every restored program of the selftests.
 *
 * A snapshot is text, one fact a line, "<who> <what> <value>": who is
 * "root" for the checkpointed process and "pid N" for its descendants
 * (restored with their pids); what is a maps line, a VMA's VmFlags, a
 * status field (ids, groups, capabilities, signal masks, NoNewPrivs,
 * Seccomp, Cpus_allowed), a limit, the pgid, sid, nice value, policy and
 * real-time priority, each thread's mask, affinity, nice value, policy and
 * name, each fd's flags and position and a socket's SO_PEERCRED, the
 * working directory.
 *
 * What differs by design (Documentation/cr/support-matrix.rst) is left
 * out: the root's parent (crctl after a restart), fds 0-2 (a terminal or
 * pipe there is crctl's own), thread ids (threads compare in order), and
 * the executable link of an unprivileged restore.  A position may have
 * grown between the snapshot and the checkpoint: it compares as "not
 * smaller".
 */
#ifndef CR_PROC_H
#define CR_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define SNAP_MAX	(256 << 10)

struct snap {
	char *buf;
	size_t len;
};

void snap_file(struct snap *s, const char *who, const char *dir,
	       const char *name, const char *what,
	       bool (*keep)(const char *));
int snap_ids(const char *path, int *out, int max);
const char *snap_find(const char *s, const char *prefix);
int snap_diff(const struct snap *before, const struct snap *after,
	      char *out, size_t size, int max);
/* A snapshot of the tree rooted at @root (the caller frees .buf). */
struct snap snap_tree(pid_t root);

#endif /* CR_PROC_H */
