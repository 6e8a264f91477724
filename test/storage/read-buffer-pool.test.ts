import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReadBufferPool } from '../../src/storage/read-buffer-pool.ts';

describe('ReadBufferPool', () => {
  it('hands a released buffer out again, released through any view of it', () => {
    const pool = new ReadBufferPool();
    const a = pool.acquire(100_000);
    assert.ok(a.length >= 100_000);
    pool.release(a.subarray(10, 20));
    const b = pool.acquire(90_000);
    assert.equal(b.buffer, a.buffer);
    assert.equal(pool.reused, 1);
  });

  it('never hands one buffer to two holders: double releases and foreign memory are ignored', () => {
    const pool = new ReadBufferPool();
    const a = pool.acquire(70_000);
    pool.release(a);
    pool.release(a);
    pool.release(Buffer.alloc(70_000));
    const b = pool.acquire(70_000);
    const c = pool.acquire(70_000);
    assert.notEqual(b.buffer, c.buffer);
    assert.equal(pool.reused, 1);
  });

  it('keeps at most its byte budget of free buffers, and does not pool very large reads', () => {
    const pool = new ReadBufferPool(256 * 1024);
    const held = Array.from({ length: 4 }, () => pool.acquire(128 * 1024));
    for (const b of held) pool.release(b);
    for (let i = 0; i < 4; i++) pool.acquire(128 * 1024);
    assert.equal(pool.reused, 2);
    const huge = pool.acquire(64 * 1024 * 1024);
    pool.release(huge);
    assert.notEqual(pool.acquire(64 * 1024 * 1024).buffer, huge.buffer);
  });
});
