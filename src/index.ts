// aioring: the Linux AIO completion ring, legacy and v2.
export { AioError, errnoName } from './errors';
export { EventBatch } from './events';
export type { IoEventInit } from './events';
export * from './layout';
export { LegacyRing, validateLegacyHeader } from './legacyRing';
export { V2Ring, validateV2Header, v2RingBytes } from './v2Ring';
export type { V2FormatOptions } from './v2Ring';
export type { RingMemoryLike, RingViewOptions } from './ringMemoryView';
export { legacyNr, legacyRingBytes, possibleCpus, aioMaxNr } from './sizing';
export type { LegacyNrOptions } from './sizing';
export { mapRingMemory, mapRingFile, createV2Ring, attachRingFile, hugePageSize } from './memory';
export type { MemorySpec, RingMapping, MappedV2Ring, AttachedRing } from './memory';
export { kernelSetup } from './kernel';
export type { KernelContext } from './kernel';
export { AioContext, setup, alignedBuffer, features, SETUP_V2, SETUP_KERNEL_RING, SETUP_FLAGS } from './context';
export type { SetupOptions, BackendInfo, BackendName, IoEventResult, Features } from './context';
export { IocbArray, Opcode } from './iocb';
export type { IocbInit, OpcodeName } from './iocb';
