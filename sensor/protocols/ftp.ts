/**
 * FTP control commands (RFC 959) that carry credentials: USER and PASS.
 * Only what a client segment holds is read; a password is measured, never kept.
 */
import { printable, validRange } from './text.js';

export type FtpLogin = { cmd: 'USER'; user: string } | { cmd: 'PASS'; passwordLength: number };

export const FTP_PORT = 21;
const USER_MAX = 64;
/** A control line longer than this is not a login command anyone types. */
const LINE_MAX = 512;
/** Commands read per segment. */
const MAX_COMMANDS = 8;

/** The USER and PASS commands in a client segment b[off, off + len), in order (at most MAX_COMMANDS). */
export function parseFtpLogins(b: Buffer, off: number, len: number): FtpLogin[] {
  const out: FtpLogin[] = [];
  if (!validRange(b, off, len)) return out;
  const end = off + len;
  let p = off;
  for (let n = 0; p < end && n < MAX_COMMANDS; n++) {
    let e = p;
    while (e < end && b[e] !== 0x0a && e - p < LINE_MAX) e++;
    if (e - p >= LINE_MAX) break;
    const next = e + 1;
    if (e > p && b[e - 1] === 0x0d) e--;
    const login = command(b, p, e);
    if (login) out.push(login);
    p = next;
  }
  return out;
}

/** A USER or PASS command line b[p, e) (the command name in any case, then one space and the argument). */
function command(b: Buffer, p: number, e: number): FtpLogin | null {
  if (e - p < 4 || (e - p > 4 && b[p + 4] !== 0x20)) return null;
  const name = b.toString('latin1', p, p + 4).toUpperCase();
  const arg = Math.min(p + 5, e);
  if (name === 'USER') return { cmd: 'USER', user: printable(b, arg, e, USER_MAX) };
  if (name === 'PASS') return { cmd: 'PASS', passwordLength: e - arg };
  return null;
}
