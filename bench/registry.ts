/** Every benchmark of `npm run bench`, in the order they run. */
import type { Benchmark } from "./harness/types.js";
import { dump } from "./suites/dump.js";
import { scaling } from "./suites/scaling.js";
import { images } from "./suites/images.js";
import { traps } from "./suites/traps.js";
import { tcpEcho, tlsLoopback } from "./suites/loopback.js";
import { policy } from "./suites/policy.js";
import { roundTrips } from "./suites/round-trips.js";

export const BENCHMARKS: readonly Benchmark[] = [tlsLoopback, tcpEcho, policy, roundTrips, dump, traps, scaling, images];
