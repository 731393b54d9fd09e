export { main, buildProgram } from "./cli/program.js";
