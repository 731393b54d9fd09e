export * from "./layout.js";
export * from "./rmp.js";
export * from "./npf.js";
export * from "./paging.js";
export * from "./vmsa.js";
