// Memory acquisition (src/client/acquire): `seven dump` as a library — resumable LiME/ELF/raw dumps of any driver.
export { dumpMemory, subtractRegions, defaultReadAhead, DEFAULT_DUMP_AHEAD_BYTES, DEFAULT_DUMP_CHUNK, DEFAULT_DUMP_READ_AHEAD } from "./dump.js";
export type { DumpMemoryOptions, DumpResult } from "./dump.js";
export { readJournal } from "./journal.js";
export type { DumpFormat, DumpJournal } from "./journal.js";
export { AcquireError } from "./errors.js";
export type { AcquireErrorCode } from "./errors.js";
