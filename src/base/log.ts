// The logging surface the appliers need; a pino logger satisfies it, and tests can pass a
// recorder. Messages are for operators: they name the app, service, image or component.

export interface LogFn {
  (obj: Record<string, unknown>, msg: string): void;
}

export interface Log {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

const noop: LogFn = () => {};
export const silentLog: Log = { debug: noop, info: noop, warn: noop, error: noop };
