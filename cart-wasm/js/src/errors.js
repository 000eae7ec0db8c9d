// Every failure reaches the caller as a CartError: a real Error with a stable `code`
// for programs and, for bad input, the `field` that was wrong.

export class CartError extends Error {
  constructor(code, message, { field, cause } = {}) {
    super(message, cause ? { cause } : undefined);
    this.name = 'CartError';
    this.code = code;
    if (field !== undefined) this.field = field;
  }
}

/** The Error objects cart-wasm throws carry `code` and `field`; keep them, as CartErrors. */
export function fromCore(error) {
  if (error instanceof CartError) return error;
  if (error && typeof error === 'object' && typeof error.code === 'string') {
    return new CartError(error.code, error.message, { field: error.field, cause: error });
  }
  return new CartError('internal', String(error?.message ?? error), { cause: error });
}
