/** Raised when bytes cannot be decoded as the message or record they claim to be. */
export class DecodeError extends Error {
  readonly code = 'ERR_KAFKA_DECODE';
  /** Byte position in the input where decoding failed. */
  readonly offset: number;

  constructor(message: string, offset: number) {
    super(`${message} at byte ${offset}`);
    this.name = 'DecodeError';
    this.offset = offset;
  }
}

/** Raised when a value cannot be encoded in the requested version or format. */
export class EncodeError extends Error {
  readonly code = 'ERR_KAFKA_ENCODE';

  constructor(message: string) {
    super(message);
    this.name = 'EncodeError';
  }
}
