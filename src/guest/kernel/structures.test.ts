/**
 * The mirrored kernel structures write what Linux would: the pid IDR's xarray nodes and
 * the CFS red-black tree, checked by walking the bytes written (property tests).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { KernelTypes } from "../kernel-info.js";
import { fixtureProfileView } from "../testing/btf-profile-view.js";
import { FakeMemory } from "../testing/fake-cpu.js";
import type { KMem } from "../mem/kmem.js";
import { IdrModel } from "./xarray.js";
import { RbTree, type RbNode } from "./rbtree.js";
import { KList } from "./klist.js";

const RUNS = Number(process.env["SEVEN_FUZZ_RUNS"] ?? 100);
const t = new KernelTypes(fixtureProfileView());

/** Kernel VAs are identity-mapped onto a FakeMemory (low 40 bits). */
const MASK = (1n << 40n) - 1n;
function memOf(m: FakeMemory): KMem {
  return { write: (va, d) => m.write(va & MASK, d) };
}
const u64 = (m: FakeMemory, va: bigint): bigint => m.u64(va & MASK);

function walkIdr(m: FakeMemory, idr: IdrModel): Map<number, bigint> {
  const out = new Map<number, bigint>();
  const walk = (e: bigint, base: number, depth: number): void => {
    if (e === 0n) return;
    if ((e & 3n) === 2n) {
      const node = e & ~3n;
      const b = m.read(node & MASK, 4);
      const shift = b[0]!;
      let count = 0;
      let free = 0n;
      for (let i = 0; i < 64; i++) {
        const s = u64(m, node + BigInt(t.o("xa_node", "slots") + i * 8));
        if (s !== 0n) count++;
        else free |= 1n << BigInt(i);
        walk(s, base + (i << shift), depth + 1);
      }
      assert.equal(b[2], count, "xa_node.count");
      const marks = u64(m, node + BigInt(t.o("xa_node", "marks")));
      assert.equal(marks & free, free, "IDR_FREE set on every empty slot");
      assert.equal(u64(m, node + BigInt(t.o("xa_node", "array"))), idr.xaVa);
      return;
    }
    out.set(base, e);
  };
  walk(u64(m, idr.xaVa + BigInt(t.o("xarray", "xa_head"))), 0, 0);
  return out;
}

test("pid IDR: inserts and erases leave exactly the live entries reachable, nodes freed", () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 40000 })), { maxLength: 300 }), (opsList) => {
      const m = new FakeMemory(1n << 40n);
      let next = 0x100000n;
      const freed = new Set<bigint>();
      const idr = new IdrModel({ t, allocNode: () => (next += 1024n), freeNode: (va) => void freed.add(va) }, 0x10000n, { xaFlags: 0x8000004, next: 1 });
      const mem = memOf(m);
      idr.writeHeader(mem);
      const live = new Map<number, bigint>();
      for (const [ins, id] of opsList) {
        if (ins && !live.has(id)) {
          const v = BigInt(0x20000000 + id * 128);
          idr.insert(mem, id, v);
          live.set(id, v);
        } else if (!ins && live.size > 0) {
          const victim = [...live.keys()][id % live.size]!;
          idr.erase(mem, victim);
          live.delete(victim);
        }
      }
      assert.deepEqual(new Map([...walkIdr(m, idr)].sort((a, b) => a[0] - b[0])), new Map([...live].sort((a, b) => a[0] - b[0])));
      for (const id of [...live.keys()]) idr.erase(mem, id);
      assert.equal(u64(m, idr.xaVa + BigInt(t.o("xarray", "xa_head"))), 0n);
      assert.equal(idr.nodeCount(), 0);
    }),
    { numRuns: RUNS },
  );
});

test("IDR cyclic allocation: lowest free id at or after idr_next, wrapping", () => {
  const idr = new IdrModel({ t, allocNode: () => 0x200000n, freeNode: () => undefined }, 0x10000n, { xaFlags: 0, next: 5 });
  assert.equal(idr.chooseCyclic(300, 400), 300);
  idr.next = 398;
  assert.equal(idr.chooseCyclic(300, 400), 398);
  idr.next = 400;
  assert.equal(idr.chooseCyclic(300, 400), 300);
});

function checkRb(m: FakeMemory, tree: RbTree): void {
  let blackHeight = -1;
  const keys: bigint[] = [];
  const visit = (va: bigint, parent: bigint, blacks: number, parentRed: boolean): void => {
    if (va === 0n) {
      if (blackHeight < 0) blackHeight = blacks;
      assert.equal(blacks, blackHeight, "equal black heights");
      return;
    }
    const pc = u64(m, va + BigInt(t.o("rb_node", "__rb_parent_color")));
    assert.equal(pc & ~3n, parent, "parent pointer");
    const red = (pc & 1n) === 0n;
    assert.ok(!(red && parentRed), "no red-red");
    visit(u64(m, va + BigInt(t.o("rb_node", "rb_left"))), va, blacks + (red ? 0 : 1), red);
    keys.push(va);
    visit(u64(m, va + BigInt(t.o("rb_node", "rb_right"))), va, blacks + (red ? 0 : 1), red);
  };
  const root = tree.root;
  if (root !== null) {
    assert.equal(u64(m, root.va) & 1n, 1n, "root black");
    visit(root.va, 0n, 0, false);
  }
  assert.deepEqual(keys, [...tree.inOrder()].map((n) => n.va));
}

test("CFS rb-tree: rebalanced on insert/erase, in vruntime order, written node by node", () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 50 })), { maxLength: 200 }), (opsList) => {
      const m = new FakeMemory(1n << 40n);
      const tree = new RbTree();
      const nodes = new Map<number, RbNode>();
      let seq = 0;
      for (const [ins, key] of opsList) {
        if (ins) {
          const n: RbNode = { va: 0x300000n + BigInt(seq++ * 64), key: BigInt(key), parent: null, left: null, right: null, red: false };
          tree.insert(n);
          nodes.set(seq, n);
        } else if (nodes.size > 0) {
          const k = [...nodes.keys()][key % nodes.size]!;
          tree.erase(nodes.get(k)!);
          nodes.delete(k);
        }
        for (const n of tree.takeDirty().nodes) {
          const b = new Uint8Array(24);
          const dv = new DataView(b.buffer);
          dv.setBigUint64(t.o("rb_node", "__rb_parent_color"), (n.parent?.va ?? 0n) | (n.red ? 0n : 1n), true);
          dv.setBigUint64(t.o("rb_node", "rb_right"), n.right?.va ?? 0n, true);
          dv.setBigUint64(t.o("rb_node", "rb_left"), n.left?.va ?? 0n, true);
          m.write(n.va, b);
        }
      }
      checkRb(m, tree);
      const inorder = [...tree.inOrder()].map((n) => n.key);
      assert.deepEqual(inorder, [...inorder].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
      assert.equal(tree.leftmost()?.key, inorder[0]);
      assert.equal(tree.size, nodes.size);
    }),
    { numRuns: RUNS },
  );
});

test("list_head mirror: list_add, list_add_tail and list_del write Linux's pointers", () => {
  const m = new FakeMemory(1n << 40n);
  const mem = memOf(m);
  const l = new KList(0x1000n, 0, 8);
  l.init(mem);
  l.addTail(mem, 0x2000n);
  l.addTail(mem, 0x3000n);
  l.addHead(mem, 0x4000n);
  const walk = (): bigint[] => {
    const out: bigint[] = [];
    for (let n = u64(m, 0x1000n); n !== 0x1000n; n = u64(m, n)) out.push(n);
    return out;
  };
  assert.deepEqual(walk(), [0x4000n, 0x2000n, 0x3000n]);
  assert.equal(u64(m, 0x1000n + 8n), 0x3000n);
  l.remove(mem, 0x2000n);
  assert.deepEqual(walk(), [0x4000n, 0x3000n]);
  assert.equal(u64(m, 0x3000n + 8n), 0x4000n);
  assert.equal(u64(m, 0x2000n), 0xdead000000000100n, "LIST_POISON1");
  assert.equal(u64(m, 0x2008n), 0xdead000000000122n, "LIST_POISON2");
});
