/**
 * Bounded, cycle-safe walk of a circular `struct list_head` (Volatility's
 * `list_head.to_list`): from a head, follow `next` until back at the head, reading a
 * window around every node (so the fields of the containing struct come with the hop:
 * one read per element). Garbage ends in a WalkError: a non-kernel pointer, a loop that
 * does not pass through the head, more than `limit` elements, or an unreadable node.
 *
 * When the Vmi can chase pointers in the driver (`Vmi.gatherList`), the nodes and their
 * windows come in one exchange first; the walk itself is the same loop, which takes each
 * node's bytes from that answer instead of reading them. Whatever the answer lacks (a
 * node it could not read, a stop it made early) is read as without it, so results and
 * errors are the same either way.
 */
import { type Vmi, VmiError, kva } from "../../vmi/index.js";
import { readU64 } from "../../../shared/base/index.js";
import { isKernelPointer } from "../constants.js";
import { badPointer, walkCycle, walkLimit, walkReadError } from "../errors.js";
import { StructView, type Window } from "../struct-view.js";

export interface ListWalk {
  /** Name used in errors ("tasks", "modules", …). */
  readonly walker: string;
  readonly limit: number;
  /**
   * What to read at each node, relative to the list_head's address (default: the
   * list_head itself). It must cover the list_head (`from` ≤ 0 < `from + len` − 8).
   */
  readonly window?: Window;
  /**
   * A larger window to fetch with the hop when the driver chases pointers (default:
   * `window`); it must contain `window`. Nodes whose larger window was read carry it in
   * `ListNode.gathered`, so callers need not read those fields again.
   */
  readonly gather?: Window;
}

export interface ListNode {
  /** Address of the list_head inside the element. */
  readonly node: bigint;
  /** The window read around it; `view.addr` is the node, offsets are relative to it. */
  readonly view: StructView;
  /** The `gather` window, when it came with the hop (same addressing as `view`). */
  readonly gathered?: StructView;
}

/** Nodes of a pointer chain fetched ahead by one GatherList: the first pointer, and each node's bytes. */
export interface Prefetched {
  /** The pointer stored at the head, when the answer says. */
  readonly first: bigint | undefined;
  /** The fetched window of `node` (read fine), if the answer has it. */
  get(node: bigint): Uint8Array | undefined;
}

/**
 * Fetches a chain ahead with `vmi.gatherList` (one exchange): from the pointer at `head`,
 * the pointer at `node + nextOffset` is followed until `stop`; `window` (relative to the
 * node) is read at each node. Undefined when the Vmi cannot, or the driver failed (the
 * caller then reads as usual, and meets the failure itself if there is one).
 */
export async function prefetchChain(
  vmi: Vmi,
  o: { readonly head: bigint; readonly nextOffset: number; readonly stop: bigint; readonly limit: number; readonly window: Window },
): Promise<Prefetched | undefined> {
  if (!vmi.canGatherList) return undefined;
  let g;
  try {
    g = await vmi.gatherList({ head: kva(o.head), nextOffset: o.nextOffset, stop: o.stop, maxNodes: o.limit, readOffset: o.window.from, readLen: o.window.len });
  } catch (e) {
    if (e instanceof VmiError) return undefined;
    throw e;
  }
  const bytes = new Map<bigint, Uint8Array>();
  g.nodes.forEach((n, i) => {
    const r = g.reads[i];
    if (r instanceof Uint8Array && r.length === o.window.len) bytes.set(n, r);
  });
  const first = g.nodes[0] ?? (g.stop === "reached" ? o.stop : g.stop === "null" ? 0n : undefined);
  return { first, get: (n) => bytes.get(n) };
}

/** The `next` pointer stored at `head` (one read). */
async function readNext(vmi: Vmi, walker: string, at: bigint): Promise<bigint> {
  const [r] = await vmi.readManySettled([{ ctx: kva(at), len: 8 }]);
  if (r instanceof VmiError) throw walkReadError(walker, r, "list head");
  return readU64(r!, 0);
}

/** Elements of the list whose head is at `head` (the head itself excluded). */
export async function walkList(vmi: Vmi, head: bigint, o: ListWalk): Promise<ListNode[]> {
  const w = o.window ?? { from: 0, len: 16 };
  if (w.from > 0 || w.from + w.len < 8) throw new RangeError("list window must cover the list_head");
  const g = o.gather ?? w;
  if (g.from > w.from || g.from + g.len < w.from + w.len) throw new RangeError("the gather window must contain the list window");
  const pre = await prefetchChain(vmi, { head, nextOffset: 0, stop: head, limit: o.limit, window: g });
  const out: ListNode[] = [];
  const seen = new Set<bigint>([head]);
  let prevAt = head;
  let cur = pre?.first ?? (await readNext(vmi, o.walker, head));
  while (cur !== head) {
    if (!isKernelPointer(cur)) throw badPointer(o.walker, prevAt, cur, "list_head.next");
    if (seen.has(cur)) throw walkCycle(o.walker, cur);
    if (out.length >= o.limit) throw walkLimit(o.walker, o.limit, cur);
    seen.add(cur);
    const got = pre?.get(cur);
    let node: ListNode;
    if (got !== undefined) {
      const at = w.from - g.from;
      node = { node: cur, view: new StructView(cur, got.subarray(at, at + w.len), w.from), gathered: new StructView(cur, got, g.from) };
    } else {
      const [r] = await vmi.readManySettled([{ ctx: kva(BigInt.asUintN(64, cur + BigInt(w.from))), len: w.len }]);
      if (r instanceof VmiError) throw walkReadError(o.walker, r, "list element");
      node = { node: cur, view: new StructView(cur, r!, w.from) };
    }
    out.push(node);
    prevAt = cur;
    cur = node.view.u64(0);
  }
  return out;
}

/** container_of: the struct address from the address of its member at `offset`. */
export function containerOf(member: bigint, offset: number): bigint {
  return BigInt.asUintN(64, member - BigInt(offset));
}
