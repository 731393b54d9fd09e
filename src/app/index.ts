export { main, buildProgram } from "./cli/program.js";
export { createWorld, defaultProfile } from "./world/world.js";
export type { World, WorldOptions } from "./world/world.js";
export { launchInputsFor, measureHex } from "./world/launch-inputs.js";
export type { MeasuredShape } from "./world/launch-inputs.js";
export { WorldError } from "./world/errors.js";
