// What an error says, for a log line or a message: an Error's own message, anything else as text.

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
