// Docker Engine failures, translated into what an operator needs to know: which socket, which
// image, which port, which service.

export type DockerErrorKind =
  | 'engine-unreachable'
  | 'image-not-found'
  | 'registry-unreachable'
  | 'registry-auth'
  | 'port-in-use'
  | 'dependency'
  /** A post_start hook failed or did not end: the start fails and is rolled back. */
  | 'hook'
  | 'engine';

export class DockerError extends Error {
  constructor(
    readonly kind: DockerErrorKind,
    message: string,
    readonly statusCode?: number,
  ) {
    super(message);
    this.name = 'DockerError';
  }
}

/** What dockerode and docker-modem throw: a Node socket error or an Engine HTTP error. */
interface RawEngineError {
  code?: string;
  statusCode?: number;
  reason?: string;
  json?: { message?: string } | null;
  message?: string;
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EPIPE', 'EACCES', 'ETIMEDOUT']);

/** True when the Engine itself could not be reached (as opposed to refusing a request). */
export function isConnectionError(err: unknown): boolean {
  const e = err as RawEngineError;
  if (e?.code && CONNECTION_CODES.has(e.code)) return true;
  return /socket hang up|Timeout of \d+ms exceeded|Cannot connect to the Docker daemon|unexpected EOF/i.test(
    e?.message ?? '',
  );
}

/**
 * What dockerd 20.10 answers while it shuts down, read off a real Engine stopped with SIGTERM in
 * the middle of creates, starts, stops, renames and volume calls (connection errors aside: its
 * socket goes first, so most calls get ENOENT, ECONNRESET "socket hang up" or EPIPE). The stores
 * close under the requests still in flight; none of these says anything about the request.
 */
const SHUTDOWN_TEXTS = [
  /database not open/i,
  /failed to update store for object type/i,
  /transport is closing/i,
  /use of closed network connection/i,
  /daemon is shutting down|server is shutting down|shutdown in progress/i,
  /context canceled/i,
  /^EOF$|: EOF$/,
];

/** The Engine is going away (stopping, restarting) rather than refusing this request. */
export function isEngineGoingAway(err: unknown): boolean {
  if (isConnectionError(err)) return true;
  const status = statusOf(err);
  return status !== undefined && status >= 500 && SHUTDOWN_TEXTS.some((re) => re.test(engineMessage(err)));
}

/**
 * A container the Engine cannot start again because its task outlived it: containerd still holds
 * it after an Engine restart ("task <id>: already exists", seen on a real Engine stopped with
 * SIGTERM during a stop and started again). Starting it again fails forever; it has to be made anew.
 */
export function isStuckContainer(message: string): boolean {
  return /task [0-9a-f]{12,}: already exists|container [0-9a-f]{12,} is already in use|id already in use/i.test(
    message,
  );
}

export function statusOf(err: unknown): number | undefined {
  return (err as RawEngineError)?.statusCode;
}

/** The Engine's own message, without dockerode's "(HTTP code 404) no such container -" prefix. */
export function engineMessage(err: unknown): string {
  const e = err as RawEngineError;
  const m = e?.json?.message ?? e?.message ?? String(err);
  return m.replace(/^\(HTTP code \d+\)[^-]*- /, '').trim();
}

export function unreachable(socketPath: string, err: unknown): DockerError {
  const code = (err as RawEngineError)?.code;
  const why =
    code === 'ENOENT'
      ? 'the socket does not exist (is dockerd running?)'
      : code === 'ECONNREFUSED'
        ? 'connection refused (is dockerd running?)'
        : code === 'EACCES'
          ? 'permission denied (run as root or as a member of the docker group)'
          : engineMessage(err);
  return new DockerError('engine-unreachable', `Docker Engine unreachable at unix://${socketPath}: ${why}`);
}

/** A port clash as Docker reports it, in either of its wordings. */
export function portInUse(message: string): string | undefined {
  const m =
    /listen (?:tcp|udp)\d? ([^\s:]+:\d+): bind: address already in use/.exec(message) ??
    /Bind for ([^\s]+:\d+) failed: port is already allocated/.exec(message);
  return m?.[1];
}
