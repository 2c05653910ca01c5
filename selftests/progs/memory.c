// SPDX-License-Identifier: GPL-2.0
/*
 * Target of the cr memory integrity test.  Builds an address space with the
 * kinds of mappings a restore must get right, remembers a hash of every
 * byte and a copy of /proc/self/maps, prints "READY" and waits for SIGUSR1.
 * Then it checks everything again and prints "OK", or one "FAIL <what>" line
 * per difference, and exits 0 (OK) or 1.
 *
 *  - 64 MiB from malloc() (an mmap of its own), filled from a PRNG;
 *  - 16 pages filled, then made read-only with mprotect();
 *  - 64 anonymous pages of which only every fourth was ever written;
 *  - a MAP_PRIVATE mapping of FILE (created here with known contents),
 *    partly written so those pages are private copies while the file on
 *    disk stays unchanged;
 *  - 64 anonymous pages with two holes punched by munmap(), four of the
 *    remaining pages never touched;
 *  - .data, .bss and the stack.
 *
 * After READY it allocates and maps nothing (raw write(2) for output, no
 * stdio), so /proc/self/maps must read the same, byte for byte, in a
 * restored copy.
 *
 * Usage: memory FILE
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "prog.h"

#define BIG_SIZE	(64UL << 20)
#define FILE_PAGES	16
#define MAX_PAGE	65536
#define MAX_REGIONS	16

struct region {
	const char *name;
	const void *addr;
	size_t len;
	uint64_t hash;
};

static struct region regions[MAX_REGIONS];
static int nr_regions;
static size_t page;
static volatile sig_atomic_t go;
static int failures;

static unsigned char bss_buf[1 << 20];
static unsigned long data_buf[4096] = { 1, 2, 3, 5, 8, 13, 21, 34 };
static char maps_before[1 << 16], maps_after[1 << 16];
static unsigned char file_buf[FILE_PAGES * MAX_PAGE];

static void fail(const char *what)
{
	say_fd(1, "FAIL %s\n", what);
	failures++;
}

static void die(const char *what)
{
	say_fd(1, "FAIL setup: %s: %s\n", what, strerror(errno));
	exit(2);
}

/* xorshift64*: a deterministic stream of well-mixed words. */
static uint64_t prng(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static void fill(void *p, size_t len, uint64_t seed)
{
	uint64_t *w = p;
	size_t i;

	seed = seed * 0x9e3779b97f4a7c15ULL + 1;
	for (i = 0; i < len / sizeof(*w); i++)
		w[i] = prng(&seed);
}

static uint64_t hash(const void *p, size_t len)
{
	const uint64_t *w = p;
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < len / sizeof(*w); i++) {
		h ^= w[i];
		h *= 0x100000001b3ULL;
		h ^= h >> 32;
	}
	return h ^ len;
}

static void add_region(const char *name, const void *addr, size_t len)
{
	struct region *r = &regions[nr_regions++];

	r->name = name;
	r->addr = addr;
	r->len = len;
	r->hash = hash(addr, len);
}

static size_t read_maps(char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;
	int fd;

	fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("/proc/self/maps");
	while ((n = read(fd, buf + len, size - len)) > 0)
		len += n;
	close(fd);
	if (n < 0 || len == size)
		die("reading /proc/self/maps");
	return len;
}

static void *map_anon(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	return p;
}

static void on_usr1(int sig)
{
	go = 1;
}

/* The file on disk must still hold what was written to it. */
static void check_file(const char *path)
{
	size_t size = FILE_PAGES * page, off = 0;
	unsigned char buf[4096];
	ssize_t n;
	int fd;

	fill(file_buf, size, 42);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fail("file: cannot open it");
		return;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (off + n > size || memcmp(buf, file_buf + off, n)) {
			fail("file: contents changed on disk");
			close(fd);
			return;
		}
		off += n;
	}
	close(fd);
	if (n < 0 || off != size)
		fail("file: size changed on disk");
}

int main(int argc, char **argv)
{
	unsigned char stack_buf[16384];
	size_t size, maps_len, len;
	struct sigaction sa;
	unsigned char *p;
	int fd, i;

	if (argc != 2) {
		say_fd(2, "usage: memory FILE\n");
		return 2;
	}
	page = sysconf(_SC_PAGESIZE);
	if (page > MAX_PAGE)
		die("page size");

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	if (sigaction(SIGUSR1, &sa, NULL))
		die("sigaction");

	/* malloc(): big enough for an mmap of its own. */
	p = malloc(BIG_SIZE);
	if (!p)
		die("malloc");
	fill(p, BIG_SIZE, 1);
	add_region("malloc", p, BIG_SIZE);

	/* Filled, then read-only. */
	p = map_anon(16 * page);
	fill(p, 16 * page, 2);
	if (mprotect(p, 16 * page, PROT_READ))
		die("mprotect");
	add_region("read-only", p, 16 * page);

	/* Only every fourth page ever written; the rest read as zeroes. */
	p = map_anon(64 * page);
	for (i = 0; i < 64; i += 4)
		fill(p + i * page, page, 100 + i);
	add_region("sparse", p, 64 * page);

	/* A private file mapping with some copy-on-write pages. */
	size = FILE_PAGES * page;
	fill(file_buf, size, 42);
	fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		die(argv[1]);
	if (write(fd, file_buf, size) != (ssize_t)size)
		die("write");
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		die("mmap file");
	close(fd);
	fill(p + 2 * page, 2 * page, 3);
	p[10 * page + 5] ^= 0xff;
	add_region("file-private", p, size);

	/* Holes: pages 8-15 and 40 unmapped, pages 20-23 never touched. */
	p = map_anon(64 * page);
	if (munmap(p + 8 * page, 8 * page) || munmap(p + 40 * page, page))
		die("munmap");
	fill(p, 8 * page, 4);
	fill(p + 16 * page, 4 * page, 5);
	fill(p + 24 * page, 16 * page, 6);
	fill(p + 41 * page, 23 * page, 7);
	add_region("holes 0-7", p, 8 * page);
	add_region("holes 16-39", p + 16 * page, 24 * page);
	add_region("holes 41-63", p + 41 * page, 23 * page);

	/* .data, .bss and the stack. */
	for (i = 0; i < 4096; i++)
		data_buf[i] = data_buf[i] * 31 + i;
	add_region("data", data_buf, sizeof(data_buf));
	fill(bss_buf, sizeof(bss_buf), 8);
	add_region("bss", bss_buf, sizeof(bss_buf));
	fill(stack_buf, sizeof(stack_buf), 9);
	add_region("stack", stack_buf, sizeof(stack_buf));

	maps_len = read_maps(maps_before, sizeof(maps_before));
	say_fd(1, "READY\n");

	while (!go)
		usleep(10000);

	for (i = 0; i < nr_regions; i++) {
		if (hash(regions[i].addr, regions[i].len) != regions[i].hash)
			fail(regions[i].name);
	}
	len = read_maps(maps_after, sizeof(maps_after));
	if (len != maps_len || memcmp(maps_before, maps_after, len)) {
		fail("/proc/self/maps differs");
		say_fd(2, "--- /proc/self/maps at READY:\n");
		if (write(2, maps_before, maps_len) < 0)
			return 1;
		say_fd(2, "--- /proc/self/maps now:\n");
		if (write(2, maps_after, len) < 0)
			return 1;
	}
	check_file(argv[1]);
	unlink(argv[1]);
	if (failures)
		return 1;
	say_fd(1, "OK\n");
	return 0;
}
