/** Kafka prints UUIDs (topic IDs) as URL-safe base64 of their 16 bytes; storage keeps the 8-4-4-4-12 hex form. */
export function uuidHexToWire(hex: string): string {
  return Buffer.from(hex.replace(/-/g, ''), 'hex').toString('base64url');
}

export function uuidWireToHex(wire: string): string {
  const h = Buffer.from(wire, 'base64url').toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
