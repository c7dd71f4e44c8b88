/*
 * ldt - the local descriptor table and segment registers that use it.
 *
 * Installs three LDT entries with modify_ldt(0x11) (0x11 rather than 1: the
 * old mode 1 clears the "useable" bit):
 *   0: 32-bit read/write data, base 0x12345000, limit 0xfff, useable
 *   1: code segment, limit 0xfffff pages, lm=1 requested (the kernel
 *      refuses to set the L bit in LDT entries, so it reads back as 32-bit)
 *   5: read-only data, base 0xdead0000, limit 0x10 pages (leaves a hole)
 * then loads selector 0x7 (entry 0, LDT, RPL 3) into %ds and %es. In 64-bit
 * mode those are ignored for addressing, but the kernel keeps them per
 * task, and %fs/%gs are left alone (TLS).
 *
 * Checks: modify_ldt(0) reads back the same 16 entries (bytes), lsl/lar
 * (limit and access rights as the CPU sees the table) for each selector,
 * and the %ds/%es values. Waits in sigsuspend().
 *
 * Corrupt (SIGUSR1): rewrites entry 0 with limit 0x1fff.
 */
#include "common.h"

#include <asm/ldt.h>
#include <sys/syscall.h>

#define LDT_READ_BYTES (16 * LDT_ENTRY_SIZE)
#define SEL(entry) ((uint16_t)((entry) << 3 | 4 | 3))

static const int used_entries[] = { 0, 1, 5 };
#define NUSED (int)(sizeof(used_entries) / sizeof(used_entries[0]))

static unsigned char want_ldt[LDT_READ_BYTES];
static uint32_t want_limit[NUSED], want_ar[NUSED];
static uint16_t want_ds, want_es;

static int modify_ldt(int func, void *ptr, unsigned long bytes)
{
	return syscall(SYS_modify_ldt, func, ptr, bytes);
}

static void set_entry(int n, unsigned base, unsigned limit, int contents,
		      int ro, int pages, int seg32, int useable, int lm)
{
	struct user_desc d;

	memset(&d, 0, sizeof(d));
	d.entry_number = n;
	d.base_addr = base;
	d.limit = limit;
	d.seg_32bit = seg32;
	d.contents = contents;
	d.read_exec_only = ro;
	d.limit_in_pages = pages;
	d.useable = useable;
	d.lm = lm;
	if (modify_ldt(0x11, &d, sizeof(d)) < 0) {
		if (errno == ENOSYS)
			wl_unsupported("modify_ldt: %s", strerror(errno));
		wl_setup_fail("modify_ldt(0x11) entry %d: %s", n, strerror(errno));
	}
}

/* lsl: segment limit of a selector; -1 when the CPU refuses it. */
static uint32_t seg_limit(uint16_t sel)
{
	uint32_t lim = 0;
	uint8_t ok;

	asm volatile("lsl %k2, %0\n\tsetz %1" : "+r"(lim), "=qm"(ok) : "r"((uint32_t)sel) : "cc");
	return ok ? lim : (uint32_t)-1;
}

/* lar: access rights of a selector; -1 when the CPU refuses it. */
static uint32_t seg_rights(uint16_t sel)
{
	uint32_t ar = 0;
	uint8_t ok;

	asm volatile("lar %k2, %0\n\tsetz %1" : "+r"(ar), "=qm"(ok) : "r"((uint32_t)sel) : "cc");
	return ok ? ar : (uint32_t)-1;
}

static uint16_t read_ds(void)
{
	uint16_t v;

	asm volatile("mov %%ds, %0" : "=r"(v));
	return v;
}

static uint16_t read_es(void)
{
	uint16_t v;

	asm volatile("mov %%es, %0" : "=r"(v));
	return v;
}

static void corrupt(void)
{
	set_entry(0, 0x12345000, 0x1fff, MODIFY_LDT_CONTENTS_DATA, 0, 0, 1, 1, 0);
	wl_out("CORRUPT: ldt entry 0 limit 0x1fff\n");
}

static void check(void)
{
	unsigned char got[LDT_READ_BYTES];
	char what[64];
	int i, n;

	memset(got, 0, sizeof(got));
	n = modify_ldt(0, got, sizeof(got));
	if (n != LDT_READ_BYTES)
		wl_fail("modify_ldt(0) expected %d bytes got %d (%s)", LDT_READ_BYTES, n,
			n < 0 ? strerror(errno) : "no LDT");
	for (i = 0; i < 16; i++) {
		snprintf(what, sizeof(what), "ldt entry %d", i);
		wl_check_bytes(what, want_ldt + i * 8, 8, got + i * 8, 8);
	}
	for (i = 0; i < NUSED; i++) {
		uint16_t sel = SEL(used_entries[i]);
		snprintf(what, sizeof(what), "lsl(%#x) limit", sel);
		wl_check_hex(what, want_limit[i], seg_limit(sel));
		snprintf(what, sizeof(what), "lar(%#x) access rights", sel);
		wl_check_hex(what, want_ar[i], seg_rights(sel));
	}
	wl_check_hex("ds", want_ds, read_ds());
	wl_check_hex("es", want_es, read_es());
}

int main(void)
{
	uint16_t sel = SEL(0);
	int i;

	wl_init(WL_WAIT_SIGSUSPEND);
	set_entry(0, 0x12345000, 0xfff, MODIFY_LDT_CONTENTS_DATA, 0, 0, 1, 1, 0);
	set_entry(1, 0, 0xfffff, MODIFY_LDT_CONTENTS_CODE, 0, 1, 1, 0, 1);
	set_entry(5, 0xdead0000, 0x10, MODIFY_LDT_CONTENTS_DATA, 1, 1, 1, 0, 0);
	asm volatile("mov %0, %%ds\n\tmov %0, %%es" : : "r"(sel));

	if (modify_ldt(0, want_ldt, sizeof(want_ldt)) != LDT_READ_BYTES)
		wl_setup_fail("modify_ldt(0): %s", strerror(errno));
	for (i = 0; i < NUSED; i++) {
		want_limit[i] = seg_limit(SEL(used_entries[i]));
		want_ar[i] = seg_rights(SEL(used_entries[i]));
	}
	want_ds = read_ds();
	want_es = read_es();
	if (want_limit[0] != 0xfff || want_ds != sel || want_es != sel)
		wl_setup_fail("lsl %#x ds %#x es %#x", want_limit[0], want_ds, want_es);

	wl_ready("ldt entries 0,1,5 ds=es=%#x", sel);
	wl_loop(corrupt);
	check();
	wl_finish();
}
