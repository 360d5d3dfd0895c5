// Durations and sizes as people write them in Compose and rollgate files: 500ms, 30s, 5m, 1h, 1m30s; 512M, 2G.

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds, or undefined if `text` is not a duration (schemas have checked the shape). */
export function parseDuration(text: string): number | undefined {
  const re = /([0-9]+(?:\.[0-9]+)?)(us|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    matched = re.lastIndex;
  }
  return matched === text.length && text.length > 0 ? Math.round(total) : undefined;
}

/** A duration setting in milliseconds; an error naming the setting when it is not one. */
export function durationMs(text: string, what: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new Error(`${what}: "${text}" is not a duration (e.g. 30s, 5m, 4h)`);
  return ms;
}

/** 90_000 → `1m30s`, 0 → `0s`, 250 → `250ms`: the way people write durations. */
export function formatDuration(ms: number): string {
  if (ms > 0 && ms < 1000) return `${Math.round(ms)}ms`;
  let s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s || (!h && !m) ? `${s}s` : ''}`;
}

/** `1G`, `512M`, `64K` or a number of bytes. */
export function parseSize(text: string, what: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*([KMGT]i?B?|B)?$/i.exec(text.trim());
  if (!m) throw new Error(`${what}: "${text}" is not a size (e.g. 512M, 2G, or bytes)`);
  const unit = (m[2] ?? 'B').toUpperCase()[0]!;
  const mult = { B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[unit as 'B'] ?? 1;
  return Math.round(Number(m[1]) * mult);
}

/** 512 B, 256 KiB, 64 MiB, 1.5 GiB. */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[u]}`;
}
