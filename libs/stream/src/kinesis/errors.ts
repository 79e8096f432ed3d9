/** The SDK's exception name (Kinesis sends it as __type), e.g. ResourceNotFoundException. */
export function errorName(error: unknown): string {
  return error instanceof Error ? error.name : String((error as { name?: unknown } | null)?.name ?? 'Error');
}

export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
