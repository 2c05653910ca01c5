// SPDX-License-Identifier: GPL-2.0
/*
 * Target of the cr_pipe tests: a parent and a child joined by pipes that
 * hold bytes when the checkpoint comes, each kind the restore must keep.
 *
 * Usage: pipes [self | stdin7]
 *
 * pipes self: one process with a pipe to itself (fds 20/21) holding STREAM:
 * "READY <pid>", then on SIGUSR1 it checks the bytes, prints "SELF OK" and
 * exits 0. pipes stdin7: its stdin dup'd to fd 7 (a pipe whose other end is
 * outside the tree), "READY <pid>", then it sleeps until killed.
 *
 * The parent makes, and writes into before it forks:
 *   - fd 20/21 (and 22, a dup of 21: one description): a stream pipe
 *     holding STREAM; the child's read end is O_NONBLOCK;
 *   - fd 23/24: an O_DIRECT (packet) pipe holding three packets;
 *   - fd 25/26: a pipe set to 256 KiB (F_SETPIPE_SZ) holding BIG bytes;
 *   - fd 27: the write end of a pipe holding "stdin-line\n", whose read end
 *     is the child's fd 0.
 * The child keeps the read ends, the parent the write ends. The child
 * prints "READY <pid>", then waits for SIGUSR1; on it, it checks every
 * pipe's bytes, flags and capacity, prints "CHILD OK" and exits 0 (or
 * prints "BAD ..." and exits 1). The parent, once the child is reaped,
 * checks that fds 21 and 22 still share their description and that the
 * stream pipe has no reader left (EPIPE), prints "PARENT OK <child's
 * status>" and exits 0 (1 after a BAD line).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include "prog.h"

#define STREAM	"stream-data-0123456789"
#define BIG	200000
#define BIGCAP	(256 * 1024)

static const char *const packets[] = { "one", "two22", "three333" };
static volatile sig_atomic_t go;

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

static void bad(const char *what)
{
	say("BAD %s (errno %d)\n", what, errno);
	_exit(1);
}

static void mkpipe(int flags, int r, int w)
{
	int p[2];

	if (pipe2(p, flags) || dup2(p[0], r) != r || dup2(p[1], w) != w)
		bad("pipe");
	close(p[0]);
	close(p[1]);
}

static unsigned char big_byte(long i)
{
	return (i * 7) % 251;
}

static void child(void)
{
	static unsigned char buf[BIGCAP];
	char line[64];
	ssize_t n;
	long got, i;
	size_t k;

	while (!go)
		nap(10000);
	/* The stream: exactly its bytes, then EAGAIN (O_NONBLOCK kept). */
	if (!(fcntl(20, F_GETFL) & O_NONBLOCK))
		bad("stream lost O_NONBLOCK");
	n = read(20, buf, sizeof(buf));
	if (n != (ssize_t)strlen(STREAM) || memcmp(buf, STREAM, n))
		bad("stream bytes");
	if (read(20, buf, sizeof(buf)) != -1 || errno != EAGAIN)
		bad("stream has more bytes");
	/* Packets: one read each, whatever the buffer size. */
	for (k = 0; k < sizeof(packets) / sizeof(packets[0]); k++) {
		n = read(23, buf, sizeof(buf));
		if (n != (ssize_t)strlen(packets[k]) || memcmp(buf, packets[k], n))
			bad("packet");
	}
	/* Capacity and a big content. */
	if (fcntl(25, F_GETPIPE_SZ) != BIGCAP)
		bad("capacity");
	fcntl(25, F_SETFL, fcntl(25, F_GETFL) | O_NONBLOCK);
	for (got = 0; got < BIG; got += n) {
		n = read(25, buf, sizeof(buf));
		if (n <= 0)
			bad("big pipe short");
		for (i = 0; i < n; i++)
			if (buf[i] != big_byte(got + i))
				bad("big pipe byte");
	}
	if (read(25, buf, sizeof(buf)) != -1 || errno != EAGAIN)
		bad("big pipe has more bytes");
	/* Its stdin, a pipe of the tree on fd 0. */
	n = read(0, line, sizeof(line));
	if (n != 11 || memcmp(line, "stdin-line\n", 11))
		bad("stdin");
	say("CHILD OK\n");
	_exit(0);
}

static int self_mode(void)
{
	char buf[64];
	ssize_t n;

	mkpipe(0, 20, 21);
	if (write(21, STREAM, strlen(STREAM)) != (ssize_t)strlen(STREAM))
		bad("write stream");
	say("READY %d\n", getpid());
	while (!go)
		nap(10000);
	fcntl(20, F_SETFL, O_NONBLOCK);
	n = read(20, buf, sizeof(buf));
	if (n != (ssize_t)strlen(STREAM) || memcmp(buf, STREAM, n))
		bad("stream bytes");
	if (read(20, buf, sizeof(buf)) != -1 || errno != EAGAIN)
		bad("stream has more bytes");
	say("SELF OK\n");
	return 0;
}

int main(int argc, char **argv)
{
	static unsigned char big[BIG];
	struct sigaction sa = { .sa_handler = on_usr1 };
	int status, p[2];
	pid_t pid;
	long i;
	size_t k;

	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGUSR1, &sa, NULL);
	if (argc > 1 && !strcmp(argv[1], "self"))
		return self_mode();
	if (argc > 1 && !strcmp(argv[1], "ext5")) {
		/*
		 * fd 5: a pipe from the test, outside the tree; each line read
		 * from it is said back ("GOT line").
		 */
		char buf[256];
		ssize_t n;
		int null = open("/dev/null", O_RDONLY);

		if (dup2(0, 5) != 5 || null < 0 || dup2(null, 0) != 0)
			bad("dup2");
		close(null);
		say("READY %d\n", getpid());
		for (;;) {
			n = read(5, buf, sizeof(buf) - 1);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			buf[n] = 0;
			if (n && buf[n - 1] == '\n')
				buf[n - 1] = 0;
			say("GOT %s\n", buf);
		}
		say("EOF\n");
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "stdin7")) {
		if (dup2(0, 7) != 7)
			bad("dup2");
		say("READY %d\n", getpid());
		for (;;)
			nap(100000);
	}
	mkpipe(0, 20, 21);
	if (dup2(21, 22) != 22)
		bad("dup");
	mkpipe(O_DIRECT, 23, 24);
	mkpipe(0, 25, 26);
	if (fcntl(26, F_SETPIPE_SZ, BIGCAP) != BIGCAP)
		bad("F_SETPIPE_SZ");
	if (pipe(p) || dup2(p[1], 27) != 27)
		bad("stdin pipe");
	close(p[1]);
	if (write(22, STREAM, strlen(STREAM)) != (ssize_t)strlen(STREAM))
		bad("write stream");
	for (k = 0; k < sizeof(packets) / sizeof(packets[0]); k++)
		if (write(24, packets[k], strlen(packets[k])) != (ssize_t)strlen(packets[k]))
			bad("write packet");
	for (i = 0; i < BIG; i++)
		big[i] = big_byte(i);
	if (write(26, big, BIG) != BIG)
		bad("write big");
	if (write(27, "stdin-line\n", 11) != 11)
		bad("write stdin");
	pid = fork();
	if (pid < 0)
		bad("fork");
	if (pid == 0) {
		if (dup2(p[0], 0) != 0)
			bad("child stdin");
		close(p[0]);
		close(21);
		close(22);
		close(24);
		close(26);
		close(27);
		fcntl(20, F_SETFL, fcntl(20, F_GETFL) | O_NONBLOCK);
		say("READY %d\n", getpid());
		child();
	}
	close(p[0]);
	close(20);
	close(23);
	close(25);
	while (waitpid(pid, &status, 0) != pid)
		if (errno != EINTR)
			bad("waitpid");
	/* The packet writer is O_DIRECT (pipe2 sets it on the write end only). */
	if (!(fcntl(24, F_GETFL) & O_DIRECT))
		bad("packet pipe lost O_DIRECT");
	/* One description at fds 21 and 22. */
	fcntl(21, F_SETFL, fcntl(21, F_GETFL) | O_NONBLOCK);
	if (!(fcntl(22, F_GETFL) & O_NONBLOCK))
		bad("fds 21 and 22 do not share their description");
	/* No reader left anywhere: not even one the restore kept. */
	if (write(21, "x", 1) != -1 || errno != EPIPE)
		bad("the stream pipe still has a reader");
	say("PARENT OK %x\n", status);
	return 0;
}
