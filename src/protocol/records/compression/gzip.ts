import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { DecodeError } from '../../errors.ts';
import { CompressionCodec } from '../batch-header.ts';
import { asBuffer, type Codec, type DecompressOptions, reason } from './types.ts';

const gzipAsync = promisify(zlib.gzip);
const gunzipAsync = promisify(zlib.gunzip);

function options(maxSize: number): zlib.ZlibOptions {
  // maxOutputLength makes zlib stop inflating (and allocating) once the cap is passed.
  // It must be at least 1, and a cap of 0 still has to accept an empty stream.
  return { maxOutputLength: Math.max(1, maxSize) };
}

function failure(e: unknown, o: DecompressOptions): DecodeError {
  const code = (e as { code?: string }).code;
  if (code === 'ERR_BUFFER_TOO_LARGE') {
    return new DecodeError(`Gzip data inflates to more than the ${o.maxSize}-byte limit`, o.position ?? 0);
  }
  return new DecodeError(`Cannot decompress gzip data: ${reason(e)}`, o.position ?? 0);
}

function checkSize(out: Buffer, o: DecompressOptions): Buffer {
  if (out.length > o.maxSize) throw failure({ code: 'ERR_BUFFER_TOO_LARGE' }, o);
  return out;
}

function level(l: number | undefined): zlib.ZlibOptions {
  return l === undefined ? {} : { level: l };
}

export const gzip: Codec = {
  id: CompressionCodec.Gzip,
  name: 'gzip',
  compress: (data, l) => gzipAsync(data, level(l)),
  compressSync: (data, l) => zlib.gzipSync(data, level(l)),
  async decompress(data, o) {
    try {
      return checkSize(await gunzipAsync(asBuffer(data), options(o.maxSize)), o);
    } catch (e) {
      throw e instanceof DecodeError ? e : failure(e, o);
    }
  },
  decompressSync(data, o) {
    try {
      return checkSize(zlib.gunzipSync(asBuffer(data), options(o.maxSize)), o);
    } catch (e) {
      throw e instanceof DecodeError ? e : failure(e, o);
    }
  },
};
