/**
 * Bounded, cycle-safe walk of a circular `struct list_head` (Volatility's
 * `list_head.to_list`): from a head, follow `next` until back at the head, reading a
 * window around every node (so the fields of the containing struct come with the hop:
 * one read per element). Garbage ends in a WalkError: a non-kernel pointer, a loop that
 * does not pass through the head, more than `limit` elements, or an unreadable node.
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
}

export interface ListNode {
  /** Address of the list_head inside the element. */
  readonly node: bigint;
  /** The window read around it; `view.addr` is the node, offsets are relative to it. */
  readonly view: StructView;
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
  const out: ListNode[] = [];
  const seen = new Set<bigint>([head]);
  let prevAt = head;
  let cur = await readNext(vmi, o.walker, head);
  while (cur !== head) {
    if (!isKernelPointer(cur)) throw badPointer(o.walker, prevAt, cur, "list_head.next");
    if (seen.has(cur)) throw walkCycle(o.walker, cur);
    if (out.length >= o.limit) throw walkLimit(o.walker, o.limit, cur);
    seen.add(cur);
    const [r] = await vmi.readManySettled([{ ctx: kva(BigInt.asUintN(64, cur + BigInt(w.from))), len: w.len }]);
    if (r instanceof VmiError) throw walkReadError(o.walker, r, "list element");
    const view = new StructView(cur, r!, w.from);
    out.push({ node: cur, view });
    prevAt = cur;
    cur = view.u64(0);
  }
  return out;
}

/** container_of: the struct address from the address of its member at `offset`. */
export function containerOf(member: bigint, offset: number): bigint {
  return BigInt.asUintN(64, member - BigInt(offset));
}
