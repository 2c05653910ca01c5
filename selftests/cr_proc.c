// SPDX-License-Identifier: GPL-2.0
/*
 * The fidelity check's snapshots of /proc: see cr_proc.h.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "cr_proc.h"

static void __attribute__((format(printf, 2, 3)))
snap_add(struct snap *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!s->buf) {
		s->buf = calloc(1, SNAP_MAX);
		if (!s->buf)
			return;
	}
	va_start(ap, fmt);
	n = vsnprintf(s->buf + s->len, SNAP_MAX - s->len, fmt, ap);
	va_end(ap);
	if (n > 0 && s->len + n < SNAP_MAX)
		s->len += n;
}

static bool snap_keep_status(const char *line)
{
	static const char *const keys[] = {
		"Umask:", "Uid:", "Gid:", "Groups:", "SigBlk:", "SigIgn:",
		"SigCgt:", "CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:",
		"NoNewPrivs:", "Seccomp:", "Seccomp_filters:",
		"Cpus_allowed_list:", "Threads:", "VmLck:", "SigPnd:", "ShdPnd:",
	};
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strncmp(line, keys[i], strlen(keys[i])))
			return true;
	return false;
}

/* Adds /proc/@dir/@name's lines that @keep accepts (all if NULL). */
void snap_file(struct snap *s, const char *who, const char *dir,
	       const char *name, const char *what,
	       bool (*keep)(const char *))
{
	char path[PATH_MAX], line[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (!keep || keep(line))
			snap_add(s, "%s %s %s", who, what, line);
	fclose(f);
}

/*
 * Fields 5 (pgrp), 6 (session), 19 (nice), 40 (rt_priority), 41 (policy)
 * of a stat file, after the comm.
 */
static void snap_stat(struct snap *s, const char *who, const char *path,
		      bool ids)
{
	char buf[1024], *p;
	long v[64] = { 0 };
	int i = 3;
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return;
	for (p += 4; *p && i < 63; i++)	/* past ") S " */
		v[i] = strtol(p, &p, 10);
	if (ids)
		snap_add(s, "%s stat pgid %ld sid %ld\n", who, v[5], v[6]);
	snap_add(s, "%s stat nice %ld rt_priority %ld policy %ld\n", who, v[19],
		 v[40], v[41]);
}

static int snap_cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* The numeric entries of directory @path, sorted, up to @max. */
int snap_ids(const char *path, int *out, int max)
{
	struct dirent *e;
	DIR *d = opendir(path);
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) && n < max)
		if (atoi(e->d_name) > 0 || !strcmp(e->d_name, "0"))
			out[n++] = atoi(e->d_name);
	closedir(d);
	qsort(out, n, sizeof(out[0]), snap_cmp_int);
	return n;
}

static void snap_vmflags(struct snap *s, const char *who, const char *dir)
{
	char path[PATH_MAX], line[1024], range[64] = "";
	FILE *f;

	snprintf(path, sizeof(path), "%s/smaps", dir);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strchr(line, '-') && strchr(line, ' ') > strchr(line, '-') &&
		    sscanf(line, "%63s", range) == 1)
			continue;
		if (!strncmp(line, "VmFlags:", 8))
			snap_add(s, "%s vmflags %s%s", who, range, line + 8);
	}
	fclose(f);
}

/* The state letter of /proc/@dir/stat. */
static char snap_state(const char *dir)
{
	char path[PATH_MAX], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/stat", dir);
	f = fopen(path, "re");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] ? p[2] : 0;
}

/*
 * What SO_PEERCRED says of socket @fd of @pid (read on a copy of its
 * descriptor, pidfd_getfd(), closed at once): the pid "self" when it is
 * @pid itself (a restart with a new pid changes both alike).
 */
static void snap_peercred(struct snap *s, const char *who, pid_t pid, int fd)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);
	int pidfd, copy;

	pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return;
	copy = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	close(pidfd);
	if (copy < 0)
		return;
	if (!getsockopt(copy, SOL_SOCKET, SO_PEERCRED, &uc, &len)) {
		if (uc.pid == pid)
			snap_add(s, "%s fd %d peercred pid self uid %d gid %d\n", who, fd,
				 (int)uc.uid, (int)uc.gid);
		else
			snap_add(s, "%s fd %d peercred pid %d uid %d gid %d\n", who, fd,
				 uc.pid, (int)uc.uid, (int)uc.gid);
	}
	close(copy);
}

/*
 * One process: @pid, named @who in the snapshot.  Of a zombie only that
 * it is one: a restored zombie is a process crctl made that exited with
 * the saved status, with crctl's name and signal state (see the support
 * matrix).
 */
static void snap_process(struct snap *s, pid_t pid, const char *who)
{
	char dir[64], path[PATH_MAX], sub[PATH_MAX], link[PATH_MAX];
	int ids[256], n, i;
	ssize_t len;

	snprintf(dir, sizeof(dir), "/proc/%d", pid);
	if (snap_state(dir) == 'Z') {
		snap_add(s, "%s zombie\n", who);
		return;
	}
	snap_file(s, who, dir, "maps", "maps", NULL);
	snap_vmflags(s, who, dir);
	snap_file(s, who, dir, "status", "status", snap_keep_status);
	snap_file(s, who, dir, "limits", "limits", NULL);
	snprintf(path, sizeof(path), "%s/stat", dir);
	snap_stat(s, who, path, true);
	snprintf(path, sizeof(path), "%s/cwd", dir);
	len = readlink(path, link, sizeof(link) - 1);
	if (len > 0) {
		link[len] = 0;
		snap_add(s, "%s cwd %s\n", who, link);
	}
	/* Threads, in tid order. */
	snprintf(path, sizeof(path), "%s/task", dir);
	n = snap_ids(path, ids, 256);
	for (i = 0; i < n; i++) {
		char tdir[128], twho[96];

		snprintf(tdir, sizeof(tdir), "%s/task/%d", dir, ids[i]);
		snprintf(twho, sizeof(twho), "%s thread %d", who, i);
		snap_file(s, twho, tdir, "status", "status", snap_keep_status);
		snap_file(s, twho, tdir, "comm", "comm", NULL);
		snprintf(sub, sizeof(sub), "%s/stat", tdir);
		snap_stat(s, twho, sub, false);
	}
	/* Open files above 2. */
	snprintf(path, sizeof(path), "%s/fdinfo", dir);
	n = snap_ids(path, ids, 256);
	for (i = 0; i < n; i++) {
		char line[256];
		FILE *f;

		if (ids[i] <= 2)
			continue;
		snprintf(sub, sizeof(sub), "%s/fdinfo/%d", dir, ids[i]);
		f = fopen(sub, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			if (!strncmp(line, "flags:", 6) || !strncmp(line, "pos:", 4))
				snap_add(s, "%s fd %d %s", who, ids[i], line);
		fclose(f);
		snprintf(sub, sizeof(sub), "%s/fd/%d", dir, ids[i]);
		len = readlink(sub, link, sizeof(link) - 1);
		if (len > 7 && !strncmp(link, "socket:", 7))
			snap_peercred(s, who, pid, ids[i]);
	}
}

static pid_t snap_parent(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p ? atoi(p + 4) : -1;
}

/* @pid's descendant processes, into @s, depth first, by pid. */
static void snap_children(struct snap *s, pid_t pid, int depth)
{
	int ids[1024], n, i;
	char who[32];

	if (depth > 16)
		return;
	n = snap_ids("/proc", ids, 1024);
	for (i = 0; i < n; i++) {
		if (snap_parent(ids[i]) != pid)
			continue;
		snprintf(who, sizeof(who), "pid %d", ids[i]);
		snap_process(s, ids[i], who);
		snap_children(s, ids[i], depth + 1);
	}
}

/* A snapshot of the tree of @root; free() its buf. */
struct snap snap_tree(pid_t root)
{
	struct snap s = { 0 };

	snap_process(&s, root, "root");
	snap_children(&s, root, 0);
	return s;
}

/* The first line of @s that starts with @prefix, or NULL. */
const char *snap_find(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);

	for (; s && *s; s = strchr(s, '\n') ? strchr(s, '\n') + 1 : NULL)
		if (!strncmp(s, prefix, n))
			return s;
	return NULL;
}

/* Whether line @a (of the snapshot) is a position @b may have grown from. */
static bool snap_pos_grew(const char *a, const char *b)
{
	const char *pa = strstr(a, " pos:"), *pb = strstr(b, " pos:");

	if (!pa || !pb || pa - a != pb - b || strncmp(a, b, pa - a))
		return false;
	return strtoull(pb + 5, NULL, 10) >= strtoull(pa + 5, NULL, 10);
}

/* The next line of @s that starts with @who (and a space), or NULL. */
static const char *snap_next(const char *s, const char *who, size_t *len)
{
	size_t n = strlen(who);

	for (; s && *s; s = strchr(s, '\n') ? strchr(s, '\n') + 1 : NULL) {
		if (!strncmp(s, who, n) && s[n] == ' ') {
			*len = strcspn(s, "\n");
			return s;
		}
	}
	return NULL;
}

/*
 * A copy of maps line @l without the device and inode of a shared
 * anonymous object ("/dev/zero (deleted)"): a restored one is a new one.
 */
static void snap_norm(char *out, size_t size, const char *l, size_t len)
{
	char who[64], range[64], perms[8], off[32];

	snprintf(out, size, "%.*s", (int)len, l);
	if (!strstr(out, " maps ") || !strstr(out, "/dev/zero (deleted)"))
		return;
	/* "<range> <perms> <offset> <dev> <inode> <path>": dev and inode out. */
	if (sscanf(out, "%63[^m]maps %63s %7s %31s", who, range, perms, off) == 4)
		snprintf(out, size, "%smaps %s %s %s /dev/zero (deleted)", who, range, perms, off);
}

/*
 * Compares snapshot @before with @after: for each process of @before that
 * @after has too (a tree may lose processes that exit between the
 * snapshot and the checkpoint), its lines in order.  Writes the first
 * differences (at most @max) into @out; returns how many lines differ.
 */
int snap_diff(const struct snap *before, const struct snap *after,
	      char *out, size_t size, int max)
{
	const char *all = before->buf ? before->buf : "", *bb = after->buf ? after->buf : "";
	const char *w;
	char seen[64][16];
	int nseen = 0, n = 0, k;
	size_t o = 0;

	out[0] = 0;
	for (w = all; *w; w = strchr(w, '\n') ? strchr(w, '\n') + 1 : "") {
		char who[16];
		const char *a, *b;
		size_t la, lb;

		if (!strncmp(w, "root ", 5))
			snprintf(who, sizeof(who), "root");
		else if (sscanf(w, "pid %15[0-9]", who) == 1)
			memmove(who + 4, who, strlen(who) + 1), memcpy(who, "pid ", 4);
		else
			continue;
		for (k = 0; k < nseen && strcmp(seen[k], who); k++)
			;
		if (k < nseen || nseen == 64)
			continue;
		snprintf(seen[nseen++], sizeof(seen[0]), "%s", who);
		if (!snap_next(bb, who, &lb))
			continue;		/* gone before the checkpoint */
		a = snap_next(all, who, &la);
		b = snap_next(bb, who, &lb);
		while (a || b) {
			char ca[512] = "", cb[512] = "";

			if (a)
				snap_norm(ca, sizeof(ca), a, la);
			if (b)
				snap_norm(cb, sizeof(cb), b, lb);
			if (strcmp(ca, cb) && !snap_pos_grew(ca, cb)) {
				if (n++ < max && o < size)
					o += snprintf(out + o, size - o, "  was: %s\n  now: %s\n", ca, cb);
			}
			a = a ? snap_next(a + la, who, &la) : NULL;
			b = b ? snap_next(b + lb, who, &lb) : NULL;
		}
	}
	return n;
}
