import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { UncheckedRanges } from '../../src/storage/unchecked-ranges.ts';

describe('UncheckedRanges', () => {
  it('takes out what was checked, wherever it lies, and keeps the rest', () => {
    const r = UncheckedRanges.upTo(100);
    r.remove(40, 60);
    assert.equal(r.count, 2);
    assert.deepEqual([r.contains(39), r.contains(40), r.contains(59), r.contains(60)], [true, false, false, true]);
    assert.deepEqual([r.overlaps(40, 60), r.overlaps(30, 41), r.overlaps(59, 70)], [false, true, true]);
    r.remove(0, 40);
    r.remove(60, 100);
    assert.ok(r.isEmpty);
  });

  it('a truncation drops everything at or past the cut', () => {
    const r = UncheckedRanges.upTo(100);
    r.remove(20, 30);
    r.truncate(25);
    assert.deepEqual([r.contains(19), r.contains(20), r.contains(25)], [true, false, false]);
    r.truncate(0);
    assert.ok(r.isEmpty);
  });

  it('agrees with a set of bytes under any sequence of removals and cuts', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 64 }),
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 70 }), fc.integer({ min: 0, max: 70 })), {
          maxLength: 20,
        }),
        (size, ops) => {
          const r = UncheckedRanges.upTo(size);
          const model = new Set(Array.from({ length: size }, (_, i) => i));
          for (const [cut, a, b] of ops) {
            if (cut) {
              r.truncate(a);
              for (const x of [...model]) if (x >= a) model.delete(x);
            } else {
              r.remove(Math.min(a, b), Math.max(a, b));
              for (let x = Math.min(a, b); x < Math.max(a, b); x++) model.delete(x);
            }
          }
          for (let x = 0; x < 72; x++) assert.equal(r.contains(x), model.has(x), `byte ${x}`);
          for (let a = 0; a < 72; a += 3) {
            for (let b = a; b < 72; b += 5) {
              const any = [...model].some((x) => x >= a && x < b);
              assert.equal(r.overlaps(a, b), any, `[${a}, ${b})`);
            }
          }
          assert.equal(r.isEmpty, model.size === 0);
        },
      ),
    );
  });
});
