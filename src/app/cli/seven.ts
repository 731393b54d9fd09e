#!/usr/bin/env node
// The `seven` command (composition root). Commands are registered in ./program.ts.
import { main } from "./program.js";

process.exitCode = await main(process.argv);
