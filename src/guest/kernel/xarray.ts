/**
 * The pid IDR as Linux 6.1 keeps it: an xarray (lib/xarray.c) of `struct xa_node`s, 64
 * slots each (XA_CHUNK_SHIFT 6), internal pointers tagged `node | 2` (xa_mk_node), the
 * IDR_FREE mark (mark 0) set on every slot with free space below it. The model mirrors
 * the tree and writes whole nodes when they change; `idr_next` / cyclic allocation as
 * idr_alloc_cyclic does (wrapping to RESERVED_PIDS).
 */
import { invariant } from "../../shared/base/index.js";
import type { KernelTypes } from "../kernel-info.js";
import type { KMem } from "../mem/kmem.js";
import { StructBuf, u64Bytes } from "../mem/kmem.js";

const CHUNK = 64;
const SHIFT = 6;
const XA_NODE_TAG = 2n;
const ALL_FREE = (1n << 64n) - 1n;

export interface XNode {
  readonly va: bigint;
  shift: number;
  offset: number;
  parent: XNode | null;
  readonly slots: (XNode | bigint | null)[];
  count: number;
  /** IDR_FREE mark: bit i set if slot i is empty or its subtree has room. */
  free: bigint;
}

export interface XArrayEnv {
  readonly t: KernelTypes;
  /** Allocates a zeroed xa_node, returns its VA. */
  allocNode(): bigint;
  freeNode(va: bigint): void;
}

export class IdrModel {
  /** VA of the `struct idr` (its xarray is `idr_rt`). */
  readonly idrVa: bigint;
  readonly xaVa: bigint;
  /** xa_flags of an IDR with free space (IDR_RT_MARKER: ROOT_IS_IDR | the root's IDR_FREE tag). */
  readonly xaFlags: number;
  readonly #env: XArrayEnv;
  #root: XNode | null = null;
  readonly #entries = new Map<number, bigint>();
  next: number;

  constructor(env: XArrayEnv, idrVa: bigint, o: { xaFlags: number; next: number }) {
    this.#env = env;
    this.idrVa = idrVa;
    this.xaVa = idrVa + BigInt(env.t.o("idr", "idr_rt"));
    this.xaFlags = o.xaFlags;
    this.next = o.next;
  }

  get size(): number {
    return this.#entries.size;
  }

  has(index: number): boolean {
    return this.#entries.has(index);
  }

  get(index: number): bigint | undefined {
    return this.#entries.get(index);
  }

  /** idr_alloc_cyclic's choice: the lowest free id ≥ next, wrapping from `max` to `min`. */
  chooseCyclic(min: number, max: number): number {
    let id = Math.max(this.next, min);
    for (let tries = 0; tries <= max - min; tries++) {
      if (id >= max) id = min;
      if (!this.#entries.has(id)) return id;
      id++;
    }
    throw new RangeError("IDR full");
  }

  /** Writes the struct idr header (xa_flags, xa_head, idr_base, idr_next). */
  writeHeader(mem: KMem): void {
    const t = this.#env.t;
    const xa = this.xaVa;
    const b = new StructBuf(8);
    b.u32(0, this.xaFlags);
    mem.write(xa + BigInt(t.o("xarray", "xa_flags")), b.bytes.subarray(0, 4));
    mem.write(xa + BigInt(t.o("xarray", "xa_head")), u64Bytes(this.#root === null ? 0n : this.#root.va | XA_NODE_TAG));
    const n = new StructBuf(8).u32(0, 0).u32(4, this.next);
    mem.write(this.idrVa + BigInt(t.o("idr", "idr_base")), n.bytes.subarray(0, 4));
    mem.write(this.idrVa + BigInt(t.o("idr", "idr_next")), n.bytes.subarray(4, 8));
  }

  /** Stores `entry` (a struct pid VA) at `index`; writes every node that changed. */
  insert(mem: KMem, index: number, entry: bigint): void {
    invariant(!this.#entries.has(index), "IDR slot in use", { index });
    const dirty = new Set<XNode>();
    let headChanged = false;
    if (this.#root === null) {
      this.#root = this.#newNode(this.#shiftFor(index), 0, null);
      dirty.add(this.#root);
      headChanged = true;
    }
    while (this.#capacity(this.#root) <= index) {
      const old: XNode = this.#root!;
      const top = this.#newNode(old.shift + SHIFT, 0, null);
      top.slots[0] = old;
      top.count = 1;
      old.parent = top;
      old.offset = 0;
      dirty.add(old);
      dirty.add(top);
      this.#root = top;
      headChanged = true;
    }
    let node: XNode = this.#root!;
    while (node.shift > 0) {
      const off = (index >>> node.shift) & (CHUNK - 1);
      let child = node.slots[off];
      if (child === null || child === undefined) {
        const c = this.#newNode(node.shift - SHIFT, off, node);
        node.slots[off] = c;
        node.count++;
        dirty.add(node);
        dirty.add(c);
        child = c;
      }
      node = child as XNode;
    }
    node.slots[index & (CHUNK - 1)] = entry;
    node.count++;
    dirty.add(node);
    this.#entries.set(index, entry);
    // Free marks of the ancestors depend on their children.
    for (const d of dirty) if (d.shift === 0) this.#refreshFree(d);
    this.#refreshUp(node);
    for (const d of dirty) this.#refreshUp(d);
    for (let p = node.parent; p !== null; p = p.parent) dirty.add(p);
    for (const d of dirty) this.#writeNode(mem, d);
    if (headChanged) this.writeHeader(mem);
  }

  /** Removes `index`; frees nodes that become empty; writes every node that changed. */
  erase(mem: KMem, index: number): void {
    invariant(this.#entries.has(index), "IDR slot empty", { index });
    this.#entries.delete(index);
    let node: XNode = this.#root!;
    while (node.shift > 0) node = node.slots[(index >>> node.shift) & (CHUNK - 1)] as XNode;
    node.slots[index & (CHUNK - 1)] = null;
    node.count--;
    const dirty = new Set<XNode>();
    let headChanged = false;
    let cur: XNode | null = node;
    while (cur !== null && cur.count === 0) {
      const parent: XNode | null = cur.parent;
      dirty.delete(cur);
      this.#env.freeNode(cur.va);
      if (parent === null) {
        this.#root = null;
        headChanged = true;
      } else {
        parent.slots[cur.offset] = null;
        parent.count--;
      }
      cur = parent;
    }
    if (cur !== null) for (let p: XNode | null = cur; p !== null; p = p.parent) dirty.add(p);
    // xas_shrink: a root whose only child is in slot 0 hands the tree to that child.
    while (this.#root !== null && this.#root.shift > 0 && this.#root.count === 1 && typeof this.#root.slots[0] === "object" && this.#root.slots[0] !== null) {
      const old: XNode = this.#root;
      const child = old.slots[0] as XNode;
      child.parent = null;
      dirty.delete(old);
      this.#env.freeNode(old.va);
      this.#root = child;
      dirty.add(child);
      headChanged = true;
    }
    for (const d of dirty) this.#refreshUp(d);
    for (const d of dirty) this.#writeNode(mem, d);
    if (headChanged) this.writeHeader(mem);
  }

  /** Every node in the tree (for tests and accounting). */
  nodeCount(): number {
    let n = 0;
    const walk = (x: XNode): void => {
      n++;
      for (const s of x.slots) if (s !== null && typeof s === "object") walk(s);
    };
    if (this.#root !== null) walk(this.#root);
    return n;
  }

  #shiftFor(index: number): number {
    let shift = 0;
    while (index >= CHUNK ** (shift / SHIFT + 1)) shift += SHIFT;
    return shift;
  }

  #capacity(n: XNode): number {
    return CHUNK ** (n.shift / SHIFT + 1);
  }

  #newNode(shift: number, offset: number, parent: XNode | null): XNode {
    return { va: this.#env.allocNode(), shift, offset, parent, slots: new Array<XNode | bigint | null>(CHUNK).fill(null), count: 0, free: ALL_FREE };
  }

  /** Recomputes the free marks of `n` from its slots (children's marks already current). */
  #refreshFree(n: XNode): void {
    let free = 0n;
    for (let i = 0; i < CHUNK; i++) {
      const s = n.slots[i];
      if (s === null || s === undefined || (typeof s === "object" && s.free !== 0n)) free |= 1n << BigInt(i);
    }
    n.free = free;
  }

  /** Updates the marks from `n` up to the root. */
  #refreshUp(n: XNode | null): void {
    for (let p = n; p !== null; p = p.parent) this.#refreshFree(p);
  }

  #writeNode(mem: KMem, n: XNode): void {
    const t = this.#env.t;
    const b = new StructBuf(t.size("xa_node"));
    b.u8(t.o("xa_node", "shift"), n.shift);
    b.u8(t.o("xa_node", "offset"), n.offset);
    b.u8(t.o("xa_node", "count"), n.count);
    b.u8(t.o("xa_node", "nr_values"), 0);
    b.u64(t.o("xa_node", "parent"), n.parent === null ? 0n : n.parent.va);
    b.u64(t.o("xa_node", "array"), this.xaVa);
    const slots = t.o("xa_node", "slots");
    for (let i = 0; i < CHUNK; i++) {
      const s = n.slots[i];
      if (s === null || s === undefined) continue;
      b.u64(slots + i * 8, typeof s === "bigint" ? s : s.va | XA_NODE_TAG);
    }
    b.u64(t.o("xa_node", "marks"), n.free);
    mem.write(n.va, b.bytes);
  }
}
