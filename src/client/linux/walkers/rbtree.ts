/**
 * Bounded, cycle-safe walk of a red-black tree (lib/rbtree.c): breadth first, every node
 * of a level read in one batch, each node reached once. Returns node addresses in
 * in-order position (left subtree, node, right subtree) reconstructed from the walk.
 */
import { VmiError } from "../../vmi/index.js";
import { isKernelPointer } from "../constants.js";
import { badPointer, walkCorrupt, walkCycle, walkLimit, walkReadError } from "../errors.js";
import type { LinuxKernel } from "../kernel.js";
import { requirements } from "../requirements.js";
import { readViews, windowOf } from "../struct-view.js";

export const RBTREE = requirements("rbtree", { members: { rb_node: ["__rb_parent_color", "rb_right", "rb_left"] } });

/** Nodes of the tree whose root node pointer is `root` (0 = empty), in order. */
export async function walkRbTree(k: LinuxKernel, root: bigint, walker: string): Promise<bigint[]> {
  if (root === 0n) return [];
  const o = k.bound(RBTREE).o.rb_node;
  const m = k.bound(RBTREE).m.rb_node;
  const win = windowOf([m.__rb_parent_color, m.rb_left, m.rb_right]);
  const kids = new Map<bigint, { left: bigint; right: bigint }>();
  const seen = new Set<bigint>();
  let level: { node: bigint; parent: bigint }[] = [{ node: root, parent: 0n }];
  for (let depth = 0; level.length > 0; depth++) {
    if (depth > k.limits.maxTreeDepth) throw walkLimit(walker, k.limits.maxTreeDepth);
    for (const n of level) {
      if (!isKernelPointer(n.node)) throw badPointer(walker, n.parent, n.node, "rb_node child");
      if (seen.has(n.node)) throw walkCycle(walker, n.node);
      seen.add(n.node);
    }
    if (seen.size > k.limits.maxTreeNodes) throw walkLimit(walker, k.limits.maxTreeNodes);
    const views = await readViews(k.vmi, level.map((n) => n.node), win);
    const next: typeof level = [];
    views.forEach((v, i) => {
      const n = level[i]!;
      if (v instanceof VmiError) throw walkReadError(walker, v, "rb_node");
      const parent = v.ptr(o.__rb_parent_color) & ~3n;
      if (n.parent !== 0n && parent !== n.parent) throw walkCorrupt(walker, n.node, "rb_node parent does not point back");
      const left = v.ptr(o.rb_left);
      const right = v.ptr(o.rb_right);
      kids.set(n.node, { left, right });
      if (left !== 0n) next.push({ node: left, parent: n.node });
      if (right !== 0n) next.push({ node: right, parent: n.node });
    });
    level = next;
  }
  // In-order from the recorded children (iterative; every node was seen once, so this ends).
  const out: bigint[] = [];
  const stack: bigint[] = [];
  let cur = root;
  while (cur !== 0n || stack.length > 0) {
    while (cur !== 0n) {
      stack.push(cur);
      cur = kids.get(cur)!.left;
    }
    const n = stack.pop()!;
    out.push(n);
    cur = kids.get(n)!.right;
  }
  return out;
}
