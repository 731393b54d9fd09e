// Public surface of the VMI library core (see README.md).
export { VmiError, PageFaultError, isVmiError, invalidAddress, unsupported, badArgument } from "./errors.js";
export type { VmiErrorCode, AddressLayer, PagingLevel, PageFaultReason } from "./errors.js";
export { NO_CAPABILITIES, machineInfo } from "./driver.js";
export type {
  Driver, DriverCapabilities, DriverEvent, InvalidationSink, MachineInfo, MemoryRange, PhysRange, PhysWrite, ReadResult,
  RemoteTranslation, Subscription, VirtRange,
} from "./driver.js";
export type { FramedRead, GatherListResult, GatherListSpec, GatherStop } from "./driver.js";
export {
  GPR_NAMES, REGISTER_NAMES, SEGMENT_NAMES, ZERO_SEGMENT, attribToQemuFlags, qemuFlagsToAttrib, registerSet, zeroRegisterSet,
} from "./registers.js";
export type { DescriptorTable, RegisterName, RegisterSet, Segment, VcpuRegisters } from "./registers.js";
export { PageCache, cachedReadPhys } from "./page-cache.js";
export type { CachedReadOptions, PageCacheStats } from "./page-cache.js";
export { ctxAdd, dtbVa, formatCtx, ksym, kva, pa, pidVa } from "./access-context.js";
export type { AccessContext } from "./access-context.js";
export { Vmi } from "./vmi.js";
export type { PidResolver, ReadRequest, SymbolResolver, VmiOptions } from "./vmi.js";
export type { GatherRequest } from "./vmi.js";
// Memory images.
export { ImageDecodeError, ElfCoreDecodeError, LimeDecodeError, GzipDecodeError } from "./images/image-error.js";
export type { ImageFormat } from "./images/image-error.js";
export { FileSource, MemorySource } from "./images/byte-source.js";
export type { ByteSource } from "./images/byte-source.js";
export { gunzipFile, isGzip } from "./images/gzip.js";
export type { GunzipOptions, LoadProgress } from "./images/gzip.js";
export { ImageDriver } from "./images/image-driver.js";
export { detectFormat, openImage, openImageBytes, openImageSource } from "./images/open-image.js";
export type { ImageKind, OpenImageOptions } from "./images/open-image.js";
export type { ElfNote } from "./images/elf-core.js";
export { FileSink, MemorySink, driverChunkSource, pipelinedChunks } from "./images/dump-writer.js";
export type { ByteSink, ChunkSource, DumpOptions, DumpProgress } from "./images/dump-writer.js";
export { writeLime } from "./images/lime-writer.js";
export { writeElfCore } from "./images/elf-core-writer.js";
export type { ElfCoreWriteOptions } from "./images/elf-core-writer.js";
