export * from "./layout.js";
export * from "./rmp.js";
export * from "./npf.js";
export * from "./paging.js";
export * from "./vmsa.js";
export * from "./seven-launch.js";
export * from "./seven-nic.js";
export * from "./seven-hv.js";
