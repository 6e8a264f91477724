// Compressed streams written by the reference command-line tools (lz4 v1.9.4, zstd), so the
// decoders are checked against encoders other than the libraries we compress with.

/** The text the fixtures hold: 8000 entries 'tributary record N;' with N = i % 97. */
export function fixtureText(): Buffer {
  let s = '';
  for (let i = 0; i < 8000; i++) s += `tributary record ${i % 97};`;
  return Buffer.from(s, 'latin1');
}

/** `lz4 -BD -B4 --content-size`: linked 64 KiB blocks, content size, content checksum. */
export const LZ4_LINKED_BLOCKS = Buffer.from(
  'BCJNGExAwm0CAAAAAAAfFgMAAP0EdHJpYnV0YXJ5IHJlY29yZCAwOxMAHjETAB4yEwAeMxMAHjQTAB41EwAeNhMAHjcTAB44EwAe' +
    'ORMAHzG/AAEPwAAAHzHBAAAfMcIAAB8xwwAAHzHEAAAfMcUAAB8xxgAAHzHHAAAfMcgAAB8yyAAAHzLIAAAfMsgAAB8yyAAAHzLI' +
    'AAAfMsgAAB8yyAAAHzLIAAAfMsgAAB8yyAAAHzPIAAAfM8gAAB8zyAAAHzPIAAAfM8gAAB8zyAAAHzPIAAAfM8gAAB8zyAAAHzPI' +
    'AAAfNMgAAB80yAAAHzTIAAAfNMgAAB80yAAAHzTIAAAfNMgAAB80yAAAHzTIAAAfNMgAAB81yAAAHzXIAAAfNcgAAB81yAAAHzXI' +
    'AAAfNcgAAB81yAAAHzXIAAAfNcgAAB81yAAAHzbIAAAfNsgAAB82yAAAHzbIAAAfNsgAAB82yAAAHzbIAAAfNsgAAB82yAAAHzbI' +
    'AAAfN8gAAB83yAAAHzfIAAAfN8gAAB83yAAAHzfIAAAfN8gAAB83yAAAHzfIAAAfN8gAAB84yAAAHzjIAAAfOMgAAB84yAAAHzjI' +
    'AAAfOMgAAB84yAAAHzjIAAAfOMgAAB84yAAAHznIAAAfOcgAAB85yAAAHznIAAAfOcgAAB85yAAAHznIAAAPiwAAD4oAAA+JAAAP' +
    'iAAAD4cAAA+GAAAPhQAAD0wBAQ53Bw9KAQAPigf/////////////////////////////////////////////////////////////' +
    '////////////////////////////////////////////////////////////////////////////////////////////////////' +
    '////////////////////////////////////////////////////////////////////////////////////////////////////' +
    '/////////////////////////////////////////////////////////////////////4dQZWNvcmQKAQAAD8r4////////////' +
    '////////////////////////////////////////////////////////////////////////////////////////////////////' +
    '////////////////////////////////////////////////////////////////////////////////////////////////////' +
    '////////////////////////////////////////////////////////////////////////////////////////////////////' +
    '/////////////////////////////+hQcnkgcmVcAgAA8gVjb3JkIDg4O3RyaWJ1dGFyeSByZRQAHjkUAC85MBQAAB8xFAAAHzIU' +
    'AAAfMxQAAB80FAAAHzUUAAAeNhQAD4sAAA+KAAAPiQAAD4gAAA+HAAAPhgAAD4UAAB43mAAPSwEAD0oBAB8xvwABD8AAAB8xwQAA' +
    'HzHCAAAfMcMAAB8xxAAAHzHFAAAfMcYAAB8xxwAAHzHIAAAfMsgAAB8yyAAAHzLIAAAfMsgAAB8yyAAAHzLIAAAfMsgAAB8yyAAA' +
    'HzLIAAAfMsgAAB8zyAAAHzPIAAAfM8gAAB8zyAAAHzPIAAAfM8gAAB8zyAAAHzPIAAAfM8gAAB8zyAAAHzTIAAAfNMgAAB80yAAA' +
    'HzTIAAAfNMgAAB80yAAAHzTIAAAfNMgAAB80yAAAHzTIAAAfNcgAAB81yAAAHzXIAAAfNcgAAB81yAAAHzXIAAAfNcgAAB81yAAA' +
    'HzXIAAAfNcgAAB82yAAAHzbIAAAfNsgAAB82yAAAHzbIAAAfNsgAAB82yAAAHzbIAAAfNsgAAB82yAAAHzfIAAAfN8gAAB83yAAA' +
    'HzfIAAAfN8gAAB83yAAAHzfIAAAfN8gAAB83yAAAHzfIAAAfOMgAAB84yAAAHzjIAAAfOMgAAB84yAAAHzjIAAAfOMgAAB84yAAA' +
    'D4oH////////////////////////////////////////////////////////////////////////////////////////////////' +
    '////////////////////////////////////////gVBkIDQ1OwAAAAD/UXMB',
  'base64',
);

/** `zstd` reading stdin: no content size in the header, a 2 MiB window, a checksum. */
export const ZSTD_STREAMED = Buffer.from(
  'KLUv/QRYjAQAokcUFLBpOHhTCoEsJqk5KWVKKQXnJhkGRXOXq6qqKiIiIiKimZmZmZn////ftm3bbtu2bUmSJMlt27ZNRERERIrm' +
    'LicBgFE4EATDYSwOQUIxOByJbKgx+P07wKPKNRL4T2Dhr///nwGk9413XF5PhrVhOesqa6CtoPXLrWRSkPQoRhYFkW8ouvBPrjNj' +
    'ug3QqkUAAAhjAQC+7Q6EIz1cTw==',
  'base64',
);

/** `lz4 -BD -BX` of 'tributary ' x 50 read from stdin: block checksums, no content size. */
export const LZ4_BLOCK_CHECKSUMS = Buffer.from(
  '04224d187440bd15000000af747269627574617279200a00ffd3507461727920f62e1919000000002a8fc993',
  'hex',
);

/** `gzip -9` of 'tributary ' x 50. */
export const GZIP_CLI = Buffer.from('1f8b0800e649026b02032b29ca4c2a2d492caa542819658d101600645a4a41f4010000', 'hex');
