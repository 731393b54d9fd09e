/** Every benchmark of `npm run bench`, in the order they run. */
import type { Benchmark } from "./harness/types.js";
import { images } from "./suites/images.js";
import { tcpEcho, tlsLoopback } from "./suites/loopback.js";

export const BENCHMARKS: readonly Benchmark[] = [tlsLoopback, tcpEcho, images];
