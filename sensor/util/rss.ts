import { readFileSync } from 'node:fs';

/**
 * Peak resident memory of this process. On Linux, getrusage's maxrss survives
 * exec and so reports the parent's peak for a freshly spawned child; VmHWM
 * belongs to this process image alone.
 */
export function peakRssBytes(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}
