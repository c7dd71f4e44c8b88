/*
 * regs - CPU register state.
 *
 * Keeps known 64-bit patterns in rbx and r8-r15, and 128-bit (SSE) or
 * 256-bit (AVX) patterns in xmm0-xmm15/ymm0-ymm15, while it busy-waits in an
 * asm loop (with the pause instruction) that never leaves those registers:
 * a checkpoint can only catch the process inside the loop or in the
 * protocol signal handler, whose register state the kernel saves and
 * restores. Also checks MXCSR and the x87 control word (both set to a
 * non-default rounding mode), the segment selectors, fs_base/gs_base and
 * the TLS block reached through fs (address and value of a __thread
 * variable).
 *
 * Corrupt (SIGUSR1): flips the low byte of the value reloaded into r13.
 */
#include "common.h"

#include <asm/prctl.h>
#include <sys/syscall.h>

#define NGPR 9
#define NVEC 16

/* The layout the asm below loads from and stores to. */
struct regs_state {
	uint64_t gpr[NGPR];        /* offset 0: rbx, r8 ... r15 */
	uint8_t vec[NVEC][32];     /* offset 72: ymm0 ... ymm15 */
};

static const char *const gpr_names[NGPR] = {
	"rbx", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
};

#define GPR_LIST(X) X(rbx, 0) X(r8, 8) X(r9, 16) X(r10, 24) X(r11, 32) \
	X(r12, 40) X(r13, 48) X(r14, 56) X(r15, 64)
#define VEC_LIST(X) X(0, 72) X(1, 104) X(2, 136) X(3, 168) X(4, 200) \
	X(5, 232) X(6, 264) X(7, 296) X(8, 328) X(9, 360) X(10, 392) \
	X(11, 424) X(12, 456) X(13, 488) X(14, 520) X(15, 552)

#define LD_GPR(r, off) "movq " #off "(%[s]), %%" #r "\n\t"
#define ST_GPR(r, off) "movq %%" #r ", " #off "(%[s])\n\t"
#define LD_YMM(i, off) "vmovdqu " #off "(%[s]), %%ymm" #i "\n\t"
#define ST_YMM(i, off) "vmovdqu %%ymm" #i ", " #off "(%[s])\n\t"
#define LD_XMM(i, off) "movdqu " #off "(%[s]), %%xmm" #i "\n\t"
#define ST_XMM(i, off) "movdqu %%xmm" #i ", " #off "(%[s])\n\t"

/* Spin until wl_wake is set: wait for a flag without touching registers. */
#define SPIN "1: pause\n\t" \
	"movl %[flag], %%eax\n\t" \
	"testl %%eax, %%eax\n\t" \
	"jz 1b\n\t"

#define CLOBBERS "rax", "rbx", "r8", "r9", "r10", "r11", "r12", "r13", "r14", \
	"r15", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", \
	"xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", \
	"cc", "memory"

/* spin_avx loads the state, spins, and stores the registers back. */
static void spin_avx(struct regs_state *st)
{
	asm volatile(GPR_LIST(LD_GPR) VEC_LIST(LD_YMM) SPIN
		     GPR_LIST(ST_GPR) VEC_LIST(ST_YMM) "vzeroupper\n\t"
		     : : [s] "r"(st), [flag] "m"(wl_wake) : CLOBBERS);
}

/* spin_sse is spin_avx for CPUs without AVX: xmm only. */
static void spin_sse(struct regs_state *st)
{
	asm volatile(GPR_LIST(LD_GPR) VEC_LIST(LD_XMM) SPIN
		     GPR_LIST(ST_GPR) VEC_LIST(ST_XMM)
		     : : [s] "r"(st), [flag] "m"(wl_wake) : CLOBBERS);
}

/* Non-default control state: round up (RC=10) plus flush-to-zero. */
#define MXCSR_SET 0xdf80u
#define MXCSR_CONTROL 0xffc0u /* control bits; the low 6 are sticky status */
#define FPUCW_SET 0x0b7f      /* x87: round up, 64-bit precision */

static __thread volatile uint64_t tls_marker = 0x715f715f715f715fULL;

/* Everything besides the vector/general registers, recorded at start. */
struct misc_state {
	uint32_t mxcsr;
	uint16_t fpucw;
	uint16_t cs, ss, ds, es, fs, gs;
	uint64_t fs_base, gs_base, fs_self, tls_addr, tls_value;
};

static struct regs_state expected, state;
static int have_avx;

static uint64_t arch_get(int code)
{
	unsigned long v = 0;

	if (syscall(SYS_arch_prctl, code, &v) < 0)
		return (uint64_t)-1;
	return v;
}

static void read_misc(struct misc_state *m)
{
	memset(m, 0, sizeof(*m));
	asm volatile("stmxcsr %0" : "=m"(m->mxcsr));
	asm volatile("fnstcw %0" : "=m"(m->fpucw));
	asm volatile("mov %%cs, %0" : "=r"(m->cs));
	asm volatile("mov %%ss, %0" : "=r"(m->ss));
	asm volatile("mov %%ds, %0" : "=r"(m->ds));
	asm volatile("mov %%es, %0" : "=r"(m->es));
	asm volatile("mov %%fs, %0" : "=r"(m->fs));
	asm volatile("mov %%gs, %0" : "=r"(m->gs));
	asm volatile("mov %%fs:0, %0" : "=r"(m->fs_self));
	m->fs_base = arch_get(ARCH_GET_FS);
	m->gs_base = arch_get(ARCH_GET_GS);
	m->tls_addr = (uint64_t)(uintptr_t)&tls_marker;
	m->tls_value = tls_marker;
}

static void check_misc(const struct misc_state *want)
{
	struct misc_state got;

	read_misc(&got);
	wl_check_hex("mxcsr", want->mxcsr & MXCSR_CONTROL, got.mxcsr & MXCSR_CONTROL);
	wl_check_hex("x87 control word", want->fpucw, got.fpucw);
	wl_check_hex("cs", want->cs, got.cs);
	wl_check_hex("ss", want->ss, got.ss);
	wl_check_hex("ds", want->ds, got.ds);
	wl_check_hex("es", want->es, got.es);
	wl_check_hex("fs selector", want->fs, got.fs);
	wl_check_hex("gs selector", want->gs, got.gs);
	wl_check_hex("fs_base", want->fs_base, got.fs_base);
	wl_check_hex("gs_base", want->gs_base, got.gs_base);
	wl_check_hex("fs:0 (TCB self pointer)", want->fs_self, got.fs_self);
	wl_check_hex("__thread variable address", want->tls_addr, got.tls_addr);
	wl_check_hex("__thread variable value", want->tls_value, got.tls_value);
}

static void check_regs(void)
{
	int i, j, width = have_avx ? 32 : 16;
	char what[64];

	for (i = 0; i < NGPR; i++)
		wl_check_hex(gpr_names[i], expected.gpr[i], state.gpr[i]);
	for (i = 0; i < NVEC; i++) {
		for (j = 0; j < width; j += 8) {
			uint64_t e, g;
			memcpy(&e, expected.vec[i] + j, 8);
			memcpy(&g, state.vec[i] + j, 8);
			snprintf(what, sizeof(what), "%s%d bits %d-%d",
				 have_avx ? "ymm" : "xmm", i, j * 8, j * 8 + 63);
			wl_check_hex(what, e, g);
		}
	}
}

static void init_patterns(void)
{
	uint64_t seed = 0x7265677300000001ULL;
	int i, j;

	for (i = 0; i < NGPR; i++)
		expected.gpr[i] = wl_rand(&seed);
	for (i = 0; i < NVEC; i++)
		for (j = 0; j < 32; j += 8) {
			uint64_t v = wl_rand(&seed);
			memcpy(expected.vec[i] + j, &v, 8);
		}
	state = expected;
}

int main(void)
{
	struct misc_state want;
	uint32_t mx = MXCSR_SET;
	uint16_t cw = FPUCW_SET;

	wl_init(WL_WAIT_OTHER);
	__builtin_cpu_init();
	have_avx = __builtin_cpu_supports("avx") != 0;
	init_patterns();
	asm volatile("ldmxcsr %0" : : "m"(mx));
	asm volatile("fldcw %0" : : "m"(cw));
	tls_marker ^= 0x1234; /* a value that is not the initial image */
	read_misc(&want);
	if ((want.mxcsr & MXCSR_CONTROL) != MXCSR_SET || want.fpucw != FPUCW_SET)
		wl_setup_fail("mxcsr %#x fpucw %#x not set", want.mxcsr, want.fpucw);

	wl_ready("avx=%d%s", have_avx,
		 have_avx ? "" : " (SSE only: ymm upper halves not checked)");
	for (;;) {
		if (have_avx)
			spin_avx(&state);
		else
			spin_sse(&state);
		wl_wake = 0;
		if (wl_corrupt_req) {
			wl_corrupt_req = 0;
			state.gpr[6] ^= 0xff; /* r13 */
			wl_out("CORRUPT: r13\n");
		}
		if (wl_verify_req)
			break;
	}
	check_regs();
	check_misc(&want);
	wl_finish();
}
