export * from "./errors.js";
export * from "./bytes.js";
export * from "./addresses.js";
export * from "./rng.js";
export * from "./clock.js";
