import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * A native compression binding, loaded on first use. Each one maps several MiB of code
 * into the process, and a broker only needs a codec to up-convert old message sets or to
 * recompress while cleaning, so most brokers never load most of them. The packages are
 * CommonJS, so a synchronous require keeps the codecs' sync entry points synchronous.
 */
export function lazyBinding<T>(name: string): () => T {
  let binding: T | undefined;
  return () => {
    binding ??= require(name) as T;
    return binding;
  };
}
