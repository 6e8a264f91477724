export * from './codec.ts';
export * from './errors.ts';
export * from './generated/index.ts';
export * from './headers.ts';
export { Reader } from './reader.ts';
export * from './uuid.ts';
export { Writer } from './writer.ts';
