/**
 * Attacks of a compromised VMPL1 kernel on the VMPL0 agent, run as guest instructions
 * through the Cpu so that the platform decides the outcome; each records what it saw
 * (result code, fault kind/vector/error code/GPA, or data that came back). An access that
 * faults is retried like any instruction — up to MAX_ATTEMPTS times, then the attacker
 * gives up (a real guest would spin forever on a VMPL-permission #NPF).
 *
 *   attack-read-agent[=dmap|map|phys]   read the agent's first image page
 *   attack-write-agent[=dmap|map|phys]  write it
 *   attack-rmpadjust[=self|agent|grant] RMPADJUST: rights for itself on an agent page / for VMPL0 / beyond its own
 *   attack-vmsa-bit                     RMPADJUST with the VMSA bit (on a guest page and on its own VMSA)
 *   attack-pvalidate[=agent|self]       PVALIDATE (rescind) an agent page / a guest page
 *   attack-report                       MSG_REPORT_REQ for a VMPL0 report with VMPCK1 (GHCB GUEST_REQUEST)
 *   attack-vmsa-write[=own|agent]       write its own VMPL1 VMSA page / the vCPU's VMPL0 VMSA
 *   attack-remap[=PID|COMM]             move a user page to another physical page (copy, rewrite the PTE)
 *   attack-flood[=N]                    N reads spread over the pages an introspector traps
 * `dmap` first extends the direct map over the agent region (2 MiB entries); `map` builds a
 * fresh 4 KiB mapping beyond the direct map; `phys` uses a physical (identity) access.
 */
import { createCipheriv, createDecipheriv } from "node:crypto";
import type { Cpu, StepResult } from "../../platform/index.js";
import { CpuFault } from "../../platform/index.js";
import { gpa } from "../../shared/base/index.js";
import {
  GHCB,
  GHCB_MSR,
  GHCB_PROTOCOL_VERSION_SNP,
  GHCB_PSC_OP,
  GUEST_MSG_AUTHTAG_LEN,
  GUEST_MSG_HEADER_SIZE,
  KEY_SEL,
  MSG_REPORT_REQ,
  MSG_REPORT_REQ_SIZE,
  NAE_EXIT,
  RMP_PERM_ALL,
  RMP_PERM_RWX,
  SNP_MSG_TYPE,
  VMSA,
  decodeGuestRequestResult,
  decodePscResp,
  decodeRegisterGhcbResp,
  encodePscReq,
  encodeRegisterGhcbReq,
  ghcbMsrInfo,
  ghcbSet,
  guestMessageAad,
  guestMessageIv,
  parseGuestMessage,
  serializeGuestMessageHeader,
  vmpckOffset,
} from "../../shared/spec/index.js";
import { MSR_GHCB } from "../arch.js";
import type { Kernel } from "../model/kernel.js";
import { PAGE_KERNEL } from "../mem/page-tables.js";
import { u64Bytes } from "../mem/kmem.js";
import type { Gen, VcpuCtx } from "../workload/context.js";
import type { Insn } from "../workload/insn.js";
import { readInsn } from "../workload/insn.js";
import type { AdminOp } from "../workload/workload.js";
import { badArg, type Outcome, type Scenario, type ScenarioCtx, type ScenarioRecord } from "../rootkits/types.js";

export const MAX_ATTEMPTS = 3;
const MIB2 = 2n << 20n;
const PAGE = 0x1000n;

function hexs(v: bigint | undefined): string | null {
  return v === undefined ? null : `0x${v.toString(16)}`;
}

function faultOf(e: CpuFault): NonNullable<Outcome["fault"]> {
  return { kind: e.code, vector: e.vector, errorCode: `0x${e.errorCode.toString(16)}`, gpa: hexs(e.gpa), va: hexs(e.va) };
}

/**
 * One attacking instruction: runs `action`; a CpuFault is re-raised (the platform delivers
 * it: #NPF exits to the host) until the last attempt, then recorded and swallowed.
 */
function attackInsn(
  rec: ScenarioRecord,
  rip: bigint,
  step: string,
  action: (cpu: Cpu) => { rc?: number; note?: string; exit?: StepResult["kind"] } | void,
): Insn {
  let attempts = 0;
  let last: CpuFault | undefined;
  return {
    rip,
    kind: "special",
    what: `attack: ${step}`,
    exec(cpu) {
      attempts++;
      try {
        const r = action(cpu) ?? {};
        rec.outcomes.push({
          step,
          result: r.rc !== undefined ? "rc" : "ok",
          ...(r.rc !== undefined ? { rc: r.rc } : {}),
          attempts,
          ...(last !== undefined ? { fault: faultOf(last) } : {}),
          ...(r.note !== undefined ? { note: r.note } : {}),
        });
        return r.exit;
      } catch (e) {
        if (!(e instanceof CpuFault)) throw e;
        last = e;
        if (attempts < MAX_ATTEMPTS) throw e;
        rec.outcomes.push({ step, result: "gave-up", fault: faultOf(e), attempts, note: e.message });
        return undefined;
      }
    },
  };
}

function op(name: string, run: (v: VcpuCtx) => Gen, cpu?: number): AdminOp {
  return { name, run, ...(cpu !== undefined ? { cpu } : {}) };
}

const rip = (ctx: ScenarioCtx, fn: string): bigint => ctx.w.fn(fn) + 0x10n;

/** The agent page the attacks aim at: the first page of its (measured) image. */
function agentTarget(k: Kernel): bigint {
  return k.cfg.layout.image;
}

/** Extends the direct map over [guestRamEnd, memoryBytes) with 2 MiB private entries. */
function* extendDirectMap(ctx: ScenarioCtx): Gen {
  const { k, w } = ctx;
  const l = k.cfg.layout;
  yield* w.record("rootkit_memremap", () => {
    for (let pa = l.guestRamEnd as bigint; pa < l.memoryBytes; pa += MIB2) k.kpt.map(k.addr.dmap(pa), pa, "2m", PAGE_KERNEL);
  });
  (ctx.rec.changes ??= []).push(`direct map extended over 0x${(l.guestRamEnd as bigint).toString(16)}-0x${l.memoryBytes.toString(16)}`);
}

/** A fresh 4 KiB kernel mapping of `target` beyond the direct map; returns its VA. */
function* mapPage(ctx: ScenarioCtx, target: bigint, out: { va?: bigint }): Gen {
  const { k, w } = ctx;
  const va = k.addr.dmap(k.cfg.layout.memoryBytes) + 0x40000000n;
  yield* w.record("rootkit_ioremap", () => k.kpt.map(va, target & ~(PAGE - 1n), "4k", PAGE_KERNEL));
  (ctx.rec.changes ??= []).push(`0x${va.toString(16)} mapped to GPA 0x${target.toString(16)}`);
  out.va = va + (target & (PAGE - 1n));
}

function accessAgent(name: string, write: boolean): Scenario {
  return {
    name,
    kind: "attack",
    summary: `${write ? "write" : "read"} an agent page through the direct map (dmap), a mapping it builds (map) or a physical access (phys)`,
    validate(arg) {
      if (arg !== undefined && !["dmap", "map", "phys"].includes(arg)) throw badArg(name, arg, "expected dmap, map or phys");
    },
    ops: (ctx) => [
      op(name, function* () {
        const { k } = ctx;
        const target = agentTarget(k);
        const how = ctx.arg ?? "dmap";
        const payload = new Uint8Array(16).fill(0xcc);
        if (how === "phys") {
          yield attackInsn(ctx.rec, rip(ctx, "memcpy"), `${write ? "write" : "read"} GPA 0x${target.toString(16)} (phys)`, (cpu) => {
            if (write) cpu.writePhys(gpa(target), payload);
            else return { note: `read ${Buffer.from(cpu.readPhys(gpa(target), 16)).toString("hex")}` };
            return undefined;
          });
          return;
        }
        let va: bigint;
        if (how === "dmap") {
          yield* extendDirectMap(ctx);
          va = k.addr.dmap(target);
        } else {
          const o: { va?: bigint } = {};
          yield* mapPage(ctx, target, o);
          va = o.va!;
        }
        yield attackInsn(ctx.rec, rip(ctx, "memcpy"), `${write ? "write" : "read"} agent page at VA 0x${va.toString(16)} (${how})`, (cpu) => {
          if (write) cpu.writeVirt(va, payload);
          else return { note: `read ${Buffer.from(cpu.readVirt(va, 16)).toString("hex")}` };
          return undefined;
        });
      }),
    ],
  };
}

const rmpadjust: Scenario = {
  name: "attack-rmpadjust",
  kind: "attack",
  summary: "RMPADJUST from VMPL1: rights for itself on an agent page (self), rights for VMPL0 (agent), more than its own (grant)",
  validate(arg) {
    if (arg !== undefined && !["self", "agent", "grant"].includes(arg)) throw badArg("attack-rmpadjust", arg, "expected self, agent or grant");
  },
  ops: (ctx) => [
    op("attack-rmpadjust", function* () {
      const { k } = ctx;
      const agent = gpa(agentTarget(k));
      const own = gpa(BigInt(k.pages.page()));
      const which = ctx.arg === undefined ? ["self", "agent", "grant"] : [ctx.arg];
      if (which.includes("self")) yield attackInsn(ctx.rec, rip(ctx, "rmpadjust"), "RMPADJUST agent page → VMPL1 RWX", (cpu) => ({ rc: cpu.rmpadjust(agent, 0, 1, RMP_PERM_RWX, false) }));
      if (which.includes("agent")) yield attackInsn(ctx.rec, rip(ctx, "rmpadjust"), "RMPADJUST agent page → VMPL0 all", (cpu) => ({ rc: cpu.rmpadjust(agent, 0, 0, RMP_PERM_ALL, false) }));
      if (which.includes("grant")) yield attackInsn(ctx.rec, rip(ctx, "rmpadjust"), "RMPADJUST guest page → VMPL2 beyond VMPL1's own rights", (cpu) => ({ rc: cpu.rmpadjust(own, 0, 2, RMP_PERM_ALL, false) }));
    }),
  ],
};

const vmsaBit: Scenario = {
  name: "attack-vmsa-bit",
  kind: "attack",
  summary: "RMPADJUST with the VMSA bit set on a guest page and on its own VMPL1 VMSA",
  validate(arg) {
    if (arg !== undefined) throw badArg("attack-vmsa-bit", arg, "takes no argument");
  },
  ops: (ctx) => [
    op("attack-vmsa-bit", function* (v) {
      const { k } = ctx;
      const own = gpa(BigInt(k.pages.page()));
      const vmsa = k.cfg.layout.vmsa1[v.cpu]!;
      yield attackInsn(ctx.rec, rip(ctx, "rmpadjust"), "RMPADJUST guest page → VMPL2 with VMSA=1", (cpu) => ({ rc: cpu.rmpadjust(own, 0, 2, RMP_PERM_RWX, true) }));
      yield attackInsn(ctx.rec, rip(ctx, "rmpadjust"), "RMPADJUST own VMPL1 VMSA → VMPL2 with VMSA=1", (cpu) => ({ rc: cpu.rmpadjust(vmsa, 0, 2, 0, true) }));
    }),
  ],
};

const pvalidate: Scenario = {
  name: "attack-pvalidate",
  kind: "attack",
  summary: "PVALIDATE from VMPL1: rescind an agent page (agent) or one of its own pages (self)",
  validate(arg) {
    if (arg !== undefined && !["agent", "self"].includes(arg)) throw badArg("attack-pvalidate", arg, "expected agent or self");
  },
  ops: (ctx) => [
    op("attack-pvalidate", function* () {
      const { k } = ctx;
      const target = (ctx.arg ?? "agent") === "agent" ? gpa(agentTarget(k)) : gpa(BigInt(k.pages.page()));
      yield attackInsn(ctx.rec, rip(ctx, "pvalidate"), `PVALIDATE rescind GPA 0x${target.toString(16)}`, (cpu) => {
        const r = cpu.pvalidate(target, 0, false);
        return { rc: r.rc, note: `CF=${r.noUpdate ? 1 : 0}` };
      });
    }),
  ],
};

const vmsaWrite: Scenario = {
  name: "attack-vmsa-write",
  kind: "attack",
  summary: "write its own VMPL1 VMSA page (own) or the vCPU's VMPL0 VMSA (agent) with a physical access",
  validate(arg) {
    if (arg !== undefined && !["own", "agent"].includes(arg)) throw badArg("attack-vmsa-write", arg, "expected own or agent");
  },
  ops: (ctx) => [
    op("attack-vmsa-write", function* (v) {
      const l = ctx.k.cfg.layout;
      const target = (ctx.arg ?? "own") === "own" ? l.vmsa1[v.cpu]! : l.vmsa0[v.cpu]!;
      // Overwrite RIP in the save area (offset of `rip` in the VMSA layout).
      const ripOff = BigInt(VMSA.offsetOf("rip"));
      yield attackInsn(ctx.rec, rip(ctx, "memcpy"), `write VMSA GPA 0x${target.toString(16)}`, (cpu) => {
        cpu.writePhys(gpa(target + ripOff), u64Bytes(0xdeadbeefn));
      });
    }),
  ],
};

/** The guest's request for a VMPL0 report, encrypted with VMPCK1 from its secrets copy. */
const report: Scenario = {
  name: "attack-report",
  kind: "attack",
  summary: "ask the ASP for a VMPL0 attestation report with VMPCK1 (GHCB GUEST_REQUEST)",
  validate(arg) {
    if (arg !== undefined && !/^[0-3]$/.test(arg)) throw badArg("attack-report", arg, "expected the requested VMPL 0..3");
  },
  ops: (ctx) => [
    op("attack-report", function* (v) {
      const { k } = ctx;
      const l = k.cfg.layout;
      const wantVmpl = ctx.arg === undefined ? 0 : Number(ctx.arg);
      const ghcbGpa = l.guestGhcb[v.cpu]!;
      const reqGpa = BigInt(k.pages.page());
      const rspGpa = BigInt(k.pages.page());
      const seqno = 1n;
      let key: Uint8Array = new Uint8Array(32);
      const r = rip(ctx, "snp_guest_request");
      // Register the GHCB (MSR protocol), then convert two pages to shared (page state change).
      yield attackInsn(ctx.rec, r, "GHCB MSR: register GHCB GPA", (cpu) => {
        cpu.wrmsr(MSR_GHCB, encodeRegisterGhcbReq(ghcbGpa >> 12n));
        return { exit: "vmgexit" };
      });
      yield attackInsn(ctx.rec, r, "GHCB MSR: register response", (cpu) => {
        const m = cpu.rdmsr(MSR_GHCB);
        return ghcbMsrInfo(m) === GHCB_MSR.REG_GPA_RESP ? { rc: Number(decodeRegisterGhcbResp(m) === ghcbGpa >> 12n ? 0 : 1) } : { note: `no response (0x${m.toString(16)})` };
      });
      for (const page of [reqGpa, rspGpa]) {
        yield attackInsn(ctx.rec, r, `GHCB MSR: page state change 0x${page.toString(16)} → shared`, (cpu) => {
          cpu.wrmsr(MSR_GHCB, encodePscReq({ gfn: page >> 12n, op: GHCB_PSC_OP.SHARED }));
          return { exit: "vmgexit" };
        });
        yield attackInsn(ctx.rec, r, "GHCB MSR: page state change response", (cpu) => {
          const m = cpu.rdmsr(MSR_GHCB);
          return ghcbMsrInfo(m) === GHCB_MSR.PSC_RESP ? { rc: decodePscResp(m) } : { note: `no response (0x${m.toString(16)})` };
        });
      }
      yield attackInsn(ctx.rec, r, "read VMPCK1 from the secrets copy", (cpu) => {
        key = cpu.readPhys(gpa((l.guestSecrets as bigint) + BigInt(vmpckOffset(1))), 32);
        return { note: key.every((b) => b === 0) ? "VMPCK1 is zero" : "VMPCK1 read" };
      });
      yield attackInsn(ctx.rec, r, `write MSG_REPORT_REQ (VMPL ${wantVmpl}, VMPCK1)`, (cpu) => {
        const payload = MSG_REPORT_REQ.serialize({ reportData: new Uint8Array(64).fill(0x5a), vmpl: wantVmpl, keySel: KEY_SEL.DEFAULT });
        const page = new Uint8Array(4096);
        serializeGuestMessageHeader({ msgSeqno: seqno, msgType: SNP_MSG_TYPE.REPORT_REQ, msgSz: MSG_REPORT_REQ_SIZE, msgVmpck: 1 }, page);
        const c = createCipheriv("aes-256-gcm", key, guestMessageIv(seqno), { authTagLength: GUEST_MSG_AUTHTAG_LEN });
        c.setAAD(guestMessageAad(page));
        const ct = Buffer.concat([c.update(payload), c.final()]);
        page.set(c.getAuthTag(), 0);
        page.set(ct, GUEST_MSG_HEADER_SIZE);
        cpu.writePhys(gpa(reqGpa), page, { shared: true });
      });
      yield attackInsn(ctx.rec, r, "GHCB GUEST_REQUEST (VMGEXIT)", (cpu) => {
        const g = new Uint8Array(4096);
        ghcbSet(g, "sw_exit_code", BigInt(NAE_EXIT.GUEST_REQUEST));
        ghcbSet(g, "sw_exit_info_1", reqGpa);
        ghcbSet(g, "sw_exit_info_2", rspGpa);
        new DataView(g.buffer).setUint16(GHCB.offsetOf("protocol_version"), GHCB_PROTOCOL_VERSION_SNP, true);
        cpu.writePhys(ghcbGpa, g, { shared: true });
        cpu.wrmsr(MSR_GHCB, ghcbGpa);
        return { exit: "vmgexit" };
      });
      yield attackInsn(ctx.rec, r, "read the guest-request result and the response", (cpu) => {
        const g = cpu.readPhys(ghcbGpa, 4096, { shared: true });
        const res = decodeGuestRequestResult(new DataView(g.buffer).getBigUint64(GHCB.offsetOf("sw_exit_info_2"), true));
        if (res.fwError !== 0 || res.vmmError !== 0) return { rc: res.fwError, note: `firmware error 0x${res.fwError.toString(16)}, vmm error ${res.vmmError}` };
        const page = cpu.readPhys(gpa(rspGpa), 4096, { shared: true });
        try {
          const { header, ciphertext } = parseGuestMessage(page);
          const d = createDecipheriv("aes-256-gcm", key, guestMessageIv(header.msgSeqno), { authTagLength: GUEST_MSG_AUTHTAG_LEN });
          d.setAAD(guestMessageAad(page));
          d.setAuthTag(page.subarray(0, GUEST_MSG_AUTHTAG_LEN));
          const pt = Buffer.concat([d.update(ciphertext), d.final()]);
          const status = pt.readUInt32LE(0);
          return { rc: status, note: status === 0 ? "REPORT ISSUED" : `MSG_REPORT_RSP status 0x${status.toString(16)}` };
        } catch (e) {
          return { note: `response unreadable: ${(e as Error).message}` };
        }
      });
    }),
  ],
};

const remap: Scenario = {
  name: "attack-remap",
  kind: "attack",
  summary: "move a user page of a process to another physical page (copy it, rewrite its PTE) so that a trap on the old GPA no longer fires",
  validate(arg) {
    if (arg !== undefined && !/^[\x21-\x7e]{1,15}$/.test(arg)) throw badArg("attack-remap", arg, "expected a pid or comm");
  },
  ops: (ctx) => [
    op("attack-remap", function* (v) {
      const { k, w } = ctx;
      const sel = ctx.arg ?? "vmi_alpha";
      const task = [...k.byPid.values()].find((t) => (/^\d+$/.test(sel) ? t.pid === Number(sel) : t.comm === sel.slice(0, 15)) && t.mm !== null);
      if (task === undefined || task.mm === null) throw badArg("attack-remap", sel, "no such user process");
      const mm = task.mm;
      const idx = mm.pages.findIndex((p) => p.owned && p.va === (mm.argStart & ~(PAGE - 1n)));
      const page = mm.pages[idx]!;
      const fresh = k.page();
      let content: Uint8Array = new Uint8Array(4096);
      yield readInsn(rip(ctx, "copy_page"), k.addr.dmap(page.pa), 4096, "read the old page", (b) => (content = b));
      if (v.takeFault() !== undefined) return;
      yield* w.record("copy_page", () => k.mem.write(k.addr.dmap(fresh), content));
      yield* w.record("set_pte_at", () => mm.pgd.map(page.va, fresh, "4k", page.flags));
      mm.pages[idx] = { ...page, pa: fresh };
      ctx.rec.outcomes.push({ step: `remap ${task.comm} (pid ${task.pid}) VA 0x${page.va.toString(16)}: GPA 0x${page.pa.toString(16)} → 0x${fresh.toString(16)}`, result: "ok", attempts: 1 });
      (ctx.rec.changes ??= []).push(`pid ${task.pid} VA 0x${page.va.toString(16)} now maps GPA 0x${fresh.toString(16)} (was 0x${page.pa.toString(16)})`);
    }),
  ],
};

const flood: Scenario = {
  name: "attack-flood",
  kind: "attack",
  summary: "N reads (default 2000) spread over the pages an introspector traps: sys_call_table, the IDT, init_task, the module list",
  validate(arg) {
    if (arg !== undefined && !(/^\d+$/.test(arg) && Number(arg) >= 1 && Number(arg) <= 1_000_000)) throw badArg("attack-flood", arg, "expected a count 1..1000000");
  },
  ops: (ctx) => [
    op("attack-flood", function* (v) {
      const { k } = ctx;
      const n = ctx.arg === undefined ? 2000 : Number(ctx.arg);
      const targets = [k.addr.ksym("sys_call_table"), k.addr.ksym("idt_table"), k.addr.ksym("init_task"), k.addr.ksym("modules")];
      let faults = 0;
      for (let i = 0; i < n; i++) {
        const va = targets[i % targets.length]! + BigInt((i * 8) % 2048);
        yield readInsn(rip(ctx, "memcpy"), va, 8, "flood read");
        if (v.takeFault() !== undefined) faults++;
      }
      ctx.rec.outcomes.push({ step: `flood: ${n} reads`, result: "ok", attempts: n, note: `${faults} guest-visible faults` });
    }),
  ],
};

export const ATTACKS: readonly Scenario[] = [
  accessAgent("attack-read-agent", false),
  accessAgent("attack-write-agent", true),
  rmpadjust,
  vmsaBit,
  pvalidate,
  report,
  vmsaWrite,
  remap,
  flood,
];

export type { AdminOp };
