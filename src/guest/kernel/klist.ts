/**
 * A circular doubly linked `struct list_head` list mirrored in the model: it knows the
 * links it wrote and emits exactly the pointer writes Linux's list_add/list_del make.
 * Nodes are identified by the VA of their list_head.
 */
import { invariant } from "../../shared/base/index.js";
import type { KMem } from "../mem/kmem.js";
import { u64Bytes } from "../mem/kmem.js";

/** LIST_POISON1/2 on x86-64 (POISON_POINTER_DELTA 0xdead000000000000). */
export const LIST_POISON1 = 0xdead000000000100n;
export const LIST_POISON2 = 0xdead000000000122n;

export class KList {
  readonly head: bigint;
  /** Offsets of next/prev inside list_head (from the profile). */
  readonly #offNext: number;
  readonly #offPrev: number;
  readonly #next = new Map<bigint, bigint>();
  readonly #prev = new Map<bigint, bigint>();

  constructor(head: bigint, offNext: number, offPrev: number) {
    this.head = head;
    this.#offNext = offNext;
    this.#offPrev = offPrev;
    this.#next.set(head, head);
    this.#prev.set(head, head);
  }

  /** Writes the empty head (INIT_LIST_HEAD). */
  init(mem: KMem): void {
    this.#setNext(mem, this.head, this.head);
    this.#setPrev(mem, this.head, this.head);
  }

  has(node: bigint): boolean {
    return node !== this.head && this.#next.has(node);
  }

  get size(): number {
    return this.#next.size - 1;
  }

  /** Nodes in list order (head excluded). */
  *nodes(): IterableIterator<bigint> {
    for (let n = this.#next.get(this.head)!; n !== this.head; n = this.#next.get(n)!) yield n;
  }

  /** list_add_tail(node, head). */
  addTail(mem: KMem, node: bigint): void {
    this.#insert(mem, node, this.#prev.get(this.head)!, this.head);
  }

  /** list_add(node, head): right after the head. */
  addHead(mem: KMem, node: bigint): void {
    this.#insert(mem, node, this.head, this.#next.get(this.head)!);
  }

  #insert(mem: KMem, node: bigint, prev: bigint, next: bigint): void {
    invariant(!this.#next.has(node), "list node already linked", { node });
    this.#next.set(node, next);
    this.#prev.set(node, prev);
    this.#setNext(mem, node, next);
    this.#setPrev(mem, node, prev);
    this.#next.set(prev, node);
    this.#setNext(mem, prev, node);
    this.#prev.set(next, node);
    this.#setPrev(mem, next, node);
  }

  /** list_del: unlink and poison the node's own pointers (or re-init it with `init`). */
  remove(mem: KMem, node: bigint, how: "poison" | "init" | "keep" = "poison"): void {
    const next = this.#next.get(node);
    const prev = this.#prev.get(node);
    invariant(next !== undefined && prev !== undefined && node !== this.head, "list node not linked", { node });
    this.#next.set(prev, next);
    this.#setNext(mem, prev, next);
    this.#prev.set(next, prev);
    this.#setPrev(mem, next, prev);
    this.#next.delete(node);
    this.#prev.delete(node);
    if (how === "poison") {
      this.#setNext(mem, node, LIST_POISON1);
      this.#setPrev(mem, node, LIST_POISON2);
    } else if (how === "init") {
      this.#setNext(mem, node, node);
      this.#setPrev(mem, node, node);
    }
  }

  nextOf(node: bigint): bigint | undefined {
    return this.#next.get(node);
  }
  prevOf(node: bigint): bigint | undefined {
    return this.#prev.get(node);
  }

  #setNext(mem: KMem, node: bigint, v: bigint): void {
    mem.write(node + BigInt(this.#offNext), u64Bytes(v));
  }
  #setPrev(mem: KMem, node: bigint, v: bigint): void {
    mem.write(node + BigInt(this.#offPrev), u64Bytes(v));
  }
}
