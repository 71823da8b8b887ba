/**
 * A provider payload we cannot accept. The webhook route answers it with a 400 problem naming
 * `field` (or the adapter's malformedStatus: Mailgun stops retrying on 406 alone) and stores the
 * payload in the dead-letter table, so the provider's retries are not wasted on it and nothing
 * is silently dropped.
 */
export class InvalidPayloadError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'InvalidPayloadError';
  }
}
