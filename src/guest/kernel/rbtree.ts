/**
 * A red-black tree of `struct rb_node`s (lib/rbtree.c semantics: __rb_parent_color holds
 * the parent pointer with the colour in bit 0, RB_BLACK = 1), mirrored in the model. CFS
 * keeps runnable sched_entities in one per run queue, ordered by vruntime (ties go right,
 * as `entity_before` is a strict less-than), with the leftmost node cached.
 * Insert/erase rebalance as CLRS; every node whose links or colour changed is reported so
 * its 24 bytes can be rewritten.
 */
import { invariant } from "../../shared/base/index.js";

export interface RbNode {
  /** VA of the struct rb_node. */
  readonly va: bigint;
  key: bigint;
  parent: RbNode | null;
  left: RbNode | null;
  right: RbNode | null;
  red: boolean;
}

export class RbTree {
  root: RbNode | null = null;
  #size = 0;
  /** Nodes changed since the last `takeDirty`. */
  #dirty = new Set<RbNode>();
  #rootChanged = false;

  get size(): number {
    return this.#size;
  }

  leftmost(): RbNode | null {
    let n = this.root;
    if (n === null) return null;
    while (n.left !== null) n = n.left;
    return n;
  }

  *inOrder(): IterableIterator<RbNode> {
    const stack: RbNode[] = [];
    let n = this.root;
    while (stack.length > 0 || n !== null) {
      while (n !== null) {
        stack.push(n);
        n = n.left;
      }
      n = stack.pop()!;
      yield n;
      n = n.right;
    }
  }

  takeDirty(): { nodes: RbNode[]; rootChanged: boolean } {
    const out = { nodes: [...this.#dirty], rootChanged: this.#rootChanged };
    this.#dirty = new Set();
    this.#rootChanged = false;
    return out;
  }

  insert(z: RbNode): void {
    invariant(z.parent === null && z.left === null && z.right === null, "rb node already in a tree");
    let y: RbNode | null = null;
    let x = this.root;
    while (x !== null) {
      y = x;
      x = z.key < x.key ? x.left : x.right;
    }
    z.parent = y;
    z.red = true;
    if (y === null) this.#setRoot(z);
    else if (z.key < y.key) y.left = z;
    else y.right = z;
    this.#touch(z);
    if (y !== null) this.#touch(y);
    this.#size++;
    this.#insertFixup(z);
  }

  erase(z: RbNode): void {
    let y = z;
    let yRed = y.red;
    let x: RbNode | null;
    let xParent: RbNode | null;
    if (z.left === null) {
      x = z.right;
      xParent = z.parent;
      this.#transplant(z, z.right);
    } else if (z.right === null) {
      x = z.left;
      xParent = z.parent;
      this.#transplant(z, z.left);
    } else {
      y = z.right;
      while (y.left !== null) y = y.left;
      yRed = y.red;
      x = y.right;
      if (y.parent === z) {
        xParent = y;
      } else {
        xParent = y.parent;
        this.#transplant(y, y.right);
        y.right = z.right;
        y.right.parent = y;
        this.#touch(y.right);
      }
      this.#transplant(z, y);
      y.left = z.left;
      y.left.parent = y;
      this.#touch(y.left);
      y.red = z.red;
      this.#touch(y);
    }
    z.parent = z.left = z.right = null;
    this.#dirty.delete(z);
    this.#size--;
    if (!yRed) this.#eraseFixup(x, xParent);
  }

  #touch(n: RbNode | null): void {
    if (n !== null) this.#dirty.add(n);
  }

  #setRoot(n: RbNode | null): void {
    this.root = n;
    this.#rootChanged = true;
  }

  #transplant(u: RbNode, v: RbNode | null): void {
    if (u.parent === null) this.#setRoot(v);
    else if (u === u.parent.left) u.parent.left = v;
    else u.parent.right = v;
    this.#touch(u.parent);
    if (v !== null) {
      v.parent = u.parent;
      this.#touch(v);
    }
  }

  #rotateLeft(x: RbNode): void {
    const y = x.right!;
    x.right = y.left;
    if (y.left !== null) {
      y.left.parent = x;
      this.#touch(y.left);
    }
    y.parent = x.parent;
    if (x.parent === null) this.#setRoot(y);
    else if (x === x.parent.left) x.parent.left = y;
    else x.parent.right = y;
    this.#touch(x.parent);
    y.left = x;
    x.parent = y;
    this.#touch(x);
    this.#touch(y);
  }

  #rotateRight(x: RbNode): void {
    const y = x.left!;
    x.left = y.right;
    if (y.right !== null) {
      y.right.parent = x;
      this.#touch(y.right);
    }
    y.parent = x.parent;
    if (x.parent === null) this.#setRoot(y);
    else if (x === x.parent.right) x.parent.right = y;
    else x.parent.left = y;
    this.#touch(x.parent);
    y.right = x;
    x.parent = y;
    this.#touch(x);
    this.#touch(y);
  }

  #setRed(n: RbNode, red: boolean): void {
    if (n.red !== red) {
      n.red = red;
      this.#touch(n);
    }
  }

  #insertFixup(z0: RbNode): void {
    let z = z0;
    while (z.parent !== null && z.parent.red) {
      const p = z.parent;
      const g = p.parent!;
      if (p === g.left) {
        const u = g.right;
        if (u !== null && u.red) {
          this.#setRed(p, false);
          this.#setRed(u, false);
          this.#setRed(g, true);
          z = g;
        } else {
          if (z === p.right) {
            z = p;
            this.#rotateLeft(z);
          }
          this.#setRed(z.parent!, false);
          this.#setRed(z.parent!.parent!, true);
          this.#rotateRight(z.parent!.parent!);
        }
      } else {
        const u = g.left;
        if (u !== null && u.red) {
          this.#setRed(p, false);
          this.#setRed(u, false);
          this.#setRed(g, true);
          z = g;
        } else {
          if (z === p.left) {
            z = p;
            this.#rotateRight(z);
          }
          this.#setRed(z.parent!, false);
          this.#setRed(z.parent!.parent!, true);
          this.#rotateLeft(z.parent!.parent!);
        }
      }
    }
    this.#setRed(this.root!, false);
  }

  #eraseFixup(x0: RbNode | null, parent0: RbNode | null): void {
    let x = x0;
    let parent = parent0;
    while (x !== this.root && (x === null || !x.red)) {
      if (parent === null) break;
      if (x === parent.left) {
        let w = parent.right!;
        if (w.red) {
          this.#setRed(w, false);
          this.#setRed(parent, true);
          this.#rotateLeft(parent);
          w = parent.right!;
        }
        if ((w.left === null || !w.left.red) && (w.right === null || !w.right.red)) {
          this.#setRed(w, true);
          x = parent;
          parent = x.parent;
        } else {
          if (w.right === null || !w.right.red) {
            if (w.left !== null) this.#setRed(w.left, false);
            this.#setRed(w, true);
            this.#rotateRight(w);
            w = parent.right!;
          }
          this.#setRed(w, parent.red);
          this.#setRed(parent, false);
          if (w.right !== null) this.#setRed(w.right, false);
          this.#rotateLeft(parent);
          x = this.root;
          parent = null;
        }
      } else {
        let w = parent.left!;
        if (w.red) {
          this.#setRed(w, false);
          this.#setRed(parent, true);
          this.#rotateRight(parent);
          w = parent.left!;
        }
        if ((w.right === null || !w.right.red) && (w.left === null || !w.left.red)) {
          this.#setRed(w, true);
          x = parent;
          parent = x.parent;
        } else {
          if (w.left === null || !w.left.red) {
            if (w.right !== null) this.#setRed(w.right, false);
            this.#setRed(w, true);
            this.#rotateLeft(w);
            w = parent.left!;
          }
          this.#setRed(w, parent.red);
          this.#setRed(parent, false);
          if (w.left !== null) this.#setRed(w.left, false);
          this.#rotateRight(parent);
          x = this.root;
          parent = null;
        }
      }
    }
    if (x !== null) this.#setRed(x, false);
  }
}
