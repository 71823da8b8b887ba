/**
 * The wait before reconnecting after the n-th consecutive failure (1-based): exponential from
 * `minMs`, capped at `maxMs`, with "equal jitter" (half fixed, half random), so a thousand
 * mailboxes failing together (the provider is down) do not come back in one burst, and a
 * mailbox that keeps failing never loops faster than minMs.
 */
export function reconnectDelay(failures: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(failures, 1) - 1, 30);
  const ceiling = Math.min(maxMs, minMs * 2 ** exponent);
  const half = ceiling / 2;
  return Math.max(minMs, Math.round(half + random() * half));
}
