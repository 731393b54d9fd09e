import { test } from "node:test";
import assert from "node:assert/strict";
import { VMSA, VMSA_SIZE } from "./vmsa.js";

// Offsets copied by hand from SNP.md §5 (do not derive these from the table).
const HAND: Record<string, number> = {
  es_selector: 0x000, cs_selector: 0x010, ss_selector: 0x020, ds_selector: 0x030, fs_selector: 0x040,
  gs_selector: 0x050, gdtr_selector: 0x060, ldtr_selector: 0x070, idtr_selector: 0x080, tr_selector: 0x090,
  gs_base: 0x058, vmpl: 0x0ca, cpl: 0x0cb, efer: 0x0d0, xss: 0x140, cr4: 0x148, cr3: 0x150, cr0: 0x158,
  dr7: 0x160, dr6: 0x168, rflags: 0x170, rip: 0x178, dr0: 0x180, dr3: 0x198, rsp: 0x1d8, rax: 0x1f8,
  star: 0x200, lstar: 0x208, cstar: 0x210, sfmask: 0x218, kernel_gs_base: 0x220, sysenter_cs: 0x228,
  sysenter_esp: 0x230, sysenter_eip: 0x238, cr2: 0x240, g_pat: 0x268, pkru: 0x2e8, tsc_aux: 0x2ec,
  rcx: 0x308, rdx: 0x310, rbx: 0x318, rbp: 0x328, rsi: 0x330, rdi: 0x338, r8: 0x340, r15: 0x378,
  guest_exit_info_1: 0x390, guest_exit_info_2: 0x398, guest_exit_int_info: 0x3a0, guest_nrip: 0x3a8,
  sev_features: 0x3b0, vintr_ctrl: 0x3b8, guest_exit_code: 0x3c0, virtual_tom: 0x3c8, event_inj: 0x3e0,
  xcr0: 0x3e8, x87_dp: 0x400, mxcsr: 0x408, x87_fcw: 0x410, x87_rip: 0x418, fpreg_x87: 0x420,
  fpreg_xmm: 0x470, fpreg_ymm: 0x570,
};

test("VMSA offsets match SNP.md §5", () => {
  assert.equal(VMSA_SIZE, 0x670);
  for (const [name, off] of Object.entries(HAND)) assert.equal(VMSA.field(name).offset, off, name);
});

test("VMSA parse/serialize round-trips", () => {
  const v = VMSA.parse(new Uint8Array(VMSA_SIZE));
  v.rip = 0xffffffff81000000n;
  v.vmpl = 1;
  v.cs_attrib = 0x29b;
  const b = VMSA.serialize(v);
  assert.equal(b.length, VMSA_SIZE);
  const w = VMSA.parse(b);
  assert.equal(w.rip, 0xffffffff81000000n);
  assert.equal(w.vmpl, 1);
  assert.equal(w.cs_attrib, 0x29b);
  assert.deepEqual(VMSA.serialize(w), b);
});

test("strict parse rejects a non-zero reserved byte and names it", () => {
  const b = new Uint8Array(VMSA_SIZE);
  b[0x0d8 + 3] = 1;
  assert.throws(() => VMSA.parse(b), (e: unknown) => (e as { code: string; details: { field: string } }).code === "RESERVED_NONZERO" && (e as { details: { field: string } }).details.field === "reserved_0xd8");
  assert.doesNotThrow(() => VMSA.parse(b, 0, { strict: false }));
});

test("short input is a typed error", () => {
  assert.throws(() => VMSA.parse(new Uint8Array(10)), { code: "BAD_LENGTH" });
});
