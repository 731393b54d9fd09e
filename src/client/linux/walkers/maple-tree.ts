/**
 * VMAs through the maple tree (mm->mm_mt, lib/maple_tree.c): a bounded, cycle-safe,
 * level-by-level walk of maple_range_64 / maple_arange_64 internal nodes down to
 * maple_leaf_64 leaves, whose non-NULL slots are `struct vm_area_struct *`. An encoded
 * node pointer ("enode") carries the node type in bits 3–6 and is 256-byte aligned
 * underneath; the root also has bit 1 set (xa_is_node). A leaf's last slot may hold the
 * node's metadata instead of a pointer, so only kernel pointers count, and every VMA must
 * point back to the mm (stale slots are dropped).
 */
import { VmiError } from "../../vmi/index.js";
import {
  MAPLE_ARANGE_64, MAPLE_LEAF_64, MAPLE_NODE_MASK, MAPLE_NODE_TYPE_MASK, MAPLE_NODE_TYPE_SHIFT, MAPLE_RANGE_64, isKernelPointer,
} from "../constants.js";
import { walkCorrupt, walkCycle, walkLimit, walkReadError } from "../errors.js";
import type { LinuxKernel } from "../kernel.js";
import { requirements } from "../requirements.js";
import { readViews, windowOf, windowOfStruct } from "../struct-view.js";

export const VMAS = requirements("vmas", {
  members: {
    mm_struct: ["mm_mt"],
    maple_tree: ["ma_root"],
    maple_node: ["parent"],
    maple_range_64: ["slot"],
    maple_arange_64: ["slot"],
    vm_area_struct: ["vm_start", "vm_end", "vm_mm", "vm_flags", "vm_pgoff", "vm_file", "vm_ops"],
  },
  sizes: ["maple_node"],
});

export interface Vma {
  readonly address: bigint;
  readonly start: bigint;
  readonly end: bigint;
  readonly flags: bigint;
  readonly pgoff: bigint;
  readonly file: bigint;
  readonly ops: bigint;
}

const slotCount = (t: { type: { kind: string; count?: number } }): number => (t.type.kind === "array" ? (t.type.count ?? 0) : 0);

/** Pointers stored in the leaves of the maple tree at `tree` (struct maple_tree address). */
export async function walkMapleTree(k: LinuxKernel, tree: bigint, walker = "maple-tree"): Promise<bigint[]> {
  const b = k.bound(VMAS);
  let root: bigint;
  try {
    root = await k.vmi.pointer({ kind: "kva", addr: tree + BigInt(b.o.maple_tree.ma_root) });
  } catch (e) {
    if (e instanceof VmiError) throw walkReadError(walker, e, "maple_tree.ma_root");
    throw e;
  }
  if (root === 0n) return [];
  if ((root & 3n) !== 2n || root <= 4096n) return isKernelPointer(root) ? [root] : []; // a single entry stored in the root
  const r64 = { slot: b.o.maple_range_64.slot, n: slotCount(b.m.maple_range_64.slot) };
  const a64 = { slot: b.o.maple_arange_64.slot, n: slotCount(b.m.maple_arange_64.slot) };
  const win = windowOf([{ offset: 0, size: b.size.maple_node }]);
  const out: bigint[] = [];
  const seen = new Set<bigint>();
  let level: { enode: bigint; parent: bigint }[] = [{ enode: root, parent: tree }];
  for (let depth = 0; level.length > 0; depth++) {
    if (depth > Math.min(k.limits.maxTreeDepth, 31)) throw walkLimit(walker, Math.min(k.limits.maxTreeDepth, 31));
    const nodes = level.map((l) => l.enode & ~MAPLE_NODE_MASK);
    for (const n of nodes) {
      if (!isKernelPointer(n)) throw walkCorrupt(walker, n, "maple node pointer is not a kernel address");
      if (seen.has(n)) throw walkCycle(walker, n);
      seen.add(n);
    }
    if (seen.size > k.limits.maxTreeNodes) throw walkLimit(walker, k.limits.maxTreeNodes);
    const views = await readViews(k.vmi, nodes, win);
    const next: typeof level = [];
    views.forEach((v, i) => {
      if (v instanceof VmiError) throw walkReadError(walker, v, "maple_node");
      const { enode, parent } = level[i]!;
      // The root's parent is the tree | MA_ROOT_PARENT (1); a child's is its parent node | slot/type bits.
      const raw = v.ptr(b.o.maple_node.parent);
      const back = depth === 0 ? (raw & ~1n) === parent : (raw & ~MAPLE_NODE_MASK) === parent;
      if (!back) throw walkCorrupt(walker, nodes[i]!, "maple_node.parent does not point back");
      const type = Number((enode >> MAPLE_NODE_TYPE_SHIFT) & MAPLE_NODE_TYPE_MASK);
      const layout = type === MAPLE_ARANGE_64 ? a64 : type === MAPLE_RANGE_64 || type === MAPLE_LEAF_64 ? r64 : undefined;
      if (layout === undefined) throw walkCorrupt(walker, nodes[i]!, `maple node type ${type}`);
      for (let s = 0; s < layout.n; s++) {
        const e = v.ptr(layout.slot + s * 8);
        if (!isKernelPointer(e)) continue; // empty, metadata or a marker
        if (type === MAPLE_LEAF_64) out.push(e);
        else next.push({ enode: e, parent: nodes[i]! });
      }
    });
    level = next;
  }
  return out;
}

/** The VMAs of an address space, sorted by start, each pointing back to `mm`. */
export async function listVmas(k: LinuxKernel, mm: bigint): Promise<Vma[]> {
  const b = k.bound(VMAS);
  const o = b.o.vm_area_struct;
  const ptrs = [...new Set(await walkMapleTree(k, mm + BigInt(b.o.mm_struct.mm_mt), "vmas"))];
  if (ptrs.length > k.limits.maxVmas) throw walkLimit("vmas", k.limits.maxVmas);
  const views = await readViews(k.vmi, ptrs, windowOfStruct(b.m.vm_area_struct));
  const out: Vma[] = [];
  views.forEach((v) => {
    if (v instanceof VmiError) throw walkReadError("vmas", v, "vm_area_struct");
    if (v.ptr(o.vm_mm) !== mm) return; // stale slot
    const start = v.u64(o.vm_start);
    const end = v.u64(o.vm_end);
    if (end <= start) throw walkCorrupt("vmas", v.addr, "vm_end ≤ vm_start");
    out.push({ address: v.addr, start, end, flags: v.u64(o.vm_flags), pgoff: v.u64(o.vm_pgoff), file: v.ptr(o.vm_file), ops: v.ptr(o.vm_ops) });
  });
  return out.sort((a, c) => (a.start < c.start ? -1 : a.start > c.start ? 1 : 0));
}
