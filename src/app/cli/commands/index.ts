import type { Command } from "commander";
import { register as host } from "./host.js";
import { register as measure } from "./measure.js";
import { register as attest } from "./attest.js";
import { register as forensics } from "./forensics.js";
import { register as check } from "./check.js";
import { register as read } from "./read.js";
import { register as dump } from "./dump.js";
import { register as control } from "./control.js";
import { register as watch } from "./watch.js";
import { register as report } from "./report.js";
import { register as profile } from "./profile.js";
import { register as demo } from "./demo.js";

/** Every command group; each file in this folder adds itself here. */
export const COMMANDS: ReadonlyArray<(program: Command) => void> = [host, measure, attest, forensics, check, read, dump, control, watch, report, profile, demo];
