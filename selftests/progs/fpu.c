// SPDX-License-Identifier: GPL-2.0
/*
 * Target of the cr FPU state test (x86_64, needs AVX).
 *
 * Sets MXCSR and the x87 control word to round toward zero, then runs the
 * logistic map x = r * x * (1 - x), which is chaotic: any lost or altered
 * bit of state, or another rounding mode, gives different final values.
 * The whole run is one asm block whose state never leaves the registers:
 * six ymm registers of doubles, two of floats, two running sums, the map's
 * constants in four more and one x87 value, all live across every system
 * call.  After each chunk of ITERS iterations it prints "tick" and sleeps,
 * both with raw system calls from inside the block, so a checkpoint finds
 * the task either computing or in a system call with all of this state in
 * its registers.  At the end it prints every value in hex, the final MXCSR
 * and control word, and "DONE".
 *
 * Output: "START", CHUNKS lines "tick", "RESULT ..." lines, "MXCSR m FCW c",
 * "DONE".  Without AVX it prints "NOAVX" and exits 4.
 *
 * Usage: fpu [CHUNKS [ITERS [SLEEP_US]]]	(default 60 20000 30000)
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MXCSR_RZ	0x7f80	/* all exceptions masked, round toward zero */
#define FCW_RZ		0x0f7f	/* all masked, 64-bit precision, truncate */

struct job {
	double pd[6][4];	/* in: start values; out: final values */
	float ps[2][8];
	double pd_r, pd_one;
	float ps_r, ps_one;
	double pd_sum[4];	/* out: sums of pd[0] */
	float ps_sum[8];	/* out: sums of ps[0] */
	double pd_consts[2][4];	/* out: the constants as they ended */
	float ps_consts[2][8];
	long double x87;	/* in/out */
	long double x87_r;
	unsigned long chunks, iters;
	struct timespec ts;
	const char *tick;
	uint32_t mxcsr;		/* in: to set; out: final */
	uint16_t fcw;		/* in: to set; out: final */
};

#define OFF(f) [f] "i" (offsetof(struct job, f))

/* x = r * (x * (1 - x)) on ymm<n>: doubles with ymm8 = r, ymm9 = 1. */
#define LOGPD(n) \
	"vsubpd %%ymm" #n ", %%ymm9, %%ymm12\n\t" \
	"vmulpd %%ymm" #n ", %%ymm12, %%ymm12\n\t" \
	"vmulpd %%ymm8, %%ymm12, %%ymm" #n "\n\t"
/* The same on floats, with ymm10 = r, ymm11 = 1. */
#define LOGPS(n) \
	"vsubps %%ymm" #n ", %%ymm11, %%ymm13\n\t" \
	"vmulps %%ymm" #n ", %%ymm13, %%ymm13\n\t" \
	"vmulps %%ymm10, %%ymm13, %%ymm" #n "\n\t"

static void run(struct job *job)
{
	asm volatile(
		"ldmxcsr %c[mxcsr](%[j])\n\t"
		"fldcw %c[fcw](%[j])\n\t"
		"vmovupd %c[pd]+0(%[j]), %%ymm0\n\t"
		"vmovupd %c[pd]+32(%[j]), %%ymm1\n\t"
		"vmovupd %c[pd]+64(%[j]), %%ymm2\n\t"
		"vmovupd %c[pd]+96(%[j]), %%ymm3\n\t"
		"vmovupd %c[pd]+128(%[j]), %%ymm4\n\t"
		"vmovupd %c[pd]+160(%[j]), %%ymm5\n\t"
		"vmovups %c[ps]+0(%[j]), %%ymm6\n\t"
		"vmovups %c[ps]+32(%[j]), %%ymm7\n\t"
		"vbroadcastsd %c[pd_r](%[j]), %%ymm8\n\t"
		"vbroadcastsd %c[pd_one](%[j]), %%ymm9\n\t"
		"vbroadcastss %c[ps_r](%[j]), %%ymm10\n\t"
		"vbroadcastss %c[ps_one](%[j]), %%ymm11\n\t"
		"vxorpd %%ymm14, %%ymm14, %%ymm14\n\t"
		"vxorps %%ymm15, %%ymm15, %%ymm15\n\t"
		/* x87: st(0) = x, st(1) = r. */
		"fldt %c[x87_r](%[j])\n\t"
		"fldt %c[x87](%[j])\n\t"
		"mov %c[chunks](%[j]), %%r12\n"
		"1:\n\t"
		"mov %c[iters](%[j]), %%r13\n"
		"2:\n\t"
		LOGPD(0) LOGPD(1) LOGPD(2) LOGPD(3) LOGPD(4) LOGPD(5)
		LOGPS(6) LOGPS(7)
		"vaddpd %%ymm0, %%ymm14, %%ymm14\n\t"
		"vaddps %%ymm6, %%ymm15, %%ymm15\n\t"
		"fld1\n\t"			/* 1, x, r */
		"fsub %%st(1), %%st\n\t"	/* 1 - x, x, r */
		"fmul %%st(1), %%st\n\t"	/* x (1 - x), x, r */
		"fmul %%st(2), %%st\n\t"	/* r x (1 - x), x, r */
		"fstp %%st(1)\n\t"		/* x', r */
		"dec %%r13\n\t"
		"jnz 2b\n\t"
		/* write(1, tick, 5) */
		"mov $1, %%eax\n\t"
		"mov $1, %%edi\n\t"
		"mov %c[tick](%[j]), %%rsi\n\t"
		"mov $5, %%edx\n\t"
		"syscall\n\t"
		/* nanosleep(&ts, NULL) */
		"mov $35, %%eax\n\t"
		"lea %c[ts](%[j]), %%rdi\n\t"
		"xor %%esi, %%esi\n\t"
		"syscall\n\t"
		"dec %%r12\n\t"
		"jnz 1b\n\t"
		"vmovupd %%ymm0, %c[pd]+0(%[j])\n\t"
		"vmovupd %%ymm1, %c[pd]+32(%[j])\n\t"
		"vmovupd %%ymm2, %c[pd]+64(%[j])\n\t"
		"vmovupd %%ymm3, %c[pd]+96(%[j])\n\t"
		"vmovupd %%ymm4, %c[pd]+128(%[j])\n\t"
		"vmovupd %%ymm5, %c[pd]+160(%[j])\n\t"
		"vmovups %%ymm6, %c[ps]+0(%[j])\n\t"
		"vmovups %%ymm7, %c[ps]+32(%[j])\n\t"
		"vmovupd %%ymm8, %c[pd_consts]+0(%[j])\n\t"
		"vmovupd %%ymm9, %c[pd_consts]+32(%[j])\n\t"
		"vmovups %%ymm10, %c[ps_consts]+0(%[j])\n\t"
		"vmovups %%ymm11, %c[ps_consts]+32(%[j])\n\t"
		"vmovupd %%ymm14, %c[pd_sum](%[j])\n\t"
		"vmovups %%ymm15, %c[ps_sum](%[j])\n\t"
		"fstpt %c[x87](%[j])\n\t"
		"fstp %%st(0)\n\t"
		"stmxcsr %c[mxcsr](%[j])\n\t"
		"fnstcw %c[fcw](%[j])\n\t"
		"vzeroupper\n\t"
		:
		: [j] "r" (job), OFF(pd), OFF(ps), OFF(pd_r), OFF(pd_one),
		  OFF(ps_r), OFF(ps_one), OFF(pd_sum), OFF(ps_sum),
		  OFF(pd_consts), OFF(ps_consts), OFF(x87), OFF(x87_r),
		  OFF(chunks), OFF(iters), OFF(ts), OFF(tick), OFF(mxcsr),
		  OFF(fcw)
		: "rax", "rcx", "rdx", "rsi", "rdi", "r11", "r12", "r13",
		  "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
		  "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13",
		  "xmm14", "xmm15", "st", "st(1)", "st(2)", "memory", "cc");
}

static void print_words(const char *name, const void *p, size_t len)
{
	const unsigned char *b = p;
	size_t i;

	printf("RESULT %s", name);
	for (i = 0; i < len; i++)
		printf("%s%02x", i % 8 ? "" : " ", b[i]);
	printf("\n");
}

int main(int argc, char **argv)
{
	static struct job job;
	char name[32];
	int i, l;

	if (!__builtin_cpu_supports("avx")) {
		printf("NOAVX\n");
		return 4;
	}
	job.chunks = argc > 1 ? strtoul(argv[1], NULL, 0) : 60;
	job.iters = argc > 2 ? strtoul(argv[2], NULL, 0) : 20000;
	job.ts.tv_nsec = (argc > 3 ? strtoul(argv[3], NULL, 0) : 30000) * 1000;
	if (!job.chunks || !job.iters || job.ts.tv_nsec >= 1000000000) {
		fprintf(stderr, "usage: fpu [CHUNKS [ITERS [SLEEP_US]]]\n");
		return 2;
	}
	for (i = 0; i < 6; i++)
		for (l = 0; l < 4; l++)
			job.pd[i][l] = 0.1 + 0.8 * (i * 4 + l) / 24.0;
	for (i = 0; i < 2; i++)
		for (l = 0; l < 8; l++)
			job.ps[i][l] = 0.15f + 0.7f * (i * 8 + l) / 16.0f;
	job.pd_r = 3.99;
	job.pd_one = 1.0;
	job.ps_r = 3.99f;
	job.ps_one = 1.0f;
	job.x87 = 0.3L;
	job.x87_r = 3.99L;
	job.tick = "tick\n";
	job.mxcsr = MXCSR_RZ;
	job.fcw = FCW_RZ;

	printf("START\n");
	fflush(stdout);
	run(&job);

	for (i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "pd%d", i);
		print_words(name, job.pd[i], sizeof(job.pd[i]));
	}
	for (i = 0; i < 2; i++) {
		snprintf(name, sizeof(name), "ps%d", i);
		print_words(name, job.ps[i], sizeof(job.ps[i]));
	}
	print_words("pd_sum", job.pd_sum, sizeof(job.pd_sum));
	print_words("ps_sum", job.ps_sum, sizeof(job.ps_sum));
	print_words("pd_consts", job.pd_consts, sizeof(job.pd_consts));
	print_words("ps_consts", job.ps_consts, sizeof(job.ps_consts));
	print_words("x87", &job.x87, 10);
	printf("MXCSR %08x FCW %04x\n", job.mxcsr, job.fcw);
	printf("DONE\n");
	return fflush(stdout) ? 1 : 0;
}
