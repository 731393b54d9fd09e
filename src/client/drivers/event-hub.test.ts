import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { v1 } from "../../shared/protocol/index.js";
import type { DriverEvent } from "../vmi/index.js";
import { EventHub } from "./event-hub.js";
import type { TrapEvent } from "./events.js";

function eventPush(eventId: bigint, trapId: bigint): v1.Response {
  return create(v1.ResponseSchema, { id: 0n, body: { case: "event", value: create(v1.EventSchema, { eventId, trapId, access: v1.Access.READ, gpa: 0x1000n }) } });
}

async function hub(): Promise<{ hub: EventHub; answers: [bigint, string][]; trapId: bigint; handled: bigint[] }> {
  const h = new EventHub();
  const answers: [bigint, string][] = [];
  h.attach(undefined, async (id, action) => void answers.push([id, action]));
  const handled: bigint[] = [];
  const t = await h.arm({ gpa: 0x1000n, access: "r" }, (e) => void handled.push(e.eventId), async () => 7n, async () => undefined);
  return { hub: h, answers, trapId: t.id, handled };
}

async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

test("an event of a registered trap is handled and answered before the event loop turns", async () => {
  const { hub: h, answers, trapId } = await hub();
  let turned = false;
  setImmediate(() => (turned = true));
  h.push(eventPush(1n, trapId));
  await new Promise<void>((r) => queueMicrotask(r));
  for (let i = 0; i < 10 && answers.length === 0; i++) await Promise.resolve();
  assert.deepEqual(answers, [[1n, "continue"]]);
  assert.equal(turned, false, "answered from microtasks, without a macrotask turn");
});

test("an event of a trap not registered yet waits for a turn, and later pushes stay behind it (arrival order)", async () => {
  const { hub: h, answers, trapId } = await hub();
  const order: bigint[] = [];
  h.subscribeDriverEvents((e: DriverEvent) => {
    if (e.kind !== "mapping-changed") order.push((e.raw as TrapEvent).eventId);
  });
  h.push(eventPush(1n, 99n)); // its ArmTrapResponse may be in the same read
  h.push(eventPush(2n, trapId));
  await Promise.resolve();
  assert.deepEqual(order, [], "neither dispatched before the turn");
  await turns(3);
  assert.deepEqual(order, [1n, 2n]);
  assert.deepEqual(
    answers.map((a) => a[0]),
    [1n, 2n],
  );
  // Nothing waits any more: the next one goes straight through again.
  h.push(eventPush(3n, trapId));
  for (let i = 0; i < 10 && answers.length < 3; i++) await Promise.resolve();
  assert.deepEqual(order, [1n, 2n, 3n]);
});
